//! Pinned Logs API v2 bodies: every fixture event with the default options, and the
//! option variants on the whole fixture batch. Review changes with `cargo xtask snapshot`.

mod common;

use std::sync::Arc;

use siem_core::{Endpoint, SecurityEvent};
use siem_datadog::{encode, DatadogOptions, DatadogOptionsBuilder};

use common::{fixture_events, load_event, render_requests};

fn snap(options: &DatadogOptions, events: &[Arc<SecurityEvent>]) -> String {
    render_requests(options.intake_url().as_str(), &encode(events, options))
}

fn production() -> DatadogOptionsBuilder {
    DatadogOptions::builder()
        .env("production")
        .hostname("aisg-proxy")
}

#[test]
fn snapshot_each_fixture_event_default_options() {
    let options = DatadogOptions::builder().build().unwrap();
    insta::glob!("../../../fixtures/events", "*.json", |path| {
        insta::assert_snapshot!(snap(&options, &[load_event(path)]));
    });
}

#[test]
fn snapshot_each_fixture_event_with_env_and_hostname() {
    let options = production().build().unwrap();
    insta::glob!("../../../fixtures/events", "*.json", |path| {
        insta::assert_snapshot!(snap(&options, &[load_event(path)]));
    });
}

#[test]
fn snapshot_option_variants_on_all_fixtures() {
    let events = fixture_events();
    let variants = [
        ("defaults", DatadogOptions::builder()),
        ("env_and_hostname", production()),
        (
            "extra_tags",
            production().tags(["team:security", "region:eu-west-1", "compliance"]),
        ),
        ("site_eu", production().site("datadoghq.eu")),
        ("site_us5", production().site("us5.datadoghq.com")),
        ("site_gov", production().site("ddog-gov.com")),
        (
            "explicit_endpoint",
            production()
                .endpoint(Endpoint::parse("https://dd-proxy.internal:8443/datadog").unwrap()),
        ),
        ("gzip_off", production().gzip(false)),
        ("split_at_2_items", production().max_items_per_request(2)),
        ("split_at_1100_bytes", production().max_body_bytes(1100)),
        ("everything_too_large", production().max_item_bytes(300)),
    ];
    for (name, b) in variants {
        let options = b.build().unwrap();
        insta::assert_snapshot!(format!("variant_{name}"), snap(&options, &events));
    }
}

#[test]
fn snapshot_identifiers_needing_json_escapes() {
    let event = SecurityEvent::from_json(
        r#"{"event_id":"00000000-0000-4000-8000-000000000001","event_type":"loop.detected",
            "org_id":"org \"quoted\", inc","project_id":"proj\\back\\slash","request_id":"req/é/😀/<tag>",
            "timestamp":"2026-06-08T20:18:10.007Z",
            "details":{"iterations":3,"window_seconds":1,"action":"killed"}}"#,
    )
    .unwrap();
    let options = production().gzip(false).build().unwrap();
    insta::assert_snapshot!(snap(&options, &[Arc::new(event)]));
}
