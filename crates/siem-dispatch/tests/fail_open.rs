//! Fail-open: a hung sink and a failing sink never stop `emit` or the healthy sink.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::{server_busy, MemorySink, Step};
use siem_dispatch::{
    BatchPolicy, BufferPolicy, Dispatcher, EmitOutcome, OrgConfig, RetryPolicy, SinkConfig,
};

#[tokio::test(start_paused = true)]
async fn hung_and_failing_sinks_do_not_delay_the_healthy_one() {
    let hung = Arc::new(MemorySink::new("hung"));
    hung.set_fallback(Step::Hang);
    let failing = Arc::new(MemorySink::new("failing"));
    failing.set_fallback(Step::Fail(server_busy()));
    let healthy = Arc::new(MemorySink::new("healthy"));
    let other_org = Arc::new(MemorySink::new("other"));
    let queue = BufferPolicy::memory().max_events(500);
    let batch = BatchPolicy::default()
        .max_events(50)
        .linger(Duration::from_millis(200));
    let d = Dispatcher::start([
        OrgConfig::new("org_a")
            .unwrap()
            .sink(SinkConfig::new(hung.clone()).buffer(queue).batch(batch))
            .sink(SinkConfig::new(failing.clone()).buffer(queue).batch(batch))
            .sink(SinkConfig::new(healthy.clone()).buffer(queue).batch(batch)),
        OrgConfig::new("org_b")
            .unwrap()
            .sink(SinkConfig::new(other_org.clone()).batch(batch)),
    ])
    .unwrap();

    // 40 rounds of 100 events with 1 s between them: far more than the broken sinks'
    // queues hold. emit must keep answering, the healthy sinks must keep up.
    let mut emitted = 0u64;
    for round in 0..40 {
        for e in common::events("org_a", 100) {
            let out = d.emit(e);
            assert!(out.queued_sinks() >= 1, "healthy sink refused: {out:?}");
            emitted += 1;
        }
        for e in common::events("org_b", 10) {
            assert_eq!(d.emit(e), EmitOutcome::Queued { sinks: 1 });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            healthy.received().len() as u64,
            emitted,
            "healthy sink behind after round {round}"
        );
        assert_eq!(other_org.received().len(), (round + 1) * 10);
    }
    let stats = d.stats();
    let h = stats.sink("org_a", "hung").unwrap();
    assert!(h.counts.dropped > 0, "the hung sink's queue filled up");
    assert!(h.queue_depth <= 500);
    let f = stats.sink("org_a", "failing").unwrap();
    assert!(f.counts.retried > 0);
    assert_eq!(f.last_error.as_ref().unwrap().status, Some(503));

    let report = d.shutdown(Duration::from_secs(5)).await;
    for s in &report.stats.orgs[0].sinks {
        let c = s.counts;
        assert_eq!(c.queued, c.delivered + c.failed, "{}", s.name);
        assert_eq!(c.queued + c.dropped, emitted, "{}", s.name);
    }
    assert!(failing.received().is_empty() && hung.received().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_is_contained() {
    #[derive(Debug)]
    struct Panics;
    #[siem_core::async_trait]
    impl siem_core::SiemSink for Panics {
        fn name(&self) -> &str {
            "panics"
        }
        fn platform(&self) -> &'static str {
            "test"
        }
        fn encode(&self, events: &[Arc<siem_core::SecurityEvent>]) -> siem_core::Encoded {
            MemorySink::new("x").encode(events)
        }
        async fn send(
            &self,
            _r: &siem_core::EncodedRequest,
        ) -> Result<siem_core::Ack, siem_core::DeliveryError> {
            panic!("sink bug")
        }
    }
    let ok = Arc::new(MemorySink::new("ok"));
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(SinkConfig::new(Arc::new(Panics)).retry(RetryPolicy::none()))
        .sink(SinkConfig::new(ok.clone()))])
    .unwrap();
    for e in common::events("org_a", 12) {
        d.emit(e);
    }
    let report = d.shutdown(Duration::from_secs(5)).await;
    assert!(report.complete);
    let p = report.stats.sink("org_a", "panics").unwrap();
    assert_eq!((p.counts.queued, p.counts.failed), (12, 12));
    assert_eq!(ok.received().len(), 12);
}
