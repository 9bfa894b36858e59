//! Helpers shared by this crate's tests.
#![allow(dead_code, clippy::unwrap_used)] // test helpers

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use siem_core::{CredentialError, CredentialProvider, Encoded, Secret, SecurityEvent};

/// The workspace's fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn load_event(path: &Path) -> Arc<SecurityEvent> {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    Arc::new(SecurityEvent::from_json(&text).expect("fixture is a valid event"))
}

/// Every fixture event, sorted by file name.
pub fn fixture_events() -> Vec<Arc<SecurityEvent>> {
    let mut paths: Vec<_> = std::fs::read_dir(fixtures().join("events"))
        .expect("fixtures/events")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_event(p)).collect()
}

pub fn fixture_event(name: &str) -> Arc<SecurityEvent> {
    load_event(&fixtures().join("events").join(format!("{name}.json")))
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

/// The body as sent, decompressed when gzip.
pub fn plain_body(request: &siem_core::EncodedRequest) -> String {
    let bytes = if request.gzip {
        gunzip(&request.body)
    } else {
        request.body.to_vec()
    };
    String::from_utf8(bytes).expect("UTF-8 body")
}

/// A readable, exact rendering of encoded requests for snapshots.
pub fn render(url: &str, encoded: &Encoded) -> String {
    let mut out = String::new();
    for (i, r) in encoded.requests.iter().enumerate() {
        let body = plain_body(r);
        assert_eq!(body.len(), r.uncompressed_len, "uncompressed_len");
        writeln!(out, "--- request {i}: POST {url}").unwrap();
        writeln!(
            out,
            "gzip: {}, events: {}, uncompressed bytes: {}",
            r.gzip,
            r.events.len(),
            r.uncompressed_len
        )
        .unwrap();
        out.push_str(&body);
        if !body.ends_with('\n') {
            out.push('\n');
        }
    }
    for r in &encoded.rejected {
        writeln!(out, "--- rejected: {}", r.reason).unwrap();
    }
    out
}

/// Asserts that every field of `expected` appears in `actual` with the same value
/// (objects recursively; extra fields in `actual` are allowed).
pub fn assert_contains_fields(
    expected: &serde_json::Value,
    actual: &serde_json::Value,
    path: &str,
) {
    match (expected, actual) {
        (serde_json::Value::Object(e), serde_json::Value::Object(a)) => {
            for (key, value) in e {
                let here = format!("{path}.{key}");
                let Some(found) = a.get(key) else {
                    panic!("{here} is missing in {actual}");
                };
                assert_contains_fields(value, found, &here);
            }
        }
        _ => assert_eq!(expected, actual, "{path}"),
    }
}

/// A credential that records what was invalidated.
#[derive(Debug)]
pub struct RecordingCredential {
    secret: Secret,
    pub invalidated: Mutex<Vec<String>>,
}

impl RecordingCredential {
    pub fn new(value: &str) -> Arc<Self> {
        Arc::new(Self {
            secret: Secret::new(value),
            invalidated: Mutex::new(Vec::new()),
        })
    }

    pub fn invalidated(&self) -> Vec<String> {
        self.invalidated.lock().unwrap().clone()
    }
}

#[siem_core::async_trait]
impl CredentialProvider for RecordingCredential {
    async fn get(&self) -> Result<Secret, CredentialError> {
        Ok(self.secret.clone())
    }

    fn invalidate(&self, rejected: &Secret) {
        self.invalidated
            .lock()
            .unwrap()
            .push(rejected.expose().to_owned());
    }

    fn describe(&self) -> String {
        "test:recording".to_owned()
    }
}

/// A credential provider that always fails.
#[derive(Debug)]
pub struct FailingCredential;

#[siem_core::async_trait]
impl CredentialProvider for FailingCredential {
    async fn get(&self) -> Result<Secret, CredentialError> {
        Err(CredentialError::new(
            "env:MISSING_TOKEN",
            siem_core::CredentialErrorKind::NotFound,
            "",
        ))
    }

    fn describe(&self) -> String {
        "env:MISSING_TOKEN".to_owned()
    }
}
