//! The settings: defaults, sites, validation naming the field, the TOML and JSON forms,
//! and the workspace's example configuration.

use std::time::Duration;

use siem_core::Endpoint;
use siem_datadog::config::*;
use siem_datadog::DatadogConfig;
use siem_http::TimeoutsConfig;

#[test]
fn defaults() {
    let o = DatadogConfig::default().sink_options().unwrap();
    assert_eq!(o.site, DEFAULT_SITE);
    assert_eq!(
        o.url().as_str(),
        "https://http-intake.logs.datadoghq.com/api/v2/logs"
    );
    assert_eq!(o.env, None);
    assert_eq!(o.hostname, None);
    assert!(o.tags.is_empty());
    assert!(o.gzip);
    assert_eq!(o.max_items_per_request, MAX_ITEMS_PER_REQUEST);
    assert_eq!(o.max_body_bytes, MAX_BODY_BYTES);
    assert_eq!(o.max_item_bytes, MAX_ITEM_BYTES);
    assert_eq!(o.http().user_agent, USER_AGENT);
}

#[test]
fn sites_and_explicit_endpoint() {
    for (site, host) in [
        ("us3.datadoghq.com", "http-intake.logs.us3.datadoghq.com"),
        ("us5.datadoghq.com", "http-intake.logs.us5.datadoghq.com"),
        ("datadoghq.eu", "http-intake.logs.datadoghq.eu"),
        ("ap1.datadoghq.com", "http-intake.logs.ap1.datadoghq.com"),
        ("ddog-gov.com", "http-intake.logs.ddog-gov.com"),
    ] {
        let c = DatadogConfig {
            site: site.into(),
            ..Default::default()
        };
        let o = c.sink_options().unwrap();
        assert_eq!(o.url().host_str(), Some(host));
        assert_eq!(o.url().path(), INTAKE_PATH);
    }
    let c = DatadogConfig {
        site: "datadoghq.eu".into(),
        endpoint: Some(Endpoint::parse("https://proxy.internal:8443/dd/").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        c.sink_options().unwrap().url().as_str(),
        "https://proxy.internal:8443/dd/api/v2/logs"
    );
}

#[test]
fn invalid_values_name_their_field() {
    let with = |f: fn(&mut DatadogConfig)| {
        let mut c = DatadogConfig::default();
        f(&mut c);
        c
    };
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (c, field) in [
        (with(|c| c.site = "https://datadoghq.com".into()), "site"),
        (with(|c| c.site = "datadoghq".into()), "site"),
        (with(|c| c.site = "DatadogHQ.com".into()), "site"),
        (with(|c| c.site = "evil.com/path".into()), "site"),
        (with(|c| c.site = "datadog.eu".into()), "site"),
        (with(|c| c.env = Some("prod,team:x".into())), "env"),
        (with(|c| c.env = Some(String::new())), "env"),
        (with(|c| c.hostname = Some("a\u{7}".into())), "hostname"),
        (
            DatadogConfig {
                tags: tags(&["ok:1", "bad,tag"]),
                ..Default::default()
            },
            "tags",
        ),
        (
            DatadogConfig {
                tags: tags(&["two words"]),
                ..Default::default()
            },
            "tags",
        ),
        (
            DatadogConfig {
                tags: tags(&[""]),
                ..Default::default()
            },
            "tags",
        ),
        (
            DatadogConfig {
                tags: vec!["x".repeat(201)],
                ..Default::default()
            },
            "tags",
        ),
        (
            with(|c| c.max_items_per_request = 1001),
            "max_items_per_request",
        ),
        (
            with(|c| c.max_items_per_request = 0),
            "max_items_per_request",
        ),
        (with(|c| c.max_body_bytes = 5_000_001), "max_body_bytes"),
        (with(|c| c.max_item_bytes = 1_000_001), "max_item_bytes"),
        (
            with(|c| c.transport.ca_file = Some("/nonexistent/ca.pem".into())),
            "ca_file",
        ),
        (
            with(|c| c.transport.timeouts = TimeoutsConfig::new(None, Some(0))),
            "timeouts",
        ),
    ] {
        let e = c.sink_options().unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.to_string().contains(field), "{e}");
    }
}

#[test]
fn toml_config_uses_spec_field_names() {
    let c: DatadogConfig = toml::from_str(
        r#"
        endpoint = "https://dd-proxy.example"
        site = "datadoghq.eu"
        env = "staging"
        hostname = "gw-1"
        tags = ["team:sec", "region:eu"]
        gzip = false
        max_items_per_request = 500
        max_body_bytes = 1000000
        max_item_bytes = 200000
        timeouts = { request_ms = 2500 }
        "#,
    )
    .unwrap();
    let o = c.sink_options().unwrap();
    assert_eq!(o.url().as_str(), "https://dd-proxy.example/api/v2/logs");
    assert_eq!(o.env.as_deref(), Some("staging"));
    assert_eq!(o.hostname.as_deref(), Some("gw-1"));
    assert_eq!(o.tags, ["team:sec", "region:eu"]);
    assert!(!o.gzip);
    assert_eq!(
        (o.max_items_per_request, o.max_body_bytes, o.max_item_bytes),
        (500, 1_000_000, 200_000)
    );
    assert_eq!(o.http().request_timeout, Duration::from_millis(2500));
    assert!(toml::from_str::<DatadogConfig>("sit = \"datadoghq.eu\"")
        .unwrap_err()
        .to_string()
        .contains("sit"));
    assert!(toml::from_str::<DatadogConfig>("endpoint = \"http://x.example\"").is_err());
}

#[test]
fn settings_are_data_json_round_trip() {
    let c: DatadogConfig =
        siem_http::testing::settings_from_json(r#"{"env":"prod","tags":["a:b"]}"#);
    assert_eq!(c.site, DEFAULT_SITE);
}

#[test]
fn the_example_configuration_is_valid() {
    siem_http::testing::assert_example_configs_post_over_https(
        "datadog",
        |config: DatadogConfig| config.sink_options().map(|options| options.url()),
    );
}
