//! `siem forward`: NDJSON events on stdin into the dispatcher.
//!
//! Unlike a gateway, which must never wait, `forward` is a pipe: it emits with
//! `Emitter::emit_wait_all` (a block of events at a time), so when a healthy sink's buffer
//! is full it stops reading until the worker makes room, and a large file is delivered
//! whole instead of being dropped (stdin simply backs up). A sink whose circuit is open
//! holds nobody up: its events go to its disk buffer, or are dropped and counted (memory
//! buffer), while the other sinks go on at their own pace.
//!
//! SIGINT/SIGTERM: stop reading, deliver what is buffered within `--flush-timeout`
//! (leaving the rest in disk buffers, or counting it undelivered), print the report, exit
//! 130/143. A second signal skips the delivery but still prints the report.
//!
//! A small thread only reads standard input, in blocks, so that waiting for input (a pipe
//! from a live gateway) never holds up sends, retries or linger timers. Everything else
//! (parsing, emitting, batching, encoding, sending) runs as tasks on one runtime thread
//! (see `main.rs`): an event is parsed, encoded and freed by the same core while it is
//! still in that core's cache, and no per-event hand-off between threads is paid.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use siem_core::SecurityEvent;
use siem_dispatch::{
    BufferKind, BufferOverrides, Dispatcher, EmitOutcome, DEFAULT_BUFFER_MAX_EVENTS,
    DEFAULT_CONCURRENCY, DEFAULT_MAX_EVENTS,
};
use siem_secrets::SecretResolver;

use crate::config::{self, Config, Credentials};
use crate::output;
use crate::progress::{self, Progress};
use crate::signals::Signals;
use crate::{EXIT_CONFIG, EXIT_FAILURES};

/// How many errors are printed one by one before only counting.
const MAX_PRINTED_ERRORS: usize = 20;

#[derive(Debug, Default, Clone, serde::Serialize)]
struct InputCounts {
    lines: u64,
    events: u64,
    malformed: u64,
    no_match: u64,
    /// Events read but not handed to the dispatcher because a signal stopped the input.
    not_emitted: u64,
    /// Events handed to the dispatcher (each got an outcome).
    #[serde(skip)]
    emitted: u64,
}

pub async fn run(
    config_path: &Path,
    flush_timeout: u64,
    json: bool,
    progress_every: Duration,
) -> u8 {
    let mut config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            crate::output::print_config_errors(&e, "siem forward");
            return EXIT_CONFIG;
        }
    };
    size_queues_for_forwarding(&mut config);
    let resolver = SecretResolver::builder().build();
    // Fetches every secret at once; a failure is reported by `build_orgs`, by sink and
    // field.
    let _ = resolver.prefetch(config.secret_refs()).await;
    let orgs = match config::build_orgs(&config, Credentials::Fetch(&resolver)).await {
        Ok(o) => o,
        Err(e) => {
            crate::output::print_config_errors(&e, "siem forward");
            return EXIT_CONFIG;
        }
    };
    let started = Instant::now();
    let mut builder = Dispatcher::builder();
    for org in orgs {
        builder = builder.org(org);
    }
    if let Some(dir) = &config.data_dir {
        builder = builder.data_dir(dir);
    }
    let dispatcher = match builder.start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("siem forward: {e}");
            return EXIT_CONFIG;
        }
    };
    let mut signals = Signals::install();
    let mut counts = InputCounts::default();
    let progress = Progress::for_stderr(progress_every);
    // Lines read so far, for the progress reports that run beside the reader.
    let lines_read = std::cell::Cell::new(0);
    let interrupted = tokio::select! {
        () = read_and_emit(&dispatcher, &mut counts, &lines_read) => None,
        signal = signals.next() => Some(signal),
        () = progress.run(&dispatcher, &lines_read, started) => None,
    };
    progress.finish();
    counts.not_emitted = counts.events.saturating_sub(counts.emitted);
    match interrupted {
        Some(signal) => eprintln!(
            "siem forward: {signal}: stopped reading after {} lines; delivering what is buffered \
             (up to {flush_timeout} s; send it again to stop at once)",
            counts.lines
        ),
        None => eprintln!(
            "siem forward: end of input after {} lines; delivering what is buffered (up to {flush_timeout} s)",
            counts.lines
        ),
    }
    let shutdown = dispatcher.shutdown(Duration::from_secs(flush_timeout));
    tokio::pin!(shutdown);
    let report = loop {
        tokio::select! {
            report = &mut shutdown => break report,
            signal = signals.next() => {
                eprintln!("siem forward: {signal} again: not waiting for delivery");
                dispatcher.abort();
            }
        }
    };
    let delivered = output::all_delivered(&report.stats) && report.complete;
    let elapsed = started.elapsed();
    if json {
        output::print_json(&serde_json::json!({
            "input": counts,
            "interrupted_by": interrupted,
            "elapsed_s": elapsed.as_secs_f64(),
            "delivered_per_s": report.stats.totals.delivered as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE),
            "complete": report.complete,
            "undelivered": report.undelivered,
            "left_in_buffer": report.left_in_buffer,
            "stats": report.stats,
        }));
    } else {
        eprintln!(
            "read {} lines: {} events, {} malformed, {} matched no sink{}",
            counts.lines,
            counts.events,
            counts.malformed,
            counts.no_match,
            if counts.not_emitted > 0 {
                format!(", {} not sent (interrupted)", counts.not_emitted)
            } else {
                String::new()
            }
        );
        eprint!("{}", output::stats_table(&report.stats));
        let totals = &report.stats.totals;
        eprintln!(
            "delivered {} of {} events in {:.1} s ({})",
            totals.delivered,
            totals.queued,
            elapsed.as_secs_f64(),
            progress::rate(totals.delivered, elapsed)
        );
        for left in &report.left_in_buffer {
            eprintln!(
                "org \"{}\", sink \"{}\": {} event(s) stay in the disk buffer and are delivered at the next start",
                left.org_id, left.sink, left.events
            );
        }
        for lost in &report.undelivered {
            eprintln!(
                "org \"{}\", sink \"{}\": {} event(s) not delivered before the flush timeout",
                lost.org_id, lost.sink, lost.events
            );
        }
    }
    match interrupted {
        Some(signal) => signal.exit_code(),
        None if delivered && counts.malformed == 0 => 0,
        None => EXIT_FAILURES,
    }
}

/// `forward` waits for room instead of dropping, so a sink's queue only has to hold what
/// its worker is about to batch and send: unless the configuration sets `queue_capacity`,
/// room for `concurrency + 1` batches. A larger queue would only keep events waiting long
/// enough to leave the CPU's cache (with the dispatcher's default of 20,000 events, a
/// million events cost about 10 % more CPU than with 3,000; BENCHMARKS.md) and keep more
/// of them in memory.
fn size_queues_for_forwarding(config: &mut Config) {
    for sink in config.orgs.iter_mut().flat_map(|org| org.sinks.iter_mut()) {
        if sink.buffer_kind() != BufferKind::Memory {
            // A disk buffer's staging ring is already a few batches.
            continue;
        }
        let delivery = &mut sink.delivery;
        let buffer = delivery.buffer.get_or_insert_with(BufferOverrides::default);
        if buffer.max_events.is_none() {
            let batch = delivery.max_events.unwrap_or(DEFAULT_MAX_EVENTS);
            let batches = delivery.concurrency.unwrap_or(DEFAULT_CONCURRENCY) + 1;
            buffer.max_events = Some(batch.saturating_mul(batches).min(DEFAULT_BUFFER_MAX_EVENTS));
        }
    }
}

/// Bytes read from standard input at a time: few enough syscalls (5,000 for a million
/// events), and small enough that the block is still in the core's cache when it is
/// parsed (with 1 MiB blocks, the kernel's copy into the buffer cost twice as much).
const INPUT_BLOCK: usize = 64 << 10;
/// Blocks read ahead of the parser.
const BLOCKS_AHEAD: usize = 4;

/// Parses every line of standard input and emits its event, block by block; lets the
/// workers run between blocks. Cancelled (dropped) when a signal stops the input: `counts`
/// then says how far it got.
async fn read_and_emit(
    dispatcher: &Dispatcher,
    counts: &mut InputCounts,
    lines_read: &std::cell::Cell<u64>,
) {
    let mut input = Input::open();
    let mut lines = LineSplitter::default();
    let mut events: Vec<Arc<SecurityEvent>> = Vec::with_capacity(INPUT_BLOCK / 128);
    let mut ended = false;
    while !ended {
        match input.next_block().await {
            Ok([]) => ended = true,
            Ok(block) => lines.feed(block, |line| take_line(line, counts, &mut events)),
            Err(e) => {
                eprintln!("siem forward: cannot read standard input: {e}");
                ended = true;
            }
        }
        if ended {
            lines.finish(|line| take_line(line, counts, &mut events));
        }
        let (no_match, emitted) = (&mut counts.no_match, &mut counts.emitted);
        dispatcher
            .emit_wait_all(events.drain(..), |outcome| {
                *emitted += 1;
                *no_match += u64::from(outcome == EmitOutcome::NoMatch);
            })
            .await;
        // Emitting only waits when a queue is full: give the workers their turn.
        tokio::task::yield_now().await;
        lines_read.set(counts.lines);
    }
}

/// Counts one line and parses it into `events`, or reports it.
fn take_line(
    line: Result<&[u8], String>,
    counts: &mut InputCounts,
    events: &mut Vec<Arc<SecurityEvent>>,
) {
    counts.lines += 1;
    match line.and_then(crate::events::parse_line_bytes) {
        Ok(None) => {}
        Ok(Some(event)) => {
            counts.events += 1;
            events.push(event);
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
}

/// Standard input, a block at a time.
enum Input {
    /// A regular file, read on the runtime thread: a read from a file does not wait for
    /// a writer, and the block is parsed by the core that copied it in.
    File { file: std::fs::File, block: Vec<u8> },
    /// Anything else (a pipe from a gateway, a terminal), read on a thread of its own so
    /// that waiting for input never holds up sends, retries or linger timers.
    Thread {
        blocks: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
        spent: std::sync::mpsc::Sender<Vec<u8>>,
        current: Vec<u8>,
    },
}

impl Input {
    fn open() -> Self {
        if let Some(file) = stdin_as_regular_file() {
            return Input::File {
                file,
                block: Vec::new(),
            };
        }
        let (blocks, spent) = spawn_stdin_reader();
        Input::Thread {
            blocks,
            spent,
            current: Vec::new(),
        }
    }

    /// The next block of input; empty at its end.
    async fn next_block(&mut self) -> std::io::Result<&[u8]> {
        match self {
            Input::File { file, block } => {
                let n = read_block(file, block)?;
                Ok(&block[..n])
            }
            Input::Thread {
                blocks,
                spent,
                current,
            } => {
                // The reader may have stopped already; then the block is simply freed.
                let _ = spent.send(std::mem::take(current));
                match blocks.recv().await {
                    Some(Ok(block)) => {
                        *current = block;
                        Ok(current)
                    }
                    Some(Err(e)) => Err(e),
                    None => Ok(&[]),
                }
            }
        }
    }
}

/// Standard input as a `File` when it is a regular file (`siem forward < events.ndjson`).
#[cfg(unix)]
fn stdin_as_regular_file() -> Option<std::fs::File> {
    use std::os::fd::AsFd as _;
    let file = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned().ok()?);
    file.metadata().ok()?.is_file().then_some(file)
}

#[cfg(not(unix))]
fn stdin_as_regular_file() -> Option<std::fs::File> {
    None
}

/// Reads up to one block into `block` (resized to a block; a reused block is still
/// nearly full length, so only its tail is zeroed again); returns the bytes read.
fn read_block(input: &mut impl std::io::Read, block: &mut Vec<u8>) -> std::io::Result<usize> {
    block.resize(INPUT_BLOCK, 0);
    loop {
        match input.read(block) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Starts the thread that reads standard input. It sends each block read (an error ends
/// it; end of input closes the channel) and takes spent blocks back for reuse.
fn spawn_stdin_reader() -> (
    tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    std::sync::mpsc::Sender<Vec<u8>>,
) {
    let (blocks_tx, blocks_rx) = tokio::sync::mpsc::channel(BLOCKS_AHEAD);
    let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut block = spent_rx.try_recv().unwrap_or_default();
            let message = match read_block(&mut stdin, &mut block) {
                Ok(0) => return,
                Ok(n) => {
                    block.truncate(n);
                    Ok(block)
                }
                Err(e) => Err(e),
            };
            let failed = message.is_err();
            // A closed channel means the parser stopped: nothing left to do.
            if blocks_tx.blocking_send(message).is_err() || failed {
                return;
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("siem-stdin".to_owned())
        .spawn(reader)
    {
        eprintln!("siem forward: cannot start the input thread: {e}");
    }
    (blocks_rx, spent_tx)
}

/// Lines longer than this are reported and skipped without being buffered.
const MAX_LINE: usize = 4 << 20;

/// Splits a byte stream, fed in blocks of any size, into lines (without their `\n`). A
/// line is handed out in place when it lies within one block; only a line that straddles
/// two blocks is copied.
#[derive(Debug, Default)]
struct LineSplitter {
    carry: Vec<u8>,
    oversized: bool,
}

impl LineSplitter {
    fn too_long() -> Result<&'static [u8], String> {
        Err(format!("line longer than {} MiB", MAX_LINE >> 20))
    }

    /// Hands every line that `block` completes to `each`.
    fn feed(&mut self, block: &[u8], mut each: impl FnMut(Result<&[u8], String>)) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', block) {
            let piece = &block[start..end];
            if self.oversized || self.carry.len() + piece.len() > MAX_LINE {
                each(Self::too_long());
            } else if self.carry.is_empty() {
                each(Ok(piece));
            } else {
                self.carry.extend_from_slice(piece);
                each(Ok(&self.carry));
            }
            self.carry.clear();
            self.oversized = false;
            start = end + 1;
        }
        let rest = &block[start..];
        if self.carry.len() + rest.len() > MAX_LINE {
            self.oversized = true;
            self.carry = Vec::new();
        } else if !self.oversized {
            self.carry.extend_from_slice(rest);
        }
    }

    /// At end of input: hands out the last line if it had no `\n`.
    fn finish(&mut self, mut each: impl FnMut(Result<&[u8], String>)) {
        if self.oversized {
            each(Self::too_long());
        } else if !self.carry.is_empty() {
            each(Ok(&self.carry));
        }
        self.carry = Vec::new();
        self.oversized = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_hold_a_few_batches_unless_configured() {
        let sink = |name: &str, settings: &str| {
            format!(
                "[[org.sink]]\nname = \"{name}\"\nplatform = \"splunk\"\nevents = [\"*\"]\n\
                 token = {{ static = \"t\" }}\nendpoint = \"https://splunk.invalid:8088\"\n{settings}\n"
            )
        };
        let text = [
            "[[org]]\nid = \"o\"\n".to_owned(),
            sink("defaults", ""),
            sink("bigger_batches", "max_events = 1000"),
            sink("more_in_flight", "max_events = 1000\nconcurrency = 4"),
            sink("explicit", "buffer = { max_events = 50000 }"),
            sink("disk", "buffer = { type = \"disk\" }"),
            sink("huge_batches", "max_events = 10000\nconcurrency = 8"),
        ]
        .concat();
        let text = format!("data_dir = \"/tmp/siem-test-unused\"\n{text}");
        let mut config = Config::parse(&text, Path::new("<test>")).unwrap();
        size_queues_for_forwarding(&mut config);
        let capacities: Vec<(&str, Option<usize>)> = config.orgs[0]
            .sinks
            .iter()
            .map(|s| {
                let buffer = s.delivery.buffer.as_ref();
                (s.name.as_str(), buffer.and_then(|b| b.max_events))
            })
            .collect();
        assert_eq!(
            capacities,
            [
                (
                    "defaults",
                    Some(DEFAULT_MAX_EVENTS * (DEFAULT_CONCURRENCY + 1))
                ),
                ("bigger_batches", Some(1000 * (DEFAULT_CONCURRENCY + 1))),
                ("more_in_flight", Some(5000)),
                ("explicit", Some(50000)),
                ("disk", None),
                ("huge_batches", Some(DEFAULT_BUFFER_MAX_EVENTS)),
            ]
        );
    }

    fn lines_of(input: &[u8], block: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut splitter = LineSplitter::default();
        let mut out = Vec::new();
        for piece in input.chunks(block) {
            splitter.feed(piece, |l| out.push(l.map(<[u8]>::to_vec)));
        }
        splitter.finish(|l| out.push(l.map(<[u8]>::to_vec)));
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
