//! Events to Logs Ingestion API request bodies. Pure: no I/O, no clock, no randomness.
//!
//! # Platform limits
//! - Body: a JSON array of records, one per event, in the custom table's columns
//!   ([`COLUMNS`]).
//! - Size: at most 1 MB per call; like Microsoft's own client we split at
//!   [`MAX_REQUEST_BYTES`] (1,000,000) bytes of *uncompressed* JSON, brackets and commas
//!   included. An event whose record alone would exceed that is rejected with
//!   [`EncodeError::TooLarge`]; the rest of the batch still goes.
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

use siem_core::{EncodeError, Encoded, SecurityEvent, Severity};
use siem_http::{json, RequestPlan};

/// The largest uncompressed body sent in one call, in bytes (the API's 1 MB limit, counted
/// the way Microsoft's client counts it).
pub const MAX_REQUEST_BYTES: usize = 1_000_000;

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

/// What the size limit is called in [`EncodeError::TooLarge`].
const LIMIT_NAME: &str = "a Logs Ingestion API call";

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

/// Encodes a batch into request bodies of at most [`MAX_REQUEST_BYTES`] uncompressed bytes
/// each, gzip-compressed when `gzip` is true. Every event ends up in exactly one request or
/// in `rejected`; requests keep the input order.
///
/// ```
/// use std::sync::Arc;
/// let events: Vec<_> = siem_core::testing::sample_events().into_iter().map(Arc::new).collect();
/// let encoded = siem_sentinel::encoder::encode(&events, false);
/// assert_eq!(encoded.requests.len(), 1);
/// let records: serde_json::Value = serde_json::from_slice(&encoded.requests[0].body)?;
/// assert_eq!(records[0]["Severity"], "High");
/// assert_eq!(records[0]["TimeGenerated"], "2026-06-08T20:15:30Z");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn encode(events: &[Arc<SecurityEvent>], gzip: bool) -> Encoded {
    plan(events, gzip, MAX_REQUEST_BYTES).cloning(events)
}

/// [`encode`] for a batch handed over: the requests take the events themselves.
pub fn encode_owned(events: Vec<Arc<SecurityEvent>>, gzip: bool) -> Encoded {
    plan(&events, gzip, MAX_REQUEST_BYTES).moving(events)
}

/// [`encode`] with another byte limit (tests of the splitting logic use small ones).
#[cfg(test)]
pub(crate) fn encode_with_limit(
    events: &[Arc<SecurityEvent>],
    gzip: bool,
    limit: usize,
) -> Encoded {
    plan(events, gzip, limit).cloning(events)
}

/// Writes the bodies (each within `limit` bytes) and decides which events each holds.
fn plan(events: &[Arc<SecurityEvent>], gzip: bool, limit: usize) -> RequestPlan {
    let mut plan = RequestPlan::new(gzip);
    if events.is_empty() {
        return plan;
    }
    // Records are a little larger than the canonical JSON estimate on long column names
    // and a little smaller on defaults; 32 bytes of slack per record covers the keys.
    let mut remaining_estimate: usize = events.iter().map(|e| e.estimated_size() + 32).sum();
    let new_buffer = |remaining: usize| {
        let mut buf = Vec::with_capacity(remaining.min(limit) + 2);
        buf.push(b'[');
        buf
    };
    let mut body = new_buffer(remaining_estimate);
    // Records in the body being written.
    let mut records = 0;

    for (i, event) in events.iter().enumerate() {
        remaining_estimate = remaining_estimate.saturating_sub(event.estimated_size() + 32);
        let mark = body.len();
        if records > 0 {
            body.push(b',');
        }
        let start = body.len();
        write_record(&mut body, event);
        let record_len = body.len() - start;

        if record_len + 2 > limit {
            body.truncate(mark);
            plan.reject(
                i,
                EncodeError::TooLarge {
                    event_id: event.event_id().to_string(),
                    size: record_len + 2,
                    limit,
                    what: LIMIT_NAME,
                },
            );
            continue;
        }
        if body.len() + 1 > limit {
            // The record does not fit: close the current body without it and start the
            // next body with it (a copy of one record, once per request).
            let mut next = new_buffer(remaining_estimate + record_len);
            next.extend_from_slice(&body[start..]);
            body.truncate(mark);
            body.push(b']');
            plan.close_body(i, std::mem::replace(&mut body, next));
            records = 0;
        }
        records += 1;
    }
    if records > 0 {
        body.push(b']');
        plan.close_body(events.len(), body);
    }
    plan
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
    json::push_details(out, event.details(), b"null");
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use siem_core::testing::sample_events;

    fn events(n: usize) -> Vec<Arc<SecurityEvent>> {
        sample_events()
            .into_iter()
            .cycle()
            .take(n)
            .map(Arc::new)
            .collect()
    }

    fn records(body: &[u8]) -> Vec<serde_json::Value> {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn severity_mapping_is_spec_4() {
        assert_eq!(severity_word(Severity::Critical), "High");
        assert_eq!(severity_word(Severity::High), "High");
        assert_eq!(severity_word(Severity::Medium), "Medium");
        assert_eq!(severity_word(Severity::Low), "Low");
        assert_eq!(severity_word(Severity::Info), "Informational");
    }

    #[test]
    fn split_keeps_every_body_within_the_limit_and_every_event_once() {
        let batch = events(50);
        let one = encode_with_limit(&batch[..1], false, usize::MAX);
        let record_len = one.requests[0].uncompressed_len;
        for limit in [record_len * 3, record_len * 7 + 5, 4096, 10_000] {
            let encoded = encode_with_limit(&batch, false, limit);
            assert!(encoded.rejected.is_empty(), "limit {limit}");
            let mut ids = Vec::new();
            for r in &encoded.requests {
                assert!(r.body.len() <= limit, "limit {limit}: {}", r.body.len());
                assert_eq!(r.uncompressed_len, r.body.len());
                let recs = records(&r.body);
                assert_eq!(recs.len(), r.events.len());
                for (rec, ev) in recs.iter().zip(&r.events) {
                    assert_eq!(rec["EventId"], ev.event_id().to_string());
                }
                ids.extend(r.events.iter().map(|e| e.event_id()));
            }
            let expected: Vec<_> = batch.iter().map(|e| e.event_id()).collect();
            assert_eq!(ids, expected, "limit {limit}");
            assert!(encoded.requests.len() > 1, "limit {limit} should split");
        }
    }

    #[test]
    fn a_body_exactly_at_the_limit_is_not_split() {
        let batch = events(4);
        let whole = encode_with_limit(&batch, false, usize::MAX);
        let len = whole.requests[0].body.len();
        let at = encode_with_limit(&batch, false, len);
        assert_eq!(at.requests.len(), 1);
        assert_eq!(at.requests[0].body, whole.requests[0].body);
        let below = encode_with_limit(&batch, false, len - 1);
        assert_eq!(below.requests.len(), 2);
        assert_eq!(below.requests[0].events.len(), 3);
    }

    #[test]
    fn too_large_alone_is_rejected_and_the_rest_still_goes() {
        let batch = events(6);
        // Record 1 (injection_blocked, with detector and confidence) is the largest sample.
        let sizes: Vec<usize> = batch
            .iter()
            .map(|e| {
                encode_with_limit(std::slice::from_ref(e), false, usize::MAX).requests[0]
                    .body
                    .len()
            })
            .collect();
        let largest = *sizes.iter().max().unwrap();
        let second = *sizes.iter().filter(|&&s| s < largest).max().unwrap();
        let encoded = encode_with_limit(&batch, false, second);
        let rejected: Vec<_> = encoded
            .rejected
            .iter()
            .map(|r| r.event.event_id())
            .collect();
        let expected: Vec<_> = batch
            .iter()
            .zip(&sizes)
            .filter(|(_, &s)| s > second)
            .map(|(e, _)| e.event_id())
            .collect();
        assert_eq!(rejected, expected);
        let EncodeError::TooLarge {
            size,
            limit,
            what,
            event_id,
        } = &encoded.rejected[0].reason
        else {
            panic!("unexpected reason {:?}", encoded.rejected[0].reason)
        };
        assert_eq!((*size, *limit, *what), (largest, second, LIMIT_NAME));
        assert_eq!(event_id, &expected[0].to_string());
        let sent: usize = encoded.requests.iter().map(|r| r.events.len()).sum();
        assert_eq!(sent + rejected.len(), 6);
        for r in &encoded.requests {
            assert!(r.body.len() <= second);
            records(&r.body);
        }
    }

    #[test]
    fn request_id_is_omitted_when_absent() {
        let batch = events(6);
        let encoded = encode(&batch, false);
        let recs = records(&encoded.requests[0].body);
        for (rec, ev) in recs.iter().zip(&batch) {
            match ev.request_id() {
                Some(r) => assert_eq!(rec["RequestId"], r.as_str()),
                None => assert!(rec.get("RequestId").is_none(), "{rec}"),
            }
        }
    }

    /// The largest event the core allows (32 custom fields of 64 labels of 128 four-byte
    /// characters) is over 1 MB: rejected at the real limit, while the others still go.
    #[test]
    fn an_event_over_one_megabyte_is_rejected_at_the_real_limit() {
        let label = "\u{1D538}".repeat(128);
        let fields: serde_json::Map<String, serde_json::Value> = (0..32)
            .map(|i| (format!("f{i}"), serde_json::json!(vec![label.as_str(); 64])))
            .collect();
        let huge = SecurityEvent::from_json(
            &serde_json::json!({
                "event_type": "acme.huge",
                "org_id": "org_a",
                "project_id": "p",
                "details": fields,
            })
            .to_string(),
        )
        .unwrap();
        let mut batch = events(3);
        batch.insert(1, Arc::new(huge));
        let encoded = encode(&batch, true);
        assert_eq!(encoded.rejected.len(), 1);
        assert_eq!(encoded.rejected[0].event.event_id(), batch[1].event_id());
        match &encoded.rejected[0].reason {
            EncodeError::TooLarge { size, limit, .. } => {
                assert!(*size > MAX_REQUEST_BYTES);
                assert_eq!(*limit, MAX_REQUEST_BYTES);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(encoded.requests.len(), 1);
        let ids: Vec<_> = encoded.requests[0]
            .events
            .iter()
            .map(|e| e.event_id())
            .collect();
        assert_eq!(
            ids,
            [
                batch[0].event_id(),
                batch[2].event_id(),
                batch[3].event_id()
            ]
        );
    }
}
