//! The Sentinel sink: one attempt to deliver one encoded body to the Logs Ingestion API.
//!
//! # Platform limits
//! - `POST {dce}/dataCollectionRules/{dcr_immutable_id}/streams/{stream}?api-version=2023-01-01`
//! - `Authorization: Bearer <token>`: an Entra ID access token for the scope
//!   `https://monitor.azure.com/.default`, from [`EntraTokenSource`](crate::EntraTokenSource)
//!   or a static token ([`StaticCredential`](siem_core::StaticCredential)).
//! - `Content-Type: application/json`, `Content-Encoding: gzip` when compressed.
//! - ≤ 1 MB per call (the encoder splits); success is 204; 429 and 503 carry `Retry-After`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use siem_core::{
    Ack, CredentialProvider, DeliveryError, Encoded, EncodedRequest, SecurityEvent, SiemSink,
};
use siem_http::{AuthHeader, AuthenticatedPost, HttpClient};
use url::Url;

use crate::config::SentinelOptions;
use crate::encoder;
use crate::error::{classify_response, BuildError};

/// The platform name reported by [`SiemSink::platform`].
pub const PLATFORM: &str = "sentinel";

/// The headers of a request other than `Authorization` (shared by every sink; kept here
/// so snapshot tests can show a Sentinel request without a network).
pub use siem_http::content_headers;

/// Bearer tokens go in `Authorization: Bearer <token>`.
const AUTH: AuthHeader = AuthHeader::new("authorization", "Bearer ");

/// Delivers security events to a Microsoft Sentinel workspace through the Azure Monitor
/// Logs Ingestion API.
///
/// ```
/// use std::sync::Arc;
/// use siem_core::{Endpoint, Secret, SiemSink, StaticCredential};
/// use siem_sentinel::{SentinelOptions, SentinelSink};
///
/// let options = SentinelOptions::builder(
///     Endpoint::parse("https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com")?,
///     "dcr-00112233445566778899aabbccddeeff",
/// )
/// .build()?;
/// let token = Arc::new(StaticCredential::new(Secret::new("eyJ0eXAi...")));
/// let sink = SentinelSink::new("sentinel-prod", options, token)?;
/// assert_eq!(sink.platform(), "sentinel");
/// assert!(!format!("{sink:?}").contains("eyJ0eXAi"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SentinelSink {
    name: String,
    options: SentinelOptions,
    post: AuthenticatedPost,
}

impl fmt::Debug for SentinelSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelSink")
            .field("name", &self.name)
            .field("url", &self.post.url().as_str())
            .field("gzip", &self.options.gzip())
            .field("credential", &self.post.credential().describe())
            .finish()
    }
}

impl SentinelSink {
    /// Builds a sink. `credential` gives the bearer token: an
    /// [`EntraTokenSource`](crate::EntraTokenSource) or a static token. Fails when the CA
    /// file cannot be read or the TLS client cannot be set up.
    pub fn new(
        name: impl Into<String>,
        options: SentinelOptions,
        credential: Arc<dyn CredentialProvider>,
    ) -> Result<Self, BuildError> {
        let name = name.into();
        let component = || format!("sentinel sink {name:?}");
        let http = options
            .http_options()
            .and_then(|o| HttpClient::new(&o))
            .map_err(|source| BuildError::Http {
                component: component(),
                source,
            })?;
        Ok(Self {
            post: AuthenticatedPost::new(options.ingestion_url(), http, credential, AUTH),
            name,
            options,
        })
    }

    /// The options the sink was built with.
    pub fn options(&self) -> &SentinelOptions {
        &self.options
    }

    /// The URL every request is posted to.
    pub fn url(&self) -> &Url {
        self.post.url()
    }
}

#[async_trait]
impl SiemSink for SentinelSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded {
        encoder::encode(events, self.options.gzip())
    }

    fn encode_owned(&self, events: Vec<Arc<SecurityEvent>>) -> Encoded {
        encoder::encode_owned(events, self.options.gzip())
    }

    async fn send(&self, request: &EncodedRequest) -> Result<Ack, DeliveryError> {
        self.post.send(request, classify_response).await
    }
}
