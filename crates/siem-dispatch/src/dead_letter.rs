//! The dead-letter file of a sink: events that failed for good, one line each, so that an
//! operator can look at them and replay them (`siem forward` reads these lines as events).
//!
//! A line is `{"dead_letter":{…why…},"event":{…canonical event JSON…}}`; the `event`
//! object is exactly what `siem forward` reads, and [`DeadLetterLine`] reads it back.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use siem_core::{SecurityEvent, Timestamp};

/// Why and where an event was given up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterReason {
    /// The organization.
    pub org_id: String,
    /// The sink that gave up.
    pub sink: String,
    /// The kind of failure (`permanent`, `retryable`, `encode`, `shutdown`, …).
    pub kind: String,
    /// The HTTP status, when a response arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, in words.
    pub reason: String,
    /// When it was given up on.
    pub at: Timestamp,
}

/// One line of a dead-letter file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterLine<E> {
    /// Why.
    pub dead_letter: DeadLetterReason,
    /// The event, as canonical JSON.
    pub event: E,
}

#[derive(Serialize)]
struct LineRef<'a> {
    dead_letter: &'a DeadLetterReason,
    event: &'a SecurityEvent,
}

/// An append-only dead-letter file, shared by a sink's batches.
#[derive(Debug, Clone)]
pub(crate) struct DeadLetter {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl DeadLetter {
    /// Opens `path` for appending (created owner-only).
    pub(crate) fn open(path: &Path) -> Result<Self, String> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .map_err(|e| format!("cannot open the dead-letter file {}: {e}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Appends `events` with their reason; returns how many were written. One `write` per
    /// call, so lines of concurrent writers never interleave.
    pub(crate) fn write(&self, events: &[Arc<SecurityEvent>], reason: &DeadLetterReason) -> usize {
        if events.is_empty() {
            return 0;
        }
        let mut out = Vec::with_capacity(events.len() * 400);
        for event in events {
            let line = LineRef {
                dead_letter: reason,
                event: event.as_ref(),
            };
            // Serializing our own types to memory cannot fail.
            let _ = serde_json::to_writer(&mut out, &line);
            out.push(b'\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let before = file.metadata().map(|m| m.len());
        match file.write_all(&out) {
            Ok(()) => events.len(),
            Err(e) => {
                // All or nothing: a batch cut short (disk full, a size limit) is taken
                // back, so the file holds only the lines counted as dead-lettered and
                // never half a line.
                if let Ok(len) = before {
                    let _ = file.set_len(len);
                }
                tracing::error!(
                    file = %self.path.display(),
                    org = %reason.org_id,
                    sink = %reason.sink,
                    events = events.len(),
                    error = %e,
                    "cannot write to the dead-letter file"
                );
                0
            }
        }
    }
}
