//! Datadog answers to delivery outcomes. (The build and option errors are
//! [`siem_http::BuildError`] and [`siem_http::ConfigError`], the same for every adapter.)
//!
//! Success is HTTP 202 (Accepted). Errors carry `{"errors":[…]}`, whose entries are either
//! strings (`{"errors":["Forbidden"]}`) or objects with `status`, `title`, `detail` and
//! sometimes `code`; their text is kept in the [`ErrorDetail`] message and a `code`, when
//! present, in its code. The HTTP status decides the class
//! ([`siem_http::classify_status`]): 401/403 credentials rejected, 413 payload too large,
//! 408/429/5xx retryable, any other status permanent.

use serde::Deserialize;
use serde_json::Value;
use siem_core::{Ack, DeliveryError, ErrorDetail};
use siem_http::{classify_status, HttpResponse};
pub use siem_http::{BuildError, ConfigError};

/// The status Datadog answers on success.
pub const ACCEPTED: u16 = 202;

#[derive(Debug, Deserialize)]
struct ErrorsReply {
    errors: Vec<Value>,
}

/// The `errors` of a Datadog reply as (code, message), if the body has that shape.
fn parse_errors(body: &[u8]) -> Option<(Option<String>, String)> {
    let reply: ErrorsReply = serde_json::from_slice(body).ok()?;
    let mut code = None;
    let mut parts = Vec::with_capacity(reply.errors.len());
    for error in &reply.errors {
        match error {
            Value::String(s) => parts.push(s.clone()),
            Value::Object(map) => {
                let text = |key: &str| match map.get(key) {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
                if code.is_none() {
                    code = text("code");
                }
                let joined: Vec<String> =
                    ["title", "detail"].iter().filter_map(|k| text(k)).collect();
                parts.push(if joined.is_empty() {
                    error.to_string()
                } else {
                    joined.join(": ")
                });
            }
            other => parts.push(other.to_string()),
        }
    }
    Some((code, parts.join("; ")))
}

/// Maps a Datadog answer to an [`Ack`] or a classified [`DeliveryError`] that keeps
/// Datadog's error text.
pub fn check_response(response: &HttpResponse) -> Result<Ack, DeliveryError> {
    let (code, message) =
        parse_errors(&response.body).unwrap_or_else(|| (None, response.body_text()));
    match response.status {
        ACCEPTED => Ok(Ack { status: ACCEPTED }),
        status @ 200..=299 => Err(DeliveryError::Permanent {
            detail: ErrorDetail::http(
                status,
                code,
                format!(
                    "not a Datadog intake answer (expected HTTP 202; is the endpoint a \
                     Datadog logs intake?): {message}"
                ),
            ),
        }),
        status => classify_status(status, response.retry_after, code, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use siem_http::testing::http_response as response;

    #[test]
    fn success_is_202_only() {
        assert!(check_response(&response(202, "{}")).is_ok());
        assert!(matches!(
            check_response(&response(200, "<html>")),
            Err(DeliveryError::Permanent { .. })
        ));
    }

    #[test]
    fn error_shapes_are_kept() {
        let e = check_response(&response(403, r#"{"errors":["Forbidden"]}"#)).unwrap_err();
        assert!(matches!(e, DeliveryError::CredentialsRejected { .. }));
        assert_eq!(e.detail().unwrap().message, "Forbidden");
        let e = check_response(&response(
            400,
            r#"{"errors":[{"status":"400","title":"Bad Request","detail":"Malformed payload","code":"E_PAYLOAD"}]}"#,
        ))
        .unwrap_err();
        let d = e.detail().unwrap();
        assert_eq!(d.message, "Bad Request: Malformed payload");
        assert_eq!(d.code.as_deref(), Some("E_PAYLOAD"));
        let e = check_response(&response(502, "upstream down")).unwrap_err();
        assert_eq!(e.detail().unwrap().message, "upstream down");
    }
}
