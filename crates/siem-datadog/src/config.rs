//! Settings of a Datadog Logs sink. Each option is declared once, in [`DatadogConfig`]: a
//! serde struct, so the settings are data (a TOML `[[org.sink]]` table, a JSON document, a
//! database row). [`DatadogOptions`] is the same settings validated, with the intake URL,
//! the client settings and the item bytes derived from them.

use serde::{Deserialize, Serialize};
use siem_core::{Endpoint, Ident};
use siem_http::{ConfigError, HttpOptions, TransportConfig};
use url::Url;

use crate::encoder::ItemParts;

/// The platform name, as sinks report it and errors name it.
pub const PLATFORM: &str = "datadog";
/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION"));
/// Whether bodies are gzip-compressed unless configured (Datadog recommends it).
pub const DEFAULT_GZIP: bool = siem_http::DEFAULT_GZIP;
/// The Datadog site unless configured (US1); the others are in [`SITES`].
pub const DEFAULT_SITE: &str = "datadoghq.com";
/// Every Datadog site a `site` may name. A site outside this list is refused: a typo
/// (`datadog.eu`) would otherwise send API keys to a host that is not Datadog's. A
/// proxy or a new site is reached with an explicit `endpoint`.
pub const SITES: &[&str] = &[
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "uk1.datadoghq.com",
    "ddog-gov.com",
    "us2.ddog-gov.com",
];
/// Datadog's limit on log items per request.
pub const MAX_ITEMS_PER_REQUEST: usize = 1000;
/// Datadog's limit on the uncompressed body of one request (5 MB).
pub const MAX_BODY_BYTES: usize = 5_000_000;
/// Datadog's limit on one log item (1 MB; larger items would be truncated by Datadog).
pub const MAX_ITEM_BYTES: usize = 1_000_000;
/// The longest tag Datadog keeps.
pub const MAX_TAG_CHARS: usize = 200;
/// The intake path, appended to the site's intake host or the explicit endpoint.
pub const INTAKE_PATH: &str = "/api/v2/logs";

/// The settings of a Datadog sink: the platform fields of a `[[org.sink]]` table with
/// `platform = "datadog"`. The fields the CLI and dispatcher own (`name`, `platform`,
/// `events`, `token`, batching and retry) are not part of it; any unknown field is an
/// error. In Rust: `DatadogConfig { env: Some("production".into()), ..Default::default() }`.
///
/// ```
/// let config: siem_datadog::DatadogConfig = toml::from_str(r#"
///     site = "us5.datadoghq.com"
///     env = "production"
///     hostname = "aisg-proxy"
///     tags = ["team:security"]
/// "#)?;
/// let options = config.sink_options()?;
/// assert_eq!(options.url().host_str(), Some("http-intake.logs.us5.datadoghq.com"));
/// assert_eq!(options.max_items_per_request, 1000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatadogConfig {
    /// An explicit base URL (`https://` only: a proxy, a test intake); overrides `site`.
    pub endpoint: Option<Endpoint>,
    /// The Datadog site, e.g. `datadoghq.eu`.
    pub site: String,
    /// The `env:` tag value, e.g. `production`.
    pub env: Option<String>,
    /// The `hostname` of every item.
    pub hostname: Option<String>,
    /// Extra tags (`key:value` or plain) added to every item's `ddtags`.
    pub tags: Vec<String>,
    /// gzip request bodies.
    pub gzip: bool,
    /// The most items in one request (at most Datadog's [`MAX_ITEMS_PER_REQUEST`]).
    pub max_items_per_request: usize,
    /// The largest uncompressed body (at most Datadog's [`MAX_BODY_BYTES`]; lower e.g.
    /// behind a proxy).
    pub max_body_bytes: usize,
    /// The largest single item (at most Datadog's [`MAX_ITEM_BYTES`]).
    pub max_item_bytes: usize,
    /// `ca_file`, `ca_pem` and `timeouts`: extra root CAs for a proxy behind an internal
    /// CA, and connect and request timeouts.
    #[serde(flatten)]
    pub transport: TransportConfig,
}

impl Default for DatadogConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            site: DEFAULT_SITE.to_owned(),
            env: None,
            hostname: None,
            tags: Vec::new(),
            gzip: DEFAULT_GZIP,
            max_items_per_request: MAX_ITEMS_PER_REQUEST,
            max_body_bytes: MAX_BODY_BYTES,
            max_item_bytes: MAX_ITEM_BYTES,
            transport: TransportConfig::default(),
        }
    }
}

impl DatadogConfig {}

/// Validated [`DatadogConfig`], read through `Deref` (`http()`, `map_http()`,
/// `sink_options()` and the sink's [`Adapter`](siem_http::Adapter) come from
/// [`siem_http::adapter_options!`]), with the intake URL,
/// the client settings and the item bytes derived from it.
#[derive(Debug, Clone)]
pub struct DatadogOptions {
    config: DatadogConfig,
    url: Url,
    http: HttpOptions,
    pub(crate) parts: ItemParts,
}

siem_http::adapter_options!(
    DatadogOptions, DatadogConfig,
    platform: PLATFORM,
    // API keys go in `DD-API-KEY: <key>`.
    auth: siem_http::AuthHeader::new("dd-api-key", ""),
    plan: crate::encoder::plan,
    check_response: crate::error::check_response,
);

impl DatadogOptions {
    /// Checks every value of `config` (and reads `ca_file`, if set).
    pub fn new(config: DatadogConfig) -> Result<Self, ConfigError> {
        check_site(&config.site)?;
        let url = match &config.endpoint {
            Some(endpoint) => endpoint.join(INTAKE_PATH),
            None => Endpoint::parse(&format!("https://http-intake.logs.{}", config.site))
                .map_err(|e| error("site", e))?
                .join(INTAKE_PATH),
        };
        if let Some(env) = &config.env {
            check_tag_value("env", env)?;
        }
        if let Some(hostname) = &config.hostname {
            Ident::new(hostname).map_err(|e| error("hostname", e))?;
        }
        config.tags.iter().try_for_each(|tag| check_tag(tag))?;
        for (field, value, max) in [
            (
                "max_items_per_request",
                config.max_items_per_request,
                MAX_ITEMS_PER_REQUEST,
            ),
            ("max_body_bytes", config.max_body_bytes, MAX_BODY_BYTES),
            ("max_item_bytes", config.max_item_bytes, MAX_ITEM_BYTES),
        ] {
            if !(1..=max).contains(&value) {
                let reason = format_args!("{value} is out of range; Datadog allows 1 to {max}");
                return Err(error(field, reason));
            }
        }
        let http = config.transport.http_options(PLATFORM, USER_AGENT)?;
        Ok(Self {
            parts: ItemParts::new(&config),
            config,
            url,
            http,
        })
    }

    /// The URL requests go to: `https://http-intake.logs.{site}/api/v2/logs`, or
    /// `{endpoint}/api/v2/logs` when an explicit endpoint is configured.
    pub fn url(&self) -> Url {
        self.url.clone()
    }
}

fn error(field: &'static str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(PLATFORM, field, reason)
}

/// A site is one of Datadog's [`SITES`].
fn check_site(site: &str) -> Result<(), ConfigError> {
    if SITES.contains(&site) {
        return Ok(());
    }
    let reason = format_args!(
        "{site:?} is not a Datadog site; use one of {} (or an explicit endpoint)",
        SITES.join(", ")
    );
    Err(error("site", reason))
}

/// A tag value inside `ddtags`: a printable label without `,` (the tag separator).
fn check_tag_value(field: &'static str, value: &str) -> Result<(), ConfigError> {
    Ident::new(value).map_err(|e| error(field, e))?;
    if value.contains(',') || value.contains(char::is_whitespace) {
        let reason = format_args!("{value:?} must not contain ',' or whitespace");
        return Err(error(field, reason));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| error("tags", format_args!("tag {tag:?} {reason}"));
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
