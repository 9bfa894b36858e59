//! The dispatcher: configuration registry, runtime reconfiguration, stats, test events,
//! flush and shutdown.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustc_hash::FxBuildHasher;
use siem_core::{EventFilter, SecurityEvent};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use crate::config::{ConfigError, OrgConfig};
use crate::emit::{EmitOutcome, Owned, RouteEntry, RouteTable};
use crate::lane::{AbortSignal, Lane};
use crate::queue::Queue;
use crate::stats::{
    Counters, Counts, DispatcherStats, FlushReport, OrgStats, ShutdownReport, Undelivered,
};
use crate::worker::{self, WorkerContext};

/// How long dropping a [`Dispatcher`] without [`shutdown`](Dispatcher::shutdown) lets its
/// workers deliver what is queued before they give up.
pub const DEFAULT_DROP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a sink's suppressed failures and drops are summarized in the log.
pub const DEFAULT_LOG_SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// One sink of an active organization: its filter, lane and the queue taking events.
type Route = (EventFilter, Arc<Lane>, Arc<Queue>);

#[derive(Default)]
struct Registry {
    /// Active organizations: their lanes and the filters they route with.
    orgs: BTreeMap<String, Vec<Route>>,
    /// Lanes of removed sinks and organizations, delivering what they had queued.
    retiring: Vec<Arc<Lane>>,
    shut_down: bool,
}

struct Shared {
    routes: ArcSwap<RouteTable>,
    /// Bumped after each routing table is published, so that [`Shared::emit_wait_all`]
    /// keeps its snapshot until the table changes: a plain load where reading the table
    /// costs several atomic operations per event.
    routes_version: AtomicU64,
    registry: Mutex<Registry>,
    ctx: Arc<WorkerContext>,
    abort_tx: watch::Sender<Option<Instant>>,
    handle: Handle,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, reg: &Registry) {
        let mut table = RouteTable {
            orgs: HashMap::with_capacity_and_hasher(reg.orgs.len(), FxBuildHasher),
            closed: reg.shut_down,
        };
        for (org, lanes) in &reg.orgs {
            let entries: Box<[RouteEntry]> = lanes
                .iter()
                .map(|(filter, lane, queue)| RouteEntry {
                    filter: filter.clone(),
                    queue: Arc::clone(queue),
                    lane: Arc::clone(lane),
                })
                .collect();
            table.orgs.insert(org.as_str().into(), entries);
        }
        self.routes.store(Arc::new(table));
        self.routes_version.fetch_add(1, Ordering::Release);
    }

    async fn emit_wait_all(
        &self,
        events: impl IntoIterator<Item = Arc<SecurityEvent>>,
        mut outcome: impl FnMut(EmitOutcome),
    ) {
        let mut version = self.routes_version.load(Ordering::Acquire);
        let mut routes = self.routes.load_full();
        for event in events {
            let now = self.routes_version.load(Ordering::Acquire);
            if now != version {
                version = now;
                routes = self.routes.load_full();
            }
            outcome(routes.emit_waiting(event).await);
        }
    }

    fn spawn_worker(&self, lane: &Arc<Lane>) {
        let span = tracing::info_span!("siem_dispatch_worker", org = %lane.org, sink = %lane.name);
        let handle = self
            .handle
            .spawn(worker::run(Arc::clone(lane), Arc::clone(&self.ctx)).instrument(span));
        lane.set_join(handle);
    }

    fn all_lanes(reg: &Registry) -> Vec<Arc<Lane>> {
        reg.orgs
            .values()
            .flat_map(|v| v.iter().map(|(_, l, _)| Arc::clone(l)))
            .chain(reg.retiring.iter().cloned())
            .collect()
    }

    /// Stops intake everywhere and sets the deadline at which workers give up.
    fn begin_shutdown(&self, deadline: Instant) -> Vec<Arc<Lane>> {
        let mut reg = self.registry();
        if !reg.shut_down {
            reg.shut_down = true;
            self.publish(&reg);
            self.abort_tx.send_if_modified(|d| {
                if d.is_none() {
                    *d = Some(deadline);
                    true
                } else {
                    false
                }
            });
        }
        let lanes = Self::all_lanes(&reg);
        for lane in &lanes {
            lane.retire();
        }
        lanes
    }
}

/// Configures and starts a [`Dispatcher`].
#[derive(Debug, Clone)]
pub struct DispatcherBuilder {
    orgs: Vec<OrgConfig>,
    log_interval: Duration,
    drop_timeout: Duration,
    handle: Option<Handle>,
}

impl Default for DispatcherBuilder {
    fn default() -> Self {
        Self {
            orgs: Vec::new(),
            log_interval: DEFAULT_LOG_SUMMARY_INTERVAL,
            drop_timeout: DEFAULT_DROP_TIMEOUT,
            handle: None,
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

    /// Sets how long dropping the handle lets workers deliver before giving up.
    #[must_use]
    pub fn drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }

    /// Runs the workers on this runtime (default: the current one).
    #[must_use]
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Validates every organization and starts one worker per sink.
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
        let (abort_tx, abort_rx) = watch::channel(None);
        let shared = Arc::new(Shared {
            routes: ArcSwap::from_pointee(RouteTable::default()),
            routes_version: AtomicU64::new(0),
            registry: Mutex::new(Registry::default()),
            ctx: Arc::new(WorkerContext {
                abort: AbortSignal(abort_rx),
                progress: tokio::sync::Notify::new(),
                log_interval: self.log_interval,
            }),
            abort_tx,
            handle,
        });
        let dispatcher = Dispatcher {
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

/// A cloneable handle that can only emit (e.g. one per gateway worker thread).
#[derive(Clone)]
pub struct Emitter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Emitter")
    }
}

impl Emitter {
    /// See [`Dispatcher::emit`].
    #[inline]
    pub fn emit(&self, event: SecurityEvent) -> EmitOutcome {
        self.shared.routes.load().emit(Owned::Event(event))
    }

    /// See [`Dispatcher::emit_arc`].
    #[inline]
    pub fn emit_arc(&self, event: Arc<SecurityEvent>) -> EmitOutcome {
        self.shared.routes.load().emit(Owned::Shared(event))
    }

    /// See [`Dispatcher::emit_wait`].
    pub async fn emit_wait(&self, event: SecurityEvent) -> EmitOutcome {
        self.emit_wait_arc(Arc::new(event)).await
    }

    /// See [`Dispatcher::emit_wait_arc`].
    pub async fn emit_wait_arc(&self, event: Arc<SecurityEvent>) -> EmitOutcome {
        self.shared.routes.load_full().emit_waiting(event).await
    }

    /// See [`Dispatcher::emit_wait_all`].
    pub async fn emit_wait_all(
        &self,
        events: impl IntoIterator<Item = Arc<SecurityEvent>>,
        outcome: impl FnMut(EmitOutcome),
    ) {
        self.shared.emit_wait_all(events, outcome).await;
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
        Emitter {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Routes an event to its organization's matching sinks. Synchronous and cheap: one
    /// lock-free read of the routing table, a filter bit test and a lock-free `try_push`
    /// per sink, one allocation (the `Arc` shared by all sinks, only when one matches);
    /// no I/O, no lock, no await, no panic.
    #[inline]
    pub fn emit(&self, event: SecurityEvent) -> EmitOutcome {
        self.shared.routes.load().emit(Owned::Event(event))
    }

    /// Like [`emit`](Self::emit) for an event that is already shared: no allocation.
    #[inline]
    pub fn emit_arc(&self, event: Arc<SecurityEvent>) -> EmitOutcome {
        self.shared.routes.load().emit(Owned::Shared(event))
    }

    /// Like [`emit`](Self::emit), but when a matching sink's queue is full, waits until
    /// its worker makes room instead of dropping: backpressure for batch tools that read
    /// events from a file or pipe (e.g. `siem forward`). Never use it on a gateway's
    /// request path: a slow SIEM would slow the caller. An event larger than a sink's whole
    /// byte bound is still dropped there.
    pub async fn emit_wait(&self, event: SecurityEvent) -> EmitOutcome {
        self.emit_wait_arc(Arc::new(event)).await
    }

    /// Like [`emit_wait`](Self::emit_wait) for an event that is already shared.
    pub async fn emit_wait_arc(&self, event: Arc<SecurityEvent>) -> EmitOutcome {
        self.shared.routes.load_full().emit_waiting(event).await
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
        outcome: impl FnMut(EmitOutcome),
    ) {
        self.shared.emit_wait_all(events, outcome).await;
    }

    /// Adds an organization or replaces its configuration, without a restart.
    ///
    /// Sinks are matched by name. A sink that stays keeps its queue, its counters and its
    /// worker: events already queued are delivered (with the new settings for batches
    /// formed from now on). If its queue bound changed, a new queue takes new events and the
    /// worker drains the old one first. Sinks no longer configured stop taking events and
    /// deliver what they had queued, then stop. Other organizations are not touched.
    pub fn set_org(&self, org: OrgConfig) -> Result<(), ConfigError> {
        org.validate()?;
        let mut reg = self.shared.registry();
        if reg.shut_down {
            return Err(ConfigError::ShutDown);
        }
        let org_id = org.org_id().as_str().to_owned();
        let mut old = reg.orgs.remove(&org_id).unwrap_or_default();
        let mut lanes = Vec::with_capacity(org.sinks().len());
        let mut fresh = Vec::new();
        let mut reconfigured = Vec::new();
        for sink in org.sinks() {
            let kept = old
                .iter()
                .position(|(_, l, _)| l.name == sink.name())
                .map(|i| old.swap_remove(i).1);
            let (lane, queue) = match kept {
                Some(lane) => {
                    let queue = lane.reconfigure(sink);
                    reconfigured.push(Arc::clone(&lane));
                    (lane, queue)
                }
                None => {
                    let lane = Lane::new(&org_id, sink);
                    fresh.push(Arc::clone(&lane));
                    let Some(queue) = lane.current_queue() else {
                        continue;
                    };
                    (lane, queue)
                }
            };
            lanes.push((sink.filter.clone(), lane, queue));
        }
        reg.orgs.insert(org_id, lanes);
        self.shared.publish(&reg);
        for lane in &fresh {
            self.shared.spawn_worker(lane);
        }
        for lane in &reconfigured {
            lane.close_old_queues();
        }
        for (_, lane, _) in old {
            lane.retire();
            reg.retiring.push(lane);
        }
        reg.retiring.retain(|l| !l.is_finished());
        Ok(())
    }

    /// Removes an organization at once: its events are no longer routed, and its sinks
    /// deliver what they had queued (under their retry policies) in the background, then
    /// stop. Until then they appear in [`stats`](Self::stats) with `removing: true`, and a
    /// [`shutdown`](Self::shutdown) covers them. Returns whether the organization existed.
    pub fn remove_org(&self, org_id: &str) -> bool {
        let mut reg = self.shared.registry();
        let Some(old) = reg.orgs.remove(org_id) else {
            return false;
        };
        self.shared.publish(&reg);
        for (_, lane, _) in old {
            lane.retire();
            reg.retiring.push(lane);
        }
        true
    }

    /// The organizations configured now.
    pub fn org_ids(&self) -> Vec<String> {
        self.shared.registry().orgs.keys().cloned().collect()
    }

    /// A snapshot of every counter.
    pub fn stats(&self) -> DispatcherStats {
        let mut reg = self.shared.registry();
        reg.retiring.retain(|l| !l.is_finished());
        let mut orgs: BTreeMap<(String, bool), OrgStats> = BTreeMap::new();
        let lanes = reg
            .orgs
            .values()
            .flat_map(|v| v.iter().map(|(_, l, _)| (l, false)))
            .chain(reg.retiring.iter().map(|l| (l, true)));
        for (lane, removing) in lanes {
            let org_removing = removing && !reg.orgs.contains_key(&lane.org);
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

    /// Sends everything queued so far without waiting for linger times, and waits until
    /// at least that many events per sink are delivered or failed, or `timeout` passes.
    /// Intake continues; what is not done in time stays queued and is reported.
    pub async fn flush(&self, timeout: Duration) -> FlushReport {
        let deadline = Instant::now() + timeout;
        let lanes = Shared::all_lanes(&self.shared.registry());
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

    /// Stops intake (`emit` returns [`EmitOutcome::Closed`] from now on), delivers what is
    /// queued without lingering, and at `timeout` gives up on the rest, counting it as
    /// failed. Returns what was not delivered in time and the final counters, in which
    /// every sink has `queued = delivered + failed`. Calling it again returns the report
    /// again.
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
        let undelivered: Vec<Undelivered> = lanes
            .iter()
            .filter_map(|l| {
                let events = Counters::get(&l.counters.failed_at_shutdown);
                (events > 0).then(|| Undelivered {
                    org_id: l.org.clone(),
                    sink: l.name.clone(),
                    events,
                })
            })
            .collect();
        ShutdownReport {
            complete: undelivered.is_empty(),
            undelivered,
            // Every lane alive at shutdown, including removed ones that were still draining.
            stats: final_stats(&lanes),
        }
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
            let lanes = reg
                .orgs
                .get(org_id)
                .ok_or_else(|| crate::TestEventError::UnknownOrg(org_id.to_owned()))?;
            let (_, lane, _) = lanes
                .iter()
                .find(|(_, l, _)| l.name == sink)
                .ok_or_else(|| crate::TestEventError::UnknownSink {
                    org: org_id.to_owned(),
                    sink: sink.to_owned(),
                })?;
            lane.settings()
        };
        crate::test_event::send(org_id, &settings).await
    }
}

fn final_stats(lanes: &[Arc<Lane>]) -> DispatcherStats {
    let mut orgs: BTreeMap<String, OrgStats> = BTreeMap::new();
    for lane in lanes {
        let entry = orgs.entry(lane.org.clone()).or_insert_with(|| OrgStats {
            org_id: lane.org.clone(),
            totals: Counts::default(),
            sinks: Vec::new(),
            removing: false,
        });
        let s = lane.stats(false);
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
