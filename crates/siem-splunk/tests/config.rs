//! The settings: defaults, validation naming the field, the TOML and JSON forms, and the
//! workspace's example configuration.

use std::time::Duration;

use siem_core::Endpoint;
use siem_http::TimeoutsConfig;
use siem_splunk::config::*;
use siem_splunk::SplunkConfig;

fn config() -> SplunkConfig {
    SplunkConfig::new(Endpoint::parse("https://hec.example:8088").unwrap())
}

#[test]
fn defaults() {
    let o = config().sink_options().unwrap();
    assert_eq!(o.sourcetype, DEFAULT_SOURCETYPE);
    assert_eq!(o.source, DEFAULT_SOURCE);
    assert_eq!(o.index, None);
    assert_eq!(o.host, None);
    assert!(o.gzip);
    assert_eq!(o.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    assert_eq!(o.http().user_agent, USER_AGENT);
}

#[test]
fn invalid_values_name_their_field() {
    let with = |f: fn(&mut SplunkConfig)| {
        let mut c = config();
        f(&mut c);
        c
    };
    for (c, field) in [
        (with(|c| c.index = Some("Main".into())), "index"),
        (with(|c| c.index = Some("_internal".into())), "index"),
        (with(|c| c.index = Some(String::new())), "index"),
        (with(|c| c.sourcetype = "a\nb".into()), "sourcetype"),
        (with(|c| c.host = Some(String::new())), "host"),
        (with(|c| c.source = "x".repeat(200)), "source"),
        (with(|c| c.max_body_bytes = 0), "max_body_bytes"),
        (
            with(|c| c.transport.ca_file = Some("/nonexistent/ca.pem".into())),
            "ca_file",
        ),
        (
            with(|c| c.transport.timeouts = TimeoutsConfig::new(Some(0), None)),
            "timeouts",
        ),
    ] {
        let e = c.sink_options().unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.to_string().contains(field), "{e}");
    }
    assert!(with(|c| c.index = Some("aisg-security_2".into()))
        .sink_options()
        .is_ok());
}

#[test]
fn toml_config_uses_spec_field_names() {
    let c: SplunkConfig = toml::from_str(
        r#"
        endpoint = "https://hec.example:8088/"
        index = "main"
        sourcetype = "aisg:custom"
        host = "gw-1"
        source = "gateway"
        gzip = false
        max_body_bytes = 500000
        timeouts = { connect_ms = 1000, request_ms = 5000 }
        "#,
    )
    .unwrap();
    let o = c.sink_options().unwrap();
    assert_eq!(o.index.as_deref(), Some("main"));
    assert_eq!(o.sourcetype, "aisg:custom");
    assert_eq!(o.host.as_deref(), Some("gw-1"));
    assert_eq!(o.source, "gateway");
    assert!(!o.gzip);
    assert_eq!(o.max_body_bytes, 500_000);
    assert_eq!(o.http().connect_timeout, Duration::from_secs(1));
    assert_eq!(
        o.url().as_str(),
        "https://hec.example:8088/services/collector/event"
    );
    let unknown =
        toml::from_str::<SplunkConfig>("endpoint = \"https://hec.example\"\nindx = \"main\"");
    assert!(unknown.unwrap_err().to_string().contains("indx"));
    let plain = toml::from_str::<SplunkConfig>("endpoint = \"http://hec.example\"");
    assert!(plain.unwrap_err().to_string().contains("https"));
}

#[test]
fn settings_are_data_json_round_trip() {
    let c: SplunkConfig = siem_http::testing::settings_from_json(
        r#"{"endpoint":"https://hec.example:8088","index":"main"}"#,
    );
    assert_eq!(c.sourcetype, DEFAULT_SOURCETYPE);
}

#[test]
fn the_example_configuration_is_valid() {
    siem_http::testing::assert_example_configs_post_over_https("splunk", |config: SplunkConfig| {
        config.sink_options().map(|options| options.url())
    });
}
