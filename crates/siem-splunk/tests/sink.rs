//! The sink against a wiremock HEC: the exact request, every status class, HEC error
//! bodies, credential invalidation, timeouts, redirects, secrets and conformance.

mod common;

use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::conformance;
use siem_core::{CredentialProvider, Endpoint, SiemSink};
use siem_http::testing::{
    check_build_errors, check_status_table, check_transport, for_loopback_mock, OutcomeClass,
    SinkSetup, StatusCase, TestResponse,
};
use siem_splunk::config::USER_AGENT;
use siem_splunk::{encode, SplunkConfig, SplunkOptions, SplunkSink};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{fixture_events, gunzip, RecordingCredential};

const TOKEN: &str = "hec-token-0d6f3b2a-secret";
const SUCCESS: &str = r#"{"text":"Success","code":0}"#;

/// Options for the mock at `mock` (plain HTTP on loopback), changed by `f`.
fn mock_options(mock: &MockServer, f: impl FnOnce(&mut SplunkConfig)) -> SplunkOptions {
    let mut config = SplunkConfig::new(Endpoint::plain_http_loopback(&mock.uri()).unwrap());
    f(&mut config);
    config.sink_options().unwrap().map_http(for_loopback_mock)
}

fn options(mock: &MockServer, gzip: bool) -> SplunkOptions {
    mock_options(mock, |c| {
        c.index = Some("main".into());
        c.gzip = gzip;
    })
}

fn sink(mock: &MockServer, credential: Arc<dyn CredentialProvider>) -> SplunkSink {
    SplunkSink::new("splunk-test", options(mock, true), credential).unwrap()
}

async fn hec_answers(mock: &MockServer, response: ResponseTemplate) {
    mock.reset().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(mock)
        .await;
}

/// The sink for a test HTTPS server (`check_transport`, `check_status_table`).
fn sink_over_tls(setup: SinkSetup) -> SplunkSink {
    let config = SplunkConfig {
        transport: setup.transport(),
        ..SplunkConfig::new(setup.endpoint.clone())
    };
    SplunkSink::new(
        "splunk-test",
        config.sink_options().unwrap(),
        setup.credential,
    )
    .unwrap()
}

#[tokio::test]
async fn sends_the_exact_request() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/collector/event"))
        .and(header("authorization", format!("Splunk {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(header("content-encoding", "gzip"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(ResponseTemplate::new(200).set_body_string(SUCCESS))
        .expect(1)
        .mount(&mock)
        .await;
    let credential = RecordingCredential::new(TOKEN);
    let sink = sink(&mock, credential.clone());
    let events = fixture_events();
    let report = sink.deliver(&events).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.delivered, events.len());

    let received = mock.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.url.query(), None);
    assert!(USER_AGENT.starts_with("siem-splunk/"));
    let expected = encode(&events, &options(&mock, false));
    assert_eq!(gunzip(&request.body), expected.requests[0].body.to_vec());
    assert!(credential.invalidated().is_empty());
}

#[tokio::test]
async fn gzip_off_sends_no_content_encoding() {
    let mock = MockServer::start().await;
    hec_answers(&mock, ResponseTemplate::new(200).set_body_string(SUCCESS)).await;
    let sink = SplunkSink::new(
        "splunk-test",
        options(&mock, false),
        RecordingCredential::new(TOKEN),
    )
    .unwrap();
    assert!(sink.deliver(&fixture_events()).await.is_complete());
    let received = mock.received_requests().await.unwrap();
    assert!(received[0].headers.get("content-encoding").is_none());
    let body = String::from_utf8(received[0].body.clone()).unwrap();
    assert_eq!(body.lines().count(), 5);
}

#[tokio::test]
async fn every_status_class_and_hec_error_body_is_mapped() {
    let secs = |s| Some(Duration::from_secs(s));
    let cases: Vec<StatusCase<'_>> = vec![
        (200, SUCCESS, None, OutcomeClass::Ok, None, ""),
        (
            200,
            r#"{"text":"HEC is healthy","code":17}"#,
            None,
            OutcomeClass::Permanent,
            Some("17"),
            "HEC is healthy",
        ),
        (
            200,
            "<html>portal</html>",
            None,
            OutcomeClass::Permanent,
            None,
            "<html>portal</html>",
        ),
        (
            400,
            r#"{"text":"Incorrect index","code":7}"#,
            None,
            OutcomeClass::Permanent,
            Some("7"),
            "Incorrect index",
        ),
        (
            400,
            r#"{"text":"Invalid data format","code":6,"invalid-event-number":3}"#,
            None,
            OutcomeClass::Permanent,
            Some("6"),
            "Invalid data format (invalid-event-number 3)",
        ),
        (
            401,
            r#"{"text":"Token is required","code":2}"#,
            None,
            OutcomeClass::Credentials,
            Some("2"),
            "Token is required",
        ),
        (
            403,
            r#"{"text":"Invalid token","code":4}"#,
            None,
            OutcomeClass::Credentials,
            Some("4"),
            "Invalid token",
        ),
        (
            403,
            r#"{"text":"Token disabled","code":1}"#,
            None,
            OutcomeClass::Credentials,
            Some("1"),
            "Token disabled",
        ),
        (
            404,
            r#"{"text":"The requested URL was not found on this server.","code":404}"#,
            None,
            OutcomeClass::Permanent,
            Some("404"),
            "The requested URL was not found on this server.",
        ),
        (408, "", None, OutcomeClass::Retryable(None), None, ""),
        (
            413,
            r#"{"text":"Content too large","code":27}"#,
            None,
            OutcomeClass::TooLarge,
            Some("27"),
            "Content too large",
        ),
        (429, "", None, OutcomeClass::Retryable(None), None, ""),
        (
            429,
            "",
            Some("12"),
            OutcomeClass::Retryable(secs(12)),
            None,
            "",
        ),
        (
            500,
            r#"{"text":"Internal server error","code":8}"#,
            None,
            OutcomeClass::Retryable(None),
            Some("8"),
            "Internal server error",
        ),
        (
            502,
            "bad gateway",
            None,
            OutcomeClass::Retryable(None),
            None,
            "bad gateway",
        ),
        (
            503,
            r#"{"text":"Server is busy","code":9}"#,
            Some("5"),
            OutcomeClass::Retryable(secs(5)),
            Some("9"),
            "Server is busy",
        ),
        (
            503,
            r#"{"text":"HEC is unhealthy, queues are full","code":18}"#,
            None,
            OutcomeClass::Retryable(None),
            Some("18"),
            "HEC is unhealthy, queues are full",
        ),
    ];
    check_status_table(&cases, sink_over_tls).await;
}

#[tokio::test]
async fn timeouts_redirects_capped_errors_secrets_and_conformance() {
    check_transport(
        TestResponse::json(200, SUCCESS),
        "/services/collector/event",
        sink_over_tls,
    )
    .await;
}

#[tokio::test]
async fn passes_the_core_conformance_suite_when_batches_split() {
    let mock = MockServer::start().await;
    hec_answers(&mock, ResponseTemplate::new(200).set_body_string(SUCCESS)).await;
    let small = mock_options(&mock, |c| c.max_body_bytes = 1_000);
    let sink = SplunkSink::new("small", small, RecordingCredential::new(TOKEN)).unwrap();
    conformance::check_encoding(&sink).unwrap();
    conformance::check_delivery(&sink, None).await.unwrap();
}

#[test]
fn build_errors_name_the_problem() {
    let options = SplunkConfig::new(Endpoint::parse("https://hec.example").unwrap())
        .sink_options()
        .unwrap();
    check_build_errors(options.map_http(|h| h.extra_root_ca_pem("not pem")));
}
