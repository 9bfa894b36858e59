//! The shared HTTPS client.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use siem_core::{DeliveryError, ErrorDetail};
use url::Url;

use crate::status::parse_retry_after;

/// Default time allowed to open a TCP + TLS connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for a whole request, response body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on how much of a response body is read; error bodies are short, and a
/// hostile endpoint must not make us buffer megabytes.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How much of a platform's error text is kept in an [`ErrorDetail`].
const MAX_MESSAGE_CHARS: usize = 512;

/// Settings of an [`HttpClient`].
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Time allowed to connect (TCP + TLS).
    pub connect_timeout: Duration,
    /// Time allowed for the whole request.
    pub request_timeout: Duration,
    /// How much of a response body is read at most.
    pub max_response_bytes: usize,
    /// Extra trusted root certificates (PEM), for SIEMs behind an internal CA. The public
    /// roots stay trusted too.
    pub extra_root_ca_pem: Option<Vec<u8>>,
    /// The `User-Agent` header, e.g. `siem-splunk/0.1.0`.
    pub user_agent: String,
    allow_plain_http_loopback: bool,
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("extra_root_ca", &self.extra_root_ca_pem.is_some())
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl HttpOptions {
    /// Defaults with the given `User-Agent`.
    pub fn new(user_agent: impl Into<String>) -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            extra_root_ca_pem: None,
            user_agent: user_agent.into(),
            allow_plain_http_loopback: false,
        }
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the total request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the response body cap.
    #[must_use]
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// Trusts the root certificates in this PEM text in addition to the public roots.
    #[must_use]
    pub fn extra_root_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_root_ca_pem = Some(pem.into());
        self
    }

    /// Reads a PEM file of extra root certificates.
    pub fn extra_root_ca_file(self, path: &Path) -> Result<Self, HttpError> {
        let pem = std::fs::read(path).map_err(|e| HttpError::CaFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(self.extra_root_ca_pem(pem))
    }

    /// Lets the client send to plain-HTTP loopback URLs, for mock servers in tests.
    #[cfg(feature = "testing")]
    #[must_use]
    pub fn allow_plain_http_loopback(mut self) -> Self {
        self.allow_plain_http_loopback = true;
        self
    }
}

/// A client that could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The CA file could not be read.
    #[error("cannot read CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The CA PEM holds no usable certificate.
    #[error("invalid CA certificate: {reason}")]
    InvalidCa {
        /// Why.
        reason: String,
    },
    /// The TLS stack could not be set up.
    #[error("cannot build the HTTP client: {reason}")]
    Build {
        /// Why.
        reason: String,
    },
}

/// An HTTP answer, with the body read up to the cap.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The parsed `Retry-After`, if any.
    pub retry_after: Option<Duration>,
    /// The body, at most the configured cap.
    pub body: Bytes,
    /// Whether the body was longer than the cap.
    pub truncated: bool,
}

impl HttpResponse {
    /// The body as text for an error message, shortened.
    pub fn body_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut out: String = text.trim().chars().take(MAX_MESSAGE_CHARS).collect();
        if self.truncated || text.chars().count() > MAX_MESSAGE_CHARS {
            out.push('…');
        }
        out
    }
}

/// An HTTPS client for one sink. Cheap to clone; reuses connections.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    max_response_bytes: usize,
    request_timeout: Duration,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("max_response_bytes", &self.max_response_bytes)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// The operating system's trusted roots, read once per process. reqwest reads and decodes
/// the whole system store for every client it builds (milliseconds each, and every sink
/// has a client); certificates that rustls cannot take as trust anchors are left out here,
/// as reqwest leaves them out. The public roots compiled in (webpki-roots) are trusted
/// whatever the system store holds.
fn native_roots() -> &'static [reqwest::Certificate] {
    static ROOTS: OnceLock<Vec<reqwest::Certificate>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        rustls_native_certs::load_native_certs()
            .certs
            .into_iter()
            .filter(|der| rustls::RootCertStore::empty().add(der.clone()).is_ok())
            .filter_map(|der| reqwest::Certificate::from_der(&der).ok())
            .collect()
    })
}

impl HttpClient {
    /// Builds a client.
    pub fn new(options: &HttpOptions) -> Result<Self, HttpError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(!options.allow_plain_http_loopback)
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(options.user_agent.clone())
            .tls_built_in_native_certs(false);
        for cert in native_roots() {
            builder = builder.add_root_certificate(cert.clone());
        }
        if let Some(pem) = &options.extra_root_ca_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| HttpError::InvalidCa {
                    reason: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(HttpError::InvalidCa {
                    reason: "no certificate found in the PEM text".to_owned(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let inner = builder.build().map_err(|e| HttpError::Build {
            reason: error_chain(&e),
        })?;
        Ok(Self {
            inner,
            max_response_bytes: options.max_response_bytes,
            request_timeout: options.request_timeout,
        })
    }

    /// POSTs `body` to `url` once. Transport failures are classified: timeouts and
    /// connection errors are retryable, an untrusted certificate is permanent.
    pub async fn post(
        &self,
        url: &Url,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<HttpResponse, DeliveryError> {
        let mut request = self.inner.post(url.clone()).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let mut body = BytesMut::new();
        let mut truncated = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = self.max_response_bytes.saturating_sub(body.len());
                    if chunk.len() > room {
                        body.extend_from_slice(&chunk[..room]);
                        truncated = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                // The status already arrived; a broken body only costs us the error text.
                Err(e) if e.is_timeout() => return Err(self.transport_error(&e)),
                Err(_) => break,
            }
        }
        Ok(HttpResponse {
            status,
            retry_after,
            body: body.freeze(),
            truncated,
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> DeliveryError {
        let chain = error_chain(e);
        if e.is_timeout() {
            return DeliveryError::Retryable {
                detail: ErrorDetail::transport(format!(
                    "timed out (limit {:?}): {chain}",
                    self.request_timeout
                )),
                retry_after: None,
            };
        }
        let lower = chain.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("invalidcertificate") {
            return DeliveryError::Permanent {
                detail: ErrorDetail::transport(format!("TLS certificate not accepted: {chain}")),
            };
        }
        if e.is_builder() || lower.contains("url scheme is not allowed") {
            return DeliveryError::Permanent {
                detail: ErrorDetail::transport(chain),
            };
        }
        DeliveryError::Retryable {
            detail: ErrorDetail::transport(chain),
            retry_after: None,
        }
    }
}

/// Makes a header value from a secret, marked sensitive so that no `Debug` output of the
/// request shows it. A value with characters HTTP forbids is a permanent error that does
/// not repeat the value.
pub fn secret_header(value: &str) -> Result<HeaderValue, DeliveryError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| DeliveryError::Permanent {
        detail: ErrorDetail::transport(
            "the credential contains characters that are not allowed in an HTTP header",
        ),
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// The error and its sources, joined, for messages.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Removes every occurrence of `secret` from the messages of `error`, in case a platform
/// echoed the credential back in its error body. Sinks call this on every error of a
/// request sent with that credential.
pub fn scrub_secret(error: DeliveryError, secret: &str) -> DeliveryError {
    if secret.is_empty() {
        return error;
    }
    let clean = |mut detail: ErrorDetail| {
        if detail.message.contains(secret) {
            detail.message = detail.message.replace(secret, "[REDACTED]");
        }
        if detail.code.as_deref().is_some_and(|c| c.contains(secret)) {
            detail.code = Some("[REDACTED]".to_owned());
        }
        detail
    };
    match error {
        DeliveryError::Retryable {
            detail,
            retry_after,
        } => DeliveryError::Retryable {
            detail: clean(detail),
            retry_after,
        },
        DeliveryError::Permanent { detail } => DeliveryError::Permanent {
            detail: clean(detail),
        },
        DeliveryError::CredentialsRejected { detail } => DeliveryError::CredentialsRejected {
            detail: clean(detail),
        },
        DeliveryError::PayloadTooLarge { detail } => DeliveryError::PayloadTooLarge {
            detail: clean(detail),
        },
        other @ DeliveryError::Credentials(_) => other,
    }
}
