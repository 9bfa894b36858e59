//! A hand-written reader for events in their usual shape.
//!
//! `siem forward` parses every line it reads, and serde's generic machinery (field-name
//! matching, `Option` wrappers, capturing `details` as raw JSON before typing it) was most
//! of that cost. This reader handles the event directly: known keys in any order, string
//! values without escapes, numbers in JSON's grammar, JSON whitespace; the details of the
//! gateway's five types are read the same way (test and custom details go through serde).
//! On anything else (an escape, `null`, a negative number, an unknown or repeated key, a
//! value that fails validation, malformed JSON) it returns `None` and
//! [`SecurityEvent::from_json`] falls back to serde, which accepts or explains the input.
//! So it never accepts what serde rejects, and the values it produces come from the same
//! validating constructors (see the differential property tests in `tests/properties.rs`).

use serde::de::DeserializeSeed as _;

use super::scan::quote_or_backslash;
use crate::details::{
    Blocked, BudgetExhausted, BudgetScope, Confidence, Details, InjectionBlocked, Killed,
    LoopDetected, PiiBlocked, PiiRedacted, Redacted, Usd,
};
use crate::event::{parse_other_uuid_forms, DetailsSeed, EventId, SecurityEvent, WireEvent};
use crate::event_type::EventType;
use crate::ident::{intern, Ident};
use crate::severity::Severity;
use crate::timestamp::Timestamp;

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`
const UUID_LEN: usize = 36;
/// `2026-06-08T20:15:30.250Z`, the gateway's form.
const MILLIS_TIMESTAMP_LEN: usize = 24;

/// The one entry point: the event in `json` when it has the usual shape, `None` otherwise
/// (the caller falls back to serde).
pub(crate) fn read_event(json: &str) -> Option<SecurityEvent> {
    let mut r = Reader { text: json, pos: 0 };
    r.skip_ws();
    r.expect(b'{')?;
    let mut seen = 0u16;
    let (mut event_id, mut event_type, mut org_id, mut project_id) = (None, None, None, None);
    let (mut request_id, mut severity, mut source, mut timestamp) = (None, None, None, None);
    let mut details = None;
    let mut captured_details = None;
    loop {
        r.skip_ws();
        let index = r.key()?;
        if seen & (1 << index) != 0 {
            return None;
        }
        seen |= 1 << index;
        r.colon()?;
        match index {
            // The usual forms of the id, the type, the severity and the timestamp are read
            // in place; anything else is scanned for its end and parsed in full.
            0 => {
                event_id = Some(match r.fixed(UUID_LEN, EventId::from_hyphenated) {
                    Some(id) => id,
                    None => {
                        let text = r.plain_string()?;
                        EventId::from_hyphenated(text)
                            .or_else(|| parse_other_uuid_forms(text).ok())?
                    }
                });
            }
            1 => {
                let known = EventType::KNOWN.iter().map(|t| (t.as_str(), t));
                event_type = Some(match r.quoted_word(known) {
                    Some(known) => known.clone(),
                    None => EventType::parse_for_reader(r.plain_string()?)?,
                });
            }
            2 => org_id = Some(intern(r.plain_string()?).ok()?),
            3 => project_id = Some(intern(r.plain_string()?).ok()?),
            4 => request_id = Some(Ident::new(r.plain_string()?).ok()?),
            5 => {
                let words = Severity::ALL.map(|s| (s.as_str(), s));
                severity = Some(match r.quoted_word(words) {
                    Some(severity) => severity,
                    None => Severity::parse_for_reader(r.plain_string()?)?,
                });
            }
            6 => source = Some(intern(r.plain_string()?).ok()?),
            7 => {
                timestamp = Some(
                    match r.fixed(MILLIS_TIMESTAMP_LEN, Timestamp::parse_recent) {
                        Some(t) => t,
                        None => Timestamp::parse_for_reader(r.plain_string()?)?,
                    },
                );
            }
            // Usually the type came first: read the details where they stand. Otherwise
            // keep their text until the type is known.
            _ => match &event_type {
                Some(event_type) => details = Some(read_details(event_type, &mut r)?),
                None => captured_details = Some(r.object()?),
            },
        }
        r.skip_ws();
        match r.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    r.skip_ws();
    if r.pos != json.len() {
        return None;
    }
    let event_type = event_type?;
    let details = match (details, captured_details) {
        (Some(details), _) => details,
        (None, Some(text)) => {
            let mut r = Reader { text, pos: 0 };
            let details = read_details(&event_type, &mut r)?;
            (r.pos == text.len()).then_some(details)?
        }
        (None, None) => return None,
    };
    let wire = WireEvent {
        event_id,
        event_type,
        org_id: org_id?,
        project_id: project_id?,
        request_id,
        severity,
        source,
        timestamp,
        details: (),
    };
    Some(wire.finish(details))
}

/// Reads the details object at the reader's position (leaving the reader just after it):
/// the gateway's own detail types by hand, the rest (test and custom events) by serde.
fn read_details(event_type: &EventType, r: &mut Reader<'_>) -> Option<Details> {
    let details: Details = match event_type {
        EventType::PiiBlocked => {
            let (mut entities, mut action, mut model) = (None, None, None);
            r.fields(["entities_found", "action", "model"], |key, r| match key {
                0 => set(&mut entities, r.labels()?),
                1 => set(&mut action, r.word(Blocked::WORD)?),
                _ => set(&mut model, r.label()?),
            })?;
            PiiBlocked {
                entities_found: entities?,
                action: action.map(|()| Blocked)?,
                model: model?,
            }
            .into()
        }
        EventType::PiiRedacted => {
            let (mut entities, mut count, mut action, mut model) = (None, None, None, None);
            let keys = ["entities_found", "redaction_count", "action", "model"];
            r.fields(keys, |key, r| match key {
                0 => set(&mut entities, r.labels()?),
                1 => set(&mut count, u32::try_from(r.unsigned()?).ok()?),
                2 => set(&mut action, r.word(Redacted::WORD)?),
                _ => set(&mut model, r.label()?),
            })?;
            PiiRedacted {
                entities_found: entities?,
                redaction_count: count?,
                action: action.map(|()| Redacted)?,
                model: model?,
            }
            .into()
        }
        EventType::InjectionBlocked => {
            let (mut action, mut model, mut detector, mut confidence) = (None, None, None, None);
            let keys = ["action", "model", "detector", "confidence"];
            r.fields(keys, |key, r| match key {
                0 => set(&mut action, r.word(Blocked::WORD)?),
                1 => set(&mut model, r.label()?),
                2 => set(&mut detector, r.label()?),
                _ => set(&mut confidence, Confidence::new(r.number()?).ok()?),
            })?;
            InjectionBlocked {
                action: action.map(|()| Blocked)?,
                model: model?,
                detector,
                confidence,
            }
            .into()
        }
        EventType::BudgetExhausted => {
            let (mut scope, mut limit, mut spent, mut period) = (None, None, None, None);
            let keys = ["scope", "limit_usd", "spent_usd", "period"];
            r.fields(keys, |key, r| match key {
                0 => {
                    let scopes = [
                        ("project", BudgetScope::Project),
                        ("user", BudgetScope::User),
                    ];
                    set(&mut scope, r.quoted_word(scopes)?)
                }
                1 => set(&mut limit, Usd::new(r.number()?).ok()?),
                2 => set(&mut spent, Usd::new(r.number()?).ok()?),
                _ => set(&mut period, r.label()?),
            })?;
            BudgetExhausted {
                scope: scope?,
                limit_usd: limit?,
                spent_usd: spent?,
                period: period?,
            }
            .into()
        }
        EventType::LoopDetected => {
            let (mut iterations, mut window, mut cost, mut action, mut model) =
                (None, None, None, None, None);
            let keys = [
                "iterations",
                "window_seconds",
                "estimated_cost_per_hour_usd",
                "action",
                "model",
            ];
            r.fields(keys, |key, r| match key {
                0 => set(&mut iterations, r.unsigned()?),
                1 => set(&mut window, r.unsigned()?),
                2 => set(&mut cost, Usd::new(r.number()?).ok()?),
                3 => set(&mut action, r.word(Killed::WORD)?),
                _ => set(&mut model, r.label()?),
            })?;
            LoopDetected {
                iterations: iterations?,
                window_seconds: window?,
                estimated_cost_per_hour_usd: cost,
                action: action.map(|()| Killed)?,
                model,
            }
            .into()
        }
        EventType::SiemTest | EventType::Custom(_) => {
            let text = r.object()?;
            let mut de = serde_json::Deserializer::from_str(text);
            let details = DetailsSeed(event_type).deserialize(&mut de).ok()?;
            de.end().ok()?;
            details
        }
    };
    Some(details)
}

/// Stores a field's value; a field seen twice is left to serde (which rejects it).
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// The number at the start of `bytes` when it is written `digits[.digits]` with at most
/// 15 digits in all (amounts, scores, counts) and ends there (no exponent follows), with
/// the length of its text: one pass, where the general path finds the token by JSON's
/// grammar and then parses it. The value is the integer of the digits divided by a power
/// of ten; both are exact in `f64` (below 2^53 and 10^22) and IEEE division rounds
/// correctly, so it is the correctly rounded value that `str::parse` gives. `None` for any
/// other form (which the general path then reads or refuses).
#[inline]
fn short_decimal(bytes: &[u8]) -> Option<(f64, usize)> {
    const POWERS_OF_TEN: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (digits, whole) = leading_digits(bytes);
    // A leading zero is JSON only alone; the general path refuses the rest.
    if whole == 0 || whole > 15 || (whole > 1 && bytes[0] == b'0') {
        return None;
    }
    let (mut value, mut len, mut fraction) = (digits, whole, 0);
    if bytes.get(len) == Some(&b'.') {
        let (more, count) = leading_digits(&bytes[len + 1..]);
        if count == 0 || whole + count > 15 {
            return None;
        }
        value = digits * 10u64.pow(count as u32) + more;
        len += 1 + count;
        fraction = count;
    }
    if matches!(bytes.get(len), Some(b'e' | b'E')) {
        return None;
    }
    Some((value as f64 / POWERS_OF_TEN[fraction], len))
}

/// The value of the ASCII digits at the start of `bytes` and how many there are; the value
/// is only meaningful for at most 19 digits (callers refuse longer runs).
#[inline]
fn leading_digits(bytes: &[u8]) -> (u64, usize) {
    let mut value: u64 = 0;
    let mut count = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            break;
        }
        value = value.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
        count += 1;
    }
    (value, count)
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        // Usually there is none: one comparison (every JSON whitespace byte is <= b' ').
        if self.bytes().get(self.pos).is_some_and(|&b| b > b' ') {
            return;
        }
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    /// The `:` after a key, with any whitespace around it.
    #[inline(always)]
    fn colon(&mut self) -> Option<()> {
        if self.bytes().get(self.pos) == Some(&b':')
            && self.bytes().get(self.pos + 1).is_some_and(|&b| b > b' ')
        {
            self.pos += 1;
            return Some(());
        }
        self.skip_ws();
        self.expect(b':')?;
        self.skip_ws();
        Some(())
    }

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes().get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// A string without escapes, borrowed. Control characters are left to the validating
    /// constructors, which reject them all (as serde rejects them in JSON strings).
    #[inline]
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        let len = quote_or_backslash(&self.bytes()[start..])?;
        if self.bytes()[start + len] != b'"' {
            return None;
        }
        self.pos = start + len + 1;
        self.text.get(start..start + len)
    }

    /// A string of exactly `len` bytes, read in place when `parse` takes it: no scan for
    /// its end, since `parse` accepts neither `"` nor `\\` (so the quote after `len` bytes
    /// is the string's end). Otherwise `None`, and the reader has not moved.
    #[inline]
    fn fixed<T>(&mut self, len: usize, parse: impl FnOnce(&'a str) -> Option<T>) -> Option<T> {
        let start = self.pos + 1;
        let bytes = self.bytes();
        if bytes.get(self.pos) != Some(&b'"') || bytes.get(start + len) != Some(&b'"') {
            return None;
        }
        let value = parse(self.text.get(start..start + len)?)?;
        self.pos = start + len + 1;
        Some(value)
    }

    /// The value of the first of `words` that the string here is exactly, compared in
    /// place; otherwise `None`, and the reader has not moved.
    #[inline]
    fn quoted_word<'w, T>(&mut self, words: impl IntoIterator<Item = (&'w str, T)>) -> Option<T> {
        let rest = self.bytes().get(self.pos..)?;
        let [b'"', rest @ ..] = rest else {
            return None;
        };
        for (word, value) in words {
            let word = word.as_bytes();
            if rest.get(word.len()) == Some(&b'"') && rest.starts_with(word) {
                self.pos += word.len() + 2;
                return Some(value);
            }
        }
        None
    }

    /// A top-level key, as its index (its bit in the parser's `seen` mask). Compares the
    /// text with the one key it can be: a fixed-length comparison each, where reading the
    /// key as a string first cost a scan and a search.
    #[inline]
    fn key(&mut self) -> Option<usize> {
        let rest = &self.bytes()[self.pos..];
        let is = |key: &[u8]| rest.starts_with(key);
        let (index, len) = match rest.get(1)? {
            b'e' if is(b"\"event_id\"") => (0, 10),
            b'e' if is(b"\"event_type\"") => (1, 12),
            b'o' if is(b"\"org_id\"") => (2, 8),
            b'p' if is(b"\"project_id\"") => (3, 12),
            b'r' if is(b"\"request_id\"") => (4, 12),
            b's' if is(b"\"severity\"") => (5, 10),
            b's' if is(b"\"source\"") => (6, 8),
            b't' if is(b"\"timestamp\"") => (7, 11),
            b'd' if is(b"\"details\"") => (8, 9),
            _ => return None,
        };
        self.pos += len;
        Some(index)
    }

    /// Reads a JSON object whose keys are all among `keys`, handing each key's index and
    /// the reader, positioned at its value, to `field`, which must consume the value. Keys
    /// are compared in place; any other key (or one written with an escape) is `None`.
    fn fields<const N: usize>(
        &mut self,
        keys: [&str; N],
        mut field: impl FnMut(usize, &mut Self) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        self.skip_ws();
        if self.bytes().get(self.pos) == Some(&b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                let key = self.quoted_word(keys.into_iter().zip(0..))?;
                self.colon()?;
                field(key, self)?;
                self.skip_ws();
                match self.next()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        Some(())
    }

    /// One of the fixed words.
    fn word(&mut self, expected: &str) -> Option<()> {
        self.quoted_word([(expected, ())])
    }

    /// A label, interned like serde's reader does.
    fn label(&mut self) -> Option<Ident> {
        intern(self.plain_string()?).ok()
    }

    /// An array of labels.
    fn labels(&mut self) -> Option<Vec<Ident>> {
        self.expect(b'[')?;
        self.skip_ws();
        if self.bytes().get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Some(Vec::new());
        }
        // Room for the usual few labels up front: growing from empty goes through the
        // vector's out-of-line growth path.
        let mut labels = Vec::with_capacity(4);
        loop {
            self.skip_ws();
            labels.push(self.label()?);
            self.skip_ws();
            match self.next()? {
                b',' => {}
                b']' => return Some(labels),
                _ => return None,
            }
        }
    }

    /// The text of a JSON number; `None` unless it follows JSON's grammar exactly
    /// (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    fn number_token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let bytes = self.bytes();
        let digits = |from: usize| leading_digits(bytes.get(from..).unwrap_or_default()).1;
        let mut at = start;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        let int = digits(at);
        if int == 0 || (int > 1 && bytes[at] == b'0') {
            return None;
        }
        at += int;
        if bytes.get(at) == Some(&b'.') {
            let frac = digits(at + 1);
            if frac == 0 {
                return None;
            }
            at += 1 + frac;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            let exp = digits(at);
            if exp == 0 {
                return None;
            }
            at += exp;
        }
        self.pos = at;
        self.text.get(start..at)
    }

    /// A non-negative whole number that fits `u64`, written without fraction or exponent.
    fn unsigned(&mut self) -> Option<u64> {
        // Usually a few digits: read in one pass (up to 19 digits always fit).
        let rest = self.bytes().get(self.pos..)?;
        let (value, count) = leading_digits(rest);
        if (1..=19).contains(&count)
            && (count == 1 || rest[0] != b'0')
            && !matches!(rest.get(count), Some(b'.' | b'e' | b'E'))
        {
            self.pos += count;
            return Some(value);
        }
        let token = self.number_token()?;
        if !token.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        token.parse().ok()
    }

    /// A number as `f64`. Negative numbers are left to serde (no amount may be negative,
    /// so they only ever need explaining). Both readers round correctly, so they agree.
    fn number(&mut self) -> Option<f64> {
        if let Some((value, len)) = short_decimal(self.bytes().get(self.pos..)?) {
            self.pos += len;
            return Some(value);
        }
        let token = self.number_token()?;
        if token.starts_with('-') {
            return None;
        }
        token.parse().ok()
    }

    /// The text of a JSON object, braces included, found by matching braces outside
    /// strings; its contents are checked by whoever parses the slice.
    fn object(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.expect(b'{')?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.next()? {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth -= 1,
                b'"' => loop {
                    let rest = &self.bytes()[self.pos..];
                    let at = quote_or_backslash(rest)?;
                    self.pos += at + 1;
                    if rest[at] == b'"' {
                        break;
                    }
                    self.pos += 1; // the escaped byte
                },
                _ => {}
            }
        }
        self.text.get(start..self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::{read_event as parse, short_decimal};

    /// The short path must give bit for bit what `str::parse` gives (serde agrees with it):
    /// tokens of every length up to 15 digits, the dot everywhere, digits from a fixed
    /// pseudo-random sequence (including long runs of 9s and 0s next to halfway values).
    #[test]
    fn short_decimals_are_parsed_exactly_as_the_standard_library_does() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next_digit = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let r = state % 14;
            // Plenty of 9s and 0s: carries and ties are where rounding goes wrong.
            b"01234567899900"[r as usize]
        };
        let mut checked = 0;
        for _ in 0..4_000 {
            for len in 1..=16usize {
                let digits: Vec<u8> = (0..len).map(|_| next_digit()).collect();
                for dot in 0..len {
                    let mut token = digits.clone();
                    if dot > 0 {
                        token.insert(dot, b'.');
                    }
                    let token = String::from_utf8(token).unwrap();
                    let expected: f64 = token.parse().unwrap();
                    match short_decimal(format!("{token},").as_bytes()) {
                        Some((value, taken)) => {
                            assert_eq!(value.to_bits(), expected.to_bits(), "{token}");
                            assert_eq!(taken, token.len(), "{token}");
                            checked += 1;
                        }
                        None => assert!(
                            len == 16 || (digits[0] == b'0' && dot != 1),
                            "{token} should take the short path"
                        ),
                    }
                }
            }
        }
        assert!(checked > 300_000);
        for other in [
            "1e5",
            "1.5E-3",
            "-1.5",
            "1.",
            ".5",
            "",
            "1234567890123456",
            "123456789012.3456",
            "01",
            "00.5",
        ] {
            assert_eq!(short_decimal(other.as_bytes()), None, "{other}");
        }
        // The number ends where its digits do; what follows is the caller's.
        assert_eq!(short_decimal(b"1.2.3"), Some((1.2, 3)));
        assert_eq!(short_decimal(b"0.5}"), Some((0.5, 3)));
        assert_eq!(short_decimal(b"7]"), Some((7.0, 1)));
    }

    /// The point of this reader is speed, and serde gives the same answers when it gives
    /// up, so only this test notices if it stops reading the usual shapes itself.
    #[test]
    fn reads_the_gateway_events_without_falling_back() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events");
        let mut read = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let compact = value.to_string();
            let mut fields: Vec<_> = value.as_object().unwrap().iter().collect();
            fields.reverse();
            let reversed =
                serde_json::Map::from_iter(fields.into_iter().map(|(k, v)| (k.clone(), v.clone())));
            for json in [
                text.as_str(),
                &compact,
                &serde_json::Value::Object(reversed).to_string(),
            ] {
                assert!(parse(json).is_some(), "fell back on {json}");
            }
            read += 1;
        }
        assert_eq!(read, 5, "one fixture per gateway event type");
    }
}
