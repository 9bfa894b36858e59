//! What the service tests share: a service on a free loopback port with a fresh data
//! folder, a client that speaks its API, events and emulators.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use siem_core::Secret;
use siem_server::{ServeConfig, Server};
use siem_testkit::{SplunkEmulator, SplunkEmulatorConfig};

pub const BOOTSTRAP: &str = "bootstrap-token-for-tests";
pub const HEC_TOKEN: &str = "hec-token-value-7f3a9c";

/// A fresh data folder for `name`.
pub fn data_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("siem-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The configuration of a test service: a free loopback port, the bootstrap token.
pub fn config(dir: &Path) -> ServeConfig {
    // The service's log in the test output (shown for a failing test).
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "siem_server=info,warn".to_owned()),
        )
        .try_init();
    ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        bootstrap_token: Some(Secret::new(BOOTSTRAP)),
        poll_interval: Duration::from_millis(200),
        shutdown_timeout: Duration::from_secs(3),
        ..ServeConfig::default()
    }
}

/// The PostgreSQL URL of the tests that need one (`.ci/run` sets it), or a loud skip.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("SIEM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("SIEM_TEST_REQUIRE_SERVICES").is_none(),
                "{test}: SIEM_TEST_POSTGRES_URL is not set and SIEM_TEST_REQUIRE_SERVICES is"
            );
            eprintln!(
                "\n*** SKIPPED {test}: SIEM_TEST_POSTGRES_URL is not set (.ci/run starts \
                 PostgreSQL and sets it) ***\n"
            );
            None
        }
    }
}

/// A client of one service.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(server: &Server) -> Self {
        Self {
            base: format!("http://{}", server.addr()),
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str, body: Option<&Value>) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), body).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Option<&Value>) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), body).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Option<&Value>) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), body).await
    }

    pub async fn delete(
        &self,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), body).await
    }

    pub async fn post_events(&self, token: &str, ndjson: String) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/events", self.base))
            .bearer_auth(token)
            .header("content-type", "application/x-ndjson")
            .body(ndjson)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// A token of `org` with `role`, made with the bootstrap token.
    pub async fn token(&self, org: &str, role: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/v1/orgs/{org}/tokens"),
                Some(BOOTSTRAP),
                Some(&json!({ "role": role })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// A connector's status, read through the API.
    pub async fn status(&self, token: &str, org: &str, name: &str) -> Value {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/orgs/{org}/connectors/{name}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["status"].clone()
    }
}

pub async fn splunk_emulator() -> SplunkEmulator {
    SplunkEmulator::start(SplunkEmulatorConfig {
        token: HEC_TOKEN.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A Splunk connector body pointed at `emulator`.
pub fn splunk_body(name: &str, emulator: &SplunkEmulator) -> Value {
    json!({
        "name": name,
        "platform": "splunk",
        "endpoint": emulator.endpoint().as_str(),
        "token": HEC_TOKEN,
        "ca_pem": emulator.ca_pem(),
        "events": ["*"],
    })
}

/// `n` events of `org` as NDJSON, ids `<tag>-<i>` in the last part of a UUID.
pub fn events(org: &str, tag: u16, range: std::ops::Range<usize>) -> String {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events/loop.detected.json");
    let template: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let mut out = String::new();
    for i in range {
        let mut e = template.clone();
        e["org_id"] = org.into();
        e["event_id"] = format!("00000000-0000-4000-{tag:04x}-{i:012}").into();
        out.push_str(&e.to_string());
        out.push('\n');
    }
    out
}

/// Waits until `check` holds, up to `limit`; a liveness bound, not a speed target.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}
