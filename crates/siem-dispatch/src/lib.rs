//! # siem-dispatch
//!
//! Per-organization, fail-open, accounted delivery of security events to SIEM sinks.
//!
//! The gateway calls [`Dispatcher::emit`] on its request path. It costs nanoseconds and
//! never blocks, fails or panics whatever the SIEMs do: it routes the event by `org_id` to
//! that organization's sinks whose [`EventFilter`](siem_core::EventFilter) matches and puts
//! it on each sink's bounded queue (dropping the newest event, counted, when full).
//!
//! Each sink has its own background worker (a tokio task in a `siem_dispatch_worker`
//! span naming org and sink) that batches by size or linger time ([`BatchPolicy`]),
//! encodes with the sink's pure `encode`, sends with retry ([`RetryPolicy`]: exponential
//! backoff with jitter, `Retry-After` honoured and capped, bounded attempts and time, a
//! per-attempt timeout, one retry after a rejected credential, halving on "payload too
//! large"), and accounts every event ([`DispatcherStats`]). A slow, hung or failing sink
//! only delays itself.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::{sync::Arc, time::Duration};
//! use siem_core::testing::{sample_events_for, MemorySink};
//! use siem_dispatch::{Dispatcher, EmitOutcome, OrgConfig, SinkConfig};
//!
//! let sink = Arc::new(MemorySink::new("splunk-prod"));
//! let dispatcher = Dispatcher::start([
//!     OrgConfig::new("org_acme")?.sink(SinkConfig::new(sink.clone())),
//! ])?;
//! for event in sample_events_for("org_acme") {
//!     assert_eq!(dispatcher.emit(event), EmitOutcome::Queued { sinks: 1 });
//! }
//! let report = dispatcher.shutdown(Duration::from_secs(5)).await;
//! assert!(report.complete);
//! assert_eq!(report.stats.totals.delivered, 6);
//! assert_eq!(sink.received().len(), 6);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod config;
mod deliver;
mod dispatcher;
mod emit;
mod lane;
mod policy;
mod queue;
pub mod stats;
mod test_event;
mod worker;

pub use config::{ConfigError, OrgConfig, SinkConfig};
pub use dispatcher::{
    Dispatcher, DispatcherBuilder, Emitter, DEFAULT_DROP_TIMEOUT, DEFAULT_LOG_SUMMARY_INTERVAL,
};
pub use emit::EmitOutcome;
pub use policy::{
    BatchPolicy, DeliveryOverrides, Jitter, QueuePolicy, RetryPolicy, DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_CONCURRENCY, DEFAULT_INITIAL_BACKOFF, DEFAULT_LINGER, DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BACKOFF, DEFAULT_MAX_BYTES, DEFAULT_MAX_ELAPSED, DEFAULT_MAX_EVENTS,
    DEFAULT_MAX_RETRY_AFTER, DEFAULT_QUEUE_CAPACITY, DEFAULT_QUEUE_CAPACITY_BYTES, MAX_CONCURRENCY,
    MAX_LINGER, MAX_QUEUE_CAPACITY, MAX_QUEUE_CAPACITY_BYTES,
};
pub use stats::{
    Counts, DispatcherStats, FlushReport, LastError, OrgStats, ShutdownReport, SinkStats,
    Undelivered,
};
pub use test_event::{TestEventError, TestEventResult, TestOutcome, TEST_EVENT_PROJECT};
