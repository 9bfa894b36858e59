//! Event types: the known ones and validated, namespaced custom ones.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::Severity;

/// The longest custom event type name we accept.
pub const MAX_EVENT_TYPE_LEN: usize = 64;

/// Namespaces that belong to the known event types; custom types may not use them, so a
/// typo such as `dlp.pii_blockd` is an error rather than a new type.
pub const RESERVED_NAMESPACES: [&str; 4] = ["dlp", "budget", "loop", "siem"];

/// What kind of enforcement decision an event reports.
///
/// ```
/// use siem_core::{EventType, Severity};
/// let t: EventType = "dlp.pii_blocked".parse()?;
/// assert_eq!(t, EventType::PiiBlocked);
/// assert_eq!(t.default_severity(), Severity::High);
/// let custom: EventType = "acme.model_swap".parse()?;
/// assert!(custom.is_custom());
/// assert!("dlp.pii_blockd".parse::<EventType>().is_err());
/// # Ok::<(), siem_core::EventTypeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `dlp.pii_blocked`: a request was blocked because it contained PII.
    PiiBlocked,
    /// `dlp.injection_blocked`: a prompt injection was detected and blocked.
    InjectionBlocked,
    /// `dlp.pii_redacted`: PII was redacted before forwarding.
    PiiRedacted,
    /// `budget.exhausted`: a budget limit was reached.
    BudgetExhausted,
    /// `loop.detected`: an agent retry loop was detected and killed.
    LoopDetected,
    /// `siem.test`: a synthetic event sent to check a connector.
    SiemTest,
    /// A third party's namespaced type, `vendor.name`.
    Custom(CustomEventType),
}

impl EventType {
    /// The known (non-custom) event types.
    pub const KNOWN: [EventType; 6] = [
        EventType::PiiBlocked,
        EventType::InjectionBlocked,
        EventType::PiiRedacted,
        EventType::BudgetExhausted,
        EventType::LoopDetected,
        EventType::SiemTest,
    ];

    /// The dotted name used on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            EventType::PiiBlocked => "dlp.pii_blocked",
            EventType::InjectionBlocked => "dlp.injection_blocked",
            EventType::PiiRedacted => "dlp.pii_redacted",
            EventType::BudgetExhausted => "budget.exhausted",
            EventType::LoopDetected => "loop.detected",
            EventType::SiemTest => "siem.test",
            EventType::Custom(c) => c.as_str(),
        }
    }

    /// The severity an event of this type has unless overridden.
    ///
    /// Custom types default to [`Severity::Medium`].
    pub fn default_severity(&self) -> Severity {
        match self {
            EventType::PiiBlocked => Severity::High,
            EventType::InjectionBlocked => Severity::Critical,
            EventType::PiiRedacted => Severity::Medium,
            EventType::BudgetExhausted => Severity::Medium,
            EventType::LoopDetected => Severity::High,
            EventType::SiemTest => Severity::Info,
            EventType::Custom(_) => Severity::Medium,
        }
    }

    /// Whether this is a third-party type.
    pub fn is_custom(&self) -> bool {
        matches!(self, EventType::Custom(_))
    }

    /// A small dense index for known types (`None` for custom ones); used by filters.
    pub(crate) fn known_index(&self) -> Option<u32> {
        match self {
            EventType::PiiBlocked => Some(0),
            EventType::InjectionBlocked => Some(1),
            EventType::PiiRedacted => Some(2),
            EventType::BudgetExhausted => Some(3),
            EventType::LoopDetected => Some(4),
            EventType::SiemTest => Some(5),
            EventType::Custom(_) => None,
        }
    }
}

/// A validated third-party event type: `namespace.name`, lowercase `[a-z0-9_.]`, at most
/// [`MAX_EVENT_TYPE_LEN`] characters, outside the [`RESERVED_NAMESPACES`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomEventType(Arc<str>);

impl CustomEventType {
    /// Validates a custom type name.
    pub fn new(name: &str) -> Result<Self, EventTypeError> {
        let invalid = |reason| EventTypeError::Invalid {
            name: truncate(name),
            reason,
        };
        if name.len() > MAX_EVENT_TYPE_LEN {
            return Err(invalid("is longer than 64 characters"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        {
            return Err(invalid("may only contain lowercase a-z, 0-9, '_' and '.'"));
        }
        let Some((namespace, rest)) = name.split_once('.') else {
            return Err(invalid("needs a namespace, as in `vendor.name`"));
        };
        if namespace.is_empty() || rest.is_empty() || name.split('.').any(str::is_empty) {
            return Err(invalid("has an empty dot-separated part"));
        }
        if RESERVED_NAMESPACES.contains(&namespace) {
            return Err(EventTypeError::Unknown {
                name: truncate(name),
            });
        }
        Ok(Self(Arc::from(name)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn truncate(name: &str) -> String {
    name.chars().take(80).collect()
}

impl fmt::Debug for CustomEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// A string that is not a usable event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventTypeError {
    /// A name in a reserved namespace that is not one of the known types.
    #[error(
        "unknown event type {name:?}; known types are dlp.pii_blocked, dlp.injection_blocked, \
         dlp.pii_redacted, budget.exhausted, loop.detected, siem.test (custom types use their \
         own namespace, e.g. `vendor.name`)"
    )]
    Unknown {
        /// The name as given (truncated).
        name: String,
    },
    /// A custom name that breaks the naming rules.
    #[error("invalid event type {name:?}: {reason}")]
    Invalid {
        /// The name as given (truncated).
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
}

impl EventType {
    /// The known type with this name, if any.
    #[inline(always)]
    fn known(name: &str) -> Option<EventType> {
        Some(match name {
            "dlp.pii_blocked" => EventType::PiiBlocked,
            "dlp.injection_blocked" => EventType::InjectionBlocked,
            "dlp.pii_redacted" => EventType::PiiRedacted,
            "budget.exhausted" => EventType::BudgetExhausted,
            "loop.detected" => EventType::LoopDetected,
            "siem.test" => EventType::SiemTest,
            _ => return None,
        })
    }

    /// For the event reader: a known type decided inline (the `Result` of [`FromStr`] is
    /// returned through memory); custom types through `FromStr`.
    #[inline(always)]
    pub(crate) fn parse_for_reader(s: &str) -> Option<EventType> {
        match Self::known(s) {
            Some(known) => Some(known),
            None => s.parse().ok(),
        }
    }
}

impl FromStr for EventType {
    type Err = EventTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Self::known(s) {
            Some(known) => Ok(known),
            None => Ok(EventType::Custom(CustomEventType::new(s)?)),
        }
    }
}

crate::strde::str_traits!(EventType, str::parse);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_round_trip() {
        for t in EventType::KNOWN {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
        }
    }

    #[test]
    fn custom_names_are_validated() {
        assert!(CustomEventType::new("acme.model_swap").is_ok());
        assert!(CustomEventType::new("acme.sub.kind_2").is_ok());
        for bad in [
            "acme", "Acme.x", "acme..x", ".x", "x.", "acme.x-y", "acme x.y",
        ] {
            assert!(
                matches!(
                    CustomEventType::new(bad),
                    Err(EventTypeError::Invalid { .. })
                ),
                "{bad}"
            );
        }
        assert!(CustomEventType::new(&format!("a.{}", "b".repeat(63))).is_err());
        assert!(matches!(
            "dlp.pii_blockd".parse::<EventType>(),
            Err(EventTypeError::Unknown { .. })
        ));
    }
}
