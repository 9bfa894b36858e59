//! Bounded, printable identifiers.

use smol_str::SmolStr;
use std::fmt;

/// The longest identifier we accept, in characters.
pub const MAX_IDENT_CHARS: usize = 128;

/// A short, printable identifier: an organization, project, request, model, entity kind,
/// detector name or similar label.
///
/// Construction guarantees 1 to [`MAX_IDENT_CHARS`] characters, no control characters and
/// no invisible direction or format characters (which could disguise what a SOC analyst
/// reads). The bound keeps any identifier far too short to smuggle prompt text through.
///
/// Cloning is cheap: identifiers of up to 23 bytes (most org, project, request and model
/// ids) are stored inline, longer ones are shared by reference count or, when interned
/// while parsing, by a process-lifetime copy. So one identifier can be shared by many
/// events, and a short one costs no allocation at all.
///
/// ```
/// use siem_core::Ident;
/// let org = Ident::new("org_acme")?;
/// assert_eq!(org.as_str(), "org_acme");
/// assert!(Ident::new("bad\nid").is_err());
/// # Ok::<(), siem_core::IdentError>(())
/// ```
#[derive(Clone)]
pub struct Ident(SmolStr);

impl PartialEq for Ident {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Ident {}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for Ident {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes, which `Borrow<str>` requires.
        self.as_str().hash(state);
    }
}

/// Why a string is not a valid [`Ident`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentError {
    /// The string was empty.
    #[error("must not be empty")]
    Empty,
    /// The string was longer than [`MAX_IDENT_CHARS`].
    #[error("is {chars} characters long; at most {MAX_IDENT_CHARS} are allowed")]
    TooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// The string holds a control, format or direction character.
    #[error("contains a non-printable character (U+{code:04X}) at character {position}")]
    NotPrintable {
        /// Zero-based character index.
        position: usize,
        /// The offending code point.
        code: u32,
    },
}

impl Ident {
    /// Validates `value` and returns it as an identifier.
    #[inline]
    pub fn new(value: &str) -> Result<Self, IdentError> {
        validate(value)?;
        Ok(Self(SmolStr::new(value)))
    }

    /// For constants of this crate that are valid by inspection.
    pub(crate) fn known_valid(value: &'static str) -> Self {
        debug_assert!(validate(value).is_ok());
        Self(SmolStr::new_static(value))
    }

    /// The identifier as a string slice.
    #[inline]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Checks the rules of [`Ident`] without allocating.
pub(crate) fn validate(value: &str) -> Result<(), IdentError> {
    if value.is_empty() {
        return Err(IdentError::Empty);
    }
    // Fast path for the common case: short ASCII identifiers.
    if value.len() <= MAX_IDENT_CHARS && crate::json::scan::is_printable_ascii(value.as_bytes()) {
        return Ok(());
    }
    let mut chars = 0;
    for (position, c) in value.chars().enumerate() {
        if !is_printable(c) {
            return Err(IdentError::NotPrintable {
                position,
                code: c as u32,
            });
        }
        chars += 1;
    }
    if chars > MAX_IDENT_CHARS {
        return Err(IdentError::TooLong { chars });
    }
    Ok(())
}

fn is_printable(c: char) -> bool {
    !(c.is_control()
        // zero-width and invisible formatting characters
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
        // bidirectional embeddings, overrides and isolates ("Trojan source")
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        // line and paragraph separators
        || matches!(c, '\u{2028}' | '\u{2029}'))
}

impl std::borrow::Borrow<str> for Ident {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// How many distinct identifiers the process interns, at most. Interned identifiers live
/// as long as the process (so copying or dropping one touches no shared counter); the
/// bound caps that memory at `INTERN_CAPACITY` × 512 bytes (2 MiB) however many distinct
/// values arrive. Past it, identifiers are allocated one by one as usual.
const INTERN_CAPACITY: usize = 4096;

/// The process-wide table; each thread looks in its own copy first, without a lock.
static INTERNED: std::sync::Mutex<Option<std::collections::HashSet<&'static str, FxBuild>>> =
    std::sync::Mutex::new(None);

type FxBuild = rustc_hash::FxBuildHasher;

thread_local! {
    // Keys are short and come from our own input pipeline; FxHash is several times cheaper
    // than SipHash here.
    static SEEN: std::cell::RefCell<std::collections::HashSet<&'static str, FxBuild>> =
        std::cell::RefCell::new(std::collections::HashSet::default());
}

/// Like [`Ident::new`], but values that repeat across events (org, project, source, model,
/// entity kinds, periods) share one process-lifetime copy: a pipeline of a million events
/// otherwise allocates and frees each of them a million times, and a reference count
/// shared by the parsing and the delivering threads bounces between their caches.
///
/// The usual case (the value was seen lately on this thread) is inlined into the parser, so
/// the identifier is built in registers rather than returned through memory (where it was
/// read back wider than it was written, stalling the core).
#[inline(always)]
pub(crate) fn intern(value: &str) -> Result<Ident, IdentError> {
    let Some(slot) = recent_slot(value.as_bytes()) else {
        return Ident::new(value); // empty: the error
    };
    let recent = RECENT
        .try_with(|recent| recent[slot].get())
        .unwrap_or_default();
    if crate::json::scan::same_bytes(recent.as_bytes(), value.as_bytes()) {
        return Ok(Ident(SmolStr::new_static(recent)));
    }
    intern_slowly(value, slot)
}

#[inline(never)]
fn intern_slowly(value: &str, slot: usize) -> Result<Ident, IdentError> {
    let local = SEEN
        .try_with(|seen| seen.borrow().get(value).copied())
        .ok()
        .flatten();
    if let Some(found) = local {
        let _ = RECENT.try_with(|recent| recent[slot].set(found));
        return Ok(Ident(SmolStr::new_static(found)));
    }
    validate(value)?;
    let Some(shared) = intern_globally(value) else {
        return Ok(Ident(SmolStr::new(value)));
    };
    // During thread teardown the local table is gone; the global one still answers.
    let _ = SEEN.try_with(|seen| seen.borrow_mut().insert(shared));
    let _ = RECENT.try_with(|recent| recent[slot].set(shared));
    Ok(Ident(SmolStr::new_static(shared)))
}

/// Slots of the per-thread cache in front of the interning table.
const RECENT_SLOTS: usize = 256;

thread_local! {
    /// Interned values by a cheap hash of their length and three bytes: a hit costs one
    /// comparison, where the hash set hashes the whole value and probes. A collision only
    /// costs a lookup in the set. (Copying short values inline instead was slower: the
    /// copied bytes are read back wider than they were written, which stalls the core.)
    static RECENT: [std::cell::Cell<&'static str>; RECENT_SLOTS] =
        const { [const { std::cell::Cell::new("") }; RECENT_SLOTS] };
}

/// `value`'s slot in [`RECENT`]; `None` if it is empty.
#[inline]
fn recent_slot(value: &[u8]) -> Option<usize> {
    let (&first, &last) = (value.first()?, value.last()?);
    let key = (value.len() as u32)
        | u32::from(first) << 8
        | u32::from(value[value.len() / 2]) << 16
        | u32::from(last) << 24;
    Some((key.wrapping_mul(0x9E37_79B1) >> 24) as usize % RECENT_SLOTS)
}

/// The process-lifetime copy of a valid `value`, or `None` once the table is full.
fn intern_globally(value: &str) -> Option<&'static str> {
    // A poisoned lock only means another thread panicked while inserting; the set is
    // still consistent (an insert either happened or not).
    let mut table = INTERNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let table = table.get_or_insert_with(Default::default);
    if let Some(found) = table.get(value) {
        return Some(found);
    }
    if table.len() >= INTERN_CAPACITY {
        return None;
    }
    let leaked: &'static str = Box::leak(Box::<str>::from(value));
    table.insert(leaked);
    Some(leaked)
}

/// `deserialize_with` helpers that intern (see [`intern`]).
pub(crate) mod interned {
    use serde::{Deserialize, Deserializer};

    use super::{intern, Ident};

    fn one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Ident, D::Error> {
        crate::strde::with_str(deserializer, intern)
    }

    pub(crate) fn ident<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Ident, D::Error> {
        one(deserializer)
    }

    pub(crate) fn option<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Ident>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(deserialize_with = "one")] Ident);
        Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
    }

    pub(crate) fn vec<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Ident>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(deserialize_with = "one")] Ident);
        Ok(Vec::<Wrapped>::deserialize(deserializer)?
            .into_iter()
            .map(|w| w.0)
            .collect())
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::str::FromStr for Ident {
    type Err = IdentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Ident {
    type Error = IdentError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for Ident {
    type Error = IdentError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        validate(&s)?;
        Ok(Self(SmolStr::from(s)))
    }
}

crate::strde::str_traits!(Ident, Ident::new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_identifiers() {
        for ok in ["org_acme", "gpt-4.1", "CREDIT_CARD", "projet-é", "a"] {
            assert!(Ident::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn interning_shares_one_copy_and_still_validates() {
        const LONG: &str = "proj_customer_support_assistant";
        let a = intern(LONG).unwrap();
        let b = std::thread::spawn(|| intern(LONG).unwrap()).join().unwrap();
        // One process-lifetime copy: same address, no reference count.
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
        assert!(!a.0.is_heap_allocated());
        assert_eq!(intern(""), Err(IdentError::Empty));
        assert!(intern("bad\u{7}").is_err());
        assert!(intern(&format!("{LONG}\u{7}")).is_err());
        // Past the bound, identifiers are still valid and equal, just not shared.
        for i in 0..INTERN_CAPACITY + 10 {
            let value = format!("interning-bound-of-the-table-{i}");
            let ident = intern(&value).unwrap();
            assert_eq!(ident.as_str(), value);
            assert_eq!(ident, Ident::new(&value).unwrap());
        }
        let table = INTERNED.lock().unwrap();
        assert!(table.as_ref().unwrap().len() <= INTERN_CAPACITY);
        drop(table);
        let late = intern("interned-after-the-table-filled").unwrap();
        assert!(late.0.is_heap_allocated());
        assert_eq!(late.as_str(), "interned-after-the-table-filled");
    }

    #[test]
    fn values_sharing_a_cache_slot_stay_distinct() {
        // Same length, first, middle and last byte: the same slot of the per-thread cache.
        let (a, b) = ("xAyBz", "xCyDz");
        assert_eq!(recent_slot(a.as_bytes()), recent_slot(b.as_bytes()));
        for _ in 0..3 {
            assert_eq!(intern(a).unwrap().as_str(), a);
            assert_eq!(intern(b).unwrap().as_str(), b);
            assert_eq!(intern(b).unwrap().as_str(), b);
        }
        assert_eq!(recent_slot(b""), None);
        assert_eq!(intern(""), Err(IdentError::Empty));
    }

    #[test]
    fn short_identifiers_are_inline_and_behave_like_shared_ones() {
        let inline = |i: &Ident| !i.0.is_heap_allocated();
        for value in [
            "a",
            "org_acme",
            "req_000000cf4e1e",
            "projet-é",
            "exactly-23-bytes-long!!",
        ] {
            let short = Ident::new(value).unwrap();
            assert!(inline(&short), "{value}");
            assert_eq!(short.as_str(), value);
            assert_eq!(intern(value).unwrap(), short);
            assert_eq!(Ident::try_from(value.to_owned()).unwrap(), short);
        }
        let longer = "exactly-24-bytes-long!!!";
        let long = Ident::new(longer).unwrap();
        assert!(!inline(&long));
        assert_eq!(long.as_str(), longer);
        assert_eq!(std::mem::size_of::<Ident>(), 24);
    }

    #[test]
    fn rejects_empty_long_and_control_characters() {
        assert_eq!(Ident::new(""), Err(IdentError::Empty));
        assert_eq!(
            Ident::new(&"x".repeat(129)),
            Err(IdentError::TooLong { chars: 129 })
        );
        assert!(Ident::new(&"é".repeat(128)).is_ok());
        assert_eq!(
            Ident::new("ab\u{7}"),
            Err(IdentError::NotPrintable {
                position: 2,
                code: 7
            })
        );
        assert!(Ident::new("evil\u{202E}txt").is_err());
        assert!(Ident::new("tab\there").is_err());
    }
}
