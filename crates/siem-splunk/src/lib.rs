//! # siem-splunk
//!
//! Streams siem-connectors security events to a **Splunk HTTP Event Collector** (HEC).
//!
//! | | |
//! | --- | --- |
//! | request | `POST {endpoint}/services/collector/event`, JSON envelopes one after another (no array) |
//! | auth | `Authorization: Splunk <HEC token>`, from a [`CredentialProvider`](siem_core::CredentialProvider) |
//! | batch size | no count limit; the body is split at `max_body_bytes` uncompressed (default 1 MB, HEC's historical `max_content_length`) |
//! | event size | an envelope larger than `max_body_bytes` alone is rejected ([`EncodeError::TooLarge`](siem_core::EncodeError)) |
//! | compression | `Content-Encoding: gzip` (on by default; HEC does not accept deflate) |
//! | success | HTTP 200 with `{"text":"Success","code":0}` |
//! | errors | `{"text":…,"code":N}`; 401/403 credentials rejected, 413 split, 408/429/5xx (503 busy) retryable, other 4xx permanent |
//!
//! Event time goes into the envelope's `time` (epoch seconds with millisecond
//! decimals) so Splunk indexes each event at its real time; severity maps to Splunk's
//! 1–6 scale in `severity_id` (info 2, low 3, medium 4, high 5, critical 6).
//!
//! The crate has the same shape as `siem-datadog` and `siem-sentinel`:
//! [`config`] (settings only, each option declared once in a serde struct), [`encoder`]
//! (every byte on the wire, pure), [`sink`] (the shared `siem_http::HttpSink`) and
//! [`error`] (HEC answers to delivery errors). Retry, batching and
//! credential refresh belong to `siem-dispatch`.
//!
//! ```
//! use std::sync::Arc;
//! use siem_core::SecurityEvent;
//! use siem_splunk::{encode, SplunkConfig};
//!
//! let options = SplunkConfig {
//!     index: Some("main".into()),
//!     gzip: false,
//!     ..SplunkConfig::new("https://splunk.example.com:8088".parse()?)
//! }
//! .sink_options()?;
//! let event = SecurityEvent::from_json(r#"{"event_type":"dlp.pii_blocked","org_id":"org_acme",
//!   "project_id":"proj_abc123","request_id":"req_xyz789","timestamp":"2026-06-08T20:15:30Z",
//!   "details":{"entities_found":["SSN"],"action":"blocked","model":"gpt-4.1"}}"#)?;
//! let encoded = encode(&[Arc::new(event)], &options);
//! let envelope: serde_json::Value = serde_json::from_slice(&encoded.requests[0].body)?;
//! assert_eq!(envelope["time"], 1780949730.0);
//! assert_eq!(envelope["event"]["severity_id"], 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod config;
pub mod encoder;
pub mod error;
pub mod sink;

pub use config::{SplunkConfig, SplunkOptions};
pub use encoder::encode;
pub use error::{BuildError, ConfigError};
pub use sink::SplunkSink;
