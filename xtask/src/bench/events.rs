//! Synthetic gateway events for the benchmark: canonical NDJSON lines of about 300 bytes,
//! distinct event and request ids, the five gateway event types in a fixed mix, two orgs.
//!
//! Deterministic: event `i` is the same on every run (its randomness comes from a hash of
//! `i`), except for the timestamp when the caller stamps events with the current time.

use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// 2026-06-08T00:00:00Z, the base of the timestamps in the generated file.
const BASE_MILLIS: i64 = 1_780_876_800_000;

const ORGS: [(&str, &[&str]); 2] = [
    (
        "org_acme",
        &[
            "proj_abc123",
            "proj_support_bot",
            "proj_search",
            "proj_billing",
        ],
    ),
    (
        "org_globex",
        &["proj_hr_assistant", "proj_agents", "proj_code_review"],
    ),
];
const MODELS: [&str; 5] = [
    "gpt-4.1",
    "gpt-4.1-mini",
    "claude-sonnet-4.5",
    "gemini-2.5-pro",
    "llama-3.3-70b",
];
const ENTITIES: [&str; 7] = [
    "SSN",
    "CREDIT_CARD",
    "EMAIL",
    "PHONE_NUMBER",
    "IBAN",
    "PERSON",
    "IP_ADDRESS",
];

/// splitmix64: a good 64-bit mix of a counter.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Appends event `i` as one canonical JSON line (with `\n`), stamped `timestamp_millis`.
pub fn push_event(out: &mut String, i: u64, timestamp_millis: i64) {
    let a = mix(i);
    let b = mix(i ^ 0xA5A5_A5A5_5A5A_5A5A);
    // UUID v4 layout from 122 random bits.
    let hi = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
    let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    let r = |shift: u32, n: u64| (a.rotate_right(shift) % n) as usize;
    let (org, projects) = ORGS[usize::from(r(3, 10) >= 6)];
    let project = projects[r(9, projects.len() as u64)];
    let model = MODELS[r(17, MODELS.len() as u64)];
    let _ = write!(
        out,
        "{{\"event_id\":\"{:08x}-{:04x}-{:04x}-{:04x}-{:012x}\",",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    );
    let kind = r(23, 100);
    let (event_type, severity) = match kind {
        0..=39 => ("dlp.pii_redacted", "medium"),
        40..=64 => ("dlp.pii_blocked", "high"),
        65..=79 => ("dlp.injection_blocked", "critical"),
        80..=89 => ("loop.detected", "high"),
        _ => ("budget.exhausted", "medium"),
    };
    let _ = write!(
        out,
        "\"event_type\":\"{event_type}\",\"org_id\":\"{org}\",\"project_id\":\"{project}\",\
         \"request_id\":\"req_{:06x}{:06x}\",\"severity\":\"{severity}\",\
         \"timestamp\":\"",
        i & 0xFF_FFFF,
        b >> 40
    );
    push_rfc3339_millis(out, timestamp_millis);
    out.push_str("\",\"details\":{");
    let entities = |out: &mut String| {
        let first = r(29, ENTITIES.len() as u64);
        let second = (first + 1 + r(31, ENTITIES.len() as u64 - 1)) % ENTITIES.len();
        let _ = write!(
            out,
            "\"entities_found\":[\"{}\",\"{}\"]",
            ENTITIES[first], ENTITIES[second]
        );
    };
    match kind {
        0..=39 => {
            entities(out);
            let _ = write!(
                out,
                ",\"redaction_count\":{},\"action\":\"redacted\",\"model\":\"{model}\"",
                1 + r(37, 6)
            );
        }
        40..=64 => {
            entities(out);
            let _ = write!(out, ",\"action\":\"blocked\",\"model\":\"{model}\"");
        }
        65..=79 => {
            let _ = write!(
                out,
                "\"action\":\"blocked\",\"model\":\"{model}\",\"detector\":\"heuristic-v3\",\
                 \"confidence\":0.{:02}",
                50 + r(41, 50)
            );
        }
        80..=89 => {
            let _ = write!(
                out,
                "\"iterations\":{},\"window_seconds\":60,\"estimated_cost_per_hour_usd\":{}.5,\
                 \"action\":\"killed\",\"model\":\"{model}\"",
                100 + r(43, 400),
                20 + r(47, 200)
            );
        }
        _ => {
            let _ = write!(
                out,
                "\"scope\":\"project\",\"limit_usd\":500.0,\"spent_usd\":500.{:02},\
                 \"period\":\"monthly\"",
                r(53, 100)
            );
        }
    }
    out.push_str("}}\n");
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes `count` events (timestamps 1 ms apart from 2026-06-08T00:00:00Z) to `path`,
/// unless the file is already there with the right number of lines. Returns the average
/// line length in bytes (newline included).
pub fn ensure_file(path: &Path, count: u64) -> Result<f64, String> {
    let describe = |e: std::io::Error| format!("{}: {e}", path.display());
    if let Ok(meta) = std::fs::metadata(path) {
        let lines = count_lines(path).map_err(describe)?;
        if lines == count {
            eprintln!(
                "xtask bench: reusing {} ({count} events, {} bytes)",
                path.display(),
                meta.len()
            );
            return Ok(meta.len() as f64 / count as f64);
        }
        eprintln!(
            "xtask bench: {} has {lines} lines, not {count}; regenerating",
            path.display()
        );
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(describe)?;
    }
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial).map_err(describe)?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let mut line = String::with_capacity(512);
    let mut bytes = 0u64;
    for i in 0..count {
        line.clear();
        push_event(&mut line, i, BASE_MILLIS + i as i64);
        bytes += line.len() as u64;
        writer.write_all(line.as_bytes()).map_err(describe)?;
    }
    writer.flush().map_err(describe)?;
    drop(writer);
    std::fs::rename(&partial, path).map_err(describe)?;
    eprintln!(
        "xtask bench: wrote {} ({count} events, {bytes} bytes)",
        path.display()
    );
    Ok(bytes as f64 / count as f64)
}

fn count_lines(path: &Path) -> std::io::Result<u64> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn push_rfc3339_millis(out: &mut String, millis: i64) {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_rfc3339() {
        let mut s = String::new();
        push_rfc3339_millis(&mut s, BASE_MILLIS + 72_930_250);
        assert_eq!(s, "2026-06-08T20:15:30.250Z");
        s.clear();
        push_rfc3339_millis(&mut s, 951_782_400_000); // 2000-02-29
        assert_eq!(s, "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn events_are_distinct_and_about_300_bytes() {
        let mut ids = std::collections::HashSet::new();
        let mut requests = std::collections::HashSet::new();
        let mut total = 0;
        for i in 0..10_000 {
            let mut line = String::new();
            push_event(&mut line, i, BASE_MILLIS);
            assert!(line.ends_with("}}\n"), "{line}");
            total += line.len();
            let id = &line[13..49];
            assert!(ids.insert(id.to_owned()), "duplicate event id {id}");
            let req = line.split("\"request_id\":\"").nth(1).unwrap();
            assert!(
                requests.insert(req[..16].to_owned()),
                "duplicate request id"
            );
        }
        let average = total / 10_000;
        assert!((250..=350).contains(&average), "average {average} bytes");
    }
}
