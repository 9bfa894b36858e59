//! What every emulator shares: fault injection, counters and the bounded record of what
//! was accepted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::delay::{ArrivalDelays, DelayHistogram};
use crate::event::ReceivedEvent;

/// How many accepted events an emulator stores by default (see [`Recording`]).
pub const DEFAULT_MAX_STORED_EVENTS: usize = 100_000;

/// How many request summaries an emulator keeps (the first ones; later ones are counted).
pub const MAX_STORED_REQUESTS: usize = 10_000;

/// A scripted misbehaviour for one request (see [`Emulator::inject`](crate::SplunkEmulator::inject)).
///
/// Faults apply after the request body has been read, so the client has sent everything
/// when it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and the platform's own error body for it, optionally with a
    /// `Retry-After` header (whole seconds).
    Status {
        /// The HTTP status, e.g. 503.
        status: u16,
        /// The `Retry-After` value, if any.
        retry_after: Option<Duration>,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Never answer (until the client gives up or the emulator stops).
    Hang,
    /// End the exchange without any response: over HTTP/1.1 the connection is closed;
    /// over HTTP/2 the request's stream is reset (`RST_STREAM`).
    Reset,
}

impl Fault {
    /// `Status` without `Retry-After`.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            retry_after: None,
        }
    }

    /// `Status` with a `Retry-After` of `retry_after` (rounded down to whole seconds).
    pub fn status_retry_after(status: u16, retry_after: Duration) -> Self {
        Fault::Status {
            status,
            retry_after: Some(retry_after),
        }
    }
}

/// What an emulator keeps of the events it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Store decoded events, up to `max_events` (the first ones); later events are still
    /// validated and counted ([`EmulatorStats::events_not_stored`]) but not stored.
    Store {
        /// The bound.
        max_events: usize,
    },
    /// Validate and count only: nothing is decoded into [`ReceivedEvent`]s or stored, so
    /// memory stays flat for million-event runs.
    CountOnly,
}

impl Default for Recording {
    fn default() -> Self {
        Recording::Store {
            max_events: DEFAULT_MAX_STORED_EVENTS,
        }
    }
}

/// A snapshot of an emulator's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmulatorStats {
    /// Requests received (every one, faulted or not).
    pub requests: u64,
    /// Requests answered with a 2xx status.
    pub accepted_requests: u64,
    /// Events (records, log items, envelopes) accepted in those requests.
    pub accepted_events: u64,
    /// Requests answered with a non-2xx status, by status (injected faults included).
    pub rejected: BTreeMap<u16, u64>,
    /// Faults applied from the queue or the outage switch (delays, hangs and resets
    /// included; persistent latency is not counted).
    pub faults_applied: u64,
    /// Accepted events that were not stored (count-only mode, or over the bound).
    pub events_not_stored: u64,
    /// Request body bytes received, as sent (compressed when gzip).
    pub bytes_received: u64,
}

impl EmulatorStats {
    /// Total requests rejected, whatever the status.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Requests rejected with this status.
    pub fn rejected_with(&self, status: u16) -> u64 {
        self.rejected.get(&status).copied().unwrap_or(0)
    }
}

/// A summary of one request the emulator answered (the first [`MAX_STORED_REQUESTS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// The status answered (`None` for a hang or a reset).
    pub status: Option<u16>,
    /// Events accepted from this request.
    pub events: usize,
    /// The body length as sent.
    pub body_len: usize,
    /// The `Content-Encoding` header, if any.
    pub content_encoding: Option<String>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// The HTTP version, e.g. `HTTP/1.1`.
    pub version: String,
    /// Why the emulator rejected the request (its own words; the platform's body may say
    /// less), or which fault it injected.
    pub detail: Option<String>,
}

const STATUS_SLOTS: usize = 600;

#[derive(Debug, Default)]
struct FaultState {
    queue: VecDeque<Fault>,
    latency: Duration,
    outage: Option<Fault>,
}

#[derive(Debug, Default)]
struct Store {
    events: Vec<ReceivedEvent>,
    requests: Vec<RequestRecord>,
}

/// The shared state of one emulated service: faults, counters and records.
pub(crate) struct Core {
    recording: Recording,
    max_body: usize,
    faults: Mutex<FaultState>,
    store: Mutex<Store>,
    requests: AtomicU64,
    accepted_requests: AtomicU64,
    accepted_events: AtomicU64,
    faults_applied: AtomicU64,
    events_not_stored: AtomicU64,
    bytes_received: AtomicU64,
    by_status: Box<[AtomicU64]>,
    track_delays: AtomicBool,
    delays: DelayHistogram,
}

/// What a service does with each valid event of one request: store it decoded, and/or
/// record its arrival delay.
#[derive(Clone, Copy)]
pub(crate) struct Keep<'a> {
    /// Decode the event into a [`ReceivedEvent`].
    pub store: bool,
    /// Record the delay between the event's timestamp and `arrival_nanos`.
    delays: Option<&'a DelayHistogram>,
    arrival_nanos: i128,
}

impl Keep<'_> {
    /// Records an event's arrival delay, when tracking.
    pub(crate) fn observe(&self, timestamp: &siem_core::Timestamp) {
        if let Some(delays) = self.delays {
            delays.record(timestamp, self.arrival_nanos);
        }
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("recording", &self.recording)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What to do with a request before normal handling.
#[derive(Debug)]
pub(crate) struct Plan {
    pub latency: Duration,
    pub fault: Option<Fault>,
}

impl Core {
    /// A service's state, keeping `recording` of its events and reading request bodies
    /// (as sent) of at most `max_body` bytes.
    pub(crate) fn new(recording: Recording, max_body: usize) -> Self {
        Self {
            recording,
            max_body,
            faults: Mutex::default(),
            store: Mutex::default(),
            requests: AtomicU64::new(0),
            accepted_requests: AtomicU64::new(0),
            accepted_events: AtomicU64::new(0),
            faults_applied: AtomicU64::new(0),
            events_not_stored: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            track_delays: AtomicBool::new(false),
            delays: DelayHistogram::new(),
        }
    }

    /// The largest request body (as sent) the service reads; beyond it, 413.
    pub(crate) fn max_body(&self) -> usize {
        self.max_body
    }

    /// What to do with the valid events of a request being handled now.
    pub(crate) fn keep(&self) -> Keep<'_> {
        let store = match self.recording {
            Recording::CountOnly => false,
            Recording::Store { max_events } => lock(&self.store).events.len() < max_events,
        };
        let track = self.track_delays.load(Ordering::Relaxed);
        Keep {
            store,
            delays: track.then_some(&self.delays),
            arrival_nanos: if track {
                DelayHistogram::now_nanos()
            } else {
                0
            },
        }
    }

    pub(crate) fn track_arrival_delays(&self, on: bool) {
        self.track_delays.store(on, Ordering::Relaxed);
    }

    pub(crate) fn arrival_delays(&self) -> ArrivalDelays {
        self.delays.snapshot()
    }

    pub(crate) fn inject(&self, fault: Fault) {
        lock(&self.faults).queue.push_back(fault);
    }

    pub(crate) fn clear_faults(&self) {
        let mut f = lock(&self.faults);
        f.queue.clear();
        f.outage = None;
        f.latency = Duration::ZERO;
    }

    pub(crate) fn pending_faults(&self) -> usize {
        lock(&self.faults).queue.len()
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        lock(&self.faults).latency = latency;
    }

    pub(crate) fn set_outage(&self, outage: Option<Fault>) {
        lock(&self.faults).outage = outage;
    }

    /// Counts the request and takes the fault that applies to it.
    pub(crate) fn begin(&self, body_len: usize) -> Plan {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_received
            .fetch_add(body_len as u64, Ordering::Relaxed);
        let mut f = lock(&self.faults);
        let fault = f.queue.pop_front().or_else(|| f.outage.clone());
        if fault.is_some() {
            self.faults_applied.fetch_add(1, Ordering::Relaxed);
        }
        Plan {
            latency: f.latency,
            fault,
        }
    }

    /// Counts the answer and stores the accepted events (within the bound).
    pub(crate) fn finish(
        &self,
        record: RequestRecord,
        accepted_events: usize,
        events: Vec<ReceivedEvent>,
    ) {
        if let Some(status) = record.status {
            if (200..300).contains(&status) {
                self.accepted_requests.fetch_add(1, Ordering::Relaxed);
            } else if let Some(slot) = self.by_status.get(usize::from(status)) {
                slot.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.accepted_events
            .fetch_add(accepted_events as u64, Ordering::Relaxed);
        let max_events = match self.recording {
            Recording::Store { max_events } => max_events,
            Recording::CountOnly => 0,
        };
        let mut store = lock(&self.store);
        let room = max_events.saturating_sub(store.events.len());
        let stored = events.len().min(room);
        store.events.extend(events.into_iter().take(stored));
        self.events_not_stored.fetch_add(
            accepted_events.saturating_sub(stored) as u64,
            Ordering::Relaxed,
        );
        if store.requests.len() < MAX_STORED_REQUESTS {
            store.requests.push(record);
        }
    }

    pub(crate) fn received(&self) -> Vec<ReceivedEvent> {
        lock(&self.store).events.clone()
    }

    pub(crate) fn take_received(&self) -> Vec<ReceivedEvent> {
        std::mem::take(&mut lock(&self.store).events)
    }

    pub(crate) fn requests_log(&self) -> Vec<RequestRecord> {
        lock(&self.store).requests.clone()
    }

    pub(crate) fn stats(&self) -> EmulatorStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        EmulatorStats {
            requests: load(&self.requests),
            accepted_requests: load(&self.accepted_requests),
            accepted_events: load(&self.accepted_events),
            rejected: self
                .by_status
                .iter()
                .enumerate()
                .filter_map(|(status, n)| {
                    let n = load(n);
                    (n > 0).then_some((status as u16, n))
                })
                .collect(),
            faults_applied: load(&self.faults_applied),
            events_not_stored: load(&self.events_not_stored),
            bytes_received: load(&self.bytes_received),
        }
    }
}

/// Generates the control methods every emulator handle shares, delegating to a [`Core`].
macro_rules! control_methods {
    ($core:ident) => {
        /// Queues a fault for the next request that has no earlier fault queued.
        pub fn inject(&self, fault: $crate::Fault) {
            self.$core().inject(fault);
        }

        /// Queues several faults, in order.
        pub fn inject_all(&self, faults: impl IntoIterator<Item = $crate::Fault>) {
            for fault in faults {
                self.$core().inject(fault);
            }
        }

        /// Faults still queued.
        pub fn pending_faults(&self) -> usize {
            self.$core().pending_faults()
        }

        /// Adds this delay before every answer (`Duration::ZERO` to stop).
        pub fn set_latency(&self, latency: std::time::Duration) {
            self.$core().set_latency(latency);
        }

        /// Outage switch: while on, every request (after the queued faults) is answered
        /// with 503 and the platform's "unavailable" body; off resumes normal service.
        pub fn set_outage(&self, on: bool) {
            self.$core()
                .set_outage(on.then(|| $crate::Fault::status(503)));
        }

        /// Outage with another fault, e.g. [`Fault::Reset`](crate::Fault::Reset) or
        /// [`Fault::Hang`](crate::Fault::Hang) for every request; `None` resumes.
        pub fn set_outage_fault(&self, fault: Option<$crate::Fault>) {
            self.$core().set_outage(fault);
        }

        /// Clears queued faults, latency and the outage.
        pub fn clear_faults(&self) {
            self.$core().clear_faults();
        }

        /// The events accepted so far and stored (see [`Recording`](crate::Recording)),
        /// in arrival order.
        pub fn received(&self) -> Vec<$crate::ReceivedEvent> {
            self.$core().received()
        }

        /// Like [`received`](Self::received), emptying the store (which frees room under
        /// the bound).
        pub fn take_received(&self) -> Vec<$crate::ReceivedEvent> {
            self.$core().take_received()
        }

        /// Summaries of the first requests answered (or faulted).
        pub fn requests(&self) -> Vec<$crate::RequestRecord> {
            self.$core().requests_log()
        }

        /// The counters.
        pub fn stats(&self) -> $crate::EmulatorStats {
            self.$core().stats()
        }

        /// Starts (or stops) recording, for every accepted event, the delay between its
        /// `timestamp` and its arrival (when its request was read), for latency
        /// benchmarks whose sender stamps events at emit time. Off by default.
        pub fn track_arrival_delays(&self, on: bool) {
            self.$core().track_arrival_delays(on);
        }

        /// The arrival delays recorded so far (see
        /// [`track_arrival_delays`](Self::track_arrival_delays)).
        pub fn arrival_delays(&self) -> $crate::ArrivalDelays {
            self.$core().arrival_delays()
        }
    };
}

pub(crate) use control_methods;

/// `Debug` for an emulator's configuration, its fields in order: `field` as is,
/// `field => redacted` as `[REDACTED]` (a secret), `field => count` as its length (a list
/// of secrets).
macro_rules! config_debug {
    ($ty:ident { $($field:ident $(=> $how:ident)?),* $(,)? }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut out = f.debug_struct(stringify!($ty));
                $($crate::control::config_debug!(@field out, self, $field $(, $how)?);)*
                out.finish()
            }
        }
    };
    (@field $out:ident, $config:ident, $field:ident) => {
        $out.field(stringify!($field), &$config.$field);
    };
    (@field $out:ident, $config:ident, $field:ident, redacted) => {
        $out.field(stringify!($field), &"[REDACTED]");
    };
    (@field $out:ident, $config:ident, $field:ident, count) => {
        $out.field(stringify!($field), &$config.$field.len());
    };
}

pub(crate) use config_debug;
