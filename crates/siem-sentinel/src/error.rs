//! Logs Ingestion API answers to [`DeliveryError`] classes. (The build and option errors
//! are [`siem_http::BuildError`] and [`siem_http::ConfigError`], the same for every
//! adapter.)
//!
//! | answer | class |
//! | --- | --- |
//! | 204 (and any other 2xx) | success |
//! | 401, 403 | [`DeliveryError::CredentialsRejected`] (the sink invalidates the token) |
//! | 413 | [`DeliveryError::PayloadTooLarge`] |
//! | 408, 429, 5xx | [`DeliveryError::Retryable`], with `Retry-After` (429 and 503 carry it) |
//! | 3xx, other 4xx | [`DeliveryError::Permanent`] (redirects are never followed) |
//!
//! Azure error bodies, `{"error":{"code":"InvalidStream","message":"…"}}`, keep their
//! `code` and `message` in the [`ErrorDetail`](siem_core::ErrorDetail); other bodies are
//! kept as (shortened) text.

use serde::Deserialize;
use siem_core::{Ack, DeliveryError};
use siem_http::HttpResponse;
pub use siem_http::{BuildError, ConfigError};

/// How much of a platform message is kept.
const MAX_MESSAGE_CHARS: usize = 512;

#[derive(Deserialize)]
struct AzureErrorBody {
    error: AzureError,
}

#[derive(Deserialize)]
struct AzureError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    let mut out: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    if text.chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

/// The `code` and `message` of an Azure error body, or `None` when the body is not one.
pub fn parse_error_body(body: &[u8]) -> Option<(Option<String>, String)> {
    let parsed: AzureErrorBody = serde_json::from_slice(body).ok()?;
    let code = parsed
        .error
        .code
        .filter(|c| !c.is_empty())
        .map(|c| shorten(&c));
    let message = shorten(parsed.error.message.as_deref().unwrap_or_default());
    Some((code, message))
}

/// Classifies a Logs Ingestion API answer. Any 2xx is success: the API documents 204, and
/// a proxy or a future API version answering 200/202 has still accepted the data.
pub fn check_response(response: &HttpResponse) -> Result<Ack, DeliveryError> {
    if (200..300).contains(&response.status) {
        return Ok(Ack {
            status: response.status,
        });
    }
    let (code, message) =
        parse_error_body(&response.body).unwrap_or_else(|| (None, response.body_text()));
    siem_http::classify_status(response.status, response.retry_after, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn response(status: u16, body: &str, retry_after: Option<u64>) -> HttpResponse {
        HttpResponse {
            retry_after: retry_after.map(Duration::from_secs),
            ..siem_http::testing::http_response(status, body)
        }
    }

    #[test]
    fn azure_error_body_keeps_code_and_message() {
        let r = response(
            400,
            r#"{"error":{"code":"InvalidStream","message":"Stream Custom-X is not declared"}}"#,
            None,
        );
        let e = check_response(&r).unwrap_err();
        let d = e.detail().unwrap();
        assert!(matches!(e, DeliveryError::Permanent { .. }));
        assert_eq!(d.status, Some(400));
        assert_eq!(d.code.as_deref(), Some("InvalidStream"));
        assert_eq!(d.message, "Stream Custom-X is not declared");
    }

    #[test]
    fn other_bodies_are_kept_as_text() {
        let e = check_response(&response(502, " <html>bad gateway</html> ", None)).unwrap_err();
        assert_eq!(e.detail().unwrap().code, None);
        assert_eq!(e.detail().unwrap().message, "<html>bad gateway</html>");
        let e = check_response(&response(400, r#"{"error":"flat"}"#, None)).unwrap_err();
        assert_eq!(e.detail().unwrap().message, r#"{"error":"flat"}"#);
    }

    #[test]
    fn long_messages_are_shortened() {
        let long = "x".repeat(5000);
        let body = format!(r#"{{"error":{{"code":"C","message":"{long}"}}}}"#);
        let e = check_response(&response(400, &body, None)).unwrap_err();
        assert_eq!(
            e.detail().unwrap().message.chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn every_2xx_is_success() {
        for status in [200, 202, 204] {
            assert_eq!(
                check_response(&response(status, "", None)).unwrap().status,
                status
            );
        }
    }

    #[test]
    fn retry_after_is_carried() {
        let e = check_response(&response(429, "", Some(7))).unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.is_retryable());
    }
}
