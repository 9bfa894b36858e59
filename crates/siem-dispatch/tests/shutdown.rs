//! Flush and shutdown: queued events are delivered within the deadline, the rest is
//! reported and counted as failed; dropping the handle is a bounded shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::{MemorySink, Step};
use siem_dispatch::{BatchPolicy, Dispatcher, EmitOutcome, OrgConfig, SinkConfig, Undelivered};
use tokio::time::Instant;

fn lingering() -> BatchPolicy {
    BatchPolicy::default().linger(Duration::from_secs(60))
}

/// A memory sink of `org_a` batching with a long linger, and a dispatcher with `n` events
/// queued for it.
fn lingering_sink_with(n: usize) -> (Arc<MemorySink>, Dispatcher) {
    let sink = Arc::new(MemorySink::new("s"));
    let d = common::start_org_a(SinkConfig::new(sink.clone()).batch(lingering()), n);
    (sink, d)
}

#[tokio::test(start_paused = true)]
async fn shutdown_delivers_queued_events_without_waiting_for_linger() {
    let (sink, d) = lingering_sink_with(1234);
    let start = Instant::now();
    let report = d.shutdown(Duration::from_secs(10)).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "did not wait for linger"
    );
    assert!(report.complete);
    assert!(report.undelivered.is_empty());
    assert_eq!(sink.received().len(), 1234);
    let c = report.stats.totals;
    assert_eq!(
        (c.queued, c.delivered, c.failed, c.pending),
        (1234, 1234, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn what_cannot_be_delivered_by_the_deadline_is_reported_as_failed() {
    let slow = Arc::new(MemorySink::new("slow"));
    // Each request takes 1 s; 5 requests of 100 events; the deadline allows 2.
    slow.set_fallback(Step::Delay(Duration::from_secs(1)));
    let fast = Arc::new(MemorySink::new("fast"));
    let batch = BatchPolicy::default().max_events(100);
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(SinkConfig::new(slow.clone()).batch(batch).concurrency(1))
        .sink(SinkConfig::new(fast.clone()).batch(batch))])
    .unwrap();
    for e in common::events("org_a", 500) {
        d.emit(e);
    }
    let start = Instant::now();
    let report = d.shutdown(Duration::from_millis(2500)).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(!report.complete);
    assert_eq!(
        report.undelivered,
        [Undelivered {
            org_id: "org_a".into(),
            sink: "slow".into(),
            events: 300
        }]
    );
    let s = report.stats.sink("org_a", "slow").unwrap();
    assert_eq!(
        (s.counts.delivered, s.counts.failed, s.counts.pending),
        (200, 300, 0)
    );
    assert_eq!(s.last_error.as_ref().unwrap().kind, "shutdown");
    assert_eq!(fast.received().len(), 500);
    assert_eq!(
        d.emit(common::events("org_a", 1).remove(0)),
        EmitOutcome::Closed
    );
    // A second call reports the same.
    assert_eq!(d.shutdown(Duration::ZERO).await.undelivered.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn flush_sends_what_is_queued_and_keeps_running() {
    let (sink, d) = lingering_sink_with(30);
    let start = Instant::now();
    let report = d.flush(Duration::from_secs(5)).await;
    assert!(report.complete && report.pending.is_empty());
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(sink.received().len(), 30);
    // Still taking events after a flush.
    assert_eq!(
        d.emit(common::events("org_a", 1).remove(0)),
        EmitOutcome::Queued { sinks: 1 }
    );
    let hung = Arc::new(MemorySink::new("hung"));
    hung.set_fallback(Step::Hang);
    d.set_org(OrgConfig::new("org_b").unwrap().sink(SinkConfig::new(hung)))
        .unwrap();
    for e in common::events("org_b", 7) {
        d.emit(e);
    }
    let report = d.flush(Duration::from_secs(2)).await;
    assert!(!report.complete);
    assert_eq!(report.pending.len(), 1);
    assert_eq!(
        (report.pending[0].sink.as_str(), report.pending[0].events),
        ("hung", 7)
    );
    let _ = d.shutdown(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_delivers_then_gives_up_at_the_drop_timeout() {
    let sink = Arc::new(MemorySink::new("s"));
    let hung = Arc::new(MemorySink::new("hung"));
    hung.set_fallback(Step::Hang);
    let d = Dispatcher::builder()
        .org(
            OrgConfig::new("org_a")
                .unwrap()
                .sink(SinkConfig::new(sink.clone()).batch(lingering()))
                .sink(SinkConfig::new(hung.clone())),
        )
        .drop_timeout(Duration::from_secs(3))
        .start()
        .unwrap();
    let emitter = d.emitter();
    for e in common::events("org_a", 40) {
        emitter.emit(e);
    }
    drop(d);
    assert_eq!(
        emitter.emit(common::events("org_a", 1).remove(0)),
        EmitOutcome::Closed
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sink.received().len(),
        40,
        "delivered without waiting for linger"
    );
    drop(emitter);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        Arc::strong_count(&hung),
        2,
        "still trying before the drop timeout"
    );
    // The hung sink's worker gives up at the drop timeout and exits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        Arc::strong_count(&hung),
        1,
        "the hung sink's worker has exited"
    );
}
