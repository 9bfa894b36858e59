//! Test helpers: event generators, a scripted sink that records when it was called, and
//! a log capture.
#![allow(dead_code, clippy::unwrap_used)]

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use siem_core::testing::sample_events_for;
use siem_core::{
    async_trait, Ack, DeliveryError, Encoded, EncodedRequest, ErrorDetail, SecurityEvent, SiemSink,
};
use tokio::time::Instant;

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

/// A `MakeWriter` that collects log lines.
#[derive(Clone, Default)]
pub struct LogCapture(pub Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
