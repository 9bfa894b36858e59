//! `cargo xtask bench --criterion`: the crates' criterion benches with short warm-up and
//! measurement times, summarised one line per benchmark.

/// The crates' criterion benches with short warm-up and measurement times.
pub fn run() -> Result<(), String> {
    let benches = [
        ("siem-core", "parse"),
        ("siem-tests", "encode"),
        ("siem-dispatch", "emit"),
    ];
    let mut summary = Vec::new();
    for (package, bench) in benches {
        let args = [
            "bench",
            "-p",
            package,
            "--bench",
            bench,
            "--",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "3",
        ];
        let shown = format!("cargo {}", args.join(" "));
        eprintln!("\n==> {shown}");
        let output = std::process::Command::new("cargo")
            .args(args)
            .current_dir(crate::root())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!("`{shown}` failed ({})", output.status));
        }
        summary.push(format!("$ {shown}"));
        summary.extend(criterion_figures(&text));
    }
    println!("\nCriterion figures:");
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

/// One line per benchmark (`name  time [low mid high]  thrpt [..]`) from criterion's
/// output, plus the benches' own prints; change reports and outlier counts are left out.
fn criterion_figures(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut name = String::new();
    let mut last: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        let indented = line.starts_with(char::is_whitespace);
        let t = line.trim();
        if t.is_empty() || t.starts_with("Benchmarking ") || t.starts_with("Found ") {
            continue;
        }
        if !indented {
            if let Some((n, rest)) = line.split_once("time:") {
                name = n.trim().to_owned();
                out.push(format!("{name:<48} time {}", rest.trim()));
                last = Some(out.len() - 1);
            } else if lines
                .get(i + 1)
                .is_some_and(|next| next.trim_start().starts_with("time:"))
            {
                name = t.to_owned();
            } else {
                out.push(t.to_owned());
                last = None;
            }
            continue;
        }
        // Indented: the figures of `name`; change lines carry percentages.
        if t.contains('%') {
            continue;
        }
        if let Some(rest) = t.strip_prefix("time:") {
            out.push(format!("{name:<48} time {}", rest.trim()));
            last = Some(out.len() - 1);
        } else if let (Some(rest), Some(at)) = (t.strip_prefix("thrpt:"), last) {
            out[at].push_str(&format!("  thrpt {}", rest.trim()));
            last = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_output_is_summarised_one_line_per_bench() {
        let text = [
            "Benchmarking a/b: Analyzing",
            "a/very/long/name/1000",
            "                        time:   [1.0 µs 2.0 µs 3.0 µs]",
            "                        thrpt:  [1 Melem/s 2 Melem/s 3 Melem/s]",
            "                        time:   [−1.0% +0.1% +1.0%] (p = 0.31 > 0.05)",
            "                        thrpt:  [−1.0% +0.1% +1.0%]",
            "  1 (1.00%) low severe",
            "short/1         time:   [84.0 ns 84.5 ns 85.2 ns]",
            "  6 (6.00%) high mild",
            "allocations per emit: 1.000",
        ]
        .join("\n");
        let figures = criterion_figures(&text);
        assert_eq!(figures.len(), 3, "{figures:#?}");
        assert!(figures[0].starts_with("a/very/long/name/1000"));
        assert!(figures[0].contains("time [1.0 µs 2.0 µs 3.0 µs]  thrpt [1 Melem/s"));
        assert!(figures[1].starts_with("short/1") && figures[1].ends_with("85.2 ns]"));
        assert_eq!(figures[2], "allocations per emit: 1.000");
    }
}
