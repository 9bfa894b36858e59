//! The caching layer over a scripted provider, on tokio's paused clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{capture_logs, Scripted};
use siem_core::{CredentialErrorKind as K, CredentialProvider, Secret};
use siem_secrets::{CacheOptions, CachedCredential, ManualClock, DEFAULT_TTL};
use tokio::sync::Semaphore;
use tokio::time::advance;

fn cached(provider: &Arc<Scripted>, options: CacheOptions) -> CachedCredential {
    CachedCredential::new(Arc::clone(provider) as Arc<dyn CredentialProvider>, options)
}

async fn value(c: &CachedCredential) -> String {
    c.get().await.unwrap().expose().to_owned()
}

/// A cache of a provider (`label`, answering "v1") whose fetches wait for permits of the
/// returned gate, after a caller started a fetch and was cancelled while it waited.
async fn with_a_cancelled_caller(label: &str) -> (Arc<Semaphore>, Arc<Scripted>, CachedCredential) {
    let gate = Arc::new(Semaphore::new(0));
    let p = Scripted::gated(label, &[Ok("v1")], Arc::clone(&gate));
    let c = cached(&p, CacheOptions::default());
    let caller = tokio::spawn({
        let c = c.clone();
        async move { c.get().await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    (gate, p, c)
}

#[tokio::test(start_paused = true)]
async fn serves_cached_value_until_the_default_ttl_then_refetches() {
    assert_eq!(DEFAULT_TTL, Duration::from_secs(300));
    let p = Scripted::new("test:ttl", &[Ok("v1"), Ok("v2")]);
    let c = cached(&p, CacheOptions::default());
    assert_eq!(value(&c).await, "v1");
    advance(DEFAULT_TTL - Duration::from_secs(1)).await;
    assert_eq!(value(&c).await, "v1");
    assert_eq!(p.calls(), 1);
    advance(Duration::from_secs(1)).await;
    assert_eq!(value(&c).await, "v2");
    assert_eq!(value(&c).await, "v2");
    assert_eq!(p.calls(), 2);
    assert_eq!(c.fetch_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn ttl_is_configurable() {
    let p = Scripted::new("test:ttl30", &[Ok("v1"), Ok("v2")]);
    let c = cached(
        &p,
        CacheOptions::default().with_ttl(Duration::from_secs(30)),
    );
    assert_eq!(value(&c).await, "v1");
    advance(Duration::from_secs(29)).await;
    assert_eq!(value(&c).await, "v1");
    advance(Duration::from_secs(1)).await;
    assert_eq!(value(&c).await, "v2");
    assert_eq!(p.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn hundred_concurrent_callers_on_a_cold_cache_share_one_fetch() {
    let gate = Arc::new(Semaphore::new(0));
    let p = Scripted::gated("test:herd", &[Ok("v1"), Ok("v2")], Arc::clone(&gate));
    let c = cached(&p, CacheOptions::default());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.get().await.map(|s| s.expose().to_owned()) })
        })
        .collect();
    // Let every task reach the cache and wait on the one fetch, then let it finish.
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    assert_eq!(p.calls(), 1, "only one fetch may start");
    gate.add_permits(1000);
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "v1");
    }
    assert_eq!(p.calls(), 1);
    assert_eq!(c.fetch_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn expired_value_is_refreshed_once_for_many_callers() {
    let p = Scripted::new("test:expiry-herd", &[Ok("v1"), Ok("v2")]);
    let c = cached(&p, CacheOptions::default());
    assert_eq!(value(&c).await, "v1");
    advance(DEFAULT_TTL).await;
    let results = futures::future::join_all((0..100).map(|_| c.get())).await;
    assert!(results.iter().all(|r| r.as_ref().unwrap().expose() == "v2"));
    assert_eq!(p.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn stale_value_is_served_with_a_warning_until_max_staleness() {
    let (_guard, logs) = capture_logs();
    let options = CacheOptions::default()
        .with_ttl(Duration::from_secs(300))
        .with_max_staleness(Duration::from_secs(600))
        .with_failure_backoff(Duration::from_secs(5));
    let p = Scripted::new("test:stale", &[Ok("v1"), Err(K::Unavailable)]);
    let c = cached(&p, options);
    assert_eq!(value(&c).await, "v1");
    advance(Duration::from_secs(300)).await;
    assert_eq!(value(&c).await, "v1", "stale value while the store fails");
    assert_eq!(p.calls(), 2);
    let text = logs.text();
    assert!(text.contains("WARN"), "{text}");
    assert!(
        text.contains("serving the cached value") && text.contains("test:stale"),
        "{text}"
    );
    // Within the backoff no new fetch is tried; the stale value is still served.
    assert_eq!(value(&c).await, "v1");
    assert_eq!(p.calls(), 2);
    // Each later attempt warns again and still serves stale, up to ttl + max_staleness.
    advance(Duration::from_secs(599)).await;
    assert_eq!(value(&c).await, "v1");
    assert_eq!(p.calls(), 3);
    advance(Duration::from_secs(1)).await; // 900 s after the fetch: too old
    let err = c.get().await.unwrap_err();
    assert_eq!(err.kind, K::Unavailable);
    assert_eq!(err.reference, "test:stale");
    // The store recovers: the next attempt after the backoff succeeds.
    p.then(&[Ok("v2")]);
    advance(Duration::from_secs(5)).await;
    assert_eq!(value(&c).await, "v2");
}

#[tokio::test(start_paused = true)]
async fn zero_max_staleness_returns_the_error_at_expiry() {
    let p = Scripted::new("test:nostale", &[Ok("v1"), Err(K::Throttled)]);
    let c = cached(
        &p,
        CacheOptions::default().with_max_staleness(Duration::ZERO),
    );
    assert_eq!(value(&c).await, "v1");
    advance(DEFAULT_TTL).await;
    assert_eq!(c.get().await.unwrap_err().kind, K::Throttled);
}

#[tokio::test(start_paused = true)]
async fn failures_are_remembered_for_the_backoff_so_the_store_is_not_hammered() {
    let p = Scripted::new("test:cold-fail", &[Err(K::NotFound), Ok("v1")]);
    let c = cached(&p, CacheOptions::default());
    for _ in 0..10 {
        let err = c.get().await.unwrap_err();
        assert_eq!(err.kind, K::NotFound);
        assert_eq!(err.reference, "test:cold-fail");
    }
    assert_eq!(p.calls(), 1);
    advance(Duration::from_secs(5)).await;
    assert_eq!(value(&c).await, "v1");
    assert_eq!(p.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn invalidate_drops_only_the_rejected_value_and_exactly_one_refetch_follows() {
    let p = Scripted::new("test:rotate", &[Ok("v1"), Ok("v2"), Ok("v3")]);
    let c = cached(&p, CacheOptions::default());
    let v1 = c.get().await.unwrap();
    c.invalidate(&Secret::new("not-the-cached-value"));
    assert_eq!(
        value(&c).await,
        "v1",
        "a different value does not invalidate"
    );
    // Fifty in-flight requests all saw a 401 for v1.
    for _ in 0..50 {
        c.invalidate(&v1);
    }
    assert_eq!(value(&c).await, "v2");
    // Late reports about v1 after the refresh are ignored.
    for _ in 0..50 {
        c.invalidate(&v1);
    }
    assert_eq!(value(&c).await, "v2");
    assert_eq!(p.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_rejections_and_gets_cause_one_refetch() {
    let gate = Arc::new(Semaphore::new(1));
    let p = Scripted::gated(
        "test:rotate-herd",
        &[Ok("v1"), Ok("v2"), Ok("v3")],
        Arc::clone(&gate),
    );
    let c = cached(&p, CacheOptions::default());
    let v1 = c.get().await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (c, v1) = (c.clone(), v1.clone());
            tokio::spawn(async move {
                c.invalidate(&v1);
                c.get().await.map(|s| s.expose().to_owned())
            })
        })
        .collect();
    // Every task has reported the 401 and waits on the single refetch.
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    assert_eq!(p.calls(), 2);
    gate.add_permits(1000);
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "v2");
    }
    assert_eq!(p.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_rejected_value_is_not_served_stale() {
    let p = Scripted::new("test:rejected-stale", &[Ok("v1"), Err(K::Unavailable)]);
    let c = cached(&p, CacheOptions::default());
    let v1 = c.get().await.unwrap();
    c.invalidate(&v1);
    assert_eq!(c.get().await.unwrap_err().kind, K::Unavailable);
}

#[tokio::test(start_paused = true)]
async fn same_value_after_a_rejection_is_not_refetched_again_within_the_backoff() {
    let p = Scripted::new("test:not-rotated", &[Ok("v1")]);
    let c = cached(&p, CacheOptions::default());
    let v1 = c.get().await.unwrap();
    c.invalidate(&v1);
    assert_eq!(value(&c).await, "v1"); // refetched: the store still has v1
    c.invalidate(&v1);
    assert_eq!(value(&c).await, "v1");
    assert_eq!(
        p.calls(),
        2,
        "a second rejection right away does not refetch"
    );
    advance(Duration::from_secs(5)).await;
    c.invalidate(&v1);
    assert_eq!(value(&c).await, "v1");
    assert_eq!(
        p.calls(),
        3,
        "after the backoff a rejection refetches again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_caller_does_not_lose_the_in_flight_fetch() {
    let (gate, p, c) = with_a_cancelled_caller("test:cancel").await;
    gate.add_permits(10);
    assert_eq!(value(&c).await, "v1");
    assert_eq!(p.calls(), 1, "the second caller resumed the same fetch");
}

#[tokio::test]
async fn manual_clock_drives_expiry_without_pausing_tokio() {
    let clock = ManualClock::new();
    let p = Scripted::new("test:manual", &[Ok("v1"), Ok("v2")]);
    let c = CachedCredential::with_clock(
        Arc::clone(&p) as Arc<dyn CredentialProvider>,
        CacheOptions::default(),
        Arc::new(clock.clone()),
    );
    assert_eq!(value(&c).await, "v1");
    clock.advance(DEFAULT_TTL - Duration::from_secs(1));
    assert_eq!(value(&c).await, "v1");
    clock.advance(Duration::from_secs(1));
    assert_eq!(value(&c).await, "v2");
    assert_eq!(c.describe(), "test:manual");
    let debug = format!("{c:?}");
    assert!(
        debug.contains("test:manual") && !debug.contains("v2"),
        "{debug}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_fetch_does_not_keep_the_cache_alive() {
    let (_gate, p, c) = with_a_cancelled_caller("test:abandoned").await;
    assert_eq!(
        Arc::strong_count(&p),
        2,
        "the test and the cache (whose pending fetch shares its handle) hold the provider"
    );
    drop(c);
    assert_eq!(
        Arc::strong_count(&p),
        1,
        "cache and its pending fetch were freed"
    );
}
