//! Events to HEC request bodies (pure; no I/O).
//!
//! One body is several JSON envelopes, one per line (HEC reads concatenated envelopes;
//! whitespace between them is allowed):
//!
//! ```text
//! {"time":1780949730.000,"host":…,"source":"aisg","sourcetype":"aisg:security","index":…,
//!  "event":{"event_type":…,"project_id":…,"request_id":…,"severity":"high","severity_id":5,
//!           "source":"aisg","timestamp":"2026-06-08T20:15:30Z","details":{…},
//!           "event_id":…,"org_id":…}}
//! ```
//!
//! `host` and `index` appear only when configured, `request_id` only when the event has
//! one. Bodies are split ([`siem_http::split`]) so that none exceeds the configured maximum
//! (uncompressed); an event whose envelope alone is larger is rejected with
//! [`EncodeError::TooLarge`](siem_core::EncodeError::TooLarge) and the others still go.
//!
//! The encoder writes JSON by hand into one buffer per request: the envelope fields that
//! are the same for every event are escaped once when the options are built, identifiers
//! are escaped by [`siem_core::json`], and only `details` goes through `serde_json`.

use std::sync::Arc;

use siem_core::json;
use siem_core::{Encoded, SecurityEvent, Severity};
use siem_http::{split, Framing, Layout, RequestPlan};

use crate::config::{SplunkConfig, SplunkOptions};

/// Splunk's alert severity scale (1 debug … 6 fatal) for our severities, per SPEC §4:
/// info → 2, low → 3, medium → 4, high → 5, critical → 6.
pub fn severity_id(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 2,
        Severity::Low => 3,
        Severity::Medium => 4,
        Severity::High => 5,
        Severity::Critical => 6,
    }
}

/// `,"severity":"<word>","severity_id":<n>,"source":` for each severity, so the mapping
/// costs one copy per event.
fn severity_fields(severity: Severity) -> &'static [u8] {
    match severity {
        Severity::Info => br#","severity":"info","severity_id":2,"source":"#,
        Severity::Low => br#","severity":"low","severity_id":3,"source":"#,
        Severity::Medium => br#","severity":"medium","severity_id":4,"source":"#,
        Severity::High => br#","severity":"high","severity_id":5,"source":"#,
        Severity::Critical => br#","severity":"critical","severity_id":6,"source":"#,
    }
}

/// The envelope fields that are the same for every event, JSON-escaped once when the
/// options are validated: `,"host":…,"source":…,"sourcetype":…,"index":…,"event":{"event_type":`.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    meta: Vec<u8>,
}

impl Envelope {
    pub(crate) fn new(config: &SplunkConfig) -> Self {
        let mut out = Vec::with_capacity(128);
        if let Some(host) = &config.host {
            out.extend_from_slice(br#","host":"#);
            json::push_str(&mut out, host);
        }
        out.extend_from_slice(br#","source":"#);
        json::push_str(&mut out, &config.source);
        out.extend_from_slice(br#","sourcetype":"#);
        json::push_str(&mut out, &config.sourcetype);
        if let Some(index) = &config.index {
            out.extend_from_slice(br#","index":"#);
            json::push_str(&mut out, index);
        }
        out.extend_from_slice(br#","event":{"event_type":"#);
        Self { meta: out }
    }
}

/// Encodes `events` into HEC request bodies within `options.max_body_bytes`, gzipped
/// when `options.gzip`. Every event ends up in exactly one request (in input order) or
/// in `rejected`.
///
/// ```
/// use std::sync::Arc;
/// use siem_core::SecurityEvent;
/// use siem_splunk::SplunkConfig;
/// let options = SplunkConfig {
///     index: Some("main".into()),
///     gzip: false,
///     ..SplunkConfig::new("https://hec.example:8088".parse()?)
/// }
/// .sink_options()?;
/// let event = SecurityEvent::from_json(r#"{"event_type":"budget.exhausted","org_id":"o",
///     "project_id":"p","timestamp":"2026-06-08T20:15:30.250Z","details":{"scope":"project",
///     "limit_usd":5.0,"spent_usd":5.5,"period":"monthly"}}"#)?;
/// let encoded = siem_splunk::encode(&[Arc::new(event)], &options);
/// let body = std::str::from_utf8(&encoded.requests[0].body)?;
/// assert!(body.starts_with(r#"{"time":1780949730.250,"source":"aisg","sourcetype":"aisg:security","index":"main","event":{"event_type":"budget.exhausted""#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode(events: &[Arc<SecurityEvent>], options: &SplunkOptions) -> Encoded {
    plan(events, options).cloning(events)
}

/// Writes the bodies and decides which events each holds.
pub(crate) fn plan(events: &[Arc<SecurityEvent>], options: &SplunkOptions) -> RequestPlan {
    let name = "a Splunk HEC request body (max_body_bytes)";
    // A guess of the envelope size, so the buffer rarely grows: the event's own estimate
    // plus the envelope fields around it.
    let guess = events.first().map_or(0, |e| e.estimated_size());
    let layout = Layout {
        per_item: guess + options.envelope.meta.len() + 64,
        ..Layout::new(
            Framing::CONCATENATED,
            options.gzip,
            options.max_body_bytes,
            name,
        )
    };
    split(events, &layout, |out, event| {
        write_envelope(out, event, &options.envelope)
    })
}

/// Appends one envelope and its newline.
fn write_envelope(out: &mut Vec<u8>, event: &SecurityEvent, envelope: &Envelope) {
    out.extend_from_slice(br#"{"time":"#);
    json::push_epoch_seconds_millis(out, event.timestamp().unix_millis());
    out.extend_from_slice(&envelope.meta);
    json::push_str(out, event.event_type().as_str());
    out.extend_from_slice(br#","project_id":"#);
    json::push_str(out, event.project_id().as_str());
    if let Some(request_id) = event.request_id() {
        out.extend_from_slice(br#","request_id":"#);
        json::push_str(out, request_id.as_str());
    }
    out.extend_from_slice(severity_fields(event.severity()));
    json::push_str(out, event.source().as_str());
    out.extend_from_slice(br#","timestamp":""#);
    event.timestamp().write_rfc3339_bytes(out);
    out.extend_from_slice(br#"","details":"#);
    event.details().write_json(out, b"{}");
    out.extend_from_slice(br#","event_id":""#);
    json::push_event_id(out, event.event_id());
    out.extend_from_slice(br#"","org_id":"#);
    json::push_str(out, event.org_id().as_str());
    out.extend_from_slice(b"}}\n");
}
