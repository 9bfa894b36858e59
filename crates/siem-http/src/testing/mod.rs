//! Test support (feature `testing`, never for production): a throwaway CA and an HTTPS
//! test server on 127.0.0.1 whose answers a test scripts with a closure.
//!
//! Adapter tests use it to prove, over real TLS, that the extra-CA option works and that
//! an untrusted certificate is refused; `siem-testkit` builds the platform emulators on
//! it.
//!
//! - [`TestCa`]: a CA made up on the spot; issues server certificates.
//! - [`HttpsServer`]: the one HTTPS server on 127.0.0.1 that every test endpoint runs on
//!   (HTTP/1.1, HTTP/2 when negotiated, any async handler); the emulators use it directly.
//! - [`TlsTestServer`]: `start` (own CA), `start_with_ca` (shared CA),
//!   `start_untrusted` (a certificate the advertised CA did not issue). It records every
//!   [`TestRequest`] and answers with the handler's [`TestResponse`], which can be
//!   delayed, hang, redirect or stream an endless body.
//! - [`gunzip`], [`plain_body`], [`render_requests`], [`assert_gzip_of_plain`]: read
//!   encoded requests back; [`check_gzip_and_empty_batch`]: what every encoder does alike.
//! - [`example_sink_tables`], [`settings_from_json`], [`http_response`]: configuration
//!   and classification test inputs; [`for_loopback_mock`]: client settings for a
//!   wiremock server.
//! - [`check_tls`], [`check_transport`], [`check_status_table`], [`check_build_errors`]:
//!   the TLS, transport, status and build checks of every adapter (CA file trusted,
//!   another CA refused, an endless answer cut short, timeouts, redirects, capped error
//!   text, credential failures, secrets kept out of text, conformance, each answer's
//!   class, detail and credential invalidation, a bad CA or an empty name refused).
//! - [`send_first`], [`outcome_class`] and the `assert_*` checks: what every sink's
//!   send tests check the same way.

mod ca;
mod config;
mod outcomes;
mod requests;
mod server;
mod tls;

pub use ca::{ServerCert, TestCa};
pub use config::{
    assert_example_configs_post_over_https, example_configs, example_sink_tables,
    for_loopback_mock, http_response, settings_from_json, CLI_SINK_KEYS,
};
pub use outcomes::{
    assert_message_cut_short, assert_secret_absent, assert_timed_out, outcome_class, send_first,
    OutcomeClass,
};
pub use requests::{
    assert_gzip_of_plain, check_gzip_and_empty_batch, gunzip, plain_body, render_requests,
};
pub use server::{HttpsServer, Listen, TestBody, TestRequest, TestResponse, TlsTestServer, HANG};
pub use tls::{
    check_build_errors, check_status_table, check_tls, check_transport, SinkSetup, StatusCase,
};

/// The test CA or server could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TestServerError {
    /// A key or certificate could not be generated.
    #[error("cannot make the test {what}: {reason}")]
    Certificate {
        /// Which one, e.g. "CA key".
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// rustls refused the server configuration.
    #[error("cannot configure TLS for the test server: {reason}")]
    Tls {
        /// Why.
        reason: String,
    },
    /// No port on 127.0.0.1 could be opened.
    #[error("cannot listen on 127.0.0.1: {reason}")]
    Bind {
        /// Why.
        reason: String,
    },
}
