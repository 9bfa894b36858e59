//! This crate's test prelude: the generic helpers from `siem_core::testing` (fixtures,
//! credentials) and `siem_http::testing` (reading requests back).
#![allow(unused_imports)] // each test binary uses a different part

pub use siem_core::testing::{
    assert_json_contains, fixture_event, fixture_events, fixtures, load_event, FailingCredential,
    RecordingCredential,
};
pub use siem_http::testing::{gunzip, plain_body, render_requests};
