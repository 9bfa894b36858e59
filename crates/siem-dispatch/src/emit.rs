//! The hot path: the routing table snapshot, `emit`, and the [`Emitter`] that offers it.
//!
//! `emit` reads the current [`RouteTable`] through `arc-swap` (no lock), finds the
//! organization's sinks in a hash map, tests each filter (a bit test for known types) and
//! pushes the event's `Arc` onto each matching sink's lock-free bounded queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustc_hash::FxBuildHasher;
use siem_core::{EventFilter, SecurityEvent};

use crate::buffer::memory::{event_size, PushError, Queue};
use crate::lane::Lane;
use crate::stats::Counters;

/// What [`Emitter::emit`] did with an event. Never an error: the caller's request goes
/// on whatever the SIEMs do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitOutcome {
    /// Queued for this many sinks (every matching sink).
    Queued {
        /// Sinks that took the event.
        sinks: u32,
    },
    /// The organization is unknown or none of its sinks subscribes to the event type.
    NoMatch,
    /// At least one matching sink's buffer was full (the event is counted as dropped
    /// there, with the cause "circuit open" when that sink's circuit was open).
    Dropped {
        /// Sinks that took the event.
        queued: u32,
        /// Sinks whose queue was full.
        dropped: u32,
    },
    /// The dispatcher is shutting down or has shut down.
    Closed,
}

impl EmitOutcome {
    /// How many sinks took the event.
    pub fn queued_sinks(&self) -> u32 {
        match *self {
            EmitOutcome::Queued { sinks } => sinks,
            EmitOutcome::Dropped { queued, .. } => queued,
            EmitOutcome::NoMatch | EmitOutcome::Closed => 0,
        }
    }

    /// How many sinks dropped the event.
    pub fn dropped_sinks(&self) -> u32 {
        match *self {
            EmitOutcome::Dropped { dropped, .. } => dropped,
            _ => 0,
        }
    }
}

pub(crate) struct RouteEntry {
    pub(crate) filter: EventFilter,
    pub(crate) queue: Arc<Queue>,
    pub(crate) lane: Arc<Lane>,
}

#[derive(Default)]
pub(crate) struct RouteTable {
    pub(crate) orgs: HashMap<Box<str>, Box<[RouteEntry]>, FxBuildHasher>,
    pub(crate) closed: bool,
}

impl RouteTable {
    /// The organization's sinks and the index of the last one whose filter matches, or
    /// the outcome when no sink takes the event.
    #[inline]
    fn matching(&self, event: &SecurityEvent) -> Result<(&[RouteEntry], usize), EmitOutcome> {
        if self.closed {
            return Err(EmitOutcome::Closed);
        }
        let entries = self
            .orgs
            .get(event.org_id().as_str())
            .ok_or(EmitOutcome::NoMatch)?;
        let last = entries
            .iter()
            .rposition(|r| r.filter.matches(event.event_type()))
            .ok_or(EmitOutcome::NoMatch)?;
        Ok((entries, last))
    }

    #[inline]
    pub(crate) fn emit(&self, event: Owned) -> EmitOutcome {
        let (entries, last) = match self.matching(event.as_ref()) {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let size = event_size(event.as_ref());
        // The last matching sink gets the event itself, the others a clone of the Arc.
        let event = event.into_arc();
        let mut tally = Tally::default();
        for r in &entries[..last] {
            if r.filter.matches(event.event_type()) {
                tally.record(r, r.queue.push(Arc::clone(&event), size));
            }
        }
        tally.record(&entries[last], entries[last].queue.push(event, size));
        tally.outcome()
    }

    /// Like [`emit`](Self::emit), but waits for room in full queues instead of dropping.
    pub(crate) async fn emit_waiting(&self, event: Arc<SecurityEvent>) -> EmitOutcome {
        let (entries, last) = match self.matching(&event) {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let size = event_size(&event);
        let mut tally = Tally::default();
        for r in &entries[..last] {
            if r.filter.matches(event.event_type()) {
                tally.record(r, push_waiting(r, Arc::clone(&event), size).await);
            }
        }
        let r = &entries[last];
        tally.record(r, push_waiting(r, event, size).await);
        tally.outcome()
    }
}

/// The sinks that took an event and those whose queue was full.
#[derive(Default)]
struct Tally {
    queued: u32,
    dropped: u32,
}

impl Tally {
    #[inline]
    fn record(&mut self, r: &RouteEntry, result: Result<(), PushError>) {
        match result {
            Ok(()) => self.queued += 1,
            Err(PushError::Full) => {
                self.dropped += 1;
                note_drop(&r.lane);
            }
            // The sink was removed a moment ago: the event arrived after it.
            Err(PushError::Closed) => {}
        }
    }

    #[inline]
    fn outcome(self) -> EmitOutcome {
        match (self.queued, self.dropped) {
            (0, 0) => EmitOutcome::NoMatch,
            (q, 0) => EmitOutcome::Queued { sinks: q },
            (q, d) => EmitOutcome::Dropped {
                queued: q,
                dropped: d,
            },
        }
    }
}

/// Pushes onto one sink's queue, waiting while it is full and the sink can make room (see
/// [`WhenFull::Block`](crate::WhenFull::Block)). Gives up (`Full`) for an event larger
/// than the queue's whole byte bound, and as soon as the sink stops exerting backpressure
/// (its circuit opened, or `drop_newest`).
async fn push_waiting(
    r: &RouteEntry,
    event: Arc<SecurityEvent>,
    size: usize,
) -> Result<(), PushError> {
    // The common case (room in the queue) registers no waiter at all.
    let (mut error, mut event) = match r.queue.push_or_return(event, size) {
        Ok(()) => return Ok(()),
        Err(refused) => refused,
    };
    while error == PushError::Full && r.queue.could_fit(size) && r.lane.waits_when_full() {
        let room = r.lane.room.notified();
        tokio::pin!(room);
        // Armed before the retry, so room made in between is not missed.
        room.as_mut().enable();
        (error, event) = match r.queue.push_or_return(event, size) {
            Ok(()) => return Ok(()),
            Err(refused) => refused,
        };
        if error == PushError::Full {
            room.await;
            (error, event) = match r.queue.push_or_return(event, size) {
                Ok(()) => return Ok(()),
                Err(refused) => refused,
            };
        }
    }
    Err(error)
}

/// Counts a drop. The first drop of an episode wakes the worker, which logs it: `emit`
/// itself never calls into the log subscriber (which may do I/O).
pub(crate) fn note_drop(lane: &Lane) {
    Counters::add(&lane.counters.dropped, 1);
    if lane.breaker.is_open() {
        Counters::add(&lane.counters.dropped_circuit_open, 1);
    }
    if !lane.drop_warned.load(Ordering::Relaxed) && !lane.drop_warned.swap(true, Ordering::AcqRel) {
        lane.notify.notify_one();
    }
}

/// An event by value or already shared; `emit` allocates the `Arc` only when a sink
/// matches.
// By value on purpose: the event moves once, on the stack, and boxing it would allocate
// even when no sink matches.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Owned {
    Event(SecurityEvent),
    Shared(Arc<SecurityEvent>),
}

impl AsRef<SecurityEvent> for Owned {
    fn as_ref(&self) -> &SecurityEvent {
        match self {
            Owned::Event(e) => e,
            Owned::Shared(e) => e,
        }
    }
}

impl Owned {
    pub(crate) fn into_arc(self) -> Arc<SecurityEvent> {
        match self {
            Owned::Event(e) => Arc::new(e),
            Owned::Shared(e) => e,
        }
    }
}

/// The published routing table and its version.
#[derive(Default)]
pub(crate) struct Routes {
    table: ArcSwap<RouteTable>,
    /// Bumped after each routing table is published, so that [`Emitter::emit_wait_all`]
    /// keeps its snapshot until the table changes: a plain load where reading the table
    /// costs several atomic operations per event.
    version: AtomicU64,
}

impl Routes {
    pub(crate) fn publish(&self, table: RouteTable) {
        self.table.store(Arc::new(table));
        self.version.fetch_add(1, Ordering::Release);
    }
}

/// The one emit API: a cheap, cloneable handle (e.g. one per gateway worker thread). A
/// [`Dispatcher`](crate::Dispatcher) dereferences to its own `Emitter`, so
/// `dispatcher.emit(event)` works too.
#[derive(Clone)]
pub struct Emitter {
    pub(crate) routes: Arc<Routes>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Emitter")
    }
}

impl Emitter {
    /// Routes an event to its organization's matching sinks. Synchronous and cheap: one
    /// lock-free read of the routing table, a filter bit test and a lock-free `try_push`
    /// per sink, one allocation (the `Arc` shared by all sinks, only when one matches);
    /// no I/O, no lock, no await, no panic, whatever the buffer type (a disk buffer's
    /// worker writes to disk, never the caller). A full buffer drops the event (counted).
    #[inline]
    pub fn emit(&self, event: SecurityEvent) -> EmitOutcome {
        self.routes.table.load().emit(Owned::Event(event))
    }

    /// Like [`emit`](Self::emit) for an event that is already shared: no allocation.
    #[inline]
    pub fn emit_arc(&self, event: Arc<SecurityEvent>) -> EmitOutcome {
        self.routes.table.load().emit(Owned::Shared(event))
    }

    /// Like [`emit`](Self::emit), but when a matching sink's buffer is full and the sink
    /// can make room (healthy, `when_full = block`), waits until its worker makes room
    /// instead of dropping: backpressure for batch tools that read events from a file or
    /// pipe (e.g. `siem forward`). A sink whose circuit is open never makes it wait. Never
    /// use it on a gateway's request path: a slow SIEM would slow the caller. An event
    /// larger than a sink's whole byte bound is still dropped there.
    pub async fn emit_wait(&self, event: SecurityEvent) -> EmitOutcome {
        self.emit_wait_arc(Arc::new(event)).await
    }

    /// Like [`emit_wait`](Self::emit_wait) for an event that is already shared.
    pub async fn emit_wait_arc(&self, event: Arc<SecurityEvent>) -> EmitOutcome {
        self.routes.table.load_full().emit_waiting(event).await
    }

    /// [`emit_wait_arc`](Self::emit_wait_arc) for each of `events` in order, handing each
    /// outcome to `outcome`. For a tool that has many events at hand: the routing table is
    /// read again only when a reconfiguration has changed it, where `emit_wait_arc` reads it
    /// for every event. A change made while an event waits applies from the next event on,
    /// as it would between two calls of `emit_wait_arc`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use siem_core::testing::{sample_events_for, MemorySink};
    /// use siem_dispatch::{Dispatcher, EmitOutcome, OrgConfig, SinkConfig};
    ///
    /// let sink = Arc::new(MemorySink::new("splunk-prod"));
    /// let dispatcher = Dispatcher::start([
    ///     OrgConfig::new("org_acme")?.sink(SinkConfig::new(sink.clone())),
    /// ])?;
    /// let events = sample_events_for("org_acme").into_iter().chain(sample_events_for("org_other"));
    /// let mut no_match = 0;
    /// dispatcher
    ///     .emit_wait_all(events.map(Arc::new), |outcome| {
    ///         no_match += usize::from(outcome == EmitOutcome::NoMatch)
    ///     })
    ///     .await;
    /// assert_eq!(no_match, 6);
    /// let report = dispatcher.shutdown(std::time::Duration::from_secs(5)).await;
    /// assert_eq!(report.stats.totals.delivered, 6);
    /// # Ok(()) }
    /// ```
    pub async fn emit_wait_all(
        &self,
        events: impl IntoIterator<Item = Arc<SecurityEvent>>,
        mut outcome: impl FnMut(EmitOutcome),
    ) {
        let mut version = self.routes.version.load(Ordering::Acquire);
        let mut routes = self.routes.table.load_full();
        for event in events {
            let now = self.routes.version.load(Ordering::Acquire);
            if now != version {
                version = now;
                routes = self.routes.table.load_full();
            }
            outcome(routes.emit_waiting(event).await);
        }
    }
}
