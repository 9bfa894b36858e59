//! Batching and retry policies and their defaults. (Buffers: [`crate::buffer`]; the
//! circuit breaker: [`crate::breaker`]; the TOML overrides: [`crate::overrides`].)

use std::time::Duration;

use serde::{Deserialize, Serialize};

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};

/// Default largest batch, in events.
pub const DEFAULT_MAX_EVENTS: usize = 500;
/// Default largest batch, in estimated bytes (see [`SecurityEvent::estimated_size`]).
///
/// [`SecurityEvent::estimated_size`]: siem_core::SecurityEvent::estimated_size
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Default time a partial batch waits for more events before it is sent.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(500);
/// The longest linger accepted: events must reach the SIEM in near real time.
pub const MAX_LINGER: Duration = Duration::from_secs(60);

/// Default number of send attempts per request (the first one included).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 6;
/// Default first backoff (before jitter).
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Default cap on one backoff (before jitter).
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Default cap on the total time spent on one batch, from its first attempt.
pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(60);
/// Default cap on a platform's `Retry-After`.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Default bound on one `send`, enforced by the dispatcher whatever the sink does.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default number of requests one sink may have in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 2;
/// The largest per-sink concurrency accepted.
pub const MAX_CONCURRENCY: usize = 64;

/// When a sink's batch is sent: as soon as it holds `max_events` events or `max_bytes`
/// estimated bytes, or `linger` after its first event arrived.
///
/// A sink's own limits (e.g. Datadog's 1000 items per request) are applied afterwards by
/// its `encode`, which may split one batch into several requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BatchPolicy {
    /// Largest batch in events (at least 1).
    pub max_events: usize,
    /// Largest batch in estimated bytes (at least 1; one event is always allowed).
    pub max_bytes: usize,
    /// How long a partial batch waits for more events.
    pub linger: Duration,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self {
            max_events: DEFAULT_MAX_EVENTS,
            max_bytes: DEFAULT_MAX_BYTES,
            linger: DEFAULT_LINGER,
        }
    }
}

impl BatchPolicy {
    setters! {
        /// Sets the largest batch in events.
        max_events: usize;

        /// Sets the largest batch in estimated bytes.
        max_bytes: usize;

        /// Sets the linger time.
        linger: Duration;
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        require(self.max_events > 0, "max_events must be at least 1")?;
        require(self.max_bytes > 0, "max_bytes must be at least 1")?;
        if self.linger > MAX_LINGER {
            return Err(format!(
                "linger_ms must be at most {} ms",
                MAX_LINGER.as_millis()
            ));
        }
        Ok(())
    }
}

/// `Ok` when `holds`, else the `problem` (a rule a setting breaks), for `validate`.
pub(crate) fn require(holds: bool, problem: &str) -> Result<(), String> {
    if holds {
        Ok(())
    } else {
        Err(problem.to_owned())
    }
}

/// How backoff delays are randomized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// "Full jitter": a uniform delay in `[0, min(max_backoff, initial × 2ⁿ⁻¹)]`.
    #[default]
    Full,
    /// "Decorrelated jitter": uniform in `[initial, 3 × previous delay]`, capped.
    Decorrelated,
    /// No randomness: exactly `min(max_backoff, initial × 2ⁿ⁻¹)` (tests, debugging).
    None,
}

/// How a failed request is retried. The dispatcher applies it per request of a batch; a
/// batch's requests share its time budget (`max_elapsed`, from the batch's first attempt).
///
/// - Retryable errors ([`DeliveryError::is_retryable`]) are retried after an exponential
///   backoff with jitter; a `Retry-After` from the platform is waited out (capped at
///   `max_retry_after`) when longer than the backoff.
/// - `max_attempts` counts every send of a request, the first included: `1` means "attempt
///   once". A retry is not started when it would begin after `max_elapsed`.
/// - Each attempt is bounded by `attempt_timeout` (a timeout counts as retryable), so a
///   sink without its own timeout cannot wedge delivery.
/// - A [`DeliveryError::CredentialsRejected`] is retried once, at once, when
///   `refresh_credentials_once` is set (the sink has already invalidated the credential);
///   that retry is not counted against `max_attempts`.
///
/// [`DeliveryError::is_retryable`]: siem_core::DeliveryError::is_retryable
/// [`DeliveryError::CredentialsRejected`]: siem_core::DeliveryError::CredentialsRejected
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Sends per request, the first included (at least 1).
    pub max_attempts: u32,
    /// The first backoff before jitter.
    pub initial_backoff: Duration,
    /// The cap on one backoff before jitter.
    pub max_backoff: Duration,
    /// The total time budget of a batch, from its first attempt.
    pub max_elapsed: Duration,
    /// The cap on a platform's `Retry-After`.
    pub max_retry_after: Duration,
    /// The bound on one `send`.
    pub attempt_timeout: Duration,
    /// How delays are randomized.
    pub jitter: Jitter,
    /// Whether a rejected credential gets one immediate retry.
    pub refresh_credentials_once: bool,
}

impl Default for RetryPolicy {
    /// The same as [`RetryPolicy::recommended`]: SIEM delivery should survive blips.
    fn default() -> Self {
        Self::recommended()
    }
}

impl RetryPolicy {
    /// Six attempts, backoff from 200 ms doubling up to 10 s with full jitter, at most 60 s
    /// per batch, `Retry-After` honoured up to 30 s, 30 s per attempt, one credential retry.
    pub fn recommended() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_elapsed: DEFAULT_MAX_ELAPSED,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            jitter: Jitter::Full,
            refresh_credentials_once: true,
        }
    }

    /// Attempt once: no backoff retries and no credential retry.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            refresh_credentials_once: false,
            ..Self::recommended()
        }
    }

    setters! {
        /// Sets the number of attempts (the first included).
        max_attempts: u32;

        /// Sets the first backoff.
        initial_backoff: Duration;

        /// Sets the cap on one backoff.
        max_backoff: Duration;

        /// Sets the time budget of a batch.
        max_elapsed: Duration;

        /// Sets the cap on `Retry-After`.
        max_retry_after: Duration;

        /// Sets the bound on one attempt.
        attempt_timeout: Duration;

        /// Sets the jitter.
        jitter: Jitter;

        /// Sets whether a rejected credential gets one immediate retry.
        refresh_credentials_once: bool;
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        require(
            self.max_attempts > 0,
            "max_attempts must be at least 1 (1 = attempt once)",
        )?;
        require(
            self.initial_backoff <= self.max_backoff,
            "initial_backoff_ms must not exceed max_backoff_ms",
        )?;
        require(
            !self.attempt_timeout.is_zero(),
            "attempt_timeout_ms must be positive",
        )?;
        Ok(())
    }

    /// The backoff before retry number `retry` (1 for the first retry), given the previous
    /// delay (for decorrelated jitter) and a uniform random number in `[0, 1)`.
    pub fn backoff(&self, retry: u32, previous: Duration, unit: f64) -> Duration {
        let unit = unit.clamp(0.0, 1.0);
        let cap = self.max_backoff;
        let exp = self
            .initial_backoff
            .checked_mul(1u32 << retry.saturating_sub(1).min(30))
            .unwrap_or(cap)
            .min(cap);
        match self.jitter {
            Jitter::None => exp,
            Jitter::Full => exp.mul_f64(unit),
            Jitter::Decorrelated => {
                let low = self.initial_backoff;
                let high = previous.max(low).saturating_mul(3).min(cap).max(low);
                (low + (high - low).mul_f64(unit)).min(cap)
            }
        }
    }

    /// The wait before the next attempt: the backoff, or the platform's `Retry-After`
    /// (capped at `max_retry_after`) when that is longer.
    pub fn wait(&self, backoff: Duration, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(ra) => backoff.max(ra.min(self.max_retry_after)),
            None => backoff,
        }
    }
}

/// The jitter generator of one worker: a small, fast generator from `rand`, seeded from the
/// operating system, forked for each concurrently running batch.
#[derive(Debug, Clone)]
pub(crate) struct JitterRng(SmallRng);

impl JitterRng {
    pub(crate) fn from_entropy() -> Self {
        Self(SmallRng::from_os_rng())
    }

    #[cfg(test)]
    pub(crate) fn seeded(seed: u64) -> Self {
        Self(SmallRng::seed_from_u64(seed))
    }

    /// A uniform number in `[0, 1)`.
    pub(crate) fn next_unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// An independent generator (for a concurrently running batch).
    pub(crate) fn fork(&mut self) -> Self {
        Self(SmallRng::from_rng(&mut self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_within_the_exponential_cap() {
        let p = RetryPolicy::recommended();
        for retry in 1..10 {
            let cap = (p.initial_backoff * (1 << (retry - 1))).min(p.max_backoff);
            assert_eq!(p.backoff(retry, Duration::ZERO, 0.0), Duration::ZERO);
            assert!(p.backoff(retry, Duration::ZERO, 0.999_999) <= cap);
            assert!(p.backoff(retry, Duration::ZERO, 0.999_999) >= cap.mul_f64(0.99));
        }
        let none = p.jitter(Jitter::None);
        assert_eq!(none.backoff(1, Duration::ZERO, 0.5), p.initial_backoff);
        assert_eq!(none.backoff(3, Duration::ZERO, 0.5), p.initial_backoff * 4);
        assert_eq!(none.backoff(40, Duration::ZERO, 0.5), p.max_backoff);
    }

    #[test]
    fn decorrelated_jitter_is_bounded() {
        let p = RetryPolicy::recommended().jitter(Jitter::Decorrelated);
        let mut rng = JitterRng::seeded(7);
        let mut prev = Duration::ZERO;
        for retry in 1..50 {
            let d = p.backoff(retry, prev, rng.next_unit());
            assert!(d >= p.initial_backoff && d <= p.max_backoff, "{d:?}");
            assert!(d <= prev.max(p.initial_backoff) * 3);
            prev = d;
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::recommended();
        let s = Duration::from_secs;
        assert_eq!(p.wait(s(1), Some(s(5))), s(5));
        assert_eq!(p.wait(s(7), Some(s(5))), s(7));
        assert_eq!(p.wait(s(1), Some(s(3600))), p.max_retry_after);
        assert_eq!(p.wait(s(1), None), s(1));
    }

    #[test]
    fn unit_random_numbers_are_in_range() {
        let mut rng = JitterRng::from_entropy();
        for _ in 0..10_000 {
            let u = rng.next_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
