//! HEC answers to delivery outcomes. (The build and option errors are
//! [`siem_http::BuildError`] and [`siem_http::ConfigError`], the same for every adapter.)
//!
//! HEC answers with a JSON body `{"text":"…","code":N}` (plus `invalid-event-number` for
//! some format errors). Success is HTTP 200 with code 0; any other answer is an error
//! whose [`ErrorDetail`] keeps HEC's code and text. The HTTP status decides the class
//! ([`siem_http::classify_status`]): 401/403 credentials rejected (HEC codes 1–4),
//! 413 payload too large, 408/429/5xx retryable (503 is HEC's "server is busy", code 9),
//! any other status permanent (400: no data, invalid format, incorrect index, …).

use serde::Deserialize;
use siem_core::{Ack, DeliveryError, ErrorDetail};
use siem_http::{classify_status, HttpResponse};
pub use siem_http::{BuildError, ConfigError};

/// HEC's reply body.
#[derive(Debug, Deserialize)]
struct HecReply {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default, rename = "invalid-event-number")]
    invalid_event_number: Option<i64>,
}

/// The HEC success code.
pub const HEC_SUCCESS: i64 = 0;

/// Maps a HEC answer to an [`Ack`] or a classified [`DeliveryError`] that keeps HEC's
/// code and text.
pub fn check_response(response: &HttpResponse) -> Result<Ack, DeliveryError> {
    let reply: Option<HecReply> = serde_json::from_slice(&response.body).ok();
    let code = reply.as_ref().and_then(|r| r.code);
    let message = match &reply {
        Some(HecReply {
            text: Some(text),
            invalid_event_number,
            ..
        }) => match invalid_event_number {
            Some(n) => format!("{text} (invalid-event-number {n})"),
            None => text.clone(),
        },
        _ => response.body_text(),
    };
    let code_text = code.map(|c| c.to_string());
    match response.status {
        200 if code == Some(HEC_SUCCESS) => Ok(Ack { status: 200 }),
        200..=299 => Err(DeliveryError::Permanent {
            detail: ErrorDetail::http(
                response.status,
                code_text,
                format!(
                    "not a HEC success answer (expected HTTP 200 with code 0; is the endpoint \
                     a Splunk HEC?): {message}"
                ),
            ),
        }),
        status => classify_status(status, response.retry_after, code_text, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use siem_http::testing::http_response as response;

    #[test]
    fn success_needs_200_and_code_0() {
        assert!(check_response(&response(200, r#"{"text":"Success","code":0}"#)).is_ok());
        for (status, body) in [
            (200, ""),
            (200, "<html>ok</html>"),
            (200, r#"{"text":"HEC is healthy","code":17}"#),
            (204, ""),
        ] {
            assert!(
                matches!(
                    check_response(&response(status, body)),
                    Err(DeliveryError::Permanent { .. })
                ),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn hec_code_and_text_are_kept() {
        let e = check_response(&response(
            400,
            r#"{"text":"Invalid data format","code":6,"invalid-event-number":2}"#,
        ))
        .unwrap_err();
        let detail = e.detail().unwrap();
        assert_eq!(detail.status, Some(400));
        assert_eq!(detail.code.as_deref(), Some("6"));
        assert_eq!(
            detail.message,
            "Invalid data format (invalid-event-number 2)"
        );
        let mut busy = response(503, r#"{"text":"Server is busy","code":9}"#);
        busy.retry_after = Some(Duration::from_secs(3));
        let e = check_response(&busy).unwrap_err();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(e.detail().unwrap().code.as_deref(), Some("9"));
    }
}
