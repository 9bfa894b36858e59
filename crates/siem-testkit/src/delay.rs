//! Arrival delays: how long after its own `timestamp` each accepted event reached the
//! emulator, in a fixed-size log-linear histogram (for latency benchmarks).
//!
//! When a sender stamps events with the time it emitted them, the arrival delay is the
//! emit → arrival latency of the whole pipeline (queueing, batching, encoding, TLS,
//! transfer). Both clocks are the same machine's wall clock, so the figure is only
//! meaningful when sender and emulator run on one host.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use siem_core::Timestamp;

/// Exact buckets below this many microseconds; above, 64 buckets per power of two
/// (relative error under 1.6 %).
const LINEAR: u64 = 128;
const HALF: u64 = LINEAR / 2;
/// Enough for delays up to 2^47 µs (4.4 years); longer ones count in the last bucket.
const BUCKETS: usize = LINEAR as usize + 40 * HALF as usize;

fn bucket_of(micros: u64) -> usize {
    if micros < LINEAR {
        return micros as usize;
    }
    let msb = 63 - u64::from(micros.leading_zeros());
    let shift = msb - 6; // micros >> shift is in [64, 128)
    let index = LINEAR + (shift - 1) * HALF + ((micros >> shift) - HALF);
    (index as usize).min(BUCKETS - 1)
}

/// The smallest delay (µs) that falls in bucket `index`.
fn lower_bound(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let shift = (index - LINEAR) / HALF + 1;
    let mantissa = (index - LINEAR) % HALF + HALF;
    mantissa << shift
}

/// The live histogram of one emulated service.
pub(crate) struct DelayHistogram {
    buckets: Box<[AtomicU64]>,
    /// Events whose timestamp was later than their arrival (clock skew or forged times).
    early: AtomicU64,
    max_micros: AtomicU64,
}

impl DelayHistogram {
    pub(crate) fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
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
        if let Some(bucket) = self.buckets.get(bucket_of(micros)) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ArrivalDelays {
        ArrivalDelays {
            counts: self
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrivalDelays {
    counts: Vec<u64>,
    early: u64,
    max: Duration,
}

impl ArrivalDelays {
    /// Events recorded with a delay of zero or more.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
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
    /// 1.6 % (the lower bound of its bucket); `None` when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(lower_bound(index)));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounds_round_trip() {
        let mut last = 0;
        for micros in (0..5000).chain([65_535, 1 << 20, 123_456_789, u64::from(u32::MAX)]) {
            let b = bucket_of(micros);
            assert!(b >= last, "bucket of {micros} went backwards");
            last = b;
            let low = lower_bound(b);
            assert!(low <= micros, "{micros}: lower bound {low}");
            assert!(
                micros - low <= micros / 64,
                "{micros}: bucket too wide ({low})"
            );
            assert_eq!(bucket_of(low), b);
        }
    }

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
