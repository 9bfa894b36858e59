//! The Splunk HEC sink: the shared [`HttpSink`] on [`SplunkOptions`] (one attempt per
//! request, classified outcome).

use siem_http::HttpSink;

use crate::config::SplunkOptions;
pub use crate::config::PLATFORM;

/// Sends security events to a Splunk HTTP Event Collector.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use siem_core::{Secret, SecurityEvent, SiemSink, StaticCredential};
/// use siem_splunk::{SplunkConfig, SplunkSink};
///
/// let options = SplunkConfig {
///     index: Some("security".into()),
///     ..SplunkConfig::new("https://splunk.example.com:8088".parse()?)
/// }
/// .sink_options()?;
/// let token = Arc::new(StaticCredential::new(Secret::new("hec-token")));
/// let sink = SplunkSink::new("splunk-prod", options, token)?;
/// let event = SecurityEvent::from_json(r#"{"event_type":"loop.detected","org_id":"org_a",
///     "project_id":"p1","details":{"iterations":240,"window_seconds":60,"action":"killed"}}"#)?;
/// let report = sink.deliver(&[Arc::new(event)]).await;
/// println!("delivered {}, error {:?}", report.delivered, report.error);
/// # Ok(()) }
/// ```
pub type SplunkSink = HttpSink<SplunkOptions>;
