//! Configuration pieces every adapter shares.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ConfigError, HttpOptions};

/// The longest timeout a configuration may set.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// The `timeouts` table of a sink's configuration, in milliseconds:
/// `timeouts = { connect_ms = 5000, request_ms = 30000 }`. Missing values keep the
/// defaults ([`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT),
/// [`DEFAULT_REQUEST_TIMEOUT`](crate::DEFAULT_REQUEST_TIMEOUT)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TimeoutsConfig {
    /// Time allowed to open the connection (TCP + TLS).
    #[serde(default)]
    pub connect_ms: Option<u64>,
    /// Time allowed for the whole request, response included.
    #[serde(default)]
    pub request_ms: Option<u64>,
}

/// A timeout outside `1 ms ..= 600 s`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timeouts.{field} = {value} is out of range; use 1 to 600000 milliseconds")]
pub struct InvalidTimeout {
    /// `connect_ms` or `request_ms`.
    pub field: &'static str,
    /// The value given.
    pub value: u64,
}

impl TimeoutsConfig {
    /// Timeouts from milliseconds.
    pub fn new(connect_ms: Option<u64>, request_ms: Option<u64>) -> Self {
        Self {
            connect_ms,
            request_ms,
        }
    }

    /// Checks the values and applies them to `options`.
    pub fn apply(&self, mut options: HttpOptions) -> Result<HttpOptions, InvalidTimeout> {
        if let Some(ms) = self.connect_ms {
            options = options.connect_timeout(check("connect_ms", ms)?);
        }
        if let Some(ms) = self.request_ms {
            options = options.request_timeout(check("request_ms", ms)?);
        }
        Ok(options)
    }
}

fn check(field: &'static str, value: u64) -> Result<Duration, InvalidTimeout> {
    let d = Duration::from_millis(value);
    if value == 0 || d > MAX_TIMEOUT {
        Err(InvalidTimeout { field, value })
    } else {
        Ok(d)
    }
}

/// The connection settings every sink's configuration shares: extra root CAs (`ca_file`,
/// `ca_pem`) and `timeouts`. A sink's configuration holds them under
/// `#[serde(flatten)]`, so the keys stand beside the platform's own in a TOML table or a
/// JSON document.
///
/// ```
/// let transport: siem_http::TransportConfig =
///     serde_json::from_str(r#"{ "timeouts": { "connect_ms": 2000 } }"#)?;
/// let http = transport.http_options("splunk", "doc/1")?;
/// assert_eq!(http.connect_timeout, std::time::Duration::from_secs(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransportConfig {
    /// A PEM file of extra root CAs, for a SIEM (or a proxy) behind an internal CA (read
    /// when the options are validated).
    pub ca_file: Option<PathBuf>,
    /// Extra root CAs as PEM text: the inline form of `ca_file` (the connector API takes
    /// this one, as it cannot name a file on the server).
    pub ca_pem: Option<String>,
    /// Connect and request timeouts.
    pub timeouts: TimeoutsConfig,
}

impl TransportConfig {
    /// The keys, as a configuration table writes them.
    pub const FIELDS: &'static [&'static str] = &["ca_file", "ca_pem", "timeouts"];

    /// The defaults, trusting the extra root CAs of the PEM file at `path` as well.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> Self {
        Self {
            ca_file: Some(path.into()),
            ..Self::default()
        }
    }

    /// The client settings of these values, for `user_agent` (the CA file is read and the
    /// PEM parsed now); errors name the field and the `platform`.
    pub fn http_options(
        &self,
        platform: &'static str,
        user_agent: &str,
    ) -> Result<HttpOptions, ConfigError> {
        let mut builder = TransportBuilder::new(user_agent).timeouts(self.timeouts);
        if let Some(path) = &self.ca_file {
            builder = builder.ca_file(path);
        }
        if let Some(pem) = &self.ca_pem {
            builder = builder.ca_pem(pem.as_bytes().to_vec());
        }
        builder
            .build()
            .map_err(|e| ConfigError::new(platform, e.field, e.reason))
    }
}

/// The transport half of an adapter's options builder: extra CA (file or PEM), timeouts,
/// and a replaceable [`HttpOptions`] base. Adapters keep one and forward their
/// `ca_file`/`ca_pem`/`timeouts`/`request_timeout`/`http_options` setters to it;
/// [`build`](Self::build) applies them all on top of the base, whatever the order of the
/// calls, and keeps the adapter's `User-Agent`.
#[derive(Debug, Clone)]
#[must_use]
pub struct TransportBuilder {
    user_agent: String,
    http: HttpOptions,
    ca_file: Option<PathBuf>,
    ca_pem: Option<Vec<u8>>,
    timeouts: TimeoutsConfig,
    request_timeout: Option<Duration>,
}

/// A transport setting that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidTransport {
    /// The configuration field: `timeouts` or `ca_file`.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl TransportBuilder {
    /// Defaults ([`HttpOptions::new`]) sending `user_agent`.
    pub fn new(user_agent: impl Into<String>) -> Self {
        let user_agent = user_agent.into();
        Self {
            http: HttpOptions::new(user_agent.clone()),
            user_agent,
            ca_file: None,
            ca_pem: None,
            timeouts: TimeoutsConfig::default(),
            request_timeout: None,
        }
    }
    /// A PEM file of extra root CAs to trust (read by [`build`](Self::build)).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }
    /// Extra root CAs to trust, as PEM text.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }
    /// Connect and request timeouts.
    pub fn timeouts(mut self, timeouts: TimeoutsConfig) -> Self {
        self.timeouts = timeouts;
        self
    }
    /// The time allowed for a whole request (overrides `timeouts.request_ms`).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }
    /// Replaces the base settings (e.g. the plain-HTTP loopback switch of the `testing`
    /// feature). The `User-Agent` stays the one given to [`new`](Self::new).
    pub fn http_options(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// Checks the timeouts, reads `ca_file` if set, and returns the client settings.
    pub fn build(self) -> Result<HttpOptions, InvalidTransport> {
        let mut http = self
            .timeouts
            .apply(self.http)
            .map_err(|e| InvalidTransport {
                field: "timeouts",
                reason: e.to_string(),
            })?;
        http.user_agent = self.user_agent;
        if let Some(timeout) = self.request_timeout {
            http = http.request_timeout(timeout);
        }
        if let Some(pem) = self.ca_pem {
            http = http.extra_root_ca_pem(pem);
        }
        if let Some(path) = &self.ca_file {
            http = http
                .extra_root_ca_file(path)
                .map_err(|e| InvalidTransport {
                    field: "ca_file",
                    reason: e.to_string(),
                })?;
        }
        Ok(http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_valid_and_names_invalid_values() {
        let o = TimeoutsConfig::new(Some(250), None)
            .apply(HttpOptions::new("t"))
            .unwrap();
        assert_eq!(o.connect_timeout, Duration::from_millis(250));
        assert_eq!(o.request_timeout, crate::DEFAULT_REQUEST_TIMEOUT);
        let e = TimeoutsConfig::new(None, Some(0))
            .apply(HttpOptions::new("t"))
            .unwrap_err();
        assert_eq!(e.field, "request_ms");
        assert!(TimeoutsConfig::new(Some(600_001), None)
            .apply(HttpOptions::new("t"))
            .is_err());
    }

    #[test]
    fn transport_config_fields_are_its_keys() {
        let value = serde_json::to_value(TransportConfig::default()).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, TransportConfig::FIELDS);
    }

    #[test]
    fn transport_builder_applies_settings_over_a_replaced_base() {
        let o = TransportBuilder::new("ua/1")
            .request_timeout(Duration::from_secs(3))
            .timeouts(TimeoutsConfig::new(Some(100), Some(9000)))
            .http_options(HttpOptions::new("other").max_response_bytes(10))
            .ca_pem(b"pem".to_vec())
            .build()
            .unwrap();
        assert_eq!(o.user_agent, "ua/1");
        assert_eq!(o.connect_timeout, Duration::from_millis(100));
        assert_eq!(o.request_timeout, Duration::from_secs(3));
        assert_eq!(o.max_response_bytes, 10);
        assert_eq!(o.extra_root_ca_pem.as_deref(), Some(&b"pem"[..]));
        let e = TransportBuilder::new("ua/1")
            .ca_file("/nonexistent/ca.pem")
            .build()
            .unwrap_err();
        assert_eq!(e.field, "ca_file");
        let e = TransportBuilder::new("ua/1")
            .timeouts(TimeoutsConfig::new(Some(0), None))
            .build()
            .unwrap_err();
        assert_eq!(e.field, "timeouts");
    }
}
