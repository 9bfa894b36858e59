//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use siem_core::{CredentialError, CredentialProvider, Endpoint, Secret, SecurityEvent};
use siem_sentinel::token::Clock;
use siem_sentinel::{SentinelOptions, SentinelSink};

pub const DCR: &str = "dcr-00112233445566778899aabbccddeeff";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_SECRET: &str = "cl1ent-s3cret~value";

/// The fixture events directory of the workspace.
pub fn fixtures_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events")
}

pub fn load_event(path: &Path) -> Arc<SecurityEvent> {
    let text = std::fs::read_to_string(path).unwrap();
    Arc::new(SecurityEvent::from_json(&text).unwrap())
}

/// Every fixture event, sorted by file name.
pub fn fixture_events() -> Vec<Arc<SecurityEvent>> {
    let mut paths: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    paths.iter().map(|p| load_event(p)).collect()
}

pub fn sample_events() -> Vec<Arc<SecurityEvent>> {
    siem_core::testing::sample_events()
        .into_iter()
        .map(Arc::new)
        .collect()
}

pub fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Options pointing at a plain-HTTP mock server on loopback.
pub fn mock_options(uri: &str) -> siem_sentinel::SentinelOptionsBuilder {
    SentinelOptions::builder(Endpoint::plain_http_loopback(uri).unwrap(), DCR)
        .request_timeout(Duration::from_secs(5))
}

pub fn mock_sink(uri: &str, credential: Arc<dyn CredentialProvider>) -> SentinelSink {
    SentinelSink::new(
        "sentinel-test",
        mock_options(uri).build().unwrap(),
        credential,
    )
    .unwrap()
}

/// A static credential that records what it was asked and told.
#[derive(Debug)]
pub struct RecordingCredential {
    secret: Secret,
    pub gets: AtomicU64,
    pub invalidated: Mutex<Vec<String>>,
}

impl RecordingCredential {
    pub fn new(value: &str) -> Arc<Self> {
        Arc::new(Self {
            secret: Secret::new(value),
            gets: AtomicU64::new(0),
            invalidated: Mutex::new(Vec::new()),
        })
    }

    pub fn invalidated(&self) -> Vec<String> {
        self.invalidated.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl CredentialProvider for RecordingCredential {
    async fn get(&self) -> Result<Secret, CredentialError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        Ok(self.secret.clone())
    }

    fn invalidate(&self, rejected: &Secret) {
        self.invalidated
            .lock()
            .unwrap()
            .push(rejected.expose().to_owned());
    }

    fn describe(&self) -> String {
        "recording".to_owned()
    }
}

/// A clock that only moves when told.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset_ms: AtomicU64,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            offset_ms: AtomicU64::new(0),
        })
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + Duration::from_millis(self.offset_ms.load(Ordering::SeqCst))
    }
}
