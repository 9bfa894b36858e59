//! The sink configuration of SPEC §7 (the `siem` command's TOML file and the connector API): `[[org]]` with `id`, `[[org.sink]]` with `name`,
//! `platform`, `events`, credential references, platform fields and delivery overrides.
//!
//! Loading checks everything that can be checked without building a sink (HTTPS
//! endpoints, event type names, keys, CA files present); building the sinks
//! ([`build_orgs`]) checks the rest (CA files parsed, delivery policies) and resolves
//! credential references, or puts placeholders in their place ([`Credentials`]). Errors
//! name the file, line and column, the org, the sink and the field.
#![warn(missing_docs)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use siem_core::{EventFilter, SiemSink};
use siem_dispatch::{BufferKind, DeliveryOverrides, OrgConfig, SinkConfig};
use siem_secrets::{SecretRef, SecretResolver};
use toml::Spanned;

pub mod hints;
pub mod keys;

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
    /// Every platform, in the order errors list them.
    pub const ALL: [Platform; 3] = [Platform::Splunk, Platform::Datadog, Platform::Sentinel];

    /// The name used in configuration (`splunk`, `datadog`, `sentinel`).
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

/// A line and column of the configuration file, both counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// The line, from 1.
    pub line: usize,
    /// The column, in characters from 1.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `text` (columns count characters).
    fn at(text: &str, offset: usize) -> Self {
        let before = &text[..floor_char_boundary(text, offset)];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A configuration problem, located as precisely as possible: file, line and column,
/// org, sink, field. Messages never quote a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub file: PathBuf,
    /// Where in it: the key to blame, or its table when the key is absent.
    pub position: Option<Position>,
    /// The org id, when an org is to blame.
    pub org: Option<String>,
    /// The sink's name (or `#3` for the fourth sink, when it has none).
    pub sink: Option<String>,
    /// The field, when one is to blame (`buffer.max_events` for a nested one).
    pub field: Option<String>,
    /// What is wrong and what would be accepted; never a secret value.
    pub message: String,
}

impl ConfigError {
    fn file(file: &Path, position: Option<Position>, message: String) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            position,
            org: None,
            sink: None,
            field: None,
            message,
        }
    }

    /// The error as a JSON object (`siem validate --json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file.display().to_string(),
            "line": self.position.map(|p| p.line),
            "column": self.position.map(|p| p.column),
            "org": self.org,
            "sink": self.sink,
            "field": self.field,
            "message": self.message,
        })
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `file:line:column:` as compilers write it, so editors and terminals link it.
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if let Some(org) = &self.org {
            write!(f, ": org \"{org}\"")?;
        }
        match self.sink.as_deref() {
            Some(index) if index.starts_with('#') => write!(f, ", sink {index} (no name)")?,
            Some(name) => write!(f, ", sink \"{name}\"")?,
            None => {}
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a configuration (at most one per sink: a sink's later checks
/// build on its earlier ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// A loaded, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    /// Where disk buffers live (relative paths are relative to the file).
    pub data_dir: Option<PathBuf>,
    /// The organizations, in file order.
    pub orgs: Vec<OrgSection>,
}

/// One `[[org]]`.
#[derive(Debug, Clone)]
pub struct OrgSection {
    /// The organization id (the routing key).
    pub id: String,
    /// Its sinks, in file order.
    pub sinks: Vec<SinkSection>,
}

/// One `[[org.sink]]`.
#[derive(Debug, Clone)]
pub struct SinkSection {
    /// The sink's name, unique in its organization.
    pub name: String,
    /// The event types it receives.
    pub events: EventFilter,
    /// The HEC token, Datadog API key or static Sentinel bearer token.
    pub token: Option<SecretRef>,
    /// Sentinel's Entra ID client secret.
    pub client_secret: Option<SecretRef>,
    /// Batching, retry, buffer and breaker settings.
    pub delivery: DeliveryOverrides,
    /// The platform and its fields.
    pub platform: PlatformSection,
    /// Where the sink and each of its keys are in the file, for errors found after
    /// loading (when its sink is built).
    pub positions: Positions,
}

/// Where a table and its keys are in the configuration file.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    /// The table's header (`[[org.sink]]`).
    pub table: Option<Position>,
    /// Each key of the table, where it is written.
    pub keys: std::collections::BTreeMap<String, Position>,
}

impl Positions {
    /// The key's position, or the table's when the key is not in the file.
    pub fn of(&self, field: Option<&str>) -> Option<Position> {
        // `buffer.max_events` is located by `buffer`.
        let top = field.map(|f| f.split('.').next().unwrap_or(f));
        top.and_then(|f| self.keys.get(f).copied()).or(self.table)
    }
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
    /// A Splunk HEC sink.
    Splunk(siem_splunk::SplunkConfig),
    /// A Datadog Logs sink.
    Datadog(siem_datadog::DatadogConfig),
    /// A Microsoft Sentinel sink.
    Sentinel(siem_sentinel::SentinelConfig),
}

impl PlatformSection {
    /// The platform of the section.
    pub fn platform(&self) -> Platform {
        match self {
            PlatformSection::Splunk(_) => Platform::Splunk,
            PlatformSection::Datadog(_) => Platform::Datadog,
            PlatformSection::Sentinel(_) => Platform::Sentinel,
        }
    }
}

/// A table as read, with the position of each key and value.
type RawTable = std::collections::BTreeMap<Spanned<String>, Spanned<toml::Value>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<Spanned<PathBuf>>,
    #[serde(default)]
    org: Vec<Spanned<RawOrg>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    id: Spanned<String>,
    #[serde(default)]
    sink: Vec<Spanned<RawTable>>,
}

/// A configuration as far as it could be loaded: the sinks without errors, and the
/// errors of the others (so that `validate` reports every bad sink at once).
#[derive(Debug)]
pub struct Loaded {
    /// The configuration with only the sinks that loaded.
    pub config: Config,
    /// The errors of the others.
    pub errors: Vec<ConfigError>,
}

impl Loaded {
    /// The configuration, if nothing was wrong.
    pub fn into_result(self) -> Result<Config, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(self.config)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

impl Config {
    /// Reads and checks a configuration file. Unlike [`Config::parse`], literal secrets
    /// (`{ static = "…" }`) are refused: they are for tests and demos, and a resolver
    /// refuses them when `forward` starts.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        Self::load_all(path)?.into_result()
    }

    /// Like [`Config::load`], keeping the sinks that loaded beside the errors of the
    /// others; `Err` only when nothing could be read (no file, bad TOML, no org).
    pub fn load_all(path: &Path) -> Result<Loaded, ConfigErrors> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::file(path, None, format!("cannot read the file: {e}")))?;
        Self::parse_all(&text, path, false)
    }

    /// Checks configuration text (literal secrets allowed: demos and tests build theirs);
    /// `path` is used in errors and to resolve relative `ca_file`s.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigErrors> {
        Self::parse_all(text, path, true)?.into_result()
    }

    fn parse_all(text: &str, path: &Path, allow_static: bool) -> Result<Loaded, ConfigErrors> {
        let at = |offset: usize| Some(Position::at(text, offset));
        // Only the message and position: the full error text quotes the offending line,
        // which could hold a credential pasted into the file by mistake.
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let position = e.span().and_then(|span| at(span.start));
            ConfigError::file(path, position, e.message().trim_end().to_owned())
        })?;
        if raw.org.is_empty() {
            return Err(ConfigError {
                field: Some("org".to_owned()),
                ..ConfigError::file(path, None, "no [[org]] is configured".to_owned())
            }
            .into());
        }
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let mut orgs = Vec::new();
        let mut org_ids = BTreeSet::new();
        let mut errors = Vec::new();
        for raw_org in raw.org {
            let org_at = at(raw_org.span().start);
            let raw_org = raw_org.into_inner();
            let id = raw_org.id.get_ref().clone();
            let org_error =
                |field: &str, position: Option<Position>, message: String| ConfigError {
                    org: Some(id.clone()),
                    field: Some(field.to_owned()),
                    ..ConfigError::file(path, position, message)
                };
            let id_at = at(raw_org.id.span().start);
            if let Err(e) = siem_core::Ident::new(&id) {
                errors.push(org_error("id", id_at, e.to_string()));
                continue;
            }
            if !org_ids.insert(id.clone()) {
                errors.push(org_error("id", id_at, "is configured twice".to_owned()));
                continue;
            }
            if raw_org.sink.is_empty() {
                errors.push(org_error(
                    "sink",
                    org_at,
                    "the organization has no [[org.sink]]".to_owned(),
                ));
                continue;
            }
            let mut names = BTreeSet::new();
            let mut sinks = Vec::new();
            for (sink_index, table) in raw_org.sink.into_iter().enumerate() {
                let mut positions = Positions {
                    table: at(table.span().start),
                    keys: Default::default(),
                };
                let mut plain = toml::Table::new();
                for (key, value) in table.into_inner() {
                    positions
                        .keys
                        .insert(key.get_ref().clone(), Position::at(text, key.span().start));
                    plain.insert(key.into_inner(), value.into_inner());
                }
                // A sink is named by its name (thirty sinks are found by name, not by
                // counting); by its position only when it has none.
                let sink_label = match plain.get("name").and_then(|n| n.as_str()) {
                    Some(name) => name.to_owned(),
                    None => format!("#{sink_index}"),
                };
                let sink_error = |field: Option<String>, message: String| ConfigError {
                    org: Some(id.clone()),
                    sink: Some(sink_label.clone()),
                    position: positions.of(field.as_deref()),
                    field,
                    ..ConfigError::file(path, None, message)
                };
                let sink = match parse_sink(plain, base_dir, positions.clone()) {
                    Ok(sink) => sink,
                    Err((field, message)) => {
                        errors.push(sink_error(field, message));
                        continue;
                    }
                };
                if !names.insert(sink.name.clone()) {
                    errors.push(sink_error(
                        Some("name".to_owned()),
                        "another sink of this organization has the same name".to_owned(),
                    ));
                    continue;
                }
                let literal = [
                    ("token", &sink.token),
                    ("client_secret", &sink.client_secret),
                ]
                .into_iter()
                .find(|(_, r)| r.as_ref().is_some_and(SecretRef::is_static));
                if let (Some((field, _)), false) = (literal, allow_static) {
                    errors.push(sink_error(
                        Some(field.to_owned()),
                        "literal secrets (`{ static = … }`) are only for tests and demos; use \
                         { env = \"VAR\" } or { aws_secret = \"name-or-arn\", key = \"json-key\" }"
                            .to_owned(),
                    ));
                    continue;
                }
                if sink.buffer_kind() == BufferKind::Disk && raw.data_dir.is_none() {
                    errors.push(sink_error(
                        Some("buffer".to_owned()),
                        "type \"disk\" needs a top-level data_dir = \"/path/to/dir\" for the buffer files"
                            .to_owned(),
                    ));
                    continue;
                }
                sinks.push(sink);
            }
            orgs.push(OrgSection { id, sinks });
        }
        let data_dir = raw
            .data_dir
            .map(|d| (at(d.span().start), base_dir.join(d.into_inner())));
        // `forward` creates a missing directory; one that is a file it cannot use.
        if let Some((position, dir)) = &data_dir {
            if dir.exists() && !dir.is_dir() {
                errors.push(ConfigError {
                    field: Some("data_dir".to_owned()),
                    ..ConfigError::file(
                        path,
                        *position,
                        format!("{} is not a directory", dir.display()),
                    )
                });
            }
        }
        Ok(Loaded {
            config: Config {
                file: path.to_path_buf(),
                data_dir: data_dir.map(|(_, dir)| dir),
                orgs,
            },
            errors,
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

    /// The sinks of `org` (every org when `None`) named `name` (any name when `None`),
    /// with their org, in the order of the file.
    pub fn sinks_matching<'a, 'q>(
        &'a self,
        org: Option<&'q str>,
        name: Option<&'q str>,
    ) -> impl Iterator<Item = (&'a OrgSection, &'a SinkSection)> + use<'a, 'q> {
        self.orgs
            .iter()
            .filter(move |o| org.is_none_or(|id| o.id == id))
            .flat_map(move |o| {
                o.sinks
                    .iter()
                    .filter(move |s| name.is_none_or(|n| s.name == n))
                    .map(move |s| (o, s))
            })
    }

    /// Finds a sink by name (in `org`, or in the only org that has one by that name).
    pub fn find_sink(
        &self,
        org: Option<&str>,
        name: &str,
    ) -> Result<(&OrgSection, &SinkSection), String> {
        let matches: Vec<_> = self.sinks_matching(org, Some(name)).collect();
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

fn parse_sink(
    mut table: toml::Table,
    base_dir: &Path,
    positions: Positions,
) -> Result<SinkSection, FieldError> {
    let name = take_string(&mut table, "name")?;
    siem_core::Ident::new(&name).map_err(|e| field_err("name", e.to_string()))?;
    let platform_name = take_string(&mut table, "platform")?;
    let platform = Platform::parse(&platform_name).ok_or_else(|| {
        field_err(
            "platform",
            format!("unknown platform \"{platform_name}\"; expected splunk, datadog or sentinel"),
        )
    })?;
    check_keys(&table, platform)?;
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
        positions,
    })
}

/// Refuses a key no table of a `platform` sink reads, naming the nearest valid key and
/// every valid one (the platform's, the delivery and buffer keys alike), before serde
/// would name only the platform's.
fn check_keys(table: &toml::Table, platform: Platform) -> Result<(), FieldError> {
    use crate::keys::{self, Section};
    let sink_keys = || {
        keys::sink_keys(platform)
            .map(|k| k.name)
            .chain(keys::ALIASES.iter().map(|(alias, _)| *alias))
    };
    for (key, value) in table {
        let nested = match key.as_str() {
            "buffer" => Some(Section::Buffer),
            "timeouts" => Some(Section::Timeouts),
            _ => None,
        };
        if let (Some(section), toml::Value::Table(inner)) = (nested, value) {
            for inner_key in inner.keys() {
                let valid = || keys::keys_of(section, None).map(|k| k.name);
                if !valid().any(|k| k == inner_key) {
                    return Err(unknown_key(
                        &format!("{key}.{inner_key}"),
                        inner_key,
                        valid().collect(),
                        &format!("a `{key}` table"),
                    ));
                }
            }
        }
        if sink_keys().any(|k| k == key) {
            continue;
        }
        let elsewhere: Vec<&str> = keys::KEYS
            .iter()
            .filter(|k| k.section == Section::Platform && k.name == key)
            .flat_map(|k| k.platforms.iter().map(|p| p.as_str()))
            .collect();
        if !elsewhere.is_empty() {
            return Err(field_err(
                key,
                format!(
                    "is not a {platform} setting (only {} sinks read it)",
                    elsewhere.join(" and ")
                ),
            ));
        }
        return Err(unknown_key(
            key,
            key,
            sink_keys().collect(),
            &format!("a {platform} sink"),
        ));
    }
    Ok(())
}

fn unknown_key(field: &str, key: &str, valid: Vec<&str>, table: &str) -> FieldError {
    let suggestion = crate::keys::did_you_mean(key, valid.iter().copied())
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    field_err(
        field,
        format!(
            "unknown key; {suggestion}The keys of {table} are: {} (docs/configuration.md)",
            valid.join(", ")
        ),
    )
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
    // The transport keys are flattened into each platform's settings, where serde would
    // not name the key of a wrong value; read on their own first, they are named.
    let transport = table
        .iter()
        .filter(|(key, _)| siem_http::TransportConfig::FIELDS.contains(&key.as_str()));
    read::<siem_http::TransportConfig>(transport.map(|(k, v)| (k.clone(), v.clone())).collect())?;
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

/// How building sinks obtains credentials.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    /// Resolve every reference (`forward`, `send-test`, `validate --resolve`).
    Fetch(&'a SecretResolver),
    /// Build with placeholders: nothing is fetched (`validate`, `render`), everything
    /// else is built as `forward` builds it.
    Placeholders,
}

async fn resolve(
    credentials: Credentials<'_>,
    reference: Option<&SecretRef>,
) -> Result<Option<Arc<dyn siem_core::CredentialProvider>>, String> {
    let Some(reference) = reference else {
        return Ok(None);
    };
    match credentials {
        Credentials::Fetch(resolver) => {
            let provider = resolver
                .resolve(reference)
                .await
                .map_err(|e| e.to_string())?;
            // Fetched now, so that a bad reference stops the start (after a prefetch
            // this is a cache hit).
            provider
                .get()
                .await
                .map_err(|e| format!("{reference} could not be fetched: {e}"))?;
            Ok(Some(provider))
        }
        Credentials::Placeholders => Ok(Some(Arc::new(siem_core::StaticCredential::new(
            siem_core::Secret::new("placeholder"),
        )))),
    }
}

/// Builds the sink of one section (its HTTP client included: the CA file is parsed here),
/// obtaining its credentials as `credentials` says. The error names the field to blame
/// when there is one.
pub async fn build_sink(
    section: &SinkSection,
    credentials: Credentials<'_>,
) -> Result<Arc<dyn SiemSink>, FieldError> {
    let token = resolve(credentials, section.token.as_ref())
        .await
        .map_err(|e| field_err("token", e))?;
    let missing = |field: &str| field_err(field, "is missing");
    let name = section.name.clone();
    let sink: Arc<dyn SiemSink> = match &section.platform {
        PlatformSection::Splunk(c) => {
            let options = c.sink_options().map_err(adapter_error)?;
            let token = token.ok_or_else(|| missing("token"))?;
            Arc::new(siem_splunk::SplunkSink::new(name, options, token).map_err(adapter_error)?)
        }
        PlatformSection::Datadog(c) => {
            let options = c.sink_options().map_err(adapter_error)?;
            let token = token.ok_or_else(|| missing("token"))?;
            Arc::new(siem_datadog::DatadogSink::new(name, options, token).map_err(adapter_error)?)
        }
        PlatformSection::Sentinel(c) => {
            let options = c.sink_options().map_err(adapter_error)?;
            let credential = match c.entra_options().map_err(adapter_error)? {
                Some(entra) => {
                    let secret = resolve(credentials, section.client_secret.as_ref())
                        .await
                        .map_err(|e| field_err("client_secret", e))?
                        .ok_or_else(|| missing("client_secret"))?;
                    let source = siem_sentinel::EntraTokenSource::new(entra, secret)
                        .map_err(adapter_error)?;
                    Arc::new(source) as Arc<dyn siem_core::CredentialProvider>
                }
                None => token.ok_or_else(|| missing("token"))?,
            };
            Arc::new(
                siem_sentinel::SentinelSink::new(name, options, credential)
                    .map_err(adapter_error)?,
            )
        }
    };
    Ok(sink)
}

/// An adapter's build error, with the field it blames: its own, or `ca_file` when the
/// HTTP client could not take the CA.
fn adapter_error(e: impl Into<siem_http::BuildError>) -> FieldError {
    match e.into() {
        siem_http::BuildError::Config(c) => field_err(c.field, c.reason),
        siem_http::BuildError::Http { source, .. } => match source {
            siem_http::HttpError::CaFile { .. } | siem_http::HttpError::InvalidCa { .. } => {
                field_err("ca_file", source.to_string())
            }
            other => (None, other.to_string()),
        },
        other => (None, other.to_string()),
    }
}

/// Builds every org's dispatcher configuration: every sink, its client and its delivery
/// policies, exactly as `forward` starts them. Errors are located in the file.
pub async fn build_orgs(
    config: &Config,
    credentials: Credentials<'_>,
) -> Result<Vec<OrgConfig>, ConfigErrors> {
    let mut orgs = Vec::new();
    let mut errors = Vec::new();
    for org in &config.orgs {
        let fail = |section: &SinkSection, (field, message): FieldError| ConfigError {
            file: config.file.clone(),
            position: section.positions.of(field.as_deref()),
            org: Some(org.id.clone()),
            sink: Some(section.name.clone()),
            field,
            message,
        };
        let mut org_config = match OrgConfig::new(&org.id) {
            Ok(o) => o,
            Err(e) => {
                errors.push(ConfigError {
                    org: Some(org.id.clone()),
                    ..ConfigError::file(&config.file, None, e.to_string())
                });
                continue;
            }
        };
        for section in &org.sinks {
            let sink = match build_sink(section, credentials).await {
                Ok(sink) => sink,
                Err(e) => {
                    errors.push(fail(section, e));
                    continue;
                }
            };
            let applied = section
                .delivery
                .apply(SinkConfig::new(sink).filter(section.events.clone()));
            match applied {
                Ok(sink_config) => org_config.push_sink(sink_config),
                Err(e) => errors.push(fail(section, delivery_error(e))),
            }
        }
        orgs.push(org_config);
    }
    if errors.is_empty() {
        Ok(orgs)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// A delivery policy the dispatcher refused, with its field: the dispatcher's reasons
/// start with the key (`max_attempts must be at least 1`).
fn delivery_error(e: siem_dispatch::ConfigError) -> FieldError {
    let siem_dispatch::ConfigError::BadSetting { reason, .. } = &e else {
        return (None, e.to_string());
    };
    let first = reason.split_whitespace().next().unwrap_or_default();
    let field = if DeliveryOverrides::FIELDS.contains(&first) {
        Some(first.to_owned())
    } else if siem_dispatch::BufferOverrides::FIELDS.contains(&first) {
        Some(format!("buffer.{first}"))
    } else {
        None
    };
    match field {
        Some(field) => {
            let rest = reason[first.len()..].trim_start().to_owned();
            (Some(field), rest)
        }
        None => (None, reason.clone()),
    }
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
    parse_sink(table, base_dir, Positions::default())
        .map_err(|(field, message)| SinkTableError { field, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_error(platform_lines: &str) -> SinkTableError {
        let text = format!(
            "name = \"s\"\nplatform = \"splunk\"\nendpoint = \"https://127.0.0.1:1\"\n\
             token = {{ env = \"T\" }}\nevents = [\"*\"]\n{platform_lines}"
        );
        let table: toml::Table = toml::from_str(&text).unwrap();
        parse_sink_table(table, Path::new(".")).unwrap_err()
    }

    /// A value of the wrong type in a transport key (`ca_pem`, `timeouts`) is blamed on
    /// that key, like any platform key.
    #[test]
    fn wrong_types_in_transport_keys_name_the_key() {
        let e = sink_error("ca_pem = 5");
        assert_eq!(e.field.as_deref(), Some("ca_pem"), "{e}");
        assert!(e.message.contains("invalid type"), "{e}");
        let e = sink_error("timeouts = { connect_ms = \"5s\" }");
        assert_eq!(e.field.as_deref(), Some("timeouts.connect_ms"), "{e}");
        let e = sink_error("gzip = \"yes\"");
        assert_eq!(e.field.as_deref(), Some("gzip"), "{e}");
    }
}
