//! An Entra ID (Azure AD) client-credentials token source for the Logs Ingestion API.
//!
//! # Protocol
//! `POST {authority_host}/{tenant_id}/oauth2/v2.0/token` with the form fields
//! `grant_type=client_credentials`, `client_id`, `client_secret` and
//! `scope=https://monitor.azure.com/.default`; the answer holds `access_token` and
//! `expires_in` (seconds).
//!
//! # Caching
//! The workspace's one credential cache, `siem_secrets::CachedCredential` (with its one
//! `Clock`), holds the tokens; this module only asks Entra ID for them:
//! - A token is reused until its *refresh time*: `expires_in` minus a margin of 10 % of
//!   its lifetime, at most [`MAX_REFRESH_MARGIN`] (5 minutes). A usual one-hour token is
//!   thus refreshed after 55 minutes.
//! - Exactly one token request is in flight however many callers ask at once; they all
//!   take that token — or that failure, so a failing endpoint is asked once per wave of
//!   callers, and not again before [`FAILED_REFRESH_BACKOFF`].
//! - If a refresh fails while the cached token has not yet expired, the old token is still
//!   served and the next refresh is tried after [`FAILED_REFRESH_BACKOFF`].
//! - [`invalidate`](CredentialProvider::invalidate) drops the cached token only if it is the
//!   rejected one, so late reports about an already-replaced token cost nothing.
//!
//! # Errors
//! Errors name the identity (`entra:{tenant_id}/{client_id}`) and carry Entra's error code
//! and `AADSTS…` description, never the client secret or a token. A 4xx answer (e.g.
//! `invalid_client`, `unauthorized_client`, an unknown tenant) is
//! [`CredentialErrorKind::Rejected`]; 429 is `Throttled`; 5xx, timeouts and connection
//! failures are `Unavailable`. On `invalid_client` the client secret provider is told that
//! its secret was rejected, so a rotated secret is fetched from the store next time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;
use siem_core::Endpoint;
use siem_core::{CredentialError, CredentialErrorKind, CredentialProvider, Secret};
use siem_http::{shown, ConfigError as OptionError};
use siem_http::{BuildError, HeaderName, HeaderValue, HttpClient, HttpOptions, HttpResponse};
use url::Url;

pub use crate::cache::{refresh_margin, MAX_REFRESH_MARGIN};
use crate::cache::{CacheOptions, CachedCredential, Clock, ExpiringProvider, TokioClock};

/// The Entra ID authority of the Azure public cloud. Sovereign clouds use their own
/// (e.g. `https://login.microsoftonline.us`, `https://login.chinacloudapi.cn`).
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The OAuth scope of the Logs Ingestion API in the Azure public cloud.
pub const DEFAULT_SCOPE: &str = "https://monitor.azure.com/.default";

/// After a failed refresh with a still-valid token in hand, how long to use that token
/// before trying again.
pub const FAILED_REFRESH_BACKOFF: Duration = Duration::from_secs(10);
/// The longest token lifetime believed; Entra tokens live at most a day, and a larger
/// `expires_in` is capped rather than trusted.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How much of Entra's error description is kept.
const MAX_DETAIL_CHARS: usize = 512;

/// The validated settings of an [`EntraTokenSource`], from a
/// Sentinel's configuration with `tenant_id` and `client_id` (see
/// `siem_sentinel::SentinelConfig::entra_options`).
///
/// ```
/// use siem_secrets::entra::EntraOptions;
/// let client = "11111111-2222-3333-4444-555555555555";
/// let http = siem_http::HttpOptions::new("doc/1");
/// let options =
///     EntraOptions::new("sentinel", "contoso.onmicrosoft.com", client, None, &None, http)?;
/// assert_eq!(
///     options.token_url().as_str(),
///     "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
/// );
/// assert_eq!(options.scope(), "https://monitor.azure.com/.default");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EntraOptions {
    tenant_id: String,
    client_id: String,
    authority_host: Endpoint,
    scope: String,
    http: HttpOptions,
}

impl EntraOptions {
    /// Checks the identity (errors name the `platform`'s fields) and holds it with the
    /// client settings `http`; `authority_host` and `scope` default to the Azure public
    /// cloud's.
    pub fn new(
        platform: &'static str,
        tenant_id: &str,
        client_id: &str,
        authority_host: Option<Endpoint>,
        scope: &Option<String>,
        http: HttpOptions,
    ) -> Result<Self, OptionError> {
        let error = |field, reason: &dyn fmt::Display| OptionError::new(platform, field, reason);
        check_tenant_id(tenant_id).map_err(|reason| error("tenant_id", &reason))?;
        if !is_guid(client_id) {
            let reason = "is not an application (client) id GUID";
            return Err(error(
                "client_id",
                &format!("{} {reason}", shown(client_id)),
            ));
        }
        let scope = scope.as_deref().unwrap_or(DEFAULT_SCOPE);
        if scope.is_empty() || scope.len() > 256 || !scope.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(error(
                "scope",
                &format!("{} is not an OAuth scope", shown(scope)),
            ));
        }
        let authority_host = match authority_host {
            Some(endpoint) => endpoint,
            None => {
                Endpoint::parse(DEFAULT_AUTHORITY_HOST).map_err(|e| error("authority_host", &e))?
            }
        };
        Ok(Self {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            authority_host,
            scope: scope.to_owned(),
            http,
        })
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
    /// The client settings.
    pub fn http(&self) -> &HttpOptions {
        &self.http
    }
    /// Changes the client settings (tests: a plain-HTTP loopback mock, a short timeout).
    pub fn map_http(mut self, f: impl FnOnce(HttpOptions) -> HttpOptions) -> Self {
        self.http = f(self.http);
        self
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
}

fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A GUID or a verified domain such as `contoso.onmicrosoft.com`.
fn check_tenant_id(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !value.starts_with(['.', '-'])
        && !value.contains("..");
    if ok {
        return Ok(());
    }
    let reason = "is neither a tenant GUID nor a domain name";
    Err(format!("{} {reason}", shown(value)))
}

/// Gets Logs Ingestion API tokens from Entra ID with the client-credentials flow and
/// caches them (see the [module docs](self)).
///
/// ```
/// use std::sync::Arc;
/// use siem_core::{CredentialProvider, Secret, StaticCredential};
/// use siem_secrets::entra::{EntraOptions, EntraTokenSource};
///
/// let client = "11111111-2222-3333-4444-555555555555";
/// let http = siem_http::HttpOptions::new("doc/1");
/// let options =
///     EntraOptions::new("sentinel", "contoso.onmicrosoft.com", client, None, &None, http)?;
/// let secret = Arc::new(StaticCredential::with_label(Secret::new("s3cr3t"), "env:AZ_SECRET"));
/// let source = EntraTokenSource::new(options, secret)?;
/// assert_eq!(source.describe(), "entra:contoso.onmicrosoft.com/11111111-2222-3333-4444-555555555555");
/// assert!(!format!("{source:?}").contains("s3cr3t"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct EntraTokenSource {
    fetch: Arc<EntraFetch>,
    cache: CachedCredential,
}

/// The token request itself, cached by [`EntraTokenSource`].
struct EntraFetch {
    options: EntraOptions,
    identity: String,
    token_url: Url,
    http: HttpClient,
    client_secret: Arc<dyn CredentialProvider>,
}

impl fmt::Debug for EntraFetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraFetch")
            .field("identity", &self.identity)
            .field("token_url", &self.token_url.as_str())
            .field("scope", &self.options.scope())
            .field("client_secret", &self.client_secret.describe())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<Seconds>,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
}

impl EntraTokenSource {
    /// A token source for `options`, reading the client secret from `client_secret` (the
    /// secret store) whenever it fetches a token. Fails when the CA file cannot be read.
    pub fn new(
        options: EntraOptions,
        client_secret: Arc<dyn CredentialProvider>,
    ) -> Result<Self, BuildError> {
        let identity = options.describe();
        let http = HttpClient::new(&options.http).map_err(|source| BuildError::Http {
            component: format!("token source {identity}"),
            source,
        })?;
        let fetch = Arc::new(EntraFetch {
            token_url: options.token_url(),
            identity,
            options,
            http,
            client_secret,
        });
        Ok(Self {
            cache: Self::cache(&fetch, Arc::new(TokioClock)),
            fetch,
        })
    }

    /// The one credential cache of the workspace (`siem_secrets::CachedCredential`) on the
    /// token request: tokens refreshed [`refresh_margin`] before they expire, one request
    /// in flight, a failed refresh retried after [`FAILED_REFRESH_BACKOFF`].
    fn cache(fetch: &Arc<EntraFetch>, clock: Arc<dyn Clock>) -> CachedCredential {
        let options = CacheOptions::default().with_failure_backoff(FAILED_REFRESH_BACKOFF);
        CachedCredential::expiring(fetch.clone(), options, clock)
    }

    /// Uses another clock for expiry (tests), e.g. `siem_secrets::ManualClock`.
    #[must_use]
    pub fn with_clock(self, clock: impl Clock + 'static) -> Self {
        Self {
            cache: Self::cache(&self.fetch, Arc::new(clock)),
            fetch: self.fetch,
        }
    }

    /// The options.
    pub fn options(&self) -> &EntraOptions {
        &self.fetch.options
    }
}

impl EntraFetch {
    fn error(&self, kind: CredentialErrorKind, detail: impl Into<String>) -> CredentialError {
        CredentialError::new(self.identity.clone(), kind, detail)
    }

    /// Asks Entra ID for a token, once.
    async fn request(&self) -> Result<(Secret, Option<Duration>), CredentialError> {
        let secret = self.client_secret.get().await.map_err(|e| {
            let detail = if e.detail.is_empty() {
                format!("reading the client secret ({}): {}", e.reference, e.kind)
            } else {
                format!(
                    "reading the client secret ({}): {} ({})",
                    e.reference, e.kind, e.detail
                )
            };
            self.error(e.kind, detail)
        })?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", self.options.client_id())
            .append_pair("client_secret", secret.expose())
            .append_pair("scope", self.options.scope())
            .finish();
        let headers = [
            (
                HeaderName::from_static("content-type"),
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            ),
            (
                HeaderName::from_static("accept"),
                HeaderValue::from_static("application/json"),
            ),
        ];
        let response = self
            .http
            .post(&self.token_url, &headers, Bytes::from(form))
            .await
            .map_err(|e| {
                let what = e
                    .detail()
                    .map_or_else(|| e.to_string(), |d| d.message.clone());
                self.error(
                    CredentialErrorKind::Unavailable,
                    format!("token endpoint {}: {what}", self.token_url),
                )
            })?;
        if (200..300).contains(&response.status) {
            return self.read_token(&response);
        }
        let answer: ErrorAnswer = serde_json::from_slice(&response.body).unwrap_or_default();
        if matches!(response.status, 400 | 401) && answer.error.as_deref() == Some("invalid_client")
        {
            // Possibly a rotated secret: let the store fetch it again next time.
            self.client_secret.invalidate(&secret);
        }
        let kind = match response.status {
            429 => CredentialErrorKind::Throttled,
            400..=499 => CredentialErrorKind::Rejected,
            _ => CredentialErrorKind::Unavailable,
        };
        Err(self.error(kind, error_detail(&response, &answer, &secret)))
    }

    fn read_token(
        &self,
        response: &HttpResponse,
    ) -> Result<(Secret, Option<Duration>), CredentialError> {
        let malformed = |why: &str| {
            self.error(
                CredentialErrorKind::Malformed,
                format!("token endpoint answered HTTP {} {why}", response.status),
            )
        };
        let answer: TokenAnswer = serde_json::from_slice(&response.body)
            .map_err(|_| malformed("with a body that is not a token response"))?;
        let token = answer
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| malformed("without an access_token"))?;
        let seconds = match answer.expires_in {
            Some(Seconds::Number(n)) => n,
            Some(Seconds::Text(t)) => t
                .trim()
                .parse()
                .map_err(|_| malformed("with a non-numeric expires_in"))?,
            None => return Err(malformed("without expires_in")),
        };
        let lifetime = Duration::from_secs(seconds).min(MAX_TOKEN_LIFETIME);
        tracing::debug!(identity = %self.identity, expires_in = seconds, "fetched an Entra ID token");
        Ok((Secret::new(token), Some(lifetime)))
    }
}

/// `HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided. … (trace_id …,
/// correlation_id …)`, shortened, with the secret scrubbed should Entra ever echo it.
fn error_detail(response: &HttpResponse, answer: &ErrorAnswer, secret: &Secret) -> String {
    let mut detail = format!("token endpoint answered HTTP {}", response.status);
    if let Some(code) = &answer.error {
        detail.push(' ');
        detail.push_str(code);
    }
    match &answer.error_description {
        // Entra appends "Trace ID: … Correlation ID: … Timestamp: …" on further lines.
        Some(text) => {
            if let Some(first) = text.lines().next().filter(|l| !l.trim().is_empty()) {
                detail.push_str(": ");
                detail.push_str(first.trim());
            }
        }
        None if answer.error.is_none() => {
            let text = response.body_text();
            if !text.is_empty() {
                detail.push_str(": ");
                detail.push_str(&text);
            }
        }
        None => {}
    }
    let ids: Vec<String> = [
        ("trace_id", &answer.trace_id),
        ("correlation_id", &answer.correlation_id),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name} {v}")))
    .collect();
    if !ids.is_empty() {
        detail.push_str(&format!(" ({})", ids.join(", ")));
    }
    let mut detail: String = detail.chars().take(MAX_DETAIL_CHARS).collect();
    let exposed = secret.expose();
    if !exposed.is_empty() && detail.contains(exposed) {
        detail = detail.replace(exposed, "[REDACTED]");
    }
    detail
}

#[async_trait]
impl ExpiringProvider for EntraFetch {
    async fn fetch(&self) -> Result<(Secret, Option<Duration>), CredentialError> {
        self.request().await
    }
    fn describe(&self) -> String {
        self.identity.clone()
    }
}

#[async_trait]
impl CredentialProvider for EntraTokenSource {
    async fn get(&self) -> Result<Secret, CredentialError> {
        self.cache.get().await
    }

    fn invalidate(&self, rejected: &Secret) {
        self.cache.invalidate(rejected);
    }

    fn describe(&self) -> String {
        self.fetch.identity.clone()
    }
}
