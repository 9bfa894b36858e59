//! This crate's test prelude: the generic helpers from `siem_core::testing` (fixtures,
//! credentials) and `siem_http::testing` (reading requests back).
#![allow(unused_imports)] // each test binary uses a different part

pub use siem_core::testing::{
    assert_json_contains, assert_rejected_as_too_large, assert_sent_all_but_big_events, big_event,
    fixture_event, fixture_events, fixtures, load_event, FailingCredential, RecordingCredential,
};
pub use siem_http::testing::{assert_gzip_of_plain, gunzip, plain_body, render_requests};
