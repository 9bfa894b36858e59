//! The Splunk HEC sink: one attempt per request, classified outcome.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use siem_core::{
    Ack, CredentialProvider, DeliveryError, Encoded, EncodedRequest, SecurityEvent, SiemSink,
};
use siem_http::{AuthHeader, AuthenticatedPost, HttpClient};
use url::Url;

use crate::config::SplunkOptions;
use crate::encoder::{encode, encode_owned};
use crate::error::{check_response, BuildError};

/// The platform name reported by [`SiemSink::platform`].
pub const PLATFORM: &str = "splunk";

/// HEC tokens go in `Authorization: Splunk <token>`.
const AUTH: AuthHeader = AuthHeader::new("authorization", "Splunk ");

/// Sends security events to a Splunk HTTP Event Collector.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use siem_core::{Secret, SecurityEvent, SiemSink, StaticCredential};
/// use siem_splunk::{SplunkOptions, SplunkSink};
///
/// let options = SplunkOptions::builder("https://splunk.example.com:8088".parse()?)
///     .index("security")
///     .build()?;
/// let token = Arc::new(StaticCredential::new(Secret::new("hec-token")));
/// let sink = SplunkSink::new("splunk-prod", options, token)?;
/// let event = SecurityEvent::from_json(r#"{"event_type":"loop.detected","org_id":"org_a",
///     "project_id":"p1","details":{"iterations":240,"window_seconds":60,"action":"killed"}}"#)?;
/// let report = sink.deliver(&[Arc::new(event)]).await;
/// println!("delivered {}, error {:?}", report.delivered, report.error);
/// # Ok(()) }
/// ```
pub struct SplunkSink {
    name: String,
    options: SplunkOptions,
    post: AuthenticatedPost,
}

impl fmt::Debug for SplunkSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplunkSink")
            .field("name", &self.name)
            .field("url", &self.post.url().as_str())
            .field("options", &self.options)
            .field("credential", &self.post.credential().describe())
            .finish()
    }
}

impl SplunkSink {
    /// A sink named `name` (e.g. `splunk-prod`) sending with `options`, authenticating with
    /// the HEC token from `credential`.
    pub fn new(
        name: impl Into<String>,
        options: SplunkOptions,
        credential: Arc<dyn CredentialProvider>,
    ) -> Result<Self, BuildError> {
        let name = name.into();
        if name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        let client = HttpClient::new(options.http()).map_err(|source| BuildError::Http {
            name: name.clone(),
            source,
        })?;
        Ok(Self {
            post: AuthenticatedPost::new(options.collector_url(), client, credential, AUTH),
            name,
            options,
        })
    }

    /// The options.
    pub fn options(&self) -> &SplunkOptions {
        &self.options
    }

    /// The URL requests go to.
    pub fn url(&self) -> &Url {
        self.post.url()
    }
}

#[async_trait]
impl SiemSink for SplunkSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> &'static str {
        PLATFORM
    }

    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded {
        encode(events, &self.options)
    }

    fn encode_owned(&self, events: Vec<Arc<SecurityEvent>>) -> Encoded {
        encode_owned(events, &self.options)
    }

    async fn send(&self, request: &EncodedRequest) -> Result<Ack, DeliveryError> {
        self.post.send(request, check_response).await
    }
}
