//! `POST /api/v1/events`: a gateway's events (NDJSON or a JSON array, optionally gzip)
//! with an ingest token. The answer comes once the events are in the connectors' buffers
//! (202), never after a SIEM's answer; each bad line is named by its number and the rest
//! is kept.

use std::io::Read;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use siem_core::SecurityEvent;
use siem_dispatch::EmitOutcome;

use crate::api::{ApiError, Caller};
use crate::app::App;
use crate::auth::{Principal, Role};

/// At most this many line errors are listed in an answer (the count is always given).
const MAX_LISTED_ERRORS: usize = 100;

/// One refused line.
#[derive(Debug, Serialize)]
struct LineError {
    /// 1-based line of NDJSON, or 1-based item of a JSON array.
    line: usize,
    error: String,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    /// Events taken (routed to every matching connector's buffer).
    accepted: u64,
    /// Of `accepted`, events no connector subscribes to.
    unrouted: u64,
    /// Of `accepted`, events some connector's full buffer refused.
    dropped: u64,
    /// Lines refused.
    rejected: u64,
    errors: Vec<LineError>,
}

impl Summary {
    fn reject(&mut self, line: usize, error: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(LineError { line, error });
        }
    }
}

pub(crate) async fn ingest(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let org = match caller {
        Principal::Org {
            org_id,
            role: Role::Ingest,
        } => org_id,
        Principal::Org { .. } | Principal::SuperAdmin => {
            return Err(ApiError::Forbidden(
                "posting events needs an ingest token of the organization",
            ))
        }
    };
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let body = if gzip {
        let mut out = Vec::new();
        let limit = app.max_body_bytes as u64;
        flate2::read::GzDecoder::new(&body[..])
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| ApiError::BadRequest(format!("the gzip body cannot be read: {e}")))?;
        if out.len() as u64 > limit {
            return Ok((
                StatusCode::PAYLOAD_TOO_LARGE,
                Json(json!({"error": format!("the body is over {limit} bytes uncompressed; send fewer events per request")})),
            )
                .into_response());
        }
        bytes::Bytes::from(out)
    } else {
        body
    };
    let mut summary = Summary::default();
    let foreign = |event: &SecurityEvent| {
        format!(
            "org_id \"{}\" is not this token's organization (\"{org}\")",
            event.org_id().as_str()
        )
    };
    // NDJSON lines are checked as they are read, so that a foreign line is named by its
    // number; a JSON array's elements are checked below, by their position.
    let (events, errors) =
        siem_core::input::read_events(&body, |line| match siem_core::input::parse_line(line)? {
            Some(event) if event.org_id().as_str() != org => Err(foreign(&event)),
            other => Ok(other),
        });
    for e in errors {
        summary.reject(e.line, e.message);
    }
    let mut accepted = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        if event.org_id().as_str() == org {
            accepted.push(Arc::new(event));
        } else {
            summary.reject(
                i + 1,
                format!("valid event {} of the array: {}", i + 1, foreign(&event)),
            );
        }
    }
    // Into the buffers with each connector's `when_full`: `block` waits for room while its
    // SIEM keeps up (lossless backpressure, as `forward` does) and never once its circuit
    // is open; `drop_newest` and disk buffers never wait.
    summary.accepted = accepted.len() as u64;
    app.dispatcher
        .emit_wait_all(accepted, |outcome| match outcome {
            EmitOutcome::Queued { .. } => {}
            EmitOutcome::NoMatch => summary.unrouted += 1,
            EmitOutcome::Dropped { .. } | EmitOutcome::Closed => summary.dropped += 1,
        })
        .await;
    crate::ops::count_ingest(&app, &org, summary.accepted, summary.rejected);
    let status = if summary.accepted == 0 && summary.rejected > 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(summary)).into_response())
}
