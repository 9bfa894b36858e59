//! Secret values never appear in `tracing` output (captured at TRACE, SDK included),
//! `Debug`, `Display` or error text — during successes, failures, stale serving and
//! invalidation.

mod common;

use std::sync::Arc;

use siem_core::{CredentialErrorKind as K, CredentialProvider, Secret};
use siem_secrets::{CacheOptions, CachedCredential, SecretRef, SecretResolver};
use tokio::time::advance;

const SENTINEL: &str = "SENTINEL";

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(SENTINEL),
        "{what} leaked a secret value:\n{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn cache_env_and_static_paths_never_leak() {
    let (_guard, logs) = common::capture_logs();
    let mut seen = Vec::new();

    let scripted =
        common::Scripted::new("test:leak", &[Ok("SENTINEL-cached-1"), Err(K::Unavailable)]);
    let cached = CachedCredential::new(
        scripted as Arc<dyn CredentialProvider>,
        CacheOptions::default(),
    );
    let v1 = cached.get().await.unwrap();
    seen.push(format!("{v1:?} {v1} {cached:?}"));
    advance(siem_secrets::DEFAULT_TTL).await;
    let stale = cached.get().await.unwrap(); // served stale, with a warning
    assert!(stale.same_value(&v1));
    cached.invalidate(&v1);
    let err = cached.get().await.unwrap_err();
    seen.push(format!("{err} {err:?} {cached:?}"));

    std::env::set_var("SIEM_SECRETS_LEAK_ENV", "SENTINEL-env");
    let reference = SecretRef::static_value(Secret::new("SENTINEL-static"));
    let resolver = SecretResolver::builder().build();
    let refused = resolver.resolve(&reference).await.unwrap_err();
    let env = resolver
        .resolve(&SecretRef::env("SIEM_SECRETS_LEAK_ENV"))
        .await
        .unwrap();
    env.get().await.unwrap();
    seen.push(format!(
        "{reference} {reference:?} {refused} {refused:?} {env:?} {resolver:?}"
    ));

    let text = logs.text();
    assert!(text.contains("serving the cached value"), "{text}");
    assert_clean("tracing output", &text);
    for (i, s) in seen.iter().enumerate() {
        assert_clean(&format!("formatted value #{i}"), s);
    }
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn aws_paths_never_leak_even_at_trace_level() {
    use common::aws::{answer_first_then, aws_error, get_secret_value, secret_response, store};
    use siem_secrets::ManualClock;
    use wiremock::MockServer;

    let (_guard, logs) = common::capture_logs();
    let server = MockServer::start().await;
    let json = r#"{"hec":"SENTINEL-hec","other":"SENTINEL-other"}"#;
    answer_first_then(
        &server,
        "leak/json",
        (secret_response("leak/json", json), 2),
        aws_error(500, "InternalServiceError", "down"),
    )
    .await;
    get_secret_value("leak/plain")
        .respond_with(secret_response("leak/plain", "SENTINEL-not-json"))
        .mount(&server)
        .await;

    let clock = ManualClock::new();
    let resolver = SecretResolver::builder()
        .aws(store(&server.uri()))
        .clock(Arc::new(clock.clone()))
        .build();
    let mut seen = Vec::new();
    let hec = resolver
        .resolve(&SecretRef::aws("leak/json", Some("hec")))
        .await
        .unwrap();
    let value = hec.get().await.unwrap();
    assert_eq!(value.expose(), "SENTINEL-hec");
    seen.push(format!("{value:?} {value} {hec:?} {resolver:?}"));

    let missing = SecretRef::aws("leak/json", Some("nope"));
    let malformed = SecretRef::aws("leak/plain", Some("hec"));
    let err = resolver.prefetch([&missing, &malformed]).await.unwrap_err();
    seen.push(format!("{err} {err:?}"));
    for failure in &err.failures {
        seen.push(format!("{failure} {failure:?}"));
    }

    clock.advance(siem_secrets::DEFAULT_TTL);
    let stale = hec.get().await.unwrap(); // 500: stale value with a warning
    assert!(stale.same_value(&value));
    hec.invalidate(&value);
    let err = hec.get().await.unwrap_err(); // rejected value is not served stale
    seen.push(format!("{err} {err:?} {hec:?}"));
    seen.push(format!("{:?}", store(&server.uri())));

    let text = logs.text();
    assert!(text.contains("serving the cached value"), "{text}");
    assert!(text.contains("aws:leak/json#hec"), "{text}");
    assert!(
        text.contains("TRACE") && text.contains("aws_smithy_runtime"),
        "the SDK's own trace events are captured too"
    );
    assert!(
        !text.contains("test-only-aws-secret-key"),
        "AWS secret key in logs"
    );
    assert_clean("tracing output", &text);
    for (i, s) in seen.iter().enumerate() {
        assert_clean(&format!("formatted value #{i}"), s);
    }
}
