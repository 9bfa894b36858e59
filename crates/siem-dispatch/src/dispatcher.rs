//! The dispatcher's handle: start-up, reconfiguration, stats, test events, flush and
//! shutdown. (The registry behind it: `registry.rs`; the emit API: [`Emitter`].)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::buffer::disk::create_private_dir;
use crate::buffer::BufferKind;
use crate::config::{ConfigError, OrgConfig};
use crate::emit::Emitter;
use crate::lane::{AbortSignal, Lane};
use crate::registry::Shared;
use crate::stats::{
    Counters, Counts, DispatcherStats, FlushReport, OrgStats, ShutdownReport, Undelivered,
};
use crate::worker::WorkerContext;

/// How long dropping a [`Dispatcher`] without [`shutdown`](Dispatcher::shutdown) lets its
/// workers deliver what is queued before they give up.
pub const DEFAULT_DROP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a sink's suppressed failures and drops are summarized in the log.
pub const DEFAULT_LOG_SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Configures and starts a [`Dispatcher`].
#[derive(Debug, Clone)]
pub struct DispatcherBuilder {
    orgs: Vec<OrgConfig>,
    log_interval: Duration,
    drop_timeout: Duration,
    handle: Option<Handle>,
    data_dir: Option<PathBuf>,
}

impl Default for DispatcherBuilder {
    fn default() -> Self {
        Self {
            orgs: Vec::new(),
            log_interval: DEFAULT_LOG_SUMMARY_INTERVAL,
            drop_timeout: DEFAULT_DROP_TIMEOUT,
            handle: None,
            data_dir: None,
        }
    }
}

impl DispatcherBuilder {
    /// Adds an organization.
    #[must_use]
    pub fn org(mut self, org: OrgConfig) -> Self {
        self.orgs.push(org);
        self
    }

    /// Sets how often suppressed failures and drops are summarized per sink.
    #[must_use]
    pub fn log_summary_interval(mut self, interval: Duration) -> Self {
        self.log_interval = interval.max(Duration::from_millis(1));
        self
    }

    setters! {
        /// Sets how long dropping the handle lets workers deliver before giving up.
        drop_timeout: Duration;
    }

    /// Runs the workers on this runtime (default: the current one).
    #[must_use]
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Keeps disk buffers in this directory (one subdirectory per org and sink, created
    /// owner-only). The directory is locked: a second dispatcher (in this or another
    /// process) on the same directory is refused at start.
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Validates every organization, opens disk buffers (delivering what an earlier run
    /// left in them) and starts one worker per sink.
    pub fn start(self) -> Result<Dispatcher, ConfigError> {
        let handle = match self.handle {
            Some(h) => h,
            None => Handle::try_current().map_err(|_| ConfigError::NoRuntime)?,
        };
        for (i, org) in self.orgs.iter().enumerate() {
            org.validate()?;
            if self.orgs[..i].iter().any(|o| o.org_id() == org.org_id()) {
                return Err(ConfigError::BadOrgId {
                    id: org.org_id().to_string(),
                    reason: "configured twice".to_owned(),
                });
            }
        }
        let data_dir = self.data_dir.as_deref().map(lock_data_dir).transpose()?;
        let (abort_tx, abort_rx) = watch::channel(None);
        let ctx = WorkerContext {
            abort: AbortSignal(abort_rx),
            progress: tokio::sync::Notify::new(),
            log_interval: self.log_interval,
        };
        let shared = Arc::new(Shared::new(handle, ctx, abort_tx, data_dir));
        let dispatcher = Dispatcher {
            emitter: Emitter {
                routes: Arc::clone(&shared.routes),
            },
            shared,
            drop_timeout: self.drop_timeout,
            shut_down: AtomicBool::new(false),
        };
        for org in self.orgs {
            dispatcher.set_org(org)?;
        }
        Ok(dispatcher)
    }
}

/// The lock file inside a data directory.
const LOCK_FILE: &str = "siem.lock";

/// Creates the data directory (owner-only) and takes its lock, held as long as the file
/// is open.
fn lock_data_dir(dir: &Path) -> Result<(PathBuf, std::fs::File), ConfigError> {
    let fail = |reason: String| ConfigError::DataDir {
        path: dir.display().to_string(),
        reason,
    };
    create_private_dir(dir).map_err(fail)?;
    let path = dir.join(LOCK_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .map_err(|e| fail(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(fail(format!(
                "in use by another process{}; each process needs a data_dir of its own",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                }
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(fail(format!("cannot lock {}: {e}", path.display())))
        }
    }
    use std::io::{Seek as _, Write as _};
    // Only a hint for the error above; the lock is what counts.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    Ok((dir.to_owned(), file))
}

/// The running dispatcher. Cheap to share by reference across threads (`Sync`); hand out
/// [`Emitter`]s where only `emit` is needed.
///
/// Dropping it without [`shutdown`](Self::shutdown) stops intake and lets the workers
/// deliver what is queued for up to the drop timeout (default [`DEFAULT_DROP_TIMEOUT`]);
/// `Drop` cannot wait, so it only signals: the workers keep running on the runtime until
/// they are done or the deadline passes, then count what is left as failed. If the
/// runtime itself shuts down first, what is still queued is lost with it.
#[must_use = "dropping the dispatcher stops it; keep it for as long as events are emitted"]
pub struct Dispatcher {
    emitter: Emitter,
    shared: Arc<Shared>,
    drop_timeout: Duration,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reg = self.shared.registry();
        f.debug_struct("Dispatcher")
            .field("orgs", &reg.orgs.keys().collect::<Vec<_>>())
            .field("shut_down", &reg.shut_down)
            .finish()
    }
}

/// The dispatcher emits through its own [`Emitter`]: `dispatcher.emit(event)`.
impl std::ops::Deref for Dispatcher {
    type Target = Emitter;

    fn deref(&self) -> &Emitter {
        &self.emitter
    }
}

impl Dispatcher {
    /// A builder.
    pub fn builder() -> DispatcherBuilder {
        DispatcherBuilder::default()
    }

    /// Starts a dispatcher for these organizations on the current tokio runtime.
    pub fn start(orgs: impl IntoIterator<Item = OrgConfig>) -> Result<Self, ConfigError> {
        orgs.into_iter()
            .fold(Self::builder(), DispatcherBuilder::org)
            .start()
    }

    /// An emit-only handle.
    pub fn emitter(&self) -> Emitter {
        self.emitter.clone()
    }

    /// Adds an organization or replaces its configuration, without a restart.
    ///
    /// Sinks are matched by name. A sink that stays keeps its queue, its counters and its
    /// worker: events already queued are delivered (with the new settings for batches
    /// formed from now on). If its queue bound changed, a new queue takes new events and the
    /// worker drains the old one first. Sinks no longer configured stop taking events and
    /// deliver what they had queued, then stop. Other organizations are not touched.
    pub fn set_org(&self, org: OrgConfig) -> Result<(), ConfigError> {
        self.shared.set_org(org)
    }

    /// Removes an organization at once: its events are no longer routed, and its sinks
    /// deliver what they had queued (under their retry policies) in the background, then
    /// stop. Until then they appear in [`stats`](Self::stats) with `removing: true`, and a
    /// [`shutdown`](Self::shutdown) covers them. Returns whether the organization existed.
    pub fn remove_org(&self, org_id: &str) -> bool {
        self.shared.remove_org(org_id)
    }

    /// The organizations configured now.
    pub fn org_ids(&self) -> Vec<String> {
        self.shared.registry().orgs.keys().cloned().collect()
    }

    /// A snapshot of every counter.
    pub fn stats(&self) -> DispatcherStats {
        let mut reg = self.shared.registry();
        reg.retiring.retain(|l| !l.is_finished());
        let lanes = reg
            .orgs
            .values()
            .flat_map(|v| v.iter().map(|(_, l, _)| (l, false)))
            .chain(reg.retiring.iter().map(|l| (l, true)));
        gather_stats(lanes.map(|(lane, removing)| {
            let org_removing = removing && !reg.orgs.contains_key(&lane.org);
            (lane, removing, org_removing)
        }))
    }

    /// Sends everything queued so far without waiting for linger times, and waits until
    /// at least that many events per sink are delivered or failed, or `timeout` passes.
    /// Intake continues; what is not done in time stays queued and is reported.
    pub async fn flush(&self, timeout: Duration) -> FlushReport {
        let deadline = Instant::now() + timeout;
        let lanes = self.shared.registry().all_lanes();
        let targets: Vec<(Arc<Lane>, u64)> = lanes
            .into_iter()
            .map(|l| {
                let t = l.request_flush();
                (l, t)
            })
            .collect();
        loop {
            let progress = self.shared.ctx.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            let pending: Vec<Undelivered> = targets
                .iter()
                .filter(|(l, t)| l.finished_events() < *t && !l.is_finished())
                .map(|(l, t)| Undelivered {
                    org_id: l.org.clone(),
                    sink: l.name.clone(),
                    events: t - l.finished_events().min(*t),
                })
                .collect();
            if pending.is_empty() || Instant::now() >= deadline {
                return FlushReport {
                    complete: pending.is_empty(),
                    pending,
                };
            }
            tokio::select! {
                () = progress => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// Stops intake (`emit` returns [`EmitOutcome::Closed`](crate::EmitOutcome::Closed) from
    /// now on), delivers what is buffered without lingering, and at `timeout` gives up:
    /// a memory buffer's rest is counted as failed (and dead-lettered, if configured), a
    /// disk buffer's rest stays on disk for the next start. A disk buffer whose circuit is
    /// open stops at once (its events are safe on disk). Returns the final counters, what
    /// was given up on and what stays on disk. Calling it again returns the report again;
    /// [`abort`](Self::abort) from another task cuts a running shutdown short.
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        self.shut_down.store(true, Ordering::Release);
        let lanes = self.shared.begin_shutdown(Instant::now() + timeout);
        for lane in &lanes {
            if let Some(join) = lane.take_join() {
                // Workers give up at the deadline; a worker that panicked is accounted
                // below from the counters.
                let _ = join.await;
            }
        }
        // Wait for workers joined by another call of `shutdown`.
        for lane in &lanes {
            while !lane.is_finished() {
                let progress = self.shared.ctx.progress.notified();
                if lane.is_finished() {
                    break;
                }
                let _ = tokio::time::timeout(Duration::from_millis(50), progress).await;
            }
        }
        let per_lane = |amount: &dyn Fn(&Lane) -> u64| -> Vec<Undelivered> {
            lanes
                .iter()
                .filter_map(|l| {
                    let events = amount(l);
                    (events > 0).then(|| Undelivered {
                        org_id: l.org.clone(),
                        sink: l.name.clone(),
                        events,
                    })
                })
                .collect()
        };
        let undelivered = per_lane(&|l| Counters::get(&l.counters.failed_at_shutdown));
        let left_in_buffer = per_lane(&|l| match l.kind {
            BufferKind::Disk => l.counts().pending,
            BufferKind::Memory => 0,
        });
        ShutdownReport {
            complete: undelivered.is_empty() && left_in_buffer.is_empty(),
            undelivered,
            left_in_buffer,
            // Every lane alive at shutdown, including removed ones that were still draining.
            stats: final_stats(&lanes),
        }
    }

    /// Cuts a running [`shutdown`](Self::shutdown) short (its deadline becomes now): what
    /// is not delivered yet is given up on (memory) or left on disk. For a second Ctrl-C.
    pub fn abort(&self) {
        self.shared.set_deadline(Instant::now());
    }

    /// Sends a synthetic `siem.test` event straight to one sink (encode + one send, not
    /// through the queue and not counted in the stats), bounded by the sink's attempt
    /// timeout, and reports the outcome and latency.
    pub async fn send_test_event(
        &self,
        org_id: &str,
        sink: &str,
    ) -> Result<crate::TestEventResult, crate::TestEventError> {
        let settings = {
            let reg = self.shared.registry();
            if !reg.orgs.contains_key(org_id) {
                return Err(crate::TestEventError::UnknownOrg(org_id.to_owned()));
            }
            reg.lane(org_id, sink)
                .ok_or_else(|| crate::TestEventError::UnknownSink {
                    org: org_id.to_owned(),
                    sink: sink.to_owned(),
                })?
                .settings()
        };
        crate::test_event::send(org_id, &*settings.sink, settings.retry.attempt_timeout).await
    }
}

fn final_stats(lanes: &[Arc<Lane>]) -> DispatcherStats {
    gather_stats(lanes.iter().map(|lane| (lane, false, false)))
}

/// The counters of `lanes` (each with whether it is being removed, and whether its whole
/// org is), one entry per org (and removal state) in order, and their totals.
fn gather_stats<'a>(lanes: impl Iterator<Item = (&'a Arc<Lane>, bool, bool)>) -> DispatcherStats {
    let mut orgs: BTreeMap<(String, bool), OrgStats> = BTreeMap::new();
    for (lane, removing, org_removing) in lanes {
        let entry = orgs
            .entry((lane.org.clone(), org_removing))
            .or_insert_with(|| OrgStats {
                org_id: lane.org.clone(),
                totals: Counts::default(),
                sinks: Vec::new(),
                removing: org_removing,
            });
        let s = lane.stats(removing);
        entry.totals.add(&s.counts);
        entry.sinks.push(s);
    }
    let orgs: Vec<OrgStats> = orgs.into_values().collect();
    let mut totals = Counts::default();
    for o in &orgs {
        totals.add(&o.totals);
    }
    DispatcherStats { totals, orgs }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        if !self.shut_down.swap(true, Ordering::AcqRel) {
            self.shared
                .begin_shutdown(Instant::now() + self.drop_timeout);
        }
    }
}
