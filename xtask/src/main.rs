//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask ci [--no-test]`: everything CI checks — rustfmt, clippy with warnings
//!   denied on all targets, the test suite, rustdoc with warnings denied, and pending
//!   snapshots.
//! - `cargo xtask snapshot [--accept | --check]`: `cargo insta` on the snapshot tests
//!   (review, or `--accept`); `--check` fails when a snapshot differs (plain `cargo test`
//!   with `INSTA_UPDATE=no`, so CI needs no `cargo-insta`).
//! - `cargo xtask bench [--quick] [--events N] [--runs N] …`: end-to-end speed and memory
//!   of the release `siem forward` against `siem emulate` (throughput per platform and
//!   gzip setting, a steady-rate latency run, an outage run); `cargo xtask bench
//!   --criterion` runs the crates' criterion benches. See `BENCHMARKS.md`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod snapshot;
/// The table printer `siem` uses too (one implementation; a crate for two functions
/// would be more than the code). xtask prints Markdown only.
#[allow(dead_code)]
#[path = "../../crates/siem-cli/src/table.rs"]
mod table;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;

/// Project automation.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
enum Xtask {
    /// Everything CI checks: rustfmt, clippy (warnings denied), the tests, rustdoc
    /// (warnings denied), snapshots.
    Ci {
        /// Leave out `cargo test --workspace`.
        #[arg(long)]
        no_test: bool,
    },
    /// Payload snapshots, through `cargo insta`.
    Snapshot {
        /// Accept every pending snapshot.
        #[arg(long, conflicts_with = "check")]
        accept: bool,
        /// Fail if a snapshot differs (no `cargo-insta` needed).
        #[arg(long)]
        check: bool,
    },
    /// End-to-end speed and memory of `siem forward` (see `BENCHMARKS.md`).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let result = match Xtask::parse() {
        Xtask::Ci { no_test } => ci(!no_test),
        Xtask::Snapshot { accept: true, .. } => snapshot::run(snapshot::Mode::Accept),
        Xtask::Snapshot { check: true, .. } => snapshot::run(snapshot::Mode::Check),
        Xtask::Snapshot { .. } => snapshot::run(snapshot::Mode::Review),
        Xtask::Bench(args) => bench::run(args),
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
