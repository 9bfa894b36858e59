//! Every encoder against serde's view of the event: arbitrary valid events go through the
//! three encoders, and what each platform would parse from the body (the JSON values at
//! the platform's field names) equals what `serde_json` makes of the event. A details
//! field the writer forgot, or a string it escaped differently, fails here.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::Value;
use siem_core::testing::strategies::arb_event;
use siem_core::{Endpoint, SecurityEvent};
use siem_http::Adapter;

/// The body of the single request `encoded` holds, as JSON values, one per event.
fn parsed(options: &impl Adapter, event: &Arc<SecurityEvent>) -> Vec<Value> {
    let encoded = options.encode(std::slice::from_ref(event));
    assert!(encoded.rejected.is_empty());
    assert_eq!(encoded.requests.len(), 1);
    let body = &encoded.requests[0].body;
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        // HEC: one envelope per line.
        _ => body
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).expect("a JSON envelope"))
            .collect(),
    }
}

fn options() -> (
    siem_splunk::SplunkOptions,
    siem_datadog::DatadogOptions,
    siem_sentinel::SentinelOptions,
) {
    let endpoint = |url: &str| Endpoint::parse(url).unwrap();
    let splunk = siem_splunk::SplunkConfig {
        gzip: false,
        ..siem_splunk::SplunkConfig::new(endpoint("https://hec.example"))
    };
    let datadog = siem_datadog::DatadogConfig {
        gzip: false,
        ..Default::default()
    };
    let sentinel = siem_sentinel::SentinelConfig {
        gzip: false,
        ..siem_sentinel::SentinelConfig::new(
            endpoint("https://dce.example"),
            "dcr-00112233445566778899aabbccddeeff",
        )
    };
    (
        splunk.sink_options().unwrap(),
        datadog.sink_options().unwrap(),
        sentinel.sink_options().unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_encoder_writes_what_serde_sees(event in arb_event()) {
        let (splunk, datadog, sentinel) = options();
        let event = Arc::new(event);
        let canonical = serde_json::to_value(&*event).unwrap();
        let field = |name: &str| canonical.get(name).cloned().unwrap_or(Value::Null);

        // Splunk: the canonical fields inside the envelope's `event`.
        let envelope = &parsed(&splunk, &event)[0];
        for name in ["event_id", "event_type", "org_id", "project_id", "request_id",
                     "severity", "source", "timestamp", "details"] {
            let got = envelope["event"].get(name).cloned().unwrap_or(Value::Null);
            prop_assert_eq!(&got, &field(name), "splunk {}", name);
        }

        // Datadog: the canonical fields at the item's top level.
        let item = &parsed(&datadog, &event)[0];
        for name in ["event_id", "event_type", "org_id", "project_id", "request_id",
                     "severity", "timestamp", "details"] {
            let got = item.get(name).cloned().unwrap_or(Value::Null);
            prop_assert_eq!(&got, &field(name), "datadog {}", name);
        }

        // Sentinel: the table's columns.
        let record = &parsed(&sentinel, &event)[0];
        for (column, name) in [("EventId", "event_id"), ("EventType", "event_type"),
                               ("OrgId", "org_id"), ("ProjectId", "project_id"),
                               ("RequestId", "request_id"), ("Source", "source"),
                               ("TimeGenerated", "timestamp"), ("Details", "details")] {
            let got = record.get(column).cloned().unwrap_or(Value::Null);
            prop_assert_eq!(&got, &field(name), "sentinel {}", column);
        }
    }
}
