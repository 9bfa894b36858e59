//! Proptest strategies for valid events (feature `proptest`): shared by the core's property
//! tests and the workspace's encoder agreement test.

use proptest::prelude::*;

use crate::details::{
    Blocked, BudgetExhausted, BudgetScope, Confidence, InjectionBlocked, Killed, LoopDetected,
    PiiBlocked, PiiRedacted, Redacted, SiemTest, Usd,
};
use crate::{Details, Ident, SecurityEvent, Severity, Timestamp};

/// A valid identifier: ASCII or any printable text.
pub fn ident() -> impl Strategy<Value = Ident> {
    "[a-zA-Z0-9_.:-]{1,40}|\\PC{1,20}".prop_filter_map("valid", |s| Ident::new(&s).ok())
}

/// A valid amount.
pub fn usd() -> impl Strategy<Value = Usd> {
    (0.0f64..1e9).prop_map(|v| Usd::new(v).unwrap())
}

/// Details of any gateway type.
pub fn arb_details() -> impl Strategy<Value = Details> {
    prop_oneof![
        (prop::collection::vec(ident(), 0..4), ident()).prop_map(|(e, m)| PiiBlocked {
            entities_found: e,
            action: Blocked,
            model: m
        }
        .into()),
        (
            ident(),
            prop::option::of(ident()),
            prop::option::of(0.0f64..=1.0)
        )
            .prop_map(|(m, d, c)| InjectionBlocked {
                action: Blocked,
                model: m,
                detector: d,
                confidence: c.map(|c| Confidence::new(c).unwrap()),
            }
            .into()),
        (prop::collection::vec(ident(), 0..4), any::<u32>(), ident()).prop_map(|(e, n, m)| {
            PiiRedacted {
                entities_found: e,
                redaction_count: n,
                action: Redacted,
                model: m,
            }
            .into()
        }),
        (any::<bool>(), usd(), usd(), ident()).prop_map(|(user, l, s, p)| BudgetExhausted {
            scope: if user {
                BudgetScope::User
            } else {
                BudgetScope::Project
            },
            limit_usd: l,
            spent_usd: s,
            period: p,
        }
        .into()),
        (
            any::<u64>(),
            any::<u64>(),
            prop::option::of(usd()),
            prop::option::of(ident())
        )
            .prop_map(|(i, w, c, m)| LoopDetected {
                iterations: i,
                window_seconds: w,
                estimated_cost_per_hour_usd: c,
                action: Killed,
                model: m,
            }
            .into()),
        Just(SiemTest::default().into()),
    ]
}

/// A valid event of any gateway type, severity, time (microseconds included) and ids.
pub fn arb_event() -> impl Strategy<Value = SecurityEvent> {
    (
        ident(),
        ident(),
        prop::option::of(ident()),
        arb_details(),
        prop::sample::select(Severity::ALL.to_vec()),
        0i64..4_102_444_800_000,
        0u32..1000,
    )
        .prop_map(
            |(org, project, request, details, severity, millis, micros)| {
                let ts = Timestamp::from_offset_date_time(
                    Timestamp::from_unix_millis(millis)
                        .unwrap()
                        .as_offset_date_time()
                        + time::Duration::microseconds(i64::from(micros)),
                );
                let mut b = SecurityEvent::builder(org.as_str(), project.as_str(), details)
                    .severity(severity)
                    .timestamp(ts);
                if let Some(r) = request {
                    b = b.request_id(r.as_str());
                }
                b.build().unwrap()
            },
        )
}
