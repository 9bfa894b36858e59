//! Test helpers for adapter configuration: the sink tables of an example `siem.toml`,
//! the JSON round trip of settings, and canned [`HttpResponse`]s for response-classification unit tests.

use std::time::Duration;

use bytes::Bytes;

use crate::{HttpOptions, HttpResponse};

/// `http` reaching a plain-HTTP mock server on loopback (wiremock), each request bounded
/// to 5 s.
pub fn for_loopback_mock(http: HttpOptions) -> HttpOptions {
    http.allow_plain_http_loopback()
        .request_timeout(Duration::from_secs(5))
}

/// Keys of a `[[org.sink]]` table that belong to the CLI and dispatcher, not the adapter:
/// an adapter's `…Config` must be deserialized from the table without them.
pub const CLI_SINK_KEYS: &[&str] = &[
    "name",
    "platform",
    "token",
    "events",
    "max_events",
    "linger_ms",
    "max_attempts",
    "buffer",
    "dead_letter",
];

/// The `[[org.sink]]` tables of the configuration text `toml_text` whose `platform` is
/// `platform`, with the [`CLI_SINK_KEYS`] removed. Panics when the text is not TOML or
/// has no `org` array.
pub fn example_sink_tables(toml_text: &str, platform: &str) -> Vec<toml::Table> {
    let doc: toml::Table =
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("not a TOML document: {e}"));
    let Some(orgs) = doc.get("org").and_then(|o| o.as_array()) else {
        panic!("no [[org]] array in the configuration");
    };
    let mut tables = Vec::new();
    for org in orgs {
        let sinks = org.get("sink").and_then(|s| s.as_array());
        for sink in sinks.into_iter().flatten() {
            let Some(table) = sink.as_table() else {
                continue;
            };
            if table.get("platform").and_then(|p| p.as_str()) != Some(platform) {
                continue;
            }
            let mut table = table.clone();
            table.retain(|k, _| !CLI_SINK_KEYS.contains(&k));
            tables.push(table);
        }
    }
    tables
}

/// The `platform` sinks of the workspace's `fixtures/config/siem.example.toml` as that
/// adapter's settings `C`. Panics when there is none or one does not deserialize.
pub fn example_configs<C: serde::de::DeserializeOwned>(platform: &str) -> Vec<C> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/config/siem.example.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} not readable: {e}", path.display()));
    let tables = example_sink_tables(&text, platform);
    assert!(!tables.is_empty(), "the example has no {platform} sink");
    tables
        .into_iter()
        .map(|t| {
            t.try_into()
                .unwrap_or_else(|e| panic!("a {platform} sink of the example: {e}"))
        })
        .collect()
}

/// Asserts that every `platform` sink of the example configuration (see
/// [`example_configs`]) is valid and posts over HTTPS, `url` giving the URL its settings
/// send to (or an error, which fails the check).
pub fn assert_example_configs_post_over_https<C, E>(
    platform: &str,
    url: impl Fn(C) -> Result<url::Url, E>,
) where
    C: serde::de::DeserializeOwned,
    E: std::fmt::Debug,
{
    for config in example_configs::<C>(platform) {
        let url = url(config).unwrap_or_else(|e| panic!("a {platform} sink of the example: {e:?}"));
        assert_eq!(url.scheme(), "https", "{url}");
    }
}

/// The settings `C` that the JSON text `json` holds, after asserting that writing them
/// as JSON and reading that back gives the same settings (the settings are data). Panics
/// when `json` does not deserialize.
pub fn settings_from_json<C>(json: &str) -> C
where
    C: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let settings: C = serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    let written = serde_json::to_string(&settings).expect("settings serialize");
    let back: C = serde_json::from_str(&written).unwrap_or_else(|e| panic!("{written}: {e}"));
    assert_eq!(back, settings, "{written}");
    settings
}

/// A complete (not truncated) response with `status` and `body` and no `Retry-After`.
pub fn http_response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        retry_after: None,
        body: Bytes::from(body.to_owned()),
        truncated: false,
    }
}
