//! The Datadog sinks of the workspace's example configuration deserialize into
//! `DatadogConfig` once the keys the CLI and dispatcher own are removed.

mod common;

use siem_datadog::DatadogConfig;

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
fn example_config_datadog_sinks_are_valid_options() {
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
            if table.get("platform").and_then(|p| p.as_str()) != Some("datadog") {
                continue;
            }
            table.retain(|k, _| !CLI_KEYS.contains(&k));
            let config: DatadogConfig = table.try_into().unwrap();
            let options = config.sink_options().unwrap();
            assert!(options.intake_url().as_str().starts_with("https://"));
            found += 1;
        }
    }
    assert!(found > 0, "the example has a Datadog sink");
}
