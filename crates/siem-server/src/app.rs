//! The service's state: the store, the secret store, the running dispatcher, and how a
//! stored configuration becomes running sinks (on every change through the API, and by
//! polling the store's versions for changes made by other instances).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};
use siem_config::Credentials;
use siem_dispatch::{Dispatcher, OrgConfig, SinkConfig};
use siem_secrets::SecretResolver;

use crate::auth::FailureLimiter;
use crate::connectors::{self, FieldError};
use crate::secrets::SecretStore;
use crate::store::{Store, StoreError, StoredConnector};

/// Shared by every request.
#[derive(Debug)]
pub struct App {
    pub(crate) store: Store,
    pub(crate) secrets: SecretStore,
    pub(crate) resolver: SecretResolver,
    pub(crate) dispatcher: Dispatcher,
    /// Where the database (embedded default), local secrets and disk buffers live.
    pub(crate) data_dir: PathBuf,
    pub(crate) failures: FailureLimiter,
    /// SHA-256 of `SIEM_BOOTSTRAP_TOKEN`, hex.
    pub(crate) bootstrap_hash: Option<String>,
    pub(crate) max_body_bytes: usize,
    pub(crate) metrics: Metrics,
    pub(crate) ready: AtomicBool,
    /// Connectors that could not be started, and why.
    not_running: Mutex<HashMap<(String, String), String>>,
    /// The configuration version applied per organization; one apply at a time.
    applied: tokio::sync::Mutex<HashMap<String, i64>>,
    /// `updated_at` of each connector as last applied: a connector whose row changed may
    /// have a new secret, so its cached value is dropped before it is built again.
    built_at: Mutex<HashMap<(String, String), String>>,
}

/// The Prometheus recorder (local to this service, not the process's global one).
pub(crate) struct Metrics {
    pub(crate) recorder: PrometheusRecorder,
    pub(crate) handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Why a connector cannot run, in words (never a secret).
pub(crate) type NotRunning = String;

impl App {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Store,
        secrets: SecretStore,
        resolver: SecretResolver,
        dispatcher: Dispatcher,
        data_dir: PathBuf,
        bootstrap_hash: Option<String>,
        max_body_bytes: usize,
    ) -> Self {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        Self {
            store,
            secrets,
            resolver,
            dispatcher,
            data_dir,
            failures: FailureLimiter::default(),
            bootstrap_hash,
            max_body_bytes,
            metrics: Metrics { recorder, handle },
            ready: AtomicBool::new(false),
            not_running: Mutex::new(HashMap::new()),
            applied: tokio::sync::Mutex::new(HashMap::new()),
            built_at: Mutex::new(HashMap::new()),
        }
    }

    /// Builds the running form of a stored connector: its checked section, its
    /// credentials from the secret store, its sink and delivery settings.
    pub(crate) async fn build(&self, c: &StoredConnector) -> Result<SinkConfig, NotRunning> {
        let secret_name = self.secrets.name(&c.org_id, &c.name);
        let section = connectors::check(&c.options, &c.secret_fields, &secret_name, &self.data_dir)
            .map_err(describe)?;
        let mut missing = None;
        let section = connectors::with_credentials(section, |field| {
            let reference = c.secret_ref.as_deref()?;
            match self.secrets.credential(reference, field) {
                Ok(Some(r)) => Some(r),
                Ok(None) => {
                    missing = Some(format!("its {field} is not in the secret store"));
                    None
                }
                Err(e) => {
                    missing = Some(e.to_string());
                    None
                }
            }
        });
        if let Some(why) = missing {
            return Err(why);
        }
        self.sink_config(&section)
            .await
            .map_err(|e| describe(vec![e]))
    }

    /// Drops the cached secret values of a connector (rotated through the API).
    fn forget_secrets(&self, c: &StoredConnector) {
        let Some(reference) = c.secret_ref.as_deref() else {
            return;
        };
        for field in &c.secret_fields {
            if let Ok(Some(r)) = self.secrets.credential(reference, field) {
                self.resolver.forget(&r);
            }
        }
    }

    /// A checked section as a dispatcher sink (its credentials fetched now, so a bad one
    /// is found here).
    pub(crate) async fn sink_config(
        &self,
        section: &siem_config::SinkSection,
    ) -> Result<SinkConfig, FieldError> {
        let sink = siem_config::build_sink(section, Credentials::Fetch(&self.resolver))
            .await
            .map_err(|(field, message)| FieldError { field, message })?;
        section
            .delivery
            .apply(SinkConfig::new(sink).filter(section.events.clone()))
            .map_err(|e| FieldError {
                field: None,
                message: e.to_string(),
            })
    }

    /// Makes the dispatcher run what the store holds for `org_id` now. Sinks that stay
    /// keep their queues (nothing queued is lost); removed ones deliver what they hold,
    /// then stop.
    pub(crate) async fn apply_org(&self, org_id: &str, version: i64) -> Result<(), StoreError> {
        let mut applied = self.applied.lock().await;
        let stored = self.store.connectors(org_id).await?;
        let mut org = match OrgConfig::new(org_id) {
            Ok(org) => org,
            Err(e) => {
                tracing::error!(org = org_id, error = %e, "cannot run the organization");
                return Ok(());
            }
        };
        let mut failed = Vec::new();
        {
            let mut built_at = self.built_at.lock().unwrap_or_else(|e| e.into_inner());
            let mut before = HashMap::new();
            built_at.retain(|(org, name), at| {
                if org == org_id {
                    before.insert(name.clone(), std::mem::take(at));
                }
                org != org_id
            });
            for c in &stored {
                if before.get(&c.name) != Some(&c.updated_at) {
                    self.forget_secrets(c);
                }
                built_at.insert((org_id.to_owned(), c.name.clone()), c.updated_at.clone());
            }
        }
        for c in &stored {
            match self.build(c).await {
                Ok(sink) => org.push_sink(sink),
                Err(why) => {
                    tracing::error!(org = org_id, connector = %c.name, error = %why, "connector not started");
                    failed.push((c.name.clone(), why));
                }
            }
        }
        if org.sinks().is_empty() {
            self.dispatcher.remove_org(org_id);
        } else if let Err(e) = self.dispatcher.set_org(org) {
            tracing::error!(org = org_id, error = %e, "cannot apply the organization's connectors");
            failed = stored
                .iter()
                .map(|c| (c.name.clone(), e.to_string()))
                .collect();
        }
        {
            let mut not_running = self.not_running.lock().unwrap_or_else(|e| e.into_inner());
            not_running.retain(|(org, _), _| org != org_id);
            for (name, why) in failed {
                not_running.insert((org_id.to_owned(), name), why);
            }
        }
        applied.insert(org_id.to_owned(), version);
        Ok(())
    }

    /// Applies every organization whose stored version differs from the one running
    /// (all of them at start; afterwards, the changes of other instances).
    pub(crate) async fn sync(&self) -> Result<usize, StoreError> {
        let versions = self.store.org_versions().await?;
        let mut changed = 0;
        for (org, version) in versions {
            let current = self.applied.lock().await.get(&org).copied();
            if current != Some(version) {
                self.apply_org(&org, version).await?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Applies `org_id` after a change made here (read its version first, so a change by
    /// another instance in between is applied by the next poll at the latest).
    pub(crate) async fn reapply(&self, org_id: &str) -> Result<(), StoreError> {
        let version = self
            .store
            .org_versions()
            .await?
            .into_iter()
            .find_map(|(org, v)| (org == org_id).then_some(v))
            .unwrap_or_default();
        self.apply_org(org_id, version).await
    }

    /// Why a connector is not running, if it is not.
    pub(crate) fn not_running(&self, org_id: &str, name: &str) -> Option<String> {
        self.not_running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(org_id.to_owned(), name.to_owned()))
            .cloned()
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// Polls the store for changes by other instances until the app is dropped.
pub(crate) fn spawn_poller(app: &Arc<App>, interval: Duration) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(app) = weak.upgrade() else { return };
            if let Err(e) = app.sync().await {
                tracing::warn!(error = %e, "cannot read configuration changes");
            }
        }
    })
}

/// Field errors in one line (for a stored connector that no longer passes the checks).
fn describe(errors: Vec<FieldError>) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
