//! Helpers adapter tests share: fixture loading, events over size limits and the checks
//! of their rejection, a JSON subset assertion, and credential providers that record or
//! fail.
//!
//! Test support: these panic on bad input (an unreadable fixture is a broken test).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::details::{Blocked, PiiBlocked};
use crate::{
    CredentialError, CredentialErrorKind, CredentialProvider, EncodeError, Encoded, Ident, Secret,
    SecurityEvent, Timestamp,
};

/// Reads and parses one event file. Panics naming the file when it cannot.
pub fn load_event(path: &Path) -> Arc<SecurityEvent> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("fixture {} not readable: {e}", path.display()));
    let event = SecurityEvent::from_json(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not a valid event: {e}", path.display()));
    Arc::new(event)
}

/// Every `*.json` event in `dir`, sorted by file name. Panics when `dir` cannot be read,
/// holds no event, or an event does not parse.
pub fn fixture_events_in(dir: &Path) -> Vec<Arc<SecurityEvent>> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("fixture directory {} not readable: {e}", dir.display()));
    let mut paths: Vec<_> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no *.json event in {}", dir.display());
    paths.iter().map(|p| load_event(p)).collect()
}

/// The workspace's `fixtures/` directory.
pub fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Every event of the workspace's `fixtures/events/`, sorted by file name.
pub fn fixture_events() -> Vec<Arc<SecurityEvent>> {
    fixture_events_in(&fixtures().join("events"))
}

/// The fixture event `fixtures/events/{name}.json`.
pub fn fixture_event(name: &str) -> Arc<SecurityEvent> {
    load_event(&fixtures().join("events").join(format!("{name}.json")))
}

/// A `loop.detected` event whose identifiers need JSON escapes (quotes, backslashes,
/// non-ASCII, `<`) in its project and request id, for org `org_id`.
pub fn event_needing_escapes(org_id: &str) -> Arc<SecurityEvent> {
    let json = serde_json::json!({
        "event_id": "00000000-0000-4000-8000-000000000001",
        "event_type": "loop.detected",
        "org_id": org_id,
        "project_id": "proj\\back\\slash",
        "request_id": "req/é/😀/<tag>",
        "timestamp": "2026-06-08T20:18:10.007Z",
        "details": {"iterations": 3, "window_seconds": 1, "action": "killed"},
    });
    Arc::new(SecurityEvent::from_json(&json.to_string()).expect("a valid event"))
}

/// A `dlp.pii_blocked` event of `org_id`, `project_id` and `request_id` whose entity
/// (`A"B`) and `model` need JSON escapes too: for the escaping checks of encoders.
pub fn pii_blocked_needing_escapes(
    org_id: &str,
    project_id: &str,
    request_id: &str,
    model: &str,
) -> SecurityEvent {
    let details = PiiBlocked {
        entities_found: vec![Ident::new("A\"B").expect("a valid identifier")],
        action: Blocked,
        model: Ident::new(model).expect("a valid model"),
    };
    SecurityEvent::builder(org_id, project_id, details)
        .request_id(request_id)
        .build()
        .expect("a valid event")
}

/// The org of [`big_event`]s, so that a test can tell them apart from the others.
pub const BIG_EVENT_ORG: &str = "org_big";

/// A `dlp.pii_blocked` event of org [`BIG_EVENT_ORG`] whose details grow with `labels`
/// (about 110 bytes each): for checks of size limits.
pub fn big_event(labels: usize) -> Arc<SecurityEvent> {
    let entities = (0..labels)
        .map(|i| {
            Ident::new(&format!("ENTITY_KIND_NUMBER_{i:04}_{}", "X".repeat(80)))
                .expect("a valid identifier")
        })
        .collect();
    let details = PiiBlocked {
        entities_found: entities,
        action: Blocked,
        model: Ident::new("gpt-4.1").expect("a valid identifier"),
    };
    let event = SecurityEvent::builder(BIG_EVENT_ORG, "proj_big", details)
        .timestamp(Timestamp::from_unix_millis(1_780_949_730_000).expect("a valid time"))
        .build()
        .expect("a valid event");
    Arc::new(event)
}

/// `len` fixture events in turn, with a [`big_event`]`(labels)` after each position in
/// `big_after`: a batch for the checks of splitting and rejection.
pub fn fixtures_with_big_events(
    len: usize,
    big_after: &[usize],
    labels: usize,
) -> Vec<Arc<SecurityEvent>> {
    let fixtures = fixture_events();
    let mut events = Vec::with_capacity(len + big_after.len());
    for i in 0..len {
        events.push(fixtures[i % fixtures.len()].clone());
        if big_after.contains(&i) {
            events.push(big_event(labels));
        }
    }
    events
}

/// Asserts that `encoded` rejected `count` events, each as [`EncodeError::TooLarge`] for
/// the limit `limit` named with `what` in it, and reporting its own id and a size over
/// the limit.
pub fn assert_rejected_as_too_large(encoded: &Encoded, count: usize, limit: usize, what: &str) {
    assert_eq!(encoded.rejected.len(), count, "{:?}", encoded.rejected);
    for rejected in &encoded.rejected {
        let EncodeError::TooLarge {
            event_id,
            size,
            limit: named_limit,
            what: named,
        } = &rejected.reason;
        assert_eq!(event_id, &rejected.event.event_id().to_string());
        assert!(*size > limit, "{size} <= {limit}");
        assert_eq!(*named_limit, limit);
        assert!(named.contains(what), "{named}");
    }
}

/// Asserts that `sent` holds exactly the events of `batch` but the [`big_event`]s, in
/// order (the very same `Arc`s).
pub fn assert_sent_all_but_big_events(sent: &[Arc<SecurityEvent>], batch: &[Arc<SecurityEvent>]) {
    let expected: Vec<_> = batch
        .iter()
        .filter(|e| e.org_id().as_str() != BIG_EVENT_ORG)
        .collect();
    assert_eq!(sent.len(), expected.len());
    assert!(sent.iter().zip(expected).all(|(a, b)| Arc::ptr_eq(a, b)));
}

/// Asserts that every field of `expected` appears in `actual` with the same value
/// (objects recursively; extra fields in `actual` are allowed). `path` names the place
/// in failure messages (start with `""`).
pub fn assert_json_contains(expected: &serde_json::Value, actual: &serde_json::Value, path: &str) {
    match (expected, actual) {
        (serde_json::Value::Object(e), serde_json::Value::Object(a)) => {
            for (key, value) in e {
                let here = format!("{path}.{key}");
                let Some(found) = a.get(key) else {
                    panic!("{here} is missing in {actual}");
                };
                assert_json_contains(value, found, &here);
            }
        }
        _ => assert_eq!(expected, actual, "{path}"),
    }
}

/// A fixed credential that counts `get` calls and records every value it was told to
/// invalidate. Describes itself as `test:recording`.
#[derive(Debug)]
pub struct RecordingCredential {
    secret: Secret,
    gets: AtomicU64,
    invalidated: Mutex<Vec<String>>,
}

impl RecordingCredential {
    /// A provider always answering `value`.
    pub fn new(value: &str) -> Arc<Self> {
        Arc::new(Self {
            secret: Secret::new(value),
            gets: AtomicU64::new(0),
            invalidated: Mutex::new(Vec::new()),
        })
    }

    /// How many times `get` was called.
    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::SeqCst)
    }

    /// The values passed to `invalidate`, in order.
    pub fn invalidated(&self) -> Vec<String> {
        self.invalidated
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
            .unwrap_or_else(PoisonError::into_inner)
            .push(rejected.expose().to_owned());
    }

    fn describe(&self) -> String {
        "test:recording".to_owned()
    }
}

/// A credential provider whose `get` always fails with
/// [`CredentialErrorKind::NotFound`] for the source `env:MISSING_TOKEN`.
#[derive(Debug)]
pub struct FailingCredential;

#[async_trait::async_trait]
impl CredentialProvider for FailingCredential {
    async fn get(&self) -> Result<Secret, CredentialError> {
        Err(CredentialError::new(
            "env:MISSING_TOKEN",
            CredentialErrorKind::NotFound,
            "",
        ))
    }

    fn describe(&self) -> String {
        "env:MISSING_TOKEN".to_owned()
    }
}
