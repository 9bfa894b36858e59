//! Byte scans eight bytes at a time, shared by the reader (`read.rs`) and the writer
//! (`write.rs`), and by identifier checks.
//!
//! An event's strings are short (ids, labels, keys), where a SIMD search's set-up costs
//! more than the scan itself and a byte loop with an early exit is several instructions
//! per byte.

/// 0x01 in every byte of a word.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A high bit for each byte of `x` below `n` (`n` ≤ 0x80); bits above the lowest one may be
/// spurious (borrows), so callers only use the lowest bit or whether any is set. Bytes of
/// 0x80 and above never count.
#[inline(always)]
fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// A high bit for each byte of `x` equal to `byte` (lowest bit exact, as for
/// [`bytes_below`]).
#[inline(always)]
fn bytes_equal(x: u64, byte: u8) -> u64 {
    bytes_below(x ^ (ONES * u64::from(byte)), 1)
}

/// The eight bytes at `at` as a little-endian word; `at + 8` must be in bounds.
#[inline(always)]
pub(crate) fn word_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(word_bytes(bytes, at))
}

/// The position of the first `"` or `\` in `bytes`: where a JSON string without escapes
/// ends.
#[inline]
pub(crate) fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    let special = |word: u64| bytes_equal(word, b'"') | bytes_equal(word, b'\\');
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let found = special(word_at(bytes, at));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if bytes.len() >= 8 {
        // The last eight bytes, overlapping bytes already known not to match.
        let from = bytes.len() - 8;
        let found = special(word_at(bytes, from));
        return (found != 0).then(|| from + (found.trailing_zeros() / 8) as usize);
    }
    bytes.iter().position(|&b| b == b'"' || b == b'\\')
}

/// `a == b`, inline for the lengths of identifiers (4 to 16 bytes: two overlapping loads
/// each side) where the comparison of slices calls `memcmp`, whose call and length
/// dispatch cost more than the comparison itself.
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| word_at(s, at);
    let half = |s: &[u8], at: usize| {
        let mut half = [0u8; 4];
        half.copy_from_slice(&s[at..at + 4]);
        u32::from_le_bytes(half)
    };
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a == b,
    }
}

/// Whether `b` must be escaped in a JSON string.
#[inline]
pub(crate) fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any byte needs escaping in a JSON string, eight bytes per step: almost every
/// string written (identifiers, event types, timestamps) needs none, and this scan is the
/// hot part of encoding.
#[inline(always)]
pub(crate) fn any_needs_escape(bytes: &[u8]) -> bool {
    let special =
        |word: u64| bytes_below(word, 0x20) | bytes_equal(word, b'"') | bytes_equal(word, b'\\');
    let n = bytes.len();
    if n < 8 {
        if n < 4 {
            return bytes.iter().any(|&b| needs_escape(b));
        }
        // Two overlapping halves as one word.
        let half = |at: usize| u64::from(u32::from_le_bytes(word_bytes(bytes, at)));
        return special(half(0) | half(n - 4) << 32) != 0;
    }
    let mut at = 0;
    while at + 8 <= n {
        if special(word_at(bytes, at)) != 0 {
            return true;
        }
        at += 8;
    }
    // The last eight bytes (overlapping some already checked) instead of a byte loop.
    special(word_at(bytes, n - 8)) != 0
}

/// The `N` bytes of `bytes` at `at` as an array (a fixed-size copy).
#[inline(always)]
pub(crate) fn word_bytes<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut word = [0u8; N];
    word.copy_from_slice(&bytes[at..at + N]);
    word
}

/// Whether every byte is printable ASCII (`0x20..=0x7e`).
#[inline]
pub(crate) fn is_printable_ascii(bytes: &[u8]) -> bool {
    let bad = |word: u64| bytes_below(word, 0x20) | bytes_equal(word, 0x7f) | (word & HIGHS);
    if bytes.len() < 8 {
        return bytes.iter().all(|b| (0x20..0x7f).contains(b));
    }
    let mut found = 0;
    let mut at = 0;
    while at + 8 <= bytes.len() {
        found |= bad(word_at(bytes, at));
        at += 8;
    }
    // The last eight bytes, overlapping some already checked.
    found |= bad(word_at(bytes, bytes.len() - 8));
    found == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_quote_or_backslash_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\'] {
                    let mut text = vec![b'a'; len];
                    text[at] = special;
                    // A later special byte must not hide the first one.
                    if at + 1 < len {
                        text[len - 1] = b'"';
                    }
                    // Bytes next to `"` or `\` in value, which a borrow could confuse.
                    if at > 0 {
                        text[at - 1] = special + 1;
                    }
                    assert_eq!(quote_or_backslash(&text), Some(at), "len {len} at {at}");
                }
            }
            let plain: Vec<u8> = (0..len).map(|i| b"#!]a[\x01\xff"[i % 7]).collect();
            assert_eq!(quote_or_backslash(&plain), None, "len {len}");
        }
    }

    #[test]
    fn same_bytes_finds_a_difference_at_every_position_of_every_length() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "len {len}");
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "len {len}, difference at {at}");
            }
            assert!(!same_bytes(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
    }

    /// Asserts that `scan` of a text agrees with `byte_test` of its one odd byte: for every
    /// text of `filler` bytes up to `max_len` long (all filler, then with each byte 0 to 255
    /// put at each position).
    fn scan_agrees_at_every_position(
        max_len: usize,
        filler: u8,
        scan: impl Fn(&[u8]) -> bool,
        byte_test: impl Fn(u8) -> bool,
    ) {
        for len in 0..max_len {
            assert_eq!(scan(&vec![filler; len]), byte_test(filler), "len {len}");
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut text = vec![filler; len];
                    text[at] = byte;
                    let expected = byte_test(byte);
                    assert_eq!(scan(&text), expected, "byte {byte:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn printable_ascii_agrees_with_a_byte_test_for_every_byte_at_every_position() {
        let printable = |b: u8| (0x20..0x7f).contains(&b);
        scan_agrees_at_every_position(20, b'~', is_printable_ascii, printable);
    }

    #[test]
    fn the_word_scan_finds_every_escape_at_every_position() {
        scan_agrees_at_every_position(24, b'a', any_needs_escape, needs_escape);
    }
}
