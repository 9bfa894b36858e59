//! The hot path: the routing table snapshot and `emit`.
//!
//! `emit` reads the current [`RouteTable`] through `arc-swap` (no lock), finds the
//! organization's sinks in a hash map, tests each filter (a bit test for known types) and
//! pushes the event's `Arc` onto each matching sink's lock-free bounded queue.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rustc_hash::FxBuildHasher;
use siem_core::{EventFilter, SecurityEvent};

use crate::lane::Lane;
use crate::queue::{event_size, PushError, Queue};
use crate::stats::Counters;

/// What [`Dispatcher::emit`](crate::Dispatcher::emit) did with an event. Never an error: the caller's request goes
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
    /// At least one matching sink's queue was full (the event is counted as dropped there).
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

/// Pushes onto one sink's queue, waiting while it is full. Gives up (`Full`) only for an
/// event larger than the queue's whole byte bound.
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
    while error == PushError::Full && r.queue.could_fit(size) {
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
