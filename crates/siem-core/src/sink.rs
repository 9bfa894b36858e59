//! The sink contract: encode a batch into request bodies, send one request.
//!
//! # Who owns what
//! - A **sink** (one per platform, e.g. `siem-splunk`) owns its wire format and its HTTP
//!   request: [`SiemSink::encode`] is pure and splits a batch into bodies that respect the
//!   platform's limits, and [`SiemSink::send`] makes exactly one attempt to deliver one body,
//!   classifying the outcome as a [`DeliveryError`]. A sink never sleeps, retries, queues
//!   or batches.
//! - The **dispatcher** (`siem-dispatch`) owns everything around it: queues, batching by
//!   size and linger time, fan-out to sinks, retry with backoff and `Retry-After`, splitting
//!   a body the platform called too large (by encoding half the events again), the single
//!   retry after a credential refresh, and accounting.
//!
//! A third-party sink therefore implements two methods and gets all of that for free.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::event::SecurityEvent;
use crate::secret::CredentialError;

/// One request body, ready to send, and the events it carries.
#[derive(Debug, Clone)]
pub struct EncodedRequest {
    /// The events in this body, in the order given to [`SiemSink::encode`].
    pub events: Vec<Arc<SecurityEvent>>,
    /// The body as it goes on the wire (already compressed when `gzip` is true).
    pub body: Bytes,
    /// Whether `body` is gzip-compressed (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// The size of the body before compression.
    pub uncompressed_len: usize,
}

/// An event that cannot be sent to this platform at all.
#[derive(Debug, Clone)]
pub struct RejectedEvent {
    /// The event.
    pub event: Arc<SecurityEvent>,
    /// Why.
    pub reason: EncodeError,
}

/// Why an event cannot be encoded for a platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The event alone exceeds a platform limit.
    #[error("event {event_id} encodes to {size} bytes, over the {limit}-byte limit of {what}")]
    TooLarge {
        /// The event's id.
        event_id: String,
        /// Its encoded size.
        size: usize,
        /// The limit.
        limit: usize,
        /// Which limit, e.g. "a Datadog log item".
        what: &'static str,
    },
}

/// The result of [`SiemSink::encode`]: every input event is in exactly one request or in
/// `rejected`, and requests keep the input order.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    /// Request bodies, each within the platform's size and count limits.
    pub requests: Vec<EncodedRequest>,
    /// Events that can never be sent (too large alone).
    pub rejected: Vec<RejectedEvent>,
}

/// A successful delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The HTTP status the platform answered with.
    pub status: u16,
}

/// What a platform said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorDetail {
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// The platform's own error code (e.g. a HEC `code`), when it gave one.
    pub code: Option<String>,
    /// The platform's message, or what went wrong locally (timeout, connection refused).
    /// Truncated; never holds a secret.
    pub message: String,
}

impl ErrorDetail {
    /// A detail for an HTTP response.
    pub fn http(status: u16, code: Option<String>, message: impl Into<String>) -> Self {
        Self {
            status: Some(status),
            code,
            message: message.into(),
        }
    }

    /// A detail for a failure without a response (timeout, connection refused, TLS).
    pub fn transport(message: impl Into<String>) -> Self {
        Self {
            status: None,
            code: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "HTTP {status}")?,
            None => f.write_str("no response")?,
        }
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Why a request was not delivered, classified for the retry policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again: server busy or failing, throttled, timeout, connection error.
    #[error("retryable failure: {detail}")]
    Retryable {
        /// What happened.
        detail: ErrorDetail,
        /// How long the platform asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Will fail again however often it is sent: bad request, not found, misconfiguration.
    #[error("permanent failure: {detail}")]
    Permanent {
        /// What happened.
        detail: ErrorDetail,
    },
    /// The platform refused the credential (401/403). The sink has already called
    /// [`CredentialProvider::invalidate`](crate::CredentialProvider::invalidate); the
    /// dispatcher retries once with a fresh credential.
    #[error("credentials rejected: {detail}")]
    CredentialsRejected {
        /// What happened.
        detail: ErrorDetail,
    },
    /// The body was too large for the platform (413): split it and send the halves.
    #[error("payload too large: {detail}")]
    PayloadTooLarge {
        /// What happened.
        detail: ErrorDetail,
    },
    /// No credential could be obtained to send with.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

impl DeliveryError {
    /// Whether sending the same request again later can succeed. Credential rejections and
    /// oversize payloads are not retryable as such; the dispatcher handles them by
    /// refreshing once or by splitting.
    pub fn is_retryable(&self) -> bool {
        match self {
            DeliveryError::Retryable { .. } => true,
            DeliveryError::Credentials(e) => e.kind.is_retryable(),
            DeliveryError::Permanent { .. }
            | DeliveryError::CredentialsRejected { .. }
            | DeliveryError::PayloadTooLarge { .. } => false,
        }
    }

    /// The wait the platform asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DeliveryError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The platform's answer, when there was one.
    pub fn detail(&self) -> Option<&ErrorDetail> {
        match self {
            DeliveryError::Retryable { detail, .. }
            | DeliveryError::Permanent { detail }
            | DeliveryError::CredentialsRejected { detail }
            | DeliveryError::PayloadTooLarge { detail } => Some(detail),
            DeliveryError::Credentials(_) => None,
        }
    }

    /// The HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.detail().and_then(|d| d.status)
    }
}

/// The result of [`SiemSink::deliver`]: one attempt per request, no retries.
#[derive(Debug, Clone, Default)]
pub struct DeliveryReport {
    /// Events the platform acknowledged.
    pub delivered: usize,
    /// Events that could not be encoded for the platform.
    pub rejected: Vec<RejectedEvent>,
    /// Events whose request failed (and those after it, which were not attempted).
    pub undelivered: usize,
    /// The first failure, if any.
    pub error: Option<DeliveryError>,
}

impl DeliveryReport {
    /// Whether every event was delivered.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty() && self.undelivered == 0 && self.error.is_none()
    }
}

/// A destination for security events: one configured connection to one SIEM.
///
/// Object-safe, `Send + Sync`, used as `Arc<dyn SiemSink>`. See the [module docs](self) for
/// what a sink does and what the dispatcher does around it.
///
/// Contract (checked by `siem_core::testing::conformance`):
/// - `encode` is pure and deterministic; every input event ends up in exactly one request
///   or in `rejected`, in input order; an empty batch gives no requests.
/// - `send` makes one attempt and never retries or sleeps beyond its own timeouts; on
///   401/403 it invalidates the credential it used and returns
///   [`DeliveryError::CredentialsRejected`].
/// - Nothing a sink formats (`Debug`, errors, logs) contains a secret.
#[async_trait]
pub trait SiemSink: Send + Sync + fmt::Debug {
    /// The configured name of this sink, e.g. `splunk-prod`.
    fn name(&self) -> &str;

    /// The platform, e.g. `splunk`, `datadog`, `sentinel`.
    fn platform(&self) -> &'static str;

    /// Encodes a batch into request bodies within the platform's limits.
    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded;

    /// [`encode`](Self::encode) for a batch handed over (the dispatcher's): the same
    /// requests and rejections, but a sink may move the events into its requests instead
    /// of cloning each `Arc` (a clone and its drop are two atomic operations per event).
    /// The default calls `encode`; `siem_http::RequestPlan` gives an encoder both.
    fn encode_owned(&self, events: Vec<Arc<SecurityEvent>>) -> Encoded {
        self.encode(&events)
    }

    /// Sends one encoded request, once.
    async fn send(&self, request: &EncodedRequest) -> Result<Ack, DeliveryError>;

    /// Encodes and sends a batch once, stopping at the first failed request. For callers
    /// without a dispatcher (scripts, tests, "send test event").
    async fn deliver(&self, events: &[Arc<SecurityEvent>]) -> DeliveryReport {
        let encoded = self.encode(events);
        let mut report = DeliveryReport {
            rejected: encoded.rejected,
            ..DeliveryReport::default()
        };
        for request in &encoded.requests {
            if report.error.is_some() {
                report.undelivered += request.events.len();
                continue;
            }
            match self.send(request).await {
                Ok(_) => report.delivered += request.events.len(),
                Err(e) => {
                    report.undelivered += request.events.len();
                    report.error = Some(e);
                }
            }
        }
        report
    }
}
