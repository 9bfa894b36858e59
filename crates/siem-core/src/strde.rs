//! Reading JSON strings without an allocation.
//!
//! `Cow<str>` and `String` both deserialize into an owned `String`, which costs an
//! allocation and a free per field on the hot parsing path. Every string-shaped type of
//! this crate validates a borrowed `&str` instead.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};

/// Deserializes a string and hands it, borrowed, to `parse`.
pub(crate) fn with_str<'de, D, T, E, F>(deserializer: D, parse: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, E>,
    E: fmt::Display,
{
    deserializer.deserialize_str(StrVisitor {
        parse,
        output: PhantomData,
    })
}

struct StrVisitor<F, T, E> {
    parse: F,
    output: PhantomData<fn() -> Result<T, E>>,
}

impl<'de, F, T, E> Visitor<'de> for StrVisitor<F, T, E>
where
    F: FnOnce(&str) -> Result<T, E>,
    E: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<Er: de::Error>(self, value: &str) -> Result<T, Er> {
        (self.parse)(value).map_err(Er::custom)
    }
}
