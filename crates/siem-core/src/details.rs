//! Typed, metadata-only event details, one shape per event type.
//!
//! Nothing here can hold free text: labels are bounded [`Ident`]s, numbers are validated,
//! and fixed words (`action`, the test message) are unit types that serialize to one
//! constant. A prompt or response cannot be put into a detail, by construction.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::event_type::{CustomEventType, EventType};
use crate::ident::{interned, Ident};

macro_rules! fixed_word {
    ($(#[$doc:meta])* $name:ident = $word:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name;

        impl $name {
            /// The word on the wire.
            pub const WORD: &'static str = $word;
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($word)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::strde::with_str(deserializer, |s| {
                    if s == $word {
                        Ok($name)
                    } else {
                        Err(format!(
                            "expected {:?}, found {:?}",
                            $word,
                            s.chars().take(32).collect::<String>()
                        ))
                    }
                })
            }
        }
    };
}

fixed_word!(
    /// The action `blocked`.
    Blocked = "blocked"
);
fixed_word!(
    /// The action `redacted`.
    Redacted = "redacted"
);
fixed_word!(
    /// The action `killed`.
    Killed = "killed"
);
fixed_word!(
    /// The fixed message of a `siem.test` event; user text can never take its place.
    TestMessage = "Test event from siem-connectors: if you can read this, delivery works."
);

/// A finite, non-negative amount in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Usd(f64);

/// A detector's confidence, from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Confidence(f64);

/// A number outside its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{value} is outside the allowed range {range}")]
pub struct OutOfRange {
    value: f64,
    range: &'static str,
}

impl Usd {
    /// A dollar amount; must be finite and not negative.
    pub fn new(value: f64) -> Result<Self, OutOfRange> {
        if value.is_finite() && value >= 0.0 {
            Ok(Self(value))
        } else {
            Err(OutOfRange {
                value,
                range: "[0, ∞)",
            })
        }
    }

    /// The amount.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Confidence {
    /// A confidence; must lie in `[0, 1]`.
    pub fn new(value: f64) -> Result<Self, OutOfRange> {
        if (0.0..=1.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(OutOfRange {
                value,
                range: "[0, 1]",
            })
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Usd::new(f64::deserialize(deserializer)?).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Confidence {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Confidence::new(f64::deserialize(deserializer)?).map_err(de::Error::custom)
    }
}

/// `dlp.pii_blocked`: which kinds of PII were found; the request was blocked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiBlocked {
    /// Entity kinds, e.g. `SSN`, `CREDIT_CARD`, `EMAIL` (never the values).
    #[serde(deserialize_with = "interned::vec")]
    pub entities_found: Vec<Ident>,
    /// Always `blocked`.
    pub action: Blocked,
    /// The model the request was for.
    #[serde(deserialize_with = "interned::ident")]
    pub model: Ident,
}

/// `dlp.injection_blocked`: a prompt injection was detected and the request blocked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectionBlocked {
    /// Always `blocked`.
    pub action: Blocked,
    /// The model the request was for.
    #[serde(deserialize_with = "interned::ident")]
    pub model: Ident,
    /// The detector that fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<Ident>,
    /// How sure the detector was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

/// `dlp.pii_redacted`: PII was found and redacted before the request went on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiRedacted {
    /// Entity kinds found.
    #[serde(deserialize_with = "interned::vec")]
    pub entities_found: Vec<Ident>,
    /// How many spans were redacted.
    pub redaction_count: u32,
    /// Always `redacted`.
    pub action: Redacted,
    /// The model the request was for.
    #[serde(deserialize_with = "interned::ident")]
    pub model: Ident,
}

/// Whose budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetScope {
    /// The project's budget.
    Project,
    /// One user's budget.
    User,
}

/// `budget.exhausted`: a budget limit was reached; further requests are blocked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetExhausted {
    /// Project or user budget.
    pub scope: BudgetScope,
    /// The limit.
    pub limit_usd: Usd,
    /// What has been spent in the period.
    pub spent_usd: Usd,
    /// The budget period, e.g. `monthly`.
    #[serde(deserialize_with = "interned::ident")]
    pub period: Ident,
}

/// `loop.detected`: an agent retry loop was detected and killed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopDetected {
    /// Iterations seen in the window.
    pub iterations: u64,
    /// The detection window.
    pub window_seconds: u64,
    /// What the loop would have cost per hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost_per_hour_usd: Option<Usd>,
    /// Always `killed`.
    pub action: Killed,
    /// The model the agent was calling.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "interned::option"
    )]
    pub model: Option<Ident>,
}

/// `siem.test`: a synthetic event that checks a connector end to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiemTest {
    /// Always [`TestMessage::WORD`].
    pub message: TestMessage,
}

/// A metadata value in a custom event's details: never free text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetadataValue {
    /// A flag.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A finite number.
    Number(FiniteF64),
    /// A short label.
    Label(Ident),
    /// Several short labels (at most [`MAX_CUSTOM_LABELS`]).
    Labels(Vec<Ident>),
}

/// The most labels one custom metadata value may hold.
pub const MAX_CUSTOM_LABELS: usize = 64;
/// The most fields custom details may hold.
pub const MAX_CUSTOM_FIELDS: usize = 32;

/// A finite `f64`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct FiniteF64(f64);

impl FiniteF64 {
    /// `None` for NaN and infinities.
    pub fn new(value: f64) -> Option<Self> {
        value.is_finite().then_some(Self(value))
    }
    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for FiniteF64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        FiniteF64::new(f64::deserialize(deserializer)?)
            .ok_or_else(|| de::Error::custom("number must be finite"))
    }
}

/// A custom field name: lowercase `[a-z0-9_]`, 1 to 64 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FieldName(Ident);

impl FieldName {
    /// Validates a field name.
    pub fn new(name: &str) -> Result<Self, InvalidFieldName> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ident::new(name).map(Self).map_err(|_| InvalidFieldName)
        } else {
            Err(InvalidFieldName)
        }
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

/// A custom field name that breaks the rules of [`FieldName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field names are 1 to 64 characters of lowercase a-z, 0-9 and '_'")]
pub struct InvalidFieldName;

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::strde::with_str(deserializer, FieldName::new)
    }
}

/// Details of a third party's custom event type: a bounded map of metadata values.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomDetails {
    /// The custom type these details belong to.
    pub event_type: CustomEventType,
    /// The metadata.
    pub fields: BTreeMap<FieldName, MetadataValue>,
}

/// The details of an event. The variant decides the event type, so an event can never
/// carry details of another type.
#[derive(Debug, Clone, PartialEq)]
pub enum Details {
    /// `dlp.pii_blocked`
    PiiBlocked(PiiBlocked),
    /// `dlp.injection_blocked`
    InjectionBlocked(InjectionBlocked),
    /// `dlp.pii_redacted`
    PiiRedacted(PiiRedacted),
    /// `budget.exhausted`
    BudgetExhausted(BudgetExhausted),
    /// `loop.detected`
    LoopDetected(LoopDetected),
    /// `siem.test`
    SiemTest(SiemTest),
    /// A custom type.
    Custom(CustomDetails),
}

impl Details {
    /// The event type these details describe.
    pub fn event_type(&self) -> EventType {
        match self {
            Details::PiiBlocked(_) => EventType::PiiBlocked,
            Details::InjectionBlocked(_) => EventType::InjectionBlocked,
            Details::PiiRedacted(_) => EventType::PiiRedacted,
            Details::BudgetExhausted(_) => EventType::BudgetExhausted,
            Details::LoopDetected(_) => EventType::LoopDetected,
            Details::SiemTest(_) => EventType::SiemTest,
            Details::Custom(c) => EventType::Custom(c.event_type.clone()),
        }
    }

    /// Reads the details of an event of type `event_type`.
    pub fn deserialize_for<'de, D: Deserializer<'de>>(
        event_type: &EventType,
        deserializer: D,
    ) -> Result<Self, D::Error> {
        Ok(match event_type {
            EventType::PiiBlocked => Details::PiiBlocked(Deserialize::deserialize(deserializer)?),
            EventType::InjectionBlocked => {
                Details::InjectionBlocked(Deserialize::deserialize(deserializer)?)
            }
            EventType::PiiRedacted => Details::PiiRedacted(Deserialize::deserialize(deserializer)?),
            EventType::BudgetExhausted => {
                Details::BudgetExhausted(Deserialize::deserialize(deserializer)?)
            }
            EventType::LoopDetected => {
                Details::LoopDetected(Deserialize::deserialize(deserializer)?)
            }
            EventType::SiemTest => Details::SiemTest(Deserialize::deserialize(deserializer)?),
            EventType::Custom(t) => {
                let fields = BTreeMap::<FieldName, MetadataValue>::deserialize(deserializer)?;
                check_custom_fields(&fields).map_err(de::Error::custom)?;
                Details::Custom(CustomDetails {
                    event_type: t.clone(),
                    fields,
                })
            }
        })
    }
}

/// Checks the size bounds of custom details.
pub(crate) fn check_custom_fields(
    fields: &BTreeMap<FieldName, MetadataValue>,
) -> Result<(), String> {
    if fields.len() > MAX_CUSTOM_FIELDS {
        return Err(format!(
            "custom details hold {} fields; at most {MAX_CUSTOM_FIELDS} are allowed",
            fields.len()
        ));
    }
    for (name, value) in fields {
        if let MetadataValue::Labels(labels) = value {
            if labels.len() > MAX_CUSTOM_LABELS {
                return Err(format!(
                    "field `{}` holds {} labels; at most {MAX_CUSTOM_LABELS} are allowed",
                    name.as_str(),
                    labels.len()
                ));
            }
        }
    }
    Ok(())
}

impl Serialize for Details {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Details::PiiBlocked(d) => d.serialize(serializer),
            Details::InjectionBlocked(d) => d.serialize(serializer),
            Details::PiiRedacted(d) => d.serialize(serializer),
            Details::BudgetExhausted(d) => d.serialize(serializer),
            Details::LoopDetected(d) => d.serialize(serializer),
            Details::SiemTest(d) => d.serialize(serializer),
            Details::Custom(d) => d.fields.serialize(serializer),
        }
    }
}

impl Details {
    /// Appends the details object, byte for byte what `serde_json` writes for it (the
    /// property tests check every encoder against serde's view). The gateway's types are
    /// written directly (serde's generic path was a tenth of encoding), each struct
    /// destructured in full, so a new field does not compile until it is written here;
    /// custom details go through `serde_json`. Serializing custom details into a `Vec`
    /// cannot fail; should that ever change, the partial output is replaced by `fallback`
    /// (e.g. `{}` or `null`) so the body stays valid JSON rather than the event being
    /// dropped.
    pub fn write_json(&self, out: &mut Vec<u8>, fallback: &[u8]) {
        use crate::json::{push_f64, push_labels, push_u64, push_word_field};
        match self {
            Details::PiiBlocked(PiiBlocked {
                entities_found,
                action: Blocked,
                model,
            }) => {
                out.extend_from_slice(b"{\"entities_found\":");
                push_labels(out, entities_found);
                push_word_field(out, b",\"action\":", Blocked::WORD);
                push_word_field(out, b",\"model\":", model.as_str());
            }
            Details::InjectionBlocked(InjectionBlocked {
                action: Blocked,
                model,
                detector,
                confidence,
            }) => {
                push_word_field(out, b"{\"action\":", Blocked::WORD);
                push_word_field(out, b",\"model\":", model.as_str());
                if let Some(detector) = detector {
                    push_word_field(out, b",\"detector\":", detector.as_str());
                }
                if let Some(confidence) = confidence {
                    out.extend_from_slice(b",\"confidence\":");
                    push_f64(out, confidence.get());
                }
            }
            Details::PiiRedacted(PiiRedacted {
                entities_found,
                redaction_count,
                action: Redacted,
                model,
            }) => {
                out.extend_from_slice(b"{\"entities_found\":");
                push_labels(out, entities_found);
                out.extend_from_slice(b",\"redaction_count\":");
                push_u64(out, u64::from(*redaction_count));
                push_word_field(out, b",\"action\":", Redacted::WORD);
                push_word_field(out, b",\"model\":", model.as_str());
            }
            Details::BudgetExhausted(BudgetExhausted {
                scope,
                limit_usd,
                spent_usd,
                period,
            }) => {
                let scope = match scope {
                    BudgetScope::Project => "project",
                    BudgetScope::User => "user",
                };
                push_word_field(out, b"{\"scope\":", scope);
                out.extend_from_slice(b",\"limit_usd\":");
                push_f64(out, limit_usd.get());
                out.extend_from_slice(b",\"spent_usd\":");
                push_f64(out, spent_usd.get());
                push_word_field(out, b",\"period\":", period.as_str());
            }
            Details::LoopDetected(LoopDetected {
                iterations,
                window_seconds,
                estimated_cost_per_hour_usd,
                action: Killed,
                model,
            }) => {
                out.extend_from_slice(b"{\"iterations\":");
                push_u64(out, *iterations);
                out.extend_from_slice(b",\"window_seconds\":");
                push_u64(out, *window_seconds);
                if let Some(cost) = estimated_cost_per_hour_usd {
                    out.extend_from_slice(b",\"estimated_cost_per_hour_usd\":");
                    push_f64(out, cost.get());
                }
                push_word_field(out, b",\"action\":", Killed::WORD);
                if let Some(model) = model {
                    push_word_field(out, b",\"model\":", model.as_str());
                }
            }
            Details::SiemTest(SiemTest {
                message: TestMessage,
            }) => push_word_field(out, b"{\"message\":", TestMessage::WORD),
            Details::Custom(CustomDetails {
                event_type: _,
                fields,
            }) => {
                let start = out.len();
                if serde_json::to_writer(&mut *out, fields).is_err() {
                    out.truncate(start);
                    out.extend_from_slice(fallback);
                }
                return;
            }
        }
        out.push(b'}');
    }
}

macro_rules! into_details {
    ($($ty:ident),*) => {$(
        impl From<$ty> for Details {
            fn from(d: $ty) -> Self {
                Details::$ty(d)
            }
        }
    )*};
}
into_details!(
    PiiBlocked,
    InjectionBlocked,
    PiiRedacted,
    BudgetExhausted,
    LoopDetected,
    SiemTest
);

impl From<CustomDetails> for Details {
    fn from(d: CustomDetails) -> Self {
        Details::Custom(d)
    }
}
