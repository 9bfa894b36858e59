//! Event ids between their 128-bit value and their 36-character hyphenated text, eight
//! hex digits per 64-bit word operation.
//!
//! Every event read and every event encoded goes through one of these: digit by digit
//! (through `uuid`, or a table lookup per digit into a `u128`) they cost two to three
//! hundred instructions an event; a word at a time, under a hundred.

use crate::json::scan::{word_at, HIGHS, ONES};

const LOW_NIBBLES: u64 = 0x0f0f_0f0f_0f0f_0f0f;

/// Where the 32 digits of the hyphenated form are, as four runs of eight (the second and
/// third runs each span a hyphen).
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// A high bit for each byte of `x` in `lo..=hi`; every byte of `x` must be below 0x80 (so
/// no addition carries into the next byte).
#[inline(always)]
fn bytes_in(x: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = x + ONES * u64::from(0x80 - lo);
    let above_hi = x + ONES * u64::from(0x7f - hi);
    at_least_lo & !above_hi & HIGHS
}

/// Eight ASCII hex digits (either case; the first digit in the lowest byte) as a number;
/// `None` if any byte is not a hex digit.
#[inline(always)]
fn decode8(x: u64) -> Option<u32> {
    if x & HIGHS != 0 {
        return None;
    }
    let digit = bytes_in(x, b'0', b'9');
    // `| 0x20` lowercases letters (and moves no digit into `a..=f`).
    let letter = bytes_in(x | (ONES * 0x20), b'a', b'f');
    if digit | letter != HIGHS {
        return None;
    }
    // A letter's low nibble is 1..=6 and it has bit 6 set: add 9 for 10..=15.
    let nibbles = (x & LOW_NIBBLES) + (x >> 6 & ONES) * 9;
    // First digit to the most significant byte, then pairs, quads, octets together.
    let mut n = nibbles.swap_bytes();
    n = (n | n >> 4) & 0x00ff_00ff_00ff_00ff;
    n = (n | n >> 8) & 0x0000_ffff_0000_ffff;
    n = (n | n >> 16) & 0x0000_0000_ffff_ffff;
    Some(n as u32)
}

/// `value` as eight lowercase hex digits, the first in the lowest byte.
#[inline(always)]
fn encode8(value: u32) -> u64 {
    let mut n = u64::from(value);
    n = (n | n << 16) & 0x0000_ffff_0000_ffff;
    n = (n | n << 8) & 0x00ff_00ff_00ff_00ff;
    n = (n | n << 4) & LOW_NIBBLES;
    // The most significant digit is now in the highest byte.
    let nibbles = n.swap_bytes();
    // 1 in each byte whose digit is 10 or more (digit + 6 reaches 16).
    let letters = (nibbles + ONES * 6) >> 4 & ONES;
    nibbles + ONES * u64::from(b'0') + letters * u64::from(b'a' - b'0' - 10)
}

/// Four bytes each from `first` and `second` as one word (`first` in the low half).
fn two_halves(first: &[u8], second: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..4].copy_from_slice(&first[..4]);
    word[4..].copy_from_slice(&second[..4]);
    u64::from_le_bytes(word)
}

/// A UUID in its 36-character hyphenated form (either case), as a number; `None` for
/// anything else.
#[inline(always)]
pub(crate) fn decode_hyphenated(text: &[u8]) -> Option<u128> {
    let text: &[u8; 36] = text.try_into().ok()?;
    if HYPHENS.map(|at| text[at]) != [b'-'; 4] {
        return None;
    }
    let runs = [
        word_at(text, 0),
        two_halves(&text[9..13], &text[14..18]),
        two_halves(&text[19..23], &text[24..28]),
        word_at(text, 28),
    ];
    let mut value = 0u128;
    for run in runs {
        value = value << 32 | u128::from(decode8(run)?);
    }
    Some(value)
}

/// `value` in the lowercase 36-character hyphenated form.
#[inline]
pub(crate) fn encode_hyphenated(value: u128) -> [u8; 36] {
    let runs = [96, 64, 32, 0].map(|shift| encode8((value >> shift) as u32).to_le_bytes());
    let mut text = [b'-'; 36];
    text[0..8].copy_from_slice(&runs[0]);
    text[9..13].copy_from_slice(&runs[1][..4]);
    text[14..18].copy_from_slice(&runs[1][4..]);
    text[19..23].copy_from_slice(&runs[2][..4]);
    text[24..28].copy_from_slice(&runs[2][4..]);
    text[28..36].copy_from_slice(&runs[3]);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn samples() -> Vec<u128> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values = vec![0, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210];
        values.extend((0..2_000).map(|_| u128::from(next()) << 64 | u128::from(next())));
        values
    }

    #[test]
    fn encoding_writes_what_uuid_writes() {
        for value in samples() {
            let expected = Uuid::from_u128(value).hyphenated().to_string();
            assert_eq!(encode_hyphenated(value), expected.as_bytes(), "{value:x}");
        }
    }

    #[test]
    fn decoding_reads_both_cases_back() {
        for value in samples() {
            let text = Uuid::from_u128(value).hyphenated().to_string();
            assert_eq!(decode_hyphenated(text.as_bytes()), Some(value));
            let upper = text.to_ascii_uppercase();
            assert_eq!(decode_hyphenated(upper.as_bytes()), Some(value));
        }
    }

    /// Every byte value at every position: accepted exactly when `uuid` accepts the text
    /// in its hyphenated form, with the same value.
    #[test]
    fn decoding_agrees_with_uuid_on_every_byte_at_every_position() {
        let base = b"0a1B2c3D-4e5F-6789-abcd-EF0123456789";
        for at in 0..36 {
            for byte in 0..=255u8 {
                let mut text = *base;
                text[at] = byte;
                let expected = std::str::from_utf8(&text)
                    .ok()
                    .filter(|_| HYPHENS.iter().all(|&h| text[h] == b'-'))
                    .and_then(|s| Uuid::try_parse(s).ok())
                    .map(|uuid| uuid.as_u128());
                assert_eq!(decode_hyphenated(&text), expected, "byte {byte:#x} at {at}");
            }
        }
        assert_eq!(decode_hyphenated(&base[..35]), None);
    }
}
