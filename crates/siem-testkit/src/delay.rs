//! Arrival delays: how long after its own `timestamp` each accepted event reached the
//! emulator, in an HDR histogram (`hdrhistogram`, for latency benchmarks).
//!
//! When a sender stamps events with the time it emitted them, the arrival delay is the
//! emit → arrival latency of the whole pipeline (queueing, batching, encoding, TLS,
//! transfer). Both clocks are the same machine's wall clock, so the figure is only
//! meaningful when sender and emulator run on one host.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use siem_core::Timestamp;

/// Significant figures kept: 3 (relative error under 0.1 %).
const SIGNIFICANT_FIGURES: u8 = 3;

fn empty() -> Histogram<u64> {
    // Auto-resizing, so every delay fits; 3 figures is within the allowed range.
    Histogram::new(SIGNIFICANT_FIGURES).unwrap_or_else(|_| unreachable!("3 figures are valid"))
}

/// The live histogram of one emulated service.
pub(crate) struct DelayHistogram {
    delays: Mutex<Histogram<u64>>,
    /// Events whose timestamp was later than their arrival (clock skew or forged times).
    early: AtomicU64,
    /// The exact largest delay (the histogram keeps it to its precision only).
    max_micros: AtomicU64,
}

impl DelayHistogram {
    pub(crate) fn new() -> Self {
        Self {
            delays: Mutex::new(empty()),
            early: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
        }
    }

    /// The wall-clock time now, in nanoseconds since the Unix epoch.
    pub(crate) fn now_nanos() -> i128 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128)
    }

    /// Records one event stamped `timestamp` that arrived at `arrival_nanos`.
    pub(crate) fn record(&self, timestamp: &Timestamp, arrival_nanos: i128) {
        let stamped = timestamp.as_offset_date_time().unix_timestamp_nanos();
        let delay = arrival_nanos - stamped;
        if delay < 0 {
            self.early.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let micros = u64::try_from(delay / 1000).unwrap_or(u64::MAX);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
        let mut delays = self.delays.lock().unwrap_or_else(|e| e.into_inner());
        // The histogram grows to fit; past what it can ever hold, the value is clamped.
        if delays.record(micros).is_err() {
            delays.saturating_record(micros);
        }
    }

    pub(crate) fn snapshot(&self) -> ArrivalDelays {
        ArrivalDelays {
            delays: self
                .delays
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            early: self.early.load(Ordering::Relaxed),
            max: Duration::from_micros(self.max_micros.load(Ordering::Relaxed)),
        }
    }
}

/// A snapshot of an emulator's arrival delays (see
/// [`SplunkEmulator::track_arrival_delays`](crate::SplunkEmulator::track_arrival_delays)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), siem_testkit::EmulatorError> {
/// let splunk = siem_testkit::SplunkEmulator::start(Default::default()).await?;
/// splunk.track_arrival_delays(true);
/// let delays = splunk.arrival_delays();
/// assert_eq!(delays.count(), 0);
/// assert_eq!(delays.quantile(0.99), None);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ArrivalDelays {
    delays: Histogram<u64>,
    early: u64,
    max: Duration,
}

impl ArrivalDelays {
    /// Events recorded with a delay of zero or more.
    pub fn count(&self) -> u64 {
        self.delays.len()
    }

    /// Events whose timestamp was after their arrival (not in the quantiles).
    pub fn early(&self) -> u64 {
        self.early
    }

    /// The largest delay recorded.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay below which a fraction `q` (0.0–1.0) of the events arrived, to within
    /// 0.1 % (the lower bound of its bucket); `None` when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.delays.is_empty() {
            return None;
        }
        let value = self.delays.value_at_quantile(q.clamp(0.0, 1.0));
        Some(Duration::from_micros(self.delays.lowest_equivalent(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_known_delays() {
        let h = DelayHistogram::new();
        let t = Timestamp::from_unix_millis(1_780_949_730_000).unwrap();
        let stamped = t.as_offset_date_time().unix_timestamp_nanos();
        for ms in 1..=100 {
            h.record(&t, stamped + ms * 1_000_000);
        }
        h.record(&t, stamped - 5);
        let s = h.snapshot();
        assert_eq!(s.count(), 100);
        assert_eq!(s.early(), 1);
        assert_eq!(s.max(), Duration::from_millis(100));
        let p50 = s.quantile(0.5).unwrap().as_micros();
        assert!((49_300..=50_000).contains(&p50), "p50 {p50}");
        let p99 = s.quantile(0.99).unwrap().as_micros();
        assert!((97_500..=99_000).contains(&p99), "p99 {p99}");
    }
}
