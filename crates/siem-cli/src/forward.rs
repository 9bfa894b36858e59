//! `siem forward`: NDJSON events on stdin into the dispatcher.
//!
//! Unlike a gateway, which must never wait, `forward` is a pipe: it emits with
//! `Dispatcher::emit_wait`, so when a sink's queue is full it stops reading until the
//! worker makes room, and a large file is delivered whole instead of being dropped (stdin
//! simply backs up). One blocking thread reads, parses and emits; the runtime's workers
//! batch, encode and send.

use std::io::{BufRead, IsTerminal as _};
use std::path::Path;
use std::sync::Arc;
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
    let reader_view = dispatcher.clone();
    let runtime = tokio::runtime::Handle::current();
    let reader = tokio::task::spawn_blocking(move || read_stdin(&reader_view, &runtime));
    let counts = match reader.await {
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

/// Bytes read from standard input at a time: few enough syscalls (5,000 for a million
/// events), and small enough that the block is still in the core's cache when it is
/// parsed (with 1 MiB blocks, the kernel's copy into the buffer cost twice as much).
const INPUT_BUFFER: usize = 64 << 10;
/// Events parsed before they are emitted together (one `block_on` per chunk).
const CHUNK: usize = 256;

/// Reads, parses and emits on one blocking thread: each event is shared (`Arc`) right
/// after parsing, while it is still in this core's cache, and no hand-off to another
/// thread is paid per event.
fn read_stdin(dispatcher: &Dispatcher, runtime: &tokio::runtime::Handle) -> InputCounts {
    let mut input = std::io::BufReader::with_capacity(INPUT_BUFFER, std::io::stdin().lock());
    let progress = std::io::stderr().is_terminal();
    let mut counts = InputCounts::default();
    let mut chunk: Vec<Arc<SecurityEvent>> = Vec::with_capacity(CHUNK);
    let emit_chunk = |chunk: &mut Vec<Arc<SecurityEvent>>, counts: &mut InputCounts| {
        runtime.block_on(async {
            for event in chunk.drain(..) {
                if dispatcher.emit_wait_arc(event).await == EmitOutcome::NoMatch {
                    counts.no_match += 1;
                }
            }
        });
    };
    let mut last_progress = Instant::now();
    let read = for_each_line(&mut input, |line| {
        counts.lines += 1;
        match line.and_then(crate::events::parse_line_bytes) {
            Ok(None) => {}
            Ok(Some(event)) => {
                counts.events += 1;
                chunk.push(Arc::new(event));
                if chunk.len() == CHUNK {
                    emit_chunk(&mut chunk, &mut counts);
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
    });
    if let Err(e) = read {
        eprintln!("siem forward: cannot read standard input: {e}");
    }
    emit_chunk(&mut chunk, &mut counts);
    if progress {
        eprintln!();
    }
    counts
}

/// The longest input line accepted; a longer one is reported as malformed and skipped
/// (without buffering it), so a stream without newlines cannot exhaust memory.
const MAX_LINE: usize = 4 << 20;

/// Calls `each` with every line of `input` (without its `\n`) or, for a line over
/// [`MAX_LINE`], with an error. Lines are borrowed from the reader's buffer, not copied,
/// unless they straddle two reads.
fn for_each_line<R: BufRead>(
    input: &mut R,
    mut each: impl FnMut(Result<&[u8], String>),
) -> std::io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut oversized = false;
    let too_long = || Err(format!("line longer than {} MiB", MAX_LINE >> 20));
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if oversized {
                each(too_long());
            } else if !carry.is_empty() {
                each(Ok(&carry));
            }
            return Ok(());
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', buf) {
            let piece = &buf[start..end];
            if oversized || carry.len() + piece.len() > MAX_LINE {
                each(too_long());
            } else if carry.is_empty() {
                each(Ok(piece));
            } else {
                carry.extend_from_slice(piece);
                each(Ok(&carry));
            }
            carry.clear();
            oversized = false;
            start = end + 1;
        }
        let rest = &buf[start..];
        if carry.len() + rest.len() > MAX_LINE {
            oversized = true;
            carry = Vec::new();
        } else if !oversized {
            carry.extend_from_slice(rest);
        }
        let used = buf.len();
        input.consume(used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8], buffer: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut reader = std::io::BufReader::with_capacity(buffer, input);
        let mut out = Vec::new();
        for_each_line(&mut reader, |l| out.push(l.map(<[u8]>::to_vec))).unwrap();
        out
    }

    #[test]
    fn lines_are_split_the_same_whatever_the_buffer_size() {
        let input = b"{\"a\":1}\n\n{\"b\":22}\r\nlast-without-newline";
        let expected: Vec<Result<Vec<u8>, String>> = vec![
            Ok(b"{\"a\":1}".to_vec()),
            Ok(b"".to_vec()),
            Ok(b"{\"b\":22}\r".to_vec()),
            Ok(b"last-without-newline".to_vec()),
        ];
        for buffer in [1, 2, 3, 7, 64, 1 << 20] {
            assert_eq!(
                lines_of(input, buffer),
                expected,
                "buffer of {buffer} bytes"
            );
        }
    }

    #[test]
    fn an_overlong_line_is_an_error_and_the_next_lines_still_arrive() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nok\n");
        input.extend(std::iter::repeat_n(b'y', MAX_LINE + 1));
        for buffer in [4096, 1 << 20] {
            let got = lines_of(&input, buffer);
            assert_eq!(got.len(), 3, "buffer of {buffer} bytes");
            assert!(got[0].as_ref().unwrap_err().contains("longer than 4 MiB"));
            assert_eq!(got[1], Ok(b"ok".to_vec()));
            assert!(got[2].is_err());
        }
    }
}
