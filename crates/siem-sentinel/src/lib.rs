//! # siem-sentinel
//!
//! Microsoft Sentinel adapter for **siem-connectors**: security events go to a Log
//! Analytics custom table (`AisgSecurityEvents_CL`) through the Azure Monitor Logs
//! Ingestion API, via a data collection endpoint (DCE) and rule (DCR).
//!
//! The crate has the same shape as `siem-splunk` and `siem-datadog`:
//!
//! - [`config`]: settings only, each option declared once in [`SentinelConfig`] (DCE, DCR
//!   immutable id, stream, gzip, Entra ID identity, timeouts, CA), validated into
//!   [`SentinelOptions`] and [`EntraOptions`].
//! - [`encoder`]: every byte on the wire: pure events → JSON array bodies of at most
//!   1,000,000 bytes, with the table's columns ([`encoder::COLUMNS`]) and Sentinel's
//!   severity words.
//! - [`sink`]: [`SentinelSink`], the shared `siem_http::HttpSink`.
//! - [`EntraTokenSource`] (re-exported from `siem_secrets::entra`, as [`token`]): an Entra
//!   ID client-credentials token provider on the workspace's one credential cache.
//! - [`error`]: the mapping of API answers to delivery error classes.
//!
//! The table schema and a DCR template matching the encoder ship in `schema/`.
//!
//! ```
//! use std::sync::Arc;
//! use siem_core::{Endpoint, Secret, SiemSink, StaticCredential};
//! use siem_sentinel::{EntraTokenSource, SentinelConfig, SentinelSink};
//!
//! let config = SentinelConfig {
//!     tenant_id: Some("contoso.onmicrosoft.com".into()),
//!     client_id: Some("11111111-2222-3333-4444-555555555555".into()),
//!     ..SentinelConfig::new(
//!         Endpoint::parse("https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com")?,
//!         "dcr-00112233445566778899aabbccddeeff",
//!     )
//! };
//! let options = config.sink_options()?;
//! let client_secret = Arc::new(StaticCredential::new(Secret::new("from-the-secret-store")));
//! let tokens = EntraTokenSource::new(config.entra_options()?.unwrap(), client_secret)?;
//! let sink = SentinelSink::new("sentinel-prod", options, Arc::new(tokens))?;
//! let events: Vec<_> = siem_core::testing::sample_events().into_iter().map(Arc::new).collect();
//! let encoded = sink.encode(&events); // pure; `sink.send(&encoded.requests[0])` delivers
//! assert_eq!(encoded.requests.len(), 1);
//! assert!(encoded.requests[0].gzip);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod config;
pub mod encoder;
pub mod error;
pub mod sink;

pub use config::{SentinelConfig, SentinelOptions};
pub use encoder::encode;
pub use error::{BuildError, ConfigError};
/// The Entra ID token source (in `siem-secrets`, on the workspace's one credential cache).
pub use siem_secrets::entra::{self as token, EntraOptions, EntraTokenSource};
pub use sink::SentinelSink;
