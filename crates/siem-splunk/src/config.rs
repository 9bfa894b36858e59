//! Options of a Splunk HEC sink: validated [`SplunkOptions`] built with
//! [`SplunkOptionsBuilder`], and [`SplunkConfig`], their TOML form.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use siem_core::{Endpoint, Ident};
use siem_http::{json, HttpOptions, TimeoutsConfig, TransportBuilder};
use url::Url;

/// The `sourcetype` unless configured.
pub const DEFAULT_SOURCETYPE: &str = "aisg:security";
/// The envelope `source` unless configured.
pub const DEFAULT_SOURCE: &str = "aisg";
/// The largest uncompressed request body unless configured: 1 MB, the historical HEC
/// `max_content_length` default (newer Splunk versions allow more; raise it to match
/// yours).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1_000_000;
/// The largest `max_body_bytes` accepted (Splunk's own ceiling is 800 MB).
pub const MAX_MAX_BODY_BYTES: usize = 800_000_000;
/// Whether bodies are gzip-compressed unless configured (HEC accepts
/// `Content-Encoding: gzip`).
pub const DEFAULT_GZIP: bool = true;
/// The HEC event endpoint, appended to the configured base URL.
pub const COLLECTOR_PATH: &str = "/services/collector/event";
/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// An option that failed validation, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("splunk option `{field}`: {reason}")]
pub struct ConfigError {
    /// The field (its TOML name), e.g. `index`.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    fn new(field: &'static str, reason: impl fmt::Display) -> Self {
        Self {
            field,
            reason: reason.to_string(),
        }
    }
}

/// Validated options of a Splunk HEC sink. Build them with [`SplunkOptions::builder`] or
/// from a [`SplunkConfig`].
///
/// ```
/// use siem_splunk::SplunkOptions;
/// let options = SplunkOptions::builder("https://splunk.example.com:8088".parse()?)
///     .index("security")
///     .build()?;
/// assert_eq!(options.sourcetype(), "aisg:security");
/// assert_eq!(options.collector_url().as_str(),
///            "https://splunk.example.com:8088/services/collector/event");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SplunkOptions {
    endpoint: Endpoint,
    index: Option<String>,
    sourcetype: String,
    host: Option<String>,
    source: String,
    gzip: bool,
    max_body_bytes: usize,
    http: HttpOptions,
    /// The envelope fields that are the same for every event, JSON-escaped once:
    /// `,"host":…,"source":…,"sourcetype":…,"index":…,"event":{"event_type":`.
    pub(crate) envelope_meta: Vec<u8>,
}

impl fmt::Debug for SplunkOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplunkOptions")
            .field("endpoint", &self.endpoint)
            .field("index", &self.index)
            .field("sourcetype", &self.sourcetype)
            .field("host", &self.host)
            .field("source", &self.source)
            .field("gzip", &self.gzip)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("http", &self.http)
            .finish()
    }
}

impl SplunkOptions {
    /// Starts options for the HEC at `endpoint` (the base URL, e.g.
    /// `https://splunk.example.com:8088`; the collector path is appended).
    pub fn builder(endpoint: Endpoint) -> SplunkOptionsBuilder {
        SplunkOptionsBuilder {
            endpoint,
            index: None,
            sourcetype: None,
            host: None,
            source: None,
            gzip: DEFAULT_GZIP,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            transport: TransportBuilder::new(USER_AGENT),
        }
    }

    /// The base URL.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
    /// The URL requests go to: the endpoint plus [`COLLECTOR_PATH`].
    pub fn collector_url(&self) -> Url {
        self.endpoint.join(COLLECTOR_PATH)
    }
    /// The index events go to; `None` leaves it to the token's default index.
    pub fn index(&self) -> Option<&str> {
        self.index.as_deref()
    }
    /// The sourcetype.
    pub fn sourcetype(&self) -> &str {
        &self.sourcetype
    }
    /// The envelope `host`; `None` lets Splunk use the sender's address.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }
    /// The envelope `source`.
    pub fn source(&self) -> &str {
        &self.source
    }
    /// Whether bodies are gzip-compressed.
    pub fn gzip(&self) -> bool {
        self.gzip
    }
    /// The largest uncompressed body of one request.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }
    /// The transport settings.
    pub fn http(&self) -> &HttpOptions {
        &self.http
    }
}

/// Builds [`SplunkOptions`]; every setter is optional and [`build`](Self::build) checks
/// the values.
#[derive(Debug, Clone)]
#[must_use]
pub struct SplunkOptionsBuilder {
    endpoint: Endpoint,
    index: Option<String>,
    sourcetype: Option<String>,
    host: Option<String>,
    source: Option<String>,
    gzip: bool,
    max_body_bytes: usize,
    transport: TransportBuilder,
}

impl SplunkOptionsBuilder {
    /// The index (lowercase letters, digits, `_` and `-`, not starting with `_` or `-`).
    pub fn index(mut self, index: impl Into<String>) -> Self {
        self.index = Some(index.into());
        self
    }
    /// The sourcetype (default [`DEFAULT_SOURCETYPE`]).
    pub fn sourcetype(mut self, sourcetype: impl Into<String>) -> Self {
        self.sourcetype = Some(sourcetype.into());
        self
    }
    /// The envelope `host`.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    /// The envelope `source` (default [`DEFAULT_SOURCE`]).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }
    /// Whether to gzip bodies (default [`DEFAULT_GZIP`]).
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }
    /// The largest uncompressed body (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }
    /// A PEM file of extra root CAs to trust (read by [`build`](Self::build)).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.transport = self.transport.ca_file(path);
        self
    }
    /// Extra root CAs to trust, as PEM text.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.transport = self.transport.ca_pem(pem);
        self
    }
    /// Connect and request timeouts.
    pub fn timeouts(mut self, timeouts: TimeoutsConfig) -> Self {
        self.transport = self.transport.timeouts(timeouts);
        self
    }
    /// The time allowed for a whole request (overrides `timeouts.request_ms`).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.transport = self.transport.request_timeout(timeout);
        self
    }
    /// Replaces the transport settings (timeouts, response cap, CA; e.g. the plain-HTTP
    /// loopback switch of `siem-http`'s `testing` feature). The `User-Agent` stays
    /// [`USER_AGENT`]; `ca_file`, `ca_pem`, `timeouts` and `request_timeout` still apply
    /// on top, whatever the order of the calls.
    pub fn http_options(mut self, http: HttpOptions) -> Self {
        self.transport = self.transport.http_options(http);
        self
    }

    /// Checks every value and builds the options. Reads `ca_file` if set.
    pub fn build(self) -> Result<SplunkOptions, ConfigError> {
        let index = self.index.map(check_index).transpose()?;
        let sourcetype = check_label("sourcetype", self.sourcetype, DEFAULT_SOURCETYPE)?;
        let source = check_label("source", self.source, DEFAULT_SOURCE)?;
        let host = self
            .host
            .map(|h| check_label("host", Some(h), ""))
            .transpose()?;
        if !(1..=MAX_MAX_BODY_BYTES).contains(&self.max_body_bytes) {
            return Err(ConfigError::new(
                "max_body_bytes",
                format_args!(
                    "{} is out of range; use 1 to {MAX_MAX_BODY_BYTES}",
                    self.max_body_bytes
                ),
            ));
        }
        let http = self
            .transport
            .build()
            .map_err(|e| ConfigError::new(e.field, e.reason))?;
        let envelope_meta = envelope_meta(host.as_deref(), &source, &sourcetype, index.as_deref());
        Ok(SplunkOptions {
            endpoint: self.endpoint,
            index,
            sourcetype,
            host,
            source,
            gzip: self.gzip,
            max_body_bytes: self.max_body_bytes,
            http,
            envelope_meta,
        })
    }
}

fn envelope_meta(
    host: Option<&str>,
    source: &str,
    sourcetype: &str,
    index: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    if let Some(host) = host {
        out.extend_from_slice(br#","host":"#);
        json::push_str(&mut out, host);
    }
    out.extend_from_slice(br#","source":"#);
    json::push_str(&mut out, source);
    out.extend_from_slice(br#","sourcetype":"#);
    json::push_str(&mut out, sourcetype);
    if let Some(index) = index {
        out.extend_from_slice(br#","index":"#);
        json::push_str(&mut out, index);
    }
    out.extend_from_slice(br#","event":{"event_type":"#);
    out
}

/// Splunk index names: lowercase letters, digits, `_` and `-`, not starting with `_` or
/// `-`, at most 80 characters.
fn check_index(index: String) -> Result<String, ConfigError> {
    let valid_chars = index
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    let bad = |reason: &str| ConfigError::new("index", format_args!("{index:?} {reason}"));
    if index.is_empty() || index.len() > 80 {
        return Err(bad("must be 1 to 80 characters long"));
    }
    if !valid_chars {
        return Err(bad(
            "may only contain lowercase letters, digits, '_' and '-'",
        ));
    }
    if index.starts_with(['_', '-']) {
        return Err(bad("must not start with '_' or '-'"));
    }
    Ok(index)
}

/// A printable label of at most 128 characters (the rules of [`Ident`]).
fn check_label(
    field: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<String, ConfigError> {
    match value {
        None => Ok(default.to_owned()),
        Some(v) => Ident::new(&v)
            .map(|_| v)
            .map_err(|e| ConfigError::new(field, e)),
    }
}

/// The TOML form of a Splunk sink's options: the platform fields of a `[[org.sink]]`
/// table with `platform = "splunk"`. The fields the CLI and dispatcher own (`name`,
/// `platform`, `events`, `token`, batching and retry) are not part of it and must be
/// removed before deserializing; any other unknown field is an error.
///
/// ```
/// let config: siem_splunk::SplunkConfig = toml::from_str(r#"
///     endpoint = "https://splunk.example.com:8088"
///     index = "main"
///     timeouts = { connect_ms = 2000 }
/// "#)?;
/// let options = config.sink_options()?;
/// assert_eq!(options.index(), Some("main"));
/// assert!(options.gzip());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SplunkConfig {
    /// The HEC base URL (`https://` only), e.g. `https://splunk.example.com:8088`.
    pub endpoint: Endpoint,
    /// The index; absent means the token's default index.
    #[serde(default)]
    pub index: Option<String>,
    /// The sourcetype; default [`DEFAULT_SOURCETYPE`].
    #[serde(default)]
    pub sourcetype: Option<String>,
    /// The envelope `host`; absent means Splunk uses the sender's address.
    #[serde(default)]
    pub host: Option<String>,
    /// The envelope `source`; default [`DEFAULT_SOURCE`].
    #[serde(default)]
    pub source: Option<String>,
    /// gzip request bodies; default [`DEFAULT_GZIP`].
    #[serde(default)]
    pub gzip: Option<bool>,
    /// A PEM file of extra root CAs, for a HEC behind an internal CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The largest uncompressed body; default [`DEFAULT_MAX_BODY_BYTES`].
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Connect and request timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
}

impl SplunkConfig {
    /// A configuration with only the endpoint set.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            index: None,
            sourcetype: None,
            host: None,
            source: None,
            gzip: None,
            ca_file: None,
            max_body_bytes: None,
            timeouts: TimeoutsConfig::default(),
        }
    }

    /// Validates the configuration into options (reads `ca_file` if set).
    pub fn sink_options(&self) -> Result<SplunkOptions, ConfigError> {
        let config = self.clone();
        let mut b = SplunkOptions::builder(config.endpoint).timeouts(config.timeouts);
        if let Some(v) = config.index {
            b = b.index(v);
        }
        if let Some(v) = config.sourcetype {
            b = b.sourcetype(v);
        }
        if let Some(v) = config.host {
            b = b.host(v);
        }
        if let Some(v) = config.source {
            b = b.source(v);
        }
        if let Some(v) = config.gzip {
            b = b.gzip(v);
        }
        if let Some(v) = config.ca_file {
            b = b.ca_file(v);
        }
        if let Some(v) = config.max_body_bytes {
            b = b.max_body_bytes(v);
        }
        b.build()
    }
}

impl TryFrom<SplunkConfig> for SplunkOptions {
    type Error = ConfigError;
    fn try_from(config: SplunkConfig) -> Result<Self, ConfigError> {
        config.sink_options()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> SplunkOptionsBuilder {
        SplunkOptions::builder(Endpoint::parse("https://hec.example:8088").unwrap())
    }

    #[test]
    fn defaults() {
        let o = builder().build().unwrap();
        assert_eq!(o.sourcetype(), DEFAULT_SOURCETYPE);
        assert_eq!(o.source(), DEFAULT_SOURCE);
        assert_eq!(o.index(), None);
        assert_eq!(o.host(), None);
        assert!(o.gzip());
        assert_eq!(o.max_body_bytes(), DEFAULT_MAX_BODY_BYTES);
        assert_eq!(o.http().user_agent, USER_AGENT);
        assert_eq!(
            String::from_utf8(o.envelope_meta).unwrap(),
            r#","source":"aisg","sourcetype":"aisg:security","event":{"event_type":"#
        );
    }

    #[test]
    fn invalid_values_name_their_field() {
        for (b, field) in [
            (builder().index("Main"), "index"),
            (builder().index("_internal"), "index"),
            (builder().index(""), "index"),
            (builder().sourcetype("a\nb"), "sourcetype"),
            (builder().host(""), "host"),
            (builder().source("x".repeat(200)), "source"),
            (builder().max_body_bytes(0), "max_body_bytes"),
            (builder().ca_file("/nonexistent/ca.pem"), "ca_file"),
            (
                builder().timeouts(TimeoutsConfig::new(Some(0), None)),
                "timeouts",
            ),
        ] {
            let e = b.build().unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
        assert!(builder().index("aisg-security_2").build().is_ok());
    }

    #[test]
    fn toml_config_uses_spec_field_names() {
        let c: SplunkConfig = toml::from_str(
            r#"
            endpoint = "https://hec.example:8088/"
            index = "main"
            sourcetype = "aisg:custom"
            host = "gw-1"
            source = "gateway"
            gzip = false
            max_body_bytes = 500000
            timeouts = { connect_ms = 1000, request_ms = 5000 }
            "#,
        )
        .unwrap();
        let o = c.sink_options().unwrap();
        assert_eq!(o.index(), Some("main"));
        assert_eq!(o.sourcetype(), "aisg:custom");
        assert_eq!(o.host(), Some("gw-1"));
        assert_eq!(o.source(), "gateway");
        assert!(!o.gzip());
        assert_eq!(o.max_body_bytes(), 500_000);
        assert_eq!(o.http().connect_timeout, Duration::from_secs(1));
        assert_eq!(
            o.collector_url().as_str(),
            "https://hec.example:8088/services/collector/event"
        );
        let unknown =
            toml::from_str::<SplunkConfig>("endpoint = \"https://hec.example\"\nindx = \"main\"");
        assert!(unknown.unwrap_err().to_string().contains("indx"));
        let plain = toml::from_str::<SplunkConfig>("endpoint = \"http://hec.example\"");
        assert!(plain.unwrap_err().to_string().contains("https"));
    }
}
