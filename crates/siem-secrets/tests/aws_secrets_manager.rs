//! The AWS provider driven through the real SDK client against a wiremock server that
//! speaks the Secrets Manager JSON API (`POST /`, `X-Amz-Target:
//! secretsmanager.GetSecretValue`, `application/x-amz-json-1.1`).
#![cfg(feature = "aws")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::aws::{
    answer_first_then, aws_error, get_secret_value, requests, secret_response, store, JSON_1_1,
};
use serde_json::json;
use siem_core::{CredentialErrorKind as K, CredentialProvider, Secret};
use siem_secrets::{CacheOptions, ManualClock, SecretRef, SecretResolver, DEFAULT_TTL};
use wiremock::{MockServer, ResponseTemplate};

fn resolver(server: &MockServer, clock: &ManualClock, options: CacheOptions) -> SecretResolver {
    SecretResolver::builder()
        .aws(store(&server.uri()))
        .clock(Arc::new(clock.clone()))
        .cache_options(options)
        .build()
}

/// The provider of the whole secret `secret_id` from `server`, cached under `clock`.
async fn whole_secret(
    server: &MockServer,
    clock: &ManualClock,
    options: CacheOptions,
    secret_id: &str,
) -> Arc<dyn CredentialProvider> {
    let reference = SecretRef::aws(secret_id, None);
    resolver(server, clock, options)
        .resolve(&reference)
        .await
        .unwrap()
}

#[tokio::test]
async fn plain_string_secret() {
    let server = MockServer::start().await;
    get_secret_value("prod/hec")
        .respond_with(secret_response("prod/hec", "hec-token-plain"))
        .expect(1)
        .mount(&server)
        .await;
    let provider = store(&server.uri()).secret("prod/hec", None);
    assert_eq!(provider.describe(), "aws:prod/hec");
    assert_eq!(provider.get().await.unwrap().expose(), "hec-token-plain");
}

#[tokio::test]
async fn json_secret_with_key_and_arn_reference() {
    let server = MockServer::start().await;
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/siem-AbCdEf";
    get_secret_value(arn)
        .respond_with(secret_response(
            "prod/siem",
            r#"{"hec_token":"hec-from-json","dd_api_key":"dd-from-json"}"#,
        ))
        .mount(&server)
        .await;
    let store = store(&server.uri());
    let hec = store.secret(arn, Some("hec_token"));
    let dd = store.secret(arn, Some("dd_api_key"));
    assert_eq!(hec.describe(), format!("aws:{arn}#hec_token"));
    assert_eq!(hec.get().await.unwrap().expose(), "hec-from-json");
    assert_eq!(dd.get().await.unwrap().expose(), "dd-from-json");
}

#[tokio::test]
async fn value_shape_errors_are_malformed_or_missing_key() {
    let server = MockServer::start().await;
    for (id, value) in [
        ("shape/plain", "not-json-value"),
        ("shape/array", r#"["a"]"#),
        ("shape/number", r#"{"hec_token": 12345}"#),
        ("shape/other", r#"{"other": "x"}"#),
    ] {
        get_secret_value(id)
            .respond_with(secret_response(id, value))
            .mount(&server)
            .await;
    }
    let binary = json!({"ARN": "arn:x", "Name": "shape/binary", "SecretBinary": "AAEC"});
    get_secret_value("shape/binary")
        .respond_with(ResponseTemplate::new(200).set_body_raw(binary.to_string(), JSON_1_1))
        .mount(&server)
        .await;
    let store = store(&server.uri());
    for (id, key, want) in [
        ("shape/plain", Some("hec_token"), K::Malformed),
        ("shape/array", Some("hec_token"), K::Malformed),
        ("shape/number", Some("hec_token"), K::Malformed),
        ("shape/other", Some("hec_token"), K::MissingKey),
        ("shape/binary", None, K::Malformed),
    ] {
        let err = store.secret(id, key).get().await.unwrap_err();
        assert_eq!(err.kind, want, "{id}: {err}");
        let shown = key.map_or(format!("aws:{id}"), |k| format!("aws:{id}#{k}"));
        assert_eq!(err.reference, shown);
        assert!(err
            .to_string()
            .starts_with(&format!("credential {shown}: ")));
    }
}

#[tokio::test]
async fn every_store_error_maps_to_its_kind() {
    let server = MockServer::start().await;
    let cases: [(&str, ResponseTemplate, K); 8] = [
        (
            "err/missing",
            aws_error(
                400,
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret.",
            ),
            K::NotFound,
        ),
        (
            "err/denied",
            aws_error(
                400,
                "AccessDeniedException",
                "User is not authorized to perform GetSecretValue",
            ),
            K::AccessDenied,
        ),
        (
            "err/kms",
            aws_error(
                400,
                "DecryptionFailure",
                "Secrets Manager can't decrypt the protected secret text",
            ),
            K::Decryption,
        ),
        (
            "err/throttled",
            aws_error(400, "ThrottlingException", "Rate exceeded"),
            K::Throttled,
        ),
        ("err/429", ResponseTemplate::new(429), K::Throttled),
        (
            "err/internal",
            aws_error(
                500,
                "InternalServiceError",
                "An error occurred on the server side.",
            ),
            K::Unavailable,
        ),
        ("err/503", ResponseTemplate::new(503), K::Unavailable),
        (
            "err/deleted",
            aws_error(
                400,
                "InvalidRequestException",
                "the secret is marked for deletion",
            ),
            K::NotFound,
        ),
    ];
    for (id, response, _) in &cases {
        get_secret_value(id)
            .respond_with(response.clone())
            .mount(&server)
            .await;
    }
    let store = store(&server.uri());
    for (id, _, want) in &cases {
        let err = store.secret(*id, None).get().await.unwrap_err();
        assert_eq!(err.kind, *want, "{id}: {err}");
        assert_eq!(err.reference, format!("aws:{id}"));
        assert!(!err.detail.is_empty(), "{id}");
    }
    assert_eq!(requests(&server).await, cases.len(), "retries are disabled");
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = store(&format!("http://127.0.0.1:{port}"))
        .secret("prod/hec", None)
        .get()
        .await
        .unwrap_err();
    assert_eq!(err.kind, K::Unavailable, "{err}");
    assert!(err.kind.is_retryable());
    assert_eq!(err.reference, "aws:prod/hec");
}

#[tokio::test]
async fn resolver_caches_for_the_ttl_and_shares_one_cache_across_sinks() {
    let server = MockServer::start().await;
    get_secret_value("prod/siem")
        .respond_with(secret_response(
            "prod/siem",
            r#"{"hec":"hec-v1","dd":"dd-v1"}"#,
        ))
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let resolver = resolver(&server, &clock, CacheOptions::default());
    let reference = SecretRef::aws("prod/siem", Some("hec"));
    let sink_a = resolver.resolve(&reference).await.unwrap();
    let sink_b = resolver.resolve(&reference).await.unwrap();
    assert_eq!(sink_a.get().await.unwrap().expose(), "hec-v1");
    assert_eq!(sink_b.get().await.unwrap().expose(), "hec-v1");
    assert_eq!(requests(&server).await, 1, "both sinks share one cache");
    clock.advance(DEFAULT_TTL - Duration::from_secs(1));
    assert_eq!(sink_a.get().await.unwrap().expose(), "hec-v1");
    assert_eq!(requests(&server).await, 1);
    clock.advance(Duration::from_secs(1));
    assert_eq!(sink_b.get().await.unwrap().expose(), "hec-v1");
    assert_eq!(requests(&server).await, 2, "refetched at the TTL");
    // Another key of the same secret is its own cache entry.
    let dd = resolver
        .resolve(&SecretRef::aws("prod/siem", Some("dd")))
        .await
        .unwrap();
    assert_eq!(dd.get().await.unwrap().expose(), "dd-v1");
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn stale_value_on_store_errors_until_max_staleness() {
    let (_guard, logs) = common::capture_logs();
    let server = MockServer::start().await;
    answer_first_then(
        &server,
        "prod/stale",
        (secret_response("prod/stale", "stale-ok-v1"), 1),
        aws_error(500, "InternalServiceError", "boom"),
    )
    .await;
    let clock = ManualClock::new();
    let options = CacheOptions::default().with_max_staleness(Duration::from_secs(60));
    let provider = whole_secret(&server, &clock, options, "prod/stale").await;
    assert_eq!(provider.get().await.unwrap().expose(), "stale-ok-v1");
    clock.advance(DEFAULT_TTL);
    assert_eq!(provider.get().await.unwrap().expose(), "stale-ok-v1");
    assert_eq!(requests(&server).await, 2);
    let text = logs.text();
    assert!(
        text.contains("WARN") && text.contains("serving the cached value"),
        "{text}"
    );
    assert!(text.contains("aws:prod/stale"), "{text}");
    clock.advance(Duration::from_secs(60));
    let err = provider.get().await.unwrap_err();
    assert_eq!(err.kind, K::Unavailable);
    assert_eq!(err.reference, "aws:prod/stale");
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn invalidation_after_a_rejection_triggers_exactly_one_refetch() {
    let server = MockServer::start().await;
    answer_first_then(
        &server,
        "prod/rotated",
        (secret_response("prod/rotated", "rotated-old"), 1),
        secret_response("prod/rotated", "rotated-new"),
    )
    .await;
    let clock = ManualClock::new();
    let provider = whole_secret(&server, &clock, CacheOptions::default(), "prod/rotated").await;
    let old = provider.get().await.unwrap();
    assert_eq!(old.expose(), "rotated-old");
    // Many requests in flight saw a 401 with the old value, before and after the refresh.
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (provider, old) = (Arc::clone(&provider), old.clone());
            tokio::spawn(async move {
                provider.invalidate(&old);
                provider.get().await.map(|s| s.expose().to_owned())
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "rotated-new");
    }
    provider.invalidate(&old);
    provider.invalidate(&Secret::new("something-else"));
    assert_eq!(provider.get().await.unwrap().expose(), "rotated-new");
    assert_eq!(
        requests(&server).await,
        2,
        "one fetch, then exactly one refetch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_callers_on_a_cold_cache_send_one_request() {
    let server = MockServer::start().await;
    get_secret_value("prod/herd")
        .respond_with(
            secret_response("prod/herd", "herd-value").set_delay(Duration::from_millis(200)),
        )
        .mount(&server)
        .await;
    let clock = ManualClock::new();
    let provider = whole_secret(&server, &clock, CacheOptions::default(), "prod/herd").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (provider, barrier) = (Arc::clone(&provider), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                provider.get().await.map(|s| s.expose().to_owned())
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "herd-value");
    }
    let cold = requests(&server).await;
    // The same after expiry: 100 callers, one refresh.
    clock.advance(DEFAULT_TTL);
    let results = futures::future::join_all((0..100).map(|_| provider.get())).await;
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap().expose() == "herd-value"));
    let expired = requests(&server).await - cold;
    report_counts(cold, expired);
    assert_eq!(cold, 1, "100 callers on a cold cache");
    assert_eq!(expired, 1, "100 callers after expiry");
}

#[allow(clippy::print_stderr)]
fn report_counts(cold: usize, expired: usize) {
    eprintln!("GetSecretValue requests: {cold} for 100 concurrent callers on a cold cache, {expired} for 100 after TTL expiry");
}

#[tokio::test]
async fn prefetch_names_each_failing_aws_reference() {
    let server = MockServer::start().await;
    get_secret_value("prod/ok")
        .respond_with(secret_response("prod/ok", r#"{"k":"prefetch-ok"}"#))
        .mount(&server)
        .await;
    get_secret_value("prod/gone")
        .respond_with(aws_error(400, "ResourceNotFoundException", "not found"))
        .mount(&server)
        .await;
    let resolver = resolver(&server, &ManualClock::new(), CacheOptions::default());
    let refs = [
        SecretRef::aws("prod/ok", Some("k")),
        SecretRef::aws("prod/ok", Some("missing")),
        SecretRef::aws("prod/gone", None),
    ];
    let err = resolver.prefetch(&refs).await.unwrap_err();
    let text = err.to_string();
    assert_eq!(err.failures.len(), 2, "{text}");
    assert!(
        text.contains("credential aws:prod/ok#missing: missing JSON key"),
        "{text}"
    );
    assert!(
        text.contains("credential aws:prod/gone: not found"),
        "{text}"
    );
    assert!(!text.contains("prefetch-ok"), "{text}");
    // The good one is now cached: resolving and getting it sends nothing new.
    let before = requests(&server).await;
    let ok = resolver.resolve(&refs[0]).await.unwrap();
    assert_eq!(ok.get().await.unwrap().expose(), "prefetch-ok");
    assert_eq!(requests(&server).await, before);
}
