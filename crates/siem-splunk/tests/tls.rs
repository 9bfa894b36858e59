//! The sink over real TLS with a throwaway CA (`siem_http::testing::check_tls`): the
//! `ca_file` CA is trusted, a certificate from another CA is refused, an endless answer is
//! cut short.

use siem_http::testing::{check_tls, TestRequest, TestResponse};
use siem_http::TransportConfig;
use siem_splunk::{SplunkConfig, SplunkSink};

fn hec(req: &TestRequest) -> TestResponse {
    if req.path == "/services/collector/event"
        && req.header("authorization") == Some("Splunk tls-test-token")
    {
        TestResponse::json(200, r#"{"text":"Success","code":0}"#)
    } else {
        TestResponse::json(401, r#"{"text":"Invalid authorization","code":3}"#)
    }
}

#[tokio::test]
async fn over_tls_with_the_configured_ca() {
    check_tls(hec, |endpoint, ca_file| {
        let config = SplunkConfig {
            transport: TransportConfig::with_ca_file(ca_file),
            ..SplunkConfig::new(endpoint)
        };
        let token = siem_core::testing::RecordingCredential::new("tls-test-token");
        SplunkSink::new("splunk-tls", config.sink_options().unwrap(), token).unwrap()
    })
    .await;
}
