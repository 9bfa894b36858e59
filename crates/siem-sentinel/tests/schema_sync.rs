//! Keeps `schema/table.json` and `schema/dcr.json` in sync with the encoder: the shipped
//! table, the table in the DCR template and the DCR's stream declaration must all declare
//! exactly `encoder::COLUMNS`, and every record the encoder writes must use exactly those
//! columns (in that order) with JSON values of the declared types.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use serde_json::Value;
use siem_core::{SecurityEvent, Timestamp};
use siem_sentinel::config::{DEFAULT_STREAM, DEFAULT_TABLE};
use siem_sentinel::encoder::{self, COLUMNS, OPTIONAL_COLUMNS};

fn schema_file(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn columns(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("columns is an array")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expected() -> Vec<(String, String)> {
    COLUMNS
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn table_json_declares_the_encoder_columns() {
    let table = schema_file("table.json");
    let schema = &table["properties"]["schema"];
    assert_eq!(schema["name"], DEFAULT_TABLE);
    assert_eq!(columns(&schema["columns"]), expected());
}

#[test]
fn dcr_template_declares_the_stream_table_and_flow() {
    let dcr = schema_file("dcr.json");
    let resources = dcr["resources"].as_array().unwrap();
    let of_type = |t: &str| {
        resources
            .iter()
            .find(|r| r["type"] == t)
            .unwrap_or_else(|| panic!("no {t} resource"))
    };

    let table = of_type("Microsoft.OperationalInsights/workspaces/tables");
    assert_eq!(table["properties"]["schema"]["name"], DEFAULT_TABLE);
    assert_eq!(
        columns(&table["properties"]["schema"]["columns"]),
        expected()
    );

    let rule = &of_type("Microsoft.Insights/dataCollectionRules")["properties"];
    let declarations = rule["streamDeclarations"].as_object().unwrap();
    assert_eq!(declarations.keys().collect::<Vec<_>>(), [DEFAULT_STREAM]);
    assert_eq!(
        columns(&declarations[DEFAULT_STREAM]["columns"]),
        expected()
    );

    let flows = rule["dataFlows"].as_array().unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0]["streams"], serde_json::json!([DEFAULT_STREAM]));
    assert_eq!(flows[0]["transformKql"], "source");
    assert_eq!(flows[0]["outputStream"], format!("Custom-{DEFAULT_TABLE}"));
    let destination = flows[0]["destinations"][0].as_str().unwrap();
    let declared = rule["destinations"]["logAnalytics"][0]["name"]
        .as_str()
        .unwrap();
    assert_eq!(destination, declared);
}

/// A custom event type with every kind of metadata value, so `Details` of all shapes are
/// checked, and an identifier that needs JSON escaping.
fn custom_event() -> Arc<SecurityEvent> {
    let json = serde_json::json!({
        "event_type": "acme.model_swap",
        "org_id": "org \"quoted\" \\ ü",
        "project_id": "proj",
        "request_id": "req",
        "source": "aisg-eu",
        "timestamp": "2026-06-08T20:15:30.001Z",
        "details": {"flag": true, "count": 3, "ratio": 0.5, "kind": "x", "labels": ["a", "b"]}
    });
    Arc::new(SecurityEvent::from_json(&json.to_string()).unwrap())
}

fn check_value(column: &str, kind: &str, value: &Value) {
    match kind {
        "datetime" => {
            let text = value
                .as_str()
                .unwrap_or_else(|| panic!("{column}: {value}"));
            let parsed: Timestamp = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text, "{column} is RFC 3339 UTC");
        }
        "string" => assert!(value.is_string(), "{column}: {value}"),
        "dynamic" => assert!(value.is_object(), "{column}: {value}"),
        other => panic!("column {column} has a type the check does not know: {other}"),
    }
}

#[test]
fn encoded_records_use_exactly_the_columns_with_their_types() {
    let mut events = fixture_events();
    events.extend(sample_events());
    events.push(custom_event());
    for gzip in [false, true] {
        let encoded = encoder::encode(&events, gzip);
        assert!(encoded.rejected.is_empty());
        let mut seen = 0;
        for request in &encoded.requests {
            let body = if gzip {
                gunzip(&request.body)
            } else {
                request.body.to_vec()
            };
            let records: Vec<serde_json::Map<String, Value>> =
                serde_json::from_slice(&body).unwrap();
            for (record, event) in records.iter().zip(&request.events) {
                let expected_keys: Vec<&str> = COLUMNS
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| !(OPTIONAL_COLUMNS.contains(n) && event.request_id().is_none()))
                    .collect();
                let mut keys: Vec<&str> = record.keys().map(String::as_str).collect();
                let mut sorted_expected = expected_keys.clone();
                keys.sort_unstable();
                sorted_expected.sort_unstable();
                assert_eq!(keys, sorted_expected, "{record:?}");
                for (name, kind) in COLUMNS {
                    if let Some(value) = record.get(*name) {
                        check_value(name, kind, value);
                    }
                }
                seen += 1;
            }
        }
        assert_eq!(seen, events.len());
    }
}

#[test]
fn records_write_columns_in_declared_order() {
    let encoded = encoder::encode(&[custom_event()], false);
    let body = std::str::from_utf8(&encoded.requests[0].body).unwrap();
    let positions: Vec<usize> = COLUMNS
        .iter()
        .map(|(n, _)| body.find(&format!("\"{n}\":")).unwrap())
        .collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(positions, sorted, "{body}");
    let record: Value = serde_json::from_str(body).unwrap();
    assert_eq!(record[0]["OrgId"], "org \"quoted\" \\ ü");
    assert_eq!(
        record[0]["Details"]["labels"],
        serde_json::json!(["a", "b"])
    );
}
