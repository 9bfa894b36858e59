//! Shared helpers: a reqwest client trusting an emulator's CA, gzip, and the platforms'
//! wire forms of our events written by hand from SPEC §4 (not from adapter code).
#![allow(dead_code)]

use std::io::Write as _;
use std::time::Duration;

use serde_json::{json, Value};
use siem_core::{SecurityEvent, Severity};

pub fn client(ca_pem: &str) -> reqwest::Client {
    client_with_timeout(ca_pem, None)
}

pub fn client_with_timeout(ca_pem: &str, timeout: Option<Duration>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none());
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.build().unwrap()
}

pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

pub fn events() -> Vec<SecurityEvent> {
    siem_core::testing::sample_events()
}

fn canonical(event: &SecurityEvent) -> serde_json::Map<String, Value> {
    match serde_json::to_value(event).unwrap() {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

pub fn splunk_severity_id(s: Severity) -> u8 {
    match s {
        Severity::Info => 2,
        Severity::Low => 3,
        Severity::Medium => 4,
        Severity::High => 5,
        Severity::Critical => 6,
    }
}

pub fn splunk_envelope(event: &SecurityEvent) -> Value {
    let mut inner = canonical(event);
    inner.insert(
        "severity_id".into(),
        json!(splunk_severity_id(event.severity())),
    );
    json!({
        "event": inner,
        "time": event.timestamp().unix_millis() as f64 / 1000.0,
        "sourcetype": "aisg:security",
        "source": "aisg",
        "host": "gw-1",
        "index": "main",
    })
}

/// Envelopes concatenated, newline-separated.
pub fn splunk_body(events: &[SecurityEvent]) -> String {
    events
        .iter()
        .map(|e| splunk_envelope(e).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn datadog_item(event: &SecurityEvent) -> Value {
    let status = match event.severity() {
        Severity::Critical => "emergency",
        Severity::High => "alert",
        Severity::Medium => "warn",
        Severity::Low => "notice",
        Severity::Info => "info",
    };
    let mut item = canonical(event);
    let project = event.project_id().as_str();
    let ty = event.event_type().as_str();
    item.insert("ddsource".into(), json!("aisg"));
    item.insert(
        "ddtags".into(),
        json!(format!(
            "env:test,service:{project},event_type:{ty},org:{}",
            event.org_id().as_str()
        )),
    );
    item.insert("hostname".into(), json!("gw-1"));
    item.insert("message".into(), json!(ty));
    item.insert("service".into(), json!(project));
    item.insert("status".into(), json!(status));
    Value::Object(item)
}

pub fn datadog_body(events: &[SecurityEvent]) -> String {
    Value::Array(events.iter().map(datadog_item).collect()).to_string()
}

pub fn sentinel_record(event: &SecurityEvent) -> Value {
    let severity = match event.severity() {
        Severity::Critical | Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Informational",
    };
    let mut record = json!({
        "TimeGenerated": event.timestamp().to_string(),
        "EventId": event.event_id().to_string(),
        "EventType": event.event_type().as_str(),
        "Severity": severity,
        "OrgId": event.org_id().as_str(),
        "ProjectId": event.project_id().as_str(),
        "Source": event.source().as_str(),
        "Details": serde_json::to_value(event.details()).unwrap(),
    });
    if let Some(request_id) = event.request_id() {
        record["RequestId"] = json!(request_id.as_str());
    }
    record
}

pub fn sentinel_body(events: &[SecurityEvent]) -> String {
    Value::Array(events.iter().map(sentinel_record).collect()).to_string()
}

/// `emulator`, and a client trusting its CA (`ca_pem` of it).
pub fn with_client<E>(emulator: E, ca_pem: impl Fn(&E) -> &str) -> (E, reqwest::Client) {
    let client = client(ca_pem(&emulator));
    (emulator, client)
}

/// Sends `request`, with the header `name: value` when there is a value; the answer's
/// status and JSON body.
pub async fn send_json_with(
    request: reqwest::RequestBuilder,
    name: &str,
    value: Option<&str>,
) -> (u16, Value) {
    match value {
        Some(value) => send_json(request.header(name, value)).await,
        None => send_json(request).await,
    }
}

/// Sends `request`; the answer's status.
pub async fn send_status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

/// Sends `request`; the answer's status and JSON body (see [`json_of`]).
pub async fn send_json(request: reqwest::RequestBuilder) -> (u16, Value) {
    json_of(request.send().await.unwrap()).await
}

/// The status and JSON body (`null` when empty) of `response`.
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, value)
}
