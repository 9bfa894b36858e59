//! Bounded-rate logging of a sink's failures and drops: the first of an episode at once,
//! the rest as periodic summaries.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use crate::deliver::BatchOutcome;
use crate::lane::Lane;
use crate::stats::{Counters, LastError};

/// Logs the first failure (and first drop) of an episode at once and the rest as periodic
/// summaries, so an outage costs a bounded number of lines per sink.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    interval: Duration,
    failing: bool,
    suppressed_batches: u64,
    suppressed_events: u64,
    last_error: Option<LastError>,
    last_logged_at: Option<Instant>,
    drops_logged: u64,
    drop_episode: bool,
}

impl LogLimiter {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            failing: false,
            suppressed_batches: 0,
            suppressed_events: 0,
            last_error: None,
            last_logged_at: None,
            drops_logged: 0,
            drop_episode: false,
        }
    }

    pub(crate) fn record(&mut self, lane: &Lane, outcome: &BatchOutcome) {
        if outcome.failed > 0 {
            let due = self
                .last_logged_at
                .is_none_or(|t| t.elapsed() >= self.interval);
            if !self.failing || due {
                let error = outcome.error.as_ref().map(ToString::to_string);
                tracing::warn!(
                    org = %lane.org,
                    sink = %lane.name,
                    events = outcome.failed,
                    error = error.as_deref().unwrap_or("unknown"),
                    "SIEM delivery failed; further failures of this sink are summarized every {:?}",
                    self.interval
                );
                self.failing = true;
                self.last_logged_at = Some(Instant::now());
            } else {
                self.suppressed_batches += 1;
                self.suppressed_events += outcome.failed as u64;
                self.last_error.clone_from(&outcome.error);
            }
        } else if outcome.delivered > 0 && self.failing {
            self.summarize(lane);
            tracing::info!(org = %lane.org, sink = %lane.name, "SIEM delivery recovered");
            self.failing = false;
            self.last_logged_at = None;
        }
    }

    fn summarize(&mut self, lane: &Lane) {
        if self.suppressed_batches > 0 {
            let error = self.last_error.as_ref().map(ToString::to_string);
            tracing::warn!(
                org = %lane.org,
                sink = %lane.name,
                batches = self.suppressed_batches,
                events = self.suppressed_events,
                last_error = error.as_deref().unwrap_or("unknown"),
                "SIEM delivery failures since the last report"
            );
            self.suppressed_batches = 0;
            self.suppressed_events = 0;
            self.last_logged_at = Some(Instant::now());
        }
    }

    /// Logs the first drop of an episode (flagged by `emit`) at once.
    pub(crate) fn first_drop(&mut self, lane: &Lane) {
        if self.drop_episode || !lane.drop_warned.load(Ordering::Acquire) {
            return;
        }
        self.drop_episode = true;
        let total = Counters::get(&lane.counters.dropped);
        tracing::warn!(
            org = %lane.org,
            sink = %lane.name,
            dropped = total - self.drops_logged,
            circuit_open = lane.breaker.is_open(),
            "SIEM buffer full: dropping new events for this sink; further drops are summarized every {:?}",
            self.interval
        );
        self.drops_logged = total;
    }

    fn summarize_drops(&mut self, lane: &Lane, rearm: bool) {
        let total = Counters::get(&lane.counters.dropped);
        if total > self.drops_logged {
            tracing::warn!(
                org = %lane.org,
                sink = %lane.name,
                dropped = total - self.drops_logged,
                dropped_total = total,
                "SIEM buffer full: events dropped since the last report"
            );
            self.drops_logged = total;
        } else if rearm && self.drop_episode {
            // A quiet interval ends the episode: the next drop is logged at once again.
            self.drop_episode = false;
            lane.drop_warned.store(false, Ordering::Release);
        }
    }

    pub(crate) fn tick(&mut self, lane: &Lane) {
        self.summarize(lane);
        self.summarize_drops(lane, true);
    }

    pub(crate) fn finish(&mut self, lane: &Lane) {
        self.first_drop(lane);
        self.summarize(lane);
        self.summarize_drops(lane, false);
    }
}
