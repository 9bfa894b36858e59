//! This crate's test prelude: where the workspace fixtures are, plus the generic helpers
//! from `siem_core::testing` and `siem_http::testing`.
#![allow(dead_code, unused_imports)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use siem_core::testing::{
    assert_json_contains, load_event, FailingCredential, RecordingCredential,
};
pub use siem_http::testing::{gunzip, plain_body, render_requests};

use siem_core::SecurityEvent;

/// The workspace's fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Every fixture event, sorted by file name.
pub fn fixture_events() -> Vec<Arc<SecurityEvent>> {
    siem_core::testing::fixture_events_in(&fixtures().join("events"))
}

/// The fixture event `fixtures/events/{name}.json`.
pub fn fixture_event(name: &str) -> Arc<SecurityEvent> {
    load_event(&fixtures().join("events").join(format!("{name}.json")))
}
