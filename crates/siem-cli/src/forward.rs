//! `siem forward`: NDJSON events on stdin into the dispatcher.
//!
//! Unlike a gateway, which must never wait, `forward` is a pipe: when a sink's queue fills
//! up it stops reading until the queue has drained to half, so a large file is delivered
//! whole instead of being dropped (stdin simply backs up).

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;
use std::time::{Duration, Instant};

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
    let reader = dispatcher.clone();
    let counts = match tokio::task::spawn_blocking(move || read_stdin(&reader)).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("siem forward: the reader stopped: {e}");
            return EXIT_FAILURES;
        }
    };
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

fn read_stdin(dispatcher: &Dispatcher) -> InputCounts {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let progress = std::io::stderr().is_terminal();
    let mut counts = InputCounts::default();
    let mut line = String::new();
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
                if counts.events % 256 == 0 {
                    wait_for_room(dispatcher);
                }
                if dispatcher.emit(event) == EmitOutcome::NoMatch {
                    counts.no_match += 1;
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
    if progress {
        eprintln!();
    }
    counts
}

/// Blocks the reader while any sink's queue is more than half full.
fn wait_for_room(dispatcher: &Dispatcher) {
    loop {
        let stats = dispatcher.stats();
        let busy = stats
            .orgs
            .iter()
            .flat_map(|o| o.sinks.iter())
            .any(|s| s.queue_depth * 2 > s.queue_capacity);
        if !busy {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
