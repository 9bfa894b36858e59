//! `SecretResolver` with environment and static references (no AWS needed).

use siem_core::{CredentialErrorKind, Secret};
use siem_secrets::{PrefetchFailure, ResolveError, SecretRef, SecretResolver};

#[tokio::test]
async fn env_reference_resolves_to_the_variable() {
    std::env::set_var("SIEM_SECRETS_IT_ENV", "env-token-value");
    let resolver = SecretResolver::builder().build();
    let provider = resolver
        .resolve(&SecretRef::env("SIEM_SECRETS_IT_ENV"))
        .await
        .unwrap();
    assert_eq!(provider.describe(), "env:SIEM_SECRETS_IT_ENV");
    assert_eq!(provider.get().await.unwrap().expose(), "env-token-value");
    assert!(!format!("{provider:?} {resolver:?}").contains("env-token-value"));
}

#[tokio::test]
async fn static_references_are_refused_unless_allowed() {
    let reference = SecretRef::static_value(Secret::new("demo-static-value"));
    let strict = SecretResolver::builder().build();
    let err = strict.resolve(&reference).await.unwrap_err();
    assert_eq!(err, ResolveError::StaticNotAllowed);
    let text = err.to_string();
    assert!(text.contains("only allowed in tests and demos"), "{text}");
    assert!(!text.contains("demo-static-value"), "{text}");

    let demo = SecretResolver::builder().allow_static(true).build();
    let provider = demo.resolve(&reference).await.unwrap();
    assert_eq!(provider.describe(), "static");
    assert_eq!(provider.get().await.unwrap().expose(), "demo-static-value");
    assert!(!format!("{provider:?}").contains("demo-static-value"));
}

#[tokio::test]
async fn prefetch_reports_every_failure_by_reference() {
    std::env::set_var("SIEM_SECRETS_IT_PREFETCH_OK", "ok-value");
    std::env::remove_var("SIEM_SECRETS_IT_PREFETCH_MISSING");
    let refs = [
        SecretRef::env("SIEM_SECRETS_IT_PREFETCH_OK"),
        SecretRef::env("SIEM_SECRETS_IT_PREFETCH_MISSING"),
        SecretRef::env("SIEM_SECRETS_IT_PREFETCH_MISSING"), // duplicates count once
        SecretRef::static_value(Secret::new("static-prefetch-value")),
    ];
    let resolver = SecretResolver::builder().build();
    let err = resolver.prefetch(&refs).await.unwrap_err();
    assert_eq!(err.total, 3);
    assert_eq!(err.failures.len(), 2);
    match &err.failures[0] {
        PrefetchFailure::Fetch(e) => {
            assert_eq!(e.reference, "env:SIEM_SECRETS_IT_PREFETCH_MISSING");
            assert_eq!(e.kind, CredentialErrorKind::NotFound);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        err.failures[1],
        PrefetchFailure::Resolve(ResolveError::StaticNotAllowed)
    );
    let text = err.to_string();
    assert!(
        text.starts_with("2 of 3 secret reference(s) could not be fetched"),
        "{text}"
    );
    assert!(
        text.contains("env:SIEM_SECRETS_IT_PREFETCH_MISSING"),
        "{text}"
    );
    assert!(
        !text.contains("ok-value") && !text.contains("static-prefetch-value"),
        "{text}"
    );
    assert!(resolver.prefetch(&refs[..1]).await.is_ok());
}

#[cfg(not(feature = "aws"))]
#[tokio::test]
async fn aws_reference_without_the_aws_feature_is_a_clear_error() {
    let resolver = SecretResolver::builder().build();
    let err = resolver
        .resolve(&SecretRef::aws("prod/siem", Some("hec")))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "credential aws:prod/siem#hec: this build has no AWS Secrets Manager support (feature `aws`)"
    );
}
