//! `docs/configuration.md` is what `siem config-reference` generates from the code, and the
//! example configuration shows the keys a user commonly needs.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Fails when the checked-in reference differs from the generated one; run with
/// `UPDATE_DOCS=1` to rewrite it.
#[test]
fn the_configuration_reference_is_up_to_date() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_siem"))
        .arg("config-reference")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let generated = String::from_utf8(output.stdout).unwrap();
    let path = root().join("docs/configuration.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/configuration.md is out of date: run \
         `UPDATE_DOCS=1 cargo test -p siem-cli --test reference` and commit it"
    );
    // Every key the loader accepts is in it, with its platform's section.
    for key in [
        "authority_host",
        "attempt_timeout_ms",
        "concurrency",
        "when_full",
        "connect_ms",
    ] {
        assert!(generated.contains(&format!("| `{key}` |")), "{key}");
    }
    assert!(generated.contains("## `[[org.sink]]`: datadog"));
    assert!(generated.contains("`us5.datadoghq.com`"));
}

#[test]
fn the_example_shows_the_commonly_needed_keys() {
    let example =
        std::fs::read_to_string(root().join("fixtures/config/siem.example.toml")).unwrap();
    for key in [
        // Datadog's proxy endpoint, Sentinel's sovereign-cloud authority.
        "endpoint",
        "site",
        "authority_host",
        "ca_file",
        "timeouts",
        "max_events",
        "linger_ms",
        "max_attempts",
        "attempt_timeout_ms",
        "concurrency",
        "breaker_failures",
        "buffer",
        "dead_letter",
        "data_dir",
    ] {
        let shown = example.lines().any(|l| {
            l.trim_start_matches(['#', ' '])
                .starts_with(&format!("{key} ="))
        });
        assert!(shown, "the example does not show `{key}`");
    }
    // The Datadog endpoint is shown in the Datadog sink.
    let datadog = example.split("platform = \"datadog\"").nth(1).unwrap();
    let datadog = datadog.split("[[org").next().unwrap();
    assert!(datadog.contains("# endpoint = \"https://"), "{datadog}");
}
