//! Which event types a sink subscribes to.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event_type::{EventType, EventTypeError};

/// A sink's subscription: every event type (`*`) or a list of types.
///
/// Unknown names in the reserved namespaces (`dlp`, `budget`, `loop`, `siem`) are errors,
/// so a typo never silently subscribes to nothing. Matching a known type is one bit test.
///
/// ```
/// use siem_core::{EventFilter, EventType};
/// let f = EventFilter::parse(["dlp.pii_blocked", "dlp.injection_blocked"])?;
/// assert!(f.matches(&EventType::PiiBlocked));
/// assert!(!f.matches(&EventType::BudgetExhausted));
/// assert!(EventFilter::parse(["*"])?.matches(&EventType::LoopDetected));
/// assert!(EventFilter::parse(["dlp.pii_blockd"]).is_err());
/// # Ok::<(), siem_core::FilterError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct EventFilter {
    all: bool,
    known: u32,
    custom: Vec<EventType>,
}

/// A filter list that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// An entry is not an event type.
    #[error("events[{index}]: {source}")]
    BadEntry {
        /// Position in the list.
        index: usize,
        /// Why it is not an event type.
        #[source]
        source: EventTypeError,
    },
    /// The list is empty.
    #[error("events: the list is empty; use [\"*\"] for every event type")]
    Empty,
    /// `*` appears together with other entries.
    #[error("events: \"*\" must be the only entry")]
    WildcardNotAlone,
}

impl EventFilter {
    /// Every event type.
    pub fn all() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }

    /// Exactly these types.
    pub fn only(types: impl IntoIterator<Item = EventType>) -> Self {
        let mut filter = Self::default();
        for t in types {
            filter.insert(t);
        }
        filter
    }

    fn insert(&mut self, t: EventType) {
        match t.known_index() {
            Some(i) => self.known |= 1 << i,
            None if !self.custom.contains(&t) => self.custom.push(t),
            None => {}
        }
    }

    /// Parses a list of names: `["*"]` or event type names.
    pub fn parse<I, S>(names: I) -> Result<Self, FilterError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut filter = Self::default();
        let mut count = 0;
        for (index, name) in names.into_iter().enumerate() {
            count += 1;
            let name = name.as_ref();
            if name == "*" {
                filter.all = true;
            } else {
                let t = name
                    .parse()
                    .map_err(|source| FilterError::BadEntry { index, source })?;
                filter.insert(t);
            }
        }
        if count == 0 {
            return Err(FilterError::Empty);
        }
        if filter.all && count > 1 {
            return Err(FilterError::WildcardNotAlone);
        }
        Ok(filter)
    }

    /// Whether events of this type pass.
    #[inline]
    pub fn matches(&self, event_type: &EventType) -> bool {
        if self.all {
            return true;
        }
        match event_type.known_index() {
            Some(i) => self.known & (1 << i) != 0,
            None => self.custom.contains(event_type),
        }
    }

    /// Whether this is `*`.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// The names in this filter (`["*"]` for all), known types first.
    pub fn names(&self) -> Vec<String> {
        if self.all {
            return vec!["*".to_owned()];
        }
        EventType::KNOWN
            .iter()
            .filter(|t| self.matches(t))
            .chain(self.custom.iter())
            .map(|t| t.as_str().to_owned())
            .collect()
    }
}

impl fmt::Debug for EventFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EventFilter").field(&self.names()).finish()
    }
}

impl Serialize for EventFilter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EventFilter {
    /// Accepts a list of names or the single string `"*"`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        let names = match Form::deserialize(deserializer)? {
            Form::One(s) => vec![s],
            Form::Many(v) => v,
        };
        EventFilter::parse(names).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_errors_are_specific() {
        assert_eq!(
            EventFilter::parse(Vec::<String>::new()),
            Err(FilterError::Empty)
        );
        assert_eq!(
            EventFilter::parse(["*", "dlp.pii_blocked"]),
            Err(FilterError::WildcardNotAlone)
        );
        let err = EventFilter::parse(["dlp.pii_blocked", "budget.exhaustd"]).unwrap_err();
        assert!(matches!(err, FilterError::BadEntry { index: 1, .. }));
        assert!(err.to_string().contains("budget.exhaustd"));
    }

    #[test]
    fn custom_types_match_exactly() {
        let f = EventFilter::parse(["acme.swap", "loop.detected"]).unwrap();
        assert!(f.matches(&"acme.swap".parse().unwrap()));
        assert!(!f.matches(&"acme.other".parse().unwrap()));
        assert!(f.matches(&EventType::LoopDetected));
        assert_eq!(f.names(), vec!["loop.detected", "acme.swap"]);
    }

    #[test]
    fn deserializes_from_toml_like_forms() {
        let f: EventFilter = serde_json::from_str(r#""*""#).unwrap();
        assert!(f.is_all());
        let err = serde_json::from_str::<EventFilter>(r#"["nope"]"#).unwrap_err();
        assert!(err.to_string().contains("events[0]"));
    }
}
