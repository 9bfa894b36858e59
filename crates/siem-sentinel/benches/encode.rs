//! Encoder throughput beside a baseline of plain `serde_json::to_vec` of the same events'
//! canonical JSON, in the same run. gzip is measured separately (`encode_gzip`).
//!
//! `cargo bench -p siem-sentinel --bench encode -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::print_stderr, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use siem_core::SecurityEvent;
use siem_sentinel::{encoder, SentinelConfig, SentinelOptions};

fn fixture_events() -> Vec<Arc<SecurityEvent>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures/events exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("readable fixture");
            Arc::new(SecurityEvent::from_json(&text).expect("valid fixture"))
        })
        .collect()
}

fn options(gzip: bool) -> SentinelOptions {
    let dce = "https://aisg-dce-x1y2.westeurope-1.ingest.monitor.azure.com";
    let config = SentinelConfig {
        gzip,
        ..SentinelConfig::new(
            dce.parse().expect("url"),
            "dcr-00112233445566778899aabbccddeeff",
        )
    };
    config.sink_options().expect("options")
}

fn batch(n: usize) -> Vec<Arc<SecurityEvent>> {
    fixture_events().into_iter().cycle().take(n).collect()
}

fn bench(c: &mut Criterion) {
    for gzip in [false, true] {
        let name = if gzip { "encode_gzip" } else { "encode" };
        let mut group = c.benchmark_group(name);
        for n in [1usize, 100, 1000] {
            let events = batch(n);
            let plain: usize = encoder::encode(&events, &options(false))
                .requests
                .iter()
                .map(|r| r.uncompressed_len)
                .sum();
            let wire: usize = encoder::encode(&events, &options(gzip))
                .requests
                .iter()
                .map(|r| r.body.len())
                .sum();
            // The baseline serializes the same events as one JSON array of canonical events.
            let refs: Vec<&SecurityEvent> = events.iter().map(|e| &**e).collect();
            let baseline = serde_json::to_vec(&refs).expect("serializable").len();
            eprintln!(
                "{name}/{n}: {:.1} bytes/event on the wire ({:.1} uncompressed), baseline {:.1}",
                wire as f64 / n as f64,
                plain as f64 / n as f64,
                baseline as f64 / n as f64
            );
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("sentinel", n), &events, |b, events| {
                let options = options(gzip);
                b.iter(|| encoder::encode(std::hint::black_box(events), &options));
            });
            group.bench_with_input(
                BenchmarkId::new("serde_json_baseline", n),
                &refs,
                |b, refs| {
                    b.iter(|| {
                        serde_json::to_vec(std::hint::black_box(refs)).expect("serializable")
                    });
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
