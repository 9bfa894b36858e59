//! Options of a Sentinel sink and of the Entra ID token source, with validated
//! construction, and [`SentinelConfig`], their TOML form.
//!
//! Every default is a named constant below. Identifiers that end up in URL paths (the DCR
//! immutable id, the stream name, the tenant id) are checked character by character, so a
//! configuration value can never change which path or host a request goes to.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use siem_core::Endpoint;
use siem_http::{HttpError, HttpOptions, TimeoutsConfig, MAX_TIMEOUT};
use url::Url;

/// The Logs Ingestion API version this crate speaks.
pub const API_VERSION: &str = "2023-01-01";
/// The stream declared by the shipped DCR template (`schema/dcr.json`).
pub const DEFAULT_STREAM: &str = "Custom-AisgSecurityEvents";
/// The custom table the shipped schema creates (`schema/table.json`).
pub const DEFAULT_TABLE: &str = "AisgSecurityEvents_CL";
/// Request bodies are gzip-compressed unless configured otherwise (the API accepts
/// `Content-Encoding: gzip`).
pub const DEFAULT_GZIP: bool = true;
/// Time allowed to connect (TCP + TLS) unless configured otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = siem_http::DEFAULT_CONNECT_TIMEOUT;
/// Time allowed for a whole request unless configured otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = siem_http::DEFAULT_REQUEST_TIMEOUT;
/// The Entra ID authority of the Azure public cloud. Sovereign clouds use their own
/// (e.g. `https://login.microsoftonline.us`, `https://login.chinacloudapi.cn`).
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The OAuth scope of the Logs Ingestion API in the Azure public cloud.
pub const DEFAULT_SCOPE: &str = "https://monitor.azure.com/.default";
/// The longest stream name accepted, `Custom-` included.
pub const MAX_STREAM_NAME_LEN: usize = 100;
/// The `User-Agent` of every request: the crate name and version.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// A configuration value that failed validation; names the field, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sentinel option `{field}`: {reason}")]
pub struct ConfigError {
    /// The field, with its TOML name, e.g. `dcr_immutable_id`.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Shows at most 80 characters of a rejected value.
fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if value.chars().count() > 80 {
        s.push('…');
    }
    format!("{s:?}")
}

fn check_dcr_immutable_id(value: &str) -> Result<(), ConfigError> {
    let hex = value.strip_prefix("dcr-").unwrap_or("");
    if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "dcr_immutable_id",
            format!(
                "{} is not a DCR immutable id (`dcr-` followed by 32 hex digits)",
                shown(value)
            ),
        ))
    }
}

fn check_stream(value: &str) -> Result<(), ConfigError> {
    let rest = value.strip_prefix("Custom-").ok_or_else(|| {
        ConfigError::new(
            "stream",
            format!("{} must start with `Custom-`", shown(value)),
        )
    })?;
    let ok = !rest.is_empty()
        && value.len() <= MAX_STREAM_NAME_LEN
        && rest.starts_with(|c: char| c.is_ascii_alphabetic())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "stream",
            format!(
                "{} must be `Custom-` followed by a letter and then letters, digits or `_` \
                 (at most {MAX_STREAM_NAME_LEN} characters in all)",
                shown(value)
            ),
        ))
    }
}

fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn check_tenant_id(value: &str) -> Result<(), ConfigError> {
    // A GUID or a verified domain such as `contoso.onmicrosoft.com`.
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !value.starts_with(['.', '-'])
        && !value.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "tenant_id",
            format!(
                "{} is neither a tenant GUID nor a domain name",
                shown(value)
            ),
        ))
    }
}

fn check_client_id(value: &str) -> Result<(), ConfigError> {
    if is_guid(value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "client_id",
            format!("{} is not an application (client) id GUID", shown(value)),
        ))
    }
}

fn check_timeout(field: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() || value > MAX_TIMEOUT {
        Err(ConfigError::new(
            field,
            format!(
                "{} ms is out of range; use 1 to {} milliseconds",
                value.as_millis(),
                MAX_TIMEOUT.as_millis()
            ),
        ))
    } else {
        Ok(())
    }
}

/// The HTTP settings shared by the sink and the token source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Transport {
    connect_timeout: Duration,
    request_timeout: Duration,
    ca_file: Option<PathBuf>,
}

impl Default for Transport {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            ca_file: None,
        }
    }
}

impl Transport {
    fn check(&self) -> Result<(), ConfigError> {
        check_timeout("timeouts.connect_ms", self.connect_timeout)?;
        check_timeout("timeouts.request_ms", self.request_timeout)
    }

    /// `siem_http` options for a client that talks to `target`. A plain-HTTP target can
    /// only exist in `testing` builds (`Endpoint::plain_http_loopback`), and only then is
    /// the client allowed to use it.
    fn http_options(&self, target: &Endpoint) -> Result<HttpOptions, HttpError> {
        let mut options = HttpOptions::new(USER_AGENT)
            .connect_timeout(self.connect_timeout)
            .request_timeout(self.request_timeout);
        if let Some(path) = &self.ca_file {
            options = options.extra_root_ca_file(path)?;
        }
        #[cfg(feature = "testing")]
        if target.as_url().scheme() == "http" {
            options = options.allow_plain_http_loopback();
        }
        #[cfg(not(feature = "testing"))]
        let _ = target;
        Ok(options)
    }
}

/// The validated options of a [`SentinelSink`](crate::SentinelSink).
///
/// ```
/// use siem_core::Endpoint;
/// use siem_sentinel::SentinelOptions;
/// let options = SentinelOptions::builder(
///     Endpoint::parse("https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com")?,
///     "dcr-00112233445566778899aabbccddeeff",
/// )
/// .build()?;
/// assert_eq!(options.stream(), "Custom-AisgSecurityEvents");
/// assert!(options.gzip());
/// assert_eq!(
///     options.ingestion_url().as_str(),
///     "https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/\
///      dcr-00112233445566778899aabbccddeeff/streams/Custom-AisgSecurityEvents\
///      ?api-version=2023-01-01"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelOptions {
    endpoint: Endpoint,
    dcr_immutable_id: String,
    stream: String,
    gzip: bool,
    transport: Transport,
}

impl SentinelOptions {
    /// Starts options for a data collection endpoint (DCE) and rule (DCR). Everything else
    /// has a default; [`SentinelOptionsBuilder::build`] validates.
    pub fn builder(
        endpoint: Endpoint,
        dcr_immutable_id: impl Into<String>,
    ) -> SentinelOptionsBuilder {
        SentinelOptionsBuilder {
            options: SentinelOptions {
                endpoint,
                dcr_immutable_id: dcr_immutable_id.into(),
                stream: DEFAULT_STREAM.to_owned(),
                gzip: DEFAULT_GZIP,
                transport: Transport::default(),
            },
        }
    }

    /// The data collection endpoint (base URL).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
    /// The DCR immutable id, `dcr-` and 32 hex digits.
    pub fn dcr_immutable_id(&self) -> &str {
        &self.dcr_immutable_id
    }
    /// The stream declared in the DCR, e.g. `Custom-AisgSecurityEvents`.
    pub fn stream(&self) -> &str {
        &self.stream
    }
    /// Whether request bodies are gzip-compressed.
    pub fn gzip(&self) -> bool {
        self.gzip
    }
    /// Time allowed to connect.
    pub fn connect_timeout(&self) -> Duration {
        self.transport.connect_timeout
    }
    /// Time allowed for a whole request.
    pub fn request_timeout(&self) -> Duration {
        self.transport.request_timeout
    }
    /// The extra root CA (PEM file), if any.
    pub fn ca_file(&self) -> Option<&Path> {
        self.transport.ca_file.as_deref()
    }

    /// `{dce}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01`.
    pub fn ingestion_url(&self) -> Url {
        let mut url = self.endpoint.join(&format!(
            "/dataCollectionRules/{}/streams/{}",
            self.dcr_immutable_id, self.stream
        ));
        url.set_query(Some(&format!("api-version={API_VERSION}")));
        url
    }

    pub(crate) fn http_options(&self) -> Result<HttpOptions, HttpError> {
        self.transport.http_options(&self.endpoint)
    }
}

/// Builds [`SentinelOptions`]; see [`SentinelOptions::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SentinelOptionsBuilder {
    options: SentinelOptions,
}

impl SentinelOptionsBuilder {
    /// The stream name (default [`DEFAULT_STREAM`]); `Custom-` and then letters, digits and
    /// `_`.
    pub fn stream(mut self, stream: impl Into<String>) -> Self {
        self.options.stream = stream.into();
        self
    }
    /// gzip request bodies (default [`DEFAULT_GZIP`]).
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.options.gzip = gzip;
        self
    }
    /// Time allowed to connect (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.transport.connect_timeout = timeout;
        self
    }
    /// Time allowed for a whole request (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.options.transport.request_timeout = timeout;
        self
    }
    /// An extra root CA (PEM file) to trust besides the public roots. The file is read when
    /// the sink is built.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.transport.ca_file = Some(path.into());
        self
    }

    /// Validates the options.
    pub fn build(self) -> Result<SentinelOptions, ConfigError> {
        let o = &self.options;
        check_dcr_immutable_id(&o.dcr_immutable_id)?;
        check_stream(&o.stream)?;
        o.transport.check()?;
        Ok(self.options)
    }
}

/// The validated options of an [`EntraTokenSource`](crate::EntraTokenSource).
///
/// ```
/// use siem_sentinel::EntraOptions;
/// let options = EntraOptions::builder("contoso.onmicrosoft.com",
///                                     "11111111-2222-3333-4444-555555555555").build()?;
/// assert_eq!(
///     options.token_url().as_str(),
///     "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
/// );
/// assert_eq!(options.scope(), "https://monitor.azure.com/.default");
/// # Ok::<(), siem_sentinel::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EntraOptions {
    tenant_id: String,
    client_id: String,
    authority_host: Endpoint,
    scope: String,
    transport: Transport,
}

impl fmt::Debug for EntraOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraOptions")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("authority_host", &self.authority_host)
            .field("scope", &self.scope)
            .field("transport", &self.transport)
            .finish()
    }
}

impl EntraOptions {
    /// Starts options for an app registration (`client_id`) in a tenant (a GUID or a
    /// domain). [`EntraOptionsBuilder::build`] validates.
    pub fn builder(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
    ) -> EntraOptionsBuilder {
        EntraOptionsBuilder {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            authority_host: None,
            scope: DEFAULT_SCOPE.to_owned(),
            transport: Transport::default(),
        }
    }

    /// The tenant (directory) id or domain.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }
    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The Entra ID authority.
    pub fn authority_host(&self) -> &Endpoint {
        &self.authority_host
    }
    /// The OAuth scope requested.
    pub fn scope(&self) -> &str {
        &self.scope
    }
    /// Time allowed to connect to the token endpoint.
    pub fn connect_timeout(&self) -> Duration {
        self.transport.connect_timeout
    }
    /// Time allowed for a whole token request.
    pub fn request_timeout(&self) -> Duration {
        self.transport.request_timeout
    }
    /// The extra root CA (PEM file), if any.
    pub fn ca_file(&self) -> Option<&Path> {
        self.transport.ca_file.as_deref()
    }

    /// `{authority_host}/{tenant_id}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> Url {
        self.authority_host
            .join(&format!("/{}/oauth2/v2.0/token", self.tenant_id))
    }

    /// `entra:{tenant_id}/{client_id}`: how errors and logs name this identity.
    pub fn describe(&self) -> String {
        format!("entra:{}/{}", self.tenant_id, self.client_id)
    }

    pub(crate) fn http_options(&self) -> Result<HttpOptions, HttpError> {
        self.transport.http_options(&self.authority_host)
    }
}

/// Builds [`EntraOptions`]; see [`EntraOptions::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EntraOptionsBuilder {
    tenant_id: String,
    client_id: String,
    authority_host: Option<Endpoint>,
    scope: String,
    transport: Transport,
}

impl EntraOptionsBuilder {
    /// The Entra ID authority (default [`DEFAULT_AUTHORITY_HOST`]), for sovereign clouds
    /// and for tests.
    pub fn authority_host(mut self, authority_host: Endpoint) -> Self {
        self.authority_host = Some(authority_host);
        self
    }
    /// The OAuth scope (default [`DEFAULT_SCOPE`]); sovereign clouds have their own.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }
    /// Time allowed to connect (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.transport.connect_timeout = timeout;
        self
    }
    /// Time allowed for a whole token request (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.transport.request_timeout = timeout;
        self
    }
    /// An extra root CA (PEM file) to trust besides the public roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.transport.ca_file = Some(path.into());
        self
    }

    /// Validates the options.
    pub fn build(self) -> Result<EntraOptions, ConfigError> {
        check_tenant_id(&self.tenant_id)?;
        check_client_id(&self.client_id)?;
        let scope_ok = !self.scope.is_empty()
            && self.scope.len() <= 256
            && self.scope.bytes().all(|b| b.is_ascii_graphic());
        if !scope_ok {
            return Err(ConfigError::new(
                "scope",
                format!("{} is not an OAuth scope", shown(&self.scope)),
            ));
        }
        self.transport.check()?;
        let authority_host = match self.authority_host {
            Some(endpoint) => endpoint,
            None => Endpoint::parse(DEFAULT_AUTHORITY_HOST)
                .map_err(|e| ConfigError::new("authority_host", e.to_string()))?,
        };
        Ok(EntraOptions {
            tenant_id: self.tenant_id,
            client_id: self.client_id,
            authority_host,
            scope: self.scope,
            transport: self.transport,
        })
    }
}

/// The TOML form of a Sentinel sink's options: the platform fields of a `[[org.sink]]`
/// table with `platform = "sentinel"` (SPEC §7). The fields the CLI and dispatcher own
/// (`name`, `platform`, `events`, `token`, `client_secret`, batching and retry) are not part
/// of it and must be removed before deserializing; any other unknown field is an error.
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
/// assert_eq!(options.connect_timeout(), std::time::Duration::from_secs(2));
/// assert!(config.entra_options()?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SentinelConfig {
    /// The data collection endpoint; `dce` is accepted as another name.
    #[serde(alias = "dce")]
    pub endpoint: Endpoint,
    /// The DCR immutable id.
    pub dcr_immutable_id: String,
    /// The stream (default [`DEFAULT_STREAM`]).
    #[serde(default)]
    pub stream: Option<String>,
    /// The tenant for the Entra ID token flow.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The app registration for the Entra ID token flow.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The Entra ID authority (default [`DEFAULT_AUTHORITY_HOST`]).
    #[serde(default)]
    pub authority_host: Option<Endpoint>,
    /// The OAuth scope (default [`DEFAULT_SCOPE`]); sovereign clouds need their own.
    #[serde(default)]
    pub scope: Option<String>,
    /// gzip request bodies (default [`DEFAULT_GZIP`]).
    #[serde(default)]
    pub gzip: Option<bool>,
    /// An extra root CA (PEM file), trusted for the DCE and the token endpoint.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Connect and request timeouts, `{ connect_ms, request_ms }` (defaults
    /// [`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_REQUEST_TIMEOUT`]); used for the DCE and the
    /// token endpoint.
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
}

impl SentinelConfig {
    /// A configuration with only the required fields set.
    pub fn new(endpoint: Endpoint, dcr_immutable_id: impl Into<String>) -> Self {
        Self {
            endpoint,
            dcr_immutable_id: dcr_immutable_id.into(),
            stream: None,
            tenant_id: None,
            client_id: None,
            authority_host: None,
            scope: None,
            gzip: None,
            ca_file: None,
            timeouts: TimeoutsConfig::default(),
        }
    }

    fn transport(&self) -> Transport {
        let ms = |v: Option<u64>, default| v.map_or(default, Duration::from_millis);
        Transport {
            connect_timeout: ms(self.timeouts.connect_ms, DEFAULT_CONNECT_TIMEOUT),
            request_timeout: ms(self.timeouts.request_ms, DEFAULT_REQUEST_TIMEOUT),
            ca_file: self.ca_file.clone(),
        }
    }

    /// The sink options.
    pub fn sink_options(&self) -> Result<SentinelOptions, ConfigError> {
        let mut builder = SentinelOptions::builder(self.endpoint.clone(), &self.dcr_immutable_id);
        if let Some(stream) = &self.stream {
            builder = builder.stream(stream);
        }
        if let Some(gzip) = self.gzip {
            builder = builder.gzip(gzip);
        }
        builder.options.transport = self.transport();
        builder.build()
    }

    /// The Entra ID options when `tenant_id` and `client_id` are both set, `None` when
    /// neither is (a static bearer token is used), an error when only one is, or when
    /// `authority_host`/`scope` are set without them.
    pub fn entra_options(&self) -> Result<Option<EntraOptions>, ConfigError> {
        match (&self.tenant_id, &self.client_id) {
            (Some(tenant), Some(client)) => {
                let mut builder = EntraOptions::builder(tenant, client);
                if let Some(authority) = &self.authority_host {
                    builder = builder.authority_host(authority.clone());
                }
                if let Some(scope) = &self.scope {
                    builder = builder.scope(scope);
                }
                builder.transport = self.transport();
                builder.build().map(Some)
            }
            (None, None) => {
                if self.authority_host.is_some() {
                    Err(ConfigError::new(
                        "authority_host",
                        "is only used with tenant_id and client_id",
                    ))
                } else if self.scope.is_some() {
                    Err(ConfigError::new(
                        "scope",
                        "is only used with tenant_id and client_id",
                    ))
                } else {
                    Ok(None)
                }
            }
            (Some(_), None) => Err(ConfigError::new(
                "client_id",
                "is required when tenant_id is set",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "tenant_id",
                "is required when client_id is set",
            )),
        }
    }
}
