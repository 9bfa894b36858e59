//! A scripted in-memory sink.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::sink::{
    Ack, DeliveryError, EncodeError, Encoded, EncodedRequest, ErrorDetail, RejectedEvent,
};
use crate::{SecurityEvent, SiemSink};

/// What [`MemorySink::send`](SiemSink::send) does for one request.
#[derive(Debug, Clone)]
pub enum Step {
    /// Accept the request and record its events.
    Succeed,
    /// Fail with this error (nothing is recorded).
    Fail(DeliveryError),
    /// Wait (on the tokio clock, so paused-time tests stay instant), then accept.
    Delay(Duration),
    /// Never answer.
    Hang,
}

/// A 503 "server busy" retryable error, for scripts.
pub fn server_busy() -> DeliveryError {
    DeliveryError::Retryable {
        detail: ErrorDetail::http(503, None, "server busy"),
        retry_after: None,
    }
}

/// An in-memory sink: encodes events as a JSON array of canonical events, runs a script of
/// [`Step`]s for successive `send` calls (then [`Step::Succeed`], or the fallback set with
/// [`MemorySink::set_fallback`]), and records what it accepted.
#[derive(Debug)]
pub struct MemorySink {
    name: String,
    max_events_per_request: usize,
    max_event_bytes: usize,
    state: Mutex<State>,
    sends: AtomicUsize,
}

#[derive(Debug)]
struct State {
    script: VecDeque<Step>,
    fallback: Step,
    received: Vec<Arc<SecurityEvent>>,
}

impl MemorySink {
    /// A sink that accepts everything, 100 events per request, events up to 1 MB.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_events_per_request: 100,
            max_event_bytes: 1_000_000,
            state: Mutex::new(State {
                script: VecDeque::new(),
                fallback: Step::Succeed,
                received: Vec::new(),
            }),
            sends: AtomicUsize::new(0),
        }
    }

    /// Sets how many events one request may carry (at least 1).
    #[must_use]
    pub fn with_max_events_per_request(mut self, max: usize) -> Self {
        self.max_events_per_request = max.max(1);
        self
    }

    /// Sets the largest encoded event accepted; larger ones are rejected by `encode`.
    #[must_use]
    pub fn with_max_event_bytes(mut self, max: usize) -> Self {
        self.max_event_bytes = max;
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends steps to the script.
    pub fn script(&self, steps: impl IntoIterator<Item = Step>) {
        self.state().script.extend(steps);
    }

    /// What `send` does once the script is used up.
    pub fn set_fallback(&self, step: Step) {
        self.state().fallback = step;
    }

    /// The events accepted so far, in order.
    pub fn received(&self) -> Vec<Arc<SecurityEvent>> {
        self.state().received.clone()
    }

    /// How many times `send` was called.
    pub fn send_count(&self) -> usize {
        self.sends.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SiemSink for MemorySink {
    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> &'static str {
        "memory"
    }

    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded {
        let mut encoded = Encoded::default();
        let mut current: Vec<Arc<SecurityEvent>> = Vec::new();
        let mut body = String::from("[");
        let flush =
            |current: &mut Vec<Arc<SecurityEvent>>, body: &mut String, out: &mut Encoded| {
                if current.is_empty() {
                    return;
                }
                body.push(']');
                let bytes = Bytes::from(std::mem::replace(body, String::from("[")));
                out.requests.push(EncodedRequest {
                    events: std::mem::take(current),
                    uncompressed_len: bytes.len(),
                    body: bytes,
                    gzip: false,
                });
            };
        for event in events {
            let json = event.to_json();
            if json.len() > self.max_event_bytes {
                encoded.rejected.push(RejectedEvent {
                    event: event.clone(),
                    reason: EncodeError::TooLarge {
                        event_id: event.event_id().to_string(),
                        size: json.len(),
                        limit: self.max_event_bytes,
                        what: "a memory sink event",
                    },
                });
                continue;
            }
            if current.len() == self.max_events_per_request {
                flush(&mut current, &mut body, &mut encoded);
            }
            if !current.is_empty() {
                body.push(',');
            }
            body.push_str(&json);
            current.push(event.clone());
        }
        flush(&mut current, &mut body, &mut encoded);
        encoded
    }

    async fn send(&self, request: &EncodedRequest) -> Result<Ack, DeliveryError> {
        self.sends.fetch_add(1, Ordering::SeqCst);
        let step = {
            let mut state = self.state();
            let fallback = state.fallback.clone();
            state.script.pop_front().unwrap_or(fallback)
        };
        match step {
            Step::Succeed => {}
            Step::Fail(e) => return Err(e),
            Step::Delay(d) => tokio::time::sleep(d).await,
            Step::Hang => std::future::pending::<()>().await,
        }
        self.state().received.extend(request.events.iter().cloned());
        Ok(Ack { status: 200 })
    }
}
