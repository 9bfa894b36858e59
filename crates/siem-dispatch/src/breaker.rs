//! The circuit breaker of one sink.
//!
//! After [`BreakerPolicy::failures`] consecutive failed attempts that say the SIEM itself
//! is unwell (connection refused or reset, attempt timeout, 5xx, throttling, rejected or
//! unobtainable credentials) the breaker **opens**: the worker stops sending, keeps what
//! it holds in its buffer, and the sink stops exerting backpressure on `emit_wait`. After
//! a backoff it goes **half-open** and sends one probe batch (one attempt); a delivered
//! probe **closes** it, a failed one reopens it with the backoff doubled (capped). A
//! permanent rejection of one payload (400, 413) says nothing about the SIEM's health and
//! neither counts nor resets.
//!
//! Each state change is logged once, with org and sink.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use siem_core::{DeliveryError, Timestamp};
use tokio::time::Instant;

use crate::policy::require;

/// Default number of consecutive failed attempts that open the breaker.
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;
/// Default wait before the first probe of an open breaker.
pub const DEFAULT_BREAKER_BACKOFF: Duration = Duration::from_secs(1);
/// Default cap on the wait between probes (it doubles after each failed probe).
pub const DEFAULT_BREAKER_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// When a sink's circuit opens and how it probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BreakerPolicy {
    /// Consecutive failed attempts that open the circuit (at least 1).
    pub failures: u32,
    /// Wait before the first probe.
    pub backoff: Duration,
    /// Cap on the wait between probes.
    pub max_backoff: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failures: DEFAULT_BREAKER_FAILURES,
            backoff: DEFAULT_BREAKER_BACKOFF,
            max_backoff: DEFAULT_BREAKER_MAX_BACKOFF,
        }
    }
}

impl BreakerPolicy {
    setters! {
        /// Sets the consecutive failures that open the circuit.
        failures: u32;

        /// Sets the wait before the first probe.
        backoff: Duration;

        /// Sets the cap on the wait between probes.
        max_backoff: Duration;
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        require(self.failures > 0, "breaker_failures must be at least 1")?;
        require(
            !self.backoff.is_zero(),
            "breaker_backoff_ms must be positive",
        )?;
        require(
            self.backoff <= self.max_backoff,
            "breaker_backoff_ms must not exceed breaker_max_backoff_ms",
        )
    }
}

/// The state of a sink's circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Delivering normally.
    Closed,
    /// Not sending: waiting to probe.
    Open,
    /// One probe batch is in flight.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A snapshot of a sink's circuit, for stats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerStats {
    /// The state now.
    pub state: BreakerState,
    /// When it entered that state (`None`: closed since the start).
    pub since: Option<Timestamp>,
    /// Consecutive failed attempts.
    pub consecutive_failures: u32,
    /// How many times it has opened.
    pub opened: u64,
}

/// Whether an attempt's failure says the SIEM (not the payload) is unwell.
pub(crate) fn counts_against_health(error: &DeliveryError) -> bool {
    match error {
        DeliveryError::Retryable { .. }
        | DeliveryError::CredentialsRejected { .. }
        | DeliveryError::Credentials(_) => true,
        DeliveryError::Permanent { .. } | DeliveryError::PayloadTooLarge { .. } => false,
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    since: Option<Timestamp>,
    consecutive_failures: u32,
    next_backoff: Duration,
    probe_at: Instant,
    opened: u64,
}

/// One sink's breaker, shared by its worker (which drives it) and the emitters (which
/// read [`Breaker::is_open`]).
#[derive(Debug)]
pub(crate) struct Breaker {
    open: AtomicBool,
    /// Whether failures are being counted (so a success has a run to reset).
    failing: AtomicBool,
    inner: Mutex<Inner>,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            open: AtomicBool::new(false),
            failing: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                since: None,
                consecutive_failures: 0,
                next_backoff: Duration::ZERO,
                probe_at: Instant::now(),
                opened: 0,
            }),
        }
    }
}

impl Breaker {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the circuit is open or half-open (no new batches; no backpressure).
    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    fn set(&self, inner: &mut Inner, state: BreakerState) {
        inner.state = state;
        inner.since = Some(Timestamp::now());
        self.open
            .store(state != BreakerState::Closed, Ordering::Release);
    }

    /// Records a failed attempt; returns whether the circuit is open afterwards.
    pub(crate) fn record_failure(
        &self,
        policy: &BreakerPolicy,
        error: &DeliveryError,
        org: &str,
        sink: &str,
    ) -> bool {
        if !counts_against_health(error) {
            return self.is_open();
        }
        let mut inner = self.inner();
        self.failing.store(true, Ordering::Release);
        inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
        match inner.state {
            BreakerState::Closed if inner.consecutive_failures >= policy.failures => {
                inner.next_backoff = policy.backoff;
                inner.probe_at = Instant::now() + policy.backoff;
                inner.opened += 1;
                self.set(&mut inner, BreakerState::Open);
                tracing::warn!(
                    org,
                    sink,
                    failures = inner.consecutive_failures,
                    probe_in_ms = policy.backoff.as_millis() as u64,
                    error = %error,
                    "SIEM circuit opened: not sending to this sink until a probe succeeds; \
                     its events wait in its buffer"
                );
            }
            BreakerState::HalfOpen => {
                let backoff = inner
                    .next_backoff
                    .saturating_mul(2)
                    .clamp(policy.backoff, policy.max_backoff);
                inner.next_backoff = backoff;
                inner.probe_at = Instant::now() + backoff;
                self.set(&mut inner, BreakerState::Open);
                tracing::info!(
                    org,
                    sink,
                    next_probe_in_ms = backoff.as_millis() as u64,
                    error = %error,
                    "SIEM circuit probe failed; circuit stays open"
                );
            }
            _ => {}
        }
        inner.state != BreakerState::Closed
    }

    /// Records a delivered request: closes the circuit.
    pub(crate) fn record_success(&self, org: &str, sink: &str) {
        // The common case (closed, no run of failures): two loads, no lock.
        if !self.is_open() && !self.failing.load(Ordering::Acquire) {
            return;
        }
        let mut inner = self.inner();
        inner.consecutive_failures = 0;
        self.failing.store(false, Ordering::Release);
        if inner.state != BreakerState::Closed {
            self.set(&mut inner, BreakerState::Closed);
            tracing::info!(org, sink, "SIEM circuit closed: delivery resumed");
        }
    }

    /// When an open circuit may send its probe (`None` when not open).
    pub(crate) fn probe_at(&self) -> Option<Instant> {
        let inner = self.inner();
        (inner.state == BreakerState::Open).then_some(inner.probe_at)
    }

    /// Turns an open circuit whose backoff has passed half-open; returns whether the
    /// caller may send the probe now.
    pub(crate) fn try_probe(&self, org: &str, sink: &str) -> bool {
        let mut inner = self.inner();
        if inner.state != BreakerState::Open || Instant::now() < inner.probe_at {
            return false;
        }
        self.set(&mut inner, BreakerState::HalfOpen);
        tracing::debug!(org, sink, "SIEM circuit half-open: sending one probe batch");
        true
    }

    /// A half-open circuit whose probe ended without an answer either way (e.g. the
    /// probe's events were all rejected by the encoder): back to open, same backoff.
    pub(crate) fn probe_inconclusive(&self) {
        let mut inner = self.inner();
        if inner.state == BreakerState::HalfOpen {
            inner.probe_at = Instant::now() + inner.next_backoff;
            self.set(&mut inner, BreakerState::Open);
        }
    }

    pub(crate) fn stats(&self) -> BreakerStats {
        let inner = self.inner();
        BreakerStats {
            state: inner.state,
            since: inner.since,
            consecutive_failures: inner.consecutive_failures,
            opened: inner.opened,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use siem_core::ErrorDetail;

    fn refused() -> DeliveryError {
        DeliveryError::Retryable {
            detail: ErrorDetail::transport("connection refused"),
            retry_after: None,
        }
    }

    fn rejected() -> DeliveryError {
        DeliveryError::Permanent {
            detail: ErrorDetail::transport("400 bad event"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_probes_after_backoff_and_closes_on_success() {
        let policy = BreakerPolicy::default().failures(3);
        let b = Breaker::default();
        assert!(!b.record_failure(&policy, &refused(), "o", "s"));
        // A permanent rejection of one payload neither counts nor resets.
        assert!(!b.record_failure(&policy, &rejected(), "o", "s"));
        assert!(!b.record_failure(&policy, &refused(), "o", "s"));
        assert!(b.record_failure(&policy, &refused(), "o", "s"));
        assert!(b.is_open());
        assert_eq!(b.stats().state, BreakerState::Open);
        assert_eq!(b.stats().opened, 1);
        assert!(!b.try_probe("o", "s"), "no probe before the backoff");
        tokio::time::advance(policy.backoff).await;
        assert!(b.try_probe("o", "s"));
        assert_eq!(b.stats().state, BreakerState::HalfOpen);
        // A failed probe reopens with the backoff doubled.
        assert!(b.record_failure(&policy, &refused(), "o", "s"));
        tokio::time::advance(policy.backoff).await;
        assert!(!b.try_probe("o", "s"));
        tokio::time::advance(policy.backoff).await;
        assert!(b.try_probe("o", "s"));
        b.record_success("o", "s");
        assert!(!b.is_open());
        assert_eq!(b.stats().state, BreakerState::Closed);
        assert_eq!(b.stats().consecutive_failures, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_run_of_failures() {
        let policy = BreakerPolicy::default().failures(2);
        let b = Breaker::default();
        assert!(!b.record_failure(&policy, &refused(), "o", "s"));
        b.record_success("o", "s");
        assert!(!b.record_failure(&policy, &refused(), "o", "s"));
        assert!(b.record_failure(&policy, &refused(), "o", "s"));
    }

    #[tokio::test(start_paused = true)]
    async fn probe_backoff_is_capped() {
        let policy = BreakerPolicy::default()
            .failures(1)
            .backoff(Duration::from_secs(1))
            .max_backoff(Duration::from_secs(3));
        let b = Breaker::default();
        b.record_failure(&policy, &refused(), "o", "s");
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(3)).await;
            assert!(b.try_probe("o", "s"), "the wait never exceeds the cap");
            b.record_failure(&policy, &refused(), "o", "s");
        }
    }
}
