//! A hand-written reader for events in their usual shape.
//!
//! `siem forward` parses every line it reads, and serde's generic machinery (field-name
//! matching, `Option` wrappers, capturing `details` as raw JSON before typing it) was most
//! of that cost. This reader handles the top-level object directly: known keys in any
//! order, string values without escapes, JSON whitespace; `details` is typed by the same
//! serde code as on the other paths. On anything else (an escape, `null`, an unknown or
//! repeated key, a value that fails validation, malformed JSON) it returns `None` and
//! [`SecurityEvent::from_json`] falls back to serde, which accepts or explains the input.
//! So it never accepts what serde rejects, and the values it produces come from the same
//! validating constructors (see the differential property test in `tests/properties.rs`).

use serde::de::DeserializeSeed as _;

use super::{DetailsSeed, SecurityEvent, WireEvent};
use crate::ident::{intern, Ident};

/// The top-level keys, in the order of their bit in the `seen` mask.
const KEYS: [&str; 9] = [
    "event_id",
    "event_type",
    "org_id",
    "project_id",
    "request_id",
    "severity",
    "source",
    "timestamp",
    "details",
];

pub(super) fn parse(json: &str) -> Option<SecurityEvent> {
    let mut r = Reader { text: json, pos: 0 };
    r.skip_ws();
    r.expect(b'{')?;
    let mut seen = 0u16;
    let (mut event_id, mut event_type, mut org_id, mut project_id) = (None, None, None, None);
    let (mut request_id, mut severity, mut source, mut timestamp) = (None, None, None, None);
    let mut details = None;
    loop {
        r.skip_ws();
        let key = r.plain_string()?;
        let index = KEYS.iter().position(|k| *k == key)?;
        if seen & (1 << index) != 0 {
            return None;
        }
        seen |= 1 << index;
        r.skip_ws();
        r.expect(b':')?;
        r.skip_ws();
        match index {
            0 => event_id = Some(r.plain_string()?.parse().ok()?),
            1 => event_type = Some(r.plain_string()?.parse().ok()?),
            2 => org_id = Some(intern(r.plain_string()?).ok()?),
            3 => project_id = Some(intern(r.plain_string()?).ok()?),
            4 => request_id = Some(Ident::new(r.plain_string()?).ok()?),
            5 => severity = Some(r.plain_string()?.parse().ok()?),
            6 => source = Some(intern(r.plain_string()?).ok()?),
            7 => timestamp = Some(r.plain_string()?.parse().ok()?),
            _ => details = Some(r.object()?),
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
    let mut de = serde_json::Deserializer::from_str(details?);
    let details = DetailsSeed(&event_type).deserialize(&mut de).ok()?;
    de.end().ok()?;
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

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes().get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// A string without escapes, borrowed. Control characters are left to the validating
    /// constructors, which reject them all (as serde rejects them in JSON strings).
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        let len = memchr::memchr2(b'"', b'\\', &self.bytes()[start..])?;
        if self.bytes()[start + len] != b'"' {
            return None;
        }
        self.pos = start + len + 1;
        self.text.get(start..start + len)
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
                    let at = memchr::memchr2(b'"', b'\\', rest)?;
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
