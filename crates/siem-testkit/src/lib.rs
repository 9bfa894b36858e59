//! # siem-testkit
//!
//! Local HTTPS emulators of the three SIEM intakes siem-connectors delivers to — Splunk
//! HEC, the Datadog logs intake (v2) and the Azure Monitor Logs Ingestion API (a data
//! collection endpoint) with its Entra ID token endpoint — for end-to-end tests, for
//! `siem demo` / `siem emulate`, and for benchmarks.
//!
//! Each emulator listens on `127.0.0.1` over real TLS with a certificate from a throwaway
//! CA ([`siem_http::testing::TestCa`]), speaks HTTP/1.1 with keep-alive (and HTTP/2 when
//! offered and negotiated), and:
//!
//! - **validates like the real service**: path and query, auth header and token value,
//!   content type, gzip, body shape, size and count limits (413), and for Sentinel every
//!   record against the stream's declared columns; it answers with the platform's real
//!   success and error bodies (see each module: [`splunk`], [`datadog`], [`sentinel`],
//!   [`entra`]). One deliberate strictness: every accepted item must carry our event's
//!   fields, so an adapter that mangles them is caught.
//! - **records** what it accepted as [`ReceivedEvent`]s (decoded back to their fields,
//!   bounded, or only counted with [`Recording::CountOnly`]) plus cheap atomic counters
//!   ([`EmulatorStats`]) and request summaries ([`RequestRecord`]); [`compare_events`]
//!   checks received against emitted events, platform mapping included.
//! - **injects faults**: a queue of [`Fault`]s for the next requests (a status with the
//!   platform's error body and optional `Retry-After`, a delay, a hang, a reset), a
//!   persistent latency, and an outage switch.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use siem_testkit::{Fault, SplunkEmulator, SplunkEmulatorConfig};
//!
//! let splunk = SplunkEmulator::start(SplunkEmulatorConfig {
//!     token: "hec-token".into(),
//!     ..Default::default()
//! })
//! .await?;
//! splunk.inject(Fault::status_retry_after(503, Duration::from_secs(2)));
//!
//! let client = reqwest::Client::builder()
//!     .add_root_certificate(reqwest::Certificate::from_pem(splunk.ca_pem().as_bytes())?)
//!     .build()?;
//! let body = r#"{"event":{"event_id":"0b7c6f1e-8d0a-4c43-9a57-3f1d2a9e4b10","event_type":"siem.test",
//!   "org_id":"o","project_id":"p","severity":"info","timestamp":"2026-06-08T20:15:30Z",
//!   "details":{}},"time":1780949730}"#;
//! let send = || client.post(splunk.event_url()).header("Authorization", "Splunk hec-token").body(body).send();
//! let first = send().await?;
//! assert_eq!(first.status(), 503);
//! assert_eq!(first.headers()["retry-after"], "2");
//! assert_eq!(send().await?.text().await?, r#"{"text":"Success","code":0}"#);
//! assert_eq!(splunk.received()[0].event_type, "siem.test");
//! assert_eq!(splunk.stats().accepted_events, 1);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod all;
mod control;
pub mod datadog;
mod delay;
pub mod entra;
mod event;
mod json;
pub mod sentinel;
mod server;
pub mod splunk;

use std::path::{Path, PathBuf};

pub use all::{start_all, Emulators, EmulatorsConfig};
pub use control::{
    EmulatorStats, Fault, Recording, RequestRecord, DEFAULT_MAX_STORED_EVENTS, MAX_STORED_REQUESTS,
};
pub use datadog::{DatadogEmulator, DatadogEmulatorConfig};
pub use delay::ArrivalDelays;
pub use entra::{EntraEmulator, EntraEmulatorConfig};
pub use event::{
    compare_events, datadog_status, sentinel_severity, splunk_severity_id, EventMismatch,
    PlatformFields, ReceivedEvent,
};
pub use sentinel::{SentinelEmulator, SentinelEmulatorConfig, TokenServer};
pub use splunk::{SplunkEmulator, SplunkEmulatorConfig};

/// An emulator could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The CA or a server certificate could not be made.
    #[error("emulator certificate: {0}")]
    Certificate(#[from] siem_http::testing::TestServerError),
    /// rustls refused the server configuration.
    #[error("emulator TLS configuration: {reason}")]
    Tls {
        /// Why.
        reason: String,
    },
    /// The port could not be opened.
    #[error("cannot listen on 127.0.0.1:{port}: {reason}")]
    Bind {
        /// The port asked for (0 = any).
        port: u16,
        /// Why.
        reason: String,
    },
    /// The CA file could not be written.
    #[error("cannot write the CA file {}: {reason}", path.display())]
    CaFile {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn write_pem(path: &Path, pem: &str) -> Result<(), EmulatorError> {
    std::fs::write(path, pem).map_err(|e| EmulatorError::CaFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
