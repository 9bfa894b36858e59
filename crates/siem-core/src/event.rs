//! The security event and its canonical JSON form.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, DeserializeSeed, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::details::Details;
use crate::event_type::EventType;
use crate::ident::{interned, Ident, IdentError};
use crate::severity::Severity;
use crate::timestamp::Timestamp;

/// The `source` of events unless configured otherwise.
pub const DEFAULT_SOURCE: &str = "aisg";

/// A unique event id (a UUID), which lets SIEMs de-duplicate retried deliveries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(Uuid);

impl EventId {
    /// A fresh random (v4) id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Wraps an existing UUID.
    pub fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The lowercase hyphenated form as bytes, for writers of JSON and other wire
    /// formats (no formatter, no buffer to pass).
    ///
    /// ```
    /// let id: siem_core::EventId = "A1A2A3A4-B1B2-4C1C-8D1D-E1E2E3E4E5E6".parse()?;
    /// assert_eq!(&id.hyphenated(), b"a1a2a3a4-b1b2-4c1c-8d1d-e1e2e3e4e5e6");
    /// # Ok::<(), siem_core::InvalidEventId>(())
    /// ```
    #[inline]
    pub fn hyphenated(&self) -> [u8; 36] {
        crate::hex::encode_hyphenated(self.0.as_u128())
    }

    /// Appends the lowercase hyphenated form to `out`.
    pub fn write_to(&self, out: &mut String) {
        let mut buf = Uuid::encode_buffer();
        out.push_str(self.0.hyphenated().encode_lower(&mut buf));
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event_id must be a UUID: {0}")]
pub struct InvalidEventId(String);

impl FromStr for EventId {
    type Err = InvalidEventId;
    #[inline]
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match Self::from_hyphenated(s) {
            Some(id) => Ok(id),
            None => parse_other_uuid_forms(s),
        }
    }
}

impl EventId {
    /// The id in its usual hyphenated form, decoded in place; `None` for anything else.
    /// Always inlined: returned through memory, the 16 bytes were read back wider than
    /// they were written, stalling the parser on every event.
    #[inline(always)]
    pub(crate) fn from_hyphenated(s: &str) -> Option<Self> {
        crate::hex::decode_hyphenated(s.as_bytes()).map(|value| Self(Uuid::from_u128(value)))
    }
}

/// Every form of UUID other than the usual one, through `uuid` (which also explains
/// failures).
#[inline(never)]
pub(crate) fn parse_other_uuid_forms(s: &str) -> Result<EventId, InvalidEventId> {
    Uuid::parse_str(s)
        .map(EventId)
        .map_err(|e| InvalidEventId(e.to_string()))
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = Uuid::encode_buffer();
        serializer.serialize_str(self.0.hyphenated().encode_lower(&mut buf))
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::strde::with_str(deserializer, str::parse)
    }
}

/// Metadata about one enforcement decision of the gateway.
///
/// Never holds prompt or response text: every field is a bounded identifier, a number,
/// a fixed word or typed [`Details`]. The event type follows from the details, so the two
/// can never disagree.
///
/// ```
/// use siem_core::{details::{PiiBlocked, Blocked}, Ident, SecurityEvent, Severity};
/// let event = SecurityEvent::builder(
///     "org_acme",
///     "proj_abc123",
///     PiiBlocked {
///         entities_found: vec![Ident::new("SSN")?],
///         action: Blocked,
///         model: Ident::new("gpt-4.1")?,
///     },
/// )
/// .request_id("req_xyz789")
/// .build()?;
/// assert_eq!(event.event_type().as_str(), "dlp.pii_blocked");
/// assert_eq!(event.severity(), Severity::High);
/// let json = event.to_json();
/// assert_eq!(siem_core::SecurityEvent::from_json(&json)?, event);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityEvent {
    event_id: EventId,
    event_type: EventType,
    org_id: Ident,
    project_id: Ident,
    request_id: Option<Ident>,
    severity: Severity,
    source: Ident,
    timestamp: Timestamp,
    details: Details,
    /// [`estimated_size`](Self::estimated_size), computed once at construction: queues
    /// ask for it on every push and pop.
    estimated_size: u32,
}

impl AsRef<SecurityEvent> for SecurityEvent {
    fn as_ref(&self) -> &SecurityEvent {
        self
    }
}

/// An event field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {source}")]
pub struct EventError {
    /// The field, e.g. `org_id`.
    pub field: &'static str,
    /// What is wrong with it.
    #[source]
    pub source: IdentError,
}

impl SecurityEvent {
    /// Starts an event for `org_id` / `project_id` with the given details. Identifiers are
    /// checked by [`SecurityEventBuilder::build`].
    pub fn builder(
        org_id: impl Into<String>,
        project_id: impl Into<String>,
        details: impl Into<Details>,
    ) -> SecurityEventBuilder {
        SecurityEventBuilder {
            org_id: org_id.into(),
            project_id: project_id.into(),
            details: details.into(),
            request_id: None,
            severity: None,
            source: None,
            timestamp: None,
            event_id: None,
        }
    }

    /// The event's unique id.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }
    /// The event type (follows from the details).
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }
    /// The organization: the routing key.
    pub fn org_id(&self) -> &Ident {
        &self.org_id
    }
    /// The project inside the organization.
    pub fn project_id(&self) -> &Ident {
        &self.project_id
    }
    /// The gateway request that triggered the event, if any.
    pub fn request_id(&self) -> Option<&Ident> {
        self.request_id.as_ref()
    }
    /// How serious the event is.
    pub fn severity(&self) -> Severity {
        self.severity
    }
    /// The producer, `aisg` unless configured.
    pub fn source(&self) -> &Ident {
        &self.source
    }
    /// When the decision happened.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
    /// Typed, metadata-only details.
    pub fn details(&self) -> &Details {
        &self.details
    }

    /// Returns the event with another severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Returns the event with another source.
    pub fn with_source(mut self, source: Ident) -> Self {
        self.source = source;
        self.sized()
    }

    /// A cheap upper-bound estimate of the canonical JSON size in bytes, for byte-bounded
    /// queues. Not exact; never less than 160.
    #[inline]
    pub fn estimated_size(&self) -> usize {
        self.estimated_size as usize
    }

    /// Stores the size estimate; every constructor ends here. Inlined: the event (some
    /// 200 bytes) is copied on each return that is not.
    #[inline(always)]
    fn sized(mut self) -> Self {
        self.estimated_size = u32::try_from(self.compute_estimated_size()).unwrap_or(u32::MAX);
        self
    }

    fn compute_estimated_size(&self) -> usize {
        let idents = self.org_id.as_str().len()
            + self.project_id.as_str().len()
            + self.request_id.as_ref().map_or(0, |r| r.as_str().len())
            + self.source.as_str().len()
            + self.event_type.as_str().len();
        let details = match &self.details {
            Details::PiiBlocked(d) => 64 + d.model.as_str().len() + labels_len(&d.entities_found),
            Details::PiiRedacted(d) => 96 + d.model.as_str().len() + labels_len(&d.entities_found),
            Details::InjectionBlocked(d) => {
                96 + d.model.as_str().len() + d.detector.as_ref().map_or(0, |x| x.as_str().len())
            }
            Details::BudgetExhausted(d) => 96 + d.period.as_str().len(),
            Details::LoopDetected(d) => 128 + d.model.as_ref().map_or(0, |x| x.as_str().len()),
            Details::SiemTest(_) => 96,
            Details::Custom(c) => 16 + c.fields.len() * (MAX_CUSTOM_VALUE_ESTIMATE),
        };
        160 + idents + details
    }

    /// Appends the canonical JSON of the event: byte for byte what
    /// [`to_json`](Self::to_json) gives (a test holds the two together), written directly
    /// because disk buffers write every event once and serde's generic path was most of
    /// that cost. Every field is destructured, so a new one does not compile until it is
    /// written here.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::json::{push_event_id, push_word_field};
        let SecurityEvent {
            event_id,
            event_type,
            org_id,
            project_id,
            request_id,
            severity,
            source,
            timestamp,
            details,
            estimated_size: _,
        } = self;
        out.extend_from_slice(b"{\"event_id\":\"");
        push_event_id(out, *event_id);
        out.push(b'"');
        push_word_field(out, b",\"event_type\":", event_type.as_str());
        push_word_field(out, b",\"org_id\":", org_id.as_str());
        push_word_field(out, b",\"project_id\":", project_id.as_str());
        if let Some(request_id) = request_id {
            push_word_field(out, b",\"request_id\":", request_id.as_str());
        }
        push_word_field(out, b",\"severity\":", severity.as_str());
        push_word_field(out, b",\"source\":", source.as_str());
        out.extend_from_slice(b",\"timestamp\":\"");
        timestamp.write_rfc3339_bytes(out);
        out.extend_from_slice(b"\",\"details\":");
        details.write_json(out, b"{}");
        out.push(b'}');
    }

    /// The canonical JSON of the event.
    pub fn to_json(&self) -> String {
        // Serializing our own types to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the canonical JSON of one event. Missing `event_id`, `severity`, `source` and
    /// `timestamp` are filled in (a new id, the type's default, `aisg`, now). Unknown fields
    /// and invalid values are errors that name the field path.
    pub fn from_json(json: &str) -> Result<Self, EventParseError> {
        // Three readers, cheapest first; each later one accepts everything an earlier one
        // does. The hand-written reader takes events in their usual shape; serde without
        // path tracking takes any other valid input; path tracking (a quarter of a parse)
        // only runs to explain a failure.
        if let Some(event) = crate::json::read::read_event(json) {
            return Ok(event);
        }
        if let Some(event) = serde_json::from_str::<WireEvent<&RawValue>>(json)
            .ok()
            .and_then(WireEvent::into_event_fast)
        {
            return Ok(event);
        }
        parse_with_path(serde_json::Deserializer::from_str(json))
    }

    /// Like [`from_json`](Self::from_json), from bytes (which must be UTF-8).
    pub fn from_json_slice(json: &[u8]) -> Result<Self, EventParseError> {
        // Every line `siem forward` reads comes through here: a SIMD check of the whole
        // line (about half the instructions of the standard library's on these lines).
        match simdutf8::basic::from_utf8(json) {
            Ok(text) => Self::from_json(text),
            // Not UTF-8, so no reader can accept it: only explain where it breaks.
            Err(_) => parse_with_path(serde_json::Deserializer::from_slice(json)),
        }
    }
}

const MAX_CUSTOM_VALUE_ESTIMATE: usize = 160;

fn labels_len(labels: &[Ident]) -> usize {
    labels.iter().map(|l| l.as_str().len() + 3).sum()
}

/// The slow reader: tracks the field path so that an error can name it; also checks
/// that nothing follows the event.
fn parse_with_path<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
) -> Result<SecurityEvent, EventParseError> {
    let mut track = serde_path_to_error::Track::new();
    let wire = WireEvent::<Box<RawValue>>::deserialize(serde_path_to_error::Deserializer::new(
        &mut de, &mut track,
    ))
    .map_err(|e| EventParseError::new(track.path().to_string(), &e))?;
    let event = wire.into_event()?;
    de.end()
        .map_err(|e| EventParseError::new(String::new(), &e))?;
    Ok(event)
}

/// Canonical JSON that could not be read as an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("`{path}`: ") })]
pub struct EventParseError {
    /// The field path, e.g. `details.limit_usd`; empty when the problem is not in a field.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl EventParseError {
    fn new(path: String, err: &serde_json::Error) -> Self {
        let path = if path == "." { String::new() } else { path };
        Self {
            path,
            message: err.to_string(),
        }
    }
}

/// The event as it arrives on the wire, before the details are typed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireEvent<D> {
    #[serde(default)]
    pub(crate) event_id: Option<EventId>,
    pub(crate) event_type: EventType,
    #[serde(deserialize_with = "interned::ident")]
    pub(crate) org_id: Ident,
    #[serde(deserialize_with = "interned::ident")]
    pub(crate) project_id: Ident,
    #[serde(default)]
    pub(crate) request_id: Option<Ident>,
    #[serde(default)]
    pub(crate) severity: Option<Severity>,
    #[serde(default, deserialize_with = "interned::option")]
    pub(crate) source: Option<Ident>,
    #[serde(default)]
    pub(crate) timestamp: Option<Timestamp>,
    /// Borrowed from the input on the fast path, owned through `Deserialize`.
    pub(crate) details: D,
}

impl<D: std::ops::Deref<Target = RawValue>> WireEvent<D> {
    /// Types the details without tracking their path: the fast path, for valid input.
    fn into_event_fast(self) -> Option<SecurityEvent> {
        let mut de = serde_json::Deserializer::from_str(self.details.get());
        let details = DetailsSeed(&self.event_type).deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(self.finish(details))
    }

    fn into_event(self) -> Result<SecurityEvent, EventParseError> {
        let mut de = serde_json::Deserializer::from_str(self.details.get());
        let mut track = serde_path_to_error::Track::new();
        let details = DetailsSeed(&self.event_type)
            .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
            .map_err(|e| {
                let inner = track.path().to_string();
                let path = if inner == "." || inner.is_empty() {
                    "details".to_owned()
                } else {
                    format!("details.{inner}")
                };
                // Positions inside the details value would not match the caller's input;
                // the path says where the problem is.
                let mut err = EventParseError::new(path, &e);
                let suffix = format!(" at line {} column {}", e.line(), e.column());
                if let Some(stripped) = err.message.strip_suffix(&suffix) {
                    err.message = stripped.to_owned();
                }
                err
            })?;
        Ok(self.finish(details))
    }
}

impl<D> WireEvent<D> {
    pub(crate) fn finish(self, details: Details) -> SecurityEvent {
        SecurityEvent {
            event_id: self.event_id.unwrap_or_else(EventId::new_random),
            severity: self
                .severity
                .unwrap_or_else(|| self.event_type.default_severity()),
            event_type: self.event_type,
            org_id: self.org_id,
            project_id: self.project_id,
            request_id: self.request_id,
            source: self.source.unwrap_or_else(default_source),
            timestamp: self.timestamp.unwrap_or_else(Timestamp::now),
            details,
            estimated_size: 0,
        }
        .sized()
    }
}

fn default_source() -> Ident {
    Ident::known_valid(DEFAULT_SOURCE)
}

pub(crate) struct DetailsSeed<'a>(pub(crate) &'a EventType);

impl<'de> DeserializeSeed<'de> for DetailsSeed<'_> {
    type Value = Details;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Details, D::Error> {
        Details::deserialize_for(self.0, deserializer)
    }
}

impl Serialize for SecurityEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = if self.request_id.is_some() { 9 } else { 8 };
        let mut s = serializer.serialize_struct("SecurityEvent", fields)?;
        s.serialize_field("event_id", &self.event_id)?;
        s.serialize_field("event_type", &self.event_type)?;
        s.serialize_field("org_id", &self.org_id)?;
        s.serialize_field("project_id", &self.project_id)?;
        if let Some(request_id) = &self.request_id {
            s.serialize_field("request_id", request_id)?;
        } else {
            s.skip_field("request_id")?;
        }
        s.serialize_field("severity", &self.severity)?;
        s.serialize_field("source", &self.source)?;
        s.serialize_field("timestamp", &self.timestamp)?;
        s.serialize_field("details", &self.details)?;
        s.end()
    }
}

impl<'de> Deserialize<'de> for SecurityEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        WireEvent::<Box<RawValue>>::deserialize(deserializer)?
            .into_event()
            .map_err(de::Error::custom)
    }
}

/// Builds a [`SecurityEvent`], validating identifiers and filling defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct SecurityEventBuilder {
    org_id: String,
    project_id: String,
    details: Details,
    request_id: Option<String>,
    severity: Option<Severity>,
    source: Option<String>,
    timestamp: Option<Timestamp>,
    event_id: Option<EventId>,
}

/// Setters of a builder's optional fields: `field: Type` makes `pub fn field(mut self,
/// value: impl Into<Type>) -> Self`, which sets the field to `Some(value.into())`.
macro_rules! optional_setters {
    ($($(#[$attr:meta])* $field:ident: $ty:ty;)*) => {
        $(
            $(#[$attr])*
            pub fn $field(mut self, value: impl Into<$ty>) -> Self {
                self.$field = Some(value.into());
                self
            }
        )*
    };
}

impl SecurityEventBuilder {
    optional_setters! {
        /// The gateway request that triggered the event.
        request_id: String;
        /// Overrides the type's default severity.
        severity: Severity;
        /// Overrides the source (`aisg`).
        source: String;
        /// Sets the time of the decision (default: now).
        timestamp: Timestamp;
        /// Sets the id (default: a new random UUID).
        event_id: EventId;
    }

    /// Validates the identifiers and builds the event.
    pub fn build(self) -> Result<SecurityEvent, EventError> {
        let ident = |field, value: String| {
            Ident::try_from(value).map_err(|source| EventError { field, source })
        };
        let event_type = self.details.event_type();
        Ok(SecurityEvent {
            event_id: self.event_id.unwrap_or_else(EventId::new_random),
            severity: self
                .severity
                .unwrap_or_else(|| event_type.default_severity()),
            event_type,
            org_id: ident("org_id", self.org_id)?,
            project_id: ident("project_id", self.project_id)?,
            request_id: self
                .request_id
                .map(|r| ident("request_id", r))
                .transpose()?,
            source: match self.source {
                Some(source) => ident("source", source)?,
                None => default_source(),
            },
            timestamp: self.timestamp.unwrap_or_else(Timestamp::now),
            details: self.details,
            estimated_size: 0,
        }
        .sized())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place decoder agrees with `uuid`'s parser on valid ids in every case and on
    /// every single-character edit of them.
    #[test]
    fn event_ids_parse_exactly_as_uuid_parses_them() {
        let agree = |text: &str| {
            assert_eq!(
                text.parse::<EventId>().ok().map(|id| id.as_uuid()),
                Uuid::parse_str(text).ok(),
                "{text:?}"
            );
        };
        for _ in 0..20 {
            let id = Uuid::new_v4().hyphenated().to_string();
            let mixed: String = id
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 3 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for text in [id.clone(), id.to_ascii_uppercase(), mixed] {
                agree(&text);
                for at in 0..text.len() {
                    for replacement in [
                        "-", "0", "9", "a", "f", "A", "F", "g", "G", " ", "{", "é", "",
                    ] {
                        let mut edited = text.clone();
                        edited.replace_range(at..at + 1, replacement);
                        agree(&edited);
                    }
                }
            }
            agree(&id.replace('-', ""));
            agree(&format!("{{{id}}}"));
            agree(&format!("urn:uuid:{id}"));
        }
    }
}
