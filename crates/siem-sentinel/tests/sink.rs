//! The sink against a wiremock Logs Ingestion API: the exact request, and every answer
//! mapped to the right delivery error class.

mod common;

use std::time::Duration;

use common::*;
use siem_core::{DeliveryError, SiemSink};
use siem_http::testing::{
    check_status_table, check_transport, OutcomeClass, SinkSetup, StatusCase, TestResponse,
};
use siem_sentinel::config::USER_AGENT;
use siem_sentinel::{encoder, SentinelConfig, SentinelSink};
use wiremock::matchers::{body_bytes, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ingestion_path() -> String {
    format!("/dataCollectionRules/{DCR}/streams/Custom-AisgSecurityEvents")
}

async fn answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ingestion_path()))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn sends_the_exact_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ingestion_path()))
        .and(query_param("api-version", "2023-01-01"))
        .and(header("authorization", "Bearer token-abc"))
        .and(header("content-type", "application/json"))
        .and(header("content-encoding", "gzip"))
        .and(header("user-agent", USER_AGENT))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let credential = RecordingCredential::new("token-abc");
    let sink = mock_sink(&server.uri(), credential.clone());
    let events = fixture_events();
    let encoded = sink.encode(&events);
    assert_eq!(encoded.requests.len(), 1);
    let ack = sink.send(&encoded.requests[0]).await.unwrap();
    assert_eq!(ack.status, 204);

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.url.query(), Some("api-version=2023-01-01"));
    assert_eq!(request.url.path(), ingestion_path());
    let plain = encoder::encode(&events, &options(false));
    assert_eq!(gunzip(&request.body), plain.requests[0].body.to_vec());
    let records: Vec<serde_json::Value> = serde_json::from_slice(&gunzip(&request.body)).unwrap();
    assert_eq!(records.len(), events.len());
    assert_eq!(
        records[2]["EventId"],
        "0b7c6f1e-8d0a-4c43-9a57-3f1d2a9e4b10"
    );
    assert!(credential.invalidated().is_empty());
}

#[tokio::test]
async fn gzip_off_sends_plain_json_without_content_encoding() {
    let server = MockServer::start().await;
    let events = fixture_events();
    let expected = encoder::encode(&events, &options(false)).requests[0]
        .body
        .to_vec();
    Mock::given(method("POST"))
        .and(path(ingestion_path()))
        .and(body_bytes(expected))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let options = mock_options(&server.uri(), |c| c.gzip = false);
    let sink = SentinelSink::new("s", options, RecordingCredential::new("test-token-1")).unwrap();
    let report = sink.deliver(&events).await;
    assert!(report.is_complete(), "{report:?}");
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("content-encoding").is_none());
}

#[tokio::test]
async fn other_stream_changes_the_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/dataCollectionRules/{DCR}/streams/Custom-Other_CL"
        )))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let options = mock_options(&server.uri(), |c| c.stream = "Custom-Other_CL".into());
    let sink = SentinelSink::new("s", options, RecordingCredential::new("test-token-1")).unwrap();
    assert!(sink.deliver(&fixture_events()).await.is_complete());
}

fn azure_error(code: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message}}).to_string()
}

/// The sink for a test HTTPS server (`check_transport`, `check_status_table`).
fn sink_over_tls(setup: SinkSetup) -> SentinelSink {
    let config = SentinelConfig {
        transport: setup.transport(),
        ..SentinelConfig::new(setup.endpoint.clone(), DCR)
    };
    SentinelSink::new(
        "sentinel-test",
        config.sink_options().unwrap(),
        setup.credential,
    )
    .unwrap()
}

#[tokio::test]
async fn every_status_class_and_azure_error_body_is_mapped() {
    let secs = |s| Some(Duration::from_secs(s));
    let bodies = [
        azure_error("InvalidPayload", "Data at index 0 does not match the schema"),
        azure_error("InvalidToken", "Token is expired"),
        azure_error("OperationFailed", "The authentication token provided does not have access to ingest data for the data collection rule"),
        azure_error("InvalidDataCollectionRule", "Data collection rule dcr-… not found"),
        azure_error("ContentLengthLimitExceeded", "Maximum allowed content length: 1048576 bytes"),
        azure_error("TooManyRequests", "Request rate is too large"),
        azure_error("ServiceError", "An internal error occurred"),
    ];
    let cases: Vec<StatusCase<'_>> = vec![
        (204, "", None, OutcomeClass::Ok, None, ""),
        (200, "", None, OutcomeClass::Ok, None, ""),
        (
            400,
            &bodies[0],
            None,
            OutcomeClass::Permanent,
            Some("InvalidPayload"),
            "Data at index 0 does not match the schema",
        ),
        (
            401,
            &bodies[1],
            None,
            OutcomeClass::Credentials,
            Some("InvalidToken"),
            "Token is expired",
        ),
        (
            403,
            &bodies[2],
            None,
            OutcomeClass::Credentials,
            Some("OperationFailed"),
            "does not have access",
        ),
        (
            404,
            &bodies[3],
            None,
            OutcomeClass::Permanent,
            Some("InvalidDataCollectionRule"),
            "not found",
        ),
        (408, "", None, OutcomeClass::Retryable(None), None, ""),
        (
            413,
            &bodies[4],
            None,
            OutcomeClass::TooLarge,
            Some("ContentLengthLimitExceeded"),
            "Maximum allowed content length",
        ),
        (
            429,
            &bodies[5],
            Some("17"),
            OutcomeClass::Retryable(secs(17)),
            Some("TooManyRequests"),
            "Request rate is too large",
        ),
        (429, "", None, OutcomeClass::Retryable(None), None, ""),
        (
            500,
            &bodies[6],
            None,
            OutcomeClass::Retryable(None),
            Some("ServiceError"),
            "internal error",
        ),
        (
            503,
            "<html>Service Unavailable</html>",
            Some("120"),
            OutcomeClass::Retryable(secs(120)),
            None,
            "<html>Service Unavailable</html>",
        ),
        (503, "", None, OutcomeClass::Retryable(None), None, ""),
    ];
    check_status_table(&cases, sink_over_tls).await;
}

#[tokio::test]
async fn timeouts_redirects_capped_errors_secrets_and_conformance() {
    check_transport(TestResponse::new(204), &ingestion_path(), sink_over_tls).await;
}

#[tokio::test]
async fn a_token_with_forbidden_header_characters_is_permanent_and_not_echoed() {
    let server = answering(ResponseTemplate::new(204)).await;
    let sink = mock_sink(&server.uri(), RecordingCredential::new("bad\ntoken-value"));
    let encoded = sink.encode(&fixture_events());
    let err = sink.send(&encoded.requests[0]).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent { .. }));
    assert!(!format!("{err} {err:?}").contains("token-value"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_batch_over_one_megabyte_goes_in_several_calls() {
    let server = answering(ResponseTemplate::new(204)).await;
    let sink = mock_sink(&server.uri(), RecordingCredential::new("test-token-1"));
    let events: Vec<_> = fixture_events().into_iter().cycle().take(4000).collect();
    let report = sink.deliver(&events).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.delivered, 4000);
    let received = server.received_requests().await.unwrap();
    assert!(received.len() >= 2, "{} calls", received.len());
    let mut total = 0;
    for request in &received {
        let body = gunzip(&request.body);
        assert!(
            body.len() <= siem_sentinel::config::MAX_BODY_BYTES,
            "{}",
            body.len()
        );
        total += serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .unwrap()
            .len();
    }
    assert_eq!(total, 4000);
}

/// The sink with the Entra ID token source: a 401 from the Logs Ingestion API drops the
/// token, and the next send (the dispatcher's one retry) fetches and uses a fresh one.
#[tokio::test]
async fn sink_with_entra_refreshes_after_a_401() {
    let tokens = MockServer::start().await;
    for n in 1..=2 {
        let token = serde_json::json!({"expires_in": 3599, "access_token": format!("tok-{n}")});
        Mock::given(method("POST"))
            .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
            .respond_with(ResponseTemplate::new(200).set_body_json(token))
            .up_to_n_times(1)
            .mount(&tokens)
            .await;
    }
    let dce = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ingestion_path()))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(azure_error("InvalidToken", "token expired")),
        )
        .mount(&dce)
        .await;
    Mock::given(method("POST"))
        .and(path(ingestion_path()))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&dce)
        .await;
    let source = siem_sentinel::EntraTokenSource::new(
        mock_entra(&tokens.uri()),
        RecordingCredential::new(CLIENT_SECRET),
    )
    .unwrap();
    let sink = mock_sink(&dce.uri(), std::sync::Arc::new(source));
    let encoded = sink.encode(&fixture_events());
    let err = sink.send(&encoded.requests[0]).await.unwrap_err();
    assert!(
        matches!(err, DeliveryError::CredentialsRejected { .. }),
        "{err:?}"
    );
    assert_eq!(err.detail().unwrap().code.as_deref(), Some("InvalidToken"));
    assert_eq!(sink.send(&encoded.requests[0]).await.unwrap().status, 204);
    assert_eq!(tokens.received_requests().await.unwrap().len(), 2);
    assert!(!format!("{sink:?}").contains("tok-"));
}
