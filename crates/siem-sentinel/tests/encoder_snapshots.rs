//! Snapshots of the requests the encoder produces: URL, content headers and the exact
//! (decompressed) body, for every fixture event and the main option variants.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use common::*;
use siem_core::{Endpoint, Secret, SecurityEvent, Severity, SiemSink, StaticCredential};
use siem_sentinel::sink::content_headers;
use siem_sentinel::{SentinelOptions, SentinelSink};

const DCE: &str = "https://aisg-dce-x1y2.westeurope-1.ingest.monitor.azure.com";

fn sink(
    builder: impl FnOnce(siem_sentinel::SentinelOptionsBuilder) -> siem_sentinel::SentinelOptionsBuilder,
) -> SentinelSink {
    let options = builder(SentinelOptions::builder(Endpoint::parse(DCE).unwrap(), DCR))
        .build()
        .unwrap();
    let token = Arc::new(StaticCredential::new(Secret::new("unused")));
    SentinelSink::new("snapshot", options, token).unwrap()
}

/// Renders every request as it would go on the wire (Authorization elided; bodies
/// decompressed), plus any rejections.
fn render(sink: &SentinelSink, events: &[Arc<SecurityEvent>]) -> String {
    let encoded = sink.encode(events);
    let mut out = String::new();
    for (i, request) in encoded.requests.iter().enumerate() {
        writeln!(out, "# request {} of {}", i + 1, encoded.requests.len()).unwrap();
        writeln!(out, "POST {}", sink.url()).unwrap();
        writeln!(out, "authorization: Bearer <token>").unwrap();
        for (name, value) in content_headers(request) {
            writeln!(out, "{name}: {}", value.to_str().unwrap()).unwrap();
        }
        let body = if request.gzip {
            gunzip(&request.body)
        } else {
            request.body.to_vec()
        };
        assert_eq!(body.len(), request.uncompressed_len);
        writeln!(
            out,
            "# {} event(s), {} bytes uncompressed",
            request.events.len(),
            request.uncompressed_len
        )
        .unwrap();
        writeln!(out).unwrap();
        writeln!(out, "{}", String::from_utf8(body).unwrap()).unwrap();
    }
    for r in &encoded.rejected {
        writeln!(out, "# rejected: {}", r.reason).unwrap();
    }
    out
}

#[test]
fn snapshot_each_fixture_event() {
    let sink = sink(|b| b);
    insta::glob!("../../../fixtures", "events/*.json", |path| {
        insta::assert_snapshot!(render(&sink, &[load_event(path)]));
    });
}

#[test]
fn snapshot_all_fixtures_in_one_request() {
    insta::assert_snapshot!(render(&sink(|b| b), &fixture_events()));
}

#[test]
fn snapshot_gzip_off() {
    insta::assert_snapshot!(render(&sink(|b| b.gzip(false)), &fixture_events()));
}

#[test]
fn snapshot_other_stream() {
    let sink = sink(|b| b.stream("Custom-SecOpsAiEvents_2"));
    insta::assert_snapshot!(render(&sink, &fixture_events()[..1]));
}

/// One event of every type (including `siem.test` → `Informational` and events without a
/// request id), plus a severity override to `low` → `Low`.
#[test]
fn snapshot_sample_events_and_severity_override() {
    let mut events = sample_events();
    let low = (*events[0]).clone().with_severity(Severity::Low);
    events.push(Arc::new(low));
    let mut text = render(&sink(|b| b.gzip(false)), &events);
    // Sample events get random ids by design: the only redaction.
    for event in &events {
        text = text.replace(&event.event_id().to_string(), "[random event id]");
    }
    insta::assert_snapshot!(text);
}
