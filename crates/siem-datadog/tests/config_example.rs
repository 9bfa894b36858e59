//! The Datadog sinks of the workspace's example configuration deserialize into
//! `DatadogConfig` once the keys the CLI and dispatcher own are removed.

mod common;

use siem_datadog::DatadogConfig;

#[test]
fn example_config_datadog_sinks_are_valid_options() {
    let text = std::fs::read_to_string(common::fixtures().join("config/siem.example.toml"))
        .expect("fixtures/config/siem.example.toml");
    let tables = siem_http::testing::example_sink_tables(&text, "datadog");
    assert!(!tables.is_empty(), "the example has a Datadog sink");
    for table in tables {
        let config: DatadogConfig = table.try_into().unwrap();
        let options = config.sink_options().unwrap();
        assert!(options.intake_url().as_str().starts_with("https://"));
    }
}
