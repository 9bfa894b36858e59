//! Bounded queues: drops are counted exactly and memory stays bounded.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::{MemorySink, Step};
use siem_dispatch::{BatchPolicy, BufferPolicy, Dispatcher, EmitOutcome, OrgConfig, SinkConfig};

#[tokio::test(start_paused = true)]
async fn drops_are_counted_exactly_and_held_events_stay_bounded() {
    let hung = Arc::new(MemorySink::new("hung"));
    hung.set_fallback(Step::Hang);
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        SinkConfig::new(hung.clone())
            .buffer(BufferPolicy::memory().max_events(100))
            .batch(BatchPolicy::default().max_events(10))
            .concurrency(2),
    )])
    .unwrap();
    // One shared event emitted many times: its strong count is the number of copies the
    // dispatcher holds, queue and in-flight batches included.
    let event = Arc::new(common::events("org_a", 1).remove(0));
    let mut dropped = 0u64;
    for round in 0..100 {
        for _ in 0..1000 {
            match d.emit_arc(event.clone()) {
                EmitOutcome::Queued { sinks: 1 } => {}
                EmitOutcome::Dropped {
                    queued: 0,
                    dropped: 1,
                } => dropped += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(10 * round)).await;
        let held = Arc::strong_count(&event) - 1;
        assert!(held <= 100 + 2 * 10, "dispatcher holds {held} events");
    }
    let stats = d.stats();
    let s = stats.sink("org_a", "hung").unwrap();
    assert_eq!(s.counts.dropped, dropped);
    assert_eq!(s.counts.queued + s.counts.dropped, 100_000);
    let report = d.shutdown(Duration::from_secs(1)).await;
    let s = report.stats.sink("org_a", "hung").unwrap();
    assert_eq!(s.counts.queued, s.counts.failed);
    assert_eq!(s.counts.dropped, dropped);
    assert_eq!(
        Arc::strong_count(&event),
        1,
        "nothing leaked after shutdown"
    );
}

#[tokio::test(start_paused = true)]
async fn the_byte_bound_drops_too() {
    let hung = Arc::new(MemorySink::new("hung"));
    hung.set_fallback(Step::Hang);
    let event = Arc::new(common::events("org_a", 1).remove(0));
    let size = event.estimated_size();
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(SinkConfig::new(hung.clone()).buffer(BufferPolicy::memory().max_bytes(size * 3)))])
    .unwrap();
    let outcomes: Vec<u32> = (0..5)
        .map(|_| d.emit_arc(event.clone()).dropped_sinks())
        .collect();
    assert_eq!(outcomes, [0, 0, 0, 1, 1]);
    assert_eq!(d.stats().totals.dropped, 2);
    let _ = d.shutdown(Duration::from_millis(10)).await;
}

#[tokio::test(start_paused = true)]
async fn emit_wait_applies_backpressure_instead_of_dropping() {
    let slow = Arc::new(MemorySink::new("slow"));
    slow.set_fallback(Step::Delay(Duration::from_millis(100)));
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        SinkConfig::new(slow.clone())
            .buffer(BufferPolicy::memory().max_events(10))
            .batch(BatchPolicy::default().max_events(5)),
    )])
    .unwrap();
    for e in common::events("org_a", 200) {
        assert_eq!(d.emit_wait(e).await, EmitOutcome::Queued { sinks: 1 });
    }
    let report = d.shutdown(Duration::from_secs(60)).await;
    let c = report.stats.totals;
    assert_eq!((c.queued, c.delivered, c.dropped), (200, 200, 0));
    assert_eq!(slow.received().len(), 200);
}

#[tokio::test(start_paused = true)]
async fn emit_wait_all_waits_on_every_matching_sink_and_reports_each_event() {
    // Two sinks of one org (the first gets clones, the last the event itself) and events
    // of an unknown org in between: nothing is dropped, every outcome is reported in order.
    let slow = Arc::new(MemorySink::new("slow"));
    slow.set_fallback(Step::Delay(Duration::from_millis(100)));
    let fast = Arc::new(MemorySink::new("fast"));
    let small = || BufferPolicy::memory().max_events(10);
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(
            SinkConfig::new(slow.clone())
                .buffer(small())
                .batch(BatchPolicy::default().max_events(5)),
        )
        .sink(SinkConfig::new(fast.clone()).buffer(small()))])
    .unwrap();
    let events = common::events("org_a", 100)
        .into_iter()
        .zip(common::events("org_unknown", 100))
        .flat_map(|(a, b)| [a, b])
        .map(Arc::new);
    let mut outcomes = Vec::new();
    d.emit_wait_all(events, |o| outcomes.push(o)).await;
    let expected: Vec<_> = [EmitOutcome::Queued { sinks: 2 }, EmitOutcome::NoMatch]
        .into_iter()
        .cycle()
        .take(200)
        .collect();
    assert_eq!(outcomes, expected);
    let report = d.shutdown(Duration::from_secs(60)).await;
    let c = report.stats.totals;
    assert_eq!((c.queued, c.delivered, c.dropped), (200, 200, 0));
    assert_eq!((slow.received().len(), fast.received().len()), (100, 100));
}
