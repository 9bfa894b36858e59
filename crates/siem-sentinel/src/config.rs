//! Settings of a Sentinel sink and of its Entra ID token source. Each option is declared
//! once, in [`SentinelConfig`]: a serde struct, so the settings are data (a TOML
//! `[[org.sink]]` table, a JSON document, a database row). [`SentinelOptions`] is the same
//! settings validated, with the ingestion URL and the client settings derived from them;
//! [`SentinelConfig::entra_options`] gives the token source's.
//!
//! Identifiers that end up in URL paths (the DCR immutable id, the stream name, the
//! tenant id) are checked character by character, so a configuration value can never
//! change which path or host a request goes to.

use serde::{Deserialize, Serialize};
use siem_core::Endpoint;
use siem_http::{shown, ConfigError, HttpOptions, TransportConfig};
use url::Url;

pub use siem_secrets::entra::{EntraOptions, DEFAULT_AUTHORITY_HOST, DEFAULT_SCOPE};

/// The platform name, as sinks report it and errors name it.
pub const PLATFORM: &str = "sentinel";
/// The `User-Agent` of every request: the crate name and version.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
/// The Logs Ingestion API version this crate speaks.
pub const API_VERSION: &str = "2023-01-01";
/// The stream declared by the shipped DCR template (`schema/dcr.json`).
pub const DEFAULT_STREAM: &str = "Custom-AisgSecurityEvents";
fn default_stream() -> String {
    DEFAULT_STREAM.to_owned()
}
/// The custom table the shipped schema creates (`schema/table.json`).
pub const DEFAULT_TABLE: &str = "AisgSecurityEvents_CL";
/// The longest stream name accepted, `Custom-` included.
pub const MAX_STREAM_NAME_LEN: usize = 100;
/// The largest uncompressed body of one call: the API's 1 MB limit, counted the way
/// Microsoft's client counts it (the default, and the most accepted).
pub const MAX_BODY_BYTES: usize = 1_000_000;
fn default_max_body_bytes() -> usize {
    MAX_BODY_BYTES
}
/// Request bodies are gzip-compressed unless configured otherwise (the API accepts
/// `Content-Encoding: gzip`).
pub const DEFAULT_GZIP: bool = siem_http::DEFAULT_GZIP;

/// The settings of a Sentinel sink: the platform fields of a `[[org.sink]]` table with
/// `platform = "sentinel"` (SPEC §7). The fields the CLI and dispatcher own (`name`,
/// `platform`, `events`, `token`, `client_secret`, batching and retry) are not part of it;
/// any unknown field is an error.
///
/// ```
/// let config: siem_sentinel::SentinelConfig = toml::from_str(r#"
///     dce = "https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com"  # or `endpoint`
///     dcr_immutable_id = "dcr-00112233445566778899aabbccddeeff"
///     stream = "Custom-AisgSecurityEvents"    # default
///     tenant_id = "contoso.onmicrosoft.com"   # with client_id: the Entra ID token flow
///     client_id = "11111111-2222-3333-4444-555555555555"
///     authority_host = "https://login.microsoftonline.com"   # default
///     gzip = true                             # default
///     timeouts = { connect_ms = 2000, request_ms = 10000 }
/// "#)?;
/// let options = config.sink_options()?;
/// assert_eq!(options.http().connect_timeout, std::time::Duration::from_secs(2));
/// assert!(config.entra_options()?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The data collection endpoint (DCE); `dce` is accepted as another name.
    #[serde(alias = "dce")]
    pub endpoint: Endpoint,
    /// The data collection rule's immutable id, `dcr-` and 32 hex digits.
    pub dcr_immutable_id: String,
    /// The stream declared in the DCR: `Custom-` and then letters, digits and `_`.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// gzip request bodies.
    #[serde(default = "siem_http::default_gzip")]
    pub gzip: bool,
    /// The largest uncompressed body of one call (at most [`MAX_BODY_BYTES`]).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// The tenant (a GUID or a domain) for the Entra ID token flow.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The app registration (client id GUID) for the Entra ID token flow.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The Entra ID authority (default [`DEFAULT_AUTHORITY_HOST`]),
    /// for sovereign clouds and tests.
    #[serde(default)]
    pub authority_host: Option<Endpoint>,
    /// The OAuth scope (default [`DEFAULT_SCOPE`]); sovereign
    /// clouds need their own.
    #[serde(default)]
    pub scope: Option<String>,
    /// `ca_file`, `ca_pem` and `timeouts`: extra root CAs and connect and request
    /// timeouts, for the DCE and the token endpoint alike.
    #[serde(flatten)]
    pub transport: TransportConfig,
}

impl SentinelConfig {
    /// The defaults, sending to the DCE `endpoint` and the rule `dcr_immutable_id`, with a
    /// static bearer token (no Entra ID settings).
    pub fn new(endpoint: Endpoint, dcr_immutable_id: impl Into<String>) -> Self {
        Self {
            endpoint,
            dcr_immutable_id: dcr_immutable_id.into(),
            stream: default_stream(),
            gzip: DEFAULT_GZIP,
            max_body_bytes: MAX_BODY_BYTES,
            tenant_id: None,
            client_id: None,
            authority_host: None,
            scope: None,
            transport: TransportConfig::default(),
        }
    }

    /// The token source's settings when `tenant_id` and `client_id` are both set, `None`
    /// when neither is (a static bearer token is used), an error when only one is, or when
    /// `authority_host`/`scope` are set without them.
    pub fn entra_options(&self) -> Result<Option<EntraOptions>, ConfigError> {
        let only_with = "is only used with tenant_id and client_id";
        match (&self.tenant_id, &self.client_id) {
            (Some(tenant), Some(client)) => {
                let http = self.transport.http_options(PLATFORM, USER_AGENT)?;
                let authority = self.authority_host.clone();
                EntraOptions::new(PLATFORM, tenant, client, authority, &self.scope, http).map(Some)
            }
            (None, None) if self.authority_host.is_some() => {
                Err(error("authority_host", only_with))
            }
            (None, None) if self.scope.is_some() => Err(error("scope", only_with)),
            (None, None) => Ok(None),
            (Some(_), None) => Err(error("client_id", "is required when tenant_id is set")),
            (None, Some(_)) => Err(error("tenant_id", "is required when client_id is set")),
        }
    }
}

/// Validated [`SentinelConfig`], read through `Deref` (`http()`, `map_http()`,
/// `sink_options()` and the sink's [`Adapter`](siem_http::Adapter) come from
/// [`siem_http::adapter_options!`]), with the ingestion URL
/// and the client settings derived from it.
#[derive(Debug, Clone)]
pub struct SentinelOptions {
    config: SentinelConfig,
    http: HttpOptions,
}

siem_http::adapter_options!(
    SentinelOptions, SentinelConfig,
    platform: PLATFORM,
    // Entra ID tokens go in `Authorization: Bearer <token>`.
    auth: siem_http::AuthHeader::new("authorization", "Bearer "),
    plan: crate::encoder::plan,
    check_response: crate::error::check_response,
);

impl SentinelOptions {
    /// Checks the sink's values of `config` (and reads `ca_file`, if set).
    pub fn new(config: SentinelConfig) -> Result<Self, ConfigError> {
        check_dcr_immutable_id(&config.dcr_immutable_id)?;
        check_stream(&config.stream)?;
        if !(1..=MAX_BODY_BYTES).contains(&config.max_body_bytes) {
            let reason = format_args!(
                "{} is out of range; the API allows 1 to {MAX_BODY_BYTES}",
                config.max_body_bytes
            );
            return Err(error("max_body_bytes", reason));
        }
        let http = config.transport.http_options(PLATFORM, USER_AGENT)?;
        Ok(Self { config, http })
    }

    /// `{dce}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`.
    pub fn url(&self) -> Url {
        let mut url = self.endpoint.join(&format!(
            "/dataCollectionRules/{}/streams/{}",
            self.dcr_immutable_id, self.stream
        ));
        url.set_query(Some(&format!("api-version={API_VERSION}")));
        url
    }
}

fn error(field: &'static str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(PLATFORM, field, reason)
}

fn check_dcr_immutable_id(value: &str) -> Result<(), ConfigError> {
    let hex = value.strip_prefix("dcr-").unwrap_or("");
    if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(());
    }
    let reason = "is not a DCR immutable id (`dcr-` followed by 32 hex digits)";
    Err(error(
        "dcr_immutable_id",
        format_args!("{} {reason}", shown(value)),
    ))
}

fn check_stream(value: &str) -> Result<(), ConfigError> {
    let ok = value.strip_prefix("Custom-").is_some_and(|rest| {
        value.len() <= MAX_STREAM_NAME_LEN
            && rest.starts_with(|c: char| c.is_ascii_alphabetic())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if ok {
        return Ok(());
    }
    let reason = format_args!(
        "{} must be `Custom-` followed by a letter and then letters, digits or `_` \
         (at most {MAX_STREAM_NAME_LEN} characters in all)",
        shown(value)
    );
    Err(error("stream", reason))
}
