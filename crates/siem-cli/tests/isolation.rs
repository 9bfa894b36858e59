//! `siem forward` when a SIEM misbehaves, as an operator meets it: a hung, refusing,
//! failing or slow SIEM never holds up a healthy one.
//!
//! Times are compared with generous bounds (the healthy sink alone, measured in the same
//! test, alone in its test binary): this catches a sink that sets everyone's pace (77 s
//! instead of 3 s before the circuit breaker), not percent-level speed, which
//! `cargo xtask bench` measures.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use siem_testkit::Fault;
use support::*;

const EVENTS: usize = 50_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_refusing_failing_or_slow_siem_never_holds_up_a_healthy_one() {
    let dir = dir("isolation");
    let input = events_file(&dir, EVENTS);
    let (healthy, healthy_ca) = splunk(&dir, "healthy").await;
    let (bad, bad_ca) = splunk(&dir, "bad").await;
    let healthy_sink = sink_toml("healthy", &healthy.endpoint().to_string(), &healthy_ca, "");

    // The healthy sink alone.
    let config = write_config(&dir, std::slice::from_ref(&healthy_sink));
    let started = Instant::now();
    let child = forward(&config, Stdio::from(std::fs::File::open(&input).unwrap()));
    let alone = until_received(&healthy, EVENTS as u64, started).await;
    let (code, _, stderr) = tokio::task::block_in_place(|| finish(child, Duration::from_secs(60)));
    assert_eq!(code, 0, "{stderr}");

    // Quick to give up on a hung SIEM; patient with one that is merely slow.
    let quick = |attempt_ms: u64| {
        format!("attempt_timeout_ms = {attempt_ms}\nbreaker_backoff_ms = 500\ninitial_backoff_ms = 50\n")
    };
    let refused = "https://127.0.0.1:1/".to_owned();
    // (name, fault, latency, endpoint, buffer settings)
    type Scenario = (
        &'static str,
        Option<Fault>,
        Option<Duration>,
        String,
        &'static str,
    );
    let scenarios: [Scenario; 4] = [
        (
            "refusing",
            None,
            None,
            refused,
            "buffer = { type = \"memory\" }",
        ),
        (
            "hung",
            Some(Fault::Hang),
            None,
            bad.endpoint().to_string(),
            "buffer = { type = \"disk\" }",
        ),
        (
            "failing",
            Some(Fault::status(503)),
            None,
            bad.endpoint().to_string(),
            "dead_letter = \"dead.ndjson\"",
        ),
        (
            "slow",
            None,
            Some(Duration::from_secs(1)),
            bad.endpoint().to_string(),
            "buffer = { type = \"disk\" }",
        ),
    ];
    for (name, fault, latency, endpoint, buffer) in scenarios {
        bad.set_outage_fault(fault.clone());
        bad.set_outage(fault.is_some());
        bad.set_latency(latency.unwrap_or_default());
        let _ = std::fs::remove_dir_all(dir.join("data"));
        let _ = std::fs::remove_file(dir.join("dead.ndjson"));
        let attempt_ms = if latency.is_some() { 5_000 } else { 500 };
        let settings = format!("{}{buffer}", quick(attempt_ms));
        let bad_sink = sink_toml("bad", &endpoint, &bad_ca, &settings);
        let config = write_config(&dir, &[healthy_sink.clone(), bad_sink]);
        let before = healthy.stats().accepted_events;
        let started = Instant::now();
        let child = forward(&config, Stdio::from(std::fs::File::open(&input).unwrap()));
        let took = until_received(&healthy, before + EVENTS as u64, started).await;
        assert!(
            took.as_secs_f64() <= 1.5 * alone.as_secs_f64() + 2.0,
            "{name}: the healthy sink took {took:?}, {alone:?} alone"
        );
        // Reading ends with the healthy sink; then at most the flush timeout, plus an
        // attempt timeout for requests in flight, plus start-up and report.
        let bound = took + Duration::from_secs(FLUSH_TIMEOUT_S) + Duration::from_secs(5);
        let (code, report, stderr) = tokio::task::block_in_place(|| finish(child, bound));
        assert_eq!(
            code, 1,
            "{name}: not everything reached the bad sink: {stderr}"
        );
        assert_eq!(
            n(sink_counts(&report, "healthy"), "delivered"),
            EVENTS as u64
        );
        let bad_counts = sink_counts(&report, "bad");
        assert_accounted(bad_counts, EVENTS as u64);
        match name {
            "refusing" => assert!(n(bad_counts, "dropped_circuit_open") > 0, "{bad_counts}"),
            "hung" => {
                assert_eq!(n(bad_counts, "dropped"), 0, "{bad_counts}");
                assert!(n(bad_counts, "buffered") > 0, "{bad_counts}");
                assert_eq!(bad_counts["breaker"]["state"], "open", "{bad_counts}");
            }
            "failing" => {
                let lines = std::fs::read_to_string(dir.join("dead.ndjson")).unwrap_or_default();
                assert_eq!(n(bad_counts, "dead_lettered"), n(bad_counts, "failed"));
                assert_eq!(lines.lines().count() as u64, n(bad_counts, "failed"));
            }
            _ => {
                assert_eq!(n(bad_counts, "dropped"), 0, "{bad_counts}");
                assert!(n(bad_counts, "delivered") > 0, "{bad_counts}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
