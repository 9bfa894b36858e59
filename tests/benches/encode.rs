//! The three encoders' throughput, side by side, beside a plain `serde_json` baseline of
//! the same events.
//!
//! `cargo bench -p siem-tests --bench encode -- --warm-up-time 1 --measurement-time 3`
//!
//! - `serde_json_baseline`: `serde_json::to_vec` of the events' canonical JSON.
//! - `<platform>`: the encoder, gzip off (the comparison the 1.5× target is about).
//! - `<platform>_gzip`: the encoder with gzip (level 1).
#![allow(clippy::print_stderr, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use siem_core::{Encoded, Endpoint, SecurityEvent};
use siem_http::Adapter;

type Encoder = Box<dyn Fn(&[Arc<SecurityEvent>]) -> Encoded>;

/// Each platform's encoder with gzip on or off, limits high enough that one batch is one
/// request (the benchmark measures encoding, not splitting).
fn encoders(gzip: bool) -> Vec<(&'static str, Encoder)> {
    let endpoint = |url: &str| Endpoint::parse(url).expect("url");
    let splunk = siem_splunk::SplunkConfig {
        index: Some("main".into()),
        gzip,
        max_body_bytes: 100_000_000,
        ..siem_splunk::SplunkConfig::new(endpoint("https://splunk.example.com:8088"))
    };
    let datadog = siem_datadog::DatadogConfig {
        env: Some("production".into()),
        hostname: Some("aisg-proxy".into()),
        tags: vec!["team:security".into()],
        gzip,
        ..Default::default()
    };
    let dce = endpoint("https://aisg-dce-x1y2.westeurope-1.ingest.monitor.azure.com");
    let sentinel = siem_sentinel::SentinelConfig {
        gzip,
        ..siem_sentinel::SentinelConfig::new(dce, "dcr-00112233445566778899aabbccddeeff")
    };
    let splunk = splunk.sink_options().expect("splunk");
    let datadog = datadog.sink_options().expect("datadog");
    let sentinel = sentinel.sink_options().expect("sentinel");
    vec![
        ("splunk", Box::new(move |e: &[_]| splunk.encode(e))),
        ("datadog", Box::new(move |e: &[_]| datadog.encode(e))),
        ("sentinel", Box::new(move |e: &[_]| sentinel.encode(e))),
    ]
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/events");
    let fixtures = siem_core::testing::fixture_events_in(&dir);
    let (plain, zipped) = (encoders(false), encoders(true));
    let mut group = c.benchmark_group("encode");
    for n in [1usize, 100, 1000] {
        let events: Vec<Arc<SecurityEvent>> = fixtures.iter().cycle().take(n).cloned().collect();
        let refs: Vec<&SecurityEvent> = events.iter().map(|e| &**e).collect();
        let baseline = serde_json::to_vec(&refs).expect("json").len();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("serde_json_baseline", n), &refs, |b, r| {
            b.iter(|| serde_json::to_vec(std::hint::black_box(r)).expect("json"))
        });
        for ((name, encode), (_, encode_gzip)) in plain.iter().zip(&zipped) {
            let size = |e: Encoded| e.requests.iter().map(|r| r.body.len()).sum::<usize>();
            eprintln!(
                "{name}/{n}: bytes/event baseline {:.0}, encoded {:.0}, gzip {:.0} (wire)",
                baseline as f64 / n as f64,
                size(encode(&events)) as f64 / n as f64,
                size(encode_gzip(&events)) as f64 / n as f64,
            );
            group.bench_with_input(BenchmarkId::new(*name, n), &events, |b, e| {
                b.iter(|| encode(std::hint::black_box(e)))
            });
            let gzip_name = format!("{name}_gzip");
            group.bench_with_input(BenchmarkId::new(gzip_name, n), &events, |b, e| {
                b.iter(|| encode_gzip(std::hint::black_box(e)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
