//! `send-test` and `forward` against local emulators, with tokens from the environment.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};

use assert_cmd::Command;
use siem_testkit::Emulators;

fn config_for(emulators: &Emulators, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let retry = "max_attempts = 2\ninitial_backoff_ms = 10";
    let text = format!(
        "[[org]]\nid = \"org_acme\"\n{}\n[[org]]\nid = \"org_globex\"\n{}",
        emulators.sink_table(
            "splunk",
            "splunk",
            r#"{ env = "TEST_HEC_TOKEN" }"#,
            &format!("events = [\"*\"]\n{retry}"),
        ),
        emulators.sink_table(
            "datadog",
            "datadog",
            r#"{ env = "TEST_DD_KEY" }"#,
            &format!("events = [\"dlp.pii_redacted\"]\n{retry}"),
        ),
    );
    let path = dir.join("siem.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The emulators, and a directory of the test's own (`siem-{name}-…`) holding a
/// configuration that points at them ([`config_for`]): `(emulators, dir, config)`.
async fn set_up(name: &str) -> (Emulators, PathBuf, PathBuf) {
    let emulators = siem_testkit::start_all().await.unwrap();
    let dir = std::env::temp_dir().join(format!("siem-{name}-{}", std::process::id()));
    let config = config_for(&emulators, &dir);
    (emulators, dir, config)
}

fn fixture_ndjson() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/events");
    let mut lines: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

fn siem(emulators: &Emulators) -> Command {
    Command::from_std(siem_std(emulators))
}

/// The same command as a plain `std::process::Command` (whose stdin can be a file).
fn siem_std(emulators: &Emulators) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_siem"));
    cmd.env("TEST_HEC_TOKEN", emulators.splunk.token())
        .env("TEST_DD_KEY", emulators.datadog.api_key())
        .env_remove("RUST_LOG")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_reaches_every_sink_and_reports_json() {
    let (emulators, _, config) = set_up("send-test").await;
    let output = tokio::task::block_in_place(|| {
        siem(&emulators)
            .args(["send-test", "--json", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    });
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["all_delivered"], true);
    assert_eq!(result["results"].as_array().unwrap().len(), 2);
    assert_eq!(emulators.splunk.received()[0].event_type, "siem.test");
    assert_eq!(emulators.datadog.received()[0].event_type, "siem.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_reports_the_platforms_refusal_and_exits_1() {
    let (emulators, _, config) = set_up("send-test-bad").await;
    let output = tokio::task::block_in_place(|| {
        siem(&emulators)
            .env("TEST_HEC_TOKEN", "wrong-token")
            .args([
                "send-test",
                "--org",
                "org_acme",
                "--sink",
                "splunk",
                "--config",
            ])
            .arg(&config)
            .output()
            .unwrap()
    });
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("403") && err.contains("Invalid token"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-token"),
        "the token must not be printed: {err}"
    );
}

/// How `forward` gets its input: it reads a regular file on its runtime thread and
/// anything else (a pipe from a gateway) on a thread of its own.
#[derive(Debug, Clone, Copy)]
enum Stdin {
    Pipe,
    File,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_delivers_ndjson_from_a_pipe_and_skips_malformed_lines_by_number() {
    forward_delivers_the_fixtures(Stdin::Pipe).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_delivers_ndjson_from_a_file_and_skips_malformed_lines_by_number() {
    forward_delivers_the_fixtures(Stdin::File).await;
}

async fn forward_delivers_the_fixtures(stdin: Stdin) {
    let (emulators, dir, config) = set_up(&format!("forward-{stdin:?}")).await;
    let input = format!("{}not json\n", fixture_ndjson());
    let output = tokio::task::block_in_place(|| match stdin {
        Stdin::Pipe => siem(&emulators)
            .args(["forward", "--json", "--config"])
            .arg(&config)
            .write_stdin(input)
            .output()
            .unwrap(),
        Stdin::File => {
            let path = dir.join("events.ndjson");
            std::fs::write(&path, input).unwrap();
            let mut cmd = siem_std(&emulators);
            cmd.args(["forward", "--json", "--config"])
                .arg(&config)
                .stdin(std::fs::File::open(&path).unwrap())
                .output()
                .unwrap()
        }
    });
    // A malformed line makes the run exit 1, but everything else is delivered.
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("line 6"), "{err}");
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["input"]["lines"], 6);
    assert_eq!(result["input"]["events"], 5);
    assert_eq!(result["input"]["malformed"], 1);
    // org_acme's three fixture events go to Splunk; org_globex's redaction to Datadog
    // (its loop event matches no subscription).
    assert_eq!(emulators.splunk.received().len(), 3);
    assert_eq!(emulators.datadog.received().len(), 1);
    assert_eq!(result["stats"]["totals"]["delivered"], 4);
}

/// A gateway's pipe stays open between events: what arrived must still be delivered
/// (after the sink's linger), not held until more input or the end of input.
/// `siem forward <option> --config <config>` reading a pipe that stays open, the first
/// fixture event written to it; `(stdout, stderr)` are the child's.
fn forward_from_an_open_pipe(
    emulators: &Emulators,
    config: &Path,
    option: &str,
    (stdout, stderr): (Stdio, Stdio),
) -> (Child, ChildStdin) {
    use std::io::Write as _;
    let first = fixture_ndjson().lines().next().unwrap().to_owned();
    let mut child = siem_std(emulators)
        .args(["forward", option, "--config"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{first}").unwrap();
    stdin.flush().unwrap();
    (child, stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_delivers_while_a_pipe_stays_open() {
    let (emulators, _, config) = set_up("forward-open").await;
    let (child, stdin) = forward_from_an_open_pipe(
        &emulators,
        &config,
        "--json",
        (Stdio::piped(), Stdio::null()),
    );
    let delivered = |emulators: &Emulators| {
        emulators.splunk.received().len() + emulators.datadog.received().len()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while delivered(&emulators) == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let arrived_while_open = delivered(&emulators);
    drop(stdin);
    let output = tokio::task::block_in_place(|| child.wait_with_output().unwrap());
    assert_eq!(
        arrived_while_open, 1,
        "the event waited for the end of input"
    );
    assert_eq!(output.status.code(), Some(0));
}

/// The common failures come with what to do: an untrusted certificate points at
/// `ca_file`, a refused credential names which one (HEC token, API key, client secret).
/// Causes stand whole below the table, so no row is wider than its cells.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_failures_come_with_hints() {
    let emulators = siem_testkit::start_all().await.unwrap();
    let dir = std::env::temp_dir().join(format!("siem-hints-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (wrong, events) = (r#"{ env = "WRONG" }"#, r#"events = ["*"]"#);
    // A sink that does not trust the emulators' CA: the table without its `ca_file`.
    let right = r#"{ env = "TEST_HEC_TOKEN" }"#;
    let untrusted: String = emulators
        .sink_table("splunk", "splunk-untrusted", right, events)
        .lines()
        .filter(|line| !line.starts_with("ca_file"))
        .map(|line| format!("{line}\n"))
        .collect();
    let text = format!(
        "[[org]]\nid = \"org_acme\"\n{untrusted}{}{}{}",
        emulators.sink_table("splunk", "splunk-wrong-token", wrong, events),
        emulators.sink_table("datadog", "datadog-wrong-key", wrong, events),
        emulators.sink_table("sentinel", "sentinel-wrong-secret", wrong, events),
    );
    let config = dir.join("siem.toml");
    std::fs::write(&config, text).unwrap();
    let output = tokio::task::block_in_place(|| {
        siem(&emulators)
            .env("WRONG", "wrong-credential-value")
            .env("RUST_LOG", "off")
            .args(["send-test", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    });
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    let cause_of = |sink: &str| {
        let start = err
            .find(&format!("org \"org_acme\", sink \"{sink}\": "))
            .unwrap_or_else(|| panic!("{sink}: {err}"));
        let rest = &err[start..];
        let hint = rest.lines().nth(1).unwrap_or_default();
        assert!(hint.starts_with("    hint: "), "{sink}: {err}");
        (rest.lines().next().unwrap().to_owned(), hint.to_owned())
    };
    let (cause, hint) = cause_of("splunk-untrusted");
    assert!(cause.contains("UnknownIssuer"), "{cause}");
    assert!(hint.contains("ca_file = "), "{hint}");
    let (cause, hint) = cause_of("splunk-wrong-token");
    assert!(cause.contains("403"), "{cause}");
    assert!(hint.contains("HEC token"), "{hint}");
    let (_, hint) = cause_of("datadog-wrong-key");
    assert!(hint.contains("API key"), "{hint}");
    let (cause, hint) = cause_of("sentinel-wrong-secret");
    assert!(cause.contains("401"), "{cause}");
    assert!(hint.contains("client_secret"), "{hint}");
    // The table's rows stay narrow: causes are only numbered in it.
    let widest = err
        .lines()
        .filter(|l| l.starts_with("org_acme "))
        .map(str::len)
        .max()
        .unwrap();
    assert!(widest < 100, "{err}");
    assert!(!err.contains("wrong-credential-value"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// When stderr is a log file or a pipe, progress comes as plain lines every few seconds
/// (here every 20 ms), not as a redrawn bar; the report ends with the elapsed time and
/// the rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_reports_progress_in_plain_lines_and_ends_with_a_rate() {
    use std::io::BufRead as _;
    let (emulators, dir, config) = set_up("forward-progress").await;
    let (mut child, stdin) = forward_from_an_open_pipe(
        &emulators,
        &config,
        "--progress-every-ms=20",
        (Stdio::null(), Stdio::piped()),
    );
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    // The input stays open: the progress line comes on its own, not at the end.
    let progress = tokio::task::block_in_place(|| {
        stderr
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.starts_with("siem forward: 1 lines read, 1 queued, 1 delivered"))
    });
    assert!(
        progress.is_some(),
        "no progress line while the input was open"
    );
    drop(stdin);
    let rest: Vec<String> = tokio::task::block_in_place(|| stderr.map_while(Result::ok).collect());
    let status = tokio::task::block_in_place(|| child.wait().unwrap());
    assert_eq!(status.code(), Some(0), "{rest:?}");
    let summary = rest
        .iter()
        .find(|l| l.starts_with("delivered 1 of 1 events in "))
        .unwrap_or_else(|| panic!("{rest:?}"));
    assert!(summary.ends_with(" events/s)"), "{summary}");
    // No terminal: no bar, no escape codes.
    assert!(
        rest.iter()
            .all(|l| !l.contains('\u{1b}') && !l.contains('\r')),
        "{rest:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
