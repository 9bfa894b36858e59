//! The Splunk sinks of the workspace's example configuration deserialize into
//! `SplunkConfig` once the keys the CLI and dispatcher own are removed.

mod common;

use siem_splunk::SplunkConfig;

#[test]
fn example_config_splunk_sinks_are_valid_options() {
    let text = std::fs::read_to_string(common::fixtures().join("config/siem.example.toml"))
        .expect("fixtures/config/siem.example.toml");
    let tables = siem_http::testing::example_sink_tables(&text, "splunk");
    assert!(!tables.is_empty(), "the example has a Splunk sink");
    for table in tables {
        let config: SplunkConfig = table.try_into().unwrap();
        let options = config.sink_options().unwrap();
        assert!(options.collector_url().as_str().starts_with("https://"));
    }
}
