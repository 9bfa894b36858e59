//! `send-test` and `forward` against local emulators, with tokens from the environment.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use siem_testkit::{Emulators, EmulatorsConfig};

fn config_for(emulators: &Emulators, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        r#"
[[org]]
id = "org_acme"

[[org.sink]]
name = "splunk"
platform = "splunk"
endpoint = "{splunk}"
token = {{ env = "TEST_HEC_TOKEN" }}
ca_file = "{ca}"
events = ["*"]
max_attempts = 2
initial_backoff_ms = 10

[[org]]
id = "org_globex"

[[org.sink]]
name = "datadog"
platform = "datadog"
endpoint = "{datadog}"
token = {{ env = "TEST_DD_KEY" }}
ca_file = "{ca}"
events = ["dlp.pii_redacted"]
max_attempts = 2
initial_backoff_ms = 10
"#,
        splunk = emulators.splunk.endpoint(),
        datadog = emulators.datadog.endpoint(),
        ca = emulators.ca_file().display(),
    );
    let path = dir.join("siem.toml");
    std::fs::write(&path, text).unwrap();
    path
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
    let mut cmd = Command::cargo_bin("siem").unwrap();
    cmd.env("TEST_HEC_TOKEN", emulators.splunk.token())
        .env("TEST_DD_KEY", emulators.datadog.api_key())
        .env_remove("RUST_LOG")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_test_reaches_every_sink_and_reports_json() {
    let emulators = Emulators::start(EmulatorsConfig::default()).await.unwrap();
    let config = config_for(
        &emulators,
        &std::env::temp_dir().join(format!("siem-send-test-{}", std::process::id())),
    );
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
    let emulators = Emulators::start(EmulatorsConfig::default()).await.unwrap();
    let config = config_for(
        &emulators,
        &std::env::temp_dir().join(format!("siem-send-test-bad-{}", std::process::id())),
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_delivers_ndjson_and_skips_malformed_lines_by_number() {
    let emulators = Emulators::start(EmulatorsConfig::default()).await.unwrap();
    let config = config_for(
        &emulators,
        &std::env::temp_dir().join(format!("siem-forward-{}", std::process::id())),
    );
    let input = format!("{}not json\n", fixture_ndjson());
    let output = tokio::task::block_in_place(|| {
        siem(&emulators)
            .args(["forward", "--json", "--config"])
            .arg(&config)
            .write_stdin(input)
            .output()
            .unwrap()
    });
    // A malformed line makes the run exit 1, but everything else is delivered.
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("line 6"), "{err}");
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["input"]["events"], 5);
    assert_eq!(result["input"]["malformed"], 1);
    // org_acme's three fixture events go to Splunk; org_globex's redaction to Datadog
    // (its loop event matches no subscription).
    assert_eq!(emulators.splunk.received().len(), 3);
    assert_eq!(emulators.datadog.received().len(), 1);
    assert_eq!(result["stats"]["totals"]["delivered"], 4);
}
