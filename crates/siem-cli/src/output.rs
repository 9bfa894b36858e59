//! Human-readable tables on stderr; JSON on stdout with `--json`.

use siem_dispatch::DispatcherStats;

/// Prints a JSON value as one line on stdout.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// Formats an aligned table (see [`crate::table::aligned`]).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    crate::table::aligned(headers, rows)
}

/// Causes of failures, printed below a table, numbered and whole (a table cell would cut
/// them off or make every row as wide as the longest), each with a hint when the failure
/// is a common one.
#[derive(Debug, Default)]
pub struct Causes {
    lines: String,
    count: usize,
}

impl Causes {
    /// Adds the cause of a sink's failure; returns its marker (`[1]`) for the table.
    pub fn add(&mut self, org: &str, sink: &str, platform: &str, cause: &str) -> String {
        self.count += 1;
        let marker = format!("[{}]", self.count);
        self.lines.push_str(&format!(
            "{marker} org \"{org}\", sink \"{sink}\": {cause}\n"
        ));
        if let Some(hint) = hint(platform, cause) {
            self.lines.push_str(&format!("    hint: {hint}\n"));
        }
        marker
    }

    /// The numbered causes, one per line (empty when there are none).
    pub fn lines(&self) -> &str {
        &self.lines
    }
}

/// The hint for a failure of the `siem` command's sinks (a CA is given as a file).
pub fn hint(platform: &str, cause: &str) -> Option<String> {
    siem_config::hints::hint(platform, cause, siem_config::hints::GiveCa::File)
}

/// The delivery counters of every sink.
pub fn stats_table(stats: &DispatcherStats) -> String {
    let mut rows = Vec::new();
    let mut causes = Causes::default();
    for org in &stats.orgs {
        for sink in &org.sinks {
            let c = &sink.counts;
            let marker = sink
                .last_error
                .as_ref()
                .map(|e| causes.add(&org.org_id, &sink.name, sink.platform, &e.to_string()))
                .unwrap_or_default();
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
                marker,
            ]);
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
    out.push_str(causes.lines());
    out
}

/// Whether every event that matched a sink was delivered (none failed, dropped, or left
/// in a buffer).
pub fn all_delivered(stats: &DispatcherStats) -> bool {
    let t = &stats.totals;
    t.failed == 0 && t.dropped == 0 && t.delivered == t.queued
}

/// Prints each configuration error on its own line of stderr, after `prefix`
/// (`siem validate`).
pub fn print_config_errors(errors: &crate::config::ConfigErrors, prefix: &str) {
    for e in &errors.0 {
        eprintln!("{prefix}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_numbered_whole_with_their_hints() {
        let mut causes = Causes::default();
        assert_eq!(causes.add("o", "s", "splunk", "connection refused"), "[1]");
        assert_eq!(causes.add("o", "t", "splunk", "HTTP 401: bad token"), "[2]");
        let lines: Vec<&str> = causes.lines().lines().collect();
        assert_eq!(lines[0], "[1] org \"o\", sink \"s\": connection refused");
        assert_eq!(lines[1], "[2] org \"o\", sink \"t\": HTTP 401: bad token");
        assert!(lines[2].starts_with("    hint: Splunk refused the HEC token"));
        assert_eq!(lines.len(), 3);
    }
}
