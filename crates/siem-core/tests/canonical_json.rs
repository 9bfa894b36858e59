//! The canonical JSON form: fixtures round-trip, and bad input names the field.

use std::path::PathBuf;

use siem_core::{EventType, SecurityEvent, Severity};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events")
}

fn fixtures() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_fixture_event_round_trips_to_the_same_json_value() {
    let fixtures = fixtures();
    assert_eq!(fixtures.len(), 5, "one fixture per gateway event type");
    for (name, text) in fixtures {
        let event = SecurityEvent::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(format!("{}.json", event.event_type()), name);
        let original: serde_json::Value = serde_json::from_str(&text).unwrap();
        let again: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
        assert_eq!(original, again, "{name}");
        // serde's Deserialize agrees with from_json.
        let via_serde: SecurityEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(via_serde, event);
    }
}

#[test]
fn missing_optional_fields_get_defaults() {
    let event = SecurityEvent::from_json(
        r#"{"event_type":"dlp.injection_blocked","org_id":"o","project_id":"p",
            "details":{"action":"blocked","model":"m"}}"#,
    )
    .unwrap();
    assert_eq!(event.severity(), Severity::Critical);
    assert_eq!(event.source().as_str(), "aisg");
    assert_eq!(event.request_id(), None);
    assert_eq!(event.event_type(), &EventType::InjectionBlocked);
    let other = SecurityEvent::from_json(&event.to_json()).unwrap();
    assert_eq!(
        other.event_id(),
        event.event_id(),
        "ids survive a round trip"
    );
}

fn error_of(json: &str) -> String {
    SecurityEvent::from_json(json).unwrap_err().to_string()
}

const BASE: &str = r#""event_type":"budget.exhausted","org_id":"o","project_id":"p""#;

#[test]
fn unknown_fields_are_named() {
    let top = error_of(&format!(
        r#"{{{BASE},"prompt":"hello","details":{{"scope":"user","limit_usd":1,"spent_usd":2,"period":"daily"}}}}"#
    ));
    assert!(top.contains("unknown field `prompt`"), "{top}");
    let nested = error_of(&format!(
        r#"{{{BASE},"details":{{"scope":"user","limit_usd":1,"spent_usd":2,"period":"daily","text":"x"}}}}"#
    ));
    assert!(nested.starts_with("`details.text`"), "{nested}");
    assert!(
        !nested.contains("column"),
        "positions inside details mislead: {nested}"
    );
    assert!(nested.contains("unknown field `text`"), "{nested}");
}

#[test]
fn invalid_values_name_their_path() {
    let cases = [
        (
            format!(r#"{{{BASE},"details":{{"scope":"user","limit_usd":-1,"spent_usd":2,"period":"daily"}}}}"#),
            "`details.limit_usd`",
        ),
        (
            format!(r#"{{{BASE},"details":{{"scope":"team","limit_usd":1,"spent_usd":2,"period":"daily"}}}}"#),
            "`details.scope`",
        ),
        (
            r#"{"event_type":"dlp.pii_blocked","org_id":"o","project_id":"p","details":{"entities_found":["SSN","bad\u0000"],"action":"blocked","model":"m"}}"#.to_owned(),
            "`details.entities_found[1]`",
        ),
        (
            r#"{"event_type":"dlp.pii_blocked","org_id":"o","project_id":"p","details":{"entities_found":[],"action":"redacted","model":"m"}}"#.to_owned(),
            "`details.action`",
        ),
        (
            format!(r#"{{"event_type":"budget.exhausted","org_id":"{}","project_id":"p","details":{{}}}}"#, "o".repeat(200)),
            "`org_id`",
        ),
        (
            r#"{"event_type":"dlp.pii_blockd","org_id":"o","project_id":"p","details":{}}"#.to_owned(),
            "`event_type`",
        ),
        (
            format!(r#"{{{BASE},"severity":"urgent","details":{{}}}}"#),
            "`severity`",
        ),
        (
            format!(r#"{{{BASE},"timestamp":"yesterday","details":{{}}}}"#),
            "`timestamp`",
        ),
        (
            format!(r#"{{{BASE},"event_id":"42","details":{{}}}}"#),
            "`event_id`",
        ),
        (
            r#"{"event_type":"siem.test","org_id":"o","project_id":"p","details":{"message":"my prompt text"}}"#.to_owned(),
            "`details.message`",
        ),
    ];
    for (json, path) in cases {
        let e = error_of(&json);
        assert!(e.starts_with(path), "expected {path} in: {e}");
    }
}

#[test]
fn malformed_json_and_missing_fields_are_errors() {
    assert!(error_of("{").contains("EOF"));
    assert!(error_of(r#"{"org_id":"o"}"#).contains("missing field"));
    assert!(
        error_of(r#"{"event_type":"siem.test","org_id":"o","project_id":"p"}"#)
            .contains("missing field `details`")
    );
    let array = error_of(r#"[]"#);
    assert!(array.contains("expected struct"), "{array}");
    let trailing = error_of(&format!(
        r#"{{{BASE},"details":{{"scope":"user","limit_usd":1,"spent_usd":2,"period":"daily"}}}} x"#
    ));
    assert!(trailing.contains("trailing"), "{trailing}");
}

#[test]
fn custom_event_types_carry_bounded_metadata_only() {
    let event = SecurityEvent::from_json(
        r#"{"event_type":"acme.model_swap","org_id":"o","project_id":"p",
            "details":{"from":"gpt-4.1","to":"gpt-4.1-mini","count":3,"ratio":0.5,"forced":true,"tags":["a","b"]}}"#,
    )
    .unwrap();
    assert!(event.event_type().is_custom());
    assert_eq!(event.severity(), Severity::Medium);
    let back: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap();
    assert_eq!(back["details"]["count"], 3);
    assert_eq!(back["details"]["tags"][1], "b");
    // Nested objects and long text are not metadata.
    let nested = error_of(
        r#"{"event_type":"acme.x","org_id":"o","project_id":"p","details":{"obj":{"a":1}}}"#,
    );
    assert!(nested.starts_with("`details"), "{nested}");
    let long = format!(
        r#"{{"event_type":"acme.x","org_id":"o","project_id":"p","details":{{"text":"{}"}}}}"#,
        "word ".repeat(60)
    );
    assert!(SecurityEvent::from_json(&long).is_err());
    let bad_key = error_of(
        r#"{"event_type":"acme.x","org_id":"o","project_id":"p","details":{"Bad Key":1}}"#,
    );
    assert!(bad_key.contains("field names"), "{bad_key}");
}
