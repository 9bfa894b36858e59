//! # siem-dispatch
//!
//! Per-organization, fail-open, accounted delivery of security events to SIEM sinks.
//!
//! The gateway calls [`Emitter::emit`] (or `dispatcher.emit`) on its request path. It costs nanoseconds and
//! never blocks, fails or panics whatever the SIEMs do: it routes the event by `org_id` to
//! that organization's sinks whose [`EventFilter`](siem_core::EventFilter) matches and puts
//! it on each sink's bounded buffer (dropping the newest event, counted, when full).
//!
//! Each sink has its own background worker (a tokio task in a `siem_dispatch_worker`
//! span naming org and sink) that batches by size or linger time ([`BatchPolicy`]),
//! encodes with the sink's pure `encode`, sends with retry ([`RetryPolicy`]: exponential
//! backoff with jitter, `Retry-After` honoured and capped, bounded attempts and time, a
//! per-attempt timeout, one retry after a rejected credential, halving on "payload too
//! large"), and accounts every event ([`DispatcherStats`]). A slow, hung or failing sink
//! only delays itself: after a run of failed attempts its circuit opens ([`breaker`]) and
//! its events wait in its buffer ([`buffer`]: memory, or disk for events that must
//! survive a stop, crash or outage) until a probe gets through. Events that fail for good
//! can be written to a dead-letter file ([`SinkConfig::dead_letter`]).
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

/// Builder setters, one per field: `setters! { /// doc\n field: Type; … }` inside an
/// `impl` block makes `#[must_use] pub fn field(mut self, value: Type) -> Self`, which sets
/// the field of that name.
macro_rules! setters {
    ($($(#[$attr:meta])* $field:ident: $ty:ty;)*) => {
        $(
            $(#[$attr])*
            #[must_use]
            pub fn $field(mut self, value: $ty) -> Self {
                self.$field = value;
                self
            }
        )*
    };
}

pub mod breaker;
pub mod buffer;
mod config;
mod dead_letter;
mod deliver;
mod dispatcher;
mod emit;
mod lane;
mod log_limit;
mod overrides;
mod policy;
mod registry;
pub mod stats;
mod test_event;
mod worker;

pub use breaker::{
    BreakerPolicy, BreakerState, BreakerStats, DEFAULT_BREAKER_BACKOFF, DEFAULT_BREAKER_FAILURES,
    DEFAULT_BREAKER_MAX_BACKOFF,
};
pub use buffer::{
    BufferKind, BufferPolicy, WhenFull, DEFAULT_BUFFER_MAX_BYTES, DEFAULT_BUFFER_MAX_EVENTS,
    DEFAULT_DISK_BUFFER_MAX_BYTES, DEFAULT_DISK_BUFFER_MAX_EVENTS, MAX_BUFFER_BYTES,
    MAX_BUFFER_EVENTS,
};
pub use config::{ConfigError, OrgConfig, SinkConfig};
pub use dead_letter::{DeadLetterLine, DeadLetterReason};
pub use dispatcher::{
    Dispatcher, DispatcherBuilder, DEFAULT_DROP_TIMEOUT, DEFAULT_LOG_SUMMARY_INTERVAL,
};
pub use emit::{EmitOutcome, Emitter};
pub use overrides::{BufferOverrides, DeliveryOverrides};
pub use policy::{
    BatchPolicy, Jitter, RetryPolicy, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONCURRENCY,
    DEFAULT_INITIAL_BACKOFF, DEFAULT_LINGER, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_BYTES, DEFAULT_MAX_ELAPSED, DEFAULT_MAX_EVENTS, DEFAULT_MAX_RETRY_AFTER,
    MAX_CONCURRENCY, MAX_LINGER,
};
pub use stats::{
    BufferStats, Counts, DispatcherStats, FlushReport, LastError, OrgStats, ShutdownReport,
    SinkStats, Undelivered,
};
pub use test_event::{
    send_test_event, TestEventError, TestEventResult, TestOutcome, TEST_EVENT_PROJECT,
};
