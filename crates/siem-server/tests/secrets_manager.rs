//! `--secrets aws` against a real implementation of the Secrets Manager API (moto's
//! server, which `.ci/run` installs from PyPI): a connector's token is written there on
//! create, rotated on update, read back by the running sink, scheduled for deletion on
//! delete, and never stored in the database.
//!
//! Its own test binary: it points the AWS SDK's standard configuration at moto through
//! the process environment.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use siem_secrets::sdk::aws_sdk_secretsmanager as sm;
use siem_server::{SecretsBackend, Server};
use support::*;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts moto's server on a free port, or says loudly why the test is skipped
/// (`SIEM_TEST_REQUIRE_SERVICES=1`, as in CI, makes that a failure).
/// The current value of secret `name`.
async fn secret_string(client: &sm::Client, name: &str) -> String {
    let value = client.get_secret_value().secret_id(name).send().await;
    value.unwrap().secret_string().unwrap().to_owned()
}

/// What Secrets Manager says of secret `name`.
async fn describe(
    client: &sm::Client,
    name: &str,
) -> sm::operation::describe_secret::DescribeSecretOutput {
    client
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .unwrap()
}

async fn moto() -> Option<(Moto, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(child) => Moto(child),
        Err(e) => {
            assert!(
                std::env::var_os("SIEM_TEST_REQUIRE_SERVICES").is_none(),
                "moto_server cannot start ({e}) and SIEM_TEST_REQUIRE_SERVICES is set"
            );
            eprintln!("\n*** SKIPPED secrets_manager: moto_server is not installed (pip install 'moto[server]') ***\n");
            return None;
        }
    };
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{url}/moto-api/")).await.is_ok() {
            return Some((child, url));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not answer on {url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_tokens_live_in_secrets_manager() {
    let Some((_moto, url)) = moto().await else {
        return;
    };
    // The SDK's standard configuration, as an operator would set it.
    std::env::set_var("AWS_ENDPOINT_URL", &url);
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    let sdk = siem_secrets::sdk::aws_config::load_defaults(
        siem_secrets::sdk::aws_config::BehaviorVersion::latest(),
    )
    .await;
    let client = sm::Client::new(&sdk);

    let dir = data_dir("aws");
    let mut config = config(&dir);
    config.secrets = SecretsBackend::Aws;
    let server = Server::start(config).await.unwrap();
    let api = Api::new(&server);
    let admin = api.token("org_acme", "admin").await;
    let emulator = splunk_emulator().await;
    let base = "/api/v1/orgs/org_acme/connectors";

    let (status, created) = api
        .post(base, &admin, Some(&splunk_body("splunk-prod", &emulator)))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let name = "aisg/siem/org_acme/splunk-prod";
    let value = secret_string(&client, name).await;
    let stored: serde_json::Value = serde_json::from_str(&value).unwrap();
    assert_eq!(stored, json!({ "token": HEC_TOKEN }));
    let described = describe(&client, name).await;
    let tags: Vec<(&str, &str)> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert!(
        tags.contains(&("org", "org_acme")) && tags.contains(&("connector", "splunk-prod")),
        "{tags:?}"
    );

    // The running sink reads its token from Secrets Manager.
    let (_, verdict) = api
        .post(&format!("{base}/splunk-prod/test"), &admin, None)
        .await;
    assert_eq!(verdict["delivered"], true, "{verdict}");

    // A rotated token is a new secret version, used at once by the running sink.
    let mut rotated = splunk_body("splunk-prod", &emulator);
    rotated["token"] = json!("rotated-token-value");
    let (status, _) = api
        .put(&format!("{base}/splunk-prod"), &admin, Some(&rotated))
        .await;
    assert_eq!(status, StatusCode::OK);
    let value = secret_string(&client, name).await;
    assert!(value.contains("rotated-token-value"));
    let (_, verdict) = api
        .post(&format!("{base}/splunk-prod/test"), &admin, None)
        .await;
    assert_eq!(
        verdict["delivered"], false,
        "the old token is still in use: {verdict}"
    );
    assert_eq!(verdict["status"], 403);

    // Delete schedules the secret's deletion.
    let (status, _) = api
        .delete(&format!("{base}/splunk-prod"), &admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let described = describe(&client, name).await;
    assert!(
        described.deleted_date().is_some(),
        "not scheduled for deletion"
    );

    server.shutdown().await;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            for secret in [HEC_TOKEN, "rotated-token-value"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "a token is in {}",
                    path.display()
                );
            }
        }
    }
}
