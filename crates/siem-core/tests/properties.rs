//! Property tests: arbitrary input to every constructor and parser returns `Ok` or a typed
//! error and never panics; valid events round-trip.

use proptest::prelude::*;
use siem_core::testing::strategies::arb_event;
use siem_core::{Endpoint, EventFilter, EventType, Ident, SecurityEvent, Severity, Timestamp};

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

    /// The direct writer (disk buffers) writes exactly serde's canonical JSON.
    #[test]
    fn the_direct_writer_writes_the_canonical_json(
        event in arb_event(),
    ) {
        let mut direct = Vec::new();
        event.write_json(&mut direct);
        prop_assert_eq!(String::from_utf8(direct).unwrap(), event.to_json());
    }

    /// `from_json` reads usual events with a hand-written reader; serde's `Deserialize`
    /// never uses it. Both must accept the same inputs and produce the same events,
    /// whatever the key order and whitespace.
    #[test]
    fn readers_agree_on_reordered_respaced_events(
        event in arb_event(),
        order in Just((0..9).collect::<Vec<usize>>()).prop_shuffle(),
        spaces in prop::collection::vec(prop::sample::select(vec!["", " ", "\n", "\t ", "\r\n"]), 40),
    ) {
        let value = serde_json::to_value(&event).unwrap();
        let fields: Vec<(&String, &serde_json::Value)> = value.as_object().unwrap().iter().collect();
        let mut json = String::from(spaces[0]);
        json.push('{');
        for (n, i) in order.iter().filter(|&&i| i < fields.len()).enumerate() {
            let (key, value) = fields[*i];
            if n > 0 {
                json.push(',');
            }
            json.push_str(&format!("{}\"{key}\"{}:{}{value}{}", spaces[4 * n + 1], spaces[4 * n + 2], spaces[4 * n + 3], spaces[4 * n + 4]));
        }
        json.push('}');
        json.push_str(spaces[39]);
        readers_agree(&json)?;
        prop_assert_eq!(SecurityEvent::from_json(&json).unwrap(), event);
    }

    /// Small edits of valid events (escapes, nulls, stray punctuation, control characters,
    /// cut-off text): the readers still agree on acceptance and on the result.
    #[test]
    fn readers_agree_on_edited_events(
        event in arb_event(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..3, prop::sample::select(vec![
            "", "\"", "\\", "\\u0041", "\\n", ",", ":", "{", "}", "[", "]", " ", "null", "1", "-0",
            "0", ".", "e", "E+", ".5", "1e400",
            "\u{7}", "é", "\"event_id\":\"x\",", "\"extra\":1,", "\"source\":\"aisg\",",
        ])), 1..4),
    ) {
        let mut json = event.to_json();
        for (at, remove, insert) in edits {
            let mut i = at.index(json.len() + 1);
            while !json.is_char_boundary(i) {
                i -= 1;
            }
            let mut end = i;
            for _ in 0..remove {
                if let Some(c) = json[end..].chars().next() {
                    end += c.len_utf8();
                }
            }
            json.replace_range(i..end, insert);
        }
        readers_agree(&json)?;
    }
}

proptest! {
    /// Number-shaped text (valid and not: leading zeros, lone dots, bare exponents, signs,
    /// out-of-range values) in every kind of numeric detail field.
    #[test]
    fn readers_agree_on_numbers(
        token in "[-+]?[0-9]{0,4}(\\.[0-9]{0,3})?([eE][-+]?[0-9]{0,4})?|[0-9]{19,21}|1e400|5e-324",
    ) {
        for details in [
            format!(r#""budget.exhausted","details":{{"scope":"user","limit_usd":{token},"spent_usd":1,"period":"daily"}}"#),
            format!(r#""dlp.pii_redacted","details":{{"entities_found":[],"redaction_count":{token},"action":"redacted","model":"m"}}"#),
            format!(r#""loop.detected","details":{{"iterations":{token},"window_seconds":60,"action":"killed"}}"#),
            format!(r#""dlp.injection_blocked","details":{{"action":"blocked","model":"m","confidence":{token}}}"#),
        ] {
            let json = format!(
                r#"{{"event_id":"a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e6","timestamp":"2026-01-01T00:00:00Z","org_id":"o","project_id":"p","event_type":{details}}}"#
            );
            readers_agree(&json)?;
        }
    }
}

fn readers_agree(json: &str) -> Result<(), TestCaseError> {
    let ours = SecurityEvent::from_json(json);
    let serde = serde_json::from_str::<SecurityEvent>(json);
    prop_assert_eq!(
        ours.is_ok(),
        serde.is_ok(),
        "input {}: from_json {:?}, serde {:?}",
        json,
        ours.as_ref().err(),
        serde.as_ref().err()
    );
    if let (Ok(a), Ok(b)) = (ours, serde) {
        let (mut a, mut b) = (
            serde_json::to_value(&a).unwrap(),
            serde_json::to_value(&b).unwrap(),
        );
        // Missing ids and timestamps are filled with fresh values on each parse.
        for key in ["event_id", "timestamp"] {
            if !json.contains(&format!("\"{key}\"")) {
                a.as_object_mut().unwrap().remove(key);
                b.as_object_mut().unwrap().remove(key);
            }
        }
        prop_assert_eq!(a, b, "input {}", json);
    }
    Ok(())
}

/// The reader takes the usual id, type, severity and timestamp in place (without looking
/// for the closing quote) and everything else by scanning: values next to the usual ones
/// (other lengths, cases and forms, a quote or backslash where the usual value ends) must
/// give what serde gives.
#[test]
fn readers_agree_around_the_in_place_values() {
    let base = r#"{"event_id":"a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e6","event_type":"budget.exhausted","org_id":"o","project_id":"p","severity":"high","timestamp":"2026-01-01T00:00:00.250Z","details":{"scope":"project","limit_usd":5.0,"spent_usd":5.5,"period":"monthly"}}"#;
    let replacements: &[(&str, &[&str])] = &[
        (
            "a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e6",
            &[
                "A1A2A3A4-B1B2-4C1C-8D1D-E1E2E3E4E5E6",
                "a1a2a3a4b1b24c1c8d1de1e2e3e4e5e6",
                "{a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e6}",
                "a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e",
                "a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e6a",
                "a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5\\\"",
                "a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5\\u0036",
                "a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e\"5e6",
            ],
        ),
        (
            "budget.exhausted",
            &[
                "budget.exhauste",
                "budget.exhausted2",
                "Budget.exhausted",
                "budget.exhauste\\u0064",
                "loop.detected",
                "dlp.injection_blocked",
                "acme.custom_type",
                "siem.test",
            ],
        ),
        (
            "high",
            &[
                "HIGH",
                "High",
                "hig",
                "highh",
                "hig\\u0068",
                "critical",
                "info",
            ],
        ),
        (
            "2026-01-01T00:00:00.250Z",
            &[
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:01.250Z",
                "2026-01-01T00:00:00.25Z",
                "2026-01-01T00:00:00.2500Z",
                "2026-01-01T00:00:00.250+00:00",
                "2026-01-01T00:00:00,250Z",
                "2026-01-01T00:00:60.250Z",
                "2026-01-01T00:00:00.250z",
                "2026-01-01T00:00:00.25\\u0030Z",
            ],
        ),
    ];
    // The closing quote replaced: the text that follows is then inside the string.
    let unterminated: &[(&str, &[&str])] = &[
        ("e5e6\",", &["e5e6x,"]),
        ("exhausted\",", &["exhaustedx,"]),
        ("high\",", &["highx,"]),
        ("250Z\",", &["250Zx,"]),
    ];
    readers_agree(base).unwrap();
    for (usual, others) in replacements.iter().chain(unterminated) {
        for other in *others {
            // Twice: the second read of a timestamp meets the reader's same-minute cache.
            for _ in 0..2 {
                readers_agree(&base.replace(usual, other)).unwrap();
            }
        }
    }
}

proptest! {
    /// Lines read as bytes: valid UTF-8 gives what the text reader gives, anything else
    /// (a byte that breaks UTF-8 anywhere in the line) is an error.
    #[test]
    fn byte_lines_are_read_as_their_text_or_refused(
        event in arb_event(),
        at in any::<prop::sample::Index>(),
        bad in prop::sample::select(vec![0x80u8, 0xc3, 0xe2, 0xf0, 0xff]),
    ) {
        let json = event.to_json();
        let as_text = SecurityEvent::from_json(&json).map(|e| e.to_json());
        let as_bytes = SecurityEvent::from_json_slice(json.as_bytes()).map(|e| e.to_json());
        prop_assert_eq!(as_text.ok(), as_bytes.ok());
        let mut broken = json.into_bytes();
        broken.insert(at.index(broken.len() + 1), bad);
        prop_assert!(std::str::from_utf8(&broken).is_err());
        prop_assert!(SecurityEvent::from_json_slice(&broken).is_err());
    }
}
