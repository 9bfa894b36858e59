//! Routing: filters, organization isolation under concurrent emitters, emit outcomes.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::{sample_events_for, MemorySink, Step};
use siem_core::{EventFilter, EventId, EventType};
use siem_dispatch::{BufferPolicy, Dispatcher, EmitOutcome, OrgConfig, SinkConfig};

fn ids(events: &[Arc<siem_core::SecurityEvent>]) -> Vec<EventId> {
    events.iter().map(|e| e.event_id()).collect()
}

#[tokio::test(start_paused = true)]
async fn filters_route_only_subscribed_types() {
    let all = Arc::new(MemorySink::new("all"));
    let pii = Arc::new(MemorySink::new("pii"));
    let budget = Arc::new(MemorySink::new("budget"));
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(SinkConfig::new(all.clone()).filter(EventFilter::parse(["*"]).unwrap()))
        .sink(
            SinkConfig::new(pii.clone())
                .filter(EventFilter::parse(["dlp.pii_blocked", "dlp.pii_redacted"]).unwrap()),
        )
        .sink(
            SinkConfig::new(budget.clone())
                .filter(EventFilter::parse(["budget.exhausted"]).unwrap()),
        )])
    .unwrap();
    let events = sample_events_for("org_a");
    for e in &events {
        let expected = match e.event_type() {
            EventType::PiiBlocked | EventType::PiiRedacted | EventType::BudgetExhausted => 2,
            _ => 1,
        };
        assert_eq!(
            d.emit(e.clone()),
            EmitOutcome::Queued { sinks: expected },
            "{}",
            e.event_type()
        );
    }
    let report = d.shutdown(Duration::from_secs(10)).await;
    assert!(report.complete);
    assert_eq!(all.received().len(), 6);
    let types = |s: &MemorySink| -> Vec<String> {
        s.received()
            .iter()
            .map(|e| e.event_type().to_string())
            .collect()
    };
    assert_eq!(types(&pii), ["dlp.pii_blocked", "dlp.pii_redacted"]);
    assert_eq!(types(&budget), ["budget.exhausted"]);
    let org = report.stats.org("org_a").unwrap();
    assert_eq!(org.totals.queued, 9);
    assert_eq!(org.totals.delivered, 9);
}

#[tokio::test(start_paused = true)]
async fn unknown_org_and_unsubscribed_type_match_nothing() {
    let sink = Arc::new(MemorySink::new("s"));
    let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(
        SinkConfig::new(sink.clone()).filter(EventFilter::parse(["loop.detected"]).unwrap()),
    )])
    .unwrap();
    for e in sample_events_for("org_b") {
        assert_eq!(d.emit(e), EmitOutcome::NoMatch);
    }
    let pii = sample_events_for("org_a").remove(0);
    assert_eq!(d.emit(pii), EmitOutcome::NoMatch);
    let report = d.shutdown(Duration::from_secs(1)).await;
    assert_eq!(report.stats.totals.queued, 0);
    assert!(sink.received().is_empty());
    assert_eq!(
        d.emit(sample_events_for("org_a").remove(4)),
        EmitOutcome::Closed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sink_receives_exactly_its_orgs_matching_events_under_concurrent_emitters() {
    const ORGS: usize = 16;
    const PER_ORG: usize = 600;
    let mut sinks = Vec::new();
    let mut configs = Vec::new();
    for o in 0..ORGS {
        let org = format!("org_{o}");
        let all = Arc::new(MemorySink::new("all"));
        let dlp = Arc::new(MemorySink::new("dlp"));
        configs.push(
            OrgConfig::new(&org)
                .unwrap()
                .sink(SinkConfig::new(all.clone()))
                .sink(SinkConfig::new(dlp.clone()).filter(
                    EventFilter::parse(["dlp.pii_blocked", "dlp.injection_blocked"]).unwrap(),
                )),
        );
        sinks.push((org, all, dlp));
    }
    let d = Dispatcher::start(configs).unwrap();
    let emitter = d.emitter();
    // 4 threads, each emitting a quarter of every org's events, interleaved across orgs.
    let expected: Vec<Vec<siem_core::SecurityEvent>> = sinks
        .iter()
        .map(|(org, _, _)| common::events(org, PER_ORG))
        .collect();
    std::thread::scope(|s| {
        for t in 0..4 {
            let emitter = emitter.clone();
            let expected = &expected;
            s.spawn(move || {
                for i in (t..PER_ORG).step_by(4) {
                    for org_events in expected {
                        let out = emitter.emit(org_events[i].clone());
                        assert!(matches!(out, EmitOutcome::Queued { .. }), "{out:?}");
                    }
                }
            });
        }
    });
    let report = d.shutdown(Duration::from_secs(30)).await;
    assert!(report.complete, "{:?}", report.undelivered);
    for ((org, all, dlp), sent) in sinks.iter().zip(&expected) {
        let want_all: HashSet<EventId> = sent.iter().map(|e| e.event_id()).collect();
        let got_all: Vec<EventId> = ids(&all.received());
        assert_eq!(got_all.len(), PER_ORG, "{org}");
        assert_eq!(
            got_all.into_iter().collect::<HashSet<_>>(),
            want_all,
            "{org}"
        );
        let want_dlp: HashSet<EventId> = sent
            .iter()
            .filter(|e| {
                matches!(
                    e.event_type(),
                    EventType::PiiBlocked | EventType::InjectionBlocked
                )
            })
            .map(|e| e.event_id())
            .collect();
        let got_dlp = ids(&dlp.received());
        assert_eq!(got_dlp.len(), want_dlp.len(), "{org}");
        assert_eq!(
            got_dlp.into_iter().collect::<HashSet<_>>(),
            want_dlp,
            "{org}"
        );
        assert!(all.received().iter().all(|e| e.org_id().as_str() == org));
    }
    assert_eq!(
        report.stats.totals.delivered as usize,
        ORGS * PER_ORG + ORGS * PER_ORG / 3
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_on_one_sink_is_a_partial_drop() {
    let stuck = Arc::new(MemorySink::new("stuck"));
    stuck.set_fallback(Step::Hang);
    let ok = Arc::new(MemorySink::new("ok"));
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(SinkConfig::new(stuck.clone()).buffer(BufferPolicy::memory().max_events(2)))
        .sink(SinkConfig::new(ok.clone()))])
    .unwrap();
    let mut events = common::events("org_a", 3).into_iter();
    assert_eq!(
        d.emit(events.next().unwrap()),
        EmitOutcome::Queued { sinks: 2 }
    );
    assert_eq!(
        d.emit(events.next().unwrap()),
        EmitOutcome::Queued { sinks: 2 }
    );
    let out = d.emit(events.next().unwrap());
    assert_eq!(
        out,
        EmitOutcome::Dropped {
            queued: 1,
            dropped: 1
        }
    );
    assert_eq!((out.queued_sinks(), out.dropped_sinks()), (1, 1));
    let stats = d.stats();
    assert_eq!(stats.sink("org_a", "stuck").unwrap().counts.dropped, 1);
    assert_eq!(stats.sink("org_a", "ok").unwrap().counts.dropped, 0);
    let report = d.shutdown(Duration::from_secs(1)).await;
    assert_eq!(ok.received().len(), 3);
    let s = report.stats.sink("org_a", "stuck").unwrap();
    assert_eq!(
        (s.counts.queued, s.counts.failed, s.counts.dropped),
        (2, 2, 1)
    );
}

fn custom_event(org: &str, event_type: &str) -> siem_core::SecurityEvent {
    siem_core::SecurityEvent::from_json(&format!(
        r#"{{"event_type":"{event_type}","org_id":"{org}","project_id":"p1","details":{{"count":3}}}}"#
    ))
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn custom_event_types_route_by_exact_name() {
    let listed = Arc::new(MemorySink::new("listed"));
    let all = Arc::new(MemorySink::new("all"));
    let d = Dispatcher::start([OrgConfig::new("org_a")
        .unwrap()
        .sink(
            SinkConfig::new(listed.clone())
                .filter(EventFilter::parse(["acme.swap", "loop.detected"]).unwrap()),
        )
        .sink(SinkConfig::new(all.clone()))])
    .unwrap();
    assert_eq!(
        d.emit(custom_event("org_a", "acme.swap")),
        EmitOutcome::Queued { sinks: 2 }
    );
    assert_eq!(
        d.emit(custom_event("org_a", "acme.other")),
        EmitOutcome::Queued { sinks: 1 }
    );
    assert_eq!(
        d.emit(custom_event("org_b", "acme.swap")),
        EmitOutcome::NoMatch
    );
    let _ = d.shutdown(Duration::from_secs(1)).await;
    assert_eq!(listed.received().len(), 1);
    assert_eq!(all.received().len(), 2);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// `emit` answers for any valid event: any org id (configured or not, odd characters,
    /// maximum length), any known or custom type.
    #[test]
    fn emit_never_panics_and_routes_only_to_the_events_org(
        org in "[a-z_]{1,8}|[\\p{L}\\p{N} ._-]{1,128}",
        custom in proptest::option::of("[a-z]{1,10}\\.[a-z0-9_]{1,20}"),
        pick in 0usize..6,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        rt.block_on(async {
            let sink = Arc::new(MemorySink::new("s"));
            let d = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(SinkConfig::new(sink.clone()))]).unwrap();
            let event = match (&custom, siem_core::Ident::new(&org)) {
                (_, Err(_)) => return,
                (Some(t), Ok(_)) if !t.starts_with("dlp.") && !t.starts_with("siem.")
                    && !t.starts_with("budget.") && !t.starts_with("loop.") => {
                    match siem_core::SecurityEvent::from_json(&serde_json::json!({
                        "event_type": t, "org_id": org, "project_id": "p", "details": {"n": 1}
                    }).to_string()) {
                        Ok(e) => e,
                        Err(_) => return,
                    }
                }
                _ => sample_events_for(&org).swap_remove(pick),
            };
            let out = d.emit(event);
            let expected = if org == "org_a" { EmitOutcome::Queued { sinks: 1 } } else { EmitOutcome::NoMatch };
            assert_eq!(out, expected);
            let _ = d.shutdown(Duration::from_secs(1)).await;
            assert!(sink.received().iter().all(|e| e.org_id().as_str() == "org_a"));
        });
    }
}
