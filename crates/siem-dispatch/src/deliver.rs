//! Delivering one batch: encode, send each request with retry, split on "too large",
//! one retry after a rejected credential, stop at once when the circuit opens (the rest
//! of the batch goes back to the buffer), and account every event exactly once.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use siem_core::{DeliveryError, Encoded, EncodedRequest, ErrorDetail, SecurityEvent, SiemSink};
use tokio::time::Instant;

use crate::breaker::counts_against_health;
use crate::buffer::BufferKind;
use crate::dead_letter::DeadLetterReason;
use crate::lane::{AbortSignal, Lane, Settings};
use crate::policy::JitterRng;
use crate::stats::{Counters, LastError};

/// What happened to a batch.
#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    pub(crate) delivered: usize,
    pub(crate) failed: usize,
    pub(crate) error: Option<LastError>,
    /// Events not sent because the circuit opened (or, for a disk buffer, the shutdown
    /// deadline passed): they go back to the buffer.
    pub(crate) returned: Vec<Arc<SecurityEvent>>,
    /// The disk record the batch came from.
    pub(crate) record: Option<u64>,
    /// Whether the batch was a half-open circuit's probe.
    pub(crate) probe: bool,
}

/// How a batch may use the circuit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Normal delivery: stops when the circuit opens.
    Normal,
    /// The probe of a half-open circuit: sends even though the circuit is not closed, one
    /// attempt per request until an answer closes it.
    Probe,
}

enum SendResult {
    Sent,
    TooLarge(DeliveryError),
    Failed(DeliveryError),
    /// Not sent: the circuit is open.
    Held,
    Aborted,
}

/// One send, bounded by the attempt timeout, with a panicking sink turned into an error.
pub(crate) async fn send_once(
    sink: &dyn SiemSink,
    request: &EncodedRequest,
    timeout: Duration,
) -> Result<u16, DeliveryError> {
    let attempt = AssertUnwindSafe(sink.send(request)).catch_unwind();
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(Ok(ack))) => Ok(ack.status),
        Ok(Ok(Err(e))) => Err(e),
        Ok(Err(_panic)) => Err(DeliveryError::Permanent {
            detail: ErrorDetail::transport("the sink panicked in send"),
        }),
        Err(_elapsed) => Err(DeliveryError::Retryable {
            detail: ErrorDetail::transport(format!(
                "no answer within {} ms (dispatcher attempt timeout)",
                timeout.as_millis()
            )),
            retry_after: None,
        }),
    }
}

/// The one place a panicking encoder is caught: `encode` (by reference) or
/// `encode_owned` (the batch handed over), a panic turned into an error.
pub(crate) fn encode_guarded(
    sink: &dyn SiemSink,
    events: EncodeInput<'_>,
) -> Result<Encoded, LastError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| match events {
        EncodeInput::Borrowed(events) => sink.encode(events),
        EncodeInput::Owned(events) => sink.encode_owned(events),
    }))
    .map_err(|_| LastError::local("panic", "the sink panicked in encode".to_owned()))
}

/// The events to encode.
pub(crate) enum EncodeInput<'a> {
    Borrowed(&'a [Arc<SecurityEvent>]),
    Owned(Vec<Arc<SecurityEvent>>),
}

/// Delivers `events`, accounting each on `lane`'s counters as delivered or failed, or
/// handing it back (`returned`) when the circuit opens.
pub(crate) async fn deliver_batch(
    lane: Arc<Lane>,
    settings: Arc<Settings>,
    events: Vec<Arc<SecurityEvent>>,
    record: Option<u64>,
    mode: Mode,
    abort: AbortSignal,
    mut rng: JitterRng,
) -> BatchOutcome {
    let mut out = BatchOutcome {
        record,
        probe: mode == Mode::Probe,
        ..BatchOutcome::default()
    };
    let c = &lane.counters;
    let sink = &*settings.sink;
    let start = Instant::now();
    let mut queue: VecDeque<EncodedRequest> = VecDeque::new();
    let n = events.len();
    Counters::add(&c.in_flight, n);
    let encoded = encode_guarded(sink, EncodeInput::Owned(events));
    take_encoded(&lane, &settings, encoded, n, &mut queue, &mut out);
    while let Some(request) = queue.pop_front() {
        let n = request.events.len();
        match send_with_retry(&lane, &settings, &request, mode, start, &abort, &mut rng).await {
            SendResult::Sent => {
                Counters::add(&c.delivered, n);
                Counters::sub(&c.in_flight, n);
                c.record_success();
                out.delivered += n;
            }
            SendResult::TooLarge(e) if n > 1 => {
                Counters::add(&c.splits, 1);
                c.record_error(LastError::from_delivery(&e));
                let (first, second) = request.events.split_at(n / 2);
                let mut halves = VecDeque::new();
                for half in [first, second] {
                    let encoded = encode_guarded(sink, EncodeInput::Borrowed(half));
                    take_encoded(&lane, &settings, encoded, half.len(), &mut halves, &mut out);
                }
                while let Some(r) = halves.pop_back() {
                    queue.push_front(r);
                }
            }
            SendResult::TooLarge(e) | SendResult::Failed(e) => {
                fail(
                    &lane,
                    &settings,
                    &request.events,
                    LastError::from_delivery(&e),
                    &mut out,
                );
            }
            SendResult::Held => {
                hand_back(&lane, request, &mut queue, &mut out);
                break;
            }
            SendResult::Aborted if lane.kind == BufferKind::Disk => {
                // Still on disk: delivered after the next start.
                hand_back(&lane, request, &mut queue, &mut out);
                break;
            }
            SendResult::Aborted => {
                let rest: Vec<Arc<SecurityEvent>> = request
                    .events
                    .into_iter()
                    .chain(queue.drain(..).flat_map(|r| r.events))
                    .collect();
                Counters::add(&c.failed_at_shutdown, rest.len());
                let msg = format!(
                    "{} event(s) not delivered before the shutdown deadline",
                    rest.len()
                );
                fail(
                    &lane,
                    &settings,
                    &rest,
                    LastError::local("shutdown", msg),
                    &mut out,
                );
                break;
            }
        }
    }
    out
}

/// Gives this request's events and those of every request after it back to the buffer.
fn hand_back(
    lane: &Lane,
    request: EncodedRequest,
    queue: &mut VecDeque<EncodedRequest>,
    out: &mut BatchOutcome,
) {
    out.returned.extend(request.events);
    out.returned.extend(queue.drain(..).flat_map(|r| r.events));
    Counters::sub(&lane.counters.in_flight, out.returned.len());
}

/// Queues the requests of a batch of `n` events, failing the rejected events (and any the
/// sink lost).
fn take_encoded(
    lane: &Lane,
    settings: &Settings,
    encoded: Result<Encoded, LastError>,
    n: usize,
    queue: &mut VecDeque<EncodedRequest>,
    out: &mut BatchOutcome,
) {
    match encoded {
        Ok(encoded) => {
            for r in encoded.rejected.iter() {
                fail(
                    lane,
                    settings,
                    std::slice::from_ref(&r.event),
                    LastError::from_encode(&r.reason),
                    out,
                );
            }
            // An encoder that lost events breaks the sink contract; account them anyway.
            let covered: usize = encoded
                .requests
                .iter()
                .map(|r| r.events.len())
                .sum::<usize>()
                + encoded.rejected.len();
            if covered < n {
                let msg = "the sink's encode lost events".to_owned();
                fail_count(lane, n - covered, LastError::local("encode", msg), out);
            }
            queue.extend(encoded.requests);
        }
        // The batch was handed over to the panicking encoder: only its size is left.
        Err(e) => fail_count(lane, n, e, out),
    }
}

/// Fails `events` for good: counted, and written to the dead-letter file if there is one.
pub(crate) fn fail(
    lane: &Lane,
    settings: &Settings,
    events: &[Arc<SecurityEvent>],
    error: LastError,
    out: &mut BatchOutcome,
) {
    if let Some(dead_letter) = &settings.dead_letter {
        let reason = DeadLetterReason {
            org_id: lane.org.clone(),
            sink: lane.name.clone(),
            kind: error.kind.to_owned(),
            status: error.status,
            reason: error.to_string(),
            at: error.at,
        };
        let written = dead_letter.write(events, &reason);
        Counters::add(&lane.counters.dead_lettered, written);
    }
    fail_count(lane, events.len(), error, out);
}

fn fail_count(lane: &Lane, n: usize, error: LastError, out: &mut BatchOutcome) {
    if n == 0 {
        return;
    }
    Counters::add(&lane.counters.failed, n);
    Counters::sub(&lane.counters.in_flight, n);
    lane.counters.record_error(error.clone());
    out.failed += n;
    out.error = Some(error);
}

async fn send_with_retry(
    lane: &Lane,
    settings: &Settings,
    request: &EncodedRequest,
    mode: Mode,
    batch_start: Instant,
    abort: &AbortSignal,
    rng: &mut JitterRng,
) -> SendResult {
    let policy = &settings.retry;
    let sink = &*settings.sink;
    let mut attempts = 0u32;
    let mut credential_retry_used = false;
    let mut previous = Duration::ZERO;
    loop {
        if abort.passed() {
            return SendResult::Aborted;
        }
        if mode == Mode::Normal && lane.breaker.is_open() {
            return SendResult::Held;
        }
        attempts += 1;
        let result = tokio::select! {
            r = send_once(sink, request, policy.attempt_timeout) => r,
            () = abort.wait() => return SendResult::Aborted,
        };
        let error = match result {
            Ok(_) => {
                lane.breaker.record_success(&lane.org, &lane.name);
                return SendResult::Sent;
            }
            Err(e) => e,
        };
        let open = lane
            .breaker
            .record_failure(&settings.breaker, &error, &lane.org, &lane.name);
        if open && counts_against_health(&error) {
            // The SIEM is unwell: this request waits in the buffer for the next probe
            // instead of failing for good.
            lane.counters.record_error(LastError::from_delivery(&error));
            return SendResult::Held;
        }
        match &error {
            DeliveryError::PayloadTooLarge { .. } => return SendResult::TooLarge(error),
            DeliveryError::CredentialsRejected { .. }
                if policy.refresh_credentials_once && !credential_retry_used =>
            {
                credential_retry_used = true;
                attempts -= 1;
                Counters::add(&lane.counters.retried, 1);
                lane.counters.record_error(LastError::from_delivery(&error));
                continue;
            }
            e if e.is_retryable() && attempts < policy.max_attempts => {
                let backoff = policy.backoff(attempts, previous, rng.next_unit());
                let wait = policy.wait(backoff, e.retry_after());
                previous = wait;
                if batch_start.elapsed() + wait > policy.max_elapsed {
                    return SendResult::Failed(error);
                }
                Counters::add(&lane.counters.retried, 1);
                lane.counters.record_error(LastError::from_delivery(&error));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = abort.wait() => return SendResult::Aborted,
                }
            }
            _ => return SendResult::Failed(error),
        }
    }
}
