//! The sink over real TLS with a throwaway CA: the custom CA (PEM text or `ca_file`) is
//! trusted, a certificate from another CA is refused, an endless answer is cut short.

mod common;

use std::time::Duration;

use siem_core::{DeliveryError, SiemSink};
use siem_http::testing::{TestResponse, TlsTestServer};
use siem_splunk::{SplunkConfig, SplunkOptions, SplunkSink};

use common::{fixture_events, RecordingCredential};

const TOKEN: &str = "tls-test-token";

fn hec(req: &siem_http::testing::TestRequest) -> TestResponse {
    if req.path == "/services/collector/event"
        && req.header("authorization") == Some("Splunk tls-test-token")
    {
        TestResponse::json(200, r#"{"text":"Success","code":0}"#)
    } else {
        TestResponse::json(401, r#"{"text":"Invalid authorization","code":3}"#)
    }
}

/// Options for `server`, trusting its CA (PEM text).
fn trusting(server: &TlsTestServer) -> SplunkOptions {
    SplunkConfig::new(server.endpoint())
        .sink_options()
        .unwrap()
        .map_http(|h| h.extra_root_ca_pem(server.ca_pem()))
}

#[tokio::test]
async fn custom_ca_from_a_file_is_trusted() {
    let server = TlsTestServer::start(hec).await.unwrap();
    let ca_file = std::env::temp_dir().join(format!(
        "siem-splunk-test-ca-{}-{}.pem",
        std::process::id(),
        server.addr().port()
    ));
    std::fs::write(&ca_file, server.ca_pem()).unwrap();
    let mut config = SplunkConfig::new(server.endpoint());
    config.ca_file = Some(ca_file.clone());
    let options = config.sink_options().unwrap();
    std::fs::remove_file(&ca_file).unwrap();

    let sink = SplunkSink::new("splunk-tls", options, RecordingCredential::new(TOKEN)).unwrap();
    let events = fixture_events();
    let report = sink.deliver(&events).await;
    assert!(report.is_complete(), "{report:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let body = String::from_utf8(requests[0].decoded_body().unwrap()).unwrap();
    assert_eq!(body.lines().count(), events.len());
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused() {
    let server = TlsTestServer::start_untrusted(hec).await.unwrap();
    let options = trusting(&server);
    let sink = SplunkSink::new("splunk-tls", options, RecordingCredential::new(TOKEN)).unwrap();
    let report = sink.deliver(&fixture_events()).await;
    match report.error {
        Some(DeliveryError::Permanent { detail }) => {
            assert!(detail.message.contains("certificate"), "{detail}");
        }
        other => panic!("expected a refused certificate, got {other:?}"),
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn endless_answer_is_read_only_up_to_the_cap() {
    let server = TlsTestServer::start(|_| TestResponse::new(503).endless_body())
        .await
        .unwrap();
    let options = trusting(&server).map_http(|h| h.request_timeout(Duration::from_secs(20)));
    let sink = SplunkSink::new("splunk-tls", options, RecordingCredential::new(TOKEN)).unwrap();
    let err = sink
        .send(&sink.encode(&fixture_events()).requests[0])
        .await
        .unwrap_err();
    // The status arrived and the body was cut at the cap, not read until the timeout.
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
}
