//! The Datadog Logs sink: one attempt per request, classified outcome.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use siem_core::{
    Ack, CredentialProvider, DeliveryError, Encoded, EncodedRequest, Secret, SecurityEvent,
    SiemSink,
};
use siem_http::{scrub_secret, secret_header, HeaderName, HeaderValue, HttpClient};
use url::Url;

use crate::config::DatadogOptions;
use crate::encoder::encode;
use crate::error::{check_response, BuildError};

/// The platform name reported by [`SiemSink::platform`].
pub const PLATFORM: &str = "datadog";

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
    url: Url,
    client: HttpClient,
    credential: Arc<dyn CredentialProvider>,
}

impl fmt::Debug for DatadogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatadogSink")
            .field("name", &self.name)
            .field("url", &self.url.as_str())
            .field("options", &self.options)
            .field("credential", &self.credential.describe())
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
            url: options.intake_url().clone(),
            name,
            options,
            client,
            credential,
        })
    }

    /// The options.
    pub fn options(&self) -> &DatadogOptions {
        &self.options
    }

    /// The URL requests go to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    fn headers(
        &self,
        api_key: &Secret,
        gzip: bool,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, DeliveryError> {
        let mut headers = vec![
            (
                HeaderName::from_static("dd-api-key"),
                secret_header(api_key.expose())?,
            ),
            (
                HeaderName::from_static("content-type"),
                HeaderValue::from_static("application/json"),
            ),
        ];
        if gzip {
            headers.push((
                HeaderName::from_static("content-encoding"),
                HeaderValue::from_static("gzip"),
            ));
        }
        Ok(headers)
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

    async fn send(&self, request: &EncodedRequest) -> Result<Ack, DeliveryError> {
        let api_key = self.credential.get().await?;
        let result = async {
            let headers = self.headers(&api_key, request.gzip)?;
            let response = self
                .client
                .post(&self.url, &headers, request.body.clone())
                .await?;
            check_response(&response)
        }
        .await;
        result.map_err(|e| {
            if matches!(e, DeliveryError::CredentialsRejected { .. }) {
                self.credential.invalidate(&api_key);
            }
            scrub_secret(e, api_key.expose())
        })
    }
}
