//! Delivering one batch: encode, send each request with retry, split on "too large",
//! one retry after a rejected credential, and account every event exactly once.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use siem_core::{DeliveryError, Encoded, EncodedRequest, ErrorDetail, SecurityEvent, SiemSink};
use tokio::time::Instant;

use crate::lane::{AbortSignal, Lane, Settings};
use crate::policy::{JitterRng, RetryPolicy};
use crate::stats::{Counters, LastError};

/// What happened to a batch, for the worker's rate-limited logging.
#[derive(Debug, Default)]
pub(crate) struct BatchOutcome {
    pub(crate) delivered: usize,
    pub(crate) failed: usize,
    pub(crate) error: Option<LastError>,
}

enum SendResult {
    Sent,
    TooLarge(DeliveryError),
    Failed(DeliveryError),
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

/// `encode` with a panicking sink turned into rejections.
pub(crate) fn encode_guarded(
    sink: &dyn SiemSink,
    events: &[Arc<SecurityEvent>],
) -> Result<Encoded, LastError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| sink.encode(events)))
        .map_err(|_| LastError::local("panic", "the sink panicked in encode".to_owned()))
}

/// Delivers `events`, accounting each as delivered or failed on `lane`'s counters.
pub(crate) async fn deliver_batch(
    lane: Arc<Lane>,
    settings: Arc<Settings>,
    events: Vec<Arc<SecurityEvent>>,
    abort: AbortSignal,
    mut rng: JitterRng,
) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    let c = &lane.counters;
    let sink = &*settings.sink;
    let start = Instant::now();
    let mut queue: VecDeque<EncodedRequest> = VecDeque::new();
    let n = events.len();
    let encoded = std::panic::catch_unwind(AssertUnwindSafe(|| sink.encode_owned(events)))
        .map_err(|_| LastError::local("panic", "the sink panicked in encode".to_owned()));
    take_encoded(&lane, encoded, n, &mut queue, &mut out);
    while let Some(request) = queue.pop_front() {
        let n = request.events.len();
        match send_with_retry(
            &lane,
            &settings.retry,
            sink,
            &request,
            start,
            &abort,
            &mut rng,
        )
        .await
        {
            SendResult::Sent => {
                Counters::add(&c.delivered, n);
                c.record_success();
                out.delivered += n;
            }
            SendResult::TooLarge(e) if n > 1 => {
                Counters::add(&c.splits, 1);
                c.record_error(LastError::from_delivery(&e));
                let (first, second) = request.events.split_at(n / 2);
                let mut halves = VecDeque::new();
                absorb(&lane, sink, first, &mut halves, &mut out);
                absorb(&lane, sink, second, &mut halves, &mut out);
                while let Some(r) = halves.pop_back() {
                    queue.push_front(r);
                }
            }
            SendResult::TooLarge(e) | SendResult::Failed(e) => {
                fail(&lane, n, LastError::from_delivery(&e), &mut out);
            }
            SendResult::Aborted => {
                let rest = n + queue.iter().map(|r| r.events.len()).sum::<usize>();
                Counters::add(&c.failed_at_shutdown, rest);
                let msg = format!("{rest} event(s) not delivered before the shutdown deadline");
                fail(&lane, rest, LastError::local("shutdown", msg), &mut out);
                break;
            }
        }
    }
    out
}

/// Encodes `events`, queueing the requests and failing the rejected events.
fn absorb(
    lane: &Lane,
    sink: &dyn SiemSink,
    events: &[Arc<SecurityEvent>],
    queue: &mut VecDeque<EncodedRequest>,
    out: &mut BatchOutcome,
) {
    take_encoded(lane, encode_guarded(sink, events), events.len(), queue, out);
}

/// Queues the requests of a batch of `n` events, failing the rejected events (and any the
/// sink lost).
fn take_encoded(
    lane: &Lane,
    encoded: Result<Encoded, LastError>,
    n: usize,
    queue: &mut VecDeque<EncodedRequest>,
    out: &mut BatchOutcome,
) {
    match encoded {
        Ok(encoded) => {
            for r in &encoded.rejected {
                fail(lane, 1, LastError::from_encode(&r.reason), out);
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
                fail(lane, n - covered, LastError::local("encode", msg), out);
            }
            queue.extend(encoded.requests);
        }
        Err(e) => fail(lane, n, e, out),
    }
}

fn fail(lane: &Lane, n: usize, error: LastError, out: &mut BatchOutcome) {
    if n == 0 {
        return;
    }
    Counters::add(&lane.counters.failed, n);
    lane.counters.record_error(error.clone());
    out.failed += n;
    out.error = Some(error);
}

async fn send_with_retry(
    lane: &Lane,
    policy: &RetryPolicy,
    sink: &dyn SiemSink,
    request: &EncodedRequest,
    batch_start: Instant,
    abort: &AbortSignal,
    rng: &mut JitterRng,
) -> SendResult {
    let mut attempts = 0u32;
    let mut credential_retry_used = false;
    let mut previous = Duration::ZERO;
    loop {
        if abort.passed() {
            return SendResult::Aborted;
        }
        attempts += 1;
        let result = tokio::select! {
            r = send_once(sink, request, policy.attempt_timeout) => r,
            () = abort.wait() => return SendResult::Aborted,
        };
        let error = match result {
            Ok(_) => return SendResult::Sent,
            Err(e) => e,
        };
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
