//! # siem-http
//!
//! The HTTP plumbing every siem-connectors adapter shares, so the three platform crates
//! differ only in what is really platform-specific (paths, headers, body shape, error
//! bodies):
//!
//! - [`HttpClient`]: reqwest with rustls, certificate verification always on, an optional
//!   extra root CA (PEM) for on-prem SIEMs, redirects never followed (a redirect could carry
//!   a token to another host or to plain HTTP), connect and total timeouts, a `User-Agent`,
//!   and response bodies read only up to a cap.
//! - [`finish_body`]: gzip a finished body (or not) into an [`EncodedRequest`];
//!   [`RequestPlan`]: an encoder's bodies and rejections by event position, giving each
//!   request clones of its events or (for a batch handed over) the events themselves.
//! - [`AuthenticatedPost`] and [`AuthHeader`]: the send path every sink shares (credential,
//!   auth header, content headers, one POST, classification, invalidation and scrubbing).
//! - [`split`]: the one splitter of every encoder (framing, body/item/count limits,
//!   rejections); [`HttpSink`], [`Adapter`], [`ConfigError`], [`BuildError`]: the sink
//!   and errors every adapter shares (an adapter implements [`Adapter`] on its options).
//! - [`classify_status`] and [`parse_retry_after`]: HTTP answers to
//!   [`DeliveryError`](siem_core::DeliveryError) classes.
//! - [`TransportConfig`], the `ca_file`, `ca_pem` and `timeouts` keys every sink's
//!   configuration shares (with [`TimeoutsConfig`], the `timeouts` table), and
//!   [`TransportBuilder`], the CA and timeout settings built into [`HttpOptions`].
//! - `testing` (feature `testing`, tests only): a throwaway CA and an HTTPS test server on
//!   127.0.0.1, and a plain-HTTP loopback escape hatch for wiremock.
#![warn(missing_docs)]

mod adapter;
mod client;
mod config;
mod gzip;
mod plan;
mod send;
mod split;
mod status;
#[cfg(feature = "testing")]
pub mod testing;

/// What [`adapter_options!`] names, so an adapter needs no extra dependency for it.
#[doc(hidden)]
pub mod __private {
    pub use siem_core::{Ack, DeliveryError, SecurityEvent};
    pub use url::Url;
}

pub use adapter::{default_gzip, shown, Adapter, BuildError, ConfigError, HttpSink, DEFAULT_GZIP};
pub use client::{
    scrub_secret, secret_header, HttpClient, HttpError, HttpOptions, HttpResponse,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_TIMEOUT,
};
pub use config::{
    InvalidTimeout, InvalidTransport, TimeoutsConfig, TransportBuilder, TransportConfig,
    MAX_TIMEOUT,
};
pub use http::header::{HeaderName, HeaderValue};
pub use plan::RequestPlan;
pub use send::{content_headers, AuthHeader, AuthenticatedPost};
pub use split::{split, Framing, Layout};
pub use status::{classify_status, parse_retry_after};

use std::sync::Arc;

use bytes::Bytes;
use siem_core::{EncodedRequest, SecurityEvent};

/// gzip level for request bodies: level 1 gives most of the size win on repetitive JSON
/// at a fraction of the CPU of the default level 6.
pub const GZIP_LEVEL: u32 = 1;

/// Wraps a finished (uncompressed) body and its events into an [`EncodedRequest`],
/// gzip-compressing it when `gzip` is true.
pub fn finish_body(events: Vec<Arc<SecurityEvent>>, body: Vec<u8>, gzip: bool) -> EncodedRequest {
    let uncompressed_len = body.len();
    let compressed = if gzip { gzip::compress(&body) } else { None };
    let gzip = compressed.is_some();
    let body = Bytes::from(compressed.unwrap_or(body));
    EncodedRequest {
        events,
        body,
        gzip,
        uncompressed_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn gzip_body_decompresses_to_the_original() {
        let original = br#"[{"a":1},{"a":2}]"#.repeat(50);
        let req = finish_body(Vec::new(), original.clone(), true);
        assert!(req.gzip);
        assert_eq!(req.uncompressed_len, original.len());
        assert!(req.body.len() < original.len());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&req.body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, original);
        let plain = finish_body(Vec::new(), original.clone(), false);
        assert_eq!(&plain.body[..], &original[..]);
    }
}
