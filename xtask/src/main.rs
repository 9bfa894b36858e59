//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask ci [--no-test]`: everything CI checks — rustfmt, clippy with warnings
//!   denied on all targets, the test suite, rustdoc with warnings denied, and pending
//!   snapshots.
//! - `cargo xtask snapshot [--accept | --check]`: runs the snapshot tests, lists every
//!   pending snapshot with its diff; `--accept` accepts them, `--check` fails if any is
//!   pending. Needs no `cargo-insta`.
//! - `cargo xtask bench [--quick] [--events N] [--runs N] …`: end-to-end speed and memory
//!   of the release `siem forward` against `siem emulate` (throughput per platform and
//!   gzip setting, a steady-rate latency run, an outage run); `cargo xtask bench
//!   --criterion` runs the crates' criterion benches. See `BENCHMARKS.md`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod snapshot;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str =
    "usage: cargo xtask <ci [--no-test] | snapshot [--accept | --check] | bench [--help]>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ci"] => ci(true),
        ["ci", "--no-test"] => ci(false),
        ["snapshot"] => snapshot::run(snapshot::Mode::Review),
        ["snapshot", "--accept"] => snapshot::run(snapshot::Mode::Accept),
        ["snapshot", "--check"] => snapshot::run(snapshot::Mode::Check),
        ["bench", rest @ ..] => bench::run(rest),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command in the workspace root; on failure says how to reproduce or fix it.
pub(crate) fn run_command(
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    fix: &str,
) -> Result<(), String> {
    let shown = format!("{program} {}", args.join(" "));
    eprintln!("\n==> {shown}");
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status}). {fix}"))
    }
}

fn ci(with_tests: bool) -> Result<(), String> {
    run_command(
        "cargo",
        &["fmt", "--all", "--check"],
        &[],
        "Fix with `cargo fmt --all`.",
    )?;
    run_command(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
        "Fix the lints above.",
    )?;
    if with_tests {
        run_command(
            "cargo",
            &["test", "--workspace"],
            &[],
            "Re-run the failing test with `cargo test -p <crate> <name>`.",
        )?;
    }
    run_command(
        "cargo",
        &["doc", "--workspace", "--no-deps", "--all-features"],
        &[("RUSTDOCFLAGS", "-D warnings")],
        "Fix the doc warnings above.",
    )?;
    snapshot::run(snapshot::Mode::Check)?;
    eprintln!("\nxtask ci: all checks passed");
    Ok(())
}
