//! The settings: every default is the documented constant, every identifier that ends up
//! in a URL is checked, errors name the field, and the TOML and JSON forms.

mod common;

use std::path::Path;
use std::time::Duration;

use siem_core::Endpoint;
use siem_http::TimeoutsConfig;
use siem_sentinel::config::*;
use siem_sentinel::SentinelConfig;

use common::{CLIENT, DCR};

fn dce() -> Endpoint {
    Endpoint::parse("https://dce.example.ingest.monitor.azure.com").unwrap()
}

fn config() -> SentinelConfig {
    SentinelConfig::new(dce(), DCR)
}

fn entra(tenant: &str, client: &str) -> SentinelConfig {
    SentinelConfig {
        tenant_id: Some(tenant.into()),
        client_id: Some(client.into()),
        ..config()
    }
}

#[test]
fn default_authority_parses() {
    assert!(Endpoint::parse(DEFAULT_AUTHORITY_HOST).is_ok());
}

#[test]
fn defaults_are_the_documented_constants() {
    let o = config().sink_options().unwrap();
    assert_eq!(o.stream, DEFAULT_STREAM);
    assert_eq!(o.gzip, DEFAULT_GZIP);
    assert_eq!(o.max_body_bytes, MAX_BODY_BYTES);
    assert_eq!(o.http().connect_timeout, siem_http::DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(o.http().request_timeout, siem_http::DEFAULT_REQUEST_TIMEOUT);
    assert_eq!(o.transport.ca_file, None);
    assert_eq!(o.http().user_agent, USER_AGENT);
    assert_eq!(
        USER_AGENT,
        format!("siem-sentinel/{}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn dcr_immutable_id_shape() {
    for bad in [
        "",
        "dcr-",
        "dcr-00112233445566778899aabbccddeef",   // 31 digits
        "dcr-00112233445566778899aabbccddeeff0", // 33
        "dcr-00112233445566778899aabbccddeefg",
        "DCR-00112233445566778899aabbccddeeff",
        "00112233445566778899aabbccddeeff",
        "dcr-0011/../../x",
    ] {
        let e = SentinelConfig::new(dce(), bad).sink_options().unwrap_err();
        assert_eq!(e.field, "dcr_immutable_id", "{bad}");
    }
    let upper = SentinelConfig::new(dce(), "dcr-00112233445566778899AABBCCDDEEFF");
    assert!(upper.sink_options().is_ok());
}

#[test]
fn stream_shape() {
    for bad in [
        "AisgSecurityEvents",
        "Custom-",
        "Custom-1abc",
        "Custom-a/b",
        "Custom-a b",
        "Custom-a?x=1",
        "Microsoft-Syslog",
        &format!("Custom-{}", "a".repeat(MAX_STREAM_NAME_LEN)),
    ] {
        let c = SentinelConfig {
            stream: bad.into(),
            ..config()
        };
        assert_eq!(c.sink_options().unwrap_err().field, "stream", "{bad}");
    }
    let c = SentinelConfig {
        stream: "Custom-My_Table2".into(),
        ..config()
    };
    assert!(c
        .sink_options()
        .unwrap()
        .url()
        .as_str()
        .ends_with("/streams/Custom-My_Table2?api-version=2023-01-01"));
}

#[test]
fn out_of_range_values_are_rejected() {
    for (timeouts, field) in [
        (TimeoutsConfig::new(None, Some(0)), "timeouts"),
        (TimeoutsConfig::new(Some(600_001), None), "timeouts"),
    ] {
        let mut c = entra("t", CLIENT);
        c.transport.timeouts = timeouts;
        assert_eq!(c.sink_options().unwrap_err().field, field);
        assert_eq!(c.entra_options().unwrap_err().field, field);
    }
    for max in [0, MAX_BODY_BYTES + 1] {
        let c = SentinelConfig {
            max_body_bytes: max,
            ..config()
        };
        assert_eq!(c.sink_options().unwrap_err().field, "max_body_bytes");
    }
}

#[test]
fn ingestion_url_keeps_a_base_path() {
    let c = SentinelConfig::new(
        Endpoint::parse("https://proxy.example/azure/").unwrap(),
        DCR,
    );
    assert_eq!(
        c.sink_options().unwrap().url().as_str(),
        format!(
            "https://proxy.example/azure/dataCollectionRules/{DCR}/streams/\
             Custom-AisgSecurityEvents?api-version=2023-01-01"
        )
    );
}

#[test]
fn entra_ids_are_checked() {
    for bad in ["", "a/b", "../x", ".x", "a..b", "tenant?x", "t%2f"] {
        let e = entra(bad, CLIENT).entra_options().unwrap_err();
        assert_eq!(e.field, "tenant_id", "{bad}");
    }
    for bad in [
        "",
        "not-a-guid",
        "11111111-2222-3333-4444-55555555555",
        "11111111222233334444555555555555",
    ] {
        let e = entra("tenant", bad).entra_options().unwrap_err();
        assert_eq!(e.field, "client_id", "{bad}");
    }
    let c = SentinelConfig {
        scope: Some("has space".into()),
        ..entra("tenant", CLIENT)
    };
    assert_eq!(c.entra_options().unwrap_err().field, "scope");
    let c = SentinelConfig {
        authority_host: Some(Endpoint::parse("https://login.microsoftonline.us").unwrap()),
        scope: Some("https://monitor.azure.us/.default".into()),
        ..entra("72f988bf-86f1-41af-91ab-2d7cd011db47", CLIENT)
    };
    let o = c.entra_options().unwrap().unwrap();
    assert_eq!(
        o.token_url().as_str(),
        "https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
    );
    assert_eq!(
        o.describe(),
        format!("entra:72f988bf-86f1-41af-91ab-2d7cd011db47/{CLIENT}")
    );
}

#[test]
fn toml_config_with_entra() {
    let config: SentinelConfig = toml::from_str(&format!(
        r#"
        dce = "https://dce.example.ingest.monitor.azure.com"
        dcr_immutable_id = "{DCR}"
        stream = "Custom-Other"
        tenant_id = "contoso.onmicrosoft.com"
        client_id = "{CLIENT}"
        authority_host = "https://login.example"
        gzip = false
        ca_file = "/etc/ca.pem"
        timeouts = {{ connect_ms = 1500, request_ms = 9000 }}
        "#
    ))
    .unwrap();
    assert_eq!(config.endpoint, dce());
    assert_eq!(config.stream, "Custom-Other");
    assert!(!config.gzip);
    assert_eq!(
        config.transport.ca_file.as_deref(),
        Some(Path::new("/etc/ca.pem"))
    );
    let mut config = config;
    config.transport.ca_file = None;
    let o = config.sink_options().unwrap();
    assert_eq!(o.http().connect_timeout, Duration::from_millis(1500));
    assert_eq!(o.http().request_timeout, Duration::from_millis(9000));
    let e = config.entra_options().unwrap().unwrap();
    assert_eq!(
        e.token_url().as_str(),
        "https://login.example/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(e.scope(), DEFAULT_SCOPE);
    assert_eq!(e.http().request_timeout, Duration::from_millis(9000));
}

#[test]
fn toml_config_minimal_and_errors() {
    let config: SentinelConfig = toml::from_str(&format!(
        "endpoint = \"https://dce.example\"\ndcr_immutable_id = \"{DCR}\"\n"
    ))
    .unwrap();
    let o = config.sink_options().unwrap();
    assert_eq!(o.stream, DEFAULT_STREAM);
    assert!(o.gzip);
    assert!(config.entra_options().unwrap().is_none());

    let only_tenant: SentinelConfig = toml::from_str(&format!(
        "dce = \"https://dce.example\"\ndcr_immutable_id = \"{DCR}\"\ntenant_id = \"t\"\n"
    ))
    .unwrap();
    assert_eq!(only_tenant.entra_options().unwrap_err().field, "client_id");
    let only_scope = SentinelConfig {
        scope: Some("x".into()),
        ..config.clone()
    };
    assert_eq!(only_scope.entra_options().unwrap_err().field, "scope");

    let http = toml::from_str::<SentinelConfig>(&format!(
        "dce = \"http://dce.example\"\ndcr_immutable_id = \"{DCR}\"\n"
    ))
    .unwrap_err();
    assert!(http.to_string().contains("https://"), "{http}");

    let both = toml::from_str::<SentinelConfig>(&format!(
        "dce = \"https://a.example\"\nendpoint = \"https://b.example\"\ndcr_immutable_id = \"{DCR}\"\n"
    ));
    assert!(both.is_err());

    let unknown = toml::from_str::<SentinelConfig>(&format!(
        "dce = \"https://a.example\"\ndcr_immutable_id = \"{DCR}\"\ndcr_id = \"x\"\n"
    ))
    .unwrap_err();
    assert!(unknown.to_string().contains("dcr_id"), "{unknown}");
}

#[test]
fn settings_are_data_json_round_trip() {
    let c: SentinelConfig = siem_http::testing::settings_from_json(&format!(
        r#"{{"endpoint":"https://dce.example","dcr_immutable_id":"{DCR}","tenant_id":"t"}}"#
    ));
    assert_eq!(c.stream, DEFAULT_STREAM);
}
