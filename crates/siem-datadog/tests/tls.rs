//! The sink over real TLS with a throwaway CA: the custom CA (PEM text or `ca_file`) is
//! trusted, a certificate from another CA is refused, an endless answer is cut short.

mod common;

use std::time::Duration;

use siem_core::{DeliveryError, SiemSink};
use siem_datadog::{DatadogConfig, DatadogOptions, DatadogSink};
use siem_http::testing::{TestRequest, TestResponse, TlsTestServer};

use common::{fixture_events, RecordingCredential};

const API_KEY: &str = "tls-test-key";

fn intake(req: &TestRequest) -> TestResponse {
    if req.path == "/api/v2/logs" && req.header("dd-api-key") == Some(API_KEY) {
        TestResponse::json(202, "{}")
    } else {
        TestResponse::json(403, r#"{"errors":["Forbidden"]}"#)
    }
}

/// Options for `server`, trusting its CA (PEM text).
fn trusting(server: &TlsTestServer) -> DatadogOptions {
    let config = DatadogConfig {
        endpoint: Some(server.endpoint()),
        ..Default::default()
    };
    config
        .sink_options()
        .unwrap()
        .map_http(|h| h.extra_root_ca_pem(server.ca_pem()))
}

#[tokio::test]
async fn custom_ca_from_a_file_is_trusted() {
    let server = TlsTestServer::start(intake).await.unwrap();
    let ca_file = std::env::temp_dir().join(format!(
        "siem-datadog-test-ca-{}-{}.pem",
        std::process::id(),
        server.addr().port()
    ));
    std::fs::write(&ca_file, server.ca_pem()).unwrap();
    let config = DatadogConfig {
        endpoint: Some(server.endpoint()),
        env: Some("test".to_owned()),
        ca_file: Some(ca_file.clone()),
        ..Default::default()
    };
    let options = config.sink_options().unwrap();
    std::fs::remove_file(&ca_file).unwrap();

    let sink = DatadogSink::new("datadog-tls", options, RecordingCredential::new(API_KEY)).unwrap();
    let events = fixture_events();
    let report = sink.deliver(&events).await;
    assert!(report.is_complete(), "{report:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let items: serde_json::Value =
        serde_json::from_slice(&requests[0].decoded_body().unwrap()).unwrap();
    assert_eq!(items.as_array().unwrap().len(), events.len());
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused() {
    let server = TlsTestServer::start_untrusted(intake).await.unwrap();
    let options = trusting(&server);
    let sink = DatadogSink::new("datadog-tls", options, RecordingCredential::new(API_KEY)).unwrap();
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
    let sink = DatadogSink::new("datadog-tls", options, RecordingCredential::new(API_KEY)).unwrap();
    let err = sink
        .send(&sink.encode(&fixture_events()).requests[0])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
}
