//! JSON writing for encoders that build bodies by hand into one reusable buffer (the
//! details writer is [`Details::write_json`](crate::Details::write_json), beside the types).
//!
//! The output is byte-for-byte what `serde_json` writes for the same string (short escapes
//! for `\b \f \n \r \t`, `\u00XX` in lowercase hex for other control characters, `\"` and
//! `\\`, everything else verbatim), but without going through a serializer per field.
//!
//! ```
//! let mut out = Vec::new();
//! siem_core::json::push_str(&mut out, "req \"1\"\n");
//! assert_eq!(out, br#""req \"1\"\n""#);
//! assert_eq!(serde_json::to_vec("req \"1\"\n").unwrap(), out);
//! ```

use super::scan::{any_needs_escape, needs_escape, word_bytes};

/// Appends `s` as a quoted JSON string. Inlined, like [`push_str_contents`]: encoders
/// call it for most of an event's values.
#[inline(always)]
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_str_contents(out, s);
    out.push(b'"');
}

/// Appends the escaped contents of `s` without quotes, for building one JSON string from
/// several parts.
///
/// Inlined: an event's strings are short and almost never need escaping, so the call, the
/// scan and a `memcpy` call cost more than the bytes; the plain case is a scan of one or
/// two words and fixed-size copies, and anything to escape goes out of line.
#[inline(always)]
pub fn push_str_contents(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if any_needs_escape(bytes) {
        push_escaped(out, bytes);
    } else {
        push_bytes(out, bytes);
    }
}

/// Appends `bytes`, with fixed-size copies (two overlapping ones) up to 16 bytes.
#[inline(always)]
fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    let start = out.len();
    match n {
        8..=16 => {
            out.extend_from_slice(&word_bytes::<8>(bytes, 0));
            out.truncate(start + n - 8);
            out.extend_from_slice(&word_bytes::<8>(bytes, n - 8));
        }
        4..=7 => {
            out.extend_from_slice(&word_bytes::<4>(bytes, 0));
            out.truncate(start + n - 4);
            out.extend_from_slice(&word_bytes::<4>(bytes, n - 4));
        }
        _ => out.extend_from_slice(bytes),
    }
}

#[cold]
#[inline(never)]
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if needs_escape(b) {
            out.extend_from_slice(&bytes[start..i]);
            push_escape(out, b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether `s` can be written between quotes as it is: no byte needs JSON escaping and
/// none is `forbidden` (an ASCII character, e.g. the `,` of a tag list). Lets an encoder
/// that writes one value several times scan it once.
///
/// ```
/// use siem_core::json::is_plain;
/// assert!(is_plain("proj_search", b','));
/// assert!(!is_plain("a,b", b','));
/// assert!(!is_plain("say \"hi\"", b','));
/// ```
#[inline]
pub fn is_plain(s: &str, forbidden: u8) -> bool {
    !s.as_bytes().contains(&forbidden) && !any_needs_escape(s.as_bytes())
}

/// Like [`push_str_contents`], but also writes `replacement` for every `forbidden` byte
/// (an ASCII character), e.g. to keep `,` out of a comma-separated tag list.
pub fn push_str_contents_replacing(out: &mut Vec<u8>, s: &str, forbidden: u8, replacement: u8) {
    let bytes = s.as_bytes();
    if is_plain(s, forbidden) {
        out.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        if b == forbidden {
            push_str_contents(out, char::from(replacement).encode_utf8(&mut [0; 4]));
        } else if needs_escape(b) {
            push_escape(out, b);
        } else {
            out.push(b);
        }
    }
}

fn push_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
    }
}

/// Appends a whole number (two digits per step, by `itoa`: Splunk's `time` alone is ten
/// digits on every event).
#[inline]
pub fn push_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Appends milliseconds since the Unix epoch as seconds with exactly three decimals, e.g.
/// `1780949730250` → `1780949730.250` (the form Splunk's HEC `time` reads).
#[inline]
pub fn push_epoch_seconds_millis(out: &mut Vec<u8>, millis: i64) {
    if millis < 0 {
        out.push(b'-');
    }
    let abs = millis.unsigned_abs();
    push_u64(out, abs / 1000);
    let frac = abs % 1000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

/// `key` (a constant with its punctuation) and `value` as a JSON string. Inlined, so that
/// both are copied with their lengths known and a constant word's scan is folded away.
#[inline(always)]
pub(crate) fn push_word_field(out: &mut Vec<u8>, key: &[u8], value: &str) {
    out.extend_from_slice(key);
    push_str(out, value);
}

pub(crate) fn push_labels(out: &mut Vec<u8>, labels: &[crate::Ident]) {
    out.push(b'[');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, label.as_str());
    }
    out.push(b']');
}

/// A finite number as `serde_json` writes it (amounts are finite by construction).
pub(crate) fn push_f64(out: &mut Vec<u8>, value: f64) {
    // Writing a number to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &value);
}

/// Appends an event id in its lowercase hyphenated form (36 bytes, no quotes).
pub fn push_event_id(out: &mut Vec<u8>, id: crate::EventId) {
    out.extend_from_slice(&id.hyphenated());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_match_serde_json_for_every_ascii_byte_and_unicode() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é😀\u{2028}");
        for s in [all.as_str(), "", "plain", "a\"b\\c", "\u{7f}"] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn details_are_written_exactly_as_serde_json_writes_them() {
        use crate::details::*;
        use crate::Details;
        let id = |s: &str| crate::Ident::new(s).unwrap();
        let mut all: Vec<Details> = crate::testing::sample_events()
            .iter()
            .map(|e| e.details().clone())
            .collect();
        all.extend([
            InjectionBlocked {
                action: Blocked,
                model: id("m\"odel"),
                detector: None,
                confidence: None,
            }
            .into(),
            InjectionBlocked {
                action: Blocked,
                model: id("m"),
                detector: Some(id("d\\x")),
                confidence: Some(Confidence::new(1.0).unwrap()),
            }
            .into(),
            LoopDetected {
                iterations: u64::MAX,
                window_seconds: 0,
                estimated_cost_per_hour_usd: None,
                action: Killed,
                model: None,
            }
            .into(),
            LoopDetected {
                iterations: 3,
                window_seconds: 60,
                estimated_cost_per_hour_usd: Some(Usd::new(1e21).unwrap()),
                action: Killed,
                model: Some(id("é")),
            }
            .into(),
            BudgetExhausted {
                scope: BudgetScope::User,
                limit_usd: Usd::new(0.1 + 0.2).unwrap(),
                spent_usd: Usd::new(5e-324).unwrap(),
                period: id("daily"),
            }
            .into(),
            PiiRedacted {
                entities_found: vec![],
                redaction_count: u32::MAX,
                action: Redacted,
                model: id("m"),
            }
            .into(),
            PiiBlocked {
                entities_found: vec![id("SSN"), id("EMAIL")],
                action: Blocked,
                model: id("m"),
            }
            .into(),
        ]);
        let custom = r#"{"event_type":"acme.model_swap","org_id":"o","project_id":"p",
            "details":{"n":1,"flag":true,"labels":["a","b\"c"],"x":1.5,"label":"lab"}}"#;
        all.push(
            crate::SecurityEvent::from_json(custom)
                .unwrap()
                .details()
                .clone(),
        );
        let kinds: std::collections::HashSet<_> = all.iter().map(|d| d.event_type()).collect();
        assert!(
            kinds.len() >= 7,
            "every known type and a custom one: {kinds:?}"
        );
        for details in &all {
            let mut out = Vec::new();
            details.write_json(&mut out, b"{}");
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(details).unwrap()
            );
        }
    }

    #[test]
    fn plain_strings_of_every_length_are_copied_whole_after_what_is_there() {
        for len in 0..40 {
            let s: String = (0..len)
                .map(|i| char::from(b'A' + (i % 58) as u8))
                .collect();
            let s = s.replace(['\\', '"'], "x");
            let mut out = b"{\"k\":".to_vec();
            push_str(&mut out, &s);
            let mut expected = b"{\"k\":".to_vec();
            expected.extend(serde_json::to_vec(&s).unwrap());
            assert_eq!(out, expected, "len {len}");
        }
    }

    #[test]
    fn replacing_writes_the_replacement_and_still_escapes() {
        let mut out = Vec::new();
        push_str_contents_replacing(&mut out, "a,b\"c", b',', b'_');
        assert_eq!(out, br#"a_b\"c"#);
    }

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        push_u64(&mut out, 0);
        out.push(b' ');
        push_u64(&mut out, u64::MAX);
        out.push(b' ');
        push_epoch_seconds_millis(&mut out, 1_780_949_730_250);
        out.push(b' ');
        push_epoch_seconds_millis(&mut out, 5);
        out.push(b' ');
        push_epoch_seconds_millis(&mut out, -1_500);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0 18446744073709551615 1780949730.250 0.005 -1.500"
        );
    }
}
