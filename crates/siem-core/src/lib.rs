//! # siem-core
//!
//! The stable, I/O-free core of **siem-connectors**: the security event model, the
//! severity scale, event filters, HTTPS-only endpoints, self-redacting secrets, the
//! credential provider trait and the [`SiemSink`] trait that every platform adapter
//! implements.
//!
//! A third-party sink depends on this crate alone: implement [`SiemSink::encode`] (pure:
//! events to request bodies) and [`SiemSink::send`] (one attempt), and `siem-dispatch`
//! supplies queueing, batching, retry and accounting. With the `testing` feature,
//! [`testing::conformance`] checks your sink against the contract.
//!
//! ```
//! use siem_core::{SecurityEvent, EventFilter};
//! let json = r#"{"event_type":"loop.detected","org_id":"org_a","project_id":"p1",
//!   "details":{"iterations":240,"window_seconds":60,"action":"killed"}}"#;
//! let event = SecurityEvent::from_json(json)?;
//! assert_eq!(event.severity(), siem_core::Severity::High); // the type's default
//! assert!(EventFilter::parse(["loop.detected"])?.matches(event.event_type()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod details;
mod endpoint;
mod event;
mod event_type;
mod filter;
mod hex;
mod ident;
pub mod input;
pub mod json;
mod secret;
mod severity;
pub mod sink;
mod strde;
mod timestamp;

#[cfg(feature = "testing")]
pub mod testing;

pub use details::Details;
pub use endpoint::{Endpoint, EndpointError};
pub use event::{
    EventError, EventId, EventParseError, InvalidEventId, SecurityEvent, SecurityEventBuilder,
    DEFAULT_SOURCE,
};
pub use event_type::{
    CustomEventType, EventType, EventTypeError, MAX_EVENT_TYPE_LEN, RESERVED_NAMESPACES,
};
pub use filter::{EventFilter, FilterError};
pub use ident::{Ident, IdentError, MAX_IDENT_CHARS};
pub use secret::{
    CredentialError, CredentialErrorKind, CredentialProvider, Secret, StaticCredential,
};
pub use severity::{Severity, UnknownSeverity};
pub use sink::{
    Ack, DeliveryError, DeliveryReport, EncodeError, Encoded, EncodedRequest, ErrorDetail,
    RejectedEvent, SiemSink,
};
pub use timestamp::{Timestamp, TimestampError, MAX_RFC3339_LEN};

/// Re-exported so sink crates implement [`SiemSink`] with the same macro version.
pub use async_trait::async_trait;
