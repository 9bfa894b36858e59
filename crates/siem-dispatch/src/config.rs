//! Per-organization configuration: which sinks, which events, which policies.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use siem_core::{EventFilter, Ident, SiemSink};

use crate::breaker::BreakerPolicy;
use crate::buffer::BufferPolicy;
use crate::policy::{BatchPolicy, RetryPolicy, DEFAULT_CONCURRENCY, MAX_CONCURRENCY};

/// A configuration the dispatcher refuses, naming the organization, sink and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The organization id is not a valid identifier.
    #[error("org id {id:?}: {reason}")]
    BadOrgId {
        /// The id as given.
        id: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A sink's setting is out of range.
    #[error("{org}sink `{sink}`: {reason}")]
    BadSetting {
        /// `org `x`: ` or empty when not known yet.
        org: String,
        /// The sink's name.
        sink: String,
        /// Which field and why.
        reason: String,
    },
    /// Two sinks of one organization have the same name.
    #[error("org `{org}`: two sinks are named `{sink}`; sink names must be unique per org")]
    DuplicateSink {
        /// The organization.
        org: String,
        /// The repeated name.
        sink: String,
    },
    /// A sink has an empty name.
    #[error("org `{org}`: a sink has an empty name")]
    EmptySinkName {
        /// The organization.
        org: String,
    },
    /// A sink's buffer cannot be opened (its directory, its file, another process).
    #[error("org `{org}`, sink `{sink}`: buffer: {reason}")]
    Buffer {
        /// The organization.
        org: String,
        /// The sink.
        sink: String,
        /// What went wrong.
        reason: String,
    },
    /// The data directory cannot be used.
    #[error("data_dir {path}: {reason}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The dispatcher has been shut down.
    #[error("the dispatcher has been shut down")]
    ShutDown,
    /// No tokio runtime to start on.
    #[error("no tokio runtime: start the dispatcher from within a runtime or pass a Handle")]
    NoRuntime,
}

/// One sink of an organization with its subscription and policies.
#[derive(Clone)]
#[non_exhaustive]
pub struct SinkConfig {
    /// The sink; its [`name`](SiemSink::name) identifies it inside the organization.
    pub sink: Arc<dyn SiemSink>,
    /// Which event types it receives (default: all).
    pub filter: EventFilter,
    /// When batches are sent.
    pub batch: BatchPolicy,
    /// How failed requests are retried.
    pub retry: RetryPolicy,
    /// Its buffer: memory or disk, bounds, and what happens when full.
    pub buffer: BufferPolicy,
    /// When its circuit opens and how it probes.
    pub breaker: BreakerPolicy,
    /// Where events that fail for good are written (canonical event JSON plus the
    /// reason, one line each); `None`: they are only counted.
    pub dead_letter: Option<PathBuf>,
    /// How many requests may be in flight at once (default [`DEFAULT_CONCURRENCY`]).
    ///
    /// With 2, the next batch is encoded and sent while a slow request is outstanding, and
    /// a retrying batch does not stop newer ones; batches may then complete out of order
    /// (SIEMs order by event time). Use 1 for strict order.
    pub concurrency: usize,
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkConfig")
            .field("sink", &self.sink.name())
            .field("platform", &self.sink.platform())
            .field("filter", &self.filter)
            .field("batch", &self.batch)
            .field("retry", &self.retry)
            .field("buffer", &self.buffer)
            .field("breaker", &self.breaker)
            .field("dead_letter", &self.dead_letter)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl SinkConfig {
    /// A sink receiving every event type, with the default policies.
    pub fn new(sink: Arc<dyn SiemSink>) -> Self {
        Self {
            sink,
            filter: EventFilter::all(),
            batch: BatchPolicy::default(),
            retry: RetryPolicy::default(),
            buffer: BufferPolicy::default(),
            breaker: BreakerPolicy::default(),
            dead_letter: None,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    setters! {
        /// Sets the event filter.
        filter: EventFilter;

        /// Sets the batch policy.
        batch: BatchPolicy;

        /// Sets the retry policy.
        retry: RetryPolicy;

        /// Sets the buffer.
        buffer: BufferPolicy;

        /// Sets the circuit breaker.
        breaker: BreakerPolicy;
    }
    /// Writes events that fail for good to this file.
    #[must_use]
    pub fn dead_letter(mut self, path: impl Into<PathBuf>) -> Self {
        self.dead_letter = Some(path.into());
        self
    }
    setters! {
        /// Sets the number of requests in flight.
        concurrency: usize;
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        self.sink.name()
    }

    pub(crate) fn validate(&self, org: Option<&str>) -> Result<(), ConfigError> {
        let bad = |reason: String| ConfigError::BadSetting {
            org: org.map(|o| format!("org `{o}`: ")).unwrap_or_default(),
            sink: self.name().to_owned(),
            reason,
        };
        self.batch.validate().map_err(bad)?;
        self.retry.validate().map_err(bad)?;
        self.buffer.validate().map_err(bad)?;
        self.breaker.validate().map_err(bad)?;
        if self.concurrency == 0 || self.concurrency > MAX_CONCURRENCY {
            return Err(bad(format!(
                "concurrency must be between 1 and {MAX_CONCURRENCY}"
            )));
        }
        Ok(())
    }
}

/// An organization and its sinks.
///
/// ```
/// use std::sync::Arc;
/// use siem_core::{testing::MemorySink, EventFilter};
/// use siem_dispatch::{OrgConfig, SinkConfig};
/// let org = OrgConfig::new("org_acme")?
///     .sink(SinkConfig::new(Arc::new(MemorySink::new("splunk-prod"))))
///     .sink(SinkConfig::new(Arc::new(MemorySink::new("dd")))
///         .filter(EventFilter::parse(["dlp.pii_blocked"])?));
/// assert_eq!(org.sinks().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OrgConfig {
    org_id: Ident,
    sinks: Vec<SinkConfig>,
}

impl OrgConfig {
    /// An organization without sinks yet.
    pub fn new(org_id: &str) -> Result<Self, ConfigError> {
        let org_id = Ident::new(org_id).map_err(|e| ConfigError::BadOrgId {
            id: org_id.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            org_id,
            sinks: Vec::new(),
        })
    }

    /// Adds a sink.
    #[must_use]
    pub fn sink(mut self, sink: SinkConfig) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Adds a sink (by reference, for loops).
    pub fn push_sink(&mut self, sink: SinkConfig) {
        self.sinks.push(sink);
    }

    /// The organization id.
    pub fn org_id(&self) -> &Ident {
        &self.org_id
    }

    /// The sinks.
    pub fn sinks(&self) -> &[SinkConfig] {
        &self.sinks
    }

    /// Checks names and every sink's policies.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let org = self.org_id.as_str();
        for (i, s) in self.sinks.iter().enumerate() {
            if s.name().is_empty() {
                return Err(ConfigError::EmptySinkName {
                    org: org.to_owned(),
                });
            }
            if self.sinks[..i].iter().any(|o| o.name() == s.name()) {
                return Err(ConfigError::DuplicateSink {
                    org: org.to_owned(),
                    sink: s.name().to_owned(),
                });
            }
            s.validate(Some(org))?;
        }
        Ok(())
    }
}
