//! The accounting invariant as a property: whatever the sinks do (succeed, fail
//! retryably or permanently, hang, reject credentials, call the payload too large),
//! whatever the buffer sizes and kinds (memory or disk) and circuit-breaker thresholds,
//! after shutdown every sink has `accepted = delivered + failed + dropped + buffered`
//! with nothing in flight, `buffered` is only ever what a disk buffer keeps, and
//! `delivered` is exactly what the sink acknowledged. A disk buffer's leftovers are then
//! delivered by a second dispatcher on the same data directory, each exactly once.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{permanent, rejected_credentials, retryable, too_large, Act, ScriptSink};
use proptest::prelude::*;
use siem_core::{EventFilter, EventType};
use siem_dispatch::{
    BatchPolicy, BreakerPolicy, BufferPolicy, Dispatcher, OrgConfig, RetryPolicy, SinkConfig,
};

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Ok,
    Retryable,
    RetryAfter,
    Permanent,
    Hang,
    Slow,
    TooLargeOver(usize),
    Credentials,
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        3 => Just(Behaviour::Ok),
        2 => Just(Behaviour::Retryable),
        1 => Just(Behaviour::RetryAfter),
        1 => Just(Behaviour::Permanent),
        1 => Just(Behaviour::Hang),
        1 => Just(Behaviour::Slow),
        1 => (1usize..8).prop_map(Behaviour::TooLargeOver),
        1 => Just(Behaviour::Credentials),
    ]
}

#[derive(Debug, Clone)]
struct SinkSpec {
    script: Vec<Behaviour>,
    filter: Option<Vec<usize>>,
    capacity: usize,
    max_events: usize,
    concurrency: usize,
    attempts: u32,
    breaker_failures: u32,
    disk: bool,
}

prop_compose! {
    fn sink_spec()(
        script in prop::collection::vec(behaviour(), 1..6),
        filter in prop::option::of(prop::collection::vec(0usize..5, 1..3)),
        capacity in 1usize..120,
        max_events in 1usize..40,
        concurrency in 1usize..4,
        attempts in 1u32..4,
        breaker_failures in 1u32..8,
        disk in prop::bool::weighted(0.3),
    ) -> SinkSpec {
        SinkSpec { script, filter, capacity, max_events, concurrency, attempts, breaker_failures, disk }
    }
}

fn act(b: Behaviour, events: usize) -> Act {
    match b {
        Behaviour::Ok => Act::Ok,
        Behaviour::Retryable => Act::Err(retryable(None)),
        Behaviour::RetryAfter => Act::Err(retryable(Some(Duration::from_secs(2)))),
        Behaviour::Permanent => Act::Err(permanent()),
        Behaviour::Hang => Act::Hang,
        Behaviour::Slow => Act::Delay(Duration::from_millis(700)),
        Behaviour::TooLargeOver(n) if events > n => Act::Err(too_large()),
        Behaviour::TooLargeOver(_) => Act::Ok,
        Behaviour::Credentials => Act::Err(rejected_credentials()),
    }
}

fn data_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CASE: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "siem-invariant-{}-{}",
        std::process::id(),
        CASE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn buffer(spec: &SinkSpec) -> BufferPolicy {
    if spec.disk {
        BufferPolicy::disk().max_events(spec.capacity * 4)
    } else {
        BufferPolicy::memory().max_events(spec.capacity)
    }
}

fn run_case(sinks: Vec<SinkSpec>, bursts: Vec<(usize, u64)>, deadline_ms: u64) {
    let dir = data_dir();
    let data_dir = dir.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut org = OrgConfig::new("org_p").unwrap();
        let mut handles = Vec::new();
        for (i, spec) in sinks.iter().enumerate() {
            let script = spec.script.clone();
            let sink = ScriptSink::new(&format!("s{i}"), move |n, r| {
                act(script[n % script.len()], r.events.len())
            });
            let filter = match &spec.filter {
                None => EventFilter::all(),
                Some(idx) => EventFilter::only(idx.iter().map(|&k| EventType::KNOWN[k].clone())),
            };
            org.push_sink(
                SinkConfig::new(sink.clone())
                    .filter(filter.clone())
                    .buffer(buffer(spec))
                    .breaker(BreakerPolicy::default().failures(spec.breaker_failures))
                    .batch(
                        BatchPolicy::default()
                            .max_events(spec.max_events)
                            .linger(Duration::from_millis(300)),
                    )
                    .retry(
                        RetryPolicy::recommended()
                            .max_attempts(spec.attempts)
                            .initial_backoff(Duration::from_millis(100))
                            .max_backoff(Duration::from_secs(1))
                            .max_elapsed(Duration::from_secs(5))
                            .attempt_timeout(Duration::from_secs(2)),
                    )
                    .concurrency(spec.concurrency),
            );
            handles.push((sink, filter));
        }
        let d = Dispatcher::builder()
            .org(org)
            .data_dir(&data_dir)
            .start()
            .unwrap();
        let mut matching = vec![0u64; handles.len()];
        let (mut queued_total, mut dropped_total) = (0u64, 0u64);
        for (count, pause_ms) in bursts {
            for e in common::events("org_p", count) {
                for (k, (_, f)) in handles.iter().enumerate() {
                    if f.matches(e.event_type()) {
                        matching[k] += 1;
                    }
                }
                let out = d.emit(e);
                queued_total += u64::from(out.queued_sinks());
                dropped_total += u64::from(out.dropped_sinks());
            }
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
        let report = d.shutdown(Duration::from_millis(deadline_ms)).await;
        let mut sum_queued = 0;
        let mut sum_dropped = 0;
        let mut left = Vec::new();
        for (k, (sink, _)) in handles.iter().enumerate() {
            let s = report.stats.sink("org_p", &format!("s{k}")).unwrap();
            let c = s.counts;
            assert_eq!(
                c.accepted,
                c.delivered + c.failed + c.dropped + c.buffered + c.in_flight,
                "s{k}: {c:?}"
            );
            assert_eq!(c.in_flight, 0, "s{k}: {c:?}");
            assert_eq!(c.pending, c.buffered, "s{k}: {c:?}");
            if !sinks[k].disk {
                assert_eq!(c.buffered, 0, "s{k}: a memory buffer keeps nothing: {c:?}");
            }
            assert_eq!(c.queued, c.delivered + c.failed + c.buffered, "s{k}: {c:?}");
            assert_eq!(c.queued + c.dropped, matching[k], "s{k}: {c:?}");
            assert_eq!(c.delivered, sink.received().len() as u64, "s{k}: {c:?}");
            let kept = report
                .left_in_buffer
                .iter()
                .find(|u| u.sink == format!("s{k}"))
                .map_or(0, |u| u.events);
            assert_eq!(kept, c.buffered, "s{k}");
            sum_queued += c.queued;
            sum_dropped += c.dropped;
            left.push(c.buffered);
        }
        assert_eq!(sum_queued, queued_total);
        assert_eq!(sum_dropped, dropped_total);
        let undelivered: u64 = report.undelivered.iter().map(|u| u.events).sum();
        assert!(undelivered <= report.stats.totals.failed);
        assert_eq!(
            report.complete,
            undelivered == 0 && report.left_in_buffer.is_empty()
        );
        drop(d);

        // What disk buffers kept is delivered by the next dispatcher, exactly once.
        if left.iter().all(|&n| n == 0) {
            return;
        }
        let mut org = OrgConfig::new("org_p").unwrap();
        let mut healthy = Vec::new();
        for (k, spec) in sinks.iter().enumerate() {
            let sink = ScriptSink::new(&format!("s{k}"), |_, _| Act::Ok);
            org.push_sink(SinkConfig::new(sink.clone()).buffer(buffer(spec)));
            healthy.push(sink);
        }
        let d = Dispatcher::builder()
            .org(org)
            .data_dir(&data_dir)
            .start()
            .unwrap();
        let report = d.shutdown(Duration::from_secs(60)).await;
        for (k, sink) in healthy.iter().enumerate() {
            let c = report.stats.sink("org_p", &format!("s{k}")).unwrap().counts;
            assert_eq!(c.recovered, left[k], "s{k}: {c:?}");
            assert_eq!(c.delivered, left[k], "s{k}: {c:?}");
            assert_eq!(sink.received().len() as u64, left[k], "s{k}");
        }
        assert!(report.complete);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_matching_event_is_delivered_dropped_or_failed(
        sinks in prop::collection::vec(sink_spec(), 1..4),
        bursts in prop::collection::vec((0usize..150, 0u64..3000), 1..6),
        deadline_ms in 0u64..8000,
    ) {
        run_case(sinks, bursts, deadline_ms);
    }
}
