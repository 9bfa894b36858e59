//! The Datadog Logs sink: one attempt per request, classified outcome.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use siem_core::{
    Ack, CredentialProvider, DeliveryError, Encoded, EncodedRequest, SecurityEvent, SiemSink,
};
use siem_http::{AuthHeader, AuthenticatedPost, HttpClient};
use url::Url;

use crate::config::DatadogOptions;
use crate::encoder::{encode, encode_owned};
use crate::error::{check_response, BuildError};

/// The platform name reported by [`SiemSink::platform`].
pub const PLATFORM: &str = "datadog";

/// API keys go in `DD-API-KEY: <key>`.
const AUTH: AuthHeader = AuthHeader::new("dd-api-key", "");

/// Sends security events to Datadog's Logs API v2.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use siem_core::{Secret, SecurityEvent, SiemSink, StaticCredential};
/// use siem_datadog::{DatadogOptions, DatadogSink};
///
/// let options = DatadogOptions::builder()
///     .site("datadoghq.eu")
///     .env("production")
///     .build()?;
/// let api_key = Arc::new(StaticCredential::new(Secret::new("dd-api-key")));
/// let sink = DatadogSink::new("datadog-prod", options, api_key)?;
/// let event = SecurityEvent::from_json(r#"{"event_type":"loop.detected","org_id":"org_a",
///     "project_id":"p1","details":{"iterations":240,"window_seconds":60,"action":"killed"}}"#)?;
/// let report = sink.deliver(&[Arc::new(event)]).await;
/// println!("delivered {}, error {:?}", report.delivered, report.error);
/// # Ok(()) }
/// ```
pub struct DatadogSink {
    name: String,
    options: DatadogOptions,
    post: AuthenticatedPost,
}

impl fmt::Debug for DatadogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatadogSink")
            .field("name", &self.name)
            .field("url", &self.post.url().as_str())
            .field("options", &self.options)
            .field("credential", &self.post.credential().describe())
            .finish()
    }
}

impl DatadogSink {
    /// A sink named `name` (e.g. `datadog-prod`) sending with `options`, authenticating
    /// with the API key from `credential`.
    pub fn new(
        name: impl Into<String>,
        options: DatadogOptions,
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
            post: AuthenticatedPost::new(options.intake_url().clone(), client, credential, AUTH),
            name,
            options,
        })
    }

    /// The options.
    pub fn options(&self) -> &DatadogOptions {
        &self.options
    }

    /// The URL requests go to.
    pub fn url(&self) -> &Url {
        self.post.url()
    }
}

#[async_trait]
impl SiemSink for DatadogSink {
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
