//! Options of a Datadog Logs sink: validated [`DatadogOptions`] built with
//! [`DatadogOptionsBuilder`], and [`DatadogConfig`], their TOML form.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use siem_core::{Endpoint, Ident};
use siem_http::{json, HttpOptions, TimeoutsConfig, TransportBuilder};
use url::Url;

/// The Datadog site unless configured (US1). Others: `us3.datadoghq.com`,
/// `us5.datadoghq.com`, `datadoghq.eu`, `ap1.datadoghq.com`, `ap2.datadoghq.com`,
/// `uk1.datadoghq.com`, `ddog-gov.com`, `us2.ddog-gov.com`.
pub const DEFAULT_SITE: &str = "datadoghq.com";
/// The `ddsource` of every log item.
pub const DDSOURCE: &str = "aisg";
/// Datadog's limit on log items per request.
pub const MAX_ITEMS_PER_REQUEST: usize = 1000;
/// Datadog's limit on the uncompressed body of one request (5 MB).
pub const MAX_BODY_BYTES: usize = 5_000_000;
/// Datadog's limit on one log item (1 MB; larger items would be truncated by Datadog).
pub const MAX_ITEM_BYTES: usize = 1_000_000;
/// The longest tag Datadog keeps.
pub const MAX_TAG_CHARS: usize = 200;
/// Whether bodies are gzip-compressed unless configured (Datadog recommends it).
pub const DEFAULT_GZIP: bool = true;
/// The intake path, appended to the site's intake host or the explicit endpoint.
pub const INTAKE_PATH: &str = "/api/v2/logs";
/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));

/// An option that failed validation, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("datadog option `{field}`: {reason}")]
pub struct ConfigError {
    /// The field (its TOML name), e.g. `site`.
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

/// Validated options of a Datadog Logs sink. Build them with [`DatadogOptions::builder`]
/// or from a [`DatadogConfig`].
///
/// ```
/// use siem_datadog::DatadogOptions;
/// let options = DatadogOptions::builder()
///     .site("datadoghq.eu")
///     .env("production")
///     .tags(["team:security"])
///     .build()?;
/// assert_eq!(options.intake_url().as_str(), "https://http-intake.logs.datadoghq.eu/api/v2/logs");
/// # Ok::<(), siem_datadog::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct DatadogOptions {
    endpoint: Option<Endpoint>,
    site: String,
    intake_url: Url,
    env: Option<String>,
    hostname: Option<String>,
    tags: Vec<String>,
    gzip: bool,
    max_items_per_request: usize,
    max_body_bytes: usize,
    max_item_bytes: usize,
    http: HttpOptions,
    /// `{"ddsource":"aisg","ddtags":"env:<env>,service:`, JSON-escaped once.
    pub(crate) item_prefix: Vec<u8>,
    /// `,tag1,tag2` (escaped string contents), after the per-event tags.
    pub(crate) tags_suffix: Vec<u8>,
    /// `","hostname":"<host>","message":` (or without hostname).
    pub(crate) after_tags: Vec<u8>,
}

impl fmt::Debug for DatadogOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatadogOptions")
            .field("intake_url", &self.intake_url.as_str())
            .field("env", &self.env)
            .field("hostname", &self.hostname)
            .field("tags", &self.tags)
            .field("gzip", &self.gzip)
            .field("max_items_per_request", &self.max_items_per_request)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_item_bytes", &self.max_item_bytes)
            .field("http", &self.http)
            .finish()
    }
}

impl DatadogOptions {
    /// Starts options with the defaults (site [`DEFAULT_SITE`], gzip on, Datadog's limits).
    pub fn builder() -> DatadogOptionsBuilder {
        DatadogOptionsBuilder {
            endpoint: None,
            site: None,
            env: None,
            hostname: None,
            tags: Vec::new(),
            gzip: DEFAULT_GZIP,
            max_items_per_request: MAX_ITEMS_PER_REQUEST,
            max_body_bytes: MAX_BODY_BYTES,
            max_item_bytes: MAX_ITEM_BYTES,
            transport: TransportBuilder::new(USER_AGENT),
        }
    }

    /// The URL requests go to: `https://http-intake.logs.{site}/api/v2/logs`, or
    /// `{endpoint}/api/v2/logs` when an explicit endpoint is configured.
    pub fn intake_url(&self) -> &Url {
        &self.intake_url
    }
    /// The explicit base endpoint, if configured (it overrides the site).
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }
    /// The Datadog site.
    pub fn site(&self) -> &str {
        &self.site
    }
    /// The `env` tag value, if configured.
    pub fn env(&self) -> Option<&str> {
        self.env.as_deref()
    }
    /// The `hostname` of every item, if configured.
    pub fn hostname(&self) -> Option<&str> {
        self.hostname.as_deref()
    }
    /// Extra tags added to every item's `ddtags`.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
    /// Whether bodies are gzip-compressed.
    pub fn gzip(&self) -> bool {
        self.gzip
    }
    /// The most items in one request.
    pub fn max_items_per_request(&self) -> usize {
        self.max_items_per_request
    }
    /// The largest uncompressed body of one request.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }
    /// The largest single item.
    pub fn max_item_bytes(&self) -> usize {
        self.max_item_bytes
    }
    /// The transport settings.
    pub fn http(&self) -> &HttpOptions {
        &self.http
    }
}

/// Builds [`DatadogOptions`]; every setter is optional and [`build`](Self::build) checks
/// the values.
#[derive(Debug, Clone)]
#[must_use]
pub struct DatadogOptionsBuilder {
    endpoint: Option<Endpoint>,
    site: Option<String>,
    env: Option<String>,
    hostname: Option<String>,
    tags: Vec<String>,
    gzip: bool,
    max_items_per_request: usize,
    max_body_bytes: usize,
    max_item_bytes: usize,
    transport: TransportBuilder,
}

impl DatadogOptionsBuilder {
    /// An explicit base URL (a proxy, a test intake); overrides the site.
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }
    /// The Datadog site, e.g. `datadoghq.eu` (default [`DEFAULT_SITE`]).
    pub fn site(mut self, site: impl Into<String>) -> Self {
        self.site = Some(site.into());
        self
    }
    /// The `env:` tag value, e.g. `production`.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }
    /// The `hostname` of every item.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = Some(hostname.into());
        self
    }
    /// Extra tags (`key:value` or plain) added to every item.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
    /// Whether to gzip bodies (default [`DEFAULT_GZIP`]).
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }
    /// Fewer items per request than Datadog's [`MAX_ITEMS_PER_REQUEST`].
    pub fn max_items_per_request(mut self, max: usize) -> Self {
        self.max_items_per_request = max;
        self
    }
    /// A smaller body limit than Datadog's [`MAX_BODY_BYTES`] (e.g. behind a proxy).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }
    /// A smaller item limit than Datadog's [`MAX_ITEM_BYTES`].
    pub fn max_item_bytes(mut self, max: usize) -> Self {
        self.max_item_bytes = max;
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
    pub fn build(self) -> Result<DatadogOptions, ConfigError> {
        let site = match self.site {
            Some(site) => check_site(site)?,
            None => DEFAULT_SITE.to_owned(),
        };
        let intake_url = match &self.endpoint {
            Some(endpoint) => endpoint.join(INTAKE_PATH),
            None => Endpoint::parse(&format!("https://http-intake.logs.{site}"))
                .map_err(|e| ConfigError::new("site", e))?
                .join(INTAKE_PATH),
        };
        let env = self.env.map(|v| check_tag_value("env", v)).transpose()?;
        let hostname = self
            .hostname
            .map(|v| {
                Ident::new(&v)
                    .map(|_| v)
                    .map_err(|e| ConfigError::new("hostname", e))
            })
            .transpose()?;
        for tag in &self.tags {
            check_tag(tag)?;
        }
        check_limit(
            "max_items_per_request",
            self.max_items_per_request,
            MAX_ITEMS_PER_REQUEST,
        )?;
        check_limit("max_body_bytes", self.max_body_bytes, MAX_BODY_BYTES)?;
        check_limit("max_item_bytes", self.max_item_bytes, MAX_ITEM_BYTES)?;
        let http = self
            .transport
            .build()
            .map_err(|e| ConfigError::new(e.field, e.reason))?;

        let mut item_prefix = br#"{"ddsource":"#.to_vec();
        json::push_str(&mut item_prefix, DDSOURCE);
        item_prefix.extend_from_slice(br#","ddtags":""#);
        if let Some(env) = &env {
            item_prefix.extend_from_slice(b"env:");
            json::push_str_contents(&mut item_prefix, env);
            item_prefix.push(b',');
        }
        item_prefix.extend_from_slice(b"service:");
        let mut tags_suffix = Vec::new();
        for tag in &self.tags {
            tags_suffix.push(b',');
            json::push_str_contents(&mut tags_suffix, tag);
        }
        let mut after_tags = b"\"".to_vec();
        if let Some(hostname) = &hostname {
            after_tags.extend_from_slice(br#","hostname":"#);
            json::push_str(&mut after_tags, hostname);
        }
        after_tags.extend_from_slice(br#","message":"#);

        Ok(DatadogOptions {
            endpoint: self.endpoint,
            site,
            intake_url,
            env,
            hostname,
            tags: self.tags,
            gzip: self.gzip,
            max_items_per_request: self.max_items_per_request,
            max_body_bytes: self.max_body_bytes,
            max_item_bytes: self.max_item_bytes,
            http,
            item_prefix,
            tags_suffix,
            after_tags,
        })
    }
}

/// A site is a host name suffix: lowercase letters, digits, `-` and `.`, with a dot.
fn check_site(site: String) -> Result<String, ConfigError> {
    let ok = site.contains('.')
        && site.len() <= 253
        && !site.starts_with(['.', '-'])
        && !site.ends_with(['.', '-'])
        && !site.contains("..")
        && site
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(site)
    } else {
        Err(ConfigError::new(
            "site",
            format_args!(
                "{site:?} is not a Datadog site such as \"datadoghq.com\" or \"datadoghq.eu\" \
                 (a host name without scheme or path)"
            ),
        ))
    }
}

/// A tag value inside `ddtags`: a printable label without `,` (the tag separator).
fn check_tag_value(field: &'static str, value: String) -> Result<String, ConfigError> {
    Ident::new(&value).map_err(|e| ConfigError::new(field, e))?;
    if value.contains(',') || value.contains(char::is_whitespace) {
        return Err(ConfigError::new(
            field,
            format_args!("{value:?} must not contain ',' or whitespace"),
        ));
    }
    Ok(value)
}

fn check_tag(tag: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| ConfigError::new("tags", format_args!("tag {tag:?} {reason}"));
    if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
        return Err(bad("must be 1 to 200 characters long"));
    }
    if tag.contains(',') || tag.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "must not contain ',', whitespace or control characters",
        ));
    }
    Ok(())
}

fn check_limit(field: &'static str, value: usize, platform_max: usize) -> Result<(), ConfigError> {
    if (1..=platform_max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format_args!("{value} is out of range; Datadog allows 1 to {platform_max}"),
        ))
    }
}

/// The TOML form of a Datadog sink's options: the platform fields of a `[[org.sink]]`
/// table with `platform = "datadog"`. The fields the CLI and dispatcher own (`name`,
/// `platform`, `events`, `token`, batching and retry) are not part of it and must be
/// removed before deserializing; any other unknown field is an error.
///
/// ```
/// let config: siem_datadog::DatadogConfig = toml::from_str(r#"
///     site = "us5.datadoghq.com"
///     env = "production"
///     hostname = "aisg-proxy"
///     tags = ["team:security"]
/// "#)?;
/// let options = config.sink_options()?;
/// assert_eq!(options.intake_url().host_str(), Some("http-intake.logs.us5.datadoghq.com"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DatadogConfig {
    /// An explicit base URL (`https://` only); overrides `site`.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    /// The Datadog site; default [`DEFAULT_SITE`].
    #[serde(default)]
    pub site: Option<String>,
    /// The `env:` tag value.
    #[serde(default)]
    pub env: Option<String>,
    /// The `hostname` of every item.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Extra tags for every item.
    #[serde(default)]
    pub tags: Vec<String>,
    /// gzip request bodies; default [`DEFAULT_GZIP`].
    #[serde(default)]
    pub gzip: Option<bool>,
    /// A PEM file of extra root CAs (for a proxy behind an internal CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Connect and request timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
}

impl DatadogConfig {
    /// Validates the configuration into options (reads `ca_file` if set).
    pub fn sink_options(&self) -> Result<DatadogOptions, ConfigError> {
        let config = self.clone();
        let mut b = DatadogOptions::builder()
            .timeouts(config.timeouts)
            .tags(config.tags);
        if let Some(v) = config.endpoint {
            b = b.endpoint(v);
        }
        if let Some(v) = config.site {
            b = b.site(v);
        }
        if let Some(v) = config.env {
            b = b.env(v);
        }
        if let Some(v) = config.hostname {
            b = b.hostname(v);
        }
        if let Some(v) = config.gzip {
            b = b.gzip(v);
        }
        if let Some(v) = config.ca_file {
            b = b.ca_file(v);
        }
        b.build()
    }
}

impl TryFrom<DatadogConfig> for DatadogOptions {
    type Error = ConfigError;
    fn try_from(config: DatadogConfig) -> Result<Self, ConfigError> {
        config.sink_options()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let o = DatadogOptions::builder().build().unwrap();
        assert_eq!(o.site(), DEFAULT_SITE);
        assert_eq!(
            o.intake_url().as_str(),
            "https://http-intake.logs.datadoghq.com/api/v2/logs"
        );
        assert_eq!(o.env(), None);
        assert_eq!(o.hostname(), None);
        assert!(o.tags().is_empty());
        assert!(o.gzip());
        assert_eq!(o.max_items_per_request(), MAX_ITEMS_PER_REQUEST);
        assert_eq!(o.max_body_bytes(), MAX_BODY_BYTES);
        assert_eq!(o.max_item_bytes(), MAX_ITEM_BYTES);
        assert_eq!(o.http().user_agent, USER_AGENT);
    }

    #[test]
    fn sites_and_explicit_endpoint() {
        for (site, host) in [
            ("us3.datadoghq.com", "http-intake.logs.us3.datadoghq.com"),
            ("us5.datadoghq.com", "http-intake.logs.us5.datadoghq.com"),
            ("datadoghq.eu", "http-intake.logs.datadoghq.eu"),
            ("ap1.datadoghq.com", "http-intake.logs.ap1.datadoghq.com"),
            ("ddog-gov.com", "http-intake.logs.ddog-gov.com"),
        ] {
            let o = DatadogOptions::builder().site(site).build().unwrap();
            assert_eq!(o.intake_url().host_str(), Some(host));
            assert_eq!(o.intake_url().path(), INTAKE_PATH);
        }
        let o = DatadogOptions::builder()
            .site("datadoghq.eu")
            .endpoint(Endpoint::parse("https://proxy.internal:8443/dd/").unwrap())
            .build()
            .unwrap();
        assert_eq!(
            o.intake_url().as_str(),
            "https://proxy.internal:8443/dd/api/v2/logs"
        );
    }

    #[test]
    fn invalid_values_name_their_field() {
        let b = DatadogOptions::builder;
        for (builder, field) in [
            (b().site("https://datadoghq.com"), "site"),
            (b().site("datadoghq"), "site"),
            (b().site("DatadogHQ.com"), "site"),
            (b().site("evil.com/path"), "site"),
            (b().env("prod,team:x"), "env"),
            (b().env(""), "env"),
            (b().hostname("a\u{7}"), "hostname"),
            (b().tags(["ok:1", "bad,tag"]), "tags"),
            (b().tags(["two words"]), "tags"),
            (b().tags([""]), "tags"),
            (b().tags(["x".repeat(201)]), "tags"),
            (b().max_items_per_request(1001), "max_items_per_request"),
            (b().max_items_per_request(0), "max_items_per_request"),
            (b().max_body_bytes(5_000_001), "max_body_bytes"),
            (b().max_item_bytes(1_000_001), "max_item_bytes"),
            (b().ca_file("/nonexistent/ca.pem"), "ca_file"),
            (b().timeouts(TimeoutsConfig::new(None, Some(0))), "timeouts"),
        ] {
            let e = builder.build().unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn toml_config_uses_spec_field_names() {
        let c: DatadogConfig = toml::from_str(
            r#"
            endpoint = "https://dd-proxy.example"
            site = "datadoghq.eu"
            env = "staging"
            hostname = "gw-1"
            tags = ["team:sec", "region:eu"]
            gzip = false
            timeouts = { request_ms = 2500 }
            "#,
        )
        .unwrap();
        let o = c.sink_options().unwrap();
        assert_eq!(
            o.intake_url().as_str(),
            "https://dd-proxy.example/api/v2/logs"
        );
        assert_eq!(o.env(), Some("staging"));
        assert_eq!(o.hostname(), Some("gw-1"));
        assert_eq!(o.tags(), ["team:sec", "region:eu"]);
        assert!(!o.gzip());
        assert_eq!(o.http().request_timeout, Duration::from_millis(2500));
        assert!(toml::from_str::<DatadogConfig>("sit = \"datadoghq.eu\"")
            .unwrap_err()
            .to_string()
            .contains("sit"));
        assert!(toml::from_str::<DatadogConfig>("endpoint = \"http://x.example\"").is_err());
    }
}
