//! The TLS checks every adapter's `tests/tls.rs` makes, over a real HTTPS server with a
//! throwaway CA.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::RecordingCredential;
use siem_core::{DeliveryError, Endpoint, SecurityEvent, SiemSink};

use super::{outcome_class, send_first, OutcomeClass, TestRequest, TestResponse, TlsTestServer};
use crate::{Adapter, BuildError, HttpSink, TimeoutsConfig, TransportConfig};

/// One event of every type, as sinks take them.
fn sample_events() -> Vec<Arc<SecurityEvent>> {
    siem_core::testing::sample_events()
        .into_iter()
        .map(Arc::new)
        .collect()
}

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
    let events = sample_events();

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
    pub request_timeout: Duration,
}

impl SinkSetup {
    /// The sink's `ca_file`, `ca_pem` and `timeouts` settings: the server's CA file and
    /// the request timeout.
    pub fn transport(&self) -> TransportConfig {
        let request_ms = u64::try_from(self.request_timeout.as_millis()).ok();
        TransportConfig {
            timeouts: TimeoutsConfig::new(None, request_ms),
            ..TransportConfig::with_ca_file(&self.ca_file)
        }
    }
}

/// Checks the build errors every sink names alike: `options` whose extra CA is not PEM
/// fail a sink, which the error names, and an empty sink name is refused.
pub fn check_build_errors<A: Adapter + Clone>(options: A) {
    let credential = RecordingCredential::new("build-errors-s3cret");
    let err = HttpSink::new("bad-ca", options.clone(), credential.clone()).unwrap_err();
    assert!(err.to_string().contains("bad-ca"), "{err}");
    assert!(matches!(
        HttpSink::new("", options, credential),
        Err(BuildError::EmptyName { .. })
    ));
}

/// Starts a server answering every request with `response` and builds a sink for it that
/// gives up on a request after `request_timeout`.
async fn serve<S>(
    response: TestResponse,
    credential: Arc<dyn siem_core::CredentialProvider>,
    request_timeout: Duration,
    sink: &impl Fn(SinkSetup) -> S,
) -> (TlsTestServer, S) {
    let server = TlsTestServer::start(move |_| response.clone())
        .await
        .expect("server");
    let setup = SinkSetup {
        endpoint: server.endpoint(),
        ca_file: ca_file(&server, "faults"),
        credential,
        request_timeout,
    };
    let built = sink(setup);
    (server, built)
}

/// Short, so that the hang check is quick; every other answer comes at once.
const TRANSPORT_TIMEOUT: Duration = Duration::from_millis(300);

/// One row of a status table: the platform's answer (status, body, `Retry-After`), then
/// what the sink must make of it (outcome class, the platform's error code, a fragment of
/// the error message).
pub type StatusCase<'a> = (
    u16,
    &'a str,
    Option<&'a str>,
    OutcomeClass,
    Option<&'a str>,
    &'a str,
);

/// Checks how a sink maps each answer of `cases`, each from a real HTTPS server, with
/// `sink` building it as for [`check_transport`]: the outcome class (and on success the
/// status), the error detail's status, code and message, and that the credential is
/// invalidated exactly when the platform rejected it.
pub async fn check_status_table<S: SiemSink>(
    cases: &[StatusCase<'_>],
    sink: impl Fn(SinkSetup) -> S,
) {
    const SECRET: &str = "status-table-s3cret";
    let events = sample_events();
    for &(status, body, retry_after, expected, code, message) in cases {
        let mut answer = TestResponse::new(status).body(body.to_owned());
        if let Some(value) = retry_after {
            answer = answer.header("Retry-After", value);
        }
        let credential = RecordingCredential::new(SECRET);
        let (_server, sink) = serve(answer, credential.clone(), STATUS_TIMEOUT, &sink).await;
        let result = send_first(&sink, &events).await;
        let what = format!("{status} {body}: {result:?}");
        assert_eq!(outcome_class(&result), expected, "{what}");
        match &result {
            Ok(ack) => assert_eq!(ack.status, status, "{what}"),
            Err(e) => {
                let detail = e.detail().unwrap();
                assert_eq!(detail.status, Some(status), "{what}");
                assert_eq!(detail.code.as_deref(), code, "{what}");
                assert!(detail.message.contains(message), "{what}");
            }
        }
        let invalidated = credential.invalidated();
        if expected == OutcomeClass::Credentials {
            assert_eq!(invalidated, [SECRET], "{what}");
        } else {
            assert!(invalidated.is_empty(), "{what}");
        }
    }
}

/// Long enough for a loaded machine; no status case waits.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

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
    use siem_core::testing::{conformance, FailingCredential};

    use super::{assert_message_cut_short, assert_secret_absent, assert_timed_out};

    const SECRET: &str = "transport-check-s3cret-0d6f3b2a";
    let events = sample_events();
    let credential =
        || -> Arc<dyn siem_core::CredentialProvider> { RecordingCredential::new(SECRET) };

    let (_server, hung) = serve(TestResponse::hang(), credential(), TRANSPORT_TIMEOUT, &sink).await;
    assert_timed_out(&send_first(&hung, &events).await);

    let (server, redirected) = serve(
        TestResponse::redirect("https://127.0.0.1:9/elsewhere"),
        credential(),
        TRANSPORT_TIMEOUT,
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
    let (_server, cut) = serve(huge, credential(), TRANSPORT_TIMEOUT, &sink).await;
    assert_message_cut_short(&send_first(&cut, &events).await);

    let (server, failing) = serve(
        ok.clone(),
        Arc::new(FailingCredential),
        TRANSPORT_TIMEOUT,
        &sink,
    )
    .await;
    let err = send_first(&failing, &events).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Credentials(_)), "{err:?}");
    assert!(err.to_string().contains("env:MISSING_TOKEN"));
    assert!(server.requests().is_empty());

    // A platform (or proxy) that echoes the credential back in its error text.
    let echo = TestResponse::new(403).body(format!("invalid credential {SECRET}"));
    let (_server, echoed) = serve(echo, credential(), TRANSPORT_TIMEOUT, &sink).await;
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

    let (_server, good) = serve(ok, credential(), TRANSPORT_TIMEOUT, &sink).await;
    conformance::check_encoding(&good).unwrap();
    conformance::check_delivery(&good, Some(&siem_core::Secret::new(SECRET)))
        .await
        .unwrap();
}
