//! `siem forward`: NDJSON events on stdin into the dispatcher.
//!
//! Unlike a gateway, which must never wait, `forward` is a pipe: it emits with
//! `Dispatcher::emit_wait`, so when a sink's queue is full it stops reading until the
//! worker makes room, and a large file is delivered whole instead of being dropped (stdin
//! simply backs up). A reader thread parses lines while the async side emits.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;
use std::time::{Duration, Instant};

use siem_core::SecurityEvent;
use siem_dispatch::{Dispatcher, EmitOutcome};
use siem_secrets::SecretResolver;

use crate::config::{self, Config};
use crate::output;
use crate::{EXIT_CONFIG, EXIT_FAILURES};

/// How many errors are printed one by one before only counting.
const MAX_PRINTED_ERRORS: usize = 20;
/// How often the progress line refreshes.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Default, Clone, serde::Serialize)]
struct InputCounts {
    lines: u64,
    events: u64,
    malformed: u64,
    no_match: u64,
}

pub async fn run(config_path: &Path, flush_timeout: u64, json: bool) -> u8 {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("siem forward: {e}");
            return EXIT_CONFIG;
        }
    };
    let resolver = SecretResolver::builder().build();
    if let Err(e) = resolver.prefetch(config.secret_refs()).await {
        eprintln!("siem forward: {e}");
        return EXIT_CONFIG;
    }
    let orgs = match config::build_orgs(&config, &resolver).await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("siem forward: {e}");
            return EXIT_CONFIG;
        }
    };
    let dispatcher = match Dispatcher::start(orgs) {
        Ok(d) => std::sync::Arc::new(d),
        Err(e) => {
            eprintln!("siem forward: {e}");
            return EXIT_CONFIG;
        }
    };
    let (chunks_tx, mut chunks_rx) =
        tokio::sync::mpsc::channel::<Vec<SecurityEvent>>(CHUNKS_IN_FLIGHT);
    let progress_view = dispatcher.clone();
    let reader = tokio::task::spawn_blocking(move || read_stdin(&chunks_tx, &progress_view));
    let mut no_match = 0;
    while let Some(chunk) = chunks_rx.recv().await {
        for event in chunk {
            if dispatcher.emit_wait(event).await == EmitOutcome::NoMatch {
                no_match += 1;
            }
        }
    }
    let mut counts = match reader.await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("siem forward: the reader stopped: {e}");
            return EXIT_FAILURES;
        }
    };
    counts.no_match = no_match;
    let report = dispatcher
        .shutdown(Duration::from_secs(flush_timeout))
        .await;
    let delivered = output::all_delivered(&report.stats) && report.complete;
    if json {
        output::print_json(&serde_json::json!({
            "input": counts,
            "complete": report.complete,
            "undelivered": report.undelivered,
            "stats": report.stats,
        }));
    } else {
        eprintln!(
            "read {} lines: {} events, {} malformed, {} matched no sink",
            counts.lines, counts.events, counts.malformed, counts.no_match
        );
        eprint!("{}", output::stats_table(&report.stats));
    }
    if delivered && counts.malformed == 0 {
        0
    } else {
        EXIT_FAILURES
    }
}

/// Events handed from the reader thread to the emitter at a time.
const CHUNK: usize = 512;
/// Chunks buffered between them (bounds memory while the dispatcher applies backpressure).
const CHUNKS_IN_FLIGHT: usize = 4;

fn read_stdin(
    chunks: &tokio::sync::mpsc::Sender<Vec<SecurityEvent>>,
    dispatcher: &Dispatcher,
) -> InputCounts {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let progress = std::io::stderr().is_terminal();
    let mut counts = InputCounts::default();
    let mut line = String::new();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut last_progress = Instant::now();
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("siem forward: cannot read standard input: {e}");
                break;
            }
        }
        counts.lines += 1;
        match crate::events::parse_line(&line) {
            Ok(None) => continue,
            Ok(Some(event)) => {
                counts.events += 1;
                chunk.push(event);
                if chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if chunks.blocking_send(full).is_err() {
                        break;
                    }
                }
            }
            Err(message) => {
                counts.malformed += 1;
                if counts.malformed as usize <= MAX_PRINTED_ERRORS {
                    eprintln!("siem forward: line {}: {message} (skipped)", counts.lines);
                } else if counts.malformed as usize == MAX_PRINTED_ERRORS + 1 {
                    eprintln!("siem forward: more malformed lines; counting them silently");
                }
            }
        }
        if progress && counts.lines % 1024 == 0 && last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            let t = dispatcher.stats().totals;
            eprint!(
                "\r{} lines, {} queued, {} delivered, {} failed, {} dropped   ",
                counts.lines, t.queued, t.delivered, t.failed, t.dropped
            );
        }
    }
    if !chunk.is_empty() {
        let _ = chunks.blocking_send(chunk);
    }
    if progress {
        eprintln!();
    }
    counts
}
