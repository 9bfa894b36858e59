//! Every key of the configuration file, described once: the loader checks keys against
//! this table (and suggests the nearest valid one for a misspelt key), and
//! `docs/configuration.md` is generated from it (`siem config-reference`). A unit test
//! holds the table to the serde structs that actually read the keys, and takes the
//! defaults from the code, so the reference cannot drift from what the loader does.

use crate::Platform;

/// The table of the configuration file a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The top level of the file.
    Top,
    /// An `[[org]]` table.
    Org,
    /// An `[[org.sink]]` table: the keys every platform reads.
    Sink,
    /// An `[[org.sink]]` table: the platform's own keys.
    Platform,
    /// An `[[org.sink]]` table: delivery settings (every platform).
    Delivery,
    /// A sink's `buffer = { … }` table.
    Buffer,
    /// A sink's `timeouts = { … }` table.
    Timeouts,
}

/// One key of the configuration file.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The table it belongs to.
    pub section: Section,
    /// The key as written in the file.
    pub name: &'static str,
    /// For [`Section::Platform`] keys: the platforms that read it.
    pub platforms: &'static [Platform],
    /// The TOML type, as the reference shows it.
    pub ty: &'static str,
    /// `Some` when the key is required (the text says when).
    pub required: Option<&'static str>,
    /// The default when the code has no value to show (e.g. "the token's default
    /// index"); otherwise the default is taken from the code ([`default_of`]).
    pub default_note: Option<&'static str>,
    /// What it does.
    pub about: &'static str,
}

use Platform::{Datadog as D, Sentinel as S, Splunk as P};

const ALL: &[Platform] = &[P, D, S];

const fn key(section: Section, name: &'static str, ty: &'static str, about: &'static str) -> Key {
    Key {
        section,
        name,
        platforms: ALL,
        ty,
        required: None,
        default_note: None,
        about,
    }
}

const fn platform(
    platforms: &'static [Platform],
    name: &'static str,
    ty: &'static str,
    about: &'static str,
) -> Key {
    Key {
        platforms,
        ..key(Section::Platform, name, ty, about)
    }
}

impl Key {
    const fn required(mut self, when: &'static str) -> Self {
        self.required = Some(when);
        self
    }

    const fn default_note(mut self, note: &'static str) -> Self {
        self.default_note = Some(note);
        self
    }

    /// Whether a sink of `platform` reads this key.
    pub fn applies_to(&self, platform: Platform) -> bool {
        self.platforms.contains(&platform)
    }
}

/// A secret reference, as the reference shows its type.
const SECRET: &str = "secret reference";

/// Every key.
pub const KEYS: &[Key] = &[
    key(Section::Top, "data_dir", "path", "Where disk buffers live (one directory per org and sink, locked by one process); relative to the configuration file. Required when a sink has `buffer = { type = \"disk\" }`.")
        .default_note("none"),
    key(Section::Top, "org", "array of tables", "The organizations, `[[org]]`.").required("at least one"),
    key(Section::Org, "id", "string", "The organization id events carry in `org_id`; events are routed to the sinks of their org.").required("yes"),
    key(Section::Org, "sink", "array of tables", "The organization's sinks, `[[org.sink]]`.").required("at least one"),
    key(Section::Sink, "name", "string", "The sink's name, unique within its org; errors, reports and `--sink` use it.").required("yes"),
    key(Section::Sink, "platform", "string", "`splunk`, `datadog` or `sentinel`.").required("yes"),
    key(Section::Sink, "events", "array of strings", "The event types this sink receives, e.g. `[\"dlp.pii_blocked\"]`, or `[\"*\"]` for all.").required("yes"),
    key(Section::Sink, "token", SECRET, "Splunk: the HEC token. Datadog: the API key. Sentinel: a static bearer token (instead of Entra ID). `{ env = \"VAR\" }` or `{ aws_secret = \"name-or-arn\", key = \"json-key\" }`; never the value itself.")
        .required("Splunk, Datadog; Sentinel without tenant_id/client_id"),
    key(Section::Sink, "client_secret", SECRET, "Sentinel with Entra ID: the app registration's client secret (a reference, like `token`).")
        .required("Sentinel with tenant_id/client_id"),
    platform(&[P], "endpoint", "https URL", "The HEC base URL, e.g. `https://splunk.example.com:8088`; `/services/collector/event` is appended.").required("yes"),
    platform(&[D], "endpoint", "https URL", "An explicit intake base URL (a proxy, a test intake); `/api/v2/logs` is appended. Overrides `site`.")
        .default_note("from `site`"),
    platform(&[S], "endpoint", "https URL", "The data collection endpoint (DCE); `dce` is another name for it.").required("yes"),
    platform(&[P], "index", "string", "The Splunk index.").default_note("the token's default index"),
    platform(&[P], "sourcetype", "string", "The sourcetype of every event."),
    platform(&[P], "host", "string", "The envelope `host`.").default_note("the sender's address"),
    platform(&[P], "source", "string", "The envelope `source`."),
    platform(&[D], "site", "string", "The Datadog site; one of the sites listed above."),
    platform(&[D], "env", "string", "The `env:` tag of every item, e.g. `production`.").default_note("none"),
    platform(&[D], "hostname", "string", "The `hostname` of every item.").default_note("none"),
    platform(&[D], "tags", "array of strings", "Extra tags (`key:value` or plain) added to every item's `ddtags`."),
    platform(&[S], "dcr_immutable_id", "string", "The data collection rule's immutable id, `dcr-` and 32 hex digits.").required("yes"),
    platform(&[S], "stream", "string", "The stream declared in the DCR (`Custom-…`)."),
    platform(&[S], "tenant_id", "string", "The Entra ID tenant (GUID or domain); with `client_id` and `client_secret`, tokens come from Entra ID.")
        .default_note("none: a static `token`"),
    platform(&[S], "client_id", "string", "The app registration's client id (GUID), with `tenant_id`.").default_note("none"),
    platform(&[S], "authority_host", "https URL", "The Entra ID authority, for sovereign clouds (with `tenant_id`)."),
    platform(&[S], "scope", "string", "The OAuth scope (with `tenant_id`); sovereign clouds need their own."),
    platform(ALL, "gzip", "boolean", "gzip request bodies."),
    platform(ALL, "max_body_bytes", "integer", "The largest uncompressed request body."),
    platform(&[D], "max_items_per_request", "integer", "The most log items in one request (Datadog allows 1000)."),
    platform(&[D], "max_item_bytes", "integer", "The largest single log item (Datadog allows 1 MB)."),
    platform(ALL, "ca_file", "path", "A PEM file of extra root CAs, for an on-premises SIEM or a proxy behind an internal CA; relative to the configuration file.")
        .default_note("system and Mozilla roots only"),
    platform(ALL, "ca_pem", "string", "Extra root CAs as PEM text: the inline form of `ca_file` (the connector API of `siem serve` takes this one; it refuses `ca_file`)."),
    platform(ALL, "timeouts", "table", "Connect and request timeouts: `timeouts = { connect_ms = 5000, request_ms = 30000 }`."),
    key(Section::Delivery, "max_events", "integer", "The most events in one batch."),
    key(Section::Delivery, "max_bytes", "integer", "The largest batch, in bytes of encoded events."),
    key(Section::Delivery, "linger_ms", "integer", "How long a batch may wait to fill up before it is sent."),
    key(Section::Delivery, "max_attempts", "integer", "Attempts per batch, the first included (at least 1)."),
    key(Section::Delivery, "initial_backoff_ms", "integer", "The wait before the first retry; doubles (with jitter) up to `max_backoff_ms`."),
    key(Section::Delivery, "max_backoff_ms", "integer", "The longest wait between two attempts."),
    key(Section::Delivery, "max_elapsed_ms", "integer", "Time after which a batch is not retried any more."),
    key(Section::Delivery, "max_retry_after_ms", "integer", "The longest `Retry-After` a SIEM may ask for."),
    key(Section::Delivery, "attempt_timeout_ms", "integer", "The bound on one request."),
    key(Section::Delivery, "jitter", "string", "Randomisation of retry waits: `full`, `decorrelated` or `none`."),
    key(Section::Delivery, "concurrency", "integer", "Requests in flight to this sink at once."),
    key(Section::Delivery, "breaker_failures", "integer", "Failed attempts in a row that open the sink's circuit."),
    key(Section::Delivery, "breaker_backoff_ms", "integer", "The first probe of an open circuit after this; doubles up to `breaker_max_backoff_ms`."),
    key(Section::Delivery, "breaker_max_backoff_ms", "integer", "The longest wait between two probes."),
    key(Section::Delivery, "buffer", "table", "The sink's buffer: `buffer = { type = \"disk\", max_bytes = 1073741824, when_full = \"block\" }`."),
    key(Section::Delivery, "dead_letter", "path", "A file where events the SIEM rejects for good are appended, with the reason (replay with `siem forward`); relative to the configuration file.")
        .default_note("none: rejected events are counted and logged"),
    key(Section::Buffer, "type", "string", "`memory` or `disk` (survives restarts and outages; needs `data_dir`)."),
    key(Section::Buffer, "max_events", "integer", "The most events the buffer holds. `siem forward`, which waits for room instead of dropping, gives a memory buffer `concurrency + 1` batches unless this is set."),
    key(Section::Buffer, "max_bytes", "integer", "The most bytes the buffer holds."),
    key(Section::Buffer, "when_full", "string", "`block` (the reader waits) or `drop_newest` (new events are dropped and counted)."),
    key(Section::Timeouts, "connect_ms", "integer", "Time allowed to open the connection (TCP + TLS), 1 to 600000."),
    key(Section::Timeouts, "request_ms", "integer", "Time allowed for a whole request, response included, 1 to 600000."),
];

/// The keys of `section` (for [`Section::Platform`], only those `platform` reads).
pub fn keys_of(section: Section, platform: Option<Platform>) -> impl Iterator<Item = &'static Key> {
    KEYS.iter().filter(move |k| {
        k.section == section
            && (section != Section::Platform || platform.is_none_or(|p| k.applies_to(p)))
    })
}

/// Every key of an `[[org.sink]]` table of `platform`.
pub fn sink_keys(platform: Platform) -> impl Iterator<Item = &'static Key> {
    [Section::Sink, Section::Platform, Section::Delivery]
        .into_iter()
        .flat_map(move |s| keys_of(s, Some(platform)))
}

/// Another name a key may be written as.
pub const ALIASES: &[(&str, &str)] = &[("dce", "endpoint")];

/// The valid key closest to `unknown`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    unknown: &str,
    valid: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // The threshold clap uses for its own suggestions.
    valid
        .into_iter()
        .map(|k| (strsim::jaro_winkler(unknown, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// The default of a key, taken from the code (the adapters' default settings and the
/// dispatcher's default policies), or the key's note.
pub fn default_of(key: &Key, platform: Option<Platform>) -> String {
    if let Some(note) = key.default_note {
        return note.to_owned();
    }
    let from_code = match key.section {
        Section::Platform => platform.and_then(|p| platform_default(p, key.name)),
        Section::Delivery => delivery_default(key.name),
        Section::Buffer => buffer_default(key.name),
        Section::Timeouts => timeouts_default(key.name),
        _ => None,
    };
    from_code.unwrap_or_else(|| "—".to_owned())
}

/// A platform's default settings as JSON (every field, `null` when unset).
pub fn platform_defaults(platform: Platform) -> serde_json::Map<String, serde_json::Value> {
    let endpoint = siem_core::Endpoint::parse("https://defaults.invalid").ok();
    let value = match (platform, endpoint) {
        (Platform::Splunk, Some(e)) => serde_json::to_value(siem_splunk::SplunkConfig::new(e)),
        (Platform::Datadog, _) => serde_json::to_value(siem_datadog::DatadogConfig::default()),
        (Platform::Sentinel, Some(e)) => serde_json::to_value(siem_sentinel::SentinelConfig::new(
            e,
            "dcr-00000000000000000000000000000000",
        )),
        (_, None) => Ok(serde_json::Value::Null),
    };
    match value {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

fn platform_default(platform: Platform, name: &str) -> Option<String> {
    match name {
        "authority_host" => Some(format!(
            "`{}`",
            siem_sentinel::config::DEFAULT_AUTHORITY_HOST
        )),
        "scope" => Some(format!("`{}`", siem_sentinel::config::DEFAULT_SCOPE)),
        "timeouts" => Some(format!(
            "connect {} ms, request {} ms",
            siem_http::DEFAULT_CONNECT_TIMEOUT.as_millis(),
            siem_http::DEFAULT_REQUEST_TIMEOUT.as_millis()
        )),
        _ => match platform_defaults(platform).get(name)? {
            serde_json::Value::Null => None,
            serde_json::Value::Array(a) if a.is_empty() => Some("none".to_owned()),
            other => Some(format!("`{other}`")),
        },
    }
}

fn ms(d: std::time::Duration) -> Option<String> {
    Some(d.as_millis().to_string())
}

fn delivery_default(name: &str) -> Option<String> {
    use siem_dispatch::{BatchPolicy, BreakerPolicy, RetryPolicy};
    let (b, r, k) = (
        BatchPolicy::default(),
        RetryPolicy::default(),
        BreakerPolicy::default(),
    );
    match name {
        "max_events" => Some(b.max_events.to_string()),
        "max_bytes" => Some(b.max_bytes.to_string()),
        "linger_ms" => ms(b.linger),
        "max_attempts" => Some(r.max_attempts.to_string()),
        "initial_backoff_ms" => ms(r.initial_backoff),
        "max_backoff_ms" => ms(r.max_backoff),
        "max_elapsed_ms" => ms(r.max_elapsed),
        "max_retry_after_ms" => ms(r.max_retry_after),
        "attempt_timeout_ms" => ms(r.attempt_timeout),
        "jitter" => serde_json::to_value(r.jitter)
            .ok()
            .map(|j| format!("`{j}`")),
        "concurrency" => Some(siem_dispatch::DEFAULT_CONCURRENCY.to_string()),
        "breaker_failures" => Some(k.failures.to_string()),
        "breaker_backoff_ms" => ms(k.backoff),
        "breaker_max_backoff_ms" => ms(k.max_backoff),
        "buffer" => Some("`{ type = \"memory\" }`".to_owned()),
        _ => None,
    }
}

fn buffer_default(name: &str) -> Option<String> {
    use siem_dispatch::BufferPolicy;
    let (m, d) = (BufferPolicy::memory(), BufferPolicy::disk());
    match name {
        "type" => Some("`\"memory\"`".to_owned()),
        "max_events" => Some(format!(
            "{} (memory), {} (disk)",
            m.max_events, d.max_events
        )),
        "max_bytes" => Some(format!("{} (memory), {} (disk)", m.max_bytes, d.max_bytes)),
        "when_full" => serde_json::to_value(m.when_full)
            .ok()
            .map(|w| format!("`{w}`")),
        _ => None,
    }
}

fn timeouts_default(name: &str) -> Option<String> {
    match name {
        "connect_ms" => ms(siem_http::DEFAULT_CONNECT_TIMEOUT),
        "request_ms" => ms(siem_http::DEFAULT_REQUEST_TIMEOUT),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn json_keys(value: serde_json::Value) -> BTreeSet<String> {
        match value {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            _ => BTreeSet::new(),
        }
    }

    fn described(section: Section, platform: Option<Platform>) -> BTreeSet<String> {
        keys_of(section, platform)
            .map(|k| k.name.to_owned())
            .collect()
    }

    /// The table lists exactly the fields of the structs that read the keys (serialized
    /// with every field, so a new field shows up here).
    #[test]
    fn the_table_matches_the_structs_that_read_the_keys() {
        for p in Platform::ALL {
            let fields: BTreeSet<String> = platform_defaults(p).keys().cloned().collect();
            assert_eq!(described(Section::Platform, Some(p)), fields, "{p}");
        }
        let delivery =
            json_keys(serde_json::to_value(siem_dispatch::DeliveryOverrides::default()).unwrap());
        assert_eq!(described(Section::Delivery, None), delivery);
        let buffer =
            json_keys(serde_json::to_value(siem_dispatch::BufferOverrides::default()).unwrap());
        assert_eq!(described(Section::Buffer, None), buffer);
        let timeouts =
            json_keys(serde_json::to_value(siem_http::TimeoutsConfig::default()).unwrap());
        assert_eq!(described(Section::Timeouts, None), timeouts);
    }

    #[test]
    fn misspelt_keys_get_the_nearest_valid_one() {
        let keys = || sink_keys(Platform::Splunk).map(|k| k.name);
        assert_eq!(did_you_mean("max_atempts", keys()), Some("max_attempts"));
        assert_eq!(did_you_mean("sourcetyp", keys()), Some("sourcetype"));
        assert_eq!(did_you_mean("linger", keys()), Some("linger_ms"));
        assert_eq!(did_you_mean("zzz", keys()), None);
    }
}
