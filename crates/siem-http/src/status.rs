//! Mapping HTTP answers to delivery error classes.

use std::time::{Duration, SystemTime};

use siem_core::{Ack, DeliveryError, ErrorDetail};

/// Classifies an HTTP status the same way for every platform:
///
/// | status | class |
/// | --- | --- |
/// | 2xx | success |
/// | 401, 403 | [`DeliveryError::CredentialsRejected`] |
/// | 413 | [`DeliveryError::PayloadTooLarge`] |
/// | 408, 429, 5xx | [`DeliveryError::Retryable`] (with `retry_after`) |
/// | 3xx and other 4xx | [`DeliveryError::Permanent`] (redirects are never followed) |
///
/// `code` and `message` are the platform's own error code and text, kept for the caller.
pub fn classify_status(
    status: u16,
    retry_after: Option<Duration>,
    code: Option<String>,
    message: String,
) -> Result<Ack, DeliveryError> {
    let detail = ErrorDetail::http(status, code, message);
    match status {
        200..=299 => Ok(Ack { status }),
        401 | 403 => Err(DeliveryError::CredentialsRejected { detail }),
        413 => Err(DeliveryError::PayloadTooLarge { detail }),
        408 | 429 | 500..=599 => Err(DeliveryError::Retryable {
            detail,
            retry_after,
        }),
        _ => Err(DeliveryError::Permanent { detail }),
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (relative to `now`).
/// Returns `None` for anything else; a date in the past is a zero wait.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16) -> &'static str {
        match classify_status(status, None, None, String::new()) {
            Ok(_) => "ok",
            Err(DeliveryError::Retryable { .. }) => "retry",
            Err(DeliveryError::Permanent { .. }) => "permanent",
            Err(DeliveryError::CredentialsRejected { .. }) => "credentials",
            Err(DeliveryError::PayloadTooLarge { .. }) => "too-large",
            Err(DeliveryError::Credentials(_)) => "provider",
        }
    }

    #[test]
    fn status_classes() {
        let table = [
            (200, "ok"),
            (202, "ok"),
            (204, "ok"),
            (301, "permanent"),
            (400, "permanent"),
            (401, "credentials"),
            (403, "credentials"),
            (404, "permanent"),
            (408, "retry"),
            (413, "too-large"),
            (429, "retry"),
            (500, "retry"),
            (503, "retry"),
        ];
        for (status, expected) in table {
            assert_eq!(class(status), expected, "{status}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(120));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
