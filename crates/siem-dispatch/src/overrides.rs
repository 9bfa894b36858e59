//! Per-sink delivery settings as written in a configuration file (TOML or JSON).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::breaker::BreakerPolicy;
use crate::buffer::{BufferKind, BufferPolicy, WhenFull};
use crate::config::{ConfigError, SinkConfig};
use crate::policy::Jitter;

/// A sink's `buffer = { … }` table. Absent keys keep the defaults of the buffer's type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BufferOverrides {
    /// `memory` (default) or `disk`.
    #[serde(rename = "type")]
    pub kind: Option<BufferKind>,
    /// [`BufferPolicy::max_events`].
    pub max_events: Option<usize>,
    /// [`BufferPolicy::max_bytes`].
    pub max_bytes: Option<usize>,
    /// `block` (default) or `drop_newest`.
    pub when_full: Option<WhenFull>,
}

impl BufferOverrides {
    /// The keys of the table.
    pub const FIELDS: &'static [&'static str] = &["type", "max_events", "max_bytes", "when_full"];

    /// The policy these overrides describe.
    pub fn policy(&self) -> BufferPolicy {
        let mut p = match self.kind.unwrap_or_default() {
            BufferKind::Memory => BufferPolicy::memory(),
            BufferKind::Disk => BufferPolicy::disk(),
        };
        set(&mut p.max_events, self.max_events);
        set(&mut p.max_bytes, self.max_bytes);
        set(&mut p.when_full, self.when_full);
        p
    }
}

/// Per-sink overrides of the delivery defaults, as written in a configuration file.
///
/// Every field is optional; absent fields keep the defaults. The struct does not deny
/// unknown fields so that it can be `#[serde(flatten)]`ed into a sink table; a caller that
/// wants strictness can check keys against [`DeliveryOverrides::FIELDS`].
///
/// ```
/// use siem_dispatch::{BufferKind, DeliveryOverrides};
/// let o: DeliveryOverrides = toml::from_str(
///     "max_events = 100\nlinger_ms = 250\nmax_attempts = 1\nbuffer = { type = \"disk\", max_bytes = 1048576 }",
/// )?;
/// let sink_cfg = o.apply(siem_dispatch::SinkConfig::new(std::sync::Arc::new(
///     siem_core::testing::MemorySink::new("m"))))?;
/// assert_eq!(sink_cfg.batch.max_events, 100);
/// assert_eq!(sink_cfg.retry.max_attempts, 1);
/// assert_eq!(sink_cfg.buffer.kind, BufferKind::Disk);
/// assert_eq!(sink_cfg.buffer.max_bytes, 1 << 20);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct DeliveryOverrides {
    /// [`BatchPolicy::max_events`](crate::BatchPolicy::max_events).
    pub max_events: Option<usize>,
    /// [`BatchPolicy::max_bytes`](crate::BatchPolicy::max_bytes).
    pub max_bytes: Option<usize>,
    /// [`BatchPolicy::linger`](crate::BatchPolicy::linger), in milliseconds.
    pub linger_ms: Option<u64>,
    /// [`RetryPolicy::max_attempts`](crate::RetryPolicy::max_attempts).
    pub max_attempts: Option<u32>,
    /// [`RetryPolicy::initial_backoff`](crate::RetryPolicy::initial_backoff), in milliseconds.
    pub initial_backoff_ms: Option<u64>,
    /// [`RetryPolicy::max_backoff`](crate::RetryPolicy::max_backoff), in milliseconds.
    pub max_backoff_ms: Option<u64>,
    /// [`RetryPolicy::max_elapsed`](crate::RetryPolicy::max_elapsed), in milliseconds.
    pub max_elapsed_ms: Option<u64>,
    /// [`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after), in milliseconds.
    pub max_retry_after_ms: Option<u64>,
    /// [`RetryPolicy::attempt_timeout`](crate::RetryPolicy::attempt_timeout), in milliseconds.
    pub attempt_timeout_ms: Option<u64>,
    /// [`RetryPolicy::jitter`](crate::RetryPolicy::jitter): `full`, `decorrelated` or `none`.
    pub jitter: Option<Jitter>,
    /// [`SinkConfig::concurrency`].
    pub concurrency: Option<usize>,
    /// [`BreakerPolicy::failures`].
    pub breaker_failures: Option<u32>,
    /// [`BreakerPolicy::backoff`], in milliseconds.
    pub breaker_backoff_ms: Option<u64>,
    /// [`BreakerPolicy::max_backoff`], in milliseconds.
    pub breaker_max_backoff_ms: Option<u64>,
    /// The sink's buffer.
    pub buffer: Option<BufferOverrides>,
    /// [`SinkConfig::dead_letter`].
    pub dead_letter: Option<PathBuf>,
}

impl DeliveryOverrides {
    /// The field names this struct reads.
    pub const FIELDS: &'static [&'static str] = &[
        "max_events",
        "max_bytes",
        "linger_ms",
        "max_attempts",
        "initial_backoff_ms",
        "max_backoff_ms",
        "max_elapsed_ms",
        "max_retry_after_ms",
        "attempt_timeout_ms",
        "jitter",
        "concurrency",
        "breaker_failures",
        "breaker_backoff_ms",
        "breaker_max_backoff_ms",
        "buffer",
        "dead_letter",
    ];

    /// Applies the overrides to a sink's configuration and validates the result; the error
    /// names the sink and the field.
    pub fn apply(&self, mut sink: SinkConfig) -> Result<SinkConfig, ConfigError> {
        let ms = Duration::from_millis;
        let b = &mut sink.batch;
        set(&mut b.max_events, self.max_events);
        set(&mut b.max_bytes, self.max_bytes);
        set(&mut b.linger, self.linger_ms.map(ms));
        let r = &mut sink.retry;
        set(&mut r.max_attempts, self.max_attempts);
        set(&mut r.initial_backoff, self.initial_backoff_ms.map(ms));
        set(&mut r.max_backoff, self.max_backoff_ms.map(ms));
        set(&mut r.max_elapsed, self.max_elapsed_ms.map(ms));
        set(&mut r.max_retry_after, self.max_retry_after_ms.map(ms));
        set(&mut r.attempt_timeout, self.attempt_timeout_ms.map(ms));
        set(&mut r.jitter, self.jitter);
        set(&mut sink.concurrency, self.concurrency);
        let k: &mut BreakerPolicy = &mut sink.breaker;
        set(&mut k.failures, self.breaker_failures);
        set(&mut k.backoff, self.breaker_backoff_ms.map(ms));
        set(&mut k.max_backoff, self.breaker_max_backoff_ms.map(ms));
        if let Some(buffer) = &self.buffer {
            sink.buffer = buffer.policy();
        }
        if let Some(path) = &self.dead_letter {
            sink.dead_letter = Some(path.clone());
        }
        sink.validate(None)?;
        Ok(sink)
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink() -> SinkConfig {
        SinkConfig::new(std::sync::Arc::new(siem_core::testing::MemorySink::new(
            "m",
        )))
    }

    #[test]
    fn overrides_reject_bad_values_naming_the_field() {
        let o = DeliveryOverrides {
            max_attempts: Some(0),
            ..DeliveryOverrides::default()
        };
        let err = o.apply(sink()).unwrap_err().to_string();
        assert!(err.contains("max_attempts"), "{err}");
        assert!(err.contains("sink `m`"), "{err}");
        let o = DeliveryOverrides {
            breaker_failures: Some(0),
            ..DeliveryOverrides::default()
        };
        let err = o.apply(sink()).unwrap_err().to_string();
        assert!(err.contains("breaker_failures"), "{err}");
    }

    #[test]
    fn a_disk_buffer_without_sizes_takes_the_disk_defaults() {
        let o: DeliveryOverrides =
            toml::from_str("buffer = { type = \"disk\", when_full = \"drop_newest\" }").unwrap();
        let applied = o.apply(sink()).unwrap();
        assert_eq!(
            applied.buffer,
            BufferPolicy::disk().when_full(WhenFull::DropNewest)
        );
        let err =
            toml::from_str::<DeliveryOverrides>("buffer = { type = \"disk\", max_evnts = 1 }")
                .unwrap_err()
                .to_string();
        assert!(err.contains("max_evnts"), "{err}");
    }
}
