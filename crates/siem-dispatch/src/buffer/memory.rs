//! One sink's bounded queue: a preallocated lock-free ring plus one packed atomic word
//! holding the event count, the estimated bytes and a "closed" bit.
//!
//! `push` (the hot path) does one `fetch_add` on the word to reserve room, checks both
//! bounds on the value it got back, and either pushes into the ring or undoes the
//! reservation (drop-newest). It wakes the worker only when the queue was empty or has
//! just reached the batch size, so a steady stream costs about two wake-ups per batch.
//!
//! The worker pops, then subtracts what it popped. Because a reservation precedes its
//! push, the worker can see a count with nothing to pop for a few nanoseconds; it then
//! yields and looks again. It sleeps on the notification only when the count is zero, and
//! an emitter that finds the count zero always notifies, so no wake-up is lost.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use siem_core::SecurityEvent;
use tokio::sync::Notify;

const BYTES_BITS: u32 = 40;
const BYTES_MASK: u64 = (1 << BYTES_BITS) - 1;
const COUNT_MASK: u64 = (1 << 23) - 1;
const CLOSED: u64 = 1 << 63;
/// Sizes are capped so that one event can never overflow the byte field.
const MAX_EVENT_SIZE: usize = 1 << 32;

/// Why an event was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// A bound would be exceeded.
    Full,
    /// The queue no longer takes events (its sink was removed or the dispatcher stops).
    Closed,
}

#[derive(Debug)]
pub(crate) struct Queue {
    state: AtomicU64,
    ring: ArrayQueue<Arc<SecurityEvent>>,
    cap_events: u64,
    cap_bytes: u64,
    /// Wake the worker when the count reaches this (the batch size).
    wake_events: AtomicUsize,
    /// Wake the worker when the bytes cross this (the batch size in bytes).
    wake_bytes: AtomicUsize,
    notify: Arc<Notify>,
}

/// A snapshot of the packed word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub(crate) events: usize,
    pub(crate) bytes: usize,
    pub(crate) closed: bool,
}

fn unpack(word: u64) -> Level {
    Level {
        events: ((word >> BYTES_BITS) & COUNT_MASK) as usize,
        bytes: (word & BYTES_MASK) as usize,
        closed: word & CLOSED != 0,
    }
}

fn pack(events: usize, bytes: usize) -> u64 {
    ((events as u64) << BYTES_BITS) | (bytes as u64 & BYTES_MASK)
}

/// The size the queue accounts for an event.
#[inline]
pub(crate) fn event_size(event: &SecurityEvent) -> usize {
    event.estimated_size().min(MAX_EVENT_SIZE)
}

impl Queue {
    pub(crate) fn new(
        cap_events: usize,
        cap_bytes: usize,
        wake_events: usize,
        wake_bytes: usize,
        notify: Arc<Notify>,
    ) -> Self {
        Self {
            state: AtomicU64::new(0),
            ring: ArrayQueue::new(cap_events.max(1)),
            cap_events: cap_events.max(1) as u64,
            cap_bytes: cap_bytes as u64,
            wake_events: AtomicUsize::new(wake_events),
            wake_bytes: AtomicUsize::new(wake_bytes),
            notify,
        }
    }

    pub(crate) fn capacity(&self) -> (usize, usize) {
        (self.cap_events as usize, self.cap_bytes as usize)
    }

    pub(crate) fn set_wake(&self, events: usize, bytes: usize) {
        self.wake_events.store(events, Ordering::Relaxed);
        self.wake_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Queues `event` accounted as `size` bytes (or drops it). Never blocks.
    #[inline]
    pub(crate) fn push(&self, event: Arc<SecurityEvent>, size: usize) -> Result<(), PushError> {
        self.push_or_return(event, size).map_err(|(error, _)| error)
    }

    /// Like [`push`](Self::push), but a refused event comes back, so that a caller that
    /// waits for room can retry with it instead of holding a clone of the `Arc` (each
    /// clone and drop is an atomic operation on the event).
    #[inline]
    pub(crate) fn push_or_return(
        &self,
        event: Arc<SecurityEvent>,
        size: usize,
    ) -> Result<(), (PushError, Arc<SecurityEvent>)> {
        let add = pack(1, size);
        let prev = self.state.fetch_add(add, Ordering::AcqRel);
        let was = unpack(prev);
        if was.closed
            || was.events as u64 >= self.cap_events
            || was.bytes as u64 + size as u64 > self.cap_bytes
        {
            self.state.fetch_sub(add, Ordering::AcqRel);
            let error = if was.closed {
                PushError::Closed
            } else {
                PushError::Full
            };
            return Err((error, event));
        }
        if let Err(event) = self.ring.push(event) {
            // Cannot happen: reservations never exceed the ring's capacity.
            self.state.fetch_sub(add, Ordering::AcqRel);
            return Err((PushError::Full, event));
        }
        let wake_bytes = self.wake_bytes.load(Ordering::Relaxed);
        if was.events == 0
            || was.events + 1 == self.wake_events.load(Ordering::Relaxed)
            || (was.bytes < wake_bytes && was.bytes + size >= wake_bytes)
        {
            self.notify.notify_one();
        }
        Ok(())
    }

    /// Whether an event of `size` bytes could ever fit (an empty queue would take it).
    pub(crate) fn could_fit(&self, size: usize) -> bool {
        size as u64 <= self.cap_bytes
    }

    /// The current level.
    pub(crate) fn level(&self) -> Level {
        unpack(self.state.load(Ordering::Acquire))
    }

    /// Stops intake; events already reserved still arrive.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.notify.notify_one();
    }

    /// Pops up to `max_events` events and about `max_bytes` bytes (at least one event)
    /// into `out`; returns how many were popped.
    pub(crate) fn pop_into(
        &self,
        out: &mut Vec<Arc<SecurityEvent>>,
        out_bytes: &mut usize,
        max_events: usize,
        max_bytes: usize,
    ) -> usize {
        let mut n = 0;
        let mut bytes = 0;
        while out.len() < max_events {
            if !out.is_empty() && *out_bytes >= max_bytes {
                break;
            }
            let Some(event) = self.ring.pop() else { break };
            let size = event_size(&event);
            *out_bytes += size;
            bytes += size;
            out.push(event);
            n += 1;
        }
        if n > 0 {
            self.state.fetch_sub(pack(n, bytes), Ordering::AcqRel);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use siem_core::testing::sample_events;

    /// An event and its size as the queue counts it.
    fn sized_event() -> (Arc<SecurityEvent>, usize) {
        let event = Arc::new(sample_events().remove(0));
        let size = event_size(&event);
        (event, size)
    }

    /// A queue of at most `events` events and `bytes` bytes (its wake-up thresholds play
    /// no part in these tests).
    fn bounded(events: usize, bytes: usize) -> Queue {
        Queue::new(events, bytes, 100, usize::MAX, Arc::new(Notify::new()))
    }

    #[test]
    fn bounds_by_count_and_bytes_and_closes() {
        let (e, size) = sized_event();
        let q = bounded(3, size * 10);
        for _ in 0..3 {
            q.push(e.clone(), size).unwrap();
        }
        assert_eq!(q.push(e.clone(), size), Err(PushError::Full));
        assert_eq!(q.level().events, 3);
        assert_eq!(q.level().bytes, 3 * size);
        let mut out = Vec::new();
        let mut b = 0;
        assert_eq!(q.pop_into(&mut out, &mut b, 2, usize::MAX), 2);
        assert_eq!(q.level().events, 1);
        let byte_bound = bounded(100, size * 2);
        byte_bound.push(e.clone(), size).unwrap();
        byte_bound.push(e.clone(), size).unwrap();
        assert_eq!(byte_bound.push(e.clone(), size), Err(PushError::Full));
        q.close();
        assert_eq!(q.push(e.clone(), size), Err(PushError::Closed));
        assert!(q.level().closed);
        let (mut rest, mut b) = (Vec::new(), 0);
        assert_eq!(q.pop_into(&mut rest, &mut b, usize::MAX, usize::MAX), 1);
        assert_eq!(q.level().events, 0);
        assert_eq!(q.level().bytes, 0);
    }

    #[test]
    fn a_refused_event_comes_back_to_the_caller() {
        let (e, size) = sized_event();
        let q = bounded(1, usize::MAX >> 30);
        q.push_or_return(e.clone(), size).unwrap();
        let (error, back) = q.push_or_return(e.clone(), size).unwrap_err();
        assert_eq!(error, PushError::Full);
        assert!(Arc::ptr_eq(&back, &e));
        q.close();
        let (error, _) = q.push_or_return(back, size).unwrap_err();
        assert_eq!(error, PushError::Closed);
        assert_eq!(q.level().events, 1);
    }

    #[test]
    fn pop_respects_the_byte_budget_but_takes_one() {
        let (e, size) = sized_event();
        let q = bounded(10, usize::MAX >> 30);
        for _ in 0..5 {
            q.push(e.clone(), size).unwrap();
        }
        let (mut out, mut b) = (Vec::new(), 0);
        assert_eq!(q.pop_into(&mut out, &mut b, 10, 1), 1);
        let (mut out, mut b) = (Vec::new(), 0);
        assert_eq!(q.pop_into(&mut out, &mut b, 10, size * 2), 2);
    }
}
