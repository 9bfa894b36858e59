//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use siem_core::testing::LogCapture;
use siem_core::{async_trait, CredentialError, CredentialErrorKind, CredentialProvider, Secret};
use tokio::sync::Semaphore;

#[cfg(feature = "aws")]
pub mod aws;

/// Captures every `tracing` event at `TRACE` and above on this thread.
pub fn capture_logs() -> (tracing::subscriber::DefaultGuard, LogCapture) {
    let buffer = LogCapture::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::subscriber::set_default(subscriber), buffer)
}

/// A provider that returns scripted results (the last one repeats) and counts calls.
/// With a gate, each call waits for a permit first.
#[derive(Debug)]
pub struct Scripted {
    label: String,
    calls: AtomicUsize,
    script: Mutex<VecDeque<Result<&'static str, CredentialErrorKind>>>,
    gate: Option<Arc<Semaphore>>,
}

impl Scripted {
    pub fn new(label: &str, script: &[Result<&'static str, CredentialErrorKind>]) -> Arc<Self> {
        Arc::new(Self {
            label: label.to_owned(),
            calls: AtomicUsize::new(0),
            script: Mutex::new(script.iter().cloned().collect()),
            gate: None,
        })
    }

    pub fn gated(
        label: &str,
        script: &[Result<&'static str, CredentialErrorKind>],
        gate: Arc<Semaphore>,
    ) -> Arc<Self> {
        Arc::new(Self {
            label: label.to_owned(),
            calls: AtomicUsize::new(0),
            script: Mutex::new(script.iter().cloned().collect()),
            gate: Some(gate),
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Replaces what later calls return.
    pub fn then(&self, script: &[Result<&'static str, CredentialErrorKind>]) {
        *self.script.lock().unwrap() = script.iter().cloned().collect();
    }
}

#[async_trait]
impl CredentialProvider for Scripted {
    async fn get(&self) -> Result<Secret, CredentialError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        let next = {
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 {
                script.pop_front().unwrap()
            } else {
                script.front().cloned().unwrap()
            }
        };
        next.map(Secret::new)
            .map_err(|kind| CredentialError::new(self.label.clone(), kind, "scripted failure"))
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}
