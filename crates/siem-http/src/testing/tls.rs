//! The TLS checks every adapter's `tests/tls.rs` makes, over a real HTTPS server with a
//! throwaway CA.

use std::path::PathBuf;
use std::sync::Arc;

use siem_core::{DeliveryError, Endpoint, SiemSink};

use super::{TestRequest, TestResponse, TlsTestServer};

/// Writes `pem` to a file of its own under the temporary directory.
fn ca_file(server: &TlsTestServer, what: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "siem-tls-test-{what}-{}-{}.pem",
        std::process::id(),
        server.addr().port()
    ));
    std::fs::write(&path, server.ca_pem()).expect("write the test CA");
    path
}

/// Checks a sink over real TLS, with `sink(endpoint, ca_file)` building it for a server
/// at `endpoint` whose CA is in `ca_file` (the `ca_file` option), and `answer` the
/// platform's answer to a good request:
///
/// - the CA from the file is trusted: a batch is delivered in one request;
/// - a certificate the configured CA did not issue is refused before anything is sent;
/// - an endless error answer is read only up to the cap (the status still arrives).
pub async fn check_tls<S: SiemSink>(
    answer: fn(&TestRequest) -> TestResponse,
    sink: impl Fn(Endpoint, PathBuf) -> S,
) {
    let events: Vec<_> = siem_core::testing::sample_events()
        .into_iter()
        .map(Arc::new)
        .collect();

    let server = TlsTestServer::start(answer).await.expect("server");
    let trusted = sink(server.endpoint(), ca_file(&server, "trusted"));
    let report = trusted.deliver(&events).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.delivered, events.len());
    assert_eq!(server.requests().len(), 1);

    let server = TlsTestServer::start_untrusted(answer)
        .await
        .expect("server");
    let decoy = sink(server.endpoint(), ca_file(&server, "decoy"));
    match decoy.deliver(&events).await.error {
        Some(DeliveryError::Permanent { detail }) => {
            assert!(detail.message.contains("certificate"), "{detail}");
        }
        other => panic!("expected a refused certificate, got {other:?}"),
    }
    assert!(server.requests().is_empty());

    let server = TlsTestServer::start(|_| TestResponse::new(503).endless_body())
        .await
        .expect("server");
    let endless = sink(server.endpoint(), ca_file(&server, "endless"));
    let err = endless
        .send(&endless.encode(&events).requests[0])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
}

/// What a sink under test is built with: the server's endpoint, a file holding its CA, the
/// credential and the time allowed for a request.
#[derive(Debug)]
pub struct SinkSetup {
    /// The test server's base URL.
    pub endpoint: Endpoint,
    /// A PEM file of the test server's CA (the `ca_file` option).
    pub ca_file: PathBuf,
    /// The credential to send.
    pub credential: Arc<dyn siem_core::CredentialProvider>,
    /// The request timeout to configure.
    pub request_timeout: std::time::Duration,
}

/// Starts a server answering every request with `response` and builds a sink for it.
async fn serve<S>(
    response: TestResponse,
    credential: Arc<dyn siem_core::CredentialProvider>,
    sink: &impl Fn(SinkSetup) -> S,
) -> (TlsTestServer, S) {
    let server = TlsTestServer::start(move |_| response.clone())
        .await
        .expect("server");
    let setup = SinkSetup {
        endpoint: server.endpoint(),
        ca_file: ca_file(&server, "faults"),
        credential,
        request_timeout: std::time::Duration::from_millis(300),
    };
    let built = sink(setup);
    (server, built)
}

/// Checks what every sink does the same way whatever the platform, against a real HTTPS
/// server: `ok` is the platform's success answer, `path` the path requests go to.
///
/// - a server that never answers is a retryable timeout;
/// - a redirect is not followed (permanent, one request);
/// - a huge error body is read up to the cap and its text cut short;
/// - a credential that cannot be read sends nothing;
/// - a secret the platform echoes back appears in no error or `Debug` text;
/// - the sink passes `siem_core::testing::conformance`.
pub async fn check_transport<S: SiemSink + std::fmt::Debug>(
    ok: TestResponse,
    path: &str,
    sink: impl Fn(SinkSetup) -> S,
) {
    use siem_core::testing::{conformance, FailingCredential, RecordingCredential};

    use super::{assert_message_cut_short, assert_secret_absent, assert_timed_out, send_first};

    const SECRET: &str = "transport-check-s3cret-0d6f3b2a";
    let events: Vec<_> = siem_core::testing::sample_events()
        .into_iter()
        .map(Arc::new)
        .collect();
    let credential =
        || -> Arc<dyn siem_core::CredentialProvider> { RecordingCredential::new(SECRET) };

    let (_server, hung) = serve(TestResponse::hang(), credential(), &sink).await;
    assert_timed_out(&send_first(&hung, &events).await);

    let (server, redirected) = serve(
        TestResponse::redirect("https://127.0.0.1:9/elsewhere"),
        credential(),
        &sink,
    )
    .await;
    let result = send_first(&redirected, &events).await;
    assert!(
        matches!(&result, Err(DeliveryError::Permanent { detail }) if detail.status == Some(302)),
        "{result:?}"
    );
    let received = server.requests();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, path);

    let huge = TestResponse::new(500).body("E".repeat(4 * 1024 * 1024));
    let (_server, cut) = serve(huge, credential(), &sink).await;
    assert_message_cut_short(&send_first(&cut, &events).await);

    let (server, failing) = serve(ok.clone(), Arc::new(FailingCredential), &sink).await;
    let err = send_first(&failing, &events).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Credentials(_)), "{err:?}");
    assert!(err.to_string().contains("env:MISSING_TOKEN"));
    assert!(server.requests().is_empty());

    // A platform (or proxy) that echoes the credential back in its error text.
    let echo = TestResponse::new(403).body(format!("invalid credential {SECRET}"));
    let (_server, echoed) = serve(echo, credential(), &sink).await;
    let report = echoed.deliver(&events).await;
    let err = report.error.clone().unwrap();
    assert_secret_absent(
        SECRET,
        [
            format!("{echoed:?}"),
            format!("{echoed:#?}"),
            err.to_string(),
            format!("{err:?}"),
            format!("{report:?}"),
        ],
    );
    assert!(err.to_string().contains("[REDACTED]"), "{err}");

    let (_server, good) = serve(ok, credential(), &sink).await;
    conformance::check_encoding(&good).unwrap();
    conformance::check_delivery(&good, Some(&siem_core::Secret::new(SECRET)))
        .await
        .unwrap();
}
