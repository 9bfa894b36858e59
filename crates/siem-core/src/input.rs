//! Reading a batch of events as a gateway or a file gives them: a JSON array, one
//! (possibly pretty-printed) event, or NDJSON, with every bad line named by its number
//! and the rest kept. `siem render` and the connector service's ingest read through it.

use crate::SecurityEvent;

/// An input line that is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number (for a JSON array: the element's index + 1).
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// One NDJSON line as an event; `None` for a blank line (JSON whitespace only). Invalid
/// UTF-8 is an error of that line only.
pub fn parse_line(line: &[u8]) -> Result<Option<SecurityEvent>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    SecurityEvent::from_json_slice(line)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Reads a whole input: a JSON array of events, one (possibly pretty-printed) event, or
/// NDJSON read line by line with `parse_line` (e.g. [`parse_line`], or one that also
/// takes another line format). Returns every valid event and every error.
///
/// ```
/// use siem_core::{details::SiemTest, input, SecurityEvent};
/// let event = SecurityEvent::builder("org_acme", "proj_1", SiemTest::default()).build()?;
/// let text = format!("{}\nnot json\n", event.to_json());
/// let (events, errors) = input::read_events(text.as_bytes(), input::parse_line);
/// assert_eq!((events.len(), errors[0].line), (1, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_events(
    input: &[u8],
    mut parse_line: impl FnMut(&[u8]) -> Result<Option<SecurityEvent>, String>,
) -> (Vec<SecurityEvent>, Vec<LineError>) {
    let start = input.iter().position(|b| !b.is_ascii_whitespace());
    let first = start.map(|i| input[i]);
    let non_empty_lines = input
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count();
    // A JSON array, or one pretty-printed event spanning several lines, is one JSON
    // text; anything else (or a whole text that does not parse) is NDJSON.
    let whole = (first == Some(b'[') || (first == Some(b'{') && non_empty_lines > 1))
        .then(|| std::str::from_utf8(input).ok())
        .flatten();
    if let Some(text) = whole {
        if first == Some(b'[') {
            return read_array(text);
        }
        if let Ok(event) = SecurityEvent::from_json(text) {
            return (vec![event], Vec::new());
        }
    }
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for (i, line) in lines.into_iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match parse_line(line) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(message) => errors.push(LineError {
                line: i + 1,
                message,
            }),
        }
    }
    (events, errors)
}

fn read_array(text: &str) -> (Vec<SecurityEvent>, Vec<LineError>) {
    match serde_json::from_str::<Vec<&serde_json::value::RawValue>>(text) {
        Ok(items) => {
            let mut events = Vec::new();
            let mut errors = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match SecurityEvent::from_json(item.get()) {
                    Ok(e) => events.push(e),
                    Err(e) => errors.push(LineError {
                        line: i + 1,
                        message: format!("array element {i}: {e}"),
                    }),
                }
            }
            (events, errors)
        }
        Err(e) => (
            Vec::new(),
            vec![LineError {
                line: e.line(),
                message: e.to_string(),
            }],
        ),
    }
}
