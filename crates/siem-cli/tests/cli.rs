//! The `siem` command as a user runs it: exit codes, messages and outputs.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

fn siem() -> Command {
    let mut cmd = Command::cargo_bin("siem").unwrap();
    // Tests never reach AWS: no instance-metadata probing.
    cmd.env_remove("RUST_LOG")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("siem.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("siem-cli-test-{name}-{}", std::process::id()))
}

const SPLUNK_SINK: &str = r#"
[[org]]
id = "org_acme"

[[org.sink]]
name = "splunk-prod"
platform = "splunk"
endpoint = "https://splunk.example.com:8088"
token = { env = "SPLUNK_HEC_TOKEN" }
events = ["*"]
"#;

#[test]
fn validate_accepts_the_example_configuration() {
    let output = siem()
        .args(["validate", "--config"])
        .arg(fixtures().join("config/siem.example.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("splunk-prod") && err.contains("sentinel"),
        "{err}"
    );
    assert!(err.contains("env:SPLUNK_HEC_TOKEN"), "{err}");
}

fn validate_error(name: &str, text: &str) -> String {
    let path = write_config(&temp_dir(name), text);
    let output = siem()
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&path.display().to_string()),
        "names the file: {err}"
    );
    err
}

/// The error of `siem validate` on [`SPLUNK_SINK`] with `from` replaced by `to`.
fn edited_splunk_sink_error(name: &str, from: &str, to: &str) -> String {
    validate_error(name, &SPLUNK_SINK.replace(from, to))
}

#[test]
fn plain_http_endpoints_are_rejected_naming_org_sink_and_field() {
    let err = edited_splunk_sink_error(
        "http",
        "https://splunk.example.com:8088",
        "http://splunk.example.com:8088",
    );
    assert!(
        err.contains("org \"org_acme\", sink \"splunk-prod\": field `endpoint`"),
        "the sink by its name: {err}"
    );
    assert!(err.contains("field `endpoint`"), "{err}");
    assert!(err.contains("https://"), "{err}");
}

#[test]
fn unknown_event_types_are_rejected() {
    let err = edited_splunk_sink_error(
        "events",
        r#"events = ["*"]"#,
        r#"events = ["dlp.pii_blocked", "dlp.pii_blockd"]"#,
    );
    assert!(err.contains("field `events`"), "{err}");
    assert!(err.contains("dlp.pii_blockd"), "{err}");
}

#[test]
fn missing_and_misspelt_fields_are_named() {
    let err = edited_splunk_sink_error("missing", "token = { env = \"SPLUNK_HEC_TOKEN\" }\n", "");
    assert!(err.contains("field `token`"), "{err}");
    let err = edited_splunk_sink_error("typo", "events =", "sourcetyp = \"x\"\nevents =");
    assert!(err.contains("field `sourcetyp`"), "{err}");
    let err = edited_splunk_sink_error(
        "no-endpoint",
        "endpoint = \"https://splunk.example.com:8088\"\n",
        "",
    );
    assert!(err.contains("endpoint"), "{err}");
    let err = validate_error("bad-toml", "[[org]\nid = 1");
    assert!(err.contains("siem.toml"), "{err}");
}

#[test]
fn a_token_pasted_into_the_file_is_never_echoed() {
    // A string where a reference belongs, and the same string left open (a TOML syntax
    // error, named by file:line:column).
    for (name, pasted, named) in [
        ("literal", "\"hec-literal-secret\"", "field `token`"),
        ("literal-syntax", "\"hec-literal-secret", "siem.toml:9:"),
    ] {
        let err = edited_splunk_sink_error(name, "{ env = \"SPLUNK_HEC_TOKEN\" }", pasted);
        assert!(err.contains(named), "{name}: {err}");
        assert!(!err.contains("hec-literal-secret"), "{name}: {err}");
    }
}

#[test]
fn validate_resolve_reports_a_missing_secret_by_reference() {
    let path = write_config(&temp_dir("resolve"), SPLUNK_SINK);
    let output = siem()
        .args(["validate", "--resolve", "--config"])
        .arg(&path)
        .env_remove("SPLUNK_HEC_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("env:SPLUNK_HEC_TOKEN"),
        "{}",
        stderr(&output)
    );
}

/// `siem render --platform <platform> -`, reading `input`.
fn render_stdin(platform: &str, input: impl Into<Vec<u8>>) -> Output {
    siem()
        .args(["render", "--platform", platform, "-"])
        .write_stdin(input)
        .output()
        .unwrap()
}

#[test]
fn render_prints_the_native_splunk_body() {
    let output = siem()
        .args(["render", "--platform", "splunk"])
        .arg(fixtures().join("events/dlp.pii_blocked.json"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["event"]["event_type"], "dlp.pii_blocked");
    assert_eq!(body["sourcetype"], "aisg:security");
    assert_eq!(body["event"]["severity_id"], 5);
}

#[test]
fn render_uses_a_configured_sinks_options() {
    let output = siem()
        .args(["render", "--config"])
        .arg(fixtures().join("config/siem.example.toml"))
        .args(["--sink", "datadog"])
        .arg(fixtures().join("events/dlp.pii_blocked.json"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let item = &body[0];
    assert_eq!(item["hostname"], "aisg-proxy");
    assert!(item["ddtags"].as_str().unwrap().contains("team:secops"));
    assert!(item["ddtags"].as_str().unwrap().contains("env:production"));
}

/// What `forward` would send to the sink: its org's events that its filter lets through.
#[test]
fn render_applies_the_sinks_org_and_filter_unless_all() {
    let fixture = |name: &str| {
        std::fs::read_to_string(fixtures().join(format!("events/{name}.json")))
            .unwrap()
            .trim()
            .to_owned()
    };
    // The example's datadog sink (org_acme) takes dlp.pii_blocked but not budget.exhausted;
    // an org_globex event goes to org_globex's sinks only.
    let other_org = fixture("dlp.pii_blocked").replace("\"org_acme\"", "\"org_globex\"");
    let input = format!(
        "{}\n{}\n{other_org}\n",
        fixture("dlp.pii_blocked"),
        fixture("budget.exhausted")
    );
    let render = |all: bool| {
        let mut cmd = siem();
        cmd.args(["render", "--config"])
            .arg(fixtures().join("config/siem.example.toml"))
            .args(["--sink", "datadog"]);
        if all {
            cmd.arg("--all");
        }
        cmd.arg("-").write_stdin(input.clone()).output().unwrap()
    };
    let output = render(false);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let items = body.as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    assert!(
        items[0]["message"].to_string().contains("dlp.pii_blocked")
            || items[0].to_string().contains("dlp.pii_blocked")
    );
    let err = stderr(&output);
    assert!(
        err.contains("2 of 3 events are not for org \"org_acme\", sink \"datadog\"")
            && err.contains("--all"),
        "{err}"
    );
    let output = render(true);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body.as_array().unwrap().len(), 3, "{body}");
}

/// One bad byte spoils its line only, as in `forward`.
#[test]
fn render_reports_a_line_with_invalid_utf8_by_number() {
    let event = std::fs::read_to_string(fixtures().join("events/dlp.pii_blocked.json")).unwrap();
    let event = event.trim();
    let mut input = format!("{event}\n{event}\n\n{event}\n").into_bytes();
    let at = event.len() + 1 + event.find("proj_").unwrap();
    input[at] = 0xff;
    let output = render_stdin("splunk", input);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("siem render: line 2: ") && err.contains("(skipped)"),
        "{err}"
    );
    // The blank line 3 is no error; lines 1 and 4 are rendered.
    assert!(!err.contains("line 3"), "{err}");
    let bodies = String::from_utf8_lossy(&output.stdout);
    assert_eq!(bodies.matches("dlp.pii_blocked").count(), 2, "{bodies}");
}

#[test]
fn render_reports_malformed_lines_and_renders_the_rest() {
    let event = std::fs::read_to_string(fixtures().join("events/loop.detected.json")).unwrap();
    let input = format!("{}\n{{\"not\":\"an event\"}}\n", event.trim());
    let output = render_stdin("sentinel", input);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("line 2"), "{}", stderr(&output));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body[0]["EventType"], "loop.detected");
    assert_eq!(body[0]["Severity"], "High");
}

#[test]
fn usage_errors_exit_2() {
    let output = siem().args(["render"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = siem().args(["frobnicate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn demo_delivers_every_fixture_event_to_every_platform() {
    let output = siem()
        .args(["demo", "--json", "--events", "20"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["ok"], true);
    assert_eq!(result["events"], 25);
    for platform in result["platforms"].as_array().unwrap() {
        assert_eq!(platform["received"], 25, "{platform}");
        assert_eq!(platform["matches"], true, "{platform}");
    }
    assert_eq!(result["stats"]["totals"]["delivered"], 75);
}

#[test]
fn help_lists_the_exit_codes() {
    let output = siem().arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Exit codes"), "{text}");
    for code in ["0 ", "1 ", "2 ", "130/143"] {
        assert!(text.contains(code), "{code} in {text}");
    }
}

#[test]
fn failures_read_plainly_in_a_log_file_and_causes_are_never_cut() {
    let dir = temp_dir("plain-output");
    let config = write_config(
        &dir,
        "[[org]]\nid = \"org_acme\"\n\n[[org.sink]]\nname = \"refusing\"\nplatform = \"splunk\"\n\
         endpoint = \"https://127.0.0.1:1\"\ntoken = { env = \"TEST_HEC_TOKEN\" }\nevents = [\"*\"]\n\
         max_attempts = 1\n",
    );
    let output = siem()
        .env("TEST_HEC_TOKEN", "hec-token-0123456789")
        .env("RUST_LOG", "warn")
        .args(["forward", "--flush-timeout", "1", "--config"])
        .arg(&config)
        .write_stdin(std::fs::read(fixtures().join("events/dlp.pii_blocked.json")).unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    // stderr is a pipe here: no colour codes in the log lines.
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains("WARN"), "{err}");
    // The whole cause, below the table, named by org and sink.
    let cause = err
        .lines()
        .find(|l| l.starts_with("[1] org \"org_acme\", sink \"refusing\": "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(cause.contains("Connection refused"), "{cause}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn siem_config_stands_in_for_config_and_every_flag_has_help() {
    let output = siem()
        .env("SIEM_CONFIG", fixtures().join("config/siem.example.toml"))
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for sub in [
        "forward",
        "send-test",
        "validate",
        "render",
        "demo",
        "emulate",
    ] {
        let output = siem().args([sub, "-h"]).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with("--") {
                continue;
            }
            let flag = line.split_whitespace().next().unwrap();
            // The text follows on the flag's line, or (clap's long form, used when some
            // help spans paragraphs) on the next, indented line.
            let same_line = line.split_whitespace().count() > 1 && !line.trim_end().ends_with('>');
            let next_line = lines
                .get(i + 1)
                .is_some_and(|next| !next.trim().is_empty() && !next.trim_start().starts_with('-'));
            let described = same_line || next_line || flag == "--help";
            assert!(described, "`siem {sub}`: {flag} has no help text:\n{text}");
        }
        if ["forward", "send-test", "validate"].contains(&sub) {
            assert!(text.contains("SIEM_CONFIG"), "{text}");
        }
    }
}

#[test]
fn emulate_removes_the_ca_file_it_chose_when_stopped() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_siem"))
        .args(["emulate", "--platform", "splunk"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // The CA file is written before its line is printed.
    let ca_file = stdout
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("ca_file=").map(PathBuf::from))
        .expect("emulate prints its CA file");
    assert!(ca_file.exists());
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    // Its counters at exit still have a reader.
    assert!(stdout.any(|l| l.is_ok_and(|l| l.starts_with("requests="))));
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(!ca_file.exists(), "{} left behind", ca_file.display());
}
