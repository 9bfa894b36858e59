//! The Entra ID token source against a wiremock token endpoint: the exact form, caching
//! until shortly before expiry (on an injected clock), one request in flight for many
//! callers, invalidation, error mapping, and secrets kept out of every message.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use siem_core::testing::RecordingCredential;
use siem_core::{CredentialErrorKind, CredentialProvider, Endpoint, Secret};
use siem_secrets::entra::{EntraOptions, EntraTokenSource, FAILED_REFRESH_BACKOFF};
use siem_secrets::ManualClock;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
const CLIENT_SECRET: &str = "cl1ent-s3cret~value";

/// Options for [`TENANT`] and [`CLIENT`] at the plain-HTTP authority `uri`.
fn mock_entra(uri: &str) -> EntraOptions {
    let http = siem_http::HttpOptions::new("entra-test/1")
        .allow_plain_http_loopback()
        .request_timeout(Duration::from_secs(5));
    let authority = Some(Endpoint::plain_http_loopback(uri).unwrap());
    EntraOptions::new("sentinel", TENANT, CLIENT, authority, &None, http).unwrap()
}

fn token_path() -> String {
    format!("/{TENANT}/oauth2/v2.0/token")
}

/// Answers `tok-1`, `tok-2`, … valid for `expires_in` seconds, after `delay`.
struct Tokens {
    issued: AtomicUsize,
    expires_in: u64,
    delay: Duration,
}

impl Respond for Tokens {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": format!("tok-{n}"),
            }))
            .set_delay(self.delay)
    }
}

async fn token_server(expires_in: u64, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(Tokens {
            issued: AtomicUsize::new(0),
            expires_in,
            delay,
        })
        .mount(&server)
        .await;
    server
}

/// `source.get()` from `callers` tasks at once; their results.
async fn get_at_once(
    source: &Arc<EntraTokenSource>,
    callers: usize,
) -> Vec<Result<Secret, siem_core::CredentialError>> {
    let tasks = (0..callers).map(|_| {
        let source = source.clone();
        tokio::spawn(async move { source.get().await })
    });
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|task| task.expect("the caller finished"))
        .collect()
}

async fn failing_server(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn source_with(server: &MockServer, secret: Arc<RecordingCredential>) -> EntraTokenSource {
    let options = mock_entra(&server.uri());
    EntraTokenSource::new(options, secret).unwrap()
}

fn source(server: &MockServer) -> EntraTokenSource {
    source_with(server, RecordingCredential::new(CLIENT_SECRET))
}

/// A source for `server` on a manual clock, and the clock.
fn clocked_source(server: &MockServer) -> (ManualClock, EntraTokenSource) {
    let clock = ManualClock::new();
    let source = source(server).with_clock(clock.clone());
    (clock, source)
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn posts_the_exact_client_credentials_form() {
    let server = token_server(3599, Duration::ZERO).await;
    let token = source(&server).get().await.unwrap();
    assert_eq!(token.expose(), "tok-1");
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), token_path());
    assert_eq!(request.url.query(), None);
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        request.headers.get("user-agent").unwrap().to_str().unwrap(),
        "entra-test/1"
    );
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    let expected: BTreeMap<String, String> = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT),
        ("client_secret", CLIENT_SECRET),
        ("scope", "https://monitor.azure.com/.default"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form, expected);
    // Exactly these four fields, each once.
    assert_eq!(url::form_urlencoded::parse(&request.body).count(), 4);
}

#[tokio::test]
async fn caches_until_shortly_before_expiry() {
    let server = token_server(3600, Duration::ZERO).await;
    let (clock, source) = clocked_source(&server);
    assert_eq!(source.get().await.unwrap().expose(), "tok-1");
    // 3600 s lifetime → refreshed 300 s (the 5-minute cap of the 10 % margin) early.
    clock.advance(Duration::from_secs(3300) - Duration::from_millis(1));
    assert_eq!(source.get().await.unwrap().expose(), "tok-1");
    assert_eq!(requests(&server).await, 1);
    clock.advance(Duration::from_millis(1));
    assert_eq!(source.get().await.unwrap().expose(), "tok-2");
    assert_eq!(source.get().await.unwrap().expose(), "tok-2");
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn short_lived_tokens_keep_a_ten_percent_margin() {
    let server = token_server(600, Duration::ZERO).await;
    let (clock, source) = clocked_source(&server);
    assert_eq!(source.get().await.unwrap().expose(), "tok-1");
    clock.advance(Duration::from_secs(539));
    assert_eq!(source.get().await.unwrap().expose(), "tok-1");
    clock.advance(Duration::from_secs(1));
    assert_eq!(source.get().await.unwrap().expose(), "tok-2");
}

#[tokio::test]
async fn expires_in_as_a_string_is_accepted() {
    let server = failing_server(ResponseTemplate::new(200).set_body_json(
        serde_json::json!({"token_type": "Bearer", "expires_in": "3599", "access_token": "tok-s"}),
    ))
    .await;
    let (clock, source) = clocked_source(&server);
    assert_eq!(source.get().await.unwrap().expose(), "tok-s");
    clock.advance(Duration::from_secs(3000));
    source.get().await.unwrap();
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_callers_on_a_cold_cache_make_one_request() {
    let server = token_server(3599, Duration::from_millis(200)).await;
    let source = Arc::new(source(&server));
    for result in get_at_once(&source, 50).await {
        assert_eq!(result.unwrap().expose(), "tok-1");
    }
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_failure() {
    let server =
        failing_server(ResponseTemplate::new(503).set_delay(Duration::from_millis(200))).await;
    let (clock, source) = clocked_source(&server);
    let source = Arc::new(source);
    for result in get_at_once(&source, 20).await {
        assert_eq!(result.unwrap_err().kind, CredentialErrorKind::Unavailable);
    }
    assert_eq!(requests(&server).await, 1);
    // Within the back-off the failure is remembered; a later call tries again.
    assert!(source.get().await.is_err());
    assert_eq!(requests(&server).await, 1);
    clock.advance(FAILED_REFRESH_BACKOFF);
    assert!(source.get().await.is_err());
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalidate_causes_exactly_one_refetch() {
    let server = token_server(3599, Duration::from_millis(50)).await;
    let source = Arc::new(source(&server));
    let first = source.get().await.unwrap();
    assert_eq!(first.expose(), "tok-1");

    // A stale report about another token changes nothing.
    source.invalidate(&Secret::new("tok-0"));
    assert_eq!(source.get().await.unwrap().expose(), "tok-1");
    assert_eq!(requests(&server).await, 1);

    source.invalidate(&first);
    for result in get_at_once(&source, 10).await {
        assert_eq!(result.unwrap().expose(), "tok-2");
    }
    assert_eq!(requests(&server).await, 2);
    // Reporting the old token again (e.g. from a request that was in flight) is ignored.
    source.invalidate(&first);
    assert_eq!(source.get().await.unwrap().expose(), "tok-2");
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn a_failed_refresh_keeps_using_a_still_valid_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Tokens {
            issued: AtomicUsize::new(0),
            expires_in: 3600,
            delay: Duration::ZERO,
        })
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let (clock, source) = clocked_source(&server);
    assert_eq!(source.get().await.unwrap().expose(), "tok-1");
    clock.advance(Duration::from_secs(3400)); // past the refresh time, before expiry
    assert_eq!(source.get().await.unwrap().expose(), "tok-1");
    assert_eq!(requests(&server).await, 2);
    // Within the back-off no new request is made.
    clock.advance(Duration::from_secs(5));
    assert_eq!(source.get().await.unwrap().expose(), "tok-1");
    assert_eq!(requests(&server).await, 2);
    // Once expired, the failure surfaces.
    clock.advance(Duration::from_secs(300));
    let err = source.get().await.unwrap_err();
    assert_eq!(err.kind, CredentialErrorKind::Unavailable);
    assert_eq!(requests(&server).await, 3);
}

fn entra_error(error: &str, description: &str, code: u64) -> serde_json::Value {
    serde_json::json!({
        "error": error,
        "error_description": format!("{description}\r\nTrace ID: 0f5c\r\nCorrelation ID: 9a1b\r\nTimestamp: 2026-06-08 20:15:30Z"),
        "error_codes": [code],
        "timestamp": "2026-06-08 20:15:30Z",
        "trace_id": "0f5c",
        "correlation_id": "9a1b",
    })
}

#[tokio::test]
async fn entra_errors_map_to_credential_error_kinds() {
    let cases = [
        (
            401,
            entra_error(
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
                7_000_215,
            ),
            CredentialErrorKind::Rejected,
            "invalid_client: AADSTS7000215: Invalid client secret provided.",
            true,
        ),
        (
            400,
            entra_error(
                "invalid_request",
                "AADSTS90002: Tenant '72f988bf' not found.",
                90_002,
            ),
            CredentialErrorKind::Rejected,
            "AADSTS90002",
            false,
        ),
        (
            400,
            entra_error(
                "unauthorized_client",
                "AADSTS700016: Application with identifier was not found in the directory.",
                700_016,
            ),
            CredentialErrorKind::Rejected,
            "AADSTS700016",
            false,
        ),
        (
            429,
            serde_json::json!({}),
            CredentialErrorKind::Throttled,
            "HTTP 429",
            false,
        ),
        (
            500,
            serde_json::json!({}),
            CredentialErrorKind::Unavailable,
            "HTTP 500",
            false,
        ),
        (
            503,
            entra_error(
                "temporarily_unavailable",
                "AADSTS90033: A transient error has occurred.",
                90_033,
            ),
            CredentialErrorKind::Unavailable,
            "temporarily_unavailable",
            false,
        ),
    ];
    for (status, body, kind, fragment, invalidates_secret) in cases {
        let server = failing_server(ResponseTemplate::new(status).set_body_json(body)).await;
        let secret = RecordingCredential::new(CLIENT_SECRET);
        let err = source_with(&server, secret.clone())
            .get()
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "HTTP {status}: {err}");
        assert_eq!(err.reference, format!("entra:{TENANT}/{CLIENT}"));
        assert!(
            err.detail.contains(fragment),
            "HTTP {status}: {}",
            err.detail
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains(CLIENT_SECRET), "{text}");
        assert!(
            !text.contains("Trace ID:"),
            "only the first description line: {text}"
        );
        if !matches!(status, 429 | 500) {
            assert!(
                text.contains("trace_id 0f5c, correlation_id 9a1b"),
                "{text}"
            );
        }
        let expected: Vec<String> = if invalidates_secret {
            vec![CLIENT_SECRET.to_owned()]
        } else {
            vec![]
        };
        assert_eq!(secret.invalidated(), expected, "HTTP {status}");
    }
}

#[tokio::test]
async fn a_malformed_answer_is_malformed() {
    for body in [
        serde_json::json!({"expires_in": 3599}),
        serde_json::json!({"access_token": "x"}),
        serde_json::json!({"access_token": "x", "expires_in": "soon"}),
        serde_json::json!(["not", "an", "object"]),
    ] {
        let server = failing_server(ResponseTemplate::new(200).set_body_json(body.clone())).await;
        let err = source(&server).get().await.unwrap_err();
        assert_eq!(err.kind, CredentialErrorKind::Malformed, "{body}");
        assert!(!err.to_string().contains("\"x\""), "{err}");
    }
}

#[tokio::test]
async fn a_hung_token_endpoint_is_unavailable() {
    let server = token_server(3599, Duration::from_secs(30)).await;
    let options =
        mock_entra(&server.uri()).map_http(|h| h.request_timeout(Duration::from_millis(300)));
    let source = EntraTokenSource::new(options, RecordingCredential::new(CLIENT_SECRET)).unwrap();
    let err = source.get().await.unwrap_err();
    assert_eq!(err.kind, CredentialErrorKind::Unavailable);
    assert!(err.detail.contains("timed out"), "{err}");
    assert!(err.kind.is_retryable());
}

#[tokio::test]
async fn a_secret_store_failure_names_both_references() {
    #[derive(Debug)]
    struct Missing;
    #[async_trait::async_trait]
    impl CredentialProvider for Missing {
        async fn get(&self) -> Result<Secret, siem_core::CredentialError> {
            Err(siem_core::CredentialError::new(
                "aws:prod/sentinel#client_secret",
                CredentialErrorKind::NotFound,
                "",
            ))
        }
        fn describe(&self) -> String {
            "aws:prod/sentinel#client_secret".to_owned()
        }
    }
    let server = token_server(3599, Duration::ZERO).await;
    let options = mock_entra(&server.uri());
    let err = EntraTokenSource::new(options, Arc::new(Missing))
        .unwrap()
        .get()
        .await
        .unwrap_err();
    assert_eq!(err.kind, CredentialErrorKind::NotFound);
    assert_eq!(err.reference, format!("entra:{TENANT}/{CLIENT}"));
    assert!(
        err.detail.contains("aws:prod/sentinel#client_secret"),
        "{err}"
    );
    assert_eq!(requests(&server).await, 0);
}

#[tokio::test]
async fn an_echoed_secret_is_scrubbed_and_debug_shows_no_secret_or_token() {
    let server = failing_server(ResponseTemplate::new(400).set_body_json(serde_json::json!({
        "error": "invalid_client",
        "error_description": format!("AADSTS7000215: secret {CLIENT_SECRET} is wrong"),
    })))
    .await;
    let err = source(&server).get().await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(CLIENT_SECRET));
    assert!(err.detail.contains("[REDACTED]"), "{err}");

    let server = token_server(3599, Duration::ZERO).await;
    let source = source(&server);
    let token = source.get().await.unwrap();
    let debug = format!("{source:?} {:?} {token:?} {token}", source.options());
    assert!(!debug.contains(CLIENT_SECRET), "{debug}");
    assert!(!debug.contains("tok-1"), "{debug}");
    assert!(debug.contains(CLIENT) && debug.contains(TENANT), "{debug}");
}
