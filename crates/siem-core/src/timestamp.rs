//! UTC instants with the RFC 3339 form used on the wire.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A UTC instant.
///
/// On the wire it is RFC 3339 with a `Z`: `2026-06-08T20:15:30Z`, with sub-second digits
/// only when they are non-zero, in groups of three (`.250`, `.250100`, `.250100300`).
/// Parsing accepts any RFC 3339 offset and converts to UTC.
///
/// ```
/// use siem_core::Timestamp;
/// let t: Timestamp = "2026-06-08T22:15:30.25+02:00".parse()?;
/// assert_eq!(t.to_string(), "2026-06-08T20:15:30.250Z");
/// assert_eq!(t.unix_millis(), 1_780_949_730_250);
/// # Ok::<(), siem_core::TimestampError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// A string that is not an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {value:?}: {reason}")]
pub struct TimestampError {
    value: String,
    reason: String,
}

/// The longest text [`Timestamp::write_rfc3339`] produces.
pub const MAX_RFC3339_LEN: usize = 30;

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// Converts any `OffsetDateTime` to a UTC timestamp.
    pub fn from_offset_date_time(value: OffsetDateTime) -> Self {
        Self(value.to_offset(UtcOffset::UTC))
    }

    /// Builds a timestamp from milliseconds since the Unix epoch; `None` when out of range.
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .ok()
            .map(Self)
    }

    /// The instant as a `time::OffsetDateTime` in UTC.
    pub fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }

    /// Whole milliseconds since the Unix epoch (sub-millisecond digits are truncated).
    pub fn unix_millis(&self) -> i64 {
        let seconds = self.0.unix_timestamp();
        if seconds >= 0 {
            // No 128-bit division on the common path.
            seconds * 1000 + i64::from(self.0.millisecond())
        } else {
            // Truncates toward zero. In range for every year `time` represents (±9999).
            (self.0.unix_timestamp_nanos() / 1_000_000) as i64
        }
    }

    /// Appends the wire form to `out` without allocating beyond `out`'s growth.
    pub fn write_rfc3339(&self, out: &mut String) {
        self.write_to(out);
    }

    /// Appends the wire form to a byte buffer (an encoder's request body), as
    /// [`write_rfc3339`](Self::write_rfc3339) does to a `String`.
    ///
    /// ```
    /// let t: siem_core::Timestamp = "2026-06-08T20:15:30.250Z".parse()?;
    /// let mut body = b"\"timestamp\":\"".to_vec();
    /// t.write_rfc3339_bytes(&mut body);
    /// assert_eq!(body, b"\"timestamp\":\"2026-06-08T20:15:30.250Z");
    /// # Ok::<(), siem_core::TimestampError>(())
    /// ```
    pub fn write_rfc3339_bytes(&self, out: &mut Vec<u8>) {
        self.write_to(out);
    }

    fn write_to(&self, out: &mut impl AsciiSink) {
        let t = self.0;
        let unix_second = t.unix_timestamp();
        let nanos = t.nanosecond();
        if let Some(prefix) = LAST_SECOND
            .try_with(|last| last.get())
            .ok()
            .filter(|(second, _)| *second == unix_second)
            .map(|(_, prefix)| prefix)
        {
            out.put_slice(&prefix);
            push_fraction_and_zone(out, nanos);
            return;
        }
        let mut prefix = Vec::with_capacity(PREFIX_LEN + 3);
        self.write_date_time(&mut prefix);
        out.put_slice(&prefix);
        if let Ok(prefix) = <[u8; PREFIX_LEN]>::try_from(prefix.as_slice()) {
            let _ = LAST_SECOND.try_with(|last| last.set((unix_second, prefix)));
        }
        push_fraction_and_zone(out, nanos);
    }

    /// `YYYY-MM-DDTHH:MM:SS` (or an expanded year).
    fn write_date_time(&self, out: &mut Vec<u8>) {
        let t = self.0;
        // One calendar and one clock conversion (the accessors would redo them per field).
        let (year, month, day) = t.to_calendar_date();
        let (hour, minute, second) = t.to_hms();
        if (0..=9999).contains(&year) {
            push_digits(out, year as u32, 4);
        } else {
            // Outside four digits RFC 3339 has no form; write the sign and digits as ISO 8601
            // expanded years do, rather than fail.
            out.put(if year < 0 { b'-' } else { b'+' });
            push_digits(out, year.unsigned_abs(), 6);
        }
        out.put(b'-');
        push_digits(out, u8::from(month) as u32, 2);
        out.put(b'-');
        push_digits(out, day as u32, 2);
        out.put(b'T');
        push_digits(out, hour as u32, 2);
        out.put(b':');
        push_digits(out, minute as u32, 2);
        out.put(b':');
        push_digits(out, second as u32, 2);
    }
}

/// Where the writer puts its output: ASCII only, so a `String` takes it as well as bytes.
trait AsciiSink {
    fn put(&mut self, byte: u8);
    fn put_slice(&mut self, bytes: &[u8]);
}

impl AsciiSink for Vec<u8> {
    #[inline]
    fn put(&mut self, byte: u8) {
        self.push(byte);
    }
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl AsciiSink for String {
    #[inline]
    fn put(&mut self, byte: u8) {
        self.push(char::from(byte));
    }
    #[inline]
    fn put_slice(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.push(char::from(b)));
    }
}

/// Length of `YYYY-MM-DDTHH:MM:SS`.
const PREFIX_LEN: usize = 19;

thread_local! {
    /// The `YYYY-MM-DDTHH:MM:SS` last written on this thread and its Unix second: the
    /// events of one batch mostly share their second, and the calendar conversion is the
    /// expensive part of writing a timestamp.
    static LAST_SECOND: std::cell::Cell<(i64, [u8; PREFIX_LEN])> =
        const { std::cell::Cell::new((i64::MIN, [0; PREFIX_LEN])) };
}

fn push_fraction_and_zone(out: &mut impl AsciiSink, nanos: u32) {
    if nanos != 0 {
        if nanos.is_multiple_of(1_000_000) {
            // Milliseconds, the gateway's precision: one fixed-size write.
            let millis = nanos / 1_000_000;
            out.put_slice(&[
                b'.',
                b'0' + (millis / 100) as u8,
                b'0' + (millis / 10 % 10) as u8,
                b'0' + (millis % 10) as u8,
                b'Z',
            ]);
            return;
        }
        out.put(b'.');
        if nanos.is_multiple_of(1_000) {
            push_digits(out, nanos / 1_000, 6);
        } else {
            push_digits(out, nanos, 9);
        }
    }
    out.put(b'Z');
}

/// Appends `value` in at least `width` digits, zero-padded.
fn push_digits(out: &mut impl AsciiSink, mut value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    while i > 0 && (value > 0 || buf.len() - i < width) {
        i -= 1;
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    for &digit in &buf[i..] {
        out.put(digit);
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(known) = parse_in_last_minute(s) {
            return Ok(known);
        }
        let parsed = OffsetDateTime::parse(s, &Rfc3339)
            .map(Self::from_offset_date_time)
            .map_err(|e| TimestampError {
                value: s.chars().take(64).collect(),
                reason: e.to_string(),
            })?;
        remember_minute(s, parsed);
        Ok(parsed)
    }
}

/// Length of `YYYY-MM-DDTHH:MM:`.
const MINUTE_LEN: usize = 17;

thread_local! {
    /// The `YYYY-MM-DDTHH:MM:` of the last UTC timestamp parsed on this thread and the
    /// start of that minute: a stream of events mostly shares its minute, and the calendar
    /// checks are the expensive part of parsing.
    static LAST_MINUTE: std::cell::Cell<Option<([u8; MINUTE_LEN], OffsetDateTime)>> =
        const { std::cell::Cell::new(None) };
}

impl Timestamp {
    /// For the event reader's in-place path: only a timestamp in the minute parsed last
    /// (see [`parse_in_last_minute`]); `None` for anything else, which the reader then
    /// reads through [`Timestamp::parse_for_reader`].
    #[inline(always)]
    pub(crate) fn parse_recent(s: &str) -> Option<Timestamp> {
        parse_in_last_minute(s)
    }

    /// For the event reader: the same-minute path inlined, so that the value comes back
    /// in registers (through `FromStr`'s `Result`, which is returned in memory, it was
    /// written and read back at different widths: a stall on every event); anything else
    /// through [`FromStr`].
    #[inline(always)]
    pub(crate) fn parse_for_reader(s: &str) -> Option<Timestamp> {
        match parse_in_last_minute(s) {
            Some(known) => Some(known),
            None => s.parse().ok(),
        }
    }
}

/// `s` if it is `{the last minute parsed}SS[.fraction]Z`, without calendar work; `None`
/// for anything else (which the full parser then reads).
#[inline]
fn parse_in_last_minute(s: &str) -> Option<Timestamp> {
    let bytes = s.as_bytes();
    let (minute_text, rest) = bytes.split_first_chunk::<MINUTE_LEN>()?;
    let (cached_text, minute_start) = LAST_MINUTE.try_with(std::cell::Cell::get).ok()??;
    // Arrays of a fixed length: compared inline, not through `memcmp`.
    if *minute_text != cached_text {
        return None;
    }
    let [s1, s0, rest @ .., b'Z'] = rest else {
        return None;
    };
    let second = two_digits(*s1, *s0)?;
    if second > 59 {
        return None; // leap seconds go the long way
    }
    let nanos = match rest {
        [] => 0,
        // Milliseconds, the gateway's precision.
        [b'.', a, b, c] => {
            let digits = [*a, *b, *c];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let [a, b, c] = digits.map(|d| u32::from(d - b'0'));
            (a * 100 + b * 10 + c) * 1_000_000
        }
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let mut value = 0u32;
            for &d in digits {
                if !d.is_ascii_digit() {
                    return None;
                }
                value = value * 10 + u32::from(d - b'0');
            }
            value * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    minute_start
        .replace_second(second)
        .and_then(|t| t.replace_nanosecond(nanos))
        .ok()
        .map(Timestamp)
}

fn two_digits(tens: u8, ones: u8) -> Option<u8> {
    (tens.is_ascii_digit() && ones.is_ascii_digit()).then(|| (tens - b'0') * 10 + (ones - b'0'))
}

/// Caches the minute of `s`, which parsed as `parsed`, when it is in the UTC form that
/// [`parse_in_last_minute`] reads.
fn remember_minute(s: &str, parsed: Timestamp) {
    let bytes = s.as_bytes();
    let usual_form = bytes.len() > MINUTE_LEN + 2
        && bytes[MINUTE_LEN - 1] == b':'
        && bytes.last() == Some(&b'Z')
        && two_digits(bytes[MINUTE_LEN], bytes[MINUTE_LEN + 1]).is_some_and(|s| s <= 59);
    if !usual_form {
        return;
    }
    let (Ok(minute_text), Ok(minute_start)) = (
        <[u8; MINUTE_LEN]>::try_from(&bytes[..MINUTE_LEN]),
        parsed
            .0
            .replace_second(0)
            .and_then(|t| t.replace_nanosecond(0)),
    ) else {
        return;
    };
    let _ = LAST_MINUTE.try_with(|last| last.set(Some((minute_text, minute_start))));
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(MAX_RFC3339_LEN);
        self.write_rfc3339(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = String::with_capacity(MAX_RFC3339_LEN);
        self.write_rfc3339(&mut s);
        serializer.serialize_str(&s)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::strde::with_str(deserializer, str::parse)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(value: OffsetDateTime) -> Self {
        Self::from_offset_date_time(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_second_cache_never_leaks_into_another_instant() {
        let base = Timestamp::from_unix_millis(1_780_000_000_123).unwrap();
        let at = |offset_nanos: i64| {
            Timestamp::from_offset_date_time(
                base.as_offset_date_time() + time::Duration::nanoseconds(offset_nanos),
            )
        };
        // Same second, next second, a day back, sub-millisecond digits, back again.
        for t in [
            0,
            1_000_000,
            1_000_000_000,
            -86_400_000_000_000,
            7,
            0,
            -123_000_000,
            0,
        ]
        .map(at)
        {
            let mut out = String::new();
            t.write_rfc3339(&mut out);
            assert_eq!(out.parse::<Timestamp>().unwrap(), t, "{out}");
        }
    }

    #[test]
    fn the_per_minute_parse_cache_agrees_with_the_full_parser() {
        let full = |s: &str| {
            OffsetDateTime::parse(s, &Rfc3339)
                .ok()
                .map(Timestamp::from_offset_date_time)
        };
        let inputs = [
            "2026-06-08T10:15:30Z",
            "2026-06-08T10:15:30.5Z",
            "2026-06-08T10:15:59.123456789Z",
            "2026-06-08T10:15:00Z",
            "2026-06-08T10:15:05.000Z",
            "2026-06-08T10:15:60Z",
            "2026-06-08T10:15:61Z",
            "2026-06-08T10:15:30.Z",
            "2026-06-08T10:15:30.1234567890Z",
            "2026-06-08T10:15:3aZ",
            "2026-06-08T10:15:30.12aZ",
            "2026-06-08T10:15:30.250Z",
            "2026-06-08T10:15:30.099Z",
            "2026-06-08T10:15:30.-12Z",
            "2026-06-08T10:15:30. 12Z",
            "2026-06-08T10:15:30z",
            "2026-06-08t10:15:30Z",
            "2026-06-08T10:15:30+02:00",
            "2026-06-08T10:15:30.25+00:00",
            "2026-06-08T10:15:30",
            "2026-06-08T10:15:",
            "2026-06-08T10:15:Z",
            "2026-06-08T10:16:01Z",
            "2026-06-09T10:15:30Z",
            "2026-12-31T23:59:60Z",
            "2026-02-30T10:15:30Z",
        ];
        for first in inputs {
            for second in inputs {
                let _ = first.parse::<Timestamp>(); // leaves `first`'s minute in the cache
                assert_eq!(
                    second.parse::<Timestamp>().ok(),
                    full(second),
                    "{second} after {first}"
                );
            }
        }
    }

    fn round(s: &str) -> String {
        s.parse::<Timestamp>().unwrap().to_string()
    }

    #[test]
    fn formats_with_minimal_sub_second_groups() {
        assert_eq!(round("2026-06-08T20:15:30Z"), "2026-06-08T20:15:30Z");
        assert_eq!(
            round("2026-06-08T20:16:02.250Z"),
            "2026-06-08T20:16:02.250Z"
        );
        for millis in ["001", "005", "010", "099", "100", "999"] {
            let text = format!("2026-06-08T20:16:02.{millis}Z");
            assert_eq!(round(&text), text);
        }
        assert_eq!(
            round("2026-06-08T20:16:02.2501Z"),
            "2026-06-08T20:16:02.250100Z"
        );
        assert_eq!(
            round("2026-06-08T20:16:02.000000001Z"),
            "2026-06-08T20:16:02.000000001Z"
        );
        assert_eq!(round("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn converts_offsets_to_utc() {
        assert_eq!(round("2026-06-08T00:15:30-02:30"), "2026-06-08T02:45:30Z");
    }

    #[test]
    fn millis_round_trip() {
        let t: Timestamp = "2026-06-08T20:16:02.250Z".parse().unwrap();
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Some(t));
    }

    #[test]
    fn rejects_non_rfc3339() {
        for bad in ["2026-06-08", "2026-06-08T20:15:30", "yesterday", ""] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
