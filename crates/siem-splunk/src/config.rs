//! Settings of a Splunk HEC sink. Each option is declared once, in [`SplunkConfig`]: a
//! serde struct, so the settings are data (a TOML `[[org.sink]]` table, a JSON document, a
//! database row). [`SplunkOptions`] is the same settings validated, with the client
//! settings and the envelope bytes derived from them.

use serde::{Deserialize, Serialize};
use siem_core::{Endpoint, Ident};
use siem_http::{ConfigError, HttpOptions, TransportConfig};
use url::Url;

use crate::encoder::Envelope;

/// The platform name, as sinks report it and errors name it.
pub const PLATFORM: &str = "splunk";
/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
/// The HEC event endpoint, appended to the configured base URL.
pub const COLLECTOR_PATH: &str = "/services/collector/event";
/// The largest `max_body_bytes` accepted (Splunk's own ceiling is 800 MB).
pub const MAX_MAX_BODY_BYTES: usize = 800_000_000;
/// The largest uncompressed request body unless configured: 1 MB, the historical HEC
/// `max_content_length` default (newer Splunk versions allow more; raise it to match
/// yours).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1_000_000;
fn default_max_body_bytes() -> usize {
    DEFAULT_MAX_BODY_BYTES
}
/// The `sourcetype` unless configured.
pub const DEFAULT_SOURCETYPE: &str = "aisg:security";
fn default_sourcetype() -> String {
    DEFAULT_SOURCETYPE.to_owned()
}
/// The envelope `source` unless configured.
pub const DEFAULT_SOURCE: &str = "aisg";
fn default_source() -> String {
    DEFAULT_SOURCE.to_owned()
}
/// Whether bodies are gzip-compressed unless configured (HEC accepts
/// `Content-Encoding: gzip`).
pub const DEFAULT_GZIP: bool = siem_http::DEFAULT_GZIP;

/// The settings of a Splunk sink: the platform fields of a `[[org.sink]]` table with
/// `platform = "splunk"`. The fields the CLI and dispatcher own (`name`, `platform`,
/// `events`, `token`, batching and retry) are not part of it; any unknown field is an
/// error. In Rust: `SplunkConfig { index: Some("main".into()), ..SplunkConfig::new(endpoint) }`.
///
/// ```
/// let config: siem_splunk::SplunkConfig = toml::from_str(r#"
///     endpoint = "https://splunk.example.com:8088"
///     index = "main"
///     timeouts = { connect_ms = 2000 }
/// "#)?;
/// let options = config.sink_options()?;
/// assert_eq!(options.index.as_deref(), Some("main"));
/// assert_eq!(options.sourcetype, "aisg:security");
/// assert_eq!(options.url().as_str(),
///            "https://splunk.example.com:8088/services/collector/event");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplunkConfig {
    /// The HEC base URL (`https://` only), e.g. `https://splunk.example.com:8088`; the
    /// collector path is appended.
    pub endpoint: Endpoint,
    /// The index (lowercase letters, digits, `_` and `-`, not starting with `_` or `-`);
    /// absent means the token's default index.
    #[serde(default)]
    pub index: Option<String>,
    /// The sourcetype.
    #[serde(default = "default_sourcetype")]
    pub sourcetype: String,
    /// The envelope `host`; absent means Splunk uses the sender's address.
    #[serde(default)]
    pub host: Option<String>,
    /// The envelope `source`.
    #[serde(default = "default_source")]
    pub source: String,
    /// gzip request bodies.
    #[serde(default = "siem_http::default_gzip")]
    pub gzip: bool,
    /// The largest uncompressed body of one request.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// `ca_file`, `ca_pem` and `timeouts`: extra root CAs for a HEC behind an internal
    /// CA, and connect and request timeouts.
    #[serde(flatten)]
    pub transport: TransportConfig,
}

impl SplunkConfig {
    /// The defaults, sending to the HEC at `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            index: None,
            sourcetype: default_sourcetype(),
            host: None,
            source: default_source(),
            gzip: DEFAULT_GZIP,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            transport: TransportConfig::default(),
        }
    }
}

/// Validated [`SplunkConfig`], read through `Deref` (`http()`, `map_http()`,
/// `sink_options()` and the sink's [`Adapter`](siem_http::Adapter) come from
/// [`siem_http::adapter_options!`]), with the client settings
/// and the envelope bytes derived from it.
#[derive(Debug, Clone)]
pub struct SplunkOptions {
    config: SplunkConfig,
    http: HttpOptions,
    pub(crate) envelope: Envelope,
}

siem_http::adapter_options!(
    SplunkOptions, SplunkConfig,
    platform: PLATFORM,
    // HEC tokens go in `Authorization: Splunk <token>`.
    auth: siem_http::AuthHeader::new("authorization", "Splunk "),
    plan: crate::encoder::plan,
    check_response: crate::error::check_response,
);

impl SplunkOptions {
    /// Checks every value of `config` (and reads `ca_file`, if set).
    pub fn new(config: SplunkConfig) -> Result<Self, ConfigError> {
        if let Some(index) = &config.index {
            check_index(index)?;
        }
        check_label("sourcetype", &config.sourcetype)?;
        check_label("source", &config.source)?;
        if let Some(host) = &config.host {
            check_label("host", host)?;
        }
        if !(1..=MAX_MAX_BODY_BYTES).contains(&config.max_body_bytes) {
            return Err(error(
                "max_body_bytes",
                format_args!(
                    "{} is out of range; use 1 to {MAX_MAX_BODY_BYTES}",
                    config.max_body_bytes
                ),
            ));
        }
        let http = config.transport.http_options(PLATFORM, USER_AGENT)?;
        Ok(Self {
            envelope: Envelope::new(&config),
            config,
            http,
        })
    }

    /// The URL requests go to: the endpoint plus [`COLLECTOR_PATH`].
    pub fn url(&self) -> Url {
        self.endpoint.join(COLLECTOR_PATH)
    }
}

fn error(field: &'static str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(PLATFORM, field, reason)
}

/// Splunk index names: lowercase letters, digits, `_` and `-`, not starting with `_` or
/// `-`, at most 80 characters.
fn check_index(index: &str) -> Result<(), ConfigError> {
    let valid_chars = index
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    let bad = |reason: &str| error("index", format_args!("{index:?} {reason}"));
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
    Ok(())
}

/// A printable label of at most 128 characters (the rules of [`Ident`]).
fn check_label(field: &'static str, value: &str) -> Result<(), ConfigError> {
    Ident::new(value).map(drop).map_err(|e| error(field, e))
}
