//! Pinned Logs API v2 bodies: every fixture event with the default options, and the
//! option variants on the whole fixture batch. Review changes with `cargo xtask snapshot`.

mod common;

use std::sync::Arc;

use siem_core::{Endpoint, SecurityEvent};
use siem_datadog::{encode, DatadogConfig, DatadogOptions};

use common::{fixture_events, load_event, opts, render_requests};

fn snap(options: &DatadogOptions, events: &[Arc<SecurityEvent>]) -> String {
    render_requests(options.url().as_str(), &encode(events, options))
}

#[test]
fn snapshot_each_fixture_event_default_options() {
    let options = DatadogConfig::default().sink_options().unwrap();
    insta::glob!("../../../fixtures/events", "*.json", |path| {
        insta::assert_snapshot!(snap(&options, &[load_event(path)]));
    });
}

#[test]
fn snapshot_each_fixture_event_with_env_and_hostname() {
    let options = opts(|_| {});
    insta::glob!("../../../fixtures/events", "*.json", |path| {
        insta::assert_snapshot!(snap(&options, &[load_event(path)]));
    });
}

#[test]
fn snapshot_option_variants_on_all_fixtures() {
    let events = fixture_events();
    let variants = [
        ("defaults", DatadogConfig::default().sink_options().unwrap()),
        ("env_and_hostname", opts(|_| {})),
        (
            "extra_tags",
            opts(|c| {
                c.tags = ["team:security", "region:eu-west-1", "compliance"]
                    .map(String::from)
                    .to_vec();
            }),
        ),
        ("site_eu", opts(|c| c.site = "datadoghq.eu".into())),
        ("site_us5", opts(|c| c.site = "us5.datadoghq.com".into())),
        ("site_gov", opts(|c| c.site = "ddog-gov.com".into())),
        (
            "explicit_endpoint",
            opts(|c| {
                c.endpoint =
                    Some(Endpoint::parse("https://dd-proxy.internal:8443/datadog").unwrap());
            }),
        ),
        ("gzip_off", opts(|c| c.gzip = false)),
        ("split_at_2_items", opts(|c| c.max_items_per_request = 2)),
        ("split_at_1100_bytes", opts(|c| c.max_body_bytes = 1100)),
        ("everything_too_large", opts(|c| c.max_item_bytes = 300)),
    ];
    for (name, options) in variants {
        insta::assert_snapshot!(format!("variant_{name}"), snap(&options, &events));
    }
}

#[test]
fn snapshot_identifiers_needing_json_escapes() {
    let event = siem_core::testing::event_needing_escapes("org \"quoted\", inc");
    insta::assert_snapshot!(snap(&opts(|c| c.gzip = false), &[event]));
}
