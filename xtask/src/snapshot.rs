//! Snapshots through `cargo insta` (review and accept), and a check CI runs without it.

use crate::run_command;

/// What to do with pending snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Run the snapshot tests and review what changed (`cargo insta test --review`).
    Review,
    /// Run them and accept every change (`cargo insta test --accept`).
    Accept,
    /// Fail if any snapshot differs: plain `cargo test` with `INSTA_UPDATE=no`.
    Check,
}

pub(crate) fn run(mode: Mode) -> Result<(), String> {
    let install = "Needs cargo-insta: `cargo install cargo-insta`.";
    match mode {
        Mode::Review => run_command(
            "cargo",
            &["insta", "test", "--workspace", "--review", "--", "snapshot"],
            &[],
            install,
        ),
        Mode::Accept => run_command(
            "cargo",
            &["insta", "test", "--workspace", "--accept", "--", "snapshot"],
            &[],
            install,
        ),
        Mode::Check => run_command(
            "cargo",
            &["test", "--workspace", "--", "snapshot"],
            &[("INSTA_UPDATE", "no"), ("CI", "true")],
            "A snapshot differs: review with `cargo xtask snapshot` (or `cargo insta review`).",
        ),
    }
}
