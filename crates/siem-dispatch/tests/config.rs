//! Configuration: TOML overrides, defaults, and the JSON form of the stats.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::MemorySink;
use siem_dispatch::{
    BufferKind, DeliveryOverrides, Jitter, RetryPolicy, SinkConfig, WhenFull, DEFAULT_LINGER,
};

#[derive(serde::Deserialize)]
struct SinkTable {
    name: String,
    #[serde(flatten)]
    delivery: DeliveryOverrides,
}

#[test]
fn overrides_flatten_into_a_sink_table() {
    let t: SinkTable = toml::from_str(
        r#"
        name = "splunk-prod"
        max_events = 200
        max_bytes = 100000
        linger_ms = 250
        max_attempts = 1
        initial_backoff_ms = 50
        max_backoff_ms = 5000
        max_elapsed_ms = 20000
        jitter = "decorrelated"
        concurrency = 1
        breaker_failures = 3
        breaker_backoff_ms = 2000
        dead_letter = "/var/lib/siem/dead.ndjson"
        buffer = { max_events = 5000, when_full = "drop_newest" }
        "#,
    )
    .unwrap();
    let cfg = t
        .delivery
        .apply(SinkConfig::new(Arc::new(MemorySink::new(t.name))))
        .unwrap();
    assert_eq!(cfg.batch.max_events, 200);
    assert_eq!(cfg.batch.max_bytes, 100_000);
    assert_eq!(cfg.batch.linger, Duration::from_millis(250));
    assert_eq!(cfg.retry.max_attempts, 1);
    assert_eq!(cfg.retry.initial_backoff, Duration::from_millis(50));
    assert_eq!(cfg.retry.max_backoff, Duration::from_secs(5));
    assert_eq!(cfg.retry.max_elapsed, Duration::from_secs(20));
    assert_eq!(cfg.retry.jitter, Jitter::Decorrelated);
    assert_eq!(cfg.buffer.max_events, 5000);
    assert_eq!(cfg.buffer.kind, BufferKind::Memory);
    assert_eq!(cfg.buffer.when_full, WhenFull::DropNewest);
    assert_eq!(cfg.breaker.failures, 3);
    assert_eq!(cfg.breaker.backoff, Duration::from_secs(2));
    assert_eq!(
        cfg.dead_letter.as_deref(),
        Some(std::path::Path::new("/var/lib/siem/dead.ndjson"))
    );
    assert_eq!(cfg.concurrency, 1);
    for field in DeliveryOverrides::FIELDS {
        assert!(
            toml::from_str::<DeliveryOverrides>(&format!("{field} = 1")).is_ok()
                || ["jitter", "buffer", "dead_letter"].contains(field),
            "{field}"
        );
    }
}

#[test]
fn defaults_are_sane() {
    let cfg = SinkConfig::new(Arc::new(MemorySink::new("s")));
    assert!(cfg.batch.linger <= Duration::from_secs(1));
    assert_eq!(cfg.batch.linger, DEFAULT_LINGER);
    assert_eq!(cfg.retry, RetryPolicy::recommended());
    assert!(cfg.retry.max_attempts > 1);
    assert_eq!(RetryPolicy::none().max_attempts, 1);
    let err = DeliveryOverrides {
        initial_backoff_ms: Some(10_000),
        max_backoff_ms: Some(10),
        ..DeliveryOverrides::default()
    }
    .apply(cfg)
    .unwrap_err();
    assert!(err.to_string().contains("initial_backoff_ms"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn stats_serialize_for_the_cli() {
    let d = common::start_org_a(SinkConfig::new(Arc::new(MemorySink::new("m"))), 3);
    let report = d.shutdown(Duration::from_secs(1)).await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["complete"], true);
    let sink = &json["stats"]["orgs"][0]["sinks"][0];
    assert_eq!(sink["name"], "m");
    assert_eq!(sink["queued"], 3);
    assert_eq!(sink["delivered"], 3);
    assert!(sink["last_success_at"].is_string());
    assert_eq!(json["stats"]["totals"]["failed"], 0);
}
