//! The configuration registry: which organizations and sinks exist, their lanes and
//! workers, the routing table published to emitters, and runtime reconfiguration.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxBuildHasher;
use siem_core::EventFilter;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use crate::buffer::memory::Queue;
use crate::config::{ConfigError, OrgConfig};
use crate::emit::{RouteEntry, RouteTable, Routes};
use crate::lane::{Lane, Settings};
use crate::worker::{self, WorkerContext};

/// One sink of an active organization: its filter, lane and the queue taking events.
pub(crate) type Route = (EventFilter, Arc<Lane>, Arc<Queue>);

#[derive(Default)]
pub(crate) struct Registry {
    /// Active organizations: their lanes and the filters they route with.
    pub(crate) orgs: BTreeMap<String, Vec<Route>>,
    /// Lanes of removed sinks and organizations, delivering what they had queued.
    pub(crate) retiring: Vec<Arc<Lane>>,
    pub(crate) shut_down: bool,
}

impl Registry {
    pub(crate) fn all_lanes(&self) -> Vec<Arc<Lane>> {
        self.orgs
            .values()
            .flat_map(|v| v.iter().map(|(_, l, _)| Arc::clone(l)))
            .chain(self.retiring.iter().cloned())
            .collect()
    }

    pub(crate) fn lane(&self, org: &str, sink: &str) -> Option<&Arc<Lane>> {
        self.orgs
            .get(org)?
            .iter()
            .map(|(_, l, _)| l)
            .find(|l| l.name == sink)
    }
}

/// What the dispatcher's handle, its emitters and its workers share.
pub(crate) struct Shared {
    pub(crate) routes: Arc<Routes>,
    registry: Mutex<Registry>,
    pub(crate) ctx: Arc<WorkerContext>,
    abort_tx: watch::Sender<Option<Instant>>,
    handle: Handle,
    /// Where disk buffers live; its lock file is held for the dispatcher's life.
    data_dir: Option<(PathBuf, std::fs::File)>,
}

impl Shared {
    pub(crate) fn new(
        handle: Handle,
        ctx: WorkerContext,
        abort_tx: watch::Sender<Option<Instant>>,
        data_dir: Option<(PathBuf, std::fs::File)>,
    ) -> Self {
        Self {
            routes: Arc::new(Routes::default()),
            registry: Mutex::new(Registry::default()),
            ctx: Arc::new(ctx),
            abort_tx,
            handle,
            data_dir,
        }
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
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
        self.routes.publish(table);
    }

    fn spawn_worker(&self, lane: &Arc<Lane>) {
        let span = tracing::info_span!("siem_dispatch_worker", org = %lane.org, sink = %lane.name);
        let handle = self
            .handle
            .spawn(worker::run(Arc::clone(lane), Arc::clone(&self.ctx)).instrument(span));
        lane.set_join(handle);
    }

    /// Adds or replaces an organization; see [`Dispatcher::set_org`](crate::Dispatcher::set_org).
    pub(crate) fn set_org(&self, org: OrgConfig) -> Result<(), ConfigError> {
        org.validate()?;
        let mut reg = self.registry();
        if reg.shut_down {
            return Err(ConfigError::ShutDown);
        }
        let org_id = org.org_id().as_str().to_owned();
        // Everything that can fail (opening disk buffers and dead-letter files) happens
        // before anything changes: a refused configuration leaves the old one running.
        enum Plan {
            Keep(Arc<Lane>, Box<Settings>),
            New(Arc<Lane>),
        }
        let mut plans = Vec::with_capacity(org.sinks().len());
        {
            let old = reg.orgs.get(&org_id);
            for sink in org.sinks() {
                // A sink keeps its lane (queue, counters, worker) unless its buffer changes
                // kind: memory and disk are different lanes.
                let kept = old.and_then(|old| {
                    old.iter()
                        .map(|(_, l, _)| l)
                        .find(|l| l.name == sink.name() && l.kind == sink.buffer.kind)
                });
                plans.push(match kept {
                    Some(lane) => Plan::Keep(
                        Arc::clone(lane),
                        Box::new(Settings::from_config(&org_id, sink)?),
                    ),
                    None => Plan::New(Lane::new(
                        &org_id,
                        sink,
                        self.data_dir.as_ref().map(|(dir, _)| dir.as_path()),
                    )?),
                });
            }
        }
        let mut old = reg.orgs.remove(&org_id).unwrap_or_default();
        let mut lanes = Vec::with_capacity(plans.len());
        let mut fresh = Vec::new();
        let mut reconfigured = Vec::new();
        for (sink, plan) in org.sinks().iter().zip(plans) {
            let (lane, queue) = match plan {
                Plan::Keep(lane, settings) => {
                    old.retain(|(_, l, _)| !Arc::ptr_eq(l, &lane));
                    let queue = lane.reconfigure(*settings);
                    reconfigured.push(Arc::clone(&lane));
                    (lane, queue)
                }
                Plan::New(lane) => {
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
        self.publish(&reg);
        for lane in &fresh {
            self.spawn_worker(lane);
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

    /// Removes an organization; see [`Dispatcher::remove_org`](crate::Dispatcher::remove_org).
    pub(crate) fn remove_org(&self, org_id: &str) -> bool {
        let mut reg = self.registry();
        let Some(old) = reg.orgs.remove(org_id) else {
            return false;
        };
        self.publish(&reg);
        for (_, lane, _) in old {
            lane.retire();
            reg.retiring.push(lane);
        }
        true
    }

    /// Stops intake everywhere and sets the deadline at which workers give up.
    pub(crate) fn begin_shutdown(&self, deadline: Instant) -> Vec<Arc<Lane>> {
        let mut reg = self.registry();
        if !reg.shut_down {
            reg.shut_down = true;
            self.publish(&reg);
        }
        self.set_deadline(deadline);
        let lanes = reg.all_lanes();
        for lane in &lanes {
            lane.retire();
        }
        lanes
    }

    /// Sets the shutdown deadline, or moves it earlier.
    pub(crate) fn set_deadline(&self, deadline: Instant) {
        self.abort_tx.send_if_modified(|d| match d {
            Some(current) if *current <= deadline => false,
            _ => {
                *d = Some(deadline);
                true
            }
        });
    }
}
