//! Events to Logs Ingestion API request bodies. Pure: no I/O, no clock, no randomness.
//!
//! # Platform limits
//! - Body: a JSON array of records, one per event, in the custom table's columns
//!   ([`COLUMNS`]).
//! - Size: at most 1 MB per call; like Microsoft's own client we split ([`siem_http::split`])
//!   at `max_body_bytes` (1,000,000 unless lower) bytes of *uncompressed* JSON, brackets
//!   and commas included. An event whose record alone would exceed that is rejected with
//!   [`EncodeError::TooLarge`](siem_core::EncodeError::TooLarge); the rest of the batch
//!   still goes.
//! - No count limit per call.
//! - Compression: `Content-Encoding: gzip` (on by default).
//! - Auth: `Authorization: Bearer <Entra ID token>` (added by the sink, not here).
//!
//! # Record shape
//! ```json
//! {"TimeGenerated":"2026-06-08T20:15:30Z","EventId":"0b7c6f1e-…","EventType":"dlp.pii_blocked",
//!  "Severity":"High","OrgId":"org_acme","ProjectId":"proj_abc123","RequestId":"req_xyz789",
//!  "Source":"aisg","Details":{"entities_found":["SSN"],"action":"blocked","model":"gpt-4.1"}}
//! ```
//! Keys always come in [`COLUMNS`] order. `RequestId` is **omitted** when the event has
//! none (e.g. `budget.exhausted`), as in the canonical JSON; the column is a nullable
//! `string`, so Log Analytics stores an empty value either way, and leaving it out keeps
//! bodies smaller. `Details` is the event's canonical details object (a `dynamic` column).
//!
//! # Speed
//! Each request body is written directly into one buffer that becomes the body (no copy
//! unless gzip is on). Keys are fixed bytes, the timestamp and id are formatted straight
//! into the buffer, strings are escaped as `serde_json` escapes them, and the
//! details object is written by its canonical `Serialize` straight into the buffer. There
//! is no allocation per event beyond growing the buffer.

use std::sync::Arc;

use siem_core::json;
use siem_core::{Encoded, SecurityEvent, Severity};
use siem_http::{split, Framing, Layout, RequestPlan};

use crate::config::SentinelOptions;

/// The column names, as `const`s the encoder writes.
pub mod column {
    /// The event time, RFC 3339 UTC.
    pub const TIME_GENERATED: &str = "TimeGenerated";
    /// The event's UUID.
    pub const EVENT_ID: &str = "EventId";
    /// The dotted event type, e.g. `dlp.pii_blocked`.
    pub const EVENT_TYPE: &str = "EventType";
    /// `High`, `Medium`, `Low` or `Informational`.
    pub const SEVERITY: &str = "Severity";
    /// The organization.
    pub const ORG_ID: &str = "OrgId";
    /// The project.
    pub const PROJECT_ID: &str = "ProjectId";
    /// The gateway request; omitted when the event has none.
    pub const REQUEST_ID: &str = "RequestId";
    /// The producer, `aisg` unless configured.
    pub const SOURCE: &str = "Source";
    /// The canonical details object.
    pub const DETAILS: &str = "Details";
}

/// The record columns and their Log Analytics types, in the order the encoder writes them.
/// `schema/table.json` and `schema/dcr.json` must declare exactly these (a test checks).
pub const COLUMNS: &[(&str, &str)] = &[
    (column::TIME_GENERATED, "datetime"),
    (column::EVENT_ID, "string"),
    (column::EVENT_TYPE, "string"),
    (column::SEVERITY, "string"),
    (column::ORG_ID, "string"),
    (column::PROJECT_ID, "string"),
    (column::REQUEST_ID, "string"),
    (column::SOURCE, "string"),
    (column::DETAILS, "dynamic"),
];

/// Columns left out of a record when the event has no value for them.
pub const OPTIONAL_COLUMNS: &[&str] = &[column::REQUEST_ID];

/// Sentinel's severity word: critical and high → `High`, medium → `Medium`, low → `Low`,
/// info → `Informational` (SPEC §4).
pub const fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Informational",
    }
}

/// Encodes a batch into request bodies of at most `options.max_body_bytes` uncompressed
/// bytes each, gzip-compressed when `options.gzip`. Every event ends up in exactly one
/// request or in `rejected`; requests keep the input order.
///
/// ```
/// use std::sync::Arc;
/// use siem_sentinel::SentinelConfig;
/// let options = SentinelConfig {
///     gzip: false,
///     ..SentinelConfig::new(
///         "https://dce.example.ingest.monitor.azure.com".parse()?,
///         "dcr-00112233445566778899aabbccddeeff",
///     )
/// }
/// .sink_options()?;
/// let events: Vec<_> = siem_core::testing::sample_events().into_iter().map(Arc::new).collect();
/// let encoded = siem_sentinel::encode(&events, &options);
/// assert_eq!(encoded.requests.len(), 1);
/// let records: serde_json::Value = serde_json::from_slice(&encoded.requests[0].body)?;
/// assert_eq!(records[0]["Severity"], "High");
/// assert_eq!(records[0]["TimeGenerated"], "2026-06-08T20:15:30Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode(events: &[Arc<SecurityEvent>], options: &SentinelOptions) -> Encoded {
    plan(events, options).cloning(events)
}

/// Writes the bodies and decides which events each holds.
pub(crate) fn plan(events: &[Arc<SecurityEvent>], options: &SentinelOptions) -> RequestPlan {
    let name = "a Logs Ingestion API call";
    // Records are a little larger than the canonical JSON estimate on long column names
    // and a little smaller on defaults; 32 bytes of slack per record covers the keys.
    let layout = Layout {
        per_item: events.first().map_or(0, |e| e.estimated_size()) + 32,
        ..Layout::new(Framing::ARRAY, options.gzip, options.max_body_bytes, name)
    };
    split(events, &layout, write_record)
}

/// Appends `"name":`.
#[inline]
fn key(out: &mut Vec<u8>, name: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends text known to need no escaping (RFC 3339 times, UUIDs, fixed words), quoted.
#[inline]
fn plain(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
}

/// Appends one record.
fn write_record(out: &mut Vec<u8>, event: &SecurityEvent) {
    out.push(b'{');
    key(out, column::TIME_GENERATED);
    out.push(b'"');
    event.timestamp().write_rfc3339_bytes(out);
    out.push(b'"');
    out.push(b',');
    key(out, column::EVENT_ID);
    out.push(b'"');
    json::push_event_id(out, event.event_id());
    out.push(b'"');
    out.push(b',');
    key(out, column::EVENT_TYPE);
    json::push_str(out, event.event_type().as_str());
    out.push(b',');
    key(out, column::SEVERITY);
    plain(out, severity_word(event.severity()));
    out.push(b',');
    key(out, column::ORG_ID);
    json::push_str(out, event.org_id().as_str());
    out.push(b',');
    key(out, column::PROJECT_ID);
    json::push_str(out, event.project_id().as_str());
    if let Some(request_id) = event.request_id() {
        out.push(b',');
        key(out, column::REQUEST_ID);
        json::push_str(out, request_id.as_str());
    }
    out.push(b',');
    key(out, column::SOURCE);
    json::push_str(out, event.source().as_str());
    out.push(b',');
    key(out, column::DETAILS);
    event.details().write_json(out, b"null");
    out.push(b'}');
}
