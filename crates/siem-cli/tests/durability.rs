//! Durability of `siem forward` as an operator meets it: a disk buffer survives `kill -9`;
//! SIGTERM and SIGINT still print the report; a damaged buffer file is reported and the
//! rest delivered.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use siem_testkit::{Fault, SplunkEmulator};
use support::*;

/// The SIEM is down: it answers every request with a 503.
fn siem_down(siem: &SplunkEmulator) {
    siem.set_outage_fault(Some(Fault::status(503)));
    siem.set_outage(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_the_siem_down_then_a_restart_delivers_every_event_at_least_once() {
    let (dir, siem, config) = one_splunk_sink(
        "kill9",
        "buffer = { type = \"disk\" }\ninitial_backoff_ms = 50\nbreaker_backoff_ms = 200\n",
    )
    .await;
    siem_down(&siem);
    let input = events_file(&dir, 20_000);
    let mut child = forward(&config, Stdio::piped());
    {
        // Written through a pipe that stays open: forward is still running when killed.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&std::fs::read(&input).unwrap()).unwrap();
        stdin.flush().unwrap();
        // Linger (500 ms) and a commit later, everything is on disk.
        std::thread::sleep(Duration::from_secs(3));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert!(
        siem.stats().requests > 0,
        "it tried while the SIEM was down"
    );
    siem.set_outage(false);
    let restarted = forward(&config, Stdio::null());
    let (code, report, stderr) =
        tokio::task::block_in_place(|| finish(restarted, Duration::from_secs(60)));
    assert_eq!(code, 0, "{stderr}");
    let counts = sink_counts(&report, "splunk");
    assert_eq!(n(counts, "recovered"), 20_000, "{counts}");
    assert_eq!(n(counts, "delivered"), 20_000, "{counts}");
    let received = siem.received();
    let mut ids: Vec<&str> = received.iter().map(|e| e.event_id.as_str()).collect();
    ids.sort_unstable();
    let total = ids.len() as u64;
    ids.dedup();
    assert_eq!(ids.len(), 20_000, "every event id arrived");
    // Duplicates are possible only for batches sent before the kill, and counted.
    assert!(total - 20_000 <= n(counts, "redelivered"), "{counts}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_forward_prints_the_report_and_its_sums_hold() {
    let (dir, siem, config) = one_splunk_sink("sigterm", "max_events = 100\n").await;
    siem.set_latency(Duration::from_millis(300));
    let input = events_file(&dir, 5_000);
    // Forward waits for the slow SIEM (lossless backpressure): the signal arrives while
    // it waits, with input still coming.
    let mut child = forward(&config, Stdio::piped());
    let writer = feed(child.stdin.take().unwrap(), std::fs::read(&input).unwrap());
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let started = Instant::now();
    let (code, report, stderr) =
        tokio::task::block_in_place(|| finish(child, Duration::from_secs(FLUSH_TIMEOUT_S + 5)));
    writer.join().unwrap();
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert_eq!(report["interrupted_by"], "SIGTERM");
    let input = &report["input"];
    let counts = sink_counts(&report, "splunk");
    let emitted = n(input, "events") - n(input, "not_emitted");
    assert_accounted(counts, emitted);
    assert!(n(counts, "delivered") > 0);
    assert!(started.elapsed() <= Duration::from_secs(FLUSH_TIMEOUT_S + 5));

    // A second signal skips the delivery but still reports.
    siem.set_latency(Duration::from_secs(30));
    let mut child = forward(&config, Stdio::piped());
    let writer = feed(
        child.stdin.take().unwrap(),
        std::fs::read(dir.join("events-5000.ndjson")).unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let (code, report, stderr) =
        tokio::task::block_in_place(|| finish(child, Duration::from_secs(3)));
    writer.join().unwrap();
    assert_eq!(code, 130, "{stderr}");
    assert_eq!(report["interrupted_by"], "SIGINT");
    let counts = sink_counts(&report, "splunk");
    let emitted = n(&report["input"], "events") - n(&report["input"], "not_emitted");
    assert_accounted(counts, emitted);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_buffer_file_is_reported_and_the_rest_is_delivered() {
    let (dir, siem, config) = one_splunk_sink(
        "damaged",
        "buffer = { type = \"disk\" }\nmax_events = 100\n",
    )
    .await;
    let input = events_file(&dir, 2_000);
    // All 2,000 events stay on disk.
    siem_down(&siem);
    let child = forward(&config, Stdio::from(std::fs::File::open(&input).unwrap()));
    let (_, report, stderr) =
        tokio::task::block_in_place(|| finish(child, Duration::from_secs(30)));
    assert_eq!(
        n(sink_counts(&report, "splunk"), "buffered"),
        2_000,
        "{stderr}"
    );

    // Damage the middle of a few records: overwrite event ids found in the file.
    let file = dir.join("data/org_acme/splunk/buffer.redb");
    let mut bytes = std::fs::read(&file).unwrap();
    let needle = b"\"event_id\":\"00000000-0000-4000-8000-0000000010";
    let mut damaged = 0;
    let mut at = 0;
    while let Some(pos) = find(&bytes[at..], needle) {
        let start = at + pos + needle.len() - 20;
        bytes[start..start + 20].copy_from_slice(&[b'#'; 20]);
        damaged += 1;
        at = start + 20;
    }
    assert!(damaged > 0);
    std::fs::write(&file, &bytes).unwrap();

    siem.set_outage(false);
    let child = forward(&config, Stdio::null());
    let (code, report, stderr) =
        tokio::task::block_in_place(|| finish(child, Duration::from_secs(30)));
    let counts = sink_counts(&report, "splunk");
    assert_eq!(n(counts, "recovered"), 2_000, "{counts}");
    // Each overwritten id breaks its line (redb keeps old copies of pages too, so some
    // hits may be in space no longer in use): only those lines are lost.
    let lost = n(counts, "damaged");
    assert!(lost > 0 && lost <= damaged, "{counts}");
    assert_eq!(n(counts, "delivered") + lost, 2_000, "{counts}");
    assert_eq!(code, 1, "damage is a failure: {stderr}");
    assert_eq!(counts["last_error"]["kind"], "damaged", "{counts}");

    // A file that is not a buffer at all is moved aside and reported, never a crash.
    std::fs::write(&file, vec![0x5a; 64 * 1024]).unwrap();
    let child = forward(&config, Stdio::null());
    let (code, report, stderr) =
        tokio::task::block_in_place(|| finish(child, Duration::from_secs(30)));
    assert_eq!(code, 0, "{stderr}");
    let counts = sink_counts(&report, "splunk");
    assert!(
        counts["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("moved aside"),
        "{counts}"
    );
    let aside = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("damaged")
        })
        .count();
    assert_eq!(aside, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `siem forward` of `input` under a file size limit of `kib` KiB.
fn forward_file_with_limit(
    config: &std::path::Path,
    input: &std::path::Path,
    kib: u64,
) -> std::process::Child {
    forward_with_file_limit(
        config,
        Stdio::from(std::fs::File::open(input).unwrap()),
        kib,
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Writes `input` to a child's stdin from a thread of its own (the child may stop reading
/// long before the end: a broken pipe is expected then).
fn feed(mut stdin: std::process::ChildStdin, input: Vec<u8>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_refuses_to_grow_is_named_at_start_and_every_event_is_accounted_for() {
    let dir = dir("full-disk");
    let (siem, ca) = splunk(&dir, "siem").await;
    let disk_sink = |extra: &str| {
        let settings = format!("buffer = {{ type = \"disk\" }}\nmax_events = 100\n{extra}");
        let sink = sink_toml("splunk", &siem.endpoint().to_string(), &ca, &settings);
        write_config(&dir, &[sink])
    };
    let config = disk_sink("");
    let input = events_file(&dir, 2_000);

    // Not even room to create the buffer: a configuration-time error naming the sink and
    // the file (it once took the refusal for damage and moved files aside in a loop).
    let child = forward_file_with_limit(&config, &input, 64);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sink `splunk`")
            && stderr.contains("buffer.redb")
            && stderr.contains("File too large"),
        "{stderr}"
    );
    let sink_dir = dir.join("data").join("org_acme").join("splunk");
    let files: Vec<_> = std::fs::read_dir(&sink_dir).unwrap().collect();
    assert_eq!(files.len(), 1, "nothing moved aside: {files:?}");
    std::fs::remove_dir_all(dir.join("data")).unwrap();

    // Room to open, not to grow: batches waiting for a slow SIEM cannot be written. The
    // write error is reported, delivery goes on from memory, and nothing is lost: what
    // was written before the disk refused is read back once the file is reopened, or,
    // while it cannot be, stays on disk for the next start (it was once counted as
    // damaged, as redb refuses every read of a handle after a failed write).
    siem.set_latency(Duration::from_millis(300));
    let child = forward_file_with_limit(&config, &input, 2_048);
    let (code, report, stderr) =
        tokio::task::block_in_place(|| finish(child, Duration::from_secs(60)));
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
    let counts = sink_counts(&report, "splunk");
    assert_accounted(counts, 2_000);
    assert_eq!(
        (n(counts, "failed"), n(counts, "damaged")),
        (0, 0),
        "{counts}"
    );
    let (delivered, left) = (n(counts, "delivered"), n(counts, "buffered"));
    assert!(delivered > 0, "{counts}");
    assert_eq!(delivered + left, 2_000, "{counts}");

    // With room again, the next start delivers what was left.
    siem.set_latency(Duration::ZERO);
    let child = forward(&config, Stdio::null());
    let (code, report, stderr) =
        tokio::task::block_in_place(|| finish(child, Duration::from_secs(60)));
    assert_eq!(code, 0, "{stderr}");
    let counts = sink_counts(&report, "splunk");
    assert_eq!(n(counts, "recovered"), left, "{counts}");
    assert_eq!(n(counts, "delivered"), left, "{counts}");
    let mut ids: Vec<String> = siem.received().into_iter().map(|e| e.event_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 2_000, "every event id arrived");

    // A SIEM that is down and a disk that refuses: events the disk never took would be
    // lost with the process, so they are failed and dead-lettered at exit (ready to
    // replay), not reported as left in the buffer; only what is on disk is. With 3,000
    // events the dead-letter file fits under the same size limit; with 6,000 it does
    // not, and the file then holds exactly the lines counted, never half a batch.
    let config = disk_sink("dead_letter = \"dead.ndjson\"\n");
    siem_down(&siem);
    for events in [3_000, 6_000] {
        std::fs::remove_dir_all(dir.join("data")).unwrap();
        let _ = std::fs::remove_file(dir.join("dead.ndjson"));
        let input = events_file(&dir, events);
        let child = forward_file_with_limit(&config, &input, 2_048);
        let (code, report, stderr) =
            tokio::task::block_in_place(|| finish(child, Duration::from_secs(60)));
        assert_eq!(code, 1, "{stderr}");
        let counts = sink_counts(&report, "splunk");
        assert_accounted(counts, events as u64);
        let failed = n(counts, "failed");
        assert!(failed > 0, "{counts}");
        assert_eq!(
            n(counts, "buffered"),
            n(&counts["buffer"], "disk_events"),
            "{counts}"
        );
        let dead = std::fs::read_to_string(dir.join("dead.ndjson")).unwrap();
        assert!(dead.is_empty() || dead.ends_with('\n'), "half a line");
        let lines = dead.lines().count() as u64;
        assert_eq!(lines, n(counts, "dead_lettered"), "{counts}");
        if events == 3_000 {
            assert_eq!(lines, failed, "{counts} {stderr}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
