//! Over real TLS with a throwaway CA (`siem_http::testing`): the `ca_file` option makes the
//! sink and the Entra token source trust an internal CA, and a certificate that CA did not
//! issue — or any certificate when no CA is configured — is refused before a byte of the
//! request is sent.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use siem_core::{CredentialErrorKind, CredentialProvider, DeliveryError, SiemSink};
use siem_http::testing::{check_tls, TestRequest, TestResponse, TlsTestServer};
use siem_http::TransportConfig;
use siem_sentinel::{encoder, EntraTokenSource, SentinelConfig, SentinelSink};

fn write_ca(name: &str, pem: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("siem-sentinel-{name}-{}.pem", std::process::id()));
    std::fs::write(&path, pem).unwrap();
    path
}

/// Plays both Entra ID and the data collection endpoint.
fn azure(request: &TestRequest) -> TestResponse {
    if request.path == format!("/{TENANT}/oauth2/v2.0/token") {
        TestResponse::json(
            200,
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"tls-token-1"}"#,
        )
    } else if request.path
        == format!("/dataCollectionRules/{DCR}/streams/Custom-AisgSecurityEvents")
    {
        TestResponse::new(204)
    } else {
        TestResponse::json(
            404,
            r#"{"error":{"code":"NotFound","message":"no such path"}}"#,
        )
    }
}

fn sink_and_tokens(
    server: &TlsTestServer,
    ca_file: Option<PathBuf>,
) -> (SentinelSink, Arc<EntraTokenSource>) {
    let config = SentinelConfig {
        tenant_id: Some(TENANT.into()),
        client_id: Some(CLIENT.into()),
        authority_host: Some(server.endpoint()),
        transport: TransportConfig {
            ca_file,
            ..TransportConfig::default()
        },
        ..SentinelConfig::new(server.endpoint(), DCR)
    };
    let entra = config.entra_options().unwrap().unwrap();
    let tokens =
        Arc::new(EntraTokenSource::new(entra, RecordingCredential::new(CLIENT_SECRET)).unwrap());
    let sink = SentinelSink::new("tls", config.sink_options().unwrap(), tokens.clone()).unwrap();
    (sink, tokens)
}

#[tokio::test]
async fn over_tls_with_the_configured_ca() {
    check_tls(azure, |endpoint, ca_file| {
        let config = SentinelConfig {
            transport: TransportConfig::with_ca_file(ca_file),
            ..SentinelConfig::new(endpoint, DCR)
        };
        let token = RecordingCredential::new("static-token");
        SentinelSink::new("sentinel-tls", config.sink_options().unwrap(), token).unwrap()
    })
    .await;
}

#[tokio::test]
async fn the_token_source_and_the_sink_share_the_configured_ca() {
    let server = TlsTestServer::start(azure).await.unwrap();
    let ca = write_ca("trusted", server.ca_pem());
    let (sink, _) = sink_and_tokens(&server, Some(ca));
    let events = fixture_events();
    let report = sink.deliver(&events).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.delivered, events.len());

    let requests = server.requests();
    assert_eq!(requests.len(), 2, "one token request, one ingestion call");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    assert!(form.contains(&("client_secret".to_owned(), CLIENT_SECRET.to_owned())));
    let call = &requests[1];
    assert_eq!(call.method, "POST");
    assert_eq!(call.query.as_deref(), Some("api-version=2023-01-01"));
    assert_eq!(call.header("authorization"), Some("Bearer tls-token-1"));
    assert_eq!(call.header("content-encoding"), Some("gzip"));
    assert_eq!(
        call.decoded_body().unwrap(),
        encoder::encode(&events, &options(false)).requests[0]
            .body
            .to_vec()
    );
}

#[tokio::test]
async fn without_the_ca_the_certificate_is_refused() {
    let server = TlsTestServer::start(azure).await.unwrap();
    let (sink, tokens) = sink_and_tokens(&server, None);
    let err = tokens.get().await.unwrap_err();
    assert_eq!(err.kind, CredentialErrorKind::Unavailable);
    assert!(err.detail.to_lowercase().contains("certificate"), "{err}");

    let static_sink = SentinelSink::new(
        "tls-static",
        SentinelConfig::new(server.endpoint(), DCR)
            .sink_options()
            .unwrap(),
        RecordingCredential::new("static-token"),
    )
    .unwrap();
    let encoded = static_sink.encode(&fixture_events());
    let err = static_sink.send(&encoded.requests[0]).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    drop(sink);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_even_with_a_ca_file() {
    let server = TlsTestServer::start_untrusted(azure).await.unwrap();
    let ca = write_ca("decoy", server.ca_pem());
    let (sink, tokens) = sink_and_tokens(&server, Some(ca));
    assert_eq!(
        tokens.get().await.unwrap_err().kind,
        CredentialErrorKind::Unavailable
    );
    let report = sink.deliver(&fixture_events()).await;
    assert!(
        matches!(report.error, Some(DeliveryError::Credentials(_))),
        "{report:?}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn an_unreadable_ca_file_fails_the_options_naming_the_file() {
    let with_ca = |path: PathBuf| SentinelConfig {
        transport: TransportConfig::with_ca_file(path),
        ..config()
    };
    let err = with_ca("/nonexistent/ca.pem".into())
        .sink_options()
        .unwrap_err();
    assert_eq!(err.field, "ca_file");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    let bad = write_ca("garbage", "not a certificate");
    let built = with_ca(bad).sink_options().map(|options| {
        SentinelSink::new("s", options, RecordingCredential::new("test-token-1")).is_ok()
    });
    assert!(!matches!(built, Ok(true)), "{built:?}");
}
