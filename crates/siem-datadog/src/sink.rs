//! The Datadog Logs sink: the shared [`HttpSink`] on [`DatadogOptions`] (one attempt per
//! request, classified outcome).

use std::sync::Arc;

use siem_core::{Ack, DeliveryError, Encoded, SecurityEvent};
use siem_http::{Adapter, AuthHeader, HttpOptions, HttpResponse, HttpSink};
use url::Url;

use crate::config::DatadogOptions;
pub use crate::config::PLATFORM;
use crate::{encoder, error};

/// Sends security events to Datadog's Logs API v2.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use siem_core::{Secret, SecurityEvent, SiemSink, StaticCredential};
/// use siem_datadog::{DatadogConfig, DatadogSink};
///
/// let options = DatadogConfig {
///     site: "datadoghq.eu".into(),
///     env: Some("production".into()),
///     ..Default::default()
/// }
/// .sink_options()?;
/// let api_key = Arc::new(StaticCredential::new(Secret::new("dd-api-key")));
/// let sink = DatadogSink::new("datadog-prod", options, api_key)?;
/// let event = SecurityEvent::from_json(r#"{"event_type":"loop.detected","org_id":"org_a",
///     "project_id":"p1","details":{"iterations":240,"window_seconds":60,"action":"killed"}}"#)?;
/// let report = sink.deliver(&[Arc::new(event)]).await;
/// println!("delivered {}, error {:?}", report.delivered, report.error);
/// # Ok(()) }
/// ```
pub type DatadogSink = HttpSink<DatadogOptions>;

impl Adapter for DatadogOptions {
    const PLATFORM: &'static str = PLATFORM;
    /// API keys go in `DD-API-KEY: <key>`.
    const AUTH: AuthHeader = AuthHeader::new("dd-api-key", "");

    fn url(&self) -> Url {
        DatadogOptions::url(self)
    }
    fn http(&self) -> &HttpOptions {
        DatadogOptions::http(self)
    }
    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded {
        encoder::encode(events, self)
    }
    fn encode_owned(&self, events: Vec<Arc<SecurityEvent>>) -> Encoded {
        encoder::encode_owned(events, self)
    }
    fn check_response(response: &HttpResponse) -> Result<Ack, DeliveryError> {
        error::check_response(response)
    }
}
