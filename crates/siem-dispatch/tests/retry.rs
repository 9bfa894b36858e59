//! The retry policy as the dispatcher applies it: backoff schedule, Retry-After, attempt
//! and time bounds, attempt timeout, split on "too large", one credential retry.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{permanent, rejected_credentials, retryable, too_large, Act, ScriptSink};
use siem_core::{DeliveryError, SiemSink};
use siem_dispatch::{
    BatchPolicy, BreakerPolicy, Dispatcher, Jitter, OrgConfig, RetryPolicy, ShutdownReport,
    SinkConfig,
};
use tokio::time::Instant;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Runs `n` events through one sink with the given policies and shuts down.
async fn run(
    sink: Arc<ScriptSink>,
    n: usize,
    batch: BatchPolicy,
    retry: RetryPolicy,
) -> ShutdownReport {
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        SinkConfig::new(sink as Arc<dyn SiemSink>)
            .batch(batch)
            .retry(retry)
            .concurrency(1)
            // The retry policy alone: the circuit breaker has tests of its own.
            .breaker(BreakerPolicy::default().failures(u32::MAX)),
    )])
    .unwrap();
    for e in common::events("org_a", n) {
        d.emit(e);
    }
    // Let everything settle under the policy, then stop.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    d.shutdown(Duration::from_secs(1)).await
}

fn gaps(sends: &[(Instant, usize)]) -> Vec<Duration> {
    sends.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

/// Runs one event, in a batch of its own, through `sink` under `retry`.
async fn run_one(sink: &Arc<ScriptSink>, retry: RetryPolicy) -> ShutdownReport {
    run(sink.clone(), 1, BatchPolicy::default().max_events(1), retry).await
}

/// Ten attempts, backing off from `initial` up to `max` with `jitter`.
fn backoff_between(jitter: Jitter, initial: Duration, max: Duration) -> RetryPolicy {
    RetryPolicy::recommended()
        .jitter(jitter)
        .initial_backoff(initial)
        .max_backoff(max)
        .max_attempts(10)
}

/// A sink whose first `failures` sends fail with `error()` and every later one succeeds.
fn failing_first(
    failures: usize,
    error: impl Fn() -> DeliveryError + Send + Sync + 'static,
) -> Arc<ScriptSink> {
    ScriptSink::new("s", move |i, _| {
        if i < failures {
            Act::Err(error())
        } else {
            Act::Ok
        }
    })
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_within_full_jitter_bounds() {
    let sink = failing_first(5, || retryable(None));
    let policy = backoff_between(Jitter::Full, MS(200), MS(1000));
    let report = run_one(&sink, policy).await;
    let g = gaps(&sink.sends());
    assert_eq!(g.len(), 5);
    for (i, gap) in g.iter().enumerate() {
        let cap = (MS(200) * (1 << i)).min(MS(1000));
        assert!(*gap <= cap, "retry {}: waited {gap:?}, cap {cap:?}", i + 1);
    }
    let s = &report.stats.orgs[0].sinks[0];
    assert_eq!(
        (s.counts.delivered, s.counts.retried, s.counts.failed),
        (1, 5, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn backoff_schedule_is_exact_without_jitter() {
    let sink = failing_first(5, || retryable(None));
    let policy = backoff_between(Jitter::None, MS(200), MS(1000));
    run_one(&sink, policy).await;
    assert_eq!(
        gaps(&sink.sends()),
        [MS(200), MS(400), MS(800), MS(1000), MS(1000)]
    );
}

#[tokio::test(start_paused = true)]
async fn decorrelated_jitter_stays_between_initial_and_cap() {
    let sink = failing_first(8, || retryable(None));
    let policy = backoff_between(Jitter::Decorrelated, MS(100), MS(2000));
    run_one(&sink, policy).await;
    for gap in gaps(&sink.sends()) {
        assert!(gap >= MS(100) && gap <= MS(2000), "{gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_capped() {
    let sink = ScriptSink::new("s", |i, _| match i {
        0 => Act::Err(retryable(Some(Duration::from_secs(5)))),
        1 => Act::Err(retryable(Some(Duration::from_secs(3600)))),
        _ => Act::Ok,
    });
    let policy = RetryPolicy::recommended()
        .jitter(Jitter::None)
        .initial_backoff(MS(100))
        .max_retry_after(Duration::from_secs(20))
        .max_elapsed(Duration::from_secs(120));
    let report = run_one(&sink, policy).await;
    assert_eq!(
        gaps(&sink.sends()),
        [Duration::from_secs(5), Duration::from_secs(20)]
    );
    assert_eq!(report.stats.totals.delivered, 1);
}

#[tokio::test(start_paused = true)]
async fn attempts_are_bounded_and_one_means_once() {
    let sink = ScriptSink::new("s", |_, _| Act::Err(retryable(None)));
    let report = run_one(&sink, RetryPolicy::recommended().max_attempts(3)).await;
    assert_eq!(sink.sends().len(), 3);
    let c = report.stats.totals;
    assert_eq!((c.failed, c.retried, c.delivered), (1, 2, 0));
    let last = report.stats.orgs[0].sinks[0].last_error.clone().unwrap();
    assert_eq!((last.kind, last.status), ("retryable", Some(503)));

    let once = ScriptSink::new("s", |_, _| Act::Err(retryable(None)));
    let report = run_one(&once, RetryPolicy::recommended().max_attempts(1)).await;
    assert_eq!(once.sends().len(), 1);
    assert_eq!(report.stats.totals.failed, 1);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let sink = ScriptSink::new("s", |_, _| Act::Err(permanent()));
    let report = run_one(&sink, RetryPolicy::recommended()).await;
    assert_eq!(sink.sends().len(), 1);
    let s = &report.stats.orgs[0].sinks[0];
    assert_eq!((s.counts.failed, s.counts.retried), (1, 0));
    let e = s.last_error.clone().unwrap();
    assert_eq!(
        (e.kind, e.status, e.code.as_deref()),
        ("permanent", Some(400), Some("6"))
    );
    assert_eq!(e.message, "invalid data format");
}

#[tokio::test(start_paused = true)]
async fn total_time_per_batch_is_bounded() {
    let sink = ScriptSink::new("s", |_, _| Act::Err(retryable(None)));
    let policy = RetryPolicy::recommended()
        .jitter(Jitter::None)
        .initial_backoff(Duration::from_secs(1))
        .max_backoff(Duration::from_secs(10))
        .max_attempts(100)
        .max_elapsed(Duration::from_secs(5));
    let report = run_one(&sink, policy).await;
    let sends = sink.sends();
    // Waits of 1 s and 2 s fit in 5 s; the next wait (4 s) would end at 7 s: give up.
    assert_eq!(
        gaps(&sends),
        [Duration::from_secs(1), Duration::from_secs(2)]
    );
    assert!(sends[2].0 - sends[0].0 <= Duration::from_secs(5));
    assert_eq!(report.stats.totals.failed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_is_cut_by_the_attempt_timeout_and_retried() {
    let sink = ScriptSink::new("s", |i, _| if i == 0 { Act::Hang } else { Act::Ok });
    let policy = RetryPolicy::recommended()
        .jitter(Jitter::None)
        .attempt_timeout(Duration::from_secs(2))
        .initial_backoff(MS(100));
    let report = run_one(&sink, policy).await;
    assert_eq!(gaps(&sink.sends()), [Duration::from_secs(2) + MS(100)]);
    assert_eq!(report.stats.totals.delivered, 1);
    assert_eq!(report.stats.totals.retried, 1);
}

#[tokio::test(start_paused = true)]
async fn too_large_requests_are_halved_until_delivered() {
    let sink = ScriptSink::new("s", |_, r| {
        if r.events.len() > 3 {
            Act::Err(too_large())
        } else {
            Act::Ok
        }
    });
    let report = run(
        sink.clone(),
        10,
        BatchPolicy::default().max_events(10),
        RetryPolicy::none(),
    )
    .await;
    let sizes: Vec<usize> = sink.sends().iter().map(|s| s.1).collect();
    assert_eq!(sizes, [10, 5, 2, 3, 5, 2, 3]);
    let sent = common::events("org_a", 10);
    let got: Vec<_> = sink
        .received()
        .iter()
        .map(|e| e.event_type().clone())
        .collect();
    let want: Vec<_> = sent.iter().map(|e| e.event_type().clone()).collect();
    assert_eq!(got, want, "order kept across splits");
    let c = report.stats.totals;
    assert_eq!((c.delivered, c.failed, c.splits, c.retried), (10, 0, 3, 0));
}

#[tokio::test(start_paused = true)]
async fn a_single_event_that_is_too_large_fails_alone() {
    let sink = ScriptSink::new("s", |_, r| {
        if r.events
            .iter()
            .any(|e| e.event_type().as_str() == "loop.detected")
        {
            Act::Err(too_large())
        } else {
            Act::Ok
        }
    });
    let report = run(
        sink.clone(),
        6,
        BatchPolicy::default().max_events(6),
        RetryPolicy::none(),
    )
    .await;
    let c = report.stats.totals;
    assert_eq!((c.delivered, c.failed), (5, 1));
    assert_eq!(
        report.stats.orgs[0].sinks[0]
            .last_error
            .as_ref()
            .unwrap()
            .kind,
        "payload_too_large"
    );
}

#[tokio::test(start_paused = true)]
async fn rejected_credentials_get_exactly_one_retry() {
    let sink = failing_first(1, rejected_credentials);
    let report = run_one(&sink, RetryPolicy::recommended()).await;
    let g = gaps(&sink.sends());
    assert_eq!(g, [Duration::ZERO], "the credential retry is immediate");
    assert_eq!(
        (report.stats.totals.delivered, report.stats.totals.retried),
        (1, 1)
    );

    let always = ScriptSink::new("s", |_, _| Act::Err(rejected_credentials()));
    let report = run_one(&always, RetryPolicy::recommended()).await;
    assert_eq!(always.sends().len(), 2);
    let s = &report.stats.orgs[0].sinks[0];
    assert_eq!(s.counts.failed, 1);
    assert_eq!(s.last_error.as_ref().unwrap().status, Some(403));

    let none = ScriptSink::new("s", |_, _| Act::Err(rejected_credentials()));
    run_one(&none, RetryPolicy::none()).await;
    assert_eq!(none.sends().len(), 1);
}
