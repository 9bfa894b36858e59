//! The per-sink worker: batches by size or linger time, runs up to `concurrency`
//! deliveries at once, logs failures and drops at a bounded rate, and exits when its sink
//! is retired and drained or when the shutdown deadline passes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use siem_core::SecurityEvent;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::deliver::{deliver_batch, BatchOutcome};
use crate::lane::{AbortSignal, Lane, Settings};
use crate::policy::JitterRng;
use crate::queue::Queue;
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
    let mut worker = Worker {
        generation: u64::MAX,
        settings: lane.settings(),
        queues: Vec::new(),
        rng: JitterRng::from_entropy(),
        log: LogLimiter::new(ctx.log_interval),
        lane,
        ctx,
    };
    worker.run().await;
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
}

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

    /// Events waiting, bytes waiting, and whether every queue is closed.
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
        batch
    }

    async fn run(&mut self) {
        let mut inflight = FuturesUnordered::new();
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
            let (events, bytes, all_closed) = self.level();
            let batch = &self.settings.batch;
            if events == 0 {
                linger_until = None;
            } else if linger_until.is_none() {
                linger_until = Some(now + batch.linger);
            }
            let urgent = self.lane.is_closing() || self.lane.flush_requested();
            let ready = events > 0
                && (events >= batch.max_events
                    || bytes >= batch.max_bytes
                    || urgent
                    || linger_until.is_some_and(|t| now >= t));
            let can_send = inflight.len() < self.settings.concurrency;
            if ready && can_send {
                let taken = self.take_batch();
                if taken.is_empty() {
                    // Reserved but not yet pushed by an emitter: a few nanoseconds away.
                    tokio::task::yield_now().await;
                    continue;
                }
                Counters::add(&self.lane.counters.popped, taken.len());
                self.lane.room.notify_waiters();
                linger_until = None;
                inflight.push(deliver_batch(
                    Arc::clone(&self.lane),
                    Arc::clone(&self.settings),
                    taken,
                    self.ctx.abort.clone(),
                    self.rng.fork(),
                ));
                continue;
            }
            if self.lane.is_closing() && all_closed && events == 0 && inflight.is_empty() {
                return;
            }
            tokio::select! {
                biased;
                () = self.ctx.abort.wait() => {}
                Some(outcome) = inflight.next(), if !inflight.is_empty() => {
                    self.log.record(&self.lane, &outcome);
                    self.ctx.progress.notify_waiters();
                }
                // Also while busy: a first drop wakes the worker to log it.
                () = self.lane.notify.notified() => {}
                () = sleep_until_opt(linger_until), if !ready && linger_until.is_some() => {}
                () = tokio::time::sleep_until(next_log) => {}
            }
        }
    }

    /// The deadline passed: in-flight batches account for themselves; everything still
    /// queued is failed here.
    async fn abort_rest<F>(&mut self, inflight: &mut FuturesUnordered<F>)
    where
        F: std::future::Future<Output = BatchOutcome>,
    {
        while let Some(outcome) = inflight.next().await {
            self.log.record(&self.lane, &outcome);
        }
        let mut rest = 0;
        loop {
            for q in &self.queues {
                rest += q.discard_all();
            }
            if self.level().0 == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        self.lane.room.notify_waiters();
        if rest > 0 {
            let c = &self.lane.counters;
            Counters::add(&c.popped, rest);
            Counters::add(&c.failed, rest);
            Counters::add(&c.failed_at_shutdown, rest);
            c.record_error(LastError::local(
                "shutdown",
                format!("{rest} queued event(s) not delivered before the shutdown deadline"),
            ));
        }
        self.ctx.progress.notify_waiters();
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Logs the first failure (and first drop) of an episode at once and the rest as periodic
/// summaries, so an outage costs a bounded number of lines per sink.
#[derive(Debug)]
struct LogLimiter {
    interval: Duration,
    failing: bool,
    suppressed_batches: u64,
    suppressed_events: u64,
    last_error: Option<LastError>,
    last_logged_at: Option<Instant>,
    drops_logged: u64,
    drop_episode: bool,
}

impl LogLimiter {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            failing: false,
            suppressed_batches: 0,
            suppressed_events: 0,
            last_error: None,
            last_logged_at: None,
            drops_logged: 0,
            drop_episode: false,
        }
    }

    fn record(&mut self, lane: &Lane, outcome: &BatchOutcome) {
        if outcome.failed > 0 {
            let due = self
                .last_logged_at
                .is_none_or(|t| t.elapsed() >= self.interval);
            if !self.failing || due {
                let error = outcome.error.as_ref().map(ToString::to_string);
                tracing::warn!(
                    org = %lane.org,
                    sink = %lane.name,
                    events = outcome.failed,
                    error = error.as_deref().unwrap_or("unknown"),
                    "SIEM delivery failed; further failures of this sink are summarized every {:?}",
                    self.interval
                );
                self.failing = true;
                self.last_logged_at = Some(Instant::now());
            } else {
                self.suppressed_batches += 1;
                self.suppressed_events += outcome.failed as u64;
                self.last_error.clone_from(&outcome.error);
            }
        } else if outcome.delivered > 0 && self.failing {
            self.summarize(lane);
            tracing::info!(org = %lane.org, sink = %lane.name, "SIEM delivery recovered");
            self.failing = false;
            self.last_logged_at = None;
        }
    }

    fn summarize(&mut self, lane: &Lane) {
        if self.suppressed_batches > 0 {
            let error = self.last_error.as_ref().map(ToString::to_string);
            tracing::warn!(
                org = %lane.org,
                sink = %lane.name,
                batches = self.suppressed_batches,
                events = self.suppressed_events,
                last_error = error.as_deref().unwrap_or("unknown"),
                "SIEM delivery failures since the last report"
            );
            self.suppressed_batches = 0;
            self.suppressed_events = 0;
            self.last_logged_at = Some(Instant::now());
        }
    }

    /// Logs the first drop of an episode (flagged by `emit`) at once.
    fn first_drop(&mut self, lane: &Lane) {
        if self.drop_episode || !lane.drop_warned.load(Ordering::Acquire) {
            return;
        }
        self.drop_episode = true;
        let total = Counters::get(&lane.counters.dropped);
        tracing::warn!(
            org = %lane.org,
            sink = %lane.name,
            dropped = total - self.drops_logged,
            "SIEM queue full: dropping new events for this sink; further drops are summarized every {:?}",
            self.interval
        );
        self.drops_logged = total;
    }

    fn summarize_drops(&mut self, lane: &Lane, rearm: bool) {
        let total = Counters::get(&lane.counters.dropped);
        if total > self.drops_logged {
            tracing::warn!(
                org = %lane.org,
                sink = %lane.name,
                dropped = total - self.drops_logged,
                dropped_total = total,
                "SIEM queue full: events dropped since the last report"
            );
            self.drops_logged = total;
        } else if rearm && self.drop_episode {
            // A quiet interval ends the episode: the next drop is logged at once again.
            self.drop_episode = false;
            lane.drop_warned.store(false, Ordering::Release);
        }
    }

    fn tick(&mut self, lane: &Lane) {
        self.summarize(lane);
        self.summarize_drops(lane, true);
    }

    fn finish(&mut self, lane: &Lane) {
        self.first_drop(lane);
        self.summarize(lane);
        self.summarize_drops(lane, false);
    }
}
