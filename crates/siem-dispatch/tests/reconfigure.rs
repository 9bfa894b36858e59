//! Runtime reconfiguration: orgs added, replaced and removed while events flow.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::{MemorySink, Step};
use siem_core::EventFilter;
use siem_dispatch::{
    BatchPolicy, BufferPolicy, ConfigError, Dispatcher, EmitOutcome, OrgConfig, SinkConfig,
};

fn lingering() -> BatchPolicy {
    BatchPolicy::default().linger(Duration::from_secs(30))
}

#[tokio::test(start_paused = true)]
async fn replacing_an_org_keeps_queued_events_of_kept_sinks_and_retires_the_others() {
    let kept = Arc::new(MemorySink::new("kept"));
    let gone = Arc::new(MemorySink::new("gone"));
    let other = Arc::new(MemorySink::new("other"));
    let d = Dispatcher::start([
        OrgConfig::new("org_a")
            .unwrap()
            .sink(SinkConfig::new(kept.clone()).batch(lingering()))
            .sink(SinkConfig::new(gone.clone()).batch(lingering())),
        OrgConfig::new("org_b")
            .unwrap()
            .sink(SinkConfig::new(other.clone()).batch(lingering())),
    ])
    .unwrap();
    for e in common::events("org_a", 20)
        .into_iter()
        .chain(common::events("org_b", 5))
    {
        d.emit(e);
    }
    // Replace org_a: keep "kept" (new sink object, same name, new filter), drop "gone",
    // add "new". Nothing has been sent yet (30 s linger).
    let kept2 = Arc::new(MemorySink::new("kept"));
    let new = Arc::new(MemorySink::new("new"));
    d.set_org(
        OrgConfig::new("org_a")
            .unwrap()
            .sink(
                SinkConfig::new(kept2.clone())
                    .filter(EventFilter::parse(["loop.detected"]).unwrap())
                    .batch(lingering()),
            )
            .sink(SinkConfig::new(new.clone())),
    )
    .unwrap();
    assert_eq!(
        d.emit(common::events("org_a", 5).remove(4)),
        EmitOutcome::Queued { sinks: 2 }
    );
    assert_eq!(
        d.emit(common::events("org_a", 1).remove(0)),
        EmitOutcome::Queued { sinks: 1 }
    );
    // The removed sink delivers what it had at once.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(gone.received().len(), 20);
    let report = d.shutdown(Duration::from_secs(10)).await;
    assert!(report.complete);
    // The 20 queued events went out through the new sink object of the kept sink.
    assert_eq!(kept.received().len() + kept2.received().len(), 21);
    assert_eq!(new.received().len(), 2);
    assert_eq!(other.received().len(), 5, "org_b untouched");
    let k = report.stats.sink("org_a", "kept").unwrap();
    assert_eq!(
        (k.counts.queued, k.counts.delivered),
        (21, 21),
        "counters carried over"
    );
}

#[tokio::test(start_paused = true)]
async fn changing_the_queue_bound_moves_to_a_new_queue_without_loss() {
    let sink = Arc::new(MemorySink::new("s"));
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        SinkConfig::new(sink.clone())
            .batch(lingering())
            .buffer(BufferPolicy::memory().max_events(50)),
    )])
    .unwrap();
    for e in common::events("org_a", 50) {
        d.emit(e);
    }
    d.set_org(
        OrgConfig::new("org_a").unwrap().sink(
            SinkConfig::new(sink.clone())
                .batch(lingering())
                .buffer(BufferPolicy::memory().max_events(500)),
        ),
    )
    .unwrap();
    for e in common::events("org_a", 400) {
        assert_eq!(d.emit(e), EmitOutcome::Queued { sinks: 1 });
    }
    let report = d.shutdown(Duration::from_secs(10)).await;
    assert_eq!(sink.received().len(), 450);
    assert_eq!(report.stats.totals.delivered, 450);
}

#[tokio::test(start_paused = true)]
async fn removing_an_org_delivers_its_queue_and_stops_routing() {
    let sink = Arc::new(MemorySink::new("s"));
    let d = common::start_org_a(SinkConfig::new(sink.clone()).batch(lingering()), 10);
    assert!(d.remove_org("org_a"));
    assert!(!d.remove_org("org_a"));
    assert_eq!(
        d.emit(common::events("org_a", 1).remove(0)),
        EmitOutcome::NoMatch
    );
    assert!(
        d.stats().orgs.iter().any(|o| o.removing),
        "visible while draining"
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(sink.received().len(), 10);
    assert!(d.stats().orgs.is_empty(), "gone once drained");
    assert!(d.org_ids().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfiguring_under_load_loses_nothing_for_unchanged_sinks() {
    let stable = Arc::new(MemorySink::new("stable"));
    let other = Arc::new(MemorySink::new("other"));
    let cfg = |churn: usize| {
        let mut org = OrgConfig::new("org_a").unwrap().sink(
            SinkConfig::new(stable.clone())
                .batch(BatchPolicy::default().linger(Duration::from_millis(5)))
                .buffer(BufferPolicy::memory().max_events(200_000)),
        );
        org.push_sink(SinkConfig::new(Arc::new(MemorySink::new(format!(
            "churn{}",
            churn % 3
        )))));
        org
    };
    let d = Dispatcher::start([
        cfg(0),
        OrgConfig::new("org_b").unwrap().sink(
            SinkConfig::new(other.clone()).buffer(BufferPolicy::memory().max_events(200_000)),
        ),
    ])
    .unwrap();
    let emitter = d.emitter();
    let per_thread = 5_000;
    std::thread::scope(|s| {
        for _ in 0..2 {
            let emitter = emitter.clone();
            s.spawn(move || {
                for (a, b) in common::events("org_a", per_thread)
                    .into_iter()
                    .zip(common::events("org_b", per_thread))
                {
                    assert!(emitter.emit(a).queued_sinks() >= 1);
                    assert_eq!(emitter.emit(b), EmitOutcome::Queued { sinks: 1 });
                }
            });
        }
        for i in 1..200 {
            d.set_org(cfg(i)).unwrap();
            if i % 50 == 0 {
                d.remove_org("org_c");
                d.set_org(
                    OrgConfig::new("org_c")
                        .unwrap()
                        .sink(SinkConfig::new(Arc::new(MemorySink::new("c")))),
                )
                .unwrap();
            }
            std::thread::yield_now();
        }
    });
    let report = d.shutdown(Duration::from_secs(30)).await;
    assert!(report.complete);
    assert_eq!(stable.received().len(), 2 * per_thread);
    assert_eq!(other.received().len(), 2 * per_thread);
    let s = report.stats.sink("org_a", "stable").unwrap();
    assert_eq!(
        (s.counts.queued, s.counts.delivered, s.counts.dropped),
        (10_000, 10_000, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_configurations_are_refused_with_names() {
    let s = || Arc::new(MemorySink::new("dup"));
    let err = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(SinkConfig::new(s()))
        .sink(SinkConfig::new(s()))])
    .unwrap_err();
    assert_eq!(
        err,
        ConfigError::DuplicateSink {
            org: "org_a".into(),
            sink: "dup".into()
        }
    );
    let err = OrgConfig::new("bad\norg").unwrap_err();
    assert!(err.to_string().contains("org id"), "{err}");
    let d = Dispatcher::start([]).unwrap();
    let err = d
        .set_org(
            OrgConfig::new("org_a")
                .unwrap()
                .sink(SinkConfig::new(s()).batch(BatchPolicy::default().max_events(0))),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("org `org_a`") && err.contains("sink `dup`") && err.contains("max_events"),
        "{err}"
    );
    let _ = d.shutdown(Duration::ZERO).await;
    assert_eq!(
        d.set_org(OrgConfig::new("org_a").unwrap()),
        Err(ConfigError::ShutDown)
    );
    let stuck = Arc::new(MemorySink::new("x"));
    stuck.set_fallback(Step::Hang);
    drop(stuck);
}

#[tokio::test(start_paused = true)]
async fn emit_wait_all_routes_by_the_configuration_in_force_for_each_event() {
    let first = Arc::new(MemorySink::new("first"));
    let second = Arc::new(MemorySink::new("second"));
    let d = Arc::new(
        Dispatcher::start([OrgConfig::new("org_a")
            .unwrap()
            .sink(SinkConfig::new(first.clone()).batch(lingering()))])
        .unwrap(),
    );
    // The org is reconfigured (its sink replaced) while the run is under way, between
    // the third and the fourth event.
    let reconfigure = Arc::clone(&d);
    let second_sink = second.clone();
    let events = common::events("org_a", 6)
        .into_iter()
        .enumerate()
        .map(move |(i, e)| {
            if i == 3 {
                let org = OrgConfig::new("org_a")
                    .unwrap()
                    .sink(SinkConfig::new(second_sink.clone()).batch(lingering()));
                reconfigure.set_org(org).unwrap();
            }
            Arc::new(e)
        });
    let mut queued = 0;
    d.emit_wait_all(events, |o| queued += o.queued_sinks())
        .await;
    assert_eq!(queued, 6);
    let d = Arc::into_inner(d).unwrap();
    let report = d.shutdown(Duration::from_secs(60)).await;
    assert_eq!(report.stats.totals.delivered, 6);
    assert_eq!((first.received().len(), second.received().len()), (3, 3));
}
