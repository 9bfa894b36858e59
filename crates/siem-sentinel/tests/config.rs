//! Option validation and the TOML form: every default is the documented constant, every
//! identifier that ends up in a URL is checked, and errors name the field.

use std::path::Path;
use std::time::Duration;

use siem_core::Endpoint;
use siem_http::MAX_TIMEOUT;
use siem_sentinel::config::*;

const DCR: &str = "dcr-00112233445566778899aabbccddeeff";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";

fn dce() -> Endpoint {
    Endpoint::parse("https://dce.example.ingest.monitor.azure.com").unwrap()
}

#[test]
fn default_authority_parses() {
    assert!(Endpoint::parse(DEFAULT_AUTHORITY_HOST).is_ok());
}

#[test]
fn defaults_are_the_documented_constants() {
    let o = SentinelOptions::builder(dce(), DCR).build().unwrap();
    assert_eq!(o.stream(), DEFAULT_STREAM);
    assert_eq!(o.gzip(), DEFAULT_GZIP);
    assert_eq!(o.connect_timeout(), DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(o.request_timeout(), DEFAULT_REQUEST_TIMEOUT);
    assert_eq!(o.ca_file(), None);
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
        let e = SentinelOptions::builder(dce(), bad).build().unwrap_err();
        assert_eq!(e.field, "dcr_immutable_id", "{bad}");
    }
    assert!(
        SentinelOptions::builder(dce(), "dcr-00112233445566778899AABBCCDDEEFF")
            .build()
            .is_ok()
    );
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
        let e = SentinelOptions::builder(dce(), DCR)
            .stream(bad)
            .build()
            .unwrap_err();
        assert_eq!(e.field, "stream", "{bad}");
    }
    let o = SentinelOptions::builder(dce(), DCR)
        .stream("Custom-My_Table2")
        .build()
        .unwrap();
    assert!(o
        .ingestion_url()
        .as_str()
        .ends_with("/streams/Custom-My_Table2?api-version=2023-01-01"));
}

#[test]
fn zero_timeouts_are_rejected() {
    let e = SentinelOptions::builder(dce(), DCR)
        .request_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "timeouts.request_ms");
    let e = SentinelOptions::builder(dce(), DCR)
        .connect_timeout(MAX_TIMEOUT + Duration::from_millis(1))
        .build()
        .unwrap_err();
    assert_eq!(e.field, "timeouts.connect_ms");
    let e = EntraOptions::builder("t", CLIENT)
        .connect_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "timeouts.connect_ms");
}

#[test]
fn ingestion_url_keeps_a_base_path() {
    let o = SentinelOptions::builder(
        Endpoint::parse("https://proxy.example/azure/").unwrap(),
        DCR,
    )
    .build()
    .unwrap();
    assert_eq!(
        o.ingestion_url().as_str(),
        format!(
            "https://proxy.example/azure/dataCollectionRules/{DCR}/streams/\
             Custom-AisgSecurityEvents?api-version=2023-01-01"
        )
    );
}

#[test]
fn entra_ids_are_checked() {
    for bad in ["", "a/b", "../x", ".x", "a..b", "tenant?x", "t%2f"] {
        let e = EntraOptions::builder(bad, CLIENT).build().unwrap_err();
        assert_eq!(e.field, "tenant_id", "{bad}");
    }
    for bad in [
        "",
        "not-a-guid",
        "11111111-2222-3333-4444-55555555555",
        "11111111222233334444555555555555",
    ] {
        let e = EntraOptions::builder("tenant", bad).build().unwrap_err();
        assert_eq!(e.field, "client_id", "{bad}");
    }
    let e = EntraOptions::builder("tenant", CLIENT)
        .scope("has space")
        .build()
        .unwrap_err();
    assert_eq!(e.field, "scope");
    let o = EntraOptions::builder("72f988bf-86f1-41af-91ab-2d7cd011db47", CLIENT)
        .authority_host(Endpoint::parse("https://login.microsoftonline.us").unwrap())
        .scope("https://monitor.azure.us/.default")
        .build()
        .unwrap();
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
    let o = config.sink_options().unwrap();
    assert_eq!(o.endpoint(), &dce());
    assert_eq!(o.stream(), "Custom-Other");
    assert!(!o.gzip());
    assert_eq!(o.ca_file(), Some(Path::new("/etc/ca.pem")));
    assert_eq!(o.connect_timeout(), Duration::from_millis(1500));
    assert_eq!(o.request_timeout(), Duration::from_millis(9000));
    let e = config.entra_options().unwrap().unwrap();
    assert_eq!(
        e.token_url().as_str(),
        "https://login.example/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    assert_eq!(e.scope(), DEFAULT_SCOPE);
    assert_eq!(e.request_timeout(), Duration::from_millis(9000));
}

#[test]
fn toml_config_minimal_and_errors() {
    let config: SentinelConfig = toml::from_str(&format!(
        "endpoint = \"https://dce.example\"\ndcr_immutable_id = \"{DCR}\"\n"
    ))
    .unwrap();
    let o = config.sink_options().unwrap();
    assert_eq!(o.stream(), DEFAULT_STREAM);
    assert!(o.gzip());
    assert_eq!(config.entra_options().unwrap(), None);

    let only_tenant: SentinelConfig = toml::from_str(&format!(
        "dce = \"https://dce.example\"\ndcr_immutable_id = \"{DCR}\"\ntenant_id = \"t\"\n"
    ))
    .unwrap();
    assert_eq!(only_tenant.entra_options().unwrap_err().field, "client_id");

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
    let zero: SentinelConfig = toml::from_str(&format!(
        "dce = \"https://a.example\"\ndcr_immutable_id = \"{DCR}\"\ntimeouts = {{ request_ms = 0 }}\n"
    ))
    .unwrap();
    assert_eq!(
        zero.sink_options().unwrap_err().field,
        "timeouts.request_ms"
    );

    let bad_dcr: SentinelConfig =
        toml::from_str("dce = \"https://a.example\"\ndcr_immutable_id = \"dcr-1\"\n").unwrap();
    assert_eq!(
        bad_dcr.sink_options().unwrap_err().field,
        "dcr_immutable_id"
    );
}
