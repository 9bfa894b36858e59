//! Reading events: a JSON object, a JSON array or NDJSON, with errors that name the line.

use std::sync::Arc;

use siem_core::SecurityEvent;

pub use siem_core::input::LineError;

/// Parses a whole input (a JSON array, one event, or NDJSON; see
/// [`siem_core::input::read_events`]); NDJSON lines are read as `forward` reads them,
/// dead-letter lines included.
pub fn parse_all(input: &[u8]) -> (Vec<SecurityEvent>, Vec<LineError>) {
    siem_core::input::read_events(input, |line| {
        parse_line_bytes(line).map(|e| e.map(Arc::unwrap_or_clone))
    })
}

/// Parses one NDJSON line, as read from a stream; blank lines (JSON whitespace only) are
/// skipped, and invalid UTF-8 is an error of that line only. The event comes shared (`Arc`), as the dispatcher takes it: it is
/// moved into its allocation once, as soon as it is parsed, and only a pointer travels
/// further (each layer of `Result`/`Option` around a ~200-byte event was a copy).
pub fn parse_line_bytes(line: &[u8]) -> Result<Option<Arc<SecurityEvent>>, String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match SecurityEvent::from_json_slice(line) {
        Ok(event) => Ok(Some(Arc::new(event))),
        Err(_) if line.starts_with(DEAD_LETTER_PREFIX) => parse_dead_letter(line).map(Some),
        Err(e) => Err(e.to_string()),
    }
}

/// How a line of a dead-letter file starts (see `siem_dispatch::DeadLetterLine`).
const DEAD_LETTER_PREFIX: &[u8] = b"{\"dead_letter\":";

/// A dead-letter line: its `event`, so that a dead-letter file can be replayed as is.
fn parse_dead_letter(line: &[u8]) -> Result<Arc<SecurityEvent>, String> {
    let entry: siem_dispatch::DeadLetterLine<Box<serde_json::value::RawValue>> =
        serde_json::from_slice(line).map_err(|e| format!("dead-letter line: {e}"))?;
    SecurityEvent::from_json(entry.event.get())
        .map(Arc::new)
        .map_err(|e| format!("dead-letter line: event: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"event_type":"siem.test","org_id":"o","project_id":"p","details":{"message":"Test event from siem-connectors: if you can read this, delivery works."}}"#;

    #[test]
    fn reads_ndjson_array_and_single_objects() {
        let ndjson = format!("{EVENT}\n\n{EVENT}\n");
        assert_eq!(parse_all(ndjson.as_bytes()).0.len(), 2);
        assert_eq!(
            parse_all(format!("[{EVENT},{EVENT},{EVENT}]").as_bytes())
                .0
                .len(),
            3
        );
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(EVENT).unwrap(),
        )
        .unwrap();
        assert_eq!(parse_all(pretty.as_bytes()).0.len(), 1);
    }

    #[test]
    fn invalid_utf8_is_an_error_of_its_line_only() {
        let mut bad = EVENT.as_bytes().to_vec();
        let at = EVENT.find("\"o\"").unwrap() + 1;
        bad[at] = 0xff;
        let message = parse_line_bytes(&bad).unwrap_err();
        assert!(
            message.contains("UTF-8") || message.contains("unicode"),
            "{message}"
        );
        assert!(parse_line_bytes(EVENT.as_bytes()).unwrap().is_some());
        assert_eq!(parse_line_bytes(b" \t\r").unwrap(), None);
    }

    #[test]
    fn a_dead_letter_line_replays_as_its_event() {
        let event = SecurityEvent::from_json(EVENT).unwrap();
        let line = format!(
            r#"{{"dead_letter":{{"org_id":"o","sink":"s","kind":"permanent","status":400,"reason":"permanent HTTP 400: bad","at":"2026-06-08T20:15:30Z"}},"event":{}}}"#,
            event.to_json()
        );
        let back = parse_line_bytes(line.as_bytes()).unwrap().unwrap();
        assert_eq!(*back, event);
        let broken = line.replace("\"org_id\":\"o\",\"project_id\"", "\"project_id\"");
        let message = parse_line_bytes(broken.as_bytes()).unwrap_err();
        assert!(message.starts_with("dead-letter line: event:"), "{message}");
    }

    #[test]
    fn errors_name_the_line_and_keep_the_rest() {
        let input = format!("{EVENT}\nnot json\n{EVENT}\n{{\"event_type\":\"x\"}}\n");
        let (events, errors) = parse_all(input.as_bytes());
        assert_eq!(events.len(), 2);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line, 2);
        assert_eq!(errors[1].line, 4);
        assert!(errors[1].to_string().starts_with("line 4: `event_type`"));
    }

    #[test]
    fn one_bad_byte_is_an_error_of_its_line_only() {
        let mut input = format!("{EVENT}\n{EVENT}\n\n{EVENT}\n").into_bytes();
        let at = EVENT.len() + 1 + EVENT.find("\"o\"").unwrap() + 1;
        input[at] = 0xff;
        let (events, errors) = parse_all(&input);
        assert_eq!(events.len(), 2);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
    }
}
