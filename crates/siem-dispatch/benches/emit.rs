//! `emit` on the hot path: 1 and 8 sinks, 1 and 4 emitting threads, with the workers
//! draining on a tokio runtime; plus allocations per emit, counted by a global allocator.
//!
//! `cargo bench -p siem-dispatch --bench emit -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::alloc::System;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use siem_core::testing::sample_events_for;
use siem_core::{
    async_trait, Ack, DeliveryError, Encoded, EncodedRequest, SecurityEvent, SiemSink,
};
use siem_dispatch::{BatchPolicy, BufferPolicy, Dispatcher, Emitter, OrgConfig, SinkConfig};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Accepts everything at once, encodes nothing: the bench measures the dispatcher.
#[derive(Debug)]
struct NullSink(String);

#[async_trait]
impl SiemSink for NullSink {
    fn name(&self) -> &str {
        &self.0
    }
    fn platform(&self) -> &'static str {
        "null"
    }
    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded {
        Encoded {
            requests: vec![EncodedRequest {
                events: events.to_vec(),
                body: bytes::Bytes::from_static(b"[]"),
                gzip: false,
                uncompressed_len: 2,
            }],
            rejected: Vec::new(),
        }
    }
    async fn send(&self, _request: &EncodedRequest) -> Result<Ack, DeliveryError> {
        Ok(Ack { status: 200 })
    }
}

fn org(sinks: usize, capacity: usize, linger: Duration) -> OrgConfig {
    // With a long linger, batches are big enough that workers only run between rounds.
    let max_events = if linger >= Duration::from_secs(1) {
        50_000
    } else {
        1000
    };
    let mut org = OrgConfig::new("org_bench").unwrap();
    for i in 0..sinks {
        org.push_sink(
            SinkConfig::new(Arc::new(NullSink(format!("sink{i}"))))
                .batch(
                    BatchPolicy::default()
                        .max_events(max_events)
                        .max_bytes(256 << 20)
                        .linger(linger),
                )
                .buffer(BufferPolicy::memory().max_events(capacity)),
        );
    }
    org
}

fn event() -> SecurityEvent {
    sample_events_for("org_bench").remove(0)
}

/// Allocations per emit, with the workers not running (a runtime nobody drives), so only
/// `emit` itself is counted.
fn count_allocations() {
    const N: usize = 20_000;
    for sinks in [1, 8] {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let d = Dispatcher::builder()
            .runtime(rt.handle().clone())
            .org(org(sinks, 1 << 16, Duration::from_secs(1)))
            .start()
            .unwrap();
        let events: Vec<SecurityEvent> = (0..N).map(|_| event()).collect();
        let region = Region::new(GLOBAL);
        for e in events {
            black_box(d.emit(e));
        }
        let owned = region.change();
        let shared: Vec<Arc<SecurityEvent>> = (0..N).map(|_| Arc::new(event())).collect();
        let region = Region::new(GLOBAL);
        for e in shared {
            black_box(d.emit_arc(e));
        }
        let arc = region.change();
        println!(
            "allocations per emit, {sinks} sink(s): emit(event) {:.3} (the event's Arc), emit_arc {:.3}",
            owned.allocations as f64 / N as f64,
            arc.allocations as f64 / N as f64,
        );
        let stats = d.stats();
        assert_eq!(stats.totals.dropped, 0);
        rt.block_on(async { drop(d.shutdown(Duration::from_secs(10)).await) });
    }
}

/// Emits `iters` events in timed rounds of at most `ROUND`, draining the queues (untimed)
/// between rounds: the cost of `emit` itself, with queues neither full nor being drained.
const ROUND: u64 = 20_000;

fn timed_rounds(
    rt: &tokio::runtime::Runtime,
    d: &Dispatcher,
    iters: u64,
    threads: u64,
    arc: bool,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    let emitter = d.emitter();
    while left > 0 {
        let round = left.min(ROUND);
        left -= round;
        let per_thread = round.div_ceil(threads) as usize;
        if threads == 1 {
            total += emit_round(&emitter, per_thread, arc, None);
            rt.block_on(async { black_box(d.flush(Duration::from_secs(30)).await) });
            continue;
        }
        let barrier = Barrier::new(threads as usize + 1);
        let elapsed = std::thread::scope(|s| {
            for _ in 0..threads {
                let emitter = emitter.clone();
                let barrier = &barrier;
                s.spawn(move || emit_round(&emitter, per_thread, arc, Some(barrier)));
            }
            barrier.wait();
            Instant::now()
        })
        .elapsed();
        total += elapsed;
        rt.block_on(async { black_box(d.flush(Duration::from_secs(30)).await) });
    }
    total
}

/// Emits `n` events from this thread and returns the time it took.
fn emit_round(emitter: &Emitter, n: usize, arc: bool, barrier: Option<&Barrier>) -> Duration {
    if arc {
        let pool: Vec<Arc<SecurityEvent>> = (0..n.min(256)).map(|_| Arc::new(event())).collect();
        let _ = barrier.map(Barrier::wait);
        let start = Instant::now();
        for k in 0..n {
            black_box(emitter.emit_arc(pool[k % pool.len()].clone()));
        }
        start.elapsed()
    } else {
        let template = event();
        let events: Vec<SecurityEvent> = (0..n).map(|_| template.clone()).collect();
        let _ = barrier.map(Barrier::wait);
        let start = Instant::now();
        for e in events {
            black_box(emitter.emit(e));
        }
        start.elapsed()
    }
}

fn bench_emit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("emit");
    for sinks in [1, 8] {
        let d = Dispatcher::builder()
            .runtime(rt.handle().clone())
            .org(org(sinks, 1 << 16, Duration::from_secs(1)))
            .start()
            .unwrap();
        for threads in [1, 4] {
            for arc in [false, true] {
                let name = if arc { "emit_arc" } else { "emit" };
                group.bench_function(format!("{sinks}_sinks/{threads}_threads/{name}"), |b| {
                    b.iter_custom(|iters| timed_rounds(&rt, &d, iters, threads, arc));
                });
            }
        }
        let stats = d.stats();
        println!(
            "{sinks} sink(s), drained between rounds: {} queued, {} dropped",
            stats.totals.queued, stats.totals.dropped
        );
        rt.block_on(async { drop(d.shutdown(Duration::from_secs(30)).await) });

        // The same while the workers drain concurrently on the other core: emit competes
        // with its consumers for the CPU and the queue's cache lines, and drops whenever
        // emitting outpaces delivery.
        let d = Dispatcher::builder()
            .runtime(rt.handle().clone())
            .org(org(sinks, 1 << 16, Duration::from_millis(5)))
            .start()
            .unwrap();
        let template = event();
        group.bench_function(format!("{sinks}_sinks/1_thread/emit/while_draining"), |b| {
            b.iter_batched(|| template.clone(), |e| d.emit(e), BatchSize::SmallInput);
        });
        let stats = d.stats();
        println!(
            "{sinks} sink(s), while draining: {} queued, {} dropped",
            stats.totals.queued, stats.totals.dropped
        );
        rt.block_on(async { drop(d.shutdown(Duration::from_secs(30)).await) });
    }
    group.finish();
}

fn main() {
    count_allocations();
    let mut c = Criterion::default().configure_from_args();
    bench_emit(&mut c);
    c.final_summary();
}
