//! Encoder behaviour: the severity mapping, splitting and rejection at the body limit, and
//! the schema kept in sync with the encoder: the shipped
//! table, the table in the DCR template and the DCR's stream declaration must all declare
//! exactly `encoder::COLUMNS`, and every record the encoder writes must use exactly those
//! columns (in that order) with JSON values of the declared types.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use serde_json::Value;
use siem_core::{EncodeError, Encoded, SecurityEvent, Severity, Timestamp};
use siem_sentinel::config::{DEFAULT_STREAM, DEFAULT_TABLE, MAX_BODY_BYTES};
use siem_sentinel::encoder::{self, encode, severity_word, COLUMNS, OPTIONAL_COLUMNS};
use siem_sentinel::SentinelConfig;

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
        let encoded = encoder::encode(&events, &options(gzip));
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
    let encoded = encoder::encode(&[custom_event()], &options(false));
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

/// [`encode`] with `gzip` and a body limit of `limit` bytes.
fn encode_with_limit(events: &[Arc<SecurityEvent>], gzip: bool, limit: usize) -> Encoded {
    let config = SentinelConfig {
        gzip,
        max_body_bytes: limit,
        ..config()
    };
    encode(events, &config.sink_options().unwrap())
}

fn sample_batch(n: usize) -> Vec<Arc<SecurityEvent>> {
    sample_events().into_iter().cycle().take(n).collect()
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
    let batch = sample_batch(50);
    let one = encode_with_limit(&batch[..1], false, MAX_BODY_BYTES);
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
    let batch = sample_batch(4);
    let whole = encode_with_limit(&batch, false, MAX_BODY_BYTES);
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
    let batch = sample_batch(6);
    // Record 1 (injection_blocked, with detector and confidence) is the largest sample.
    let sizes: Vec<usize> = batch
        .iter()
        .map(|e| {
            encode_with_limit(std::slice::from_ref(e), false, MAX_BODY_BYTES).requests[0]
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
    assert_eq!(
        (*size, *limit, *what),
        (largest, second, "a Logs Ingestion API call")
    );
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
    let batch = sample_batch(6);
    let encoded = encode(&batch, &options(false));
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
    let mut batch = sample_batch(3);
    batch.insert(1, Arc::new(huge));
    let encoded = encode(&batch, &options(true));
    assert_eq!(encoded.rejected.len(), 1);
    assert_eq!(encoded.rejected[0].event.event_id(), batch[1].event_id());
    match &encoded.rejected[0].reason {
        EncodeError::TooLarge { size, limit, .. } => {
            assert!(*size > MAX_BODY_BYTES);
            assert_eq!(*limit, MAX_BODY_BYTES);
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

#[test]
fn gzip_bodies_are_the_plain_ones_compressed_and_an_empty_batch_gives_nothing() {
    check_gzip_and_empty_batch(&options(true), &options(false));
}
