//! A connector body of the admin API: the keys of a `[[org.sink]]` table as JSON, checked
//! by `siem-config` with the same rules and words as the `siem` command's configuration,
//! except that secret fields carry their value (write-only) and keys that name a file on
//! the server are refused.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};
use siem_config::SinkSection;
use siem_core::Secret;
use siem_dispatch::{BreakerState, SinkStats};
use siem_secrets::SecretRef;

use crate::secrets::SecretValues;

/// The fields whose value is a secret: accepted on create and update, never answered.
pub const SECRET_FIELDS: [&str; 2] = ["token", "client_secret"];

/// Keys that name a path on the server, refused through the API (an organization's admin
/// must not make the service read or write its files), with what to do instead.
pub const SERVER_PATH_KEYS: [(&str, &str); 2] = [
    (
        "ca_file",
        "names a file on the server, which the connector API does not read; give the CA \
         certificate(s) inline as `ca_pem` (PEM text)",
    ),
    (
        "dead_letter",
        "names a file on the server, which the connector API does not write; events given up \
         on are counted as failed in the connector's status",
    ),
];

/// One problem with a connector body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}

/// A connector body, split into its stored options and its secret values.
#[derive(Debug)]
pub struct ConnectorInput {
    /// The connector's name.
    pub name: String,
    /// Its platform, as given.
    pub platform: String,
    /// Every key but the secret ones.
    pub options: Map<String, Value>,
    /// Secret fields given a (non-blank) value.
    pub secrets: SecretValues,
}

/// Splits a body. `path_name` is the name in the URL of a `PUT` (the body's `name` may be
/// left out there, and must match when given). Blank secret fields mean "keep".
pub fn read_body(body: Value, path_name: Option<&str>) -> Result<ConnectorInput, Vec<FieldError>> {
    let Value::Object(mut options) = body else {
        return Err(vec![FieldError {
            field: None,
            message: "the body must be a JSON object with the keys of a [[org.sink]] table"
                .to_owned(),
        }]);
    };
    let mut errors = Vec::new();
    let mut secrets = SecretValues::new();
    for field in SECRET_FIELDS {
        match options.remove(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.trim().is_empty() => {}
            Some(Value::String(s)) => {
                secrets.insert(field.to_owned(), Secret::new(s));
            }
            // Never echo what was sent: it may be the secret in another shape.
            Some(_) => errors.push(FieldError::new(
                field,
                "must be a string (the secret value)",
            )),
        }
    }
    for (key, why) in SERVER_PATH_KEYS {
        if options.contains_key(key) {
            errors.push(FieldError::new(key, why));
        }
    }
    let name = match (options.get("name"), path_name) {
        (Some(Value::String(n)), Some(p)) if n != p => {
            errors.push(FieldError::new(
                "name",
                format!("must match the connector's name in the URL (\"{p}\"); connectors are not renamed"),
            ));
            p.to_owned()
        }
        (None, Some(p)) => {
            options.insert("name".to_owned(), Value::String(p.to_owned()));
            p.to_owned()
        }
        (Some(Value::String(n)), _) => n.clone(),
        (Some(_), _) => {
            errors.push(FieldError::new("name", "must be a string"));
            String::new()
        }
        (None, None) => {
            errors.push(FieldError::new("name", "is missing"));
            String::new()
        }
    };
    let platform = match options.get("platform") {
        Some(Value::String(p)) => p.clone(),
        _ => String::new(),
    };
    if errors.is_empty() {
        Ok(ConnectorInput {
            name,
            platform,
            options,
            secrets,
        })
    } else {
        Err(errors)
    }
}

/// Checks a connector's options with `siem-config`'s rules, as if its secret fields held
/// references to the connector's secret `secret_name`. Relative paths would resolve under
/// `base_dir` (none can be given through the API).
pub fn check(
    options: &Map<String, Value>,
    secret_fields: &[String],
    secret_name: &str,
    base_dir: &Path,
) -> Result<SinkSection, Vec<FieldError>> {
    let mut table = toml::Table::new();
    let mut errors = Vec::new();
    for (key, value) in options {
        match json_to_toml(value) {
            Some(v) => {
                table.insert(key.clone(), v);
            }
            None => errors.push(FieldError::new(
                key,
                "null is not a value; leave the key out to use its default",
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for field in secret_fields {
        let mut reference = toml::Table::new();
        reference.insert("aws_secret".into(), secret_name.into());
        reference.insert("key".into(), field.as_str().into());
        table.insert(field.clone(), toml::Value::Table(reference));
    }
    siem_config::parse_sink_table(table, base_dir).map_err(|e| {
        vec![FieldError {
            field: e.field,
            message: e.message,
        }]
    })
}

/// The section with its credential references replaced by `credential(field)`.
pub fn with_credentials(
    mut section: SinkSection,
    mut credential: impl FnMut(&str) -> Option<SecretRef>,
) -> SinkSection {
    section.token = section.token.and_then(|_| credential("token"));
    section.client_secret = section
        .client_secret
        .and_then(|_| credential("client_secret"));
    section
}

/// JSON as TOML; `None` for a `null` anywhere (TOML has none).
fn json_to_toml(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => {
            toml::Value::Array(items.iter().map(json_to_toml).collect::<Option<_>>()?)
        }
        Value::Object(map) => toml::Value::Table(
            map.iter()
                .map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

/// A connector's health at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorStatus {
    /// `flowing`, `failing`, `circuit_open`, `idle` (nothing sent yet) or `not_running`
    /// (it could not be started: see `error`).
    pub health: &'static str,
    /// Events acknowledged by the SIEM.
    pub delivered: u64,
    /// Events given up on.
    pub failed: u64,
    /// Events refused because the buffer was full.
    pub dropped: u64,
    /// Requests re-sent.
    pub retried: u64,
    /// Events waiting (buffered and in flight).
    pub buffered: u64,
    /// `closed`, `open` or `half_open`.
    pub breaker: &'static str,
    /// When a request last succeeded (RFC 3339).
    pub last_success_at: Option<String>,
    /// The most recent error, in words.
    pub last_error: Option<String>,
    /// When it happened (RFC 3339).
    pub last_error_at: Option<String>,
}

impl ConnectorStatus {
    /// From the dispatcher's snapshot of the sink.
    pub fn from_stats(s: &SinkStats) -> Self {
        let last_success = s.last_success_at;
        let failing = match (&s.last_error, last_success) {
            (Some(e), Some(ok)) => e.at > ok,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let health = match s.breaker.state {
            BreakerState::Open | BreakerState::HalfOpen => "circuit_open",
            BreakerState::Closed if failing => "failing",
            BreakerState::Closed if last_success.is_some() => "flowing",
            BreakerState::Closed => "idle",
        };
        Self {
            health,
            delivered: s.counts.delivered,
            failed: s.counts.failed,
            dropped: s.counts.dropped,
            retried: s.counts.retried,
            buffered: s.counts.pending,
            breaker: s.breaker.state.as_str(),
            last_success_at: last_success.map(|t| t.to_string()),
            last_error: s.last_error.as_ref().map(ToString::to_string),
            last_error_at: s.last_error.as_ref().map(|e| e.at.to_string()),
        }
    }

    /// A connector that could not be started.
    pub fn not_running(error: String) -> Self {
        Self {
            health: "not_running",
            delivered: 0,
            failed: 0,
            dropped: 0,
            retried: 0,
            buffered: 0,
            breaker: BreakerState::Closed.as_str(),
            last_success_at: None,
            last_error: Some(error),
            last_error_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn splunk() -> Value {
        json!({
            "name": "splunk-prod",
            "platform": "splunk",
            "endpoint": "https://splunk.example.com:8088",
            "token": "hec-secret-value",
            "events": ["*"],
        })
    }

    #[test]
    fn a_body_splits_into_options_and_secrets() {
        let input = read_body(splunk(), None).unwrap();
        assert_eq!(input.name, "splunk-prod");
        assert!(!input.options.contains_key("token"));
        assert_eq!(input.secrets["token"].expose(), "hec-secret-value");
        let section = check(
            &input.options,
            &["token".into()],
            "aisg/siem/o/s",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(section.name, "splunk-prod");
    }

    #[test]
    fn server_paths_and_bad_secret_shapes_are_refused_without_echoing_them() {
        let mut body = splunk();
        body["ca_file"] = json!("/etc/passwd");
        body["dead_letter"] = json!("/tmp/x");
        body["token"] = json!(["hec-secret-value"]);
        let errors = read_body(body, None).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_deref().unwrap()).collect();
        assert_eq!(fields, ["token", "ca_file", "dead_letter"]);
        assert!(errors[1].message.contains("ca_pem"));
        let text = serde_json::to_string(&errors).unwrap();
        assert!(!text.contains("hec-secret-value") && !text.contains("/etc/passwd"));
    }

    #[test]
    fn the_cli_rules_apply_with_the_cli_words() {
        let mut body = splunk();
        body["endpoint"] = json!("http://splunk.example.com:8088");
        let input = read_body(body, None).unwrap();
        let errors = check(&input.options, &["token".into()], "n", Path::new(".")).unwrap_err();
        assert_eq!(errors[0].field.as_deref(), Some("endpoint"));
        assert!(errors[0].message.contains("https"), "{}", errors[0].message);
        // A missing token is named like a configuration file's.
        let errors = check(&input.options, &[], "n", Path::new(".")).unwrap_err();
        assert_eq!(errors[0].field.as_deref(), Some("endpoint"));
    }

    #[test]
    fn a_put_name_must_match_the_url() {
        let errors = read_body(splunk(), Some("other")).unwrap_err();
        assert_eq!(errors[0].field.as_deref(), Some("name"));
        let mut body = splunk();
        body.as_object_mut().unwrap().remove("name");
        assert_eq!(read_body(body, Some("kept")).unwrap().name, "kept");
    }
}
