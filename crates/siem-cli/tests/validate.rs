//! `siem validate` means `forward` will start: both commands give the same verdict on a
//! table of good and bad configurations, and configuration errors say where and what.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

fn siem() -> Command {
    let mut cmd = Command::cargo_bin("siem").unwrap();
    cmd.env_remove("RUST_LOG")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TEST_TOKEN", "token-value-0123456789")
        .env("TEST_SECRET", "secret-value-0123456789");
    cmd
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("siem-validate-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` as `siem.toml` in a directory of its own; `{dir}` in the text is that
/// directory.
fn write(name: &str, text: &str) -> PathBuf {
    let dir = dir(name);
    let path = dir.join("siem.toml");
    std::fs::write(&path, text.replace("{dir}", &dir.display().to_string())).unwrap();
    path
}

fn splunk(extra: &str) -> String {
    format!(
        "[[org]]\nid = \"org_acme\"\n\n[[org.sink]]\nname = \"splunk-prod\"\nplatform = \"splunk\"\n\
         endpoint = \"https://127.0.0.1:1\"\ntoken = {{ env = \"TEST_TOKEN\" }}\nevents = [\"*\"]\n{extra}\n"
    )
}

fn datadog(extra: &str) -> String {
    format!(
        "[[org]]\nid = \"org_acme\"\n\n[[org.sink]]\nname = \"dd\"\nplatform = \"datadog\"\n\
         token = {{ env = \"TEST_TOKEN\" }}\nevents = [\"*\"]\n{extra}\n"
    )
}

fn sentinel(extra: &str) -> String {
    format!(
        "[[org]]\nid = \"org_globex\"\n\n[[org.sink]]\nname = \"sentinel\"\nplatform = \"sentinel\"\n\
         dce = \"https://127.0.0.1:1\"\ndcr_immutable_id = \"dcr-00112233445566778899aabbccddeeff\"\n\
         events = [\"*\"]\n{extra}\n"
    )
}

fn validate(path: &Path) -> Output {
    siem()
        .args(["validate", "--config"])
        .arg(path)
        .output()
        .unwrap()
}

/// `forward` with no input: it builds everything and starts, or refuses to (exit 2).
fn forward(path: &Path) -> Output {
    siem()
        .args(["forward", "--flush-timeout", "1", "--config"])
        .arg(path)
        .write_stdin("")
        .output()
        .unwrap()
}

#[test]
fn validate_and_forward_agree() {
    let not_pem = dir("not-pem").join("ca.pem");
    std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
    let cases: Vec<(&str, String, i32)> = vec![
        ("splunk", splunk(""), 0),
        ("splunk-delivery", splunk("max_attempts = 1\nconcurrency = 4\nattempt_timeout_ms = 5000\nbuffer = { max_events = 1000, when_full = \"drop_newest\" }"), 0),
        ("disk-buffer", format!("data_dir = \"{{dir}}/data\"\n{}", splunk("buffer = { type = \"disk\" }")), 0),
        ("datadog-eu", datadog("site = \"datadoghq.eu\""), 0),
        ("datadog-endpoint", datadog("endpoint = \"https://127.0.0.1:1\""), 0),
        ("sentinel-entra", sentinel("tenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"\nclient_secret = { env = \"TEST_SECRET\" }\nauthority_host = \"https://127.0.0.1:1\""), 0),
        ("sentinel-token", sentinel("token = { env = \"TEST_TOKEN\" }"), 0),
        ("max-attempts-0", splunk("max_attempts = 0"), 2),
        ("concurrency-0", splunk("concurrency = 0"), 2),
        ("buffer-0", splunk("buffer = { max_events = 0 }"), 2),
        ("ca-not-pem", splunk(&format!("ca_file = \"{}\"", not_pem.display())), 2),
        ("ca-missing", splunk("ca_file = \"/nonexistent/ca.pem\""), 2),
        ("static-token", splunk("").replace("{ env = \"TEST_TOKEN\" }", "{ static = \"abc\" }"), 2),
        ("datadog-site", datadog("site = \"datadog.eu\""), 2),
        ("misspelt-delivery", splunk("max_atempts = 3"), 2),
        ("misspelt-buffer", splunk("buffer = { max_evnts = 3 }"), 2),
        ("disk-without-data-dir", splunk("buffer = { type = \"disk\" }"), 2),
        ("data-dir-is-a-file", format!("data_dir = \"{{dir}}/siem.toml\"\n{}", splunk("buffer = { type = \"disk\" }")), 2),
        ("timeout-0", splunk("timeouts = { connect_ms = 0 }"), 2),
        ("plain-http", splunk("").replace("https://127.0.0.1:1", "http://127.0.0.1:1"), 2),
        ("entra-without-secret", sentinel("tenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-3333-4444-555555555555\""), 2),
    ];
    for (name, text, expected) in cases {
        let path = write(name, &text);
        let v = validate(&path);
        let f = forward(&path);
        assert_eq!(
            v.status.code(),
            Some(expected),
            "validate, {name}: {}",
            stderr(&v)
        );
        assert_eq!(
            f.status.code(),
            Some(expected),
            "forward, {name}: {}",
            stderr(&f)
        );
        if expected == 2 {
            // Both name the same problem, with the file.
            let line = |o: &Output| {
                stderr(o)
                    .lines()
                    .find_map(|l| l.split_once(": ").map(|(_, rest)| rest.to_owned()))
                    .unwrap_or_default()
            };
            assert_eq!(line(&v), line(&f), "{name}");
            assert!(
                line(&v).starts_with(&path.display().to_string()),
                "{name}: {}",
                line(&v)
            );
        }
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}

#[test]
fn validate_resolve_and_forward_agree_on_a_missing_secret() {
    let path = write("missing-secret", &splunk(""));
    let v = siem()
        .env_remove("TEST_TOKEN")
        .args(["validate", "--resolve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let f = siem()
        .env_remove("TEST_TOKEN")
        .args(["forward", "--config"])
        .arg(&path)
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(2), "{}", stderr(&v));
    assert_eq!(f.status.code(), Some(2), "{}", stderr(&f));
    for err in [stderr(&v), stderr(&f)] {
        assert!(
            err.contains("sink \"splunk-prod\": field `token`") && err.contains("TEST_TOKEN"),
            "{err}"
        );
    }
    // Without --resolve nothing is fetched: the reference is not checked.
    let v = siem()
        .env_remove("TEST_TOKEN")
        .args(["validate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(stderr(&v).contains("--resolve"), "{}", stderr(&v));
}

#[test]
fn errors_give_file_line_column_org_sink_and_field() {
    let path = write("located", &splunk("linger_ms = 250\nmax_atempts = 3"));
    let err = stderr(&validate(&path));
    let expected = format!(
        "{}:11:1: org \"org_acme\", sink \"splunk-prod\": field `max_atempts`: unknown key; \
         did you mean `max_attempts`?",
        path.display()
    );
    assert!(err.contains(&expected), "{err}");
    // Every key a Splunk sink takes is listed, the delivery keys included.
    for key in [
        "endpoint",
        "sourcetype",
        "attempt_timeout_ms",
        "buffer",
        "dead_letter",
    ] {
        assert!(err.contains(key), "{key}: {err}");
    }
    // An error found when the sink is built is located too.
    let path = write("located-built", &splunk("max_attempts = 0"));
    let err = stderr(&validate(&path));
    assert!(
        err.contains(&format!(
            "{}:10:1: org \"org_acme\", sink \"splunk-prod\": field `max_attempts`: must be at least 1",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn a_key_of_another_platform_is_named_as_such() {
    let path = write("other-platform", &splunk("site = \"datadoghq.eu\""));
    let err = stderr(&validate(&path));
    assert!(
        err.contains("field `site`: is not a splunk setting (only datadog sinks read it)"),
        "{err}"
    );
}

#[test]
fn an_unknown_datadog_site_fails_and_the_sites_are_listed() {
    let path = write("site", &datadog("site = \"datadog.eu\""));
    let output = validate(&path);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("sink \"dd\": field `site`"), "{err}");
    assert!(
        err.contains("\"datadog.eu\" is not a Datadog site"),
        "{err}"
    );
    for site in [
        "datadoghq.com",
        "datadoghq.eu",
        "us5.datadoghq.com",
        "ddog-gov.com",
    ] {
        assert!(err.contains(site), "{site}: {err}");
    }
}

/// `siem validate --json`: the exit code and the JSON on stdout.
fn validate_json(path: &Path) -> (Option<i32>, serde_json::Value) {
    let output = siem()
        .args(["validate", "--json", "--config"])
        .arg(path)
        .output()
        .unwrap();
    let result = serde_json::from_slice(&output.stdout).unwrap();
    (output.status.code(), result)
}

#[test]
fn json_gives_a_machine_readable_verdict() {
    let (code, result) = validate_json(&write("json-ok", &splunk("")));
    assert_eq!(code, Some(0));
    assert_eq!(result["valid"], true);
    assert_eq!(result["sinks"][0]["sink"], "splunk-prod");
    assert_eq!(result["sinks"][0]["credentials"][0], "env:TEST_TOKEN");
    assert_eq!(result["errors"], serde_json::json!([]));

    let path = write(
        "json-bad",
        &format!(
            "{}{}",
            splunk("max_attempts = 0"),
            datadog("site = \"datadog.eu\"").replace("[[org]]\nid = \"org_acme\"\n", "")
        ),
    );
    let (code, result) = validate_json(&path);
    assert_eq!(code, Some(2));
    assert_eq!(result["valid"], false);
    let errors = result["errors"].as_array().unwrap();
    // Every bad sink is reported, not only the first.
    assert_eq!(errors.len(), 2, "{result}");
    assert_eq!(errors[0]["org"], "org_acme");
    assert_eq!(errors[0]["sink"], "splunk-prod");
    assert_eq!(errors[0]["field"], "max_attempts");
    assert_eq!(errors[0]["line"], 10);
    assert_eq!(errors[0]["column"], 1);
    assert_eq!(errors[1]["sink"], "dd");
    assert_eq!(errors[1]["field"], "site");
}

#[test]
fn no_secret_value_is_ever_echoed() {
    for (name, text) in [
        (
            "pasted",
            splunk("").replace("{ env = \"TEST_TOKEN\" }", "\"pasted-secret-value\""),
        ),
        (
            "pasted-static",
            splunk("").replace(
                "\"TEST_TOKEN\" }",
                "\"TEST_TOKEN\", static = \"pasted-secret-value\" }",
            ),
        ),
        (
            "static",
            splunk("").replace(
                "{ env = \"TEST_TOKEN\" }",
                "{ static = \"pasted-secret-value\" }",
            ),
        ),
        (
            "unterminated",
            splunk("").replace("{ env = \"TEST_TOKEN\" }", "\"pasted-secret-value"),
        ),
    ] {
        let path = write(name, &text);
        for output in [validate(&path), forward(&path)] {
            assert_eq!(output.status.code(), Some(2), "{name}");
            let err = stderr(&output);
            assert!(
                err.contains("token") || err.contains(":8:"),
                "{name}: {err}"
            );
            assert!(!err.contains("pasted-secret-value"), "{name}: {err}");
        }
        // The bare string's error does not suggest the test-only `static` form.
        if name == "pasted" {
            assert!(!stderr(&validate(&path)).contains("static"), "{name}");
        }
    }
    // A resolved secret is never printed either.
    let path = write("resolved", &splunk(""));
    let output = siem()
        .args(["validate", "--resolve", "--json", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(!all.contains("token-value-0123456789"), "{all}");
}
