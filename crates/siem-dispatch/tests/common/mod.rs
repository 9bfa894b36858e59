//! Test helpers: event generators, a dispatcher with events queued, a scripted sink that
//! records when it was called.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use siem_core::testing::sample_events_for;
use siem_core::{
    async_trait, Ack, DeliveryError, Encoded, EncodedRequest, ErrorDetail, SecurityEvent, SiemSink,
};
use siem_dispatch::{Dispatcher, OrgConfig, SinkConfig};
use tokio::time::Instant;

/// A dispatcher for one org, `org_a`, with one sink, `sink`, after `n` events of
/// [`events`] for it were emitted.
pub fn start_org_a(sink: SinkConfig, n: usize) -> Dispatcher {
    let dispatcher = Dispatcher::start([OrgConfig::new("org_a").unwrap().sink(sink)]).unwrap();
    for event in events("org_a", n) {
        dispatcher.emit(event);
    }
    dispatcher
}

/// `n` events for `org`, cycling through every known type.
pub fn events(org: &str, n: usize) -> Vec<SecurityEvent> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend(sample_events_for(org).into_iter().take(n - out.len()));
    }
    out
}

/// What [`ScriptSink`] does for one send.
#[derive(Debug, Clone)]
pub enum Act {
    Ok,
    Err(DeliveryError),
    Hang,
    Delay(Duration),
}

pub fn retryable(retry_after: Option<Duration>) -> DeliveryError {
    DeliveryError::Retryable {
        detail: ErrorDetail::http(503, Some("9".into()), "server busy"),
        retry_after,
    }
}

pub fn permanent() -> DeliveryError {
    DeliveryError::Permanent {
        detail: ErrorDetail::http(400, Some("6".into()), "invalid data format"),
    }
}

pub fn too_large() -> DeliveryError {
    DeliveryError::PayloadTooLarge {
        detail: ErrorDetail::http(413, None, "content too large"),
    }
}

pub fn rejected_credentials() -> DeliveryError {
    DeliveryError::CredentialsRejected {
        detail: ErrorDetail::http(403, Some("4".into()), "invalid token"),
    }
}

type Behaviour = dyn Fn(usize, &EncodedRequest) -> Act + Send + Sync;

/// A sink whose every send is decided by a closure of (send index, request); it records
/// the tokio instant of every send and the events it accepted.
pub struct ScriptSink {
    name: String,
    behaviour: Box<Behaviour>,
    sends: Mutex<Vec<(Instant, usize)>>,
    received: Mutex<Vec<Arc<SecurityEvent>>>,
    calls: AtomicUsize,
}

impl std::fmt::Debug for ScriptSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptSink")
            .field("name", &self.name)
            .finish()
    }
}

impl ScriptSink {
    pub fn new(
        name: &str,
        behaviour: impl Fn(usize, &EncodedRequest) -> Act + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            behaviour: Box::new(behaviour),
            sends: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
        })
    }

    /// Instants of every send, with the number of events in the request.
    pub fn sends(&self) -> Vec<(Instant, usize)> {
        self.sends.lock().unwrap().clone()
    }

    pub fn received(&self) -> Vec<Arc<SecurityEvent>> {
        self.received.lock().unwrap().clone()
    }
}

#[async_trait]
impl SiemSink for ScriptSink {
    fn name(&self) -> &str {
        &self.name
    }
    fn platform(&self) -> &'static str {
        "script"
    }
    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded {
        if events.is_empty() {
            return Encoded::default();
        }
        Encoded {
            requests: vec![EncodedRequest {
                events: events.to_vec(),
                body: bytes_of(events.len()),
                gzip: false,
                uncompressed_len: events.len(),
            }],
            rejected: Vec::new(),
        }
    }
    async fn send(&self, request: &EncodedRequest) -> Result<Ack, DeliveryError> {
        let i = self.calls.fetch_add(1, Ordering::SeqCst);
        self.sends
            .lock()
            .unwrap()
            .push((Instant::now(), request.events.len()));
        match (self.behaviour)(i, request) {
            Act::Ok => {}
            Act::Err(e) => return Err(e),
            Act::Hang => std::future::pending::<()>().await,
            Act::Delay(d) => tokio::time::sleep(d).await,
        }
        self.received
            .lock()
            .unwrap()
            .extend(request.events.iter().cloned());
        Ok(Ack { status: 200 })
    }
}

fn bytes_of(n: usize) -> bytes::Bytes {
    bytes::Bytes::from(vec![b'x'; n])
}
