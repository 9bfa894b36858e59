//! Checks on one send's outcome that every sink's tests make the same way: the outcome
//! class for status tables, timeouts, capped error text and secrets kept out of text.

use std::sync::Arc;
use std::time::Duration;

use siem_core::{Ack, DeliveryError, SecurityEvent, SiemSink};

/// The class of a send's outcome, for status tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeClass {
    /// Accepted.
    Ok,
    /// [`DeliveryError::Retryable`], with its `retry_after`.
    Retryable(Option<Duration>),
    /// [`DeliveryError::Permanent`].
    Permanent,
    /// [`DeliveryError::CredentialsRejected`].
    Credentials,
    /// [`DeliveryError::PayloadTooLarge`].
    TooLarge,
}

/// The class of `result`. Panics on [`DeliveryError::Credentials`] (no request was made,
/// so it has no HTTP class).
pub fn outcome_class(result: &Result<Ack, DeliveryError>) -> OutcomeClass {
    match result {
        Ok(_) => OutcomeClass::Ok,
        Err(DeliveryError::Retryable { retry_after, .. }) => OutcomeClass::Retryable(*retry_after),
        Err(DeliveryError::Permanent { .. }) => OutcomeClass::Permanent,
        Err(DeliveryError::CredentialsRejected { .. }) => OutcomeClass::Credentials,
        Err(DeliveryError::PayloadTooLarge { .. }) => OutcomeClass::TooLarge,
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// Encodes `events` with `sink` and sends the first request once.
pub async fn send_first(
    sink: &dyn SiemSink,
    events: &[Arc<SecurityEvent>],
) -> Result<Ack, DeliveryError> {
    let encoded = sink.encode(events);
    sink.send(&encoded.requests[0]).await
}

/// Asserts that `result` is a retryable timeout without an HTTP status.
pub fn assert_timed_out(result: &Result<Ack, DeliveryError>) {
    match result {
        Err(e @ DeliveryError::Retryable { .. }) => {
            assert_eq!(e.status(), None);
            assert!(e.to_string().contains("timed out"), "{e}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// Asserts that `result` is an error whose message was cut to at most 512 characters
/// plus an ellipsis.
pub fn assert_message_cut_short(result: &Result<Ack, DeliveryError>) {
    let err = match result {
        Err(e) => e,
        Ok(ack) => panic!("expected an error, got {ack:?}"),
    };
    let Some(detail) = err.detail() else {
        panic!("no error detail in {err:?}");
    };
    let message = &detail.message;
    assert!(message.chars().count() <= 513, "{}", message.len());
    assert!(message.ends_with('…'));
}

/// Asserts that no text of `texts` contains `secret`.
pub fn assert_secret_absent<I, S>(secret: &str, texts: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    for text in texts {
        let text = text.as_ref();
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
}
