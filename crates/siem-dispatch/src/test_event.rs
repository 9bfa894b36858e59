//! "Send test event": one synthetic `siem.test` event straight to one sink.

use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};
use siem_core::details::SiemTest;
use siem_core::{DeliveryError, EncodeError, SecurityEvent};
use tokio::time::Instant;

use crate::deliver::{encode_guarded, send_once, EncodeInput};
use crate::stats::LastError;
use crate::SinkConfig;

/// The `project_id` of test events.
pub const TEST_EVENT_PROJECT: &str = "siem-test";

/// Why a test event could not even be attempted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestEventError {
    /// No such organization.
    #[error("unknown org `{0}`")]
    UnknownOrg(String),
    /// The organization has no sink of that name.
    #[error("org `{org}` has no sink named `{sink}`")]
    UnknownSink {
        /// The organization.
        org: String,
        /// The sink asked for.
        sink: String,
    },
    /// The test event could not be built for this organization.
    #[error("cannot build a test event for org `{org}`: {reason}")]
    BadEvent {
        /// The organization.
        org: String,
        /// Why.
        reason: String,
    },
}

/// What happened to the test event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// The platform acknowledged it with this HTTP status.
    Delivered {
        /// The status, e.g. 200, 202 or 204.
        status: u16,
    },
    /// The platform (or the transport) refused it: the exact error, with status and the
    /// platform's text.
    Failed(DeliveryError),
    /// The sink's encoder refused the event.
    Rejected(EncodeError),
}

impl Serialize for TestOutcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Repr {
            delivered: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            status: Option<u16>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<LastError>,
        }
        let repr = match self {
            TestOutcome::Delivered { status } => Repr {
                delivered: true,
                status: Some(*status),
                error: None,
            },
            TestOutcome::Failed(e) => Repr {
                delivered: false,
                status: e.status(),
                error: Some(LastError::from_delivery(e)),
            },
            TestOutcome::Rejected(e) => Repr {
                delivered: false,
                status: None,
                error: Some(LastError::from_encode(e)),
            },
        };
        repr.serialize(serializer)
    }
}

/// The result of [`Dispatcher::send_test_event`](crate::Dispatcher::send_test_event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestEventResult {
    /// The organization.
    pub org_id: String,
    /// The sink.
    pub sink: String,
    /// Its platform.
    pub platform: &'static str,
    /// What happened.
    pub outcome: TestOutcome,
    /// From encoding to the answer.
    #[serde(rename = "latency_ms", serialize_with = "millis")]
    pub latency: Duration,
}

impl TestEventResult {
    /// Whether the platform acknowledged the event.
    pub fn is_delivered(&self) -> bool {
        matches!(self.outcome, TestOutcome::Delivered { .. })
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// Sends a synthetic `siem.test` event to a sink that is not (or not yet) in a
/// dispatcher, e.g. a connector before it is saved: encode and one send, bounded by the
/// sink's attempt timeout. [`Dispatcher::send_test_event`](crate::Dispatcher::send_test_event)
/// does the same for a running sink.
///
/// ```no_run
/// # async fn demo(sink: std::sync::Arc<dyn siem_core::SiemSink>) {
/// use siem_dispatch::SinkConfig;
/// let result = siem_dispatch::send_test_event("org_acme", &SinkConfig::new(sink)).await;
/// # }
/// ```
pub async fn send_test_event(
    org_id: &str,
    config: &SinkConfig,
) -> Result<TestEventResult, TestEventError> {
    send(org_id, &*config.sink, config.retry.attempt_timeout).await
}

pub(crate) async fn send(
    org_id: &str,
    sink: &dyn siem_core::SiemSink,
    attempt_timeout: std::time::Duration,
) -> Result<TestEventResult, TestEventError> {
    let event = SecurityEvent::builder(org_id, TEST_EVENT_PROJECT, SiemTest::default())
        .build()
        .map_err(|e| TestEventError::BadEvent {
            org: org_id.to_owned(),
            reason: e.to_string(),
        })?;
    let started = Instant::now();
    let outcome = match encode_guarded(sink, EncodeInput::Owned(vec![Arc::new(event)])) {
        Err(e) => TestOutcome::Failed(DeliveryError::Permanent {
            detail: siem_core::ErrorDetail::transport(e.message),
        }),
        Ok(encoded) => match (
            encoded.rejected.into_iter().next(),
            encoded.requests.first(),
        ) {
            (Some(rejected), _) => TestOutcome::Rejected(rejected.reason),
            (None, Some(request)) => match send_once(sink, request, attempt_timeout).await {
                Ok(status) => TestOutcome::Delivered { status },
                Err(e) => TestOutcome::Failed(e),
            },
            (None, None) => TestOutcome::Failed(DeliveryError::Permanent {
                detail: siem_core::ErrorDetail::transport("the sink encoded no request"),
            }),
        },
    };
    Ok(TestEventResult {
        org_id: org_id.to_owned(),
        sink: sink.name().to_owned(),
        platform: sink.platform(),
        outcome,
        latency: started.elapsed(),
    })
}
