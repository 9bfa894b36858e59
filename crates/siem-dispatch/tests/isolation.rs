//! Isolation: an unhealthy sink's circuit opens and it stops holding up `emit_wait*`
//! (and so every other sink); a probe closes the circuit; what a full buffer does with
//! `block` and `drop_newest`; a disk buffer's events survive a restart; the dead-letter
//! file; a second dispatcher on one data directory is refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{permanent, retryable, Act, ScriptSink};
use siem_core::SecurityEvent;
use siem_dispatch::{
    BatchPolicy, BreakerPolicy, BreakerState, BufferPolicy, ConfigError, DeadLetterLine,
    Dispatcher, EmitOutcome, OrgConfig, RetryPolicy, SinkConfig, WhenFull,
};

fn arcs(n: usize) -> Vec<Arc<SecurityEvent>> {
    common::events("org_a", n)
        .into_iter()
        .map(Arc::new)
        .collect()
}

fn small_batches() -> BatchPolicy {
    BatchPolicy::default()
        .max_events(10)
        .linger(Duration::from_millis(10))
}

/// Emits with `emit_wait_all` and counts the outcomes.
async fn emit_all(d: &Dispatcher, events: Vec<Arc<SecurityEvent>>) -> (u32, u32) {
    let (mut queued, mut dropped) = (0, 0);
    d.emit_wait_all(events, |o| {
        queued += o.queued_sinks();
        dropped += o.dropped_sinks();
    })
    .await;
    (queued, dropped)
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_opens_its_circuit_and_stops_holding_up_the_others() {
    let failing = ScriptSink::new("failing", |_, _| Act::Err(retryable(None)));
    let healthy = ScriptSink::new("healthy", |_, _| Act::Ok);
    let buffer = BufferPolicy::memory().max_events(20);
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(
            SinkConfig::new(failing.clone())
                .batch(small_batches())
                .buffer(buffer)
                .breaker(BreakerPolicy::default().failures(3)),
        )
        .sink(
            SinkConfig::new(healthy.clone())
                .batch(small_batches())
                .buffer(buffer),
        )])
    .unwrap();
    // Far more than both buffers hold: without the breaker, the failing sink's full
    // buffer would make every event wait for its retries.
    let (_, dropped) = emit_all(&d, arcs(2_000)).await;
    assert!(dropped > 0);
    let stats = d.stats();
    let f = stats.sink("org_a", "failing").unwrap();
    assert_eq!(f.breaker.state, BreakerState::Open, "{f:?}");
    assert_eq!(f.breaker.opened, 1);
    assert!(f.breaker.consecutive_failures >= 3);
    assert!(f.counts.dropped_circuit_open > 0, "{:?}", f.counts);
    assert_eq!(f.counts.dropped, u64::from(dropped));
    let report = d.shutdown(Duration::from_secs(30)).await;
    let h = report.stats.sink("org_a", "healthy").unwrap();
    assert_eq!(h.counts.delivered, 2_000, "the healthy sink lost nothing");
    assert_eq!(healthy.received().len(), 2_000);
    let f = report.stats.sink("org_a", "failing").unwrap().counts;
    assert_eq!(f.accepted, 2_000);
    assert_eq!(f.accepted, f.delivered + f.failed + f.dropped + f.buffered);
    // While open, only probes were sent: a handful of requests, not 200 batches' retries.
    assert!(
        failing.sends().len() < 60,
        "{} sends",
        failing.sends().len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_delivered_probe_closes_the_circuit_and_held_events_follow() {
    let down = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&down);
    let sink = ScriptSink::new("s", move |_, _| {
        if flag.load(Ordering::SeqCst) {
            Act::Err(retryable(None))
        } else {
            Act::Ok
        }
    });
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        SinkConfig::new(sink.clone())
            .batch(small_batches())
            .breaker(
                BreakerPolicy::default()
                    .failures(2)
                    .backoff(Duration::from_secs(1)),
            ),
    )])
    .unwrap();
    for e in arcs(100) {
        d.emit_arc(e);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s = d.stats();
    let s = s.sink("org_a", "s").unwrap();
    assert_eq!(s.breaker.state, BreakerState::Open);
    assert_eq!(s.counts.failed, 0, "held, not failed: {:?}", s.counts);
    assert_eq!(s.counts.buffered + s.counts.in_flight, 100);
    down.store(false, Ordering::SeqCst);
    // The probe backoff doubles up to 30 s: within a minute, a probe gets through.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let s = d.stats();
    let s = s.sink("org_a", "s").unwrap();
    assert_eq!(s.breaker.state, BreakerState::Closed);
    assert_eq!(s.counts.delivered, 100, "{:?}", s.counts);
    assert_eq!(sink.received().len(), 100);
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_blocks_a_waiting_caller_or_drops_as_configured() {
    for (when_full, expect_drops) in [(WhenFull::Block, false), (WhenFull::DropNewest, true)] {
        let slow = ScriptSink::new("slow", |_, _| Act::Delay(Duration::from_millis(200)));
        let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
            SinkConfig::new(slow.clone())
                .batch(small_batches())
                .buffer(BufferPolicy::memory().max_events(20).when_full(when_full)),
        )])
        .unwrap();
        let (queued, dropped) = emit_all(&d, arcs(500)).await;
        assert_eq!(
            dropped > 0,
            expect_drops,
            "{when_full:?}: {dropped} dropped"
        );
        assert_eq!(queued + dropped, 500);
        let report = d.shutdown(Duration::from_secs(60)).await;
        assert_eq!(report.stats.totals.delivered, u64::from(queued));
        // The gateway's `emit` never waits, whatever the setting.
        let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
            SinkConfig::new(ScriptSink::new("hung", |_, _| Act::Hang))
                .buffer(BufferPolicy::memory().max_events(5).when_full(when_full)),
        )])
        .unwrap();
        let outcomes: Vec<EmitOutcome> = arcs(50).into_iter().map(|e| d.emit_arc(e)).collect();
        assert!(outcomes
            .iter()
            .any(|o| matches!(o, EmitOutcome::Dropped { .. })));
        d.shutdown(Duration::from_millis(10)).await;
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("siem-isolation-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(start_paused = true)]
async fn a_disk_buffer_keeps_taking_events_while_the_circuit_is_open_and_delivers_them_after_a_restart(
) {
    let dir = temp_dir("restart");
    let down = ScriptSink::new("s", |_, _| Act::Err(retryable(None)));
    let d = Dispatcher::builder()
        .org(
            OrgConfig::new("org_a").unwrap().sink(
                SinkConfig::new(down.clone())
                    .batch(small_batches())
                    .buffer(BufferPolicy::disk())
                    .breaker(BreakerPolicy::default().failures(2)),
            ),
        )
        .data_dir(&dir)
        .start()
        .unwrap();
    let (queued, dropped) = emit_all(&d, arcs(3_000)).await;
    assert_eq!(
        (queued, dropped),
        (3_000, 0),
        "nothing dropped: it all went to disk"
    );
    let report = d.shutdown(Duration::from_secs(5)).await;
    assert!(!report.complete);
    assert_eq!(report.left_in_buffer[0].events, 3_000);
    let c = report.stats.totals;
    assert_eq!((c.delivered, c.failed, c.buffered), (0, 0, 3_000));
    drop(d);

    let up = ScriptSink::new("s", |_, _| Act::Ok);
    let d = Dispatcher::builder()
        .org(
            OrgConfig::new("org_a")
                .unwrap()
                .sink(SinkConfig::new(up.clone()).buffer(BufferPolicy::disk())),
        )
        .data_dir(&dir)
        .start()
        .unwrap();
    let report = d.shutdown(Duration::from_secs(60)).await;
    let c = report.stats.totals;
    assert!(report.complete);
    assert_eq!((c.recovered, c.delivered), (3_000, 3_000));
    // The batches sent before the circuit opened may have reached the SIEM: counted.
    assert!(c.redelivered > 0 && c.redelivered < 3_000, "{c:?}");
    assert_eq!(up.received().len(), 3_000);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs 2,000 events through a disk-buffered sink that answers after `delay`; returns the
/// events its buffer wrote to disk and the events delivered.
async fn written_to_disk(name: &str, delay: Duration) -> (u64, u64) {
    let dir = temp_dir(name);
    let sink = ScriptSink::new("s", move |_, _| Act::Delay(delay));
    let d = Dispatcher::builder()
        .org(
            OrgConfig::new("org_a").unwrap().sink(
                SinkConfig::new(sink)
                    .batch(small_batches().max_events(100))
                    .buffer(BufferPolicy::disk()),
            ),
        )
        .data_dir(&dir)
        .start()
        .unwrap();
    let mut events = arcs(2_000);
    let rest = events.split_off(100);
    // Until its SIEM has answered once, a disk buffer does not hold the input back (a
    // SIEM that never answers must not stall it): the test starts once it answered.
    emit_all(&d, events).await;
    while d.stats().totals.delivered == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    emit_all(&d, rest).await;
    let report = d.shutdown(Duration::from_secs(60)).await;
    assert!(report.complete);
    let sink = &report.stats.orgs[0].sinks[0];
    let _ = std::fs::remove_dir_all(&dir);
    (sink.buffer.written_events, sink.counts.delivered)
}

#[tokio::test]
async fn a_disk_buffer_writes_only_what_its_siem_has_not_taken_within_the_write_behind_window() {
    // A SIEM that keeps up: batches are delivered before they are due on disk.
    let (written, delivered) = written_to_disk("keeps-up", Duration::ZERO).await;
    assert_eq!(delivered, 2_000);
    assert!(written < 2_000 / 4, "{written} of 2000 written");
    // A SIEM slower than the window: what waits for it goes to disk.
    let (written, delivered) = written_to_disk("slow", Duration::from_millis(400)).await;
    assert_eq!(delivered, 2_000);
    assert!(written >= 2_000 / 2, "{written} of 2000 written");
}

#[tokio::test]
async fn a_second_dispatcher_on_one_data_dir_is_refused() {
    let dir = temp_dir("lock");
    let first = Dispatcher::builder().data_dir(&dir).start().unwrap();
    let err = Dispatcher::builder().data_dir(&dir).start().unwrap_err();
    assert!(matches!(err, ConfigError::DataDir { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("in use by another process"), "{message}");
    assert!(
        message.contains(&std::process::id().to_string()),
        "{message}"
    );
    drop(first);
    let _again = Dispatcher::builder().data_dir(&dir).start().unwrap();
    // A disk buffer without a data directory is a configuration error naming the sink.
    let err = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(SinkConfig::new(ScriptSink::new("s", |_, _| Act::Ok)).buffer(BufferPolicy::disk()))])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("sink `s`") && err.contains("data_dir"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(start_paused = true)]
async fn events_that_fail_for_good_go_to_the_dead_letter_file_and_read_back() {
    let dir = temp_dir("dead-letter");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dead.ndjson");
    let sink = ScriptSink::new("s", |i, _| {
        if i % 2 == 0 {
            Act::Err(permanent())
        } else {
            Act::Ok
        }
    });
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        SinkConfig::new(sink.clone())
            .batch(small_batches())
            .retry(RetryPolicy::none())
            .dead_letter(&path),
    )])
    .unwrap();
    let events = arcs(100);
    for e in &events {
        d.emit_arc(Arc::clone(e));
    }
    let report = d.shutdown(Duration::from_secs(10)).await;
    let c = report.stats.totals;
    assert_eq!(c.failed, 50);
    assert_eq!(c.dead_lettered, 50);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 50);
    let mut ids = Vec::new();
    for line in lines {
        let entry: DeadLetterLine<Box<serde_json::value::RawValue>> =
            serde_json::from_str(line).unwrap();
        assert_eq!(entry.dead_letter.org_id, "org_a");
        assert_eq!(entry.dead_letter.sink, "s");
        assert_eq!(entry.dead_letter.status, Some(400));
        assert!(entry.dead_letter.reason.contains("invalid data format"));
        ids.push(
            SecurityEvent::from_json(entry.event.get())
                .unwrap()
                .event_id(),
        );
    }
    let received: Vec<_> = sink.received().iter().map(|e| e.event_id()).collect();
    for e in &events {
        let id = e.event_id();
        assert!(
            ids.contains(&id) != received.contains(&id),
            "each event is either delivered or dead-lettered"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
