//! Test helpers for adapter configuration: the sink tables of an example `siem.toml`,
//! and canned [`HttpResponse`]s for response-classification unit tests.

use bytes::Bytes;

use crate::HttpResponse;

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

/// A complete (not truncated) response with `status` and `body` and no `Retry-After`.
pub fn http_response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        retry_after: None,
        body: Bytes::from(body.to_owned()),
        truncated: false,
    }
}
