//! The sink over real TLS with a throwaway CA (`siem_http::testing::check_tls`): the
//! `ca_file` CA is trusted, a certificate from another CA is refused, an endless answer is
//! cut short.

use siem_datadog::{DatadogConfig, DatadogSink};
use siem_http::testing::{check_tls, TestRequest, TestResponse};
use siem_http::TransportConfig;

fn intake(req: &TestRequest) -> TestResponse {
    match req.header("dd-api-key") {
        Some("tls-test-key") if req.path == "/api/v2/logs" => TestResponse::json(202, "{}"),
        _ => TestResponse::json(403, r#"{"errors":["Forbidden"]}"#),
    }
}

#[tokio::test]
async fn over_tls_with_the_configured_ca() {
    check_tls(intake, |endpoint, ca_file| {
        let config = DatadogConfig {
            endpoint: Some(endpoint),
            env: Some("test".to_owned()),
            transport: TransportConfig::with_ca_file(ca_file),
            ..Default::default()
        };
        let api_key = siem_core::testing::RecordingCredential::new("tls-test-key");
        DatadogSink::new("datadog-tls", config.sink_options().unwrap(), api_key).unwrap()
    })
    .await;
}
