//! Encoder behaviour: the platform example, time and severity mapping, escaping, splitting
//! and rejection, gzip.

mod common;

use std::sync::Arc;

use serde_json::Value;
use siem_core::{SecurityEvent, Severity};
use siem_splunk::{encode, SplunkOptions};

use common::{
    assert_json_contains, assert_rejected_as_too_large, assert_sent_all_but_big_events,
    check_gzip_and_empty_batch, fixture_event, fixture_events, fixtures, fixtures_with_big_events,
    opts, pii_blocked_needing_escapes, plain_body,
};

fn envelopes(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON envelope"))
        .collect()
}

fn single_envelope(event: SecurityEvent, options: &SplunkOptions) -> Value {
    let encoded = encode(&[Arc::new(event)], options);
    assert_eq!(encoded.requests.len(), 1);
    let mut all = envelopes(&plain_body(&encoded.requests[0]));
    assert_eq!(all.len(), 1);
    all.remove(0)
}

#[test]
fn platform_example_pii_blocked_is_reproduced_field_for_field() {
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("platforms/splunk_pii_blocked.json")).unwrap(),
    )
    .unwrap();
    let options = opts(|c| {
        c.sourcetype = "aisg:security".into();
        c.index = Some("main".into());
    });
    let encoded = encode(&[fixture_event("dlp.pii_blocked")], &options);
    let actual = envelopes(&plain_body(&encoded.requests[0])).remove(0);
    assert_json_contains(&example, &actual, "");
}

#[test]
fn time_is_epoch_seconds_with_three_decimals() {
    let options = opts(|c| c.gzip = false);
    for (ts, expected) in [
        ("2026-06-08T20:16:02.250Z", "1780949762.250"),
        ("2026-06-08T20:15:30Z", "1780949730.000"),
        ("2026-06-08T20:15:30.007Z", "1780949730.007"),
        ("2026-06-08T20:15:30.999999Z", "1780949730.999"),
        ("1970-01-01T00:00:00Z", "0.000"),
    ] {
        let event = (*fixture_event("dlp.pii_blocked")).clone();
        let mut json: Value = serde_json::from_str(&event.to_json()).unwrap();
        json["timestamp"] = Value::from(ts);
        let event = SecurityEvent::from_json(&json.to_string()).unwrap();
        let encoded = encode(&[Arc::new(event)], &options);
        let body = plain_body(&encoded.requests[0]);
        assert!(
            body.starts_with(&format!("{{\"time\":{expected},")),
            "{ts}: {body}"
        );
    }
}

#[test]
fn severity_maps_to_word_and_splunk_scale() {
    let options = opts(|_| {});
    for (severity, id) in [
        (Severity::Info, 2),
        (Severity::Low, 3),
        (Severity::Medium, 4),
        (Severity::High, 5),
        (Severity::Critical, 6),
    ] {
        let event = (*fixture_event("loop.detected"))
            .clone()
            .with_severity(severity);
        let envelope = single_envelope(event, &options);
        assert_eq!(envelope["event"]["severity"], severity.as_str());
        assert_eq!(envelope["event"]["severity_id"], id);
    }
}

#[test]
fn event_fields_round_trip_and_request_id_is_omitted_when_absent() {
    let options = opts(|_| {});
    for event in fixture_events() {
        let envelope = single_envelope((*event).clone(), &options);
        let inner = &envelope["event"];
        let canonical: Value = serde_json::from_str(&event.to_json()).unwrap();
        for field in [
            "event_type",
            "project_id",
            "request_id",
            "severity",
            "source",
            "timestamp",
            "details",
            "event_id",
            "org_id",
        ] {
            assert_eq!(inner.get(field), canonical.get(field), "{field}");
        }
        assert_eq!(
            inner.as_object().unwrap().len(),
            canonical.as_object().unwrap().len() + 1
        );
        assert_eq!(envelope["source"], "aisg");
        assert_eq!(envelope["sourcetype"], "aisg:security");
        assert!(envelope.get("index").is_none() && envelope.get("host").is_none());
    }
    let budget = single_envelope((*fixture_event("budget.exhausted")).clone(), &options);
    assert!(budget["event"].get("request_id").is_none());
}

#[test]
fn identifiers_with_quotes_backslashes_and_unicode_are_escaped() {
    let nasty = r#"req "x" \ y / é 😀 </script>"#;
    let event = pii_blocked_needing_escapes(r#"org\"#, "proj\"", nasty, "m\\1");
    let options = opts(|c| {
        c.host = Some("h\"1".into());
        c.index = Some("main".into());
    });
    let envelope = single_envelope(event, &options);
    assert_eq!(envelope["event"]["request_id"], nasty);
    assert_eq!(envelope["event"]["org_id"], "org\\");
    assert_eq!(envelope["event"]["project_id"], "proj\"");
    assert_eq!(envelope["event"]["details"]["entities_found"][0], "A\"B");
    assert_eq!(envelope["host"], "h\"1");
}

#[test]
fn bodies_are_split_at_the_limit_in_order_and_oversized_events_rejected() {
    let events = fixtures_with_big_events(40, &[7, 31], 50); // the big ones ~5 KB alone
    let max = 2_000;
    let options = opts(|c| {
        c.max_body_bytes = max;
        c.gzip = false;
    });
    let encoded = encode(&events, &options);

    assert_rejected_as_too_large(&encoded, 2, max, "request body");
    assert!(encoded.requests.len() > 1);
    let mut sent = Vec::new();
    for r in &encoded.requests {
        assert!(r.uncompressed_len <= max);
        assert_eq!(r.body.len(), r.uncompressed_len);
        let lines = envelopes(std::str::from_utf8(&r.body).unwrap());
        assert_eq!(lines.len(), r.events.len());
        for (line, event) in lines.iter().zip(&r.events) {
            assert_eq!(line["event"]["event_id"], event.event_id().to_string());
        }
        sent.extend(r.events.iter().cloned());
    }
    assert_sent_all_but_big_events(&sent, &events);

    // The split bodies are exactly the one-request body cut at envelope boundaries.
    let whole = encode(&sent, &opts(|c| c.gzip = false));
    assert_eq!(whole.requests.len(), 1);
    let joined: Vec<u8> = encoded
        .requests
        .iter()
        .flat_map(|r| r.body.iter().copied())
        .collect();
    assert_eq!(joined, whole.requests[0].body.to_vec());
}

#[test]
fn gzip_bodies_are_the_plain_ones_compressed_and_an_empty_batch_gives_nothing() {
    check_gzip_and_empty_batch(&opts(|_| {}), &opts(|c| c.gzip = false));
}
