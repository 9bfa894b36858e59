//! Property tests: arbitrary input to every constructor and parser returns `Ok` or a typed
//! error and never panics; valid events round-trip.

use proptest::prelude::*;
use siem_core::details::{
    Blocked, BudgetExhausted, BudgetScope, Confidence, InjectionBlocked, Killed, LoopDetected,
    PiiBlocked, PiiRedacted, Redacted, SiemTest, Usd,
};
use siem_core::{
    Details, Endpoint, EventFilter, EventType, Ident, SecurityEvent, Severity, Timestamp,
};

proptest! {
    #[test]
    fn parsers_never_panic(s in any::<String>()) {
        let _ = Ident::new(&s);
        let _ = s.parse::<EventType>();
        let _ = s.parse::<Severity>();
        let _ = s.parse::<Timestamp>();
        let _ = Endpoint::parse(&s);
        let _ = EventFilter::parse([s.as_str()]);
        let _ = SecurityEvent::from_json(&s);
        let _ = SecurityEvent::from_json_slice(s.as_bytes());
    }

    #[test]
    fn event_parser_never_panics_on_json_shaped_input(
        event_type in prop::sample::select(vec!["dlp.pii_blocked", "dlp.injection_blocked",
            "dlp.pii_redacted", "budget.exhausted", "loop.detected", "siem.test", "x.y", "dlp.x"]),
        details in any::<String>(),
        org in any::<String>(),
    ) {
        let json = format!(
            r#"{{"event_type":{},"org_id":{},"project_id":"p","details":{}}}"#,
            serde_json::to_string(event_type).unwrap(),
            serde_json::to_string(&org).unwrap(),
            details,
        );
        let _ = SecurityEvent::from_json(&json);
    }

    #[test]
    fn ident_accepts_exactly_short_printable_strings(s in "\\PC{0,140}") {
        let chars = s.chars().count();
        match Ident::new(&s) {
            Ok(id) => {
                prop_assert!((1..=128).contains(&chars));
                prop_assert_eq!(id.as_str(), s.as_str());
            }
            Err(_) => {
                let invisible = |c: char| c.is_control()
                    || ('\u{200B}'..='\u{200F}').contains(&c)
                    || ('\u{202A}'..='\u{202E}').contains(&c)
                    || ('\u{2060}'..='\u{2069}').contains(&c)
                    || matches!(c, '\u{FEFF}' | '\u{2028}' | '\u{2029}');
                let rejected_for_a_reason = chars == 0 || chars > 128 || s.chars().any(invisible);
                prop_assert!(rejected_for_a_reason);
            }
        }
    }

    #[test]
    fn valid_events_round_trip(
        event in arb_event(),
    ) {
        let json = event.to_json();
        let back = SecurityEvent::from_json(&json).unwrap();
        prop_assert_eq!(back, event);
    }
}

fn ident() -> impl Strategy<Value = Ident> {
    "[a-zA-Z0-9_.:-]{1,40}|\\PC{1,20}".prop_filter_map("valid", |s| Ident::new(&s).ok())
}

fn usd() -> impl Strategy<Value = Usd> {
    (0.0f64..1e9).prop_map(|v| Usd::new(v).unwrap())
}

fn arb_details() -> impl Strategy<Value = Details> {
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

fn arb_event() -> impl Strategy<Value = SecurityEvent> {
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
