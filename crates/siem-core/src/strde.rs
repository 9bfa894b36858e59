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

/// Implements `Display` and `Serialize` as the type's `as_str()`, and `Deserialize` by
/// handing the borrowed string to `$parse` ([`with_str`]): every string-shaped type reads
/// and writes itself the same way.
macro_rules! str_traits {
    ($ty:ty, $parse:expr) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::strde::with_str(deserializer, $parse)
            }
        }
    };
}

pub(crate) use str_traits;
