//! This crate's test prelude: the generic helpers from `siem_core::testing` (fixtures,
//! credentials) and `siem_http::testing` (reading requests back), and the options the
//! encoder and snapshot tests start from.
#![allow(unused_imports, dead_code)] // each test binary uses a different part

pub use siem_core::testing::{
    assert_json_contains, assert_rejected_as_too_large, assert_sent_all_but_big_events, big_event,
    fixture_event, fixture_events, fixtures, fixtures_with_big_events, load_event,
    pii_blocked_needing_escapes, FailingCredential, RecordingCredential,
};
pub use siem_http::testing::{check_gzip_and_empty_batch, gunzip, plain_body, render_requests};

use siem_core::Endpoint;
use siem_splunk::{SplunkConfig, SplunkOptions};

/// The options of the test configuration, changed by `f`.
pub fn opts(f: impl FnOnce(&mut SplunkConfig)) -> SplunkOptions {
    let mut c = SplunkConfig::new(Endpoint::parse("https://splunk.example.com:8088").unwrap());
    f(&mut c);
    c.sink_options().unwrap()
}
