//! What the `siem forward` tests against emulators share: event files, configurations,
//! running the binary with a bound, reading its JSON report.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use siem_testkit::{SplunkEmulator, SplunkEmulatorConfig};

/// `--flush-timeout` of every run.
pub const FLUSH_TIMEOUT_S: u64 = 3;

pub fn dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("siem-cli-isolation-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` events of org_acme, cycling through the fixtures, each with an id of its own.
pub fn events_file(dir: &Path, n: usize) -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events");
    let mut templates: Vec<serde_json::Value> = std::fs::read_dir(fixtures)
        .unwrap()
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    templates.sort_by_key(|t| t["event_type"].to_string());
    let mut out = String::with_capacity(n * 300);
    for i in 0..n {
        let mut e = templates[i % templates.len()].clone();
        e["org_id"] = "org_acme".into();
        e["event_id"] = format!("00000000-0000-4000-8000-{i:012}").into();
        out.push_str(&e.to_string());
        out.push('\n');
    }
    let path = dir.join(format!("events-{n}.ndjson"));
    std::fs::write(&path, out).unwrap();
    path
}

pub async fn splunk(dir: &Path, name: &str) -> (SplunkEmulator, PathBuf) {
    let emulator = SplunkEmulator::start(SplunkEmulatorConfig {
        token: "test-token".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let ca = dir.join(format!("{name}-ca.pem"));
    emulator.write_ca_pem(&ca).unwrap();
    (emulator, ca)
}

pub fn sink_toml(name: &str, endpoint: &str, ca: &Path, extra: &str) -> String {
    format!(
        "[[org.sink]]\nname = \"{name}\"\nplatform = \"splunk\"\nendpoint = \"{endpoint}\"\n\
         token = {{ env = \"TEST_HEC_TOKEN\" }}\nca_file = \"{}\"\nevents = [\"*\"]\n{extra}\n",
        ca.display()
    )
}

pub fn write_config(dir: &Path, sinks: &[String]) -> PathBuf {
    let text = format!(
        "data_dir = \"{}\"\n[[org]]\nid = \"org_acme\"\n{}",
        dir.join("data").display(),
        sinks.concat()
    );
    let path = dir.join("siem.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A directory of the test's own, a Splunk emulator, and a configuration of one sink
/// `splunk` sending to it with `extra` keys: `(dir, emulator, config)`.
pub async fn one_splunk_sink(name: &str, extra: &str) -> (PathBuf, SplunkEmulator, PathBuf) {
    let dir = dir(name);
    let (emulator, ca) = splunk(&dir, "siem").await;
    let sink = sink_toml("splunk", &emulator.endpoint().to_string(), &ca, extra);
    let config = write_config(&dir, &[sink]);
    (dir, emulator, config)
}

pub fn forward(config: &Path, stdin: Stdio) -> Child {
    forward_in(Command::new(env!("CARGO_BIN_EXE_siem")), config, stdin)
}

/// [`forward`] with files limited to `kib` KiB (`ulimit -f`; going past it fails the write
/// with EFBIG instead of killing the process): a disk that refuses to grow.
pub fn forward_with_file_limit(config: &Path, stdin: Stdio, kib: u64) -> Child {
    let mut bash = Command::new("bash");
    bash.arg("-c")
        .arg(format!("ulimit -f {kib}; trap '' XFSZ; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_siem"));
    forward_in(bash, config, stdin)
}

fn forward_in(mut command: Command, config: &Path, stdin: Stdio) -> Child {
    command
        .args(["forward", "--json", "--flush-timeout"])
        .arg(FLUSH_TIMEOUT_S.to_string())
        .arg("--config")
        .arg(config)
        .env("TEST_HEC_TOKEN", "test-token")
        .env("RUST_LOG", "error")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the process to exit (at most `bound`), returning its exit code and report.
pub fn finish(child: Child, bound: Duration) -> (i32, serde_json::Value, String) {
    let started = Instant::now();
    let pid = child.id();
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait.recv_timeout(bound + Duration::from_secs(30))
            == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        {
            // The test has failed by then; do not leave the process behind.
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    });
    let output = child.wait_with_output().unwrap();
    let took = started.elapsed();
    drop(done);
    let _ = watchdog.join();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        took <= bound,
        "forward took {took:?}, bound {bound:?}: {stderr}"
    );
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {stderr}"));
    (output.status.code().unwrap_or(-1), report, stderr)
}

pub fn sink_counts<'a>(report: &'a serde_json::Value, sink: &str) -> &'a serde_json::Value {
    report["stats"]["orgs"][0]["sinks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == sink)
        .unwrap()
}

pub fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// Every event of a sink is in exactly one place.
pub fn assert_accounted(sink: &serde_json::Value, accepted: u64) {
    assert_eq!(n(sink, "accepted"), accepted, "{sink}");
    assert_eq!(n(sink, "in_flight"), 0, "{sink}");
    assert_eq!(
        n(sink, "delivered") + n(sink, "failed") + n(sink, "dropped") + n(sink, "buffered"),
        accepted,
        "{sink}"
    );
}

/// Polls until the emulator accepted `target` events; returns how long it took from `since`.
pub async fn until_received(emulator: &SplunkEmulator, target: u64, since: Instant) -> Duration {
    loop {
        if emulator.stats().accepted_events >= target {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(120),
            "never received {target}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
