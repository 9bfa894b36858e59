//! Delivery accounting: live counters per sink and the serializable snapshots built from
//! them.
//!
//! Definitions (per sink):
//! - `accepted`: events routed to the sink (its filter matched), plus events recovered
//!   from its disk buffer at start: `queued + dropped`.
//! - `queued`: events taken into the sink's buffer (memory or disk), recovered ones
//!   included.
//! - `dropped`: matching events refused because the buffer was full (of which
//!   `dropped_circuit_open` while its circuit was open).
//! - `delivered`: events the platform acknowledged.
//! - `failed`: queued events given up on: the encoder rejected them, a permanent error,
//!   retries exhausted, a shutdown deadline passed (memory buffer), or a damaged disk
//!   record (`damaged`). Of these, `dead_lettered` were written to the dead-letter file.
//! - `buffered`: waiting in the buffer (memory or disk), including batches held back by
//!   an open circuit.
//! - `in_flight`: in a batch being sent.
//! - `pending`: `buffered + in_flight = queued − delivered − failed`.
//! - `recovered`: events found in the disk buffer at start (left by an earlier run);
//!   `redelivered` of them had already been sent once and may arrive twice.
//! - `retried`: retry attempts, i.e. sends of a request after its first one (backoff
//!   retries and the credential retry; the first sends of split halves are not retries).
//!
//! At every moment `accepted = delivered + failed + dropped + buffered + in_flight`. Once
//! the dispatcher has shut down, `in_flight` is 0 and `buffered` is what stays on disk for
//! the next start (always 0 for a memory buffer, whose leftovers are counted as failed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use siem_core::{DeliveryError, EncodeError, Timestamp};

use crate::breaker::BreakerStats;
use crate::buffer::BufferKind;

/// Live counters of one sink, shared by its worker and the emitters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) popped: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) dropped_circuit_open: AtomicU64,
    /// A gauge: events in batches being sent.
    pub(crate) in_flight: AtomicU64,
    pub(crate) recovered: AtomicU64,
    pub(crate) redelivered: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) damaged: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) splits: AtomicU64,
    pub(crate) failed_at_shutdown: AtomicU64,
    pub(crate) last: Mutex<LastTimes>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct LastTimes {
    pub(crate) error: Option<LastError>,
    pub(crate) success_at: Option<Timestamp>,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: usize) {
        counter.fetch_sub(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn last(&self) -> std::sync::MutexGuard<'_, LastTimes> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn record_error(&self, error: LastError) {
        self.last().error = Some(error);
    }

    pub(crate) fn record_success(&self) {
        self.last().success_at = Some(Timestamp::now());
    }

    pub(crate) fn last_times(&self) -> LastTimes {
        self.last().clone()
    }
}

/// The last error of a sink, as safe to print: the platform's status, code and message
/// (which sinks guarantee never hold a secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    /// `retryable`, `permanent`, `credentials_rejected`, `payload_too_large`,
    /// `credentials`, `encode`, `timeout`, `panic`, `shutdown`, `buffer` or `damaged`.
    pub kind: &'static str,
    /// The HTTP status, when a response arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The platform's error code, when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
    /// When it happened.
    pub at: Timestamp,
}

impl LastError {
    pub(crate) fn from_delivery(e: &DeliveryError) -> Self {
        let kind = match e {
            DeliveryError::Retryable { .. } => "retryable",
            DeliveryError::Permanent { .. } => "permanent",
            DeliveryError::CredentialsRejected { .. } => "credentials_rejected",
            DeliveryError::PayloadTooLarge { .. } => "payload_too_large",
            DeliveryError::Credentials(_) => "credentials",
        };
        let (status, code, message) = match e.detail() {
            Some(d) => (d.status, d.code.clone(), d.message.clone()),
            None => (None, None, e.to_string()),
        };
        Self {
            kind,
            status,
            code,
            message,
            at: Timestamp::now(),
        }
    }

    pub(crate) fn from_encode(e: &EncodeError) -> Self {
        Self::local("encode", e.to_string())
    }

    pub(crate) fn local(kind: &'static str, message: String) -> Self {
        Self {
            kind,
            status: None,
            code: None,
            message,
            at: Timestamp::now(),
        }
    }
}

impl std::fmt::Display for LastError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind)?;
        if let Some(s) = self.status {
            write!(f, " HTTP {s}")?;
        }
        if let Some(c) = &self.code {
            write!(f, " (code {c})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Event counts; see the [module docs](self) for definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    /// Routed to the sink (or recovered from its disk buffer): `queued + dropped`.
    pub accepted: u64,
    /// Taken into the buffer.
    pub queued: u64,
    /// Acknowledged by the platform.
    pub delivered: u64,
    /// Given up on.
    pub failed: u64,
    /// Refused because the buffer was full.
    pub dropped: u64,
    /// Of `dropped`, refused while the circuit was open.
    pub dropped_circuit_open: u64,
    /// Waiting in the buffer (memory or disk).
    pub buffered: u64,
    /// In a batch being sent.
    pub in_flight: u64,
    /// Retry attempts (requests re-sent).
    pub retried: u64,
    /// Requests split in two after "payload too large".
    pub splits: u64,
    /// `buffered + in_flight`.
    pub pending: u64,
    /// Found in the disk buffer at start.
    pub recovered: u64,
    /// Of `recovered`, sent once before the restart: the SIEM may hold them twice.
    pub redelivered: u64,
    /// Of `failed`, written to the dead-letter file.
    pub dead_lettered: u64,
    /// Of `failed`, lost to a damaged disk record.
    pub damaged: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, o: &Counts) {
        let Counts {
            accepted,
            queued,
            delivered,
            failed,
            dropped,
            dropped_circuit_open,
            buffered,
            in_flight,
            retried,
            splits,
            pending,
            recovered,
            redelivered,
            dead_lettered,
            damaged,
        } = *o;
        self.accepted += accepted;
        self.queued += queued;
        self.delivered += delivered;
        self.failed += failed;
        self.dropped += dropped;
        self.dropped_circuit_open += dropped_circuit_open;
        self.buffered += buffered;
        self.in_flight += in_flight;
        self.retried += retried;
        self.splits += splits;
        self.pending += pending;
        self.recovered += recovered;
        self.redelivered += redelivered;
        self.dead_lettered += dead_lettered;
        self.damaged += damaged;
    }
}

/// A snapshot of a sink's buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BufferStats {
    /// Memory or disk.
    #[serde(rename = "type")]
    pub kind: BufferKind,
    /// Bound in events.
    pub max_events: u64,
    /// Bound in bytes.
    pub max_bytes: u64,
    /// Events in the disk buffer (0 for memory).
    pub disk_events: u64,
    /// Bytes in the disk buffer (0 for memory).
    pub disk_bytes: u64,
    /// Events written to the disk buffer since start (0 for memory). Events delivered
    /// within the write-behind window are never written, so while the SIEM keeps up
    /// this stays near 0.
    pub written_events: u64,
}

/// A snapshot of one sink.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Its platform.
    pub platform: &'static str,
    /// Its counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Events in the queue now (not yet in a batch).
    pub queue_depth: u64,
    /// The bound of the in-memory ring in events (a disk buffer's staging ring).
    pub queue_capacity: u64,
    /// The buffer.
    pub buffer: BufferStats,
    /// The circuit breaker.
    pub breaker: BreakerStats,
    /// The most recent error.
    pub last_error: Option<LastError>,
    /// When a request last succeeded.
    pub last_success_at: Option<Timestamp>,
    /// Whether the sink was removed and is delivering what it had queued.
    pub removing: bool,
}

/// A snapshot of one organization: its sinks and their sum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgStats {
    /// The organization.
    pub org_id: String,
    /// The sum over its sinks.
    pub totals: Counts,
    /// Per sink.
    pub sinks: Vec<SinkStats>,
    /// Whether the organization was removed and is delivering what it had queued.
    pub removing: bool,
}

/// A snapshot of the whole dispatcher.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DispatcherStats {
    /// The sum over every sink.
    pub totals: Counts,
    /// Per organization, sorted by id.
    pub orgs: Vec<OrgStats>,
}

impl DispatcherStats {
    /// One organization's snapshot.
    pub fn org(&self, org_id: &str) -> Option<&OrgStats> {
        self.orgs.iter().find(|o| o.org_id == org_id && !o.removing)
    }

    /// One sink's snapshot.
    pub fn sink(&self, org_id: &str, sink: &str) -> Option<&SinkStats> {
        self.org(org_id)?.sinks.iter().find(|s| s.name == sink)
    }
}

/// Events one sink had not delivered when a flush or shutdown deadline passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Undelivered {
    /// The organization.
    pub org_id: String,
    /// The sink.
    pub sink: String,
    /// How many events.
    pub events: u64,
}

/// What [`Dispatcher::flush`](crate::Dispatcher::flush) achieved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlushReport {
    /// Whether everything queued at the call was delivered or failed in time.
    pub complete: bool,
    /// Sinks still holding events from before the call (they stay queued).
    pub pending: Vec<Undelivered>,
}

/// What [`Dispatcher::shutdown`](crate::Dispatcher::shutdown) achieved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShutdownReport {
    /// Whether every queued event was delivered or failed on its own before the deadline
    /// (nothing undelivered, nothing left in a disk buffer).
    pub complete: bool,
    /// Events given up on because the deadline passed, per sink (counted as failed).
    pub undelivered: Vec<Undelivered>,
    /// Events left in disk buffers, delivered after the next start.
    pub left_in_buffer: Vec<Undelivered>,
    /// The final counters.
    pub stats: DispatcherStats,
}
