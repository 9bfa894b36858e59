//! The sink against a wiremock intake: the exact request, every status class, Datadog
//! error bodies, credential invalidation, timeouts, redirects, secrets and conformance.

mod common;

use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::conformance;
use siem_core::{CredentialProvider, Endpoint, SiemSink};
use siem_datadog::config::USER_AGENT;
use siem_datadog::{encode, DatadogConfig, DatadogOptions, DatadogSink};
use siem_http::testing::{
    check_build_errors, check_status_table, check_transport, for_loopback_mock, OutcomeClass,
    SinkSetup, StatusCase, TestResponse,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{fixture_events, gunzip, RecordingCredential};

const API_KEY: &str = "dd-api-key-7f3c9a1e-secret";

/// Options for the mock at `mock` (plain HTTP on loopback), changed by `f`.
fn mock_options(mock: &MockServer, f: impl FnOnce(&mut DatadogConfig)) -> DatadogOptions {
    let mut config = DatadogConfig {
        endpoint: Some(Endpoint::plain_http_loopback(&mock.uri()).unwrap()),
        ..Default::default()
    };
    f(&mut config);
    config.sink_options().unwrap().map_http(for_loopback_mock)
}

fn options(mock: &MockServer, gzip: bool) -> DatadogOptions {
    mock_options(mock, |c| {
        c.env = Some("production".into());
        c.hostname = Some("aisg-proxy".into());
        c.gzip = gzip;
    })
}

fn sink(mock: &MockServer, credential: Arc<dyn CredentialProvider>) -> DatadogSink {
    DatadogSink::new("datadog-test", options(mock, true), credential).unwrap()
}

async fn intake_answers(mock: &MockServer, response: ResponseTemplate) {
    mock.reset().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(mock)
        .await;
}

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_string("{}")
}

/// The sink for a test HTTPS server (`check_transport`, `check_status_table`).
fn sink_over_tls(setup: SinkSetup) -> DatadogSink {
    let config = DatadogConfig {
        endpoint: Some(setup.endpoint.clone()),
        transport: setup.transport(),
        ..Default::default()
    };
    DatadogSink::new(
        "datadog-test",
        config.sink_options().unwrap(),
        setup.credential,
    )
    .unwrap()
}

#[tokio::test]
async fn sends_the_exact_request() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/logs"))
        .and(header("dd-api-key", API_KEY))
        .and(header("content-type", "application/json"))
        .and(header("content-encoding", "gzip"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(accepted())
        .expect(1)
        .mount(&mock)
        .await;
    let credential = RecordingCredential::new(API_KEY);
    let sink = sink(&mock, credential.clone());
    let events = fixture_events();
    let report = sink.deliver(&events).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.delivered, events.len());

    let received = mock.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.url.query(), None);
    assert!(request.headers.get("authorization").is_none());
    assert!(USER_AGENT.starts_with("siem-datadog/"));
    let expected = encode(&events, &options(&mock, false));
    assert_eq!(gunzip(&request.body), expected.requests[0].body.to_vec());
    assert!(credential.invalidated().is_empty());
}

#[tokio::test]
async fn gzip_off_sends_no_content_encoding() {
    let mock = MockServer::start().await;
    intake_answers(&mock, accepted()).await;
    let sink = DatadogSink::new(
        "datadog-test",
        options(&mock, false),
        RecordingCredential::new(API_KEY),
    )
    .unwrap();
    assert!(sink.deliver(&fixture_events()).await.is_complete());
    let received = mock.received_requests().await.unwrap();
    assert!(received[0].headers.get("content-encoding").is_none());
    let items: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn every_status_class_and_datadog_error_body_is_mapped() {
    let secs = |s| Some(Duration::from_secs(s));
    let bad_request =
        r#"{"errors":[{"status":"400","title":"Bad Request","detail":"Malformed JSON payload"}]}"#;
    let cases: Vec<StatusCase<'_>> = vec![
        (202, "{}", None, OutcomeClass::Ok, None, ""),
        (
            200,
            "<html>portal</html>",
            None,
            OutcomeClass::Permanent,
            None,
            "<html>portal</html>",
        ),
        (
            204,
            "",
            None,
            OutcomeClass::Permanent,
            None,
            "expected HTTP 202",
        ),
        (
            400,
            bad_request,
            None,
            OutcomeClass::Permanent,
            None,
            "Bad Request: Malformed JSON payload",
        ),
        (
            400,
            r#"{"errors":[{"code":"invalid_tag","title":"Bad Request","detail":"bad tag"}]}"#,
            None,
            OutcomeClass::Permanent,
            Some("invalid_tag"),
            "Bad Request: bad tag",
        ),
        (
            401,
            r#"{"errors":["Unauthorized"]}"#,
            None,
            OutcomeClass::Credentials,
            None,
            "Unauthorized",
        ),
        (
            403,
            r#"{"errors":["Forbidden"]}"#,
            None,
            OutcomeClass::Credentials,
            None,
            "Forbidden",
        ),
        (
            404,
            r#"{"errors":["Not found"]}"#,
            None,
            OutcomeClass::Permanent,
            None,
            "Not found",
        ),
        (
            408,
            r#"{"errors":["Request timeout"]}"#,
            None,
            OutcomeClass::Retryable(None),
            None,
            "Request timeout",
        ),
        (
            413,
            r#"{"errors":[{"status":"413","title":"Payload Too Large","detail":"batch is above 5MB uncompressed"}]}"#,
            None,
            OutcomeClass::TooLarge,
            None,
            "Payload Too Large: batch is above 5MB uncompressed",
        ),
        (429, "", None, OutcomeClass::Retryable(None), None, ""),
        (
            429,
            r#"{"errors":["Too many requests"]}"#,
            Some("9"),
            OutcomeClass::Retryable(secs(9)),
            None,
            "Too many requests",
        ),
        (
            500,
            r#"{"errors":["Internal Server Error"]}"#,
            None,
            OutcomeClass::Retryable(None),
            None,
            "Internal Server Error",
        ),
        (
            503,
            "Service Unavailable",
            Some("30"),
            OutcomeClass::Retryable(secs(30)),
            None,
            "Service Unavailable",
        ),
    ];
    check_status_table(&cases, sink_over_tls).await;
}

#[tokio::test]
async fn timeouts_redirects_capped_errors_secrets_and_conformance() {
    check_transport(TestResponse::json(202, "{}"), "/api/v2/logs", sink_over_tls).await;
}

#[tokio::test]
async fn passes_the_core_conformance_suite_when_batches_split() {
    let mock = MockServer::start().await;
    intake_answers(&mock, accepted()).await;
    // Small limits, so that batches split by count and by size.
    let small = mock_options(&mock, |c| {
        c.max_items_per_request = 4;
        c.max_body_bytes = 1_500;
    });
    let sink = DatadogSink::new("small", small, RecordingCredential::new(API_KEY)).unwrap();
    conformance::check_encoding(&sink).unwrap();
    conformance::check_delivery(&sink, None).await.unwrap();
}

#[test]
fn build_errors_name_the_problem() {
    let options = DatadogConfig::default().sink_options().unwrap();
    check_build_errors(options.map_http(|h| h.extra_root_ca_pem("not pem")));
}
