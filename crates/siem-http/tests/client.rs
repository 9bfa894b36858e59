//! HttpClient behaviour against real TLS servers on 127.0.0.1 (the `testing` module) and a
//! plain-HTTP wiremock reached through the loopback escape hatch.

use std::time::{Duration, SystemTime};

use siem_core::DeliveryError;
use siem_http::testing::{TestCa, TestResponse, TlsTestServer};
use siem_http::{classify_status, HttpClient, HttpOptions};

fn client_trusting(ca_pem: &str) -> HttpClient {
    HttpClient::new(&HttpOptions::new("siem-http-test/1").extra_root_ca_pem(ca_pem))
        .expect("client with the test CA")
}

#[tokio::test]
async fn extra_ca_is_trusted_and_request_arrives_intact() {
    let server = TlsTestServer::start(|_| TestResponse::json(200, r#"{"ok":true}"#))
        .await
        .unwrap();
    let client = client_trusting(server.ca_pem());
    let url = server.url().join("/in?x=1").unwrap();
    let headers = [(
        siem_http::HeaderName::from_static("x-test"),
        siem_http::HeaderValue::from_static("yes"),
    )];
    let response = client.post(&url, &headers, "payload".into()).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(&response.body[..], br#"{"ok":true}"#);
    assert!(!response.truncated);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/in");
    assert_eq!(r.query.as_deref(), Some("x=1"));
    assert_eq!(r.header("x-test"), Some("yes"));
    assert_eq!(r.header("user-agent"), Some("siem-http-test/1"));
    assert_eq!(&r.body[..], b"payload");
}

#[tokio::test]
async fn servers_sharing_a_ca_are_trusted_by_one_pem() {
    let ca = TestCa::new("shared").unwrap();
    let a = TlsTestServer::start_with_ca(&ca, |_| TestResponse::new(204))
        .await
        .unwrap();
    let b = TlsTestServer::start_with_ca(&ca, |_| TestResponse::new(202))
        .await
        .unwrap();
    let client = client_trusting(ca.cert_pem());
    let ra = client.post(a.url(), &[], "1".into()).await.unwrap();
    let rb = client.post(b.url(), &[], "2".into()).await.unwrap();
    assert_eq!((ra.status, rb.status), (204, 202));
}

fn assert_certificate_refused(result: Result<siem_http::HttpResponse, DeliveryError>) {
    match result {
        Err(DeliveryError::Permanent { detail }) => {
            assert_eq!(detail.status, None);
            assert!(
                detail.message.to_lowercase().contains("certificate"),
                "{}",
                detail.message
            );
        }
        other => panic!("expected a permanent TLS failure, got {other:?}"),
    }
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused_as_permanent() {
    let server = TlsTestServer::start_untrusted(|_| TestResponse::new(200))
        .await
        .unwrap();
    let client = client_trusting(server.ca_pem());
    assert_certificate_refused(client.post(server.url(), &[], "x".into()).await);
    assert!(
        server.requests().is_empty(),
        "no request may pass the handshake"
    );
}

#[tokio::test]
async fn without_the_extra_ca_the_test_ca_is_not_trusted() {
    let server = TlsTestServer::start(|_| TestResponse::new(200))
        .await
        .unwrap();
    let client = HttpClient::new(&HttpOptions::new("siem-http-test/1")).unwrap();
    assert_certificate_refused(client.post(server.url(), &[], "x".into()).await);
}

#[tokio::test]
async fn hung_server_is_a_retryable_timeout() {
    let server = TlsTestServer::start(|_| TestResponse::hang())
        .await
        .unwrap();
    let options = HttpOptions::new("t/1")
        .extra_root_ca_pem(server.ca_pem())
        .request_timeout(Duration::from_millis(300));
    let client = HttpClient::new(&options).unwrap();
    match client.post(server.url(), &[], "x".into()).await {
        Err(e @ DeliveryError::Retryable { .. }) => {
            let text = e.to_string();
            assert!(text.contains("timed out"), "{text}");
            assert!(e.is_retryable());
        }
        other => panic!("expected a retryable timeout, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 1, "the request did arrive");
}

#[tokio::test]
async fn redirect_is_returned_not_followed() {
    let server = TlsTestServer::start(|req| {
        if req.path == "/start" {
            TestResponse::redirect("/elsewhere")
        } else {
            TestResponse::new(200)
        }
    })
    .await
    .unwrap();
    let client = client_trusting(server.ca_pem());
    let url = server.url().join("/start").unwrap();
    let response = client.post(&url, &[], "x".into()).await.unwrap();
    assert_eq!(response.status, 302);
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/start"]);
    assert!(matches!(
        classify_status(response.status, None, None, String::new()),
        Err(DeliveryError::Permanent { .. })
    ));
}

#[tokio::test]
async fn endless_response_body_is_read_only_up_to_the_cap() {
    let server = TlsTestServer::start(|_| TestResponse::new(500).endless_body())
        .await
        .unwrap();
    let options = HttpOptions::new("t/1")
        .extra_root_ca_pem(server.ca_pem())
        .max_response_bytes(1000);
    let client = HttpClient::new(&options).unwrap();
    // Reading the whole body would never finish; the cap makes the call return.
    let response = client.post(server.url(), &[], "x".into()).await.unwrap();
    assert_eq!(response.status, 500);
    assert_eq!(response.body.len(), 1000);
    assert!(response.truncated);
    assert!(response.body_text().ends_with('…'));
}

#[tokio::test]
async fn retry_after_seconds_and_dates_are_parsed() {
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    let server = TlsTestServer::start(move |req| match req.path.as_str() {
        "/seconds" => TestResponse::new(429).header("Retry-After", "7"),
        "/date" => TestResponse::new(503).header("Retry-After", &date),
        "/garbage" => TestResponse::new(429).header("Retry-After", "soon"),
        _ => TestResponse::new(429),
    })
    .await
    .unwrap();
    let client = client_trusting(server.ca_pem());
    let post = |path: &'static str| {
        let url = server.url().join(path).expect("valid path");
        let client = client.clone();
        async move {
            client
                .post(&url, &[], "x".into())
                .await
                .expect("a response")
        }
    };
    assert_eq!(
        post("/seconds").await.retry_after,
        Some(Duration::from_secs(7))
    );
    let from_date = post("/date").await.retry_after.unwrap();
    assert!(from_date > Duration::from_secs(3000) && from_date <= Duration::from_secs(3600));
    assert_eq!(post("/garbage").await.retry_after, None);
    assert_eq!(post("/none").await.retry_after, None);
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = HttpClient::new(&HttpOptions::new("t/1")).unwrap();
    let url = url::Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
    let err = client.post(&url, &[], "x".into()).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn plain_http_only_with_the_loopback_escape_hatch() {
    let mock = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&mock)
        .await;
    let url = url::Url::parse(&mock.uri()).unwrap();
    let strict = HttpClient::new(&HttpOptions::new("t/1")).unwrap();
    match strict.post(&url, &[], "x".into()).await {
        Err(DeliveryError::Permanent { .. }) => {}
        other => panic!("plain HTTP must be refused, got {other:?}"),
    }
    let loose = HttpClient::new(&HttpOptions::new("t/1").allow_plain_http_loopback()).unwrap();
    assert_eq!(loose.post(&url, &[], "x".into()).await.unwrap().status, 200);
}

#[test]
fn invalid_ca_pem_is_a_build_error() {
    let err = HttpClient::new(&HttpOptions::new("t/1").extra_root_ca_pem("not a pem")).unwrap_err();
    assert!(
        matches!(err, siem_http::HttpError::InvalidCa { .. }),
        "{err:?}"
    );
}

#[test]
fn scrub_secret_removes_an_echoed_credential_from_every_class() {
    use siem_core::ErrorDetail;
    use siem_http::scrub_secret;
    let detail = || ErrorDetail::http(403, Some("k-123".to_owned()), "bad key k-123 (k-123)");
    for error in [
        DeliveryError::Retryable {
            detail: detail(),
            retry_after: Some(Duration::from_secs(1)),
        },
        DeliveryError::Permanent { detail: detail() },
        DeliveryError::CredentialsRejected { detail: detail() },
        DeliveryError::PayloadTooLarge { detail: detail() },
    ] {
        let clean = scrub_secret(error.clone(), "k-123");
        let text = format!("{clean} {clean:?}");
        assert!(!text.contains("k-123"), "{text}");
        assert_eq!(
            clean.detail().unwrap().message,
            "bad key [REDACTED] ([REDACTED])"
        );
        assert_eq!(clean.retry_after(), error.retry_after());
        assert_eq!(
            std::mem::discriminant(&clean),
            std::mem::discriminant(&error)
        );
    }
    let untouched = DeliveryError::Permanent { detail: detail() };
    assert_eq!(scrub_secret(untouched.clone(), ""), untouched);
}
