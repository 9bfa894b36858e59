//! "Send test event": straight to one sink, outcome and latency, not through the queue.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{permanent, Act, ScriptSink};
use siem_core::testing::{MemorySink, Step};
use siem_core::{EventFilter, EventType};
use siem_dispatch::{Dispatcher, OrgConfig, RetryPolicy, SinkConfig, TestEventError, TestOutcome};

#[tokio::test(start_paused = true)]
async fn a_test_event_reports_delivery_and_latency() {
    let sink = Arc::new(MemorySink::new("splunk"));
    sink.script([Step::Delay(Duration::from_millis(42))]);
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        // Not subscribed to siem.test: the test event bypasses filters and queues.
        SinkConfig::new(sink.clone()).filter(EventFilter::parse(["loop.detected"]).unwrap()),
    )])
    .unwrap();
    let r = d.send_test_event("org_a", "splunk").await.unwrap();
    assert!(r.is_delivered());
    assert_eq!(r.outcome, TestOutcome::Delivered { status: 200 });
    assert_eq!(r.latency, Duration::from_millis(42));
    assert_eq!(
        (r.org_id.as_str(), r.sink.as_str(), r.platform),
        ("org_a", "splunk", "memory")
    );
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type(), &EventType::SiemTest);
    assert_eq!(got[0].org_id().as_str(), "org_a");
    assert_eq!(d.stats().totals.queued, 0, "not counted in the stats");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["outcome"]["delivered"], true);
    assert_eq!(json["latency_ms"], 42.0);
    let _ = d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_test_event_carries_the_exact_error() {
    let sink = ScriptSink::new("dd", |_, _| Act::Err(permanent()));
    let hung = ScriptSink::new("hung", |_, _| Act::Hang);
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(SinkConfig::new(sink))
        .sink(
            SinkConfig::new(hung)
                .retry(RetryPolicy::recommended().attempt_timeout(Duration::from_secs(3))),
        )])
    .unwrap();
    let r = d.send_test_event("org_a", "dd").await.unwrap();
    assert_eq!(r.outcome, TestOutcome::Failed(permanent()));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["outcome"]["status"], 400);
    assert_eq!(json["outcome"]["error"]["message"], "invalid data format");
    assert_eq!(json["outcome"]["error"]["code"], "6");

    let r = d.send_test_event("org_a", "hung").await.unwrap();
    assert_eq!(r.latency, Duration::from_secs(3));
    match r.outcome {
        TestOutcome::Failed(e) => assert!(e.to_string().contains("3000 ms"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        d.send_test_event("org_x", "dd").await.unwrap_err(),
        TestEventError::UnknownOrg("org_x".into())
    );
    assert!(matches!(
        d.send_test_event("org_a", "nope").await.unwrap_err(),
        TestEventError::UnknownSink { .. }
    ));
    let _ = d.shutdown(Duration::from_secs(1)).await;
}
