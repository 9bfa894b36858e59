//! Logging: an outage produces a bounded number of lines naming org and sink.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::{server_busy, LogCapture, MemorySink, Step};
use siem_dispatch::{
    BatchPolicy, BreakerPolicy, BufferPolicy, Dispatcher, OrgConfig, RetryPolicy, SinkConfig,
};
use tracing::subscriber::DefaultGuard;
use tracing::Level;

/// Captures, on this thread while the guard lives, what is logged at `max_level` and
/// above.
fn capture_logs(max_level: Level) -> (DefaultGuard, LogCapture) {
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(max_level)
        .with_ansi(false)
        .finish();
    (tracing::subscriber::set_default(subscriber), capture)
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_failed_batches_log_a_bounded_number_of_lines() {
    let (_guard, capture) = capture_logs(Level::TRACE);

    let sink = Arc::new(MemorySink::new("splunk-prod"));
    sink.set_fallback(Step::Fail(server_busy()));
    let d = Dispatcher::builder()
        .org(
            OrgConfig::new("org_acme").unwrap().sink(
                SinkConfig::new(sink.clone())
                    .batch(BatchPolicy::default().max_events(1))
                    .retry(RetryPolicy::none())
                    .buffer(BufferPolicy::memory().max_events(100))
                    // Every batch is attempted: this test is about failure logs.
                    .breaker(never_opens()),
            ),
        )
        .log_summary_interval(Duration::from_secs(60))
        .start()
        .unwrap();
    // 10,000 single-event batches over 10 minutes, with bursts that overflow the queue.
    for minute in 0..10 {
        for second in 0..60 {
            let burst = if second == 0 { 500 } else { 20 };
            for e in common::events("org_acme", burst) {
                d.emit(e);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = minute;
        }
    }
    let report = d.shutdown(Duration::from_secs(5)).await;
    let s = report.stats.sink("org_acme", "splunk-prod").unwrap();
    assert!(s.counts.failed >= 10_000, "{:?}", s.counts);
    assert!(s.counts.dropped > 0);
    assert_eq!(sink.send_count() as u64, s.counts.failed);

    let lines = capture.lines();
    if std::env::var_os("SHOW_LOG_LINES").is_some() {
        eprintln!("{}", lines.join("\n"));
    }
    // First failure + first drop, then at most one failure summary and one drop summary
    // per minute, plus the final summaries.
    assert!(
        lines.len() <= 2 + 2 * 11 + 2,
        "{} lines:\n{}",
        lines.len(),
        lines.join("\n")
    );
    assert!(lines.len() >= 3);
    for line in &lines {
        assert!(
            line.contains("org_acme") && line.contains("splunk-prod"),
            "{line}"
        );
    }
    assert!(lines[0].contains("SIEM delivery failed") || lines[0].contains("buffer full"));
    assert!(lines
        .iter()
        .any(|l| l.contains("batches=") && l.contains("HTTP 503")));
    assert!(lines.iter().any(|l| l.contains("dropped_total=")));
}

fn never_opens() -> BreakerPolicy {
    BreakerPolicy::default().failures(u32::MAX)
}

#[tokio::test(start_paused = true)]
async fn recovery_is_logged_once() {
    let (_guard, capture) = capture_logs(Level::INFO);
    let sink = Arc::new(MemorySink::new("dd"));
    sink.script(std::iter::repeat_n(Step::Fail(server_busy()), 50));
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        SinkConfig::new(sink.clone())
            .batch(BatchPolicy::default().max_events(1))
            .retry(RetryPolicy::none())
            .breaker(never_opens()),
    )])
    .unwrap();
    for e in common::events("org_a", 100) {
        d.emit(e);
    }
    let report = d.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        (report.stats.totals.failed, report.stats.totals.delivered),
        (50, 50)
    );
    let lines = capture.lines();
    assert_eq!(
        lines.iter().filter(|l| l.contains("recovered")).count(),
        1,
        "{lines:#?}"
    );
    assert!(lines.len() <= 3, "{lines:#?}");
}
