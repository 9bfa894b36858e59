//! The Splunk sinks of the workspace's example configuration deserialize into
//! `SplunkConfig` once the keys the CLI and dispatcher own are removed.

mod common;

use siem_splunk::SplunkConfig;

/// Keys of a `[[org.sink]]` table that belong to the CLI and dispatcher, not the adapter.
const CLI_KEYS: &[&str] = &[
    "name",
    "platform",
    "token",
    "events",
    "max_events",
    "linger_ms",
    "max_attempts",
];

#[test]
fn example_config_splunk_sinks_are_valid_options() {
    let text = std::fs::read_to_string(common::fixtures().join("config/siem.example.toml"))
        .expect("fixtures/config/siem.example.toml");
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let mut found = 0;
    for org in doc["org"].as_array().unwrap() {
        for sink in org
            .get("sink")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
        {
            let mut table = sink.as_table().unwrap().clone();
            if table.get("platform").and_then(|p| p.as_str()) != Some("splunk") {
                continue;
            }
            table.retain(|k, _| !CLI_KEYS.contains(&k));
            let config: SplunkConfig = table.try_into().unwrap();
            let options = config.sink_options().unwrap();
            assert!(options.collector_url().as_str().starts_with("https://"));
            found += 1;
        }
    }
    assert!(found > 0, "the example has a Splunk sink");
}
