//! A conformance suite for [`SiemSink`] implementations.
//!
//! Call [`check_encoding`] (pure, no network) and, with the sink pointed at a receiver that
//! accepts everything, [`check_delivery`] from your sink's tests:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use siem_core::testing::{conformance, MemorySink};
//! let sink = MemorySink::new("memory").with_max_events_per_request(2);
//! conformance::check_encoding(&sink).unwrap();
//! conformance::check_delivery(&sink, None).await.unwrap();
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use crate::testing::sample_events;
use crate::{Secret, SecurityEvent, SiemSink};

/// The contract rules a sink broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConformanceFailures(pub Vec<String>);

impl fmt::Display for ConformanceFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} conformance failure(s):", self.0.len())?;
        for failure in &self.0 {
            writeln!(f, "- {failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConformanceFailures {}

fn batch(n: usize) -> Vec<Arc<SecurityEvent>> {
    sample_events()
        .into_iter()
        .cycle()
        .take(n)
        .map(Arc::new)
        .collect()
}

/// Checks the pure half of the contract: names, coverage and order of `encode`, empty
/// batches, determinism, and re-encoding a half (which the dispatcher does on 413).
pub fn check_encoding(sink: &dyn SiemSink) -> Result<(), ConformanceFailures> {
    let mut failures = Vec::new();
    if sink.name().is_empty() {
        failures.push("name() is empty".to_owned());
    }
    if sink.platform().is_empty() {
        failures.push("platform() is empty".to_owned());
    }
    let empty = sink.encode(&[]);
    if !empty.requests.is_empty() || !empty.rejected.is_empty() {
        failures.push("encode(&[]) produced requests or rejections".to_owned());
    }
    for n in [1, 6, 250] {
        let events = batch(n);
        let encoded = sink.encode(&events);
        let mut seen: Vec<_> = encoded
            .requests
            .iter()
            .flat_map(|r| r.events.iter())
            .chain(encoded.rejected.iter().map(|r| &r.event))
            .map(|e| e.event_id())
            .collect();
        let in_requests: Vec<_> = encoded
            .requests
            .iter()
            .flat_map(|r| r.events.iter().map(|e| e.event_id()))
            .collect();
        let expected_order: Vec<_> = events
            .iter()
            .map(|e| e.event_id())
            .filter(|id| in_requests.contains(id))
            .collect();
        if in_requests != expected_order {
            failures.push(format!("batch of {n}: requests do not keep input order"));
        }
        seen.sort();
        let mut expected: Vec<_> = events.iter().map(|e| e.event_id()).collect();
        expected.sort();
        // Sample batches repeat ids when n > 6, so compare multisets.
        if seen != expected {
            failures.push(format!(
                "batch of {n}: {} events in, {} out across requests and rejections",
                expected.len(),
                seen.len()
            ));
        }
        for (i, r) in encoded.requests.iter().enumerate() {
            if r.events.is_empty() || r.body.is_empty() {
                failures.push(format!("batch of {n}: request {i} is empty"));
            }
            if r.uncompressed_len < r.body.len() && !r.gzip {
                failures.push(format!(
                    "batch of {n}: request {i} reports uncompressed_len below its body length"
                ));
            }
        }
        let again = sink.encode(&events);
        let bodies = |e: &crate::Encoded| {
            e.requests
                .iter()
                .map(|r| r.body.clone())
                .collect::<Vec<_>>()
        };
        if bodies(&encoded) != bodies(&again) {
            failures.push(format!("batch of {n}: encode is not deterministic"));
        }
        // The dispatcher hands its batches over: `encode_owned` must split them the same
        // way, holding the very events it was given.
        let owned = sink.encode_owned(events.clone());
        let holders = |e: &crate::Encoded| {
            let ptrs = |v: &mut dyn Iterator<Item = &Arc<SecurityEvent>>| {
                v.map(|e| Arc::as_ptr(e) as usize).collect::<Vec<_>>()
            };
            (
                e.requests
                    .iter()
                    .map(|r| ptrs(&mut r.events.iter()))
                    .collect::<Vec<_>>(),
                ptrs(&mut e.rejected.iter().map(|r| &r.event)),
            )
        };
        if bodies(&owned) != bodies(&encoded) || holders(&owned) != holders(&encoded) {
            failures.push(format!(
                "batch of {n}: encode_owned differs from encode (bodies or events)"
            ));
        }
        if let Some(first) = encoded.requests.first() {
            let half = &first.events[..first.events.len().div_ceil(2)];
            let re = sink.encode(half);
            let count: usize =
                re.requests.iter().map(|r| r.events.len()).sum::<usize>() + re.rejected.len();
            if count != half.len() {
                failures.push(format!(
                    "batch of {n}: re-encoding half a request lost events"
                ));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ConformanceFailures(failures))
    }
}

/// Checks delivery against a receiver that accepts everything: every request of a sample
/// batch is acknowledged, `deliver` reports the batch complete, and (when the sink's
/// secret is given) the sink's `Debug` output does not contain it.
pub async fn check_delivery(
    sink: &dyn SiemSink,
    secret: Option<&Secret>,
) -> Result<(), ConformanceFailures> {
    let mut failures = Vec::new();
    let events = batch(12);
    let encoded = sink.encode(&events);
    for (i, request) in encoded.requests.iter().enumerate() {
        if let Err(e) = sink.send(request).await {
            failures.push(format!(
                "send of request {i} failed on a healthy receiver: {e}"
            ));
        }
    }
    let report = sink.deliver(&events).await;
    if !report.is_complete() {
        failures.push(format!(
            "deliver reported {} delivered, {} undelivered, {} rejected, error {:?}",
            report.delivered,
            report.undelivered,
            report.rejected.len(),
            report.error
        ));
    }
    if let Some(secret) = secret {
        let debug = format!("{sink:?}");
        if debug.contains(secret.expose()) {
            failures.push("Debug output of the sink contains its secret".to_owned());
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ConformanceFailures(failures))
    }
}
