//! How fast an emulator validates and counts events: one 1000-event request per
//! iteration over real TLS (keep-alive), in count-only mode as a 1M-event run uses it.
//!
//! `cargo bench -p siem-testkit --bench ingest`

use std::io::Write as _;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use serde_json::json;
use siem_testkit::{
    DatadogEmulator, DatadogEmulatorConfig, Recording, SentinelEmulator, SentinelEmulatorConfig,
    SplunkEmulator, SplunkEmulatorConfig,
};
use tokio::runtime::Runtime;

const BATCH: usize = 1000;

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

fn events() -> Vec<serde_json::Value> {
    let samples = siem_core::testing::sample_events();
    (0..BATCH)
        .map(|i| serde_json::to_value(&samples[i % samples.len()]).unwrap())
        .collect()
}

fn client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// Benchmarks sending `gzipped` with the request that `request` builds, which must be
/// answered `status`.
fn bench_posts(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    (name, status): (&str, u16),
    gzipped: &bytes::Bytes,
    request: impl Fn() -> reqwest::RequestBuilder,
) {
    group.bench_function(name, |b| {
        b.iter(|| {
            rt.block_on(async {
                let request = request().header("Content-Encoding", "gzip");
                let response = request.body(gzipped.clone()).send().await.unwrap();
                assert_eq!(response.status(), status);
            })
        })
    });
}

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("emulator_ingest");
    group.throughput(Throughput::Elements(BATCH as u64));

    let splunk = rt
        .block_on(SplunkEmulator::start(SplunkEmulatorConfig {
            recording: Recording::CountOnly,
            max_content_length: 10_000_000,
            ..Default::default()
        }))
        .unwrap();
    let body: String = events()
        .into_iter()
        .map(|e| {
            json!({"event": e, "time": 1_780_949_730.0, "sourcetype": "aisg:security"}).to_string()
        })
        .collect();
    let body = bytes::Bytes::from(gzip(body.as_bytes()));
    let http = client(splunk.ca_pem());
    let auth = format!("Splunk {}", splunk.token());
    bench_posts(&mut group, &rt, ("splunk_1000_gzip", 200), &body, || {
        http.post(splunk.event_url()).header("Authorization", &auth)
    });

    let datadog = rt
        .block_on(DatadogEmulator::start(DatadogEmulatorConfig {
            recording: Recording::CountOnly,
            ..Default::default()
        }))
        .unwrap();
    let items: Vec<_> = events()
        .into_iter()
        .map(|mut e| {
            e["ddsource"] = json!("aisg");
            e["status"] = json!("alert");
            e
        })
        .collect();
    let body = bytes::Bytes::from(gzip(json!(items).to_string().as_bytes()));
    let http = client(datadog.ca_pem());
    bench_posts(&mut group, &rt, ("datadog_1000_gzip", 202), &body, || {
        http.post(datadog.logs_url())
            .header("DD-API-KEY", datadog.api_key())
            .header("Content-Type", "application/json")
    });

    let sentinel = rt
        .block_on(SentinelEmulator::start(SentinelEmulatorConfig {
            recording: Recording::CountOnly,
            max_call_bytes: 10_000_000,
            ..Default::default()
        }))
        .unwrap();
    let samples = siem_core::testing::sample_events();
    let records: Vec<_> = (0..BATCH)
        .map(|i| {
            let e = &samples[i % samples.len()];
            json!({
                "TimeGenerated": e.timestamp().to_string(),
                "EventId": e.event_id().to_string(),
                "EventType": e.event_type().as_str(),
                "Severity": "High",
                "OrgId": e.org_id().as_str(),
                "ProjectId": e.project_id().as_str(),
                "RequestId": e.request_id().map(|r| r.as_str()),
                "Source": e.source().as_str(),
                "Details": e.details(),
            })
        })
        .collect();
    let body = bytes::Bytes::from(gzip(json!(records).to_string().as_bytes()));
    let http = client(sentinel.ca_pem());
    let token = sentinel.entra().issue_token();
    bench_posts(&mut group, &rt, ("sentinel_1000_gzip", 204), &body, || {
        http.post(sentinel.ingestion_url())
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
