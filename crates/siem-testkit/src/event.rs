//! Events as an emulator received them, decoded back to their fields, and the comparison
//! with the events that were emitted.

use std::collections::HashMap;
use std::fmt;

use serde_json::value::RawValue;
use siem_core::{SecurityEvent, Severity, Timestamp};

use crate::control::Keep;
use crate::json::{self, Fields, Kind};

/// One event an emulator accepted, decoded from the platform's wire form.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    /// `event_id` (Sentinel: `EventId`).
    pub event_id: String,
    /// `event_type` (Sentinel: `EventType`).
    pub event_type: String,
    /// `org_id` (Sentinel: `OrgId`).
    pub org_id: String,
    /// `project_id` (Sentinel: `ProjectId`).
    pub project_id: String,
    /// `request_id` (Sentinel: `RequestId`); `None` when absent or null.
    pub request_id: Option<String>,
    /// The severity as the platform expressed it: the lowercase word for Splunk and
    /// Datadog, `High`/`Medium`/`Low`/`Informational` for Sentinel.
    pub severity: String,
    /// The event's own `source` (Sentinel: `Source`), when present.
    pub source: Option<String>,
    /// `timestamp` (Sentinel: `TimeGenerated`).
    pub timestamp: Timestamp,
    /// `details` (Sentinel: `Details`).
    pub details: serde_json::Value,
    /// What the platform's wire form carried around the event.
    pub platform: PlatformFields,
}

/// The platform-specific fields around an event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PlatformFields {
    /// The HEC envelope (and `event.severity_id`).
    Splunk {
        /// `time`, epoch seconds.
        time: Option<f64>,
        /// `host`.
        host: Option<String>,
        /// The envelope's `source`.
        source: Option<String>,
        /// `sourcetype`.
        sourcetype: Option<String>,
        /// `index`.
        index: Option<String>,
        /// `event.severity_id`, when a number.
        severity_id: Option<i64>,
    },
    /// Datadog's reserved attributes of the log item.
    Datadog {
        /// `ddsource`.
        ddsource: Option<String>,
        /// `ddtags`, as sent (comma-separated).
        ddtags: Option<String>,
        /// `hostname`.
        hostname: Option<String>,
        /// `service`.
        service: Option<String>,
        /// `status`.
        status: Option<String>,
        /// `message`.
        message: Option<String>,
    },
    /// A Sentinel record has no fields beyond the event's columns.
    Sentinel,
}

/// Member names of our event's fields in a platform's wire form.
pub(crate) struct Names {
    pub event_id: &'static str,
    pub event_type: &'static str,
    pub org_id: &'static str,
    pub project_id: &'static str,
    pub request_id: &'static str,
    pub severity: &'static str,
    pub source: &'static str,
    pub timestamp: &'static str,
    pub details: &'static str,
}

/// The canonical (snake_case) names, used inside Splunk's `event` and in Datadog items.
pub(crate) const CANONICAL: Names = Names {
    event_id: "event_id",
    event_type: "event_type",
    org_id: "org_id",
    project_id: "project_id",
    request_id: "request_id",
    severity: "severity",
    source: "source",
    timestamp: "timestamp",
    details: "details",
};

/// Validates that `fields` carry our event (required members present with the right
/// types, the timestamp RFC 3339, details an object); with `store`, decodes it.
///
/// The error names the member and what is wrong.
pub(crate) fn decode_event(
    fields: &Fields<'_>,
    names: &Names,
    keep: Keep<'_>,
    platform: impl FnOnce() -> PlatformFields,
) -> Result<Option<ReceivedEvent>, String> {
    let required_string = |name: &'static str| -> Result<&RawValue, String> {
        let raw = fields
            .get(name)
            .ok_or_else(|| format!("field `{name}` is required"))?;
        match Kind::of(raw) {
            Kind::String => Ok(raw),
            other => Err(format!(
                "field `{name}` must be a string, not {}",
                other.name()
            )),
        }
    };
    let event_id = required_string(names.event_id)?;
    let event_type = required_string(names.event_type)?;
    let org_id = required_string(names.org_id)?;
    let project_id = required_string(names.project_id)?;
    let severity = required_string(names.severity)?;
    let timestamp = required_string(names.timestamp)?;
    let timestamp: Timestamp = json::string(timestamp)
        .unwrap_or_default()
        .parse()
        .map_err(|e| format!("field `{}`: {e}", names.timestamp))?;
    let bad_optional = |name: &str, kind: Kind| {
        format!(
            "field `{name}` must be a string or null, not {}",
            kind.name()
        )
    };
    let request_id = json::optional_string(fields.get(names.request_id))
        .map_err(|k| bad_optional(names.request_id, k))?;
    let source = json::optional_string(fields.get(names.source))
        .map_err(|k| bad_optional(names.source, k))?;
    let details = fields
        .get(names.details)
        .ok_or_else(|| format!("field `{}` is required", names.details))?;
    if Kind::of(details) != Kind::Object {
        return Err(format!(
            "field `{}` must be an object, not {}",
            names.details,
            Kind::of(details).name()
        ));
    }
    keep.observe(&timestamp);
    if !keep.store {
        return Ok(None);
    }
    let text = |raw: &RawValue| json::string(raw).unwrap_or_default().into_owned();
    Ok(Some(ReceivedEvent {
        event_id: text(event_id),
        event_type: text(event_type),
        org_id: text(org_id),
        project_id: text(project_id),
        request_id: request_id.map(|s| s.into_owned()),
        severity: text(severity),
        source: source.map(|s| s.into_owned()),
        timestamp,
        details: json::value(details),
        platform: platform(),
    }))
}

/// Splunk's `severity_id` for a severity (SPEC §4).
pub fn splunk_severity_id(severity: Severity) -> i64 {
    match severity {
        Severity::Info => 2,
        Severity::Low => 3,
        Severity::Medium => 4,
        Severity::High => 5,
        Severity::Critical => 6,
    }
}

/// Datadog's `status` for a severity (SPEC §4).
pub fn datadog_status(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "emergency",
        Severity::High => "alert",
        Severity::Medium => "warn",
        Severity::Low => "notice",
        Severity::Info => "info",
    }
}

/// Sentinel's `Severity` column for a severity (SPEC §4).
pub fn sentinel_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Informational",
    }
}

impl ReceivedEvent {
    /// How this received event differs from the `expected` emitted one, field by field,
    /// including the platform mapping of SPEC §4 (Splunk `severity_id` and `time`,
    /// Datadog `status`, `message`, `service`, `ddsource` and the `ddtags` it must carry,
    /// Sentinel's `Severity` word). Empty when they agree.
    pub fn mismatches(&self, expected: &SecurityEvent) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |field: &str, got: &dyn fmt::Debug, want: &dyn fmt::Debug, same: bool| {
            if !same {
                out.push(format!("{field}: received {got:?}, emitted {want:?}"));
            }
        };
        let id = expected.event_id().to_string();
        check("event_id", &self.event_id, &id, self.event_id == id);
        let ty = expected.event_type().as_str();
        check("event_type", &self.event_type, &ty, self.event_type == ty);
        let org = expected.org_id().as_str();
        check("org_id", &self.org_id, &org, self.org_id == org);
        let project = expected.project_id().as_str();
        check(
            "project_id",
            &self.project_id,
            &project,
            self.project_id == project,
        );
        let request = expected.request_id().map(|r| r.as_str());
        check(
            "request_id",
            &self.request_id,
            &request,
            self.request_id.as_deref() == request,
        );
        let source = expected.source().as_str();
        // SPEC §4 lists no top-level `source` for Datadog items (`ddsource` is fixed);
        // when present it must still match.
        let source_optional = matches!(self.platform, PlatformFields::Datadog { .. });
        check(
            "source",
            &self.source,
            &source,
            self.source.as_deref() == Some(source) || (source_optional && self.source.is_none()),
        );
        check(
            "timestamp",
            &self.timestamp,
            &expected.timestamp(),
            self.timestamp == expected.timestamp(),
        );
        let details = serde_json::to_value(expected.details()).unwrap_or_default();
        check("details", &self.details, &details, self.details == details);
        let severity = expected.severity();
        let want_severity = match self.platform {
            PlatformFields::Sentinel => sentinel_severity(severity),
            _ => severity.as_str(),
        };
        check(
            "severity",
            &self.severity,
            &want_severity,
            self.severity == want_severity,
        );
        match &self.platform {
            PlatformFields::Splunk {
                time, severity_id, ..
            } => {
                let want = splunk_severity_id(severity);
                check(
                    "severity_id",
                    severity_id,
                    &want,
                    *severity_id == Some(want),
                );
                let millis = expected.timestamp().unix_millis();
                let same = time.is_some_and(|t| ((t * 1000.0).round() as i64 - millis).abs() <= 1);
                check("time", time, &(millis as f64 / 1000.0), same);
            }
            PlatformFields::Datadog {
                ddsource,
                ddtags,
                service,
                status,
                message,
                ..
            } => {
                let want = datadog_status(severity);
                check("status", status, &want, status.as_deref() == Some(want));
                check("message", message, &ty, message.as_deref() == Some(ty));
                check(
                    "service",
                    service,
                    &project,
                    service.as_deref() == Some(project),
                );
                check(
                    "ddsource",
                    ddsource,
                    &"aisg",
                    ddsource.as_deref() == Some("aisg"),
                );
                let tags: Vec<&str> = ddtags.as_deref().unwrap_or("").split(',').collect();
                for tag in [
                    format!("service:{project}"),
                    format!("event_type:{ty}"),
                    format!("org:{org}"),
                ] {
                    check("ddtags", ddtags, &tag, tags.iter().any(|t| t.trim() == tag));
                }
            }
            PlatformFields::Sentinel => {}
        }
        out
    }
}

/// The differences between the events that arrived and those emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct EventMismatch {
    /// Emitted event ids that never arrived.
    pub missing: Vec<String>,
    /// Received event ids nobody emitted.
    pub unexpected: Vec<String>,
    /// Event ids received more than once.
    pub duplicated: Vec<String>,
    /// Field differences, as `"<event_id>: <field>: received …, emitted …"`.
    pub fields: Vec<String>,
}

impl EventMismatch {
    fn is_empty(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.duplicated.is_empty()
            && self.fields.is_empty()
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut list = |what: &str, items: &[String]| {
            if !items.is_empty() {
                let shown: Vec<&str> = items.iter().take(10).map(String::as_str).collect();
                let more = items.len().saturating_sub(shown.len());
                let suffix = if more > 0 {
                    format!(" (+{more} more)")
                } else {
                    String::new()
                };
                parts.push(format!(
                    "{what} ({}): {}{suffix}",
                    items.len(),
                    shown.join("; ")
                ));
            }
        };
        list("missing", &self.missing);
        list("unexpected", &self.unexpected);
        list("duplicated", &self.duplicated);
        list("field differences", &self.fields);
        parts.join("\n")
    }
}

/// Checks that `received` holds exactly the `emitted` events, each once, with every field
/// (and the platform mapping) as emitted; order is ignored.
///
/// ```
/// use siem_testkit::compare_events;
/// let emitted = siem_core::testing::sample_events();
/// let mismatch = compare_events(&[], &emitted).unwrap_err();
/// assert_eq!(mismatch.missing.len(), emitted.len());
/// assert!(mismatch.to_string().starts_with("missing (6)"));
/// ```
pub fn compare_events<E: AsRef<SecurityEvent>>(
    received: &[ReceivedEvent],
    emitted: &[E],
) -> Result<(), EventMismatch> {
    let mut by_id: HashMap<&str, Vec<&ReceivedEvent>> = HashMap::with_capacity(received.len());
    for event in received {
        by_id
            .entry(event.event_id.as_str())
            .or_default()
            .push(event);
    }
    let mut mismatch = EventMismatch::default();
    let mut seen = std::collections::HashSet::with_capacity(emitted.len());
    for expected in emitted {
        let expected = expected.as_ref();
        let id = expected.event_id().to_string();
        seen.insert(id.clone());
        match by_id.get(id.as_str()) {
            None => mismatch.missing.push(id),
            Some(found) => {
                if found.len() > 1 {
                    mismatch.duplicated.push(id.clone());
                }
                for difference in found[0].mismatches(expected) {
                    mismatch.fields.push(format!("{id}: {difference}"));
                }
            }
        }
    }
    for id in by_id.keys() {
        if !seen.contains(*id) {
            mismatch.unexpected.push((*id).to_owned());
        }
    }
    mismatch.unexpected.sort();
    if mismatch.is_empty() {
        Ok(())
    } else {
        Err(mismatch)
    }
}
