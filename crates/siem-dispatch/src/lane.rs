//! A lane: one sink of one organization — its queue(s), settings, counters and worker.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use siem_core::SiemSink;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::SinkConfig;
use crate::policy::{BatchPolicy, QueuePolicy, RetryPolicy};
use crate::queue::Queue;
use crate::stats::{Counters, Counts, SinkStats};

/// What a worker uses to deliver; swapped as a whole when an org is replaced.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) sink: Arc<dyn SiemSink>,
    pub(crate) batch: BatchPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) queue: QueuePolicy,
    pub(crate) concurrency: usize,
}

impl Settings {
    pub(crate) fn from_config(c: &SinkConfig) -> Self {
        Self {
            sink: Arc::clone(&c.sink),
            batch: c.batch,
            retry: c.retry,
            queue: c.queue,
            concurrency: c.concurrency,
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

    /// Resolves when the deadline passes (never, if none is ever set).
    pub(crate) async fn wait(&self) {
        let mut rx = self.0.clone();
        loop {
            let deadline = *rx.borrow_and_update();
            if let Some(d) = deadline {
                tokio::time::sleep_until(d).await;
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Lane {
    pub(crate) org: String,
    pub(crate) name: String,
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
    pub(crate) fn new(org: &str, config: &SinkConfig) -> Arc<Self> {
        let settings = Settings::from_config(config);
        let notify = Arc::new(Notify::new());
        let queue = Arc::new(new_queue(&settings, &notify));
        Arc::new(Self {
            org: org.to_owned(),
            name: config.name().to_owned(),
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
        })
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
    pub(crate) fn reconfigure(&self, config: &SinkConfig) -> Arc<Queue> {
        let settings = Settings::from_config(config);
        let mut qs = lock(&self.queues);
        let wanted = (settings.queue.capacity, settings.queue.capacity_bytes);
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
        let queued = Counters::get(&c.popped) + self.depth();
        Counts {
            queued,
            delivered,
            failed,
            dropped: Counters::get(&c.dropped),
            retried: Counters::get(&c.retried),
            splits: Counters::get(&c.splits),
            pending: queued.saturating_sub(delivered + failed),
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
            queue_capacity: settings.queue.capacity as u64,
            last_error: last.error,
            last_success_at: last.success_at,
            removing,
        }
    }
}

fn new_queue(s: &Settings, notify: &Arc<Notify>) -> Queue {
    Queue::new(
        s.queue.capacity,
        s.queue.capacity_bytes,
        s.batch.max_events,
        s.batch.max_bytes,
        Arc::clone(notify),
    )
}
