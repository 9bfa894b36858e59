//! Snapshot review without `cargo-insta`.
//!
//! Runs the tests whose names contain `snapshot` with `INSTA_UPDATE=new` and
//! `INSTA_FORCE_PASS=1`, so every changed or new snapshot is written next to its test as a
//! `.snap.new` file instead of failing the run; then lists those files with a line diff.

use std::path::{Path, PathBuf};

use crate::{root, run_command};

/// What to do with pending snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Show them and leave them for review.
    Review,
    /// Move them over the accepted snapshots.
    Accept,
    /// Fail if there are any (CI); the `.snap.new` files are removed again.
    Check,
}

pub(crate) fn run(mode: Mode) -> Result<(), String> {
    let root = root();
    // Stale files from an earlier run would be mistaken for new results.
    for stale in pending(&root) {
        let _ = std::fs::remove_file(stale);
    }
    run_command(
        "cargo",
        &["test", "--workspace", "--", "snapshot"],
        &[("INSTA_UPDATE", "new"), ("INSTA_FORCE_PASS", "1")],
        "A snapshot test failed for a reason other than a changed snapshot.",
    )?;
    let files = pending(&root);
    if files.is_empty() {
        eprintln!("snapshots: none pending");
        return Ok(());
    }
    for new in &files {
        let old = accepted_path(new);
        let old_text = std::fs::read_to_string(&old).unwrap_or_default();
        let new_text = without_assertion_line(&std::fs::read_to_string(new).unwrap_or_default());
        let shown = new.strip_prefix(&root).unwrap_or(new).display();
        eprintln!("\n--- pending: {shown}");
        print_diff(&old_text, &new_text);
    }
    match mode {
        Mode::Review => {
            eprintln!(
                "\n{} pending snapshot(s). Accept with `cargo xtask snapshot --accept`.",
                files.len()
            );
            Ok(())
        }
        Mode::Accept => {
            for new in &files {
                let text = std::fs::read_to_string(new)
                    .map_err(|e| format!("cannot read {}: {e}", new.display()))?;
                std::fs::write(accepted_path(new), without_assertion_line(&text))
                    .map_err(|e| format!("cannot accept {}: {e}", new.display()))?;
                let _ = std::fs::remove_file(new);
            }
            eprintln!("\naccepted {} snapshot(s)", files.len());
            Ok(())
        }
        Mode::Check => {
            for new in &files {
                let _ = std::fs::remove_file(new);
            }
            Err(format!(
                "{} snapshot(s) differ from the accepted ones (diffs above). Review with \
                 `cargo xtask snapshot`, accept with `cargo xtask snapshot --accept`.",
                files.len()
            ))
        }
    }
}

/// insta records the line of the assertion in pending snapshots; accepted snapshots leave
/// it out so that moving a test does not churn every snapshot file.
fn without_assertion_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut dashes = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            dashes += 1;
        }
        if dashes < 2 && line.starts_with("assertion_line:") {
            continue;
        }
        out.push_str(line);
    }
    out
}

fn accepted_path(new: &Path) -> PathBuf {
    new.with_extension("")
}

/// Every `*.snap.new` below the workspace, outside `target/`.
fn pending(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    dirs.push(path);
                }
            } else if name.ends_with(".snap.new") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A minimal line diff (longest common subsequence), enough to review a snapshot.
fn print_diff(old: &str, new: &str) {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            eprintln!("  {}", a[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            eprintln!("+ {}", b[j]);
            j += 1;
        } else {
            eprintln!("- {}", a[i]);
            i += 1;
        }
    }
}
