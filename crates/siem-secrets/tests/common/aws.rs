//! A Secrets Manager client and wiremock responses for the JSON API.

use serde_json::json;
use siem_secrets::sdk::aws_sdk_secretsmanager::config::retry::RetryConfig;
use siem_secrets::sdk::aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use siem_secrets::sdk::aws_sdk_secretsmanager::{Client, Config};
use siem_secrets::AwsSecretsManager;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub const JSON_1_1: &str = "application/x-amz-json-1.1";

/// A client for `endpoint` with static test credentials and no retries.
pub fn store(endpoint: &str) -> AwsSecretsManager {
    let config = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDTESTONLY",
            "test-only-aws-secret-key",
            None,
            None,
            "siem-secrets-tests",
        ))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    AwsSecretsManager::from_client(Client::from_conf(config))
}

/// Matches a `GetSecretValue` call for `secret_id` as the SDK sends it.
pub fn get_secret_value(secret_id: &str) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path("/"))
        .and(header("x-amz-target", "secretsmanager.GetSecretValue"))
        .and(header("content-type", JSON_1_1))
        .and(body_json(json!({ "SecretId": secret_id })))
}

pub fn secret_response(secret_id: &str, value: &str) -> ResponseTemplate {
    let body = json!({
        "ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret_id}-AbCdEf"),
        "Name": secret_id,
        "SecretString": value,
        "VersionId": "00000000-0000-0000-0000-000000000001",
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": 1.7e9,
    });
    ResponseTemplate::new(200).set_body_raw(body.to_string(), JSON_1_1)
}

pub fn aws_error(status: u16, error_type: &str, message: &str) -> ResponseTemplate {
    let body = json!({ "__type": error_type, "message": message });
    ResponseTemplate::new(status).set_body_raw(body.to_string(), JSON_1_1)
}

pub async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

/// Mounts on `server` the answers to `GetSecretValue` for `secret_id`: `first` for the
/// first `times` calls, then `then` for every later one.
pub async fn answer_first_then(
    server: &MockServer,
    secret_id: &str,
    (first, times): (ResponseTemplate, u64),
    then: ResponseTemplate,
) {
    get_secret_value(secret_id)
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    get_secret_value(secret_id)
        .respond_with(then)
        .mount(server)
        .await;
}
