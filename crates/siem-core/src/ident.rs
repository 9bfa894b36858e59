//! Bounded, printable identifiers.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest identifier we accept, in characters.
pub const MAX_IDENT_CHARS: usize = 128;

/// A short, printable identifier: an organization, project, request, model, entity kind,
/// detector name or similar label.
///
/// Construction guarantees 1 to [`MAX_IDENT_CHARS`] characters, no control characters and
/// no invisible direction or format characters (which could disguise what a SOC analyst
/// reads). The bound keeps any identifier far too short to smuggle prompt text through.
///
/// Cloning is cheap (a reference count), so one identifier can be shared by many events.
///
/// ```
/// use siem_core::Ident;
/// let org = Ident::new("org_acme")?;
/// assert_eq!(org.as_str(), "org_acme");
/// assert!(Ident::new("bad\nid").is_err());
/// # Ok::<(), siem_core::IdentError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(Arc<str>);

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
    pub fn new(value: &str) -> Result<Self, IdentError> {
        validate(value)?;
        Ok(Self(Arc::from(value)))
    }

    /// For constants of this crate that are valid by inspection.
    pub(crate) fn known_valid(value: &'static str) -> Self {
        debug_assert!(validate(value).is_ok());
        Self(Arc::from(value))
    }

    /// The identifier as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the rules of [`Ident`] without allocating.
pub(crate) fn validate(value: &str) -> Result<(), IdentError> {
    if value.is_empty() {
        return Err(IdentError::Empty);
    }
    // Fast path for the common case: short ASCII identifiers.
    if value.len() <= MAX_IDENT_CHARS && value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
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
        &self.0
    }
}

/// How many distinct identifiers one thread keeps for reuse while parsing.
const INTERN_CAPACITY: usize = 4096;

thread_local! {
    // Keys are short and come from our own input pipeline; FxHash is several times cheaper
    // than SipHash here and the table is bounded, so flooding it only costs a reset.
    static INTERNED: std::cell::RefCell<std::collections::HashSet<Ident, rustc_hash::FxBuildHasher>> =
        std::cell::RefCell::new(std::collections::HashSet::default());
}

/// Like [`Ident::new`], but shares one allocation for values this thread has seen recently.
///
/// Used when parsing fields that repeat across events (org, project, source, model, entity
/// kinds): a pipeline of a million events otherwise allocates and frees each of them a
/// million times. The table is bounded; when full it starts over.
pub(crate) fn intern(value: &str) -> Result<Ident, IdentError> {
    let shared = INTERNED.try_with(|cell| {
        let mut set = cell.borrow_mut();
        if let Some(found) = set.get(value) {
            return Ok(found.clone());
        }
        let ident = Ident::new(value)?;
        if set.len() >= INTERN_CAPACITY {
            set.clear();
        }
        set.insert(ident.clone());
        Ok(ident)
    });
    // During thread teardown the table is gone: allocate as usual.
    shared.unwrap_or_else(|_| Ident::new(value))
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
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        &self.0
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
        Ok(Self(Arc::from(s)))
    }
}

impl Serialize for Ident {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ident {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::strde::with_str(deserializer, Ident::new)
    }
}

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
    fn interning_shares_one_allocation_and_still_validates() {
        let a = intern("org_acme").unwrap();
        let b = intern("org_acme").unwrap();
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(intern(""), Err(IdentError::Empty));
        assert!(intern("bad\u{7}").is_err());
        for i in 0..INTERN_CAPACITY + 10 {
            assert_eq!(
                intern(&format!("id{i}")).unwrap().as_str(),
                format!("id{i}")
            );
        }
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
