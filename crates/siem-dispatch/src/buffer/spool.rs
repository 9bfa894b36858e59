//! The worker's side of a disk buffer: which records are on disk, which are being sent,
//! which wait, and the changes to commit next.
//!
//! Order of operations, for at-least-once delivery with group commits: a batch taken
//! from the staging ring becomes a record; records are written together, in one commit,
//! once the oldest has waited [`WRITE_BEHIND`], or when enough of them wait, or when the
//! worker goes idle or stops. A record delivered before that is never written: the disk
//! holds what the SIEM has not acknowledged yet, not every event that passed. A record
//! written while being sent is written marked "attempted"; a record read back from disk
//! is marked "attempted" in a commit *before* it is sent, so a restart knows it may
//! duplicate it (counted as `redelivered`). A record is removed, in a later commit, only
//! after every event in it was delivered or failed for good. Events handed back by an
//! open circuit wait again (a partly delivered record is rewritten with only the rest).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use siem_core::SecurityEvent;
use tokio::time::Instant;

use crate::buffer::disk::{Changes, DiskStore, Opened};
use crate::buffer::memory::event_size;
use crate::buffer::BufferPolicy;
use crate::lane::Lane;
use crate::stats::{Counters, LastError};

/// How long a record may wait in memory before it is written: the bound on what a crash
/// of the process (or `kill -9`) can lose beyond the staging ring, and the window in
/// which a delivered record never costs a write. Vector's disk buffer syncs every
/// 500 ms; a shorter window here, as the staging ring already lingers up to `linger_ms`.
pub(crate) const WRITE_BEHIND: Duration = Duration::from_millis(200);

/// How long a failed background write waits before the next try.
const WRITE_RETRY: Duration = Duration::from_secs(1);

/// Removals that force a commit of their own (see [`Spool::write_due`]); fewer ride
/// along with the next commit.
const REMOVALS_PER_COMMIT: usize = 64;

/// A record's state on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDisk {
    /// Waiting in `changes.append` for the next write.
    Unwritten,
    /// In the write on the blocking pool.
    Writing,
    /// Committed.
    Written,
}

/// How a write on the blocking pool ended.
#[derive(Debug)]
pub(crate) struct WriteOutcome(Result<(Changes, Result<(), String>), tokio::task::JoinError>);

/// A write running on the blocking pool: the changes it took, and its outcome.
type WriteTask = tokio::task::JoinHandle<(Changes, Result<(), String>)>;

#[derive(Debug)]
struct Record {
    events: usize,
    bytes: usize,
    attempted: bool,
    /// Where the record stands with the disk.
    disk: OnDisk,
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
    /// Records on disk that could not be read while the file was closed after a failed
    /// write: they wait for the reopen, while records in memory go on being sent.
    parked: VecDeque<u64>,
    changes: Changes,
    /// The buffers of the last write, reused by the next.
    spare: Changes,
    /// The write in progress, if any: the worker goes on spooling meanwhile.
    writing: Option<WriteTask>,
    /// When the oldest record in `changes.append` was made.
    unwritten_since: Option<Instant>,
    events: usize,
    bytes: usize,
    cached: usize,
    /// How many records keep their events in memory.
    cache_limit: usize,
    commit_failing: bool,
    /// After a failed write, no background write before this (a full disk is retried
    /// at a calm pace, not in a loop).
    retry_at: Option<Instant>,
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
            parked: VecDeque::new(),
            changes: Changes::default(),
            spare: Changes::default(),
            writing: None,
            unwritten_since: None,
            events: 0,
            bytes: 0,
            cached: 0,
            cache_limit: cache_limit.max(1),
            commit_failing: false,
            retry_at: None,
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
                    disk: OnDisk::Written,
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
        !self.unsent.is_empty() || !self.parked.is_empty()
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
                disk: OnDisk::Unwritten,
                cached,
            },
        );
        self.changes.append.push((seq, events));
        self.unwritten_since.get_or_insert_with(Instant::now);
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
            if record.disk == OnDisk::Writing && record.cached.is_none() {
                // Its events are with the running write: sent once it is done.
                self.unsent.push_front(seq);
                return None;
            }
            if !record.attempted {
                record.attempted = true;
                // An unwritten record is written marked, by the commit that writes it.
                if record.disk != OnDisk::Unwritten {
                    self.changes.attempted.push(seq);
                }
            }
            if let Some(events) = record.cached.take() {
                self.cached -= 1;
                return Some((seq, events));
            }
            if record.disk == OnDisk::Unwritten {
                if let Some((_, events)) = self.changes.append.iter().find(|(s, _)| *s == seq) {
                    return Some((seq, events.clone()));
                }
            }
            let expected = record.events;
            let (events, damaged) = match self.store.read(seq) {
                Ok(Some(read)) => read,
                Ok(None) => {
                    // Closed after a failed write: it waits for the reopen; the records
                    // behind it may be in memory.
                    self.parked.push_back(seq);
                    continue;
                }
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
        if let Some(record) = self.forget(seq) {
            if record.disk != OnDisk::Unwritten {
                // Removed by a later commit than the one writing it.
                self.changes.remove.push(seq);
            } else {
                // Done before it was written: it never will be.
                self.changes.append.retain(|(s, _)| *s != seq);
                self.changes.attempted.retain(|s| *s != seq);
                if self.changes.append.is_empty() {
                    self.unwritten_since = None;
                }
            }
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
        }
        self.unsent.push_front(rest);
    }

    /// Removes record `seq` from the books (its events, bytes and cache slot).
    fn forget(&mut self, seq: u64) -> Option<Record> {
        let record = self.records.remove(&seq)?;
        self.events -= record.events.min(self.events);
        self.bytes -= record.bytes.min(self.bytes);
        if record.cached.is_some() {
            self.cached -= 1;
        }
        Some(record)
    }

    /// Removes the records that are only in memory (never written, or their write
    /// failed) and returns their events: at exit they would be lost with the process.
    pub(crate) fn take_unwritten(&mut self) -> Vec<Arc<SecurityEvent>> {
        let mut events = Vec::new();
        for (seq, batch) in std::mem::take(&mut self.changes.append) {
            self.forget(seq);
            events.extend(batch);
        }
        let records = &self.records;
        self.unsent.retain(|seq| records.contains_key(seq));
        self.changes
            .attempted
            .retain(|seq| records.contains_key(seq));
        self.unwritten_since = None;
        events
    }

    /// Whether changes wait to be committed.
    pub(crate) fn has_changes(&self) -> bool {
        // A store closed after a failed write is reopened by the next write.
        !self.changes.is_empty() || !self.store.is_open()
    }

    /// Whether a commit must finish before the batches being started go: "attempted"
    /// marks of records on disk are durable before they are sent again. New records are
    /// written once the oldest has waited [`WRITE_BEHIND`] (or when many wait); removals
    /// ride along, or go when [`REMOVALS_PER_COMMIT`] wait or the worker is idle: a
    /// removal lost to a crash only means its record is sent again, counted as
    /// redelivered.
    ///
    /// Not while a failed write waits for its retry (a full disk is not retried in a
    /// loop): the batches go unmarked then, and a crash before the next write would
    /// replay them without counting them as redelivered.
    pub(crate) fn barrier_due(&self, now: Instant) -> bool {
        !self.changes.attempted.is_empty() && self.may_write(now)
    }

    /// Whether the pending changes are due to be written (in the background): see
    /// [`barrier_due`](Self::barrier_due).
    pub(crate) fn write_due(&self, now: Instant, keeping_up: bool) -> bool {
        if !self.may_write(now) {
            return false;
        }
        // A SIEM that does not keep up leaves them to the disk anyway: write at once.
        (!keeping_up && !self.changes.append.is_empty())
            || self.changes.remove.len() >= REMOVALS_PER_COMMIT
            || self.changes.append.len() >= 2 * self.cache_limit
            || self.write_deadline().is_some_and(|t| now >= t)
    }

    /// Whether so many records wait to be written that spooling pauses until the
    /// running write is done (bounds the memory a slow disk can take).
    pub(crate) fn is_backlogged(&self) -> bool {
        self.changes.append.len() >= 4 * self.cache_limit
    }

    /// When the records waiting to be written are due.
    pub(crate) fn write_deadline(&self) -> Option<Instant> {
        let due = self.unwritten_since.map(|t| t + WRITE_BEHIND);
        match (due, self.retry_at) {
            (Some(due), Some(retry)) => Some(due.max(retry)),
            (None, Some(retry)) if self.has_changes() => Some(retry),
            (due, _) => due,
        }
    }

    /// Whether a background write may start (not while a failed one waits to be retried).
    fn may_write(&self, now: Instant) -> bool {
        self.retry_at.is_none_or(|t| now >= t)
    }

    /// Whether the worker, going idle, should write what is pending now.
    pub(crate) fn idle_write_due(&self, now: Instant) -> bool {
        self.has_changes() && self.may_write(now)
    }

    /// Whether a write runs on the blocking pool.
    pub(crate) fn is_writing(&self) -> bool {
        self.writing.is_some()
    }

    /// Starts writing the pending changes on the blocking pool (another core, while this
    /// runtime thread serves the other sinks and this worker goes on spooling). The worker
    /// takes the outcome from [`write_done`](Self::write_done). No-op while a write runs.
    pub(crate) fn start_write(&mut self) {
        if self.writing.is_some() || !self.has_changes() {
            return;
        }
        // Records written while they are being sent are written marked.
        for (seq, _) in &self.changes.append {
            if let Some(record) = self.records.get_mut(seq) {
                record.disk = OnDisk::Writing;
                if record.attempted {
                    self.changes.attempted.push(*seq);
                }
            }
        }
        self.unwritten_since = None;
        let store = self.store.clone();
        let mut changes = std::mem::replace(&mut self.changes, std::mem::take(&mut self.spare));
        self.writing = Some(tokio::task::spawn_blocking(move || {
            // A panic in the store gives the changes back like any failed write.
            let commit = std::panic::AssertUnwindSafe(|| store.commit(&mut changes));
            let result = std::panic::catch_unwind(commit)
                .unwrap_or_else(|_| Err("the buffer writer panicked".to_owned()));
            if result.is_ok() {
                // The written events are freed here rather than on the runtime thread,
                // which reads the input and serves the other sinks.
                changes.written_events = changes.append.iter().map(|(_, e)| e.len()).sum();
                changes.append.clear();
            }
            (changes, result)
        }));
    }

    /// Waits for the running write (pending forever when none runs, for `select!`).
    pub(crate) async fn write_done(&mut self) -> WriteOutcome {
        match &mut self.writing {
            Some(task) => WriteOutcome(task.await),
            None => std::future::pending().await,
        }
    }

    /// Takes in the outcome of a write; `true` when it committed. A failed write gives
    /// its changes back, to go first in the next one, and is logged once per episode.
    pub(crate) fn finish_write(&mut self, lane: &Lane, outcome: WriteOutcome) -> bool {
        self.writing = None;
        let ok = match outcome.0 {
            Ok((mut done, Ok(()))) => {
                // Open again: what waited for the reopen goes first.
                while let Some(seq) = self.parked.pop_back() {
                    self.unsent.push_front(seq);
                }
                for &(seq, written) in &done.written {
                    if let Some(record) = self.records.get_mut(&seq) {
                        self.bytes = self.bytes - record.bytes.min(self.bytes) + written;
                        record.bytes = written;
                        record.disk = OnDisk::Written;
                    }
                }
                Counters::add(&lane.disk_written, done.written_events);
                // The next write reuses the buffers.
                done.attempted.clear();
                done.remove.clear();
                self.spare = done;
                true
            }
            Ok((mut failed, Err(e))) => {
                self.give_back(&mut failed);
                self.retry_at = Some(Instant::now() + WRITE_RETRY);
                self.commit_error(lane, e);
                false
            }
            Err(join) => {
                // Cancelled with the runtime: the write's records may or may not be on
                // disk; reading one that is not counts its events as damaged.
                for record in self.records.values_mut() {
                    if record.disk == OnDisk::Writing {
                        record.disk = OnDisk::Written;
                    }
                }
                self.commit_error(lane, format!("the buffer writer stopped: {join}"));
                false
            }
        };
        if ok {
            self.retry_at = None;
        }
        if ok && self.commit_failing {
            self.commit_failing = false;
            tracing::info!(org = %lane.org, sink = %lane.name, "disk buffer writable again");
        }
        self.publish(lane);
        ok
    }

    /// Puts the changes of a failed write back in front of those made since.
    fn give_back(&mut self, failed: &mut Changes) {
        let since = std::mem::take(&mut self.changes);
        // Records finished meanwhile are not written after all.
        failed
            .append
            .retain(|(seq, _)| self.records.contains_key(seq));
        for (seq, _) in &failed.append {
            if let Some(record) = self.records.get_mut(seq) {
                record.disk = OnDisk::Unwritten;
            }
        }
        // Marks of records that are not on disk after all come again with their write.
        let records = &self.records;
        failed
            .attempted
            .retain(|seq| records.get(seq).is_some_and(|r| r.disk == OnDisk::Written));
        failed.append.extend(since.append);
        failed.attempted.extend(since.attempted);
        failed.remove.extend(since.remove);
        if !failed.append.is_empty() {
            self.unwritten_since = Some(Instant::now());
        }
        self.changes = std::mem::take(failed);
    }

    /// Commits the "attempted" marks and removals (not the records waiting to be
    /// written, which keep their own schedule) and waits for it: before records on disk
    /// are sent again. `true` when durable.
    pub(crate) async fn commit_marks(&mut self, lane: &Lane) -> bool {
        let mut waiting = std::mem::take(&mut self.changes.append);
        let since = self.unwritten_since.take();
        let ok = self.commit(lane).await;
        // A failed commit may have given back records of its own: they go first.
        let given_back = std::mem::take(&mut self.changes.append);
        waiting.splice(0..0, given_back);
        self.changes.append = waiting;
        self.unwritten_since = match (since, self.unwritten_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        ok
    }

    /// Commits everything pending and waits for it (after any running write): before
    /// records read back from disk are sent, and when the worker stops. `true` when
    /// durable.
    pub(crate) async fn commit(&mut self, lane: &Lane) -> bool {
        if self.writing.is_some() {
            let outcome = self.write_done().await;
            self.finish_write(lane, outcome);
        }
        if !self.has_changes() {
            return true;
        }
        self.start_write();
        let outcome = self.write_done().await;
        self.finish_write(lane, outcome)
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
