//! The Sentinel sink: one attempt to deliver one encoded body to the Logs Ingestion API.
//!
//! # Platform limits
//! - `POST {dce}/dataCollectionRules/{dcr_immutable_id}/streams/{stream}?api-version=2023-01-01`
//! - `Authorization: Bearer <token>`: an Entra ID access token for the scope
//!   `https://monitor.azure.com/.default`, from [`EntraTokenSource`](crate::EntraTokenSource)
//!   or a static token ([`StaticCredential`](siem_core::StaticCredential)).
//! - `Content-Type: application/json`, `Content-Encoding: gzip` when compressed.
//! - ≤ 1 MB per call (the encoder splits); success is 204; 429 and 503 carry `Retry-After`.

use siem_http::HttpSink;

use crate::config::SentinelOptions;
pub use crate::config::PLATFORM;

/// Delivers security events to a Microsoft Sentinel workspace through the Azure Monitor
/// Logs Ingestion API. `credential` gives the bearer token: an
/// [`EntraTokenSource`](crate::EntraTokenSource) or a static token.
///
/// ```
/// use std::sync::Arc;
/// use siem_core::{Secret, SiemSink, StaticCredential};
/// use siem_sentinel::{SentinelConfig, SentinelSink};
///
/// let options = SentinelConfig::new(
///     "https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com".parse()?,
///     "dcr-00112233445566778899aabbccddeeff",
/// )
/// .sink_options()?;
/// let token = Arc::new(StaticCredential::new(Secret::new("eyJ0eXAi...")));
/// let sink = SentinelSink::new("sentinel-prod", options, token)?;
/// assert_eq!(sink.platform(), "sentinel");
/// assert!(!format!("{sink:?}").contains("eyJ0eXAi"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type SentinelSink = HttpSink<SentinelOptions>;
