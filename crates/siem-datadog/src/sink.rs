//! The Datadog Logs sink: the shared [`HttpSink`] on [`DatadogOptions`] (one attempt per
//! request, classified outcome).

use siem_http::HttpSink;

use crate::config::DatadogOptions;
pub use crate::config::PLATFORM;

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
