//! Encoder behaviour: the platform example, status mapping, tags, escaping, the three
//! limits, gzip.

mod common;

use std::sync::Arc;

use serde_json::Value;
use siem_core::{EncodeError, SecurityEvent, Severity};
use siem_datadog::config::{MAX_BODY_BYTES, MAX_ITEMS_PER_REQUEST};
use siem_datadog::{encode, DatadogConfig, DatadogOptions};

use common::{
    assert_json_contains, assert_rejected_as_too_large, assert_sent_all_but_big_events,
    check_gzip_and_empty_batch, fixture_event, fixture_events, fixtures, fixtures_with_big_events,
    opts, pii_blocked_needing_escapes, plain_body,
};

fn items(request: &siem_core::EncodedRequest) -> Vec<Value> {
    match serde_json::from_str(&plain_body(request)).expect("body is JSON") {
        Value::Array(items) => items,
        other => panic!("body is not an array: {other}"),
    }
}

fn single_item(event: SecurityEvent, options: &DatadogOptions) -> Value {
    let encoded = encode(&[Arc::new(event)], options);
    assert_eq!(encoded.requests.len(), 1);
    let mut all = items(&encoded.requests[0]);
    assert_eq!(all.len(), 1);
    all.remove(0)
}

fn tags(item: &Value) -> Vec<String> {
    item["ddtags"]
        .as_str()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect()
}

#[test]
fn platform_example_budget_exhausted_is_reproduced_field_for_field() {
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("platforms/datadog_budget_exhausted.json"))
            .unwrap(),
    )
    .unwrap();
    let options = opts(|_| {});
    let encoded = encode(&[fixture_event("budget.exhausted")], &options);
    let actual = items(&encoded.requests[0]);
    let expected = example.as_array().unwrap();
    assert_eq!(actual.len(), expected.len());
    for (expected, actual) in expected.iter().zip(&actual) {
        let mut expected = expected.clone();
        // ddtags must contain each tag shown; more tags are allowed.
        let shown = expected.as_object_mut().unwrap().remove("ddtags").unwrap();
        let have = tags(actual);
        for tag in shown.as_str().unwrap().split(',') {
            assert!(
                have.iter().any(|t| t == tag),
                "tag {tag} missing in {have:?}"
            );
        }
        assert_json_contains(&expected, actual, "");
    }
}

#[test]
fn status_maps_from_severity() {
    let options = opts(|_| {});
    for (severity, status) in [
        (Severity::Critical, "emergency"),
        (Severity::High, "alert"),
        (Severity::Medium, "warn"),
        (Severity::Low, "notice"),
        (Severity::Info, "info"),
    ] {
        let event = (*fixture_event("loop.detected"))
            .clone()
            .with_severity(severity);
        let item = single_item(event, &options);
        assert_eq!(item["status"], status);
        assert_eq!(item["severity"], severity.as_str());
    }
}

#[test]
fn item_fields_and_tags() {
    let options = opts(|c| c.tags = ["team:sec", "pci"].map(String::from).to_vec());
    for event in fixture_events() {
        let item = single_item((*event).clone(), &options);
        let canonical: Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(item["ddsource"], "aisg");
        assert_eq!(item["hostname"], "aisg-proxy");
        assert_eq!(item["message"], canonical["event_type"]);
        assert_eq!(item["service"], canonical["project_id"]);
        for field in [
            "event_type",
            "project_id",
            "request_id",
            "severity",
            "timestamp",
            "details",
            "event_id",
            "org_id",
        ] {
            assert_eq!(item.get(field), canonical.get(field), "{field}");
        }
        assert_eq!(
            tags(&item),
            [
                "env:production".to_owned(),
                format!("service:{}", event.project_id()),
                format!("event_type:{}", event.event_type()),
                format!("org:{}", event.org_id()),
                "team:sec".to_owned(),
                "pci".to_owned(),
            ]
        );
    }
    let budget = single_item((*fixture_event("budget.exhausted")).clone(), &options);
    assert!(budget.get("request_id").is_none());
    let bare = single_item(
        (*fixture_event("budget.exhausted")).clone(),
        &DatadogConfig::default().sink_options().unwrap(),
    );
    assert!(bare.get("hostname").is_none());
    assert!(tags(&bare)[0].starts_with("service:"));
}

#[test]
fn identifiers_are_escaped_and_commas_kept_out_of_tags() {
    let nasty = r#"req "x" \ y / é 😀"#;
    let event = pii_blocked_needing_escapes("org, \"quoted\"", "proj\\x", nasty, "m");
    let item = single_item(event, &opts(|_| {}));
    assert_eq!(item["request_id"], nasty);
    assert_eq!(item["org_id"], "org, \"quoted\"");
    assert_eq!(item["service"], "proj\\x");
    let tags = tags(&item);
    assert_eq!(tags.len(), 4);
    assert_eq!(tags[3], "org:org_ \"quoted\"");
}

fn check_split(
    encoded: &siem_core::Encoded,
    max_items: usize,
    max_body: usize,
) -> Vec<Arc<SecurityEvent>> {
    let mut sent = Vec::new();
    for r in &encoded.requests {
        assert!(r.events.len() <= max_items);
        assert!(r.uncompressed_len <= max_body);
        let items = items(r);
        assert_eq!(items.len(), r.events.len());
        for (item, event) in items.iter().zip(&r.events) {
            assert_eq!(item["event_id"], event.event_id().to_string());
        }
        sent.extend(r.events.iter().cloned());
    }
    sent
}

#[test]
fn splits_at_1000_items_by_default() {
    let events: Vec<_> = fixture_events().into_iter().cycle().take(2_345).collect();
    let encoded = encode(&events, &opts(|c| c.gzip = false));
    let counts: Vec<_> = encoded.requests.iter().map(|r| r.events.len()).collect();
    assert_eq!(counts, [1000, 1000, 345]);
    let sent = check_split(&encoded, MAX_ITEMS_PER_REQUEST, MAX_BODY_BYTES);
    assert!(sent.iter().zip(&events).all(|(a, b)| Arc::ptr_eq(a, b)));
}

#[test]
fn splits_at_the_body_limit_and_rejects_oversized_items() {
    let events = fixtures_with_big_events(30, &[4, 20], 30); // the big ones ~3.5 KB alone
    let (max_body, max_item) = (2_500, 2_000);
    let options = opts(|c| {
        c.max_body_bytes = max_body;
        c.max_item_bytes = max_item;
        c.gzip = false;
    });
    let encoded = encode(&events, &options);
    assert_rejected_as_too_large(&encoded, 2, max_item, "log item");
    assert!(encoded.requests.len() > 2);
    let sent = check_split(&encoded, MAX_ITEMS_PER_REQUEST, max_body);
    assert_sent_all_but_big_events(&sent, &events);
}

#[test]
fn item_fitting_the_item_limit_but_not_the_body_limit_is_rejected() {
    let options = opts(|c| {
        c.max_body_bytes = 400;
        c.gzip = false;
    });
    let encoded = encode(&fixture_events(), &options);
    assert!(encoded.requests.is_empty());
    assert_eq!(encoded.rejected.len(), 5);
    assert!(encoded
        .rejected
        .iter()
        .all(|r| matches!(&r.reason, EncodeError::TooLarge { limit: 400, what, .. } if what.contains("body"))));
}

#[test]
fn gzip_bodies_are_the_plain_ones_compressed_and_an_empty_batch_gives_nothing() {
    check_gzip_and_empty_batch(&opts(|_| {}), &opts(|c| c.gzip = false));
}
