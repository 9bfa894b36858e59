//! With no client supplied, the resolver loads the standard AWS configuration: region,
//! credentials and `AWS_ENDPOINT_URL` from the environment. One test per binary, because
//! it sets process-wide environment variables.
#![cfg(feature = "aws")]

mod common;

use common::aws::{get_secret_value, requests, secret_response};
use siem_secrets::{SecretRef, SecretResolver};
use wiremock::MockServer;

#[tokio::test]
async fn standard_configuration_and_aws_endpoint_url_are_honoured() {
    let server = MockServer::start().await;
    get_secret_value("env/configured")
        .respond_with(secret_response(
            "env/configured",
            r#"{"token":"from-env-config"}"#,
        ))
        .mount(&server)
        .await;
    for (name, value) in [
        ("AWS_ENDPOINT_URL", server.uri().as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDTESTONLY"),
        ("AWS_SECRET_ACCESS_KEY", "test-only-aws-secret-key"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/siem-secrets-test/config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/siem-secrets-test/credentials",
        ),
        ("AWS_MAX_ATTEMPTS", "1"),
    ] {
        std::env::set_var(name, value);
    }
    std::env::remove_var("AWS_PROFILE");
    std::env::remove_var("AWS_SESSION_TOKEN");

    let resolver = SecretResolver::builder().build();
    let provider = resolver
        .resolve(&SecretRef::aws("env/configured", Some("token")))
        .await
        .unwrap();
    assert_eq!(provider.get().await.unwrap().expose(), "from-env-config");
    assert_eq!(requests(&server).await, 1);
    let debug = format!("{resolver:?}");
    assert!(debug.contains("aws:env/configured#token"), "{debug}");
}
