//! Reading encoded requests back in tests: gunzip, the plain body, the gzip check, and a
//! readable rendering for snapshots.

use std::fmt::Write as _;
use std::io::Read as _;

use siem_core::{Encoded, EncodedRequest};

use crate::Adapter;

/// Decompresses a gzip body. Panics when `bytes` is not valid gzip.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Err(e) = flate2::read::GzDecoder::new(bytes).read_to_end(&mut out) {
        panic!("not valid gzip: {e}");
    }
    out
}

/// The body as sent, decompressed when gzip. Panics when it is not UTF-8.
pub fn plain_body(request: &EncodedRequest) -> String {
    let bytes = if request.gzip {
        gunzip(&request.body)
    } else {
        request.body.to_vec()
    };
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("body is not UTF-8: {e}"))
}

/// Asserts that `zipped` (encoded with gzip on) and `plain` (the same events, gzip off)
/// carry the same bytes: the first request of each is flagged as encoded, decompresses to
/// the other's body, and reports that body's length as its uncompressed length.
pub fn assert_gzip_of_plain(zipped: &Encoded, plain: &Encoded) {
    let (zipped, plain) = (&zipped.requests[0], &plain.requests[0]);
    assert!(zipped.gzip && !plain.gzip);
    assert_eq!(gunzip(&zipped.body), plain.body.to_vec());
    assert_eq!(zipped.uncompressed_len, plain.body.len());
}

/// Checks what every encoder does alike: the fixture batch encoded with `gzip` (gzip on)
/// is the same batch with `plain` (the same options, gzip off) compressed
/// ([`assert_gzip_of_plain`]), and an empty batch gives neither a request nor a
/// rejection.
pub fn check_gzip_and_empty_batch<A: Adapter>(gzip: &A, plain: &A) {
    let events = siem_core::testing::fixture_events();
    assert_gzip_of_plain(&gzip.encode(&events), &plain.encode(&events));
    let empty = gzip.encode(&[]);
    assert!(empty.requests.is_empty() && empty.rejected.is_empty());
}

/// A readable, exact rendering of encoded requests (posted to `url`) for snapshots: per
/// request a `--- request i: POST url` line, its gzip flag and sizes, and the plain body;
/// then one `--- rejected: reason` line per rejected event. Asserts that each request's
/// `uncompressed_len` matches its body.
pub fn render_requests(url: &str, encoded: &Encoded) -> String {
    let mut out = String::new();
    for (i, r) in encoded.requests.iter().enumerate() {
        let body = plain_body(r);
        assert_eq!(body.len(), r.uncompressed_len, "uncompressed_len");
        // Writing to a String cannot fail.
        let _ = writeln!(out, "--- request {i}: POST {url}");
        let _ = writeln!(
            out,
            "gzip: {}, events: {}, uncompressed bytes: {}",
            r.gzip,
            r.events.len(),
            r.uncompressed_len
        );
        out.push_str(&body);
        if !body.ends_with('\n') {
            out.push('\n');
        }
    }
    for r in &encoded.rejected {
        let _ = writeln!(out, "--- rejected: {}", r.reason);
    }
    out
}
