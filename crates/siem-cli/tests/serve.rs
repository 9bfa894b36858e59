//! `siem serve` as an operator stops it: SIGTERM delivers what is buffered and reports it
//! (exit 143); `kill -9` with a disk buffer loses nothing, the next start delivers it.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use siem_testkit::SplunkEmulator;

const BOOTSTRAP: &str = "serve-test-bootstrap";

struct Serve {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    async fn start(data_dir: &Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_siem"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--shutdown-timeout",
                "20",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .env("SIEM_BOOTSTRAP_TOKEN", BOOTSTRAP)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let serve = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..400 {
            if let Ok(r) = serve
                .http
                .get(format!("{}/readyz", serve.base))
                .send()
                .await
            {
                if r.status().is_success() {
                    return serve;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("siem serve did not become ready");
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn ingest(&self, token: &str, ndjson: String) -> Value {
        let r = self
            .http
            .post(format!("{}/api/v1/events", self.base))
            .bearer_auth(token)
            .body(ndjson)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202);
        r.json().await.unwrap()
    }

    /// An admin and an ingest token of org_acme, and a Splunk connector to `emulator`.
    async fn set_up(&self, emulator: &SplunkEmulator, extra: Value) -> String {
        let token = |role: &str| json!({ "role": role });
        let admin = self
            .post("/api/v1/orgs/org_acme/tokens", BOOTSTRAP, token("admin"))
            .await;
        let ingest = self
            .post("/api/v1/orgs/org_acme/tokens", BOOTSTRAP, token("ingest"))
            .await;
        let mut connector = json!({
            "name": "splunk-prod", "platform": "splunk", "endpoint": emulator.endpoint().as_str(),
            "token": "test-token", "ca_pem": emulator.ca_pem(), "events": ["*"],
        });
        connector
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        self.post(
            "/api/v1/orgs/org_acme/connectors",
            admin["token"].as_str().unwrap(),
            connector,
        )
        .await;
        ingest["token"].as_str().unwrap().to_owned()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit (bounded: a liveness limit, not a speed target); exit code and stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err)
                    .unwrap();
                return (status.code(), err);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("siem serve did not stop");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn events(dir: &Path, n: usize) -> String {
    std::fs::read_to_string(support::events_file(dir, n)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_delivers_what_is_buffered_and_reports_it() {
    let dir = support::dir("serve-sigterm");
    let (emulator, _) = support::splunk(&dir, "splunk").await;
    let serve = Serve::start(&dir.join("data"), free_port()).await;
    let ingest = serve.set_up(&emulator, json!({ "max_events": 100 })).await;
    // A slow SIEM: most events are still buffered when the signal comes.
    emulator.set_latency(Duration::from_millis(150));
    let answer = serve.ingest(&ingest, events(&dir, 2_000)).await;
    assert_eq!(answer["accepted"], 2_000);
    serve.signal("TERM");
    let (code, stderr) = serve.finish();
    assert_eq!(code, Some(143), "{stderr}");
    assert!(
        stderr.contains("stopped: 2000 delivered, 0 undelivered, 0 left in disk buffers"),
        "{stderr}"
    );
    assert_eq!(emulator.received().len(), 2_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_a_disk_buffer_loses_nothing_across_a_restart() {
    let dir = support::dir("serve-kill9");
    let data = dir.join("data");
    let port = free_port();
    let (emulator, _) = support::splunk(&dir, "splunk").await;
    // The SIEM is down: everything waits in the disk buffer when the process is killed.
    emulator.set_outage(true);
    let serve = Serve::start(&data, port).await;
    let ingest = serve
        .set_up(&emulator, json!({ "buffer": { "type": "disk" } }))
        .await;
    let answer = serve.ingest(&ingest, events(&dir, 1_500)).await;
    assert_eq!(answer["accepted"], 1_500);
    tokio::time::sleep(Duration::from_millis(500)).await;
    serve.signal("KILL");
    let (code, _) = serve.finish();
    assert_eq!(code, None, "killed by a signal");

    // The next start runs the stored connector, recovers the buffer and delivers it.
    emulator.set_outage(false);
    let serve = Serve::start(&data, port).await;
    assert!(
        eventually(|| {
            let ids: std::collections::BTreeSet<_> = emulator
                .received()
                .into_iter()
                .map(|e| e.event_id)
                .collect();
            ids.len() == 1_500
        })
        .await,
        "{} of 1500 delivered after the restart",
        emulator.received().len()
    );
    serve.signal("TERM");
    let (code, stderr) = serve.finish();
    assert_eq!(code, Some(143), "{stderr}");
}

async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..600 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}
