//! The worker's side of a disk buffer: which records are on disk, which are being sent,
//! which wait, and the changes to commit next.
//!
//! Order of operations, for at-least-once delivery: a batch taken from the staging ring
//! becomes a record that is committed (durable) *before* it is sent; a record read back
//! from disk is marked "attempted" and committed before it is sent (so a restart knows it
//! may duplicate it); a record is removed in a commit only after every event in it was
//! delivered or failed for good. Events handed back by an open circuit stay on disk (a
//! partly delivered record is rewritten with only the rest).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use siem_core::SecurityEvent;

use crate::buffer::disk::{Changes, DiskStore, Opened};
use crate::buffer::memory::event_size;
use crate::buffer::BufferPolicy;
use crate::lane::Lane;
use crate::stats::{Counters, LastError};

#[derive(Debug)]
struct Record {
    events: usize,
    bytes: usize,
    attempted: bool,
    /// The events, while they are still in memory (fresh records, a few at a time).
    cached: Option<Vec<Arc<SecurityEvent>>>,
}

/// The records of one sink's disk buffer, as its worker sees them.
#[derive(Debug)]
pub(crate) struct Spool {
    store: DiskStore,
    next_seq: u64,
    records: HashMap<u64, Record>,
    /// Records waiting to be sent, oldest first.
    unsent: VecDeque<u64>,
    changes: Changes,
    events: usize,
    bytes: usize,
    cached: usize,
    /// How many records keep their events in memory.
    cache_limit: usize,
    commit_failing: bool,
}

impl Spool {
    /// Takes over what the buffer held at start: counted as recovered (and as queued).
    pub(crate) fn recover(
        lane: &Lane,
        store: DiskStore,
        opened: Opened,
        cache_limit: usize,
    ) -> Self {
        let mut spool = Self {
            store,
            next_seq: 1,
            records: HashMap::with_capacity(opened.records.len()),
            unsent: VecDeque::with_capacity(opened.records.len()),
            changes: Changes::default(),
            events: 0,
            bytes: 0,
            cached: 0,
            cache_limit: cache_limit.max(1),
            commit_failing: false,
        };
        let c = &lane.counters;
        let mut redelivered = 0;
        for r in &opened.records {
            spool.next_seq = spool.next_seq.max(r.seq + 1);
            spool.records.insert(
                r.seq,
                Record {
                    events: r.events,
                    bytes: r.bytes,
                    attempted: r.attempted,
                    cached: None,
                },
            );
            spool.unsent.push_back(r.seq);
            spool.events += r.events;
            spool.bytes += r.bytes;
            if r.attempted {
                redelivered += r.events;
            }
        }
        if let Some(aside) = &opened.quarantined {
            c.record_error(LastError::local(
                "buffer",
                format!(
                    "the disk buffer could not be read and was moved aside to {}",
                    aside.display()
                ),
            ));
        }
        if spool.events > 0 {
            Counters::add(&c.popped, spool.events);
            Counters::add(&c.recovered, spool.events);
            Counters::add(&c.redelivered, redelivered);
            tracing::info!(
                org = %lane.org,
                sink = %lane.name,
                events = spool.events,
                possibly_duplicated = redelivered,
                file = %spool.store.path().display(),
                "disk buffer: delivering events left by an earlier run"
            );
        }
        spool.publish(lane);
        spool
    }

    /// Whether the buffer is at its bound (no more records until some are delivered).
    pub(crate) fn is_full(&self, policy: &BufferPolicy) -> bool {
        self.events >= policy.max_events || self.bytes >= policy.max_bytes
    }

    /// Whether as many records wait as keep their events in memory: spooling further
    /// ahead would mean reading records back from disk.
    pub(crate) fn is_ahead(&self) -> bool {
        self.unsent.len() >= self.cache_limit
    }

    /// Whether records wait to be sent.
    pub(crate) fn has_unsent(&self) -> bool {
        !self.unsent.is_empty()
    }

    fn add_record(&mut self, events: Vec<Arc<SecurityEvent>>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let n = events.len();
        // Estimated until the commit has written it (see `commit`).
        let bytes: usize = events.iter().map(|e| event_size(e)).sum();
        let cached = (self.cached < self.cache_limit).then(|| {
            self.cached += 1;
            events.clone()
        });
        self.events += n;
        self.bytes += bytes;
        self.records.insert(
            seq,
            Record {
                events: n,
                bytes,
                attempted: false,
                cached,
            },
        );
        self.changes.append.push((seq, events));
        seq
    }

    /// Writes a batch from the staging ring as a new record (committed by the next
    /// [`commit`](Self::commit)).
    pub(crate) fn append(&mut self, events: Vec<Arc<SecurityEvent>>) {
        let seq = self.add_record(events);
        self.unsent.push_back(seq);
    }

    /// The oldest waiting record and its events; a record read back from disk is marked
    /// attempted. Damaged lines are failed and counted here.
    pub(crate) fn take_next(&mut self, lane: &Lane) -> Option<(u64, Vec<Arc<SecurityEvent>>)> {
        while let Some(seq) = self.unsent.pop_front() {
            let Some(record) = self.records.get_mut(&seq) else {
                continue;
            };
            if !record.attempted {
                record.attempted = true;
                self.changes.attempted.push(seq);
            }
            if let Some(events) = record.cached.take() {
                self.cached -= 1;
                return Some((seq, events));
            }
            let expected = record.events;
            let (events, damaged) = match self.store.read(seq) {
                Ok(read) => read,
                Err(e) => {
                    tracing::error!(org = %lane.org, sink = %lane.name, error = %e, "disk buffer: unreadable record skipped");
                    (Vec::new(), expected)
                }
            };
            // Lines that no longer parse (and any the count at start missed) are lost.
            let lost = damaged.max(expected.saturating_sub(events.len()));
            if lost > 0 {
                let c = &lane.counters;
                Counters::add(&c.failed, lost);
                Counters::add(&c.damaged, lost);
                let message = format!(
                    "{lost} event(s) in a damaged record of {} skipped",
                    self.store.path().display()
                );
                tracing::warn!(org = %lane.org, sink = %lane.name, events = lost, "disk buffer: {message}");
                c.record_error(LastError::local("damaged", message));
                if let Some(record) = self.records.get_mut(&seq) {
                    record.events = events.len();
                }
                self.events -= lost.min(self.events);
            }
            if events.is_empty() {
                self.finished(seq);
                continue;
            }
            return Some((seq, events));
        }
        None
    }

    /// Every event of record `seq` was delivered or failed for good: remove it.
    pub(crate) fn finished(&mut self, seq: u64) {
        if let Some(record) = self.records.remove(&seq) {
            self.events -= record.events.min(self.events);
            self.bytes -= record.bytes.min(self.bytes);
            if record.cached.is_some() {
                self.cached -= 1;
            }
            self.changes.remove.push(seq);
        }
    }

    /// Events of record `seq` that were not sent (circuit open, shutdown): they wait
    /// again, first in line. A partly delivered record is replaced by one holding only
    /// the rest, so that nothing delivered is sent twice.
    pub(crate) fn returned(&mut self, seq: u64, events: Vec<Arc<SecurityEvent>>) {
        let whole = self
            .records
            .get(&seq)
            .is_some_and(|r| r.events == events.len());
        if whole {
            if let Some(record) = self.records.get_mut(&seq) {
                if record.cached.is_none() {
                    self.cached += 1;
                }
                record.cached = Some(events);
            }
            self.unsent.push_front(seq);
            return;
        }
        self.finished(seq);
        let rest = self.add_record(events);
        if let Some(r) = self.records.get_mut(&rest) {
            r.attempted = true;
            self.changes.attempted.push(rest);
        }
        self.unsent.push_front(rest);
    }

    /// Whether changes wait to be committed.
    pub(crate) fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Commits the pending changes on the blocking pool; durable when it returns `true`.
    /// A failed commit keeps the changes for the next try and is logged once per episode.
    pub(crate) async fn commit(&mut self, lane: &Lane) -> bool {
        if self.changes.is_empty() {
            return true;
        }
        let store = self.store.clone();
        let mut changes = std::mem::take(&mut self.changes);
        // Encoding and writing run on the blocking pool: another core, while this
        // runtime thread serves the other sinks.
        let result = tokio::task::spawn_blocking(move || {
            let result = store.commit(&mut changes);
            (changes, result)
        })
        .await;
        let ok = match result {
            Ok((mut changes, Ok(()))) => {
                for &(seq, written) in &changes.written {
                    if let Some(record) = self.records.get_mut(&seq) {
                        self.bytes = self.bytes - record.bytes.min(self.bytes) + written;
                        record.bytes = written;
                    }
                }
                // The next commit reuses the buffers.
                changes.append.clear();
                changes.attempted.clear();
                changes.remove.clear();
                self.changes = changes;
                true
            }
            Ok((changes, Err(e))) => {
                self.changes = changes;
                self.commit_error(lane, e);
                false
            }
            Err(join) => {
                self.commit_error(lane, format!("the buffer writer stopped: {join}"));
                false
            }
        };
        if ok && self.commit_failing {
            self.commit_failing = false;
            tracing::info!(org = %lane.org, sink = %lane.name, "disk buffer writable again");
        }
        self.publish(lane);
        ok
    }

    fn commit_error(&mut self, lane: &Lane, message: String) {
        if !self.commit_failing {
            tracing::error!(org = %lane.org, sink = %lane.name, error = %message, "disk buffer: cannot write; retrying");
            self.commit_failing = true;
        }
        lane.counters
            .record_error(LastError::local("buffer", message));
    }

    /// Publishes the sizes for stats and the "full" flag for emitters.
    pub(crate) fn publish(&self, lane: &Lane) {
        use std::sync::atomic::Ordering;
        lane.disk_events
            .store(self.events as u64, Ordering::Relaxed);
        lane.disk_bytes.store(self.bytes as u64, Ordering::Relaxed);
        let full = self.is_full(&lane.settings().buffer);
        if lane.disk_full.swap(full, Ordering::AcqRel) && !full {
            lane.room.notify_waiters();
        }
    }
}
