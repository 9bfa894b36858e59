//! Pinned Logs Ingestion API bodies: every fixture event with the default options, and the
//! option variants on the whole fixture batch. Review changes with `cargo xtask snapshot`.

mod common;

use std::sync::Arc;

use common::*;
use siem_core::{SecurityEvent, Severity};
use siem_http::testing::render_requests;
use siem_sentinel::{encode, SentinelConfig, SentinelOptions};

fn snap(options: &SentinelOptions, events: &[Arc<SecurityEvent>]) -> String {
    render_requests(options.url().as_str(), &encode(events, options))
}

fn opts(f: impl FnOnce(&mut SentinelConfig)) -> SentinelOptions {
    let mut c = config();
    f(&mut c);
    c.sink_options().unwrap()
}

#[test]
fn snapshot_each_fixture_event() {
    let options = opts(|_| {});
    insta::glob!("../../../fixtures", "events/*.json", |path| {
        insta::assert_snapshot!(snap(&options, &[load_event(path)]));
    });
}

#[test]
fn snapshot_all_fixtures_in_one_request() {
    insta::assert_snapshot!(snap(&opts(|_| {}), &fixture_events()));
}

#[test]
fn snapshot_gzip_off() {
    insta::assert_snapshot!(snap(&opts(|c| c.gzip = false), &fixture_events()));
}

#[test]
fn snapshot_other_stream() {
    let options = opts(|c| c.stream = "Custom-SecOpsAiEvents_2".into());
    insta::assert_snapshot!(snap(&options, &fixture_events()[..1]));
}

/// One event of every type (including `siem.test` → `Informational` and events without a
/// request id), plus a severity override to `low` → `Low`.
#[test]
fn snapshot_sample_events_and_severity_override() {
    let mut events = sample_events();
    let low = (*events[0]).clone().with_severity(Severity::Low);
    events.push(Arc::new(low));
    let mut text = snap(&opts(|c| c.gzip = false), &events);
    // Sample events get random ids by design: the only redaction.
    for event in &events {
        text = text.replace(&event.event_id().to_string(), "[random event id]");
    }
    insta::assert_snapshot!(text);
}
