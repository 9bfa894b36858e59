//! A lane: one sink of one organization — its queue(s), settings, counters and worker.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use siem_core::SiemSink;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::breaker::{Breaker, BreakerPolicy};
use crate::buffer::disk::{DiskStore, Opened};
use crate::buffer::memory::Queue;
use crate::buffer::{
    BufferKind, BufferPolicy, WhenFull, DEFAULT_BUFFER_MAX_BYTES, DEFAULT_BUFFER_MAX_EVENTS,
};
use crate::config::{ConfigError, SinkConfig};
use crate::dead_letter::DeadLetter;
use crate::policy::{BatchPolicy, RetryPolicy};
use crate::stats::{BufferStats, Counters, Counts, SinkStats};

/// What a worker uses to deliver; swapped as a whole when an org is replaced.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) sink: Arc<dyn SiemSink>,
    pub(crate) batch: BatchPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) buffer: BufferPolicy,
    pub(crate) breaker: BreakerPolicy,
    pub(crate) concurrency: usize,
    pub(crate) dead_letter: Option<DeadLetter>,
}

impl Settings {
    pub(crate) fn from_config(org: &str, c: &SinkConfig) -> Result<Self, ConfigError> {
        let dead_letter = c
            .dead_letter
            .as_deref()
            .map(DeadLetter::open)
            .transpose()
            .map_err(|reason| ConfigError::BadSetting {
                org: format!("org `{org}`: "),
                sink: c.name().to_owned(),
                reason: format!("dead_letter: {reason}"),
            })?;
        Ok(Self {
            sink: Arc::clone(&c.sink),
            batch: c.batch,
            retry: c.retry,
            buffer: c.buffer,
            breaker: c.breaker,
            concurrency: c.concurrency,
            dead_letter,
        })
    }

    /// The bounds of the in-memory ring: the whole buffer for a memory buffer; for a disk
    /// buffer, the staging ring the worker drains to disk (a few batches: it drains
    /// whatever the SIEM does).
    fn ring_bounds(&self) -> (usize, usize) {
        match self.buffer.kind {
            BufferKind::Memory => (self.buffer.max_events, self.buffer.max_bytes),
            BufferKind::Disk => (
                self.batch
                    .max_events
                    .saturating_mul(self.concurrency + 2)
                    .min(DEFAULT_BUFFER_MAX_EVENTS),
                DEFAULT_BUFFER_MAX_BYTES,
            ),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The dispatcher-wide signal that a shutdown deadline exists and when it passes.
#[derive(Debug, Clone)]
pub(crate) struct AbortSignal(pub(crate) watch::Receiver<Option<Instant>>);

impl AbortSignal {
    /// Whether the deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        matches!(*self.0.borrow(), Some(d) if Instant::now() >= d)
    }

    /// Resolves when the deadline passes (never, if none is ever set); a deadline moved
    /// earlier (a second Ctrl-C) is noticed at once.
    pub(crate) async fn wait(&self) {
        let mut rx = self.0.clone();
        loop {
            let deadline = *rx.borrow_and_update();
            match deadline {
                Some(d) if Instant::now() >= d => return,
                Some(d) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(d) => return,
                        changed = rx.changed() => {
                            if changed.is_err() {
                                tokio::time::sleep_until(d).await;
                                return;
                            }
                        }
                    }
                }
                None => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Lane {
    pub(crate) org: String,
    pub(crate) name: String,
    /// Memory or disk, fixed for the lane's life (a change of kind makes a new lane).
    pub(crate) kind: BufferKind,
    pub(crate) breaker: Breaker,
    /// The disk buffer, taken by the worker when it starts, with what was found in it.
    disk: Mutex<Option<(DiskStore, Opened)>>,
    /// Set by the worker while the disk buffer is at its bound.
    pub(crate) disk_full: AtomicBool,
    /// Events and bytes on disk, kept by the worker for stats.
    pub(crate) disk_events: AtomicU64,
    pub(crate) disk_bytes: AtomicU64,
    /// Events written to the disk buffer since start.
    pub(crate) disk_written: AtomicU64,
    pub(crate) notify: Arc<Notify>,
    /// Notified (to all waiters) whenever the worker takes events out of the queue.
    pub(crate) room: Notify,
    pub(crate) counters: Counters,
    settings: Mutex<Arc<Settings>>,
    /// Every queue not yet drained, oldest first; the last one takes new events.
    queues: Mutex<Vec<Arc<Queue>>>,
    generation: AtomicU64,
    closing: AtomicBool,
    flush_upto: AtomicU64,
    pub(crate) drop_warned: AtomicBool,
    finished: AtomicBool,
    join: Mutex<Option<JoinHandle<()>>>,
}

impl Lane {
    /// A lane for `config`; a disk buffer is opened in `data_dir/<org>/<sink>/`.
    pub(crate) fn new(
        org: &str,
        config: &SinkConfig,
        data_dir: Option<&std::path::Path>,
    ) -> Result<Arc<Self>, ConfigError> {
        let settings = Settings::from_config(org, config)?;
        let buffer_error = |reason: String| ConfigError::Buffer {
            org: org.to_owned(),
            sink: config.name().to_owned(),
            reason,
        };
        let disk = match settings.buffer.kind {
            BufferKind::Memory => None,
            BufferKind::Disk => {
                let data_dir = data_dir.ok_or_else(|| {
                    buffer_error(
                        "type \"disk\" needs a data directory (data_dir in the configuration, \
                         DispatcherBuilder::data_dir in code)"
                            .to_owned(),
                    )
                })?;
                let dir = data_dir.join(org).join(config.name());
                Some(DiskStore::open(&dir).map_err(buffer_error)?)
            }
        };
        let notify = Arc::new(Notify::new());
        let queue = Arc::new(new_queue(&settings, &notify));
        Ok(Arc::new(Self {
            org: org.to_owned(),
            name: config.name().to_owned(),
            kind: settings.buffer.kind,
            breaker: Breaker::default(),
            disk: Mutex::new(disk),
            disk_full: AtomicBool::new(false),
            disk_events: AtomicU64::new(0),
            disk_bytes: AtomicU64::new(0),
            disk_written: AtomicU64::new(0),
            notify,
            room: Notify::new(),
            counters: Counters::default(),
            settings: Mutex::new(Arc::new(settings)),
            queues: Mutex::new(vec![queue]),
            generation: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            flush_upto: AtomicU64::new(0),
            drop_warned: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            join: Mutex::new(None),
        }))
    }

    /// The disk buffer and what it held at start (once, for the worker).
    pub(crate) fn take_disk(&self) -> Option<(DiskStore, Opened)> {
        lock(&self.disk).take()
    }

    /// Whether a caller that can wait should wait for room rather than drop: only while
    /// the sink can make room (see [`WhenFull::Block`]).
    #[inline]
    pub(crate) fn waits_when_full(&self) -> bool {
        if !self.breaker.is_open() {
            return self.settings_when_full() == WhenFull::Block;
        }
        // Open: a memory buffer no longer holds others up; a disk buffer still takes
        // events (its worker drains the staging ring to disk) until the disk is full.
        self.kind == BufferKind::Disk
            && !self.disk_full.load(Ordering::Acquire)
            && self.settings_when_full() == WhenFull::Block
    }

    fn settings_when_full(&self) -> WhenFull {
        lock(&self.settings).buffer.when_full
    }

    pub(crate) fn set_join(&self, handle: JoinHandle<()>) {
        *lock(&self.join) = Some(handle);
    }

    pub(crate) fn take_join(&self) -> Option<JoinHandle<()>> {
        lock(&self.join).take()
    }

    /// The queue that takes new events.
    pub(crate) fn current_queue(&self) -> Option<Arc<Queue>> {
        lock(&self.queues).last().cloned()
    }

    pub(crate) fn queues(&self) -> Vec<Arc<Queue>> {
        lock(&self.queues).clone()
    }

    /// Drops drained, closed queues that are not the current one.
    pub(crate) fn prune_queues(&self) {
        let mut qs = lock(&self.queues);
        while qs.len() > 1 && qs[0].level().closed && qs[0].level().events == 0 {
            qs.remove(0);
        }
    }

    pub(crate) fn settings(&self) -> Arc<Settings> {
        Arc::clone(&lock(&self.settings))
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Applies a new configuration for the same sink name. Returns the queue that now
    /// takes events: the same one unless the queue bound changed, in which case a new
    /// queue takes over and the old one is closed once the caller has published the new
    /// route (see [`Lane::close_old_queues`]).
    pub(crate) fn reconfigure(&self, settings: Settings) -> Arc<Queue> {
        let mut qs = lock(&self.queues);
        let wanted = settings.ring_bounds();
        let current = match qs.last() {
            Some(q) if q.capacity() == wanted => {
                q.set_wake(settings.batch.max_events, settings.batch.max_bytes);
                Arc::clone(q)
            }
            _ => {
                let q = Arc::new(new_queue(&settings, &self.notify));
                qs.push(Arc::clone(&q));
                q
            }
        };
        drop(qs);
        *lock(&self.settings) = Arc::new(settings);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_one();
        current
    }

    /// Closes every queue but the current one.
    pub(crate) fn close_old_queues(&self) {
        let qs = lock(&self.queues);
        if let Some((_, old)) = qs.split_last() {
            for q in old {
                q.close();
            }
        }
    }

    /// Stops intake; the worker delivers what is queued and exits.
    pub(crate) fn retire(&self) {
        self.closing.store(true, Ordering::Release);
        for q in lock(&self.queues).iter() {
            q.close();
        }
        self.notify.notify_one();
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub(crate) fn mark_finished(&self) {
        self.finished.store(true, Ordering::Release);
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Asks the worker to send everything queued so far without lingering; returns the
    /// `queued` count the flush waits for.
    pub(crate) fn request_flush(&self) -> u64 {
        let target = self.counts().queued;
        self.flush_upto.fetch_max(target, Ordering::AcqRel);
        self.notify.notify_one();
        target
    }

    pub(crate) fn flush_requested(&self) -> bool {
        self.flush_upto.load(Ordering::Acquire) > Counters::get(&self.counters.popped)
    }

    pub(crate) fn finished_events(&self) -> u64 {
        Counters::get(&self.counters.delivered) + Counters::get(&self.counters.failed)
    }

    /// Events in the queues (reservations included).
    pub(crate) fn depth(&self) -> u64 {
        lock(&self.queues)
            .iter()
            .map(|q| q.level().events as u64)
            .sum()
    }

    pub(crate) fn counts(&self) -> Counts {
        let c = &self.counters;
        // Read the finishing counters first so `pending` never goes negative.
        let delivered = Counters::get(&c.delivered);
        let failed = Counters::get(&c.failed);
        let in_flight = Counters::get(&c.in_flight);
        let queued = Counters::get(&c.popped) + self.depth();
        let dropped = Counters::get(&c.dropped);
        let pending = queued.saturating_sub(delivered + failed);
        Counts {
            accepted: queued + dropped,
            queued,
            delivered,
            failed,
            dropped,
            dropped_circuit_open: Counters::get(&c.dropped_circuit_open),
            buffered: pending.saturating_sub(in_flight),
            in_flight: in_flight.min(pending),
            retried: Counters::get(&c.retried),
            splits: Counters::get(&c.splits),
            pending,
            recovered: Counters::get(&c.recovered),
            redelivered: Counters::get(&c.redelivered),
            dead_lettered: Counters::get(&c.dead_lettered),
            damaged: Counters::get(&c.damaged),
        }
    }

    pub(crate) fn stats(&self, removing: bool) -> SinkStats {
        let settings = self.settings();
        let last = self.counters.last_times();
        SinkStats {
            name: self.name.clone(),
            platform: settings.sink.platform(),
            counts: self.counts(),
            queue_depth: self.depth(),
            queue_capacity: settings.ring_bounds().0 as u64,
            buffer: BufferStats {
                kind: self.kind,
                max_events: settings.buffer.max_events as u64,
                max_bytes: settings.buffer.max_bytes as u64,
                disk_events: Counters::get(&self.disk_events),
                disk_bytes: Counters::get(&self.disk_bytes),
                written_events: Counters::get(&self.disk_written),
            },
            breaker: self.breaker.stats(),
            last_error: last.error,
            last_success_at: last.success_at,
            removing,
        }
    }
}

fn new_queue(s: &Settings, notify: &Arc<Notify>) -> Queue {
    let (events, bytes) = s.ring_bounds();
    Queue::new(
        events,
        bytes,
        s.batch.max_events,
        s.batch.max_bytes,
        Arc::clone(notify),
    )
}
