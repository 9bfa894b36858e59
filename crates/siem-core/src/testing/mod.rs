//! Test support (feature `testing`): an in-memory scripted sink, sample events, a
//! conformance suite that any [`SiemSink`](crate::SiemSink) can run from its own tests,
//! and helpers adapter tests share (fixture loading, [`assert_json_contains`],
//! [`RecordingCredential`], [`FailingCredential`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::sync::Arc;
//! use siem_core::testing::{sample_events, MemorySink, Step};
//! use siem_core::SiemSink;
//!
//! let sink = MemorySink::new("memory");
//! sink.script([Step::Fail(siem_core::testing::server_busy())]);
//! let events: Vec<_> = sample_events().into_iter().map(Arc::new).collect();
//! assert!(!sink.deliver(&events).await.is_complete()); // the scripted failure
//! assert!(sink.deliver(&events).await.is_complete());  // then the default: success
//! assert_eq!(sink.received().len(), events.len());
//! # }
//! ```

mod logs;
mod memory;
mod support;

pub mod conformance;
#[cfg(feature = "proptest")]
pub mod strategies;

pub use logs::LogCapture;
pub use memory::{server_busy, MemorySink, Step};
pub use support::{
    assert_json_contains, assert_rejected_as_too_large, assert_sent_all_but_big_events, big_event,
    event_needing_escapes, fixture_event, fixture_events, fixture_events_in, fixtures,
    fixtures_with_big_events, load_event, pii_blocked_needing_escapes, FailingCredential,
    RecordingCredential, BIG_EVENT_ORG,
};

use crate::details::{
    Blocked, BudgetExhausted, BudgetScope, Confidence, InjectionBlocked, Killed, LoopDetected,
    PiiBlocked, PiiRedacted, Redacted, SiemTest, Usd,
};
use crate::{Ident, SecurityEvent, Timestamp};

// Test support may panic on its own constants: they are valid by inspection.
fn ident(s: &str) -> Ident {
    Ident::new(s).expect("valid sample identifier")
}

/// One event of every known type, for org `org_test`, with fixed timestamps.
pub fn sample_events() -> Vec<SecurityEvent> {
    sample_events_for("org_test")
}

/// One event of every known type for the given org, with fixed timestamps.
pub fn sample_events_for(org_id: &str) -> Vec<SecurityEvent> {
    let t = |ms: i64| Timestamp::from_unix_millis(1_780_949_730_000 + ms).expect("in range");
    let usd = |v: f64| Usd::new(v).expect("valid amount");
    let details: Vec<(crate::Details, Option<&str>)> = vec![
        (
            PiiBlocked {
                entities_found: vec![ident("SSN"), ident("CREDIT_CARD")],
                action: Blocked,
                model: ident("gpt-4.1"),
            }
            .into(),
            Some("req_sample_1"),
        ),
        (
            InjectionBlocked {
                action: Blocked,
                model: ident("claude-sonnet-4.5"),
                detector: Some(ident("heuristic-v3")),
                confidence: Confidence::new(0.97).ok(),
            }
            .into(),
            Some("req_sample_2"),
        ),
        (
            PiiRedacted {
                entities_found: vec![ident("EMAIL")],
                redaction_count: 2,
                action: Redacted,
                model: ident("gpt-4.1-mini"),
            }
            .into(),
            Some("req_sample_3"),
        ),
        (
            BudgetExhausted {
                scope: BudgetScope::Project,
                limit_usd: usd(500.0),
                spent_usd: usd(500.37),
                period: ident("monthly"),
            }
            .into(),
            None,
        ),
        (
            LoopDetected {
                iterations: 240,
                window_seconds: 60,
                estimated_cost_per_hour_usd: Some(usd(104.5)),
                action: Killed,
                model: Some(ident("gpt-4.1")),
            }
            .into(),
            Some("req_sample_5"),
        ),
        (SiemTest::default().into(), None),
    ];
    details
        .into_iter()
        .enumerate()
        .map(|(i, (d, request_id))| {
            let mut b =
                SecurityEvent::builder(org_id, "proj_sample", d).timestamp(t(i as i64 * 250));
            if let Some(r) = request_id {
                b = b.request_id(r);
            }
            b.build().expect("valid sample event")
        })
        .collect()
}
