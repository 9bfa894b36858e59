//! Configuration pieces every adapter shares.

use std::time::Duration;

use serde::Deserialize;

use crate::HttpOptions;

/// The longest timeout a configuration may set.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// The `timeouts` table of a sink's configuration, in milliseconds:
/// `timeouts = { connect_ms = 5000, request_ms = 30000 }`. Missing values keep the
/// defaults ([`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT),
/// [`DEFAULT_REQUEST_TIMEOUT`](crate::DEFAULT_REQUEST_TIMEOUT)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TimeoutsConfig {
    /// Time allowed to open the connection (TCP + TLS).
    #[serde(default)]
    pub connect_ms: Option<u64>,
    /// Time allowed for the whole request, response included.
    #[serde(default)]
    pub request_ms: Option<u64>,
}

/// A timeout outside `1 ms ..= 600 s`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timeouts.{field} = {value} is out of range; use 1 to 600000 milliseconds")]
pub struct InvalidTimeout {
    /// `connect_ms` or `request_ms`.
    pub field: &'static str,
    /// The value given.
    pub value: u64,
}

impl TimeoutsConfig {
    /// Timeouts from milliseconds.
    pub fn new(connect_ms: Option<u64>, request_ms: Option<u64>) -> Self {
        Self {
            connect_ms,
            request_ms,
        }
    }

    /// Checks the values and applies them to `options`.
    pub fn apply(&self, mut options: HttpOptions) -> Result<HttpOptions, InvalidTimeout> {
        if let Some(ms) = self.connect_ms {
            options = options.connect_timeout(check("connect_ms", ms)?);
        }
        if let Some(ms) = self.request_ms {
            options = options.request_timeout(check("request_ms", ms)?);
        }
        Ok(options)
    }
}

fn check(field: &'static str, value: u64) -> Result<Duration, InvalidTimeout> {
    let d = Duration::from_millis(value);
    if value == 0 || d > MAX_TIMEOUT {
        Err(InvalidTimeout { field, value })
    } else {
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_valid_and_names_invalid_values() {
        let o = TimeoutsConfig::new(Some(250), None)
            .apply(HttpOptions::new("t"))
            .unwrap();
        assert_eq!(o.connect_timeout, Duration::from_millis(250));
        assert_eq!(o.request_timeout, crate::DEFAULT_REQUEST_TIMEOUT);
        let e = TimeoutsConfig::new(None, Some(0))
            .apply(HttpOptions::new("t"))
            .unwrap_err();
        assert_eq!(e.field, "request_ms");
        assert!(TimeoutsConfig::new(Some(600_001), None)
            .apply(HttpOptions::new("t"))
            .is_err());
    }
}
