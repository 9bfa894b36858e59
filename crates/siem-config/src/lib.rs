//! The sink configuration of SPEC §7 (the `siem` command's TOML file and the connector API): `[[org]]` with `id`, `[[org.sink]]` with `name`,
//! `platform`, `events`, credential references, platform fields and delivery overrides.
//!
//! Loading checks everything that can be checked without the network (HTTPS endpoints,
//! event type names, field names, CA files); errors name the file, the org, the sink and
//! the field. Building sinks resolves credential references through a `SecretResolver`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use siem_core::{EventFilter, SiemSink};
use siem_dispatch::{BufferKind, DeliveryOverrides, OrgConfig, SinkConfig};
use siem_secrets::{SecretRef, SecretResolver};

/// The platforms the command knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Platform {
    /// Splunk HTTP Event Collector.
    Splunk,
    /// Datadog Logs API v2.
    Datadog,
    /// Microsoft Sentinel (Azure Monitor Logs Ingestion API).
    Sentinel,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Splunk, Platform::Datadog, Platform::Sentinel];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Splunk => "splunk",
            Platform::Datadog => "datadog",
            Platform::Sentinel => "sentinel",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A configuration problem, located as precisely as possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// `org "org_acme"` / `org "org_acme", sink "splunk-prod"`; empty for the whole file.
    pub location: String,
    /// The field, when one is to blame.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if !self.location.is_empty() {
            write!(f, ": {}", self.location)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A loaded, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    /// Where disk buffers live (relative paths are relative to the file).
    pub data_dir: Option<PathBuf>,
    pub orgs: Vec<OrgSection>,
}

/// One `[[org]]`.
#[derive(Debug, Clone)]
pub struct OrgSection {
    pub id: String,
    pub sinks: Vec<SinkSection>,
}

/// One `[[org.sink]]`.
#[derive(Debug, Clone)]
pub struct SinkSection {
    pub name: String,
    pub events: EventFilter,
    /// The HEC token, Datadog API key or static Sentinel bearer token.
    pub token: Option<SecretRef>,
    /// Sentinel's Entra ID client secret.
    pub client_secret: Option<SecretRef>,
    pub delivery: DeliveryOverrides,
    pub platform: PlatformSection,
}

impl SinkSection {
    /// Memory or disk.
    pub fn buffer_kind(&self) -> BufferKind {
        self.delivery
            .buffer
            .as_ref()
            .and_then(|b| b.kind)
            .unwrap_or_default()
    }
}

/// The platform fields of a sink.
#[derive(Debug, Clone)]
pub enum PlatformSection {
    Splunk(siem_splunk::SplunkConfig),
    Datadog(siem_datadog::DatadogConfig),
    Sentinel(siem_sentinel::SentinelConfig),
}

impl PlatformSection {
    pub fn platform(&self) -> Platform {
        match self {
            PlatformSection::Splunk(_) => Platform::Splunk,
            PlatformSection::Datadog(_) => Platform::Datadog,
            PlatformSection::Sentinel(_) => Platform::Sentinel,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<PathBuf>,
    #[serde(default)]
    org: Vec<RawOrg>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    id: String,
    #[serde(default)]
    sink: Vec<toml::Table>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            location: String::new(),
            field: None,
            message: format!("cannot read the file: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Checks configuration text; `path` is used in errors and to resolve relative
    /// `ca_file`s.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let error = |location: String, field: Option<&str>, message: String| ConfigError {
            file: path.to_path_buf(),
            location,
            field: field.map(str::to_owned),
            message,
        };
        // Only the message and position: the full error text quotes the offending line,
        // which could hold a credential pasted into the file by mistake.
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let position = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}: ")
            });
            error(
                String::new(),
                None,
                format!("{}{}", position.unwrap_or_default(), e.message()),
            )
        })?;
        if raw.org.is_empty() {
            return Err(error(
                String::new(),
                Some("org"),
                "no [[org]] is configured".to_owned(),
            ));
        }
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let mut orgs = Vec::new();
        let mut org_ids = BTreeSet::new();
        for raw_org in raw.org {
            let org_loc = format!("org \"{}\"", raw_org.id);
            if let Err(e) = siem_core::Ident::new(&raw_org.id) {
                return Err(error(org_loc, Some("id"), e.to_string()));
            }
            if !org_ids.insert(raw_org.id.clone()) {
                return Err(error(org_loc, Some("id"), "is configured twice".to_owned()));
            }
            if raw_org.sink.is_empty() {
                return Err(error(
                    org_loc,
                    Some("sink"),
                    "the organization has no [[org.sink]]".to_owned(),
                ));
            }
            let mut names = BTreeSet::new();
            let mut sinks = Vec::new();
            for (sink_index, table) in raw_org.sink.into_iter().enumerate() {
                // A sink is named by its name (thirty sinks are found by name, not by
                // counting); by its position only when it has none.
                let sink_loc = match table.get("name").and_then(|n| n.as_str()) {
                    Some(name) => format!("{org_loc}, sink \"{name}\""),
                    None => format!("{org_loc}, sink[{sink_index}] (no name)"),
                };
                let sink = parse_sink(table, base_dir).map_err(|(field, message)| {
                    error(sink_loc.clone(), field.as_deref(), message)
                })?;
                if !names.insert(sink.name.clone()) {
                    return Err(error(
                        sink_loc,
                        Some("name"),
                        "another sink of this organization has the same name".to_owned(),
                    ));
                }
                sinks.push(sink);
            }
            orgs.push(OrgSection {
                id: raw_org.id,
                sinks,
            });
        }
        let data_dir = raw.data_dir.map(|d| base_dir.join(d));
        if data_dir.is_none() {
            let disk_sink = orgs.iter().find_map(|o: &OrgSection| {
                o.sinks
                    .iter()
                    .find(|s| s.buffer_kind() == BufferKind::Disk)
                    .map(|s| (o.id.clone(), s.name.clone()))
            });
            if let Some((org, sink)) = disk_sink {
                return Err(error(
                    format!("org \"{org}\", sink \"{sink}\""),
                    Some("buffer"),
                    "type \"disk\" needs a top-level data_dir = \"/path/to/dir\" for the buffer files"
                        .to_owned(),
                ));
            }
        }
        Ok(Config {
            file: path.to_path_buf(),
            data_dir,
            orgs,
        })
    }

    /// Every credential reference, for prefetching.
    pub fn secret_refs(&self) -> Vec<&SecretRef> {
        self.orgs
            .iter()
            .flat_map(|o| o.sinks.iter())
            .flat_map(|s| s.token.iter().chain(s.client_secret.iter()))
            .collect()
    }

    /// Finds a sink by name (in `org`, or in the only org that has one by that name).
    pub fn find_sink(
        &self,
        org: Option<&str>,
        name: &str,
    ) -> Result<(&OrgSection, &SinkSection), String> {
        let matches: Vec<_> = self
            .orgs
            .iter()
            .filter(|o| org.is_none_or(|id| o.id == id))
            .flat_map(|o| {
                o.sinks
                    .iter()
                    .filter(|s| s.name == name)
                    .map(move |s| (o, s))
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!(
                "no sink named \"{name}\" in {}",
                self.file.display()
            )),
            _ => Err(format!(
                "several organizations have a sink named \"{name}\"; choose one with --org"
            )),
        }
    }
}

type FieldError = (Option<String>, String);

fn field_err(field: &str, message: impl Into<String>) -> FieldError {
    (Some(field.to_owned()), message.into())
}

fn take_string(table: &mut toml::Table, field: &str) -> Result<String, FieldError> {
    match table.remove(field) {
        Some(toml::Value::String(s)) => Ok(s),
        Some(other) => Err(field_err(
            field,
            format!("must be a string, found {}", other.type_str()),
        )),
        None => Err(field_err(field, "is missing")),
    }
}

fn take<T: serde::de::DeserializeOwned>(
    table: &mut toml::Table,
    field: &str,
) -> Result<Option<T>, FieldError> {
    table
        .remove(field)
        .map(|v| v.try_into::<T>().map_err(|e| field_err(field, e.message())))
        .transpose()
}

fn parse_sink(mut table: toml::Table, base_dir: &Path) -> Result<SinkSection, FieldError> {
    let name = take_string(&mut table, "name")?;
    siem_core::Ident::new(&name).map_err(|e| field_err("name", e.to_string()))?;
    let platform_name = take_string(&mut table, "platform")?;
    let platform = Platform::parse(&platform_name).ok_or_else(|| {
        field_err(
            "platform",
            format!("unknown platform \"{platform_name}\"; expected splunk, datadog or sentinel"),
        )
    })?;
    let events = match table.remove("events") {
        None => {
            return Err(field_err(
                "events",
                "is missing; use [\"*\"] for every event type or list the types",
            ))
        }
        Some(v) => v
            .try_into::<EventFilter>()
            .map_err(|e| field_err("events", e.message()))?,
    };
    let token: Option<SecretRef> = take(&mut table, "token")?;
    let client_secret: Option<SecretRef> = take(&mut table, "client_secret")?;

    // Split the rest into delivery overrides and platform fields; the platform's config
    // type rejects unknown keys, naming them.
    let mut delivery = toml::Table::new();
    let mut platform_table = toml::Table::new();
    for (key, value) in table {
        if DeliveryOverrides::FIELDS.contains(&key.as_str()) {
            delivery.insert(key, value);
        } else {
            platform_table.insert(key, value);
        }
    }
    let mut delivery: DeliveryOverrides = read(delivery)?;
    // A relative dead-letter file is relative to the configuration file.
    if let Some(path) = &mut delivery.dead_letter {
        if path.is_relative() {
            *path = base_dir.join(&*path);
        }
    }
    // Relative CA files are relative to the configuration file.
    if let Some(toml::Value::String(ca)) = platform_table.get_mut("ca_file") {
        let path = Path::new(ca.as_str());
        if path.is_relative() {
            *ca = base_dir.join(path).display().to_string();
        }
        if !Path::new(ca.as_str()).is_file() {
            return Err(field_err("ca_file", format!("{ca} is not a readable file")));
        }
    }
    let platform = platform_section(platform, platform_table)?;
    check_credentials(&platform, token.as_ref(), client_secret.as_ref())?;
    Ok(SinkSection {
        name,
        events,
        token,
        client_secret,
        delivery,
        platform,
    })
}

/// Deserializes a table, naming the field that failed.
fn read<T: serde::de::DeserializeOwned>(table: toml::Table) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != ".").then_some(path);
        (field, e.into_inner().message().to_owned())
    })
}

fn platform_section(platform: Platform, table: toml::Table) -> Result<PlatformSection, FieldError> {
    // The adapters' own checks name their field; so do we.
    macro_rules! checked {
        ($result:expr) => {
            $result.map_err(|e| field_err(e.field, e.reason))?
        };
    }
    let section = match platform {
        Platform::Splunk => {
            let c: siem_splunk::SplunkConfig = read(table)?;
            checked!(c.sink_options());
            PlatformSection::Splunk(c)
        }
        Platform::Datadog => {
            let c: siem_datadog::DatadogConfig = read(table)?;
            checked!(c.sink_options());
            PlatformSection::Datadog(c)
        }
        Platform::Sentinel => {
            let c: siem_sentinel::SentinelConfig = read(table)?;
            checked!(c.sink_options());
            checked!(c.entra_options());
            PlatformSection::Sentinel(c)
        }
    };
    Ok(section)
}

fn check_credentials(
    platform: &PlatformSection,
    token: Option<&SecretRef>,
    client_secret: Option<&SecretRef>,
) -> Result<(), FieldError> {
    match platform {
        PlatformSection::Sentinel(c) => {
            let entra = c.tenant_id.is_some();
            match (entra, token.is_some(), client_secret.is_some()) {
                (true, false, true) | (false, true, false) => Ok(()),
                (true, _, false) => Err(field_err(
                    "client_secret",
                    "is required with tenant_id and client_id (e.g. { aws_secret = \"…\", key = \"…\" })",
                )),
                (true, true, true) => Err(field_err(
                    "token",
                    "give either a static bearer token or tenant_id/client_id/client_secret, not both",
                )),
                (false, false, _) => Err(field_err(
                    "token",
                    "is missing: give tenant_id, client_id and client_secret (Entra ID), or a bearer token",
                )),
                (false, true, true) => Err(field_err(
                    "client_secret",
                    "is only used with tenant_id and client_id",
                )),
            }
        }
        PlatformSection::Splunk(_) | PlatformSection::Datadog(_) => {
            if client_secret.is_some() {
                return Err(field_err("client_secret", "is only used by Sentinel sinks"));
            }
            if token.is_none() {
                return Err(field_err(
                    "token",
                    "is missing (e.g. token = { env = \"VAR\" } or { aws_secret = \"name\", key = \"field\" })",
                ));
            }
            Ok(())
        }
    }
}

/// A sink that could not be built (credentials could not be resolved, CA unreadable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    pub org: String,
    pub sink: String,
    pub message: String,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "org \"{}\", sink \"{}\": {}",
            self.org, self.sink, self.message
        )
    }
}

impl std::error::Error for BuildError {}

async fn resolve(
    resolver: &SecretResolver,
    reference: Option<&SecretRef>,
) -> Result<Option<Arc<dyn siem_core::CredentialProvider>>, String> {
    match reference {
        Some(r) => resolver
            .resolve(r)
            .await
            .map(Some)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// Builds the sink of one section, resolving its credentials.
pub async fn build_sink(
    org: &str,
    section: &SinkSection,
    resolver: &SecretResolver,
) -> Result<Arc<dyn SiemSink>, BuildError> {
    let fail = |message: String| BuildError {
        org: org.to_owned(),
        sink: section.name.clone(),
        message,
    };
    let token = resolve(resolver, section.token.as_ref())
        .await
        .map_err(fail)?;
    let name = section.name.clone();
    let sink: Arc<dyn SiemSink> = match &section.platform {
        PlatformSection::Splunk(c) => {
            let options = c.sink_options().map_err(|e| fail(e.to_string()))?;
            let token = token.ok_or_else(|| fail("token is missing".into()))?;
            Arc::new(
                siem_splunk::SplunkSink::new(name, options, token)
                    .map_err(|e| fail(e.to_string()))?,
            )
        }
        PlatformSection::Datadog(c) => {
            let options = c.sink_options().map_err(|e| fail(e.to_string()))?;
            let token = token.ok_or_else(|| fail("token is missing".into()))?;
            Arc::new(
                siem_datadog::DatadogSink::new(name, options, token)
                    .map_err(|e| fail(e.to_string()))?,
            )
        }
        PlatformSection::Sentinel(c) => {
            let options = c.sink_options().map_err(|e| fail(e.to_string()))?;
            let credential = match c.entra_options().map_err(|e| fail(e.to_string()))? {
                Some(entra) => {
                    let secret = resolve(resolver, section.client_secret.as_ref())
                        .await
                        .map_err(fail)?
                        .ok_or_else(|| fail("client_secret is missing".into()))?;
                    let source = siem_sentinel::EntraTokenSource::new(entra, secret)
                        .map_err(|e| fail(e.to_string()))?;
                    Arc::new(source) as Arc<dyn siem_core::CredentialProvider>
                }
                None => token.ok_or_else(|| fail("token is missing".into()))?,
            };
            Arc::new(
                siem_sentinel::SentinelSink::new(name, options, credential)
                    .map_err(|e| fail(e.to_string()))?,
            )
        }
    };
    Ok(sink)
}

/// Builds every org's dispatcher configuration.
pub async fn build_orgs(
    config: &Config,
    resolver: &SecretResolver,
) -> Result<Vec<OrgConfig>, BuildError> {
    let mut orgs = Vec::new();
    for org in &config.orgs {
        let fail = |sink: &str, message: String| BuildError {
            org: org.id.clone(),
            sink: sink.to_owned(),
            message,
        };
        let mut org_config = OrgConfig::new(&org.id).map_err(|e| fail("", e.to_string()))?;
        for section in &org.sinks {
            let sink = build_sink(&org.id, section, resolver).await?;
            let sink_config = section
                .delivery
                .apply(SinkConfig::new(sink).filter(section.events.clone()))
                .map_err(|e| fail(&section.name, e.to_string()))?;
            org_config.push_sink(sink_config);
        }
        orgs.push(org_config);
    }
    Ok(orgs)
}

/// A sink table that failed its checks: the field to blame (when one is) and what is wrong,
/// in the words a configuration file's error uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkTableError {
    /// The field, when one is to blame.
    pub field: Option<String>,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl fmt::Display for SinkTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "field `{field}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SinkTableError {}

/// Checks one sink (the keys of an `[[org.sink]]` table) with the rules and words of a
/// configuration file, wherever the table comes from (the connector API builds one from
/// JSON). Relative `ca_file` and `dead_letter` paths are relative to `base_dir`.
///
/// ```
/// let table: toml::Table = toml::from_str(r#"
///     name = "splunk-prod"
///     platform = "splunk"
///     endpoint = "http://splunk.example.com:8088"
///     token = { env = "HEC_TOKEN" }
///     events = ["*"]
/// "#)?;
/// let error = siem_config::parse_sink_table(table, std::path::Path::new(".")).unwrap_err();
/// assert_eq!(error.field.as_deref(), Some("endpoint"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_sink_table(
    table: toml::Table,
    base_dir: &Path,
) -> Result<SinkSection, SinkTableError> {
    parse_sink(table, base_dir).map_err(|(field, message)| SinkTableError { field, message })
}
