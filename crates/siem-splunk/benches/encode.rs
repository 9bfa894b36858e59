//! Encoder throughput beside a plain `serde_json` baseline of the same events.
//!
//! `cargo bench -p siem-splunk --bench encode -- --warm-up-time 1 --measurement-time 3`
//!
//! - `serde_json_baseline`: `serde_json::to_vec` of the events' canonical JSON.
//! - `encode`: the HEC encoder, gzip off (the comparison the 1.5× target is about).
//! - `encode_gzip`: the HEC encoder with gzip (level 1), measured separately.
#![allow(clippy::print_stderr, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use siem_core::{Endpoint, SecurityEvent};
use siem_splunk::{encode, SplunkConfig, SplunkOptions};

fn fixture_events() -> Vec<SecurityEvent> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures/events")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            SecurityEvent::from_json(&std::fs::read_to_string(p).expect("read")).expect("event")
        })
        .collect()
}

fn options(gzip: bool) -> SplunkOptions {
    SplunkConfig {
        index: Some("main".into()),
        gzip,
        max_body_bytes: 100_000_000, // one request per batch: measure encoding, not splitting
        ..SplunkConfig::new(Endpoint::parse("https://splunk.example.com:8088").expect("url"))
    }
    .sink_options()
    .expect("options")
}

fn bench(c: &mut Criterion) {
    let fixtures = fixture_events();
    let plain_options = options(false);
    let gzip_options = options(true);
    let mut group = c.benchmark_group("splunk");
    for n in [1usize, 100, 1000] {
        let plain: Vec<SecurityEvent> = fixtures.iter().cycle().take(n).cloned().collect();
        let arcs: Vec<Arc<SecurityEvent>> = plain.iter().cloned().map(Arc::new).collect();

        let baseline_len = serde_json::to_vec(&plain).expect("json").len();
        let encoded = encode(&arcs, &plain_options);
        let zipped = encode(&arcs, &gzip_options);
        let body_len: usize = encoded.requests.iter().map(|r| r.body.len()).sum();
        let gzip_len: usize = zipped.requests.iter().map(|r| r.body.len()).sum();
        eprintln!(
            "batch {n}: bytes/event baseline {:.0}, encode {:.0}, encode_gzip {:.0} (wire)",
            baseline_len as f64 / n as f64,
            body_len as f64 / n as f64,
            gzip_len as f64 / n as f64,
        );

        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::new("serde_json_baseline", n),
            &plain,
            |b, p| b.iter(|| serde_json::to_vec(p).expect("json")),
        );
        group.bench_with_input(BenchmarkId::new("encode", n), &arcs, |b, e| {
            b.iter(|| encode(e, &plain_options))
        });
        group.bench_with_input(BenchmarkId::new("encode_gzip", n), &arcs, |b, e| {
            b.iter(|| encode(e, &gzip_options))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
