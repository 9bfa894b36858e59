//! Events to Datadog Logs API v2 request bodies (pure; no I/O).
//!
//! One body is a JSON array of log items:
//!
//! ```text
//! [{"ddsource":"aisg","ddtags":"env:…,service:<project>,event_type:<type>,org:<org>,<extra tags>",
//!   "hostname":…,"message":"<type>","service":"<project>","status":"alert",
//!   "event_type":…,"project_id":…,"request_id":…,"severity":"high",
//!   "timestamp":"2026-06-08T20:15:30Z","details":{…},"event_id":…,"org_id":…}, …]
//! ```
//!
//! `env:` and `hostname` appear only when configured, `request_id` only when the event
//! has one; a `,` inside a tag value is written as `_` so it cannot split the tag list.
//! Datadog reads the item's `timestamp` as the log date. Bodies are split at
//! 1000 items and 5 MB uncompressed (or the lower limits configured); an item over 1 MB
//! is rejected with [`EncodeError::TooLarge`](siem_core::EncodeError::TooLarge) and the
//! others still go (the splitting is [`siem_http::split`]).
//!
//! The encoder writes JSON by hand into one buffer per request: the parts that are the
//! same for every item are escaped once when the options are built, identifiers are
//! escaped by [`siem_core::json`], and only `details` goes through `serde_json`.

use std::sync::Arc;

use siem_core::json;
use siem_core::{Encoded, SecurityEvent, Severity};
use siem_http::{split, Framing, Layout, RequestPlan};

use crate::config::{DatadogConfig, DatadogOptions};

/// Datadog's log `status` for our severities, per SPEC §4: critical → `emergency`,
/// high → `alert`, medium → `warn`, low → `notice`, info → `info`.
pub fn status(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "emergency",
        Severity::High => "alert",
        Severity::Medium => "warn",
        Severity::Low => "notice",
        Severity::Info => "info",
    }
}

/// `,"status":"<status>","event_type":` for each severity.
fn status_field(severity: Severity) -> &'static [u8] {
    match severity {
        Severity::Critical => br#","status":"emergency","event_type":"#,
        Severity::High => br#","status":"alert","event_type":"#,
        Severity::Medium => br#","status":"warn","event_type":"#,
        Severity::Low => br#","status":"notice","event_type":"#,
        Severity::Info => br#","status":"info","event_type":"#,
    }
}

/// `,"severity":"<word>","timestamp":"` for each severity.
fn severity_field(severity: Severity) -> &'static [u8] {
    match severity {
        Severity::Critical => br#","severity":"critical","timestamp":""#,
        Severity::High => br#","severity":"high","timestamp":""#,
        Severity::Medium => br#","severity":"medium","timestamp":""#,
        Severity::Low => br#","severity":"low","timestamp":""#,
        Severity::Info => br#","severity":"info","timestamp":""#,
    }
}

/// The `ddsource` of every log item.
pub const DDSOURCE: &str = "aisg";

/// The parts of an item that are the same for every event, JSON-escaped once when the
/// options are validated.
#[derive(Debug, Clone)]
pub(crate) struct ItemParts {
    /// `{"ddsource":"aisg","ddtags":"env:<env>,service:`.
    item_prefix: Vec<u8>,
    /// `,tag1,tag2` (escaped string contents), after the per-event tags.
    tags_suffix: Vec<u8>,
    /// `","hostname":"<host>","message":` (or without hostname).
    after_tags: Vec<u8>,
}

impl ItemParts {
    pub(crate) fn new(config: &DatadogConfig) -> Self {
        let mut item_prefix = br#"{"ddsource":"#.to_vec();
        json::push_str(&mut item_prefix, DDSOURCE);
        item_prefix.extend_from_slice(br#","ddtags":""#);
        if let Some(env) = &config.env {
            item_prefix.extend_from_slice(b"env:");
            json::push_str_contents(&mut item_prefix, env);
            item_prefix.push(b',');
        }
        item_prefix.extend_from_slice(b"service:");
        let mut tags_suffix = Vec::new();
        for tag in &config.tags {
            tags_suffix.push(b',');
            json::push_str_contents(&mut tags_suffix, tag);
        }
        let mut after_tags = b"\"".to_vec();
        if let Some(hostname) = &config.hostname {
            after_tags.extend_from_slice(br#","hostname":"#);
            json::push_str(&mut after_tags, hostname);
        }
        after_tags.extend_from_slice(br#","message":"#);
        Self {
            item_prefix,
            tags_suffix,
            after_tags,
        }
    }
}

/// Encodes `events` into Logs API v2 bodies within the item count, body size and item
/// size limits of `options`, gzipped when `options.gzip`. Every event ends up in
/// exactly one request (in input order) or in `rejected`.
///
/// ```
/// use std::sync::Arc;
/// use siem_core::SecurityEvent;
/// use siem_datadog::DatadogConfig;
/// let options = DatadogConfig {
///     env: Some("production".into()),
///     gzip: false,
///     ..Default::default()
/// }
/// .sink_options()?;
/// let event = SecurityEvent::from_json(r#"{"event_type":"budget.exhausted","org_id":"org_acme",
///     "project_id":"proj_abc123","timestamp":"2026-06-08T20:15:30Z","details":{"scope":"project",
///     "limit_usd":500.0,"spent_usd":500.37,"period":"monthly"}}"#)?;
/// let encoded = siem_datadog::encode(&[Arc::new(event)], &options);
/// let items: serde_json::Value = serde_json::from_slice(&encoded.requests[0].body)?;
/// assert_eq!(items[0]["ddtags"], "env:production,service:proj_abc123,event_type:budget.exhausted,org:org_acme");
/// assert_eq!(items[0]["status"], "warn");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode(events: &[Arc<SecurityEvent>], options: &DatadogOptions) -> Encoded {
    plan(events, options).cloning(events)
}

/// Writes the bodies and decides which events each holds.
pub(crate) fn plan(events: &[Arc<SecurityEvent>], options: &DatadogOptions) -> RequestPlan {
    let parts = &options.parts;
    let fixed = parts.item_prefix.len() + parts.tags_suffix.len() + parts.after_tags.len();
    let body_limit = "a Datadog request body (max_body_bytes)";
    let layout = Layout {
        per_item: events.first().map_or(0, |e| e.estimated_size()) + fixed + 160,
        max_item_bytes: options.max_item_bytes,
        max_items: options.max_items_per_request,
        item_limit_name: "a Datadog log item (max_item_bytes)",
        ..Layout::new(
            Framing::ARRAY,
            options.gzip,
            options.max_body_bytes,
            body_limit,
        )
    };
    split(events, &layout, |out, event| write_item(out, event, parts))
}

/// Appends one log item.
fn write_item(out: &mut Vec<u8>, event: &SecurityEvent, parts: &ItemParts) {
    // The item repeats its type, project and org (tags, message, service, fields): each is
    // scanned once, and written as it is when nothing needs escaping or replacing.
    let event_type = Value::of(event.event_type().as_str());
    let project = Value::of(event.project_id().as_str());
    let org = Value::of(event.org_id().as_str());
    out.extend_from_slice(&parts.item_prefix);
    project.tag(out);
    out.extend_from_slice(b",event_type:");
    event_type.tag(out);
    out.extend_from_slice(b",org:");
    org.tag(out);
    out.extend_from_slice(&parts.tags_suffix);
    out.extend_from_slice(&parts.after_tags);
    event_type.string(out);
    out.extend_from_slice(br#","service":"#);
    project.string(out);
    out.extend_from_slice(status_field(event.severity()));
    event_type.string(out);
    out.extend_from_slice(br#","project_id":"#);
    project.string(out);
    if let Some(request_id) = event.request_id() {
        out.extend_from_slice(br#","request_id":"#);
        json::push_str(out, request_id.as_str());
    }
    out.extend_from_slice(severity_field(event.severity()));
    event.timestamp().write_rfc3339_bytes(out);
    out.extend_from_slice(br#"","details":"#);
    event.details().write_json(out, b"{}");
    out.extend_from_slice(br#","event_id":""#);
    json::push_event_id(out, event.event_id());
    org.string_after(out, br#"","org_id":"#);
    out.push(b'}');
}

/// A value written more than once in an item, with whether it is plain (see
/// [`json::is_plain`] with the tag separator).
struct Value<'a> {
    text: &'a str,
    plain: bool,
}

impl<'a> Value<'a> {
    fn of(text: &'a str) -> Self {
        Value {
            text,
            plain: json::is_plain(text, b','),
        }
    }

    /// As a tag value: escaped for JSON, `,` written as `_`.
    fn tag(&self, out: &mut Vec<u8>) {
        if self.plain {
            out.extend_from_slice(self.text.as_bytes());
        } else {
            json::push_str_contents_replacing(out, self.text, b',', b'_');
        }
    }

    /// `key` (the bytes before the value), then the value as a JSON string.
    fn string_after(&self, out: &mut Vec<u8>, key: &[u8]) {
        out.extend_from_slice(key);
        self.string(out);
    }

    /// As a JSON string (a `,` is kept: only tags replace it).
    fn string(&self, out: &mut Vec<u8>) {
        if self.plain {
            out.push(b'"');
            out.extend_from_slice(self.text.as_bytes());
            out.push(b'"');
        } else {
            json::push_str(out, self.text);
        }
    }
}
