//! The per-sink worker: batches by size or linger time, runs up to `concurrency`
//! deliveries at once, holds batches back while the circuit is open (probing it after its
//! backoff), drains a disk buffer's staging ring into records, logs at a bounded rate,
//! and exits when its sink is retired and drained or when the shutdown deadline passes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use siem_core::SecurityEvent;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::buffer::memory::Queue;
use crate::buffer::spool::{Spool, WriteOutcome, WRITE_BEHIND};
use crate::deliver::{deliver_batch, fail, BatchOutcome, Mode};
use crate::lane::{AbortSignal, Lane, Settings};
use crate::log_limit::LogLimiter;
use crate::policy::JitterRng;
use crate::stats::{Counters, LastError};

/// What every worker shares with the dispatcher.
#[derive(Debug)]
pub(crate) struct WorkerContext {
    pub(crate) abort: AbortSignal,
    /// Notified (to all waiters) whenever a batch has been accounted.
    pub(crate) progress: Notify,
    pub(crate) log_interval: Duration,
}

pub(crate) async fn run(lane: Arc<Lane>, ctx: Arc<WorkerContext>) {
    let settings = lane.settings();
    let spool = lane
        .take_disk()
        .map(|(store, opened)| Spool::recover(&lane, store, opened, settings.concurrency + 2));
    let mut worker = Worker {
        generation: u64::MAX,
        settings,
        queues: Vec::new(),
        rng: JitterRng::from_entropy(),
        log: LogLimiter::new(ctx.log_interval),
        held: VecDeque::new(),
        spool,
        last_progress: Instant::now(),
        delivered_yet: false,
        lane,
        ctx,
    };
    worker.run().await;
    worker.persist_or_fail().await;
    worker.log.finish(&worker.lane);
    worker.lane.mark_finished();
    worker.lane.room.notify_waiters();
    worker.ctx.progress.notify_waiters();
}

struct Worker {
    lane: Arc<Lane>,
    ctx: Arc<WorkerContext>,
    generation: u64,
    settings: Arc<Settings>,
    queues: Vec<Arc<Queue>>,
    rng: JitterRng,
    log: LogLimiter,
    /// Memory buffer: batches handed back by an open circuit, sent first once it closes.
    held: VecDeque<Vec<Arc<SecurityEvent>>>,
    /// Disk buffer: its records.
    spool: Option<Spool>,
    /// When a batch last finished (or the worker started).
    last_progress: Instant,
    /// Whether any batch delivered events yet: a disk buffer does not hold back for a
    /// SIEM that has not answered once.
    delivered_yet: bool,
}

type Inflight<F> = FuturesUnordered<F>;

impl Worker {
    fn refresh(&mut self) {
        let generation = self.lane.generation();
        if generation != self.generation {
            self.generation = generation;
            self.settings = self.lane.settings();
        }
        // Cheap: the queue list only changes on reconfiguration.
        self.lane.prune_queues();
        self.queues = self.lane.queues();
    }

    /// Events waiting in the ring(s), bytes waiting, and whether every ring is closed.
    fn level(&self) -> (usize, usize, bool) {
        self.queues.iter().fold((0, 0, true), |(e, b, c), q| {
            let l = q.level();
            (e + l.events, b + l.bytes, c && l.closed)
        })
    }

    fn take_batch(&self) -> Vec<Arc<SecurityEvent>> {
        let policy = &self.settings.batch;
        let mut batch = Vec::with_capacity(policy.max_events.min(1024));
        let mut bytes = 0;
        for q in &self.queues {
            if batch.len() >= policy.max_events || (!batch.is_empty() && bytes >= policy.max_bytes)
            {
                break;
            }
            q.pop_into(&mut batch, &mut bytes, policy.max_events, policy.max_bytes);
        }
        if !batch.is_empty() {
            Counters::add(&self.lane.counters.popped, batch.len());
            self.lane.room.notify_waiters();
        }
        batch
    }

    /// Whether the ring holds a batch to take now.
    fn ring_ready(&self, linger_until: Option<Instant>, now: Instant) -> bool {
        let (events, bytes, _) = self.level();
        let batch = &self.settings.batch;
        events > 0
            && (events >= batch.max_events
                || bytes >= batch.max_bytes
                || self.lane.is_closing()
                || self.lane.flush_requested()
                || linger_until.is_some_and(|t| now >= t))
    }

    /// The next batch to send: held or waiting records first, then the ring.
    fn next_batch(&mut self, ring_ready: bool) -> Option<(Vec<Arc<SecurityEvent>>, Option<u64>)> {
        if let Some(spool) = &mut self.spool {
            return spool
                .take_next(&self.lane)
                .map(|(seq, events)| (events, Some(seq)));
        }
        if let Some(batch) = self.held.pop_front() {
            return Some((batch, None));
        }
        if ring_ready {
            let batch = self.take_batch();
            if !batch.is_empty() {
                return Some((batch, None));
            }
        }
        None
    }

    fn has_held(&self) -> bool {
        match &self.spool {
            Some(spool) => spool.has_unsent(),
            None => !self.held.is_empty(),
        }
    }

    async fn run(&mut self) {
        let mut inflight = Inflight::new();
        let mut linger_until: Option<Instant> = None;
        let mut next_log = Instant::now() + self.ctx.log_interval;
        self.refresh();
        loop {
            if self.generation != self.lane.generation() || self.queues.len() > 1 {
                self.refresh();
            }
            if self.ctx.abort.passed() {
                self.abort_rest(&mut inflight).await;
                return;
            }
            let now = Instant::now();
            self.log.first_drop(&self.lane);
            if now >= next_log {
                self.log.tick(&self.lane);
                next_log = now + self.ctx.log_interval;
            }
            let (events, _, all_closed) = self.level();
            if events == 0 {
                linger_until = None;
            } else if linger_until.is_none() {
                linger_until = Some(now + self.settings.batch.linger);
            }
            let mut ring_ready = self.ring_ready(linger_until, now);

            // A disk buffer drains its ring into records whatever the SIEM does, except
            // that while the SIEM keeps up it stays a few records ahead of delivery: the
            // records then still hold their events in memory and are never read back.
            let mut spooled = false;
            let keeping_up = self.keeping_up(now);
            let paced = keeping_up && self.delivered_yet;
            if let Some(spool) = &self.spool {
                let mut full = spool_waits(spool, &self.settings, paced);
                while ring_ready && !full {
                    let batch = self.take_batch();
                    if batch.is_empty() {
                        break;
                    }
                    let spool = self.spool.as_mut().expect("disk buffer");
                    spool.append(batch);
                    full = spool_waits(spool, &self.settings, paced);
                    spooled = true;
                    linger_until = None;
                    ring_ready = self.ring_ready(None, now);
                }
            }

            let mut starting = Vec::new();
            while inflight.len() + starting.len() < self.settings.concurrency {
                let mode = if !self.lane.breaker.is_open() {
                    Mode::Normal
                } else if inflight.is_empty()
                    && starting.is_empty()
                    && self.has_something(ring_ready)
                    && self.lane.breaker.try_probe(&self.lane.org, &self.lane.name)
                {
                    Mode::Probe
                } else {
                    break;
                };
                match self.next_batch(ring_ready) {
                    Some((batch, record)) => starting.push((batch, record, mode)),
                    None => {
                        if mode == Mode::Probe {
                            self.lane.breaker.probe_inconclusive();
                        }
                        break;
                    }
                }
                if mode == Mode::Probe {
                    break;
                }
                ring_ready = self.spool.is_none() && self.ring_ready(linger_until, now);
            }
            if let Some(spool) = &mut self.spool {
                // "Attempted" marks of records on disk are durable before their batches
                // start; new records are written in groups, in the background.
                if spool.barrier_due(now) {
                    spool.commit_marks(&self.lane).await;
                } else if spool.write_due(now, keeping_up) {
                    spool.start_write();
                }
            }
            if !starting.is_empty() {
                for (batch, record, mode) in starting {
                    inflight.push(deliver_batch(
                        Arc::clone(&self.lane),
                        Arc::clone(&self.settings),
                        batch,
                        record,
                        mode,
                        self.ctx.abort.clone(),
                        self.rng.fork(),
                    ));
                }
                if self.spool.is_none() {
                    linger_until = None;
                }
                continue;
            }
            if spooled {
                continue;
            }
            let can_take = match &self.spool {
                Some(spool) => !spool_waits(spool, &self.settings, paced),
                None => !self.lane.breaker.is_open() && inflight.len() < self.settings.concurrency,
            };
            if ring_ready && can_take {
                // Reserved but not yet pushed by an emitter: a few nanoseconds away.
                tokio::task::yield_now().await;
                continue;
            }
            if self.lane.is_closing() && all_closed && events == 0 && inflight.is_empty() {
                let drained = !self.has_held();
                // A disk buffer whose SIEM is down keeps its records for the next start.
                let parked_on_disk = self.spool.is_some() && self.lane.breaker.is_open();
                if drained || parked_on_disk {
                    return;
                }
            }
            if let Some(spool) = &mut self.spool {
                // Going idle: what waits to be written or removed is written now.
                if inflight.is_empty() && spool.idle_write_due(now) {
                    spool.start_write();
                }
            }
            let write_at = self
                .spool
                .as_ref()
                .filter(|s| !s.is_writing())
                .and_then(Spool::write_deadline);
            let writing = self.spool.as_ref().is_some_and(Spool::is_writing);
            // Only worth waking for when there is something to probe with.
            let probe_at = self
                .lane
                .breaker
                .probe_at()
                .filter(|_| inflight.is_empty() && self.has_something(ring_ready));
            // A disk buffer paced by delivery wakes when delivery stalls, to spool ahead.
            let stall_at = (self.spool.is_some() && events > 0 && paced)
                .then(|| self.last_progress + self.patience());
            tokio::select! {
                biased;
                () = self.ctx.abort.wait() => {}
                Some(outcome) = inflight.next(), if !inflight.is_empty() => {
                    self.settle(outcome);
                }
                // Also while busy: a first drop wakes the worker to log it.
                () = self.lane.notify.notified() => {}
                () = sleep_until_opt(linger_until), if !ring_ready && linger_until.is_some() => {}
                () = sleep_until_opt(probe_at), if probe_at.is_some() => {}
                () = sleep_until_opt(stall_at), if stall_at.is_some() => {}
                () = sleep_until_opt(write_at), if write_at.is_some() => {}
                outcome = write_done(&mut self.spool), if writing => {
                    if let Some(spool) = &mut self.spool {
                        spool.finish_write(&self.lane, outcome);
                    }
                }
                () = tokio::time::sleep_until(next_log) => {}
            }
        }
    }

    /// How long without a finished batch before a disk buffer stops waiting for delivery
    /// and spools ahead: a linger time, and no longer than records wait before they are
    /// written anyway.
    fn patience(&self) -> Duration {
        self.settings.batch.linger.min(WRITE_BEHIND)
    }

    /// Whether the SIEM keeps up (for a disk buffer): circuit closed, and a batch finished
    /// within its patience.
    fn keeping_up(&self, now: Instant) -> bool {
        !self.lane.breaker.is_open()
            && now.saturating_duration_since(self.last_progress) < self.patience()
    }

    /// Whether there is anything a probe could send.
    fn has_something(&self, ring_ready: bool) -> bool {
        self.has_held() || ring_ready || self.level().0 > 0
    }

    /// Accounts a finished batch: removes its record, or takes back what it handed back.
    fn settle(&mut self, mut outcome: BatchOutcome) {
        self.log.record(&self.lane, &outcome);
        if outcome.delivered > 0 {
            self.last_progress = Instant::now();
            self.delivered_yet = true;
        }
        if outcome.probe {
            // Still half-open: the probe got no answer that says anything about the
            // SIEM's health (a success closed it, a failure reopened it).
            self.lane.breaker.probe_inconclusive();
        }
        let returned = std::mem::take(&mut outcome.returned);
        match (&mut self.spool, outcome.record) {
            (Some(spool), Some(seq)) if returned.is_empty() => spool.finished(seq),
            (Some(spool), Some(seq)) => spool.returned(seq, returned),
            _ if !returned.is_empty() => self.held.push_front(returned),
            _ => {}
        }
        if self.lane.breaker.is_open() {
            // Callers waiting for room stop waiting on a sink whose circuit is open.
            self.lane.room.notify_waiters();
        }
        self.ctx.progress.notify_waiters();
    }

    /// The deadline passed: in-flight batches account for themselves; a memory buffer
    /// fails what it still holds (to the dead-letter file if there is one); a disk buffer
    /// writes its ring to disk and keeps everything for the next start.
    async fn abort_rest<F>(&mut self, inflight: &mut Inflight<F>)
    where
        F: std::future::Future<Output = BatchOutcome>,
    {
        while let Some(outcome) = inflight.next().await {
            self.settle(outcome);
        }
        let mut rest: Vec<Arc<SecurityEvent>> = Vec::new();
        loop {
            loop {
                let batch = self.take_batch();
                if batch.is_empty() {
                    break;
                }
                match &mut self.spool {
                    Some(spool) if !spool.is_full(&self.settings.buffer) => spool.append(batch),
                    _ => rest.extend(batch),
                }
            }
            if self.level().0 == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        rest.extend(self.held.drain(..).flatten());
        // A disk buffer's records are written (or failed) by `persist_or_fail` when the
        // worker returns.
        self.lane.room.notify_waiters();
        if !rest.is_empty() {
            let message = format!(
                "{} queued event(s) not delivered before the shutdown deadline",
                rest.len()
            );
            self.fail_at_shutdown(&rest, message);
        }
        self.ctx.progress.notify_waiters();
    }

    /// At exit, a disk buffer writes what it still holds only in memory; what the disk
    /// refuses would be lost with the process, so it is failed (counted, dead-lettered)
    /// rather than reported as left in the buffer.
    async fn persist_or_fail(&mut self) {
        let Some(spool) = &mut self.spool else {
            return;
        };
        if spool.commit(&self.lane).await {
            return;
        }
        let lost = spool.take_unwritten();
        spool.publish(&self.lane);
        if !lost.is_empty() {
            let message = format!(
                "{} event(s) could not be written to the disk buffer before exit",
                lost.len()
            );
            self.fail_at_shutdown(&lost, message);
        }
    }

    /// Fails events that were waiting (not in flight) when the worker stopped.
    fn fail_at_shutdown(&self, events: &[Arc<SecurityEvent>], message: String) {
        let c = &self.lane.counters;
        Counters::add(&c.failed_at_shutdown, events.len());
        // `fail` takes events out of flight: they were waiting, not in flight.
        Counters::add(&c.in_flight, events.len());
        let mut out = BatchOutcome::default();
        fail(
            &self.lane,
            &self.settings,
            events,
            LastError::local("shutdown", message),
            &mut out,
        );
    }
}

/// Whether a disk buffer takes no more from its ring for now: it is full, its spooling
/// is `paced` by a SIEM that keeps up and enough records are ready in memory, or too
/// many wait to be written.
fn spool_waits(spool: &Spool, settings: &Settings, paced: bool) -> bool {
    spool.is_full(&settings.buffer) || (paced && spool.is_ahead()) || spool.is_backlogged()
}

/// The running write of a disk buffer (pending forever without one).
async fn write_done(spool: &mut Option<Spool>) -> WriteOutcome {
    match spool {
        Some(spool) => spool.write_done().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
