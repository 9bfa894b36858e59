//! Parsing canonical event JSON: `SecurityEvent::from_json` (the hand-written reader for
//! the usual shapes, which `siem forward` runs on every line) beside serde's derived
//! `Deserialize` of the same text (what the reader falls back to).
//!
//! `cargo bench -p siem-core --bench parse -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::print_stderr, missing_docs)]

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use siem_core::SecurityEvent;

/// The fixture events (one per gateway event type), compact, as `siem forward` reads them.
fn fixture_lines() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("fixtures/events")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("read");
            serde_json::from_str::<serde_json::Value>(&text)
                .expect("json")
                .to_string()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = fixture_lines();
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(lines.len() as u64));
    eprintln!(
        "{} events, {} bytes each on average",
        lines.len(),
        bytes / lines.len()
    );
    group.bench_function("from_json", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(SecurityEvent::from_json(line).expect("event"));
            }
        })
    });
    group.bench_function("serde_derive_baseline", |b| {
        b.iter(|| {
            for line in &lines {
                std::hint::black_box(serde_json::from_str::<SecurityEvent>(line).expect("event"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
