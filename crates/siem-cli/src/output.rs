//! Human-readable tables on stderr; JSON on stdout with `--json`.

use siem_dispatch::DispatcherStats;

/// Prints a JSON value as one line on stdout.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// Formats a simple aligned table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            if i + 1 < widths.len() {
                out.push_str(&" ".repeat(w.saturating_sub(cell.chars().count())));
            }
        }
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// The delivery counters of every sink.
pub fn stats_table(stats: &DispatcherStats) -> String {
    let mut rows = Vec::new();
    // Causes go below the table, whole: a table cell would cut them off.
    let mut causes = Vec::new();
    for org in &stats.orgs {
        for sink in &org.sinks {
            let row_cause = sink.last_error.as_ref().map(|e| {
                format!(
                    "[{}] org \"{}\", sink \"{}\": {e}",
                    causes.len() + 1,
                    org.org_id,
                    sink.name
                )
            });
            let c = &sink.counts;
            rows.push(vec![
                org.org_id.clone(),
                sink.name.clone(),
                sink.platform.to_owned(),
                c.queued.to_string(),
                c.delivered.to_string(),
                c.retried.to_string(),
                c.dropped.to_string(),
                c.failed.to_string(),
                c.buffered.to_string(),
                sink.breaker.state.as_str().to_owned(),
                sink.last_error
                    .as_ref()
                    .map(|_| format!("[{}]", causes.len() + 1))
                    .unwrap_or_default(),
            ]);
            causes.extend(row_cause);
        }
    }
    let mut out = table(
        &[
            "org",
            "sink",
            "platform",
            "queued",
            "delivered",
            "retried",
            "dropped",
            "failed",
            "buffered",
            "circuit",
            "last error",
        ],
        &rows,
    );
    for cause in causes {
        out.push_str(&cause);
        out.push('\n');
    }
    out
}

/// Whether every event that matched a sink was delivered (none failed, dropped, or left
/// in a buffer).
pub fn all_delivered(stats: &DispatcherStats) -> bool {
    let t = &stats.totals;
    t.failed == 0 && t.dropped == 0 && t.delivered == t.queued
}
