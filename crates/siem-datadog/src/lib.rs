//! # siem-datadog
//!
//! Streams siem-connectors security events to **Datadog Logs** (HTTP intake, API v2).
//!
//! | | |
//! | --- | --- |
//! | request | `POST https://http-intake.logs.{site}/api/v2/logs` (or `{endpoint}/api/v2/logs`), a JSON array of log items |
//! | auth | `DD-API-KEY: <API key>`, from a [`CredentialProvider`](siem_core::CredentialProvider) |
//! | batch size | at most 1000 items and 5 MB uncompressed per request (lower limits configurable) |
//! | event size | an item over 1 MB is rejected ([`EncodeError::TooLarge`](siem_core::EncodeError)) rather than truncated by Datadog |
//! | compression | `Content-Encoding: gzip` (on by default, as Datadog recommends) |
//! | success | HTTP 202 |
//! | errors | `{"errors":[…]}`; 401/403 credentials rejected, 413 split, 408/429/5xx retryable, other 4xx permanent |
//!
//! Each item carries `ddsource` `aisg`, `ddtags` (`env:`, `service:<project>`,
//! `event_type:`, `org:` and extra tags), `hostname`, `message` (the event type),
//! `service` (the project), `status` (critical → emergency, high → alert, medium → warn,
//! low → notice, info → info), then the event's fields at top level; Datadog reads the
//! item's `timestamp` as the log date.
//!
//! The crate has the same shape as `siem-splunk` and `siem-sentinel`: [`config`]
//! (settings only, each option declared once in a serde struct), [`encoder`] (every byte
//! on the wire, pure), [`sink`] (the shared `siem_http::HttpSink`) and [`error`] (Datadog
//! answers to delivery errors). Retry, batching and credential
//! refresh belong to `siem-dispatch`.
//!
//! ```
//! use std::sync::Arc;
//! use siem_core::SecurityEvent;
//! use siem_datadog::{encode, DatadogConfig};
//!
//! let options = DatadogConfig {
//!     env: Some("production".into()),
//!     hostname: Some("aisg-proxy".into()),
//!     gzip: false,
//!     ..Default::default()
//! }
//! .sink_options()?;
//! let event = SecurityEvent::from_json(r#"{"event_type":"dlp.injection_blocked","org_id":"org_acme",
//!   "project_id":"proj_bot","request_id":"req_1","timestamp":"2026-06-08T20:16:02.250Z",
//!   "details":{"action":"blocked","model":"claude-sonnet-4.5"}}"#)?;
//! let encoded = encode(&[Arc::new(event)], &options);
//! let items: serde_json::Value = serde_json::from_slice(&encoded.requests[0].body)?;
//! assert_eq!(items[0]["status"], "emergency");
//! assert_eq!(items[0]["timestamp"], "2026-06-08T20:16:02.250Z");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod config;
pub mod encoder;
pub mod error;
pub mod sink;

pub use config::{DatadogConfig, DatadogOptions};
pub use encoder::encode;
pub use error::{BuildError, ConfigError};
pub use sink::DatadogSink;
