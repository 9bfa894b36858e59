//! The severity scale shared by every adapter.

use std::str::FromStr;

/// How serious a security event is: `critical > high > medium > low > info`.
///
/// Each adapter maps it onto its platform's own scale; on our canonical wire it is the
/// lowercase word.
///
/// ```
/// use siem_core::Severity;
/// assert!(Severity::Critical > Severity::High);
/// assert_eq!("medium".parse::<Severity>()?, Severity::Medium);
/// assert_eq!(Severity::Low.to_string(), "low");
/// # Ok::<(), siem_core::UnknownSeverity>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational; nothing to act on (test events).
    Info,
    /// Worth knowing.
    Low,
    /// Policy acted; review when convenient.
    Medium,
    /// Policy blocked something that matters.
    High,
    /// Active attack or severe exposure.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lowercase word used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A string that names no [`Severity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}; expected one of critical, high, medium, low, info")]
pub struct UnknownSeverity(pub String);

impl Severity {
    /// For the event reader: the wire words as written decided inline (the `Result` of
    /// [`FromStr`] is returned through memory); anything else through `FromStr`, which
    /// also ignores ASCII case.
    #[inline(always)]
    pub(crate) fn parse_for_reader(s: &str) -> Option<Severity> {
        match Severity::ALL.into_iter().find(|sev| sev.as_str() == s) {
            Some(sev) => Some(sev),
            None => s.parse().ok(),
        }
    }
}

impl FromStr for Severity {
    type Err = UnknownSeverity;
    /// Parses the wire word; ASCII case is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity(s.chars().take(64).collect()))
    }
}

crate::strde::str_traits!(Severity, str::parse);
