//! Splunk HTTP Event Collector emulator.
//!
//! # What it checks, like HEC
//! - `POST /services/collector/event` (also `/services/collector` and
//!   `/services/collector/event/1.0`); `GET /services/collector/health` answers
//!   `{"text":"HEC is healthy","code":17}`; anything else 404.
//! - `Authorization: Splunk <token>`: missing → 401 code 2 `Token is required`; another
//!   scheme → 401 code 3 `Invalid authorization`; wrong token → 403 code 4 `Invalid token`.
//! - `Content-Encoding: gzip` is decompressed; any other encoding is read as-is (and so
//!   fails as `Invalid data format`, as HEC does with deflate).
//! - The body (decompressed) at most `max_content_length` bytes → 413
//!   `{"text":"Content too large"}`; empty → 400 code 5 `No data`.
//! - The body is JSON envelopes concatenated (no array). For each: malformed or not an
//!   object → 400 code 6 `Invalid data format`; no `event` → 400 code 12
//!   `Event field is required`; blank `event` (`""`/`null`) → 400 code 13; `time` a number
//!   (or numeric string), `host`/`source`/`sourcetype`/`index` strings, `fields` an object,
//!   else code 6; `index` outside the allowed list → 400 code 7 `Incorrect index`. Data
//!   errors carry `"invalid-event-number"`, and — as HEC does — the envelopes *before* the
//!   bad one are indexed (accepted and recorded).
//! - Stricter than HEC, on purpose: `event` must be our event object (see
//!   [`ReceivedEvent`](crate::ReceivedEvent)); otherwise 400 code 6.
//! - Success: 200 `{"text":"Success","code":0}`.

use std::sync::Arc;

use http::Method;
use serde_json::value::RawValue;

use crate::control::{config_debug, control_methods, Core, Keep, Recording};
use crate::event::{decode_event, PlatformFields, CANONICAL};
use crate::json::{self, Fields, Kind};
use crate::server::{
    decode_body, server_methods, start_with_own_ca, DecodeBody, EmulatorServer, Outcome, Reply,
    Req, Service,
};

/// The HEC token the emulator accepts unless configured otherwise.
pub const DEFAULT_SPLUNK_TOKEN: &str = "00000000-0000-4000-8000-000000005e1c";

/// The default body limit (decompressed), in bytes.
pub const DEFAULT_MAX_CONTENT_LENGTH: usize = 1_000_000;

/// Configuration of a [`SplunkEmulator`].
#[derive(Clone)]
pub struct SplunkEmulatorConfig {
    /// The HEC token clients must send.
    pub token: String,
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The largest body accepted, decompressed, in bytes.
    pub max_content_length: usize,
    /// The indexes the token may write to; empty allows any.
    pub allowed_indexes: Vec<String>,
    /// What to keep of accepted events.
    pub recording: Recording,
    /// Offer HTTP/2 by ALPN (HEC itself speaks HTTP/1.1, so off by default).
    pub http2: bool,
}

impl Default for SplunkEmulatorConfig {
    fn default() -> Self {
        Self {
            token: DEFAULT_SPLUNK_TOKEN.to_owned(),
            port: 0,
            max_content_length: DEFAULT_MAX_CONTENT_LENGTH,
            allowed_indexes: Vec::new(),
            recording: Recording::default(),
            http2: false,
        }
    }
}

config_debug!(SplunkEmulatorConfig {
    token => redacted,
    port,
    max_content_length,
    allowed_indexes,
    recording,
    http2,
});

/// A running Splunk HEC emulator; stops when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), siem_testkit::EmulatorError> {
/// use siem_testkit::{Fault, SplunkEmulator, SplunkEmulatorConfig};
/// let splunk = SplunkEmulator::start(SplunkEmulatorConfig {
///     token: "my-token".into(),
///     ..Default::default()
/// })
/// .await?;
/// assert!(splunk.endpoint().as_str().starts_with("https://127.0.0.1:"));
/// splunk.inject(Fault::status(503));
/// assert_eq!(splunk.stats().requests, 0);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SplunkEmulator {
    server: EmulatorServer,
    service: Arc<SplunkService>,
}

impl SplunkEmulator {
    start_with_own_ca!(
        SplunkEmulatorConfig,
        "siem-testkit Splunk CA",
        |ca, config| {
            let (port, http2) = (config.port, config.http2);
            let service = Arc::new(SplunkService {
                core: Core::new(config.recording, config.max_content_length),
                config,
            });
            let server = EmulatorServer::start(ca, port, http2, vec![service.clone()]).await?;
            Ok(Self { server, service })
        }
    );

    server_methods!(server, "a sink's `endpoint`");

    /// The event URL, `{endpoint}services/collector/event`.
    pub fn event_url(&self) -> String {
        format!(
            "{}services/collector/event",
            self.server.endpoint().as_str()
        )
    }

    /// The token clients must send.
    pub fn token(&self) -> &str {
        &self.service.config.token
    }

    fn core(&self) -> &Core {
        &self.service.core
    }

    control_methods!(core);
}

#[derive(Debug)]
struct SplunkService {
    config: SplunkEmulatorConfig,
    core: Core,
}

const EVENT_PATHS: [&str; 3] = [
    "/services/collector/event",
    "/services/collector",
    "/services/collector/event/1.0",
];

fn hec(status: u16, text: &str, code: u16) -> Reply {
    Reply::json(
        status,
        format!(r#"{{"text":{},"code":{code}}}"#, json::quote(text)),
    )
}

/// A data error about envelope `n`.
fn bad_event(text: &str, code: u16, n: usize, detail: String) -> Reply {
    let mut reply = Reply::json(
        400,
        format!(
            r#"{{"text":{},"code":{code},"invalid-event-number":{n}}}"#,
            json::quote(text)
        ),
    );
    reply.detail = Some(detail);
    reply
}

impl Service for SplunkService {
    fn core(&self) -> &Core {
        &self.core
    }

    fn error(&self, status: u16, message: &str) -> Reply {
        let mut reply = match status {
            400 => hec(400, "Invalid data format", 6),
            401 => hec(401, "Token is required", 2),
            403 => hec(403, "Invalid token", 4),
            404 => hec(404, "The requested URL was not found on this server.", 404),
            413 => Reply::json(413, r#"{"text":"Content too large"}"#),
            500 => hec(500, "Internal server error", 8),
            503 => hec(503, "Server is busy", 9),
            other => hec(other, "Server is busy", 9),
        };
        reply.detail = Some(message.to_owned());
        reply
    }

    fn handle(&self, req: &Req) -> Outcome {
        if req.method == Method::GET && req.path == "/services/collector/health" {
            return hec(200, "HEC is healthy", 17).into();
        }
        if !EVENT_PATHS.contains(&req.path.as_str()) {
            return self
                .error(404, &format!("no HEC endpoint at {}", req.path))
                .into();
        }
        if req.method != Method::POST {
            return Reply::json(405, r#"{"text":"Method Not Allowed"}"#).into();
        }
        let Some(auth) = req.header("authorization") else {
            return hec(401, "Token is required", 2).into();
        };
        let Some(token) = auth
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Splunk"))
            .map(|(_, token)| token.trim())
        else {
            return hec(401, "Invalid authorization", 3).into();
        };
        if token != self.config.token {
            return hec(403, "Invalid token", 4).into();
        }
        let body = match decode_body(req, self.config.max_content_length) {
            Ok(body) => body,
            Err(DecodeBody::TooLarge) => {
                return self
                    .error(
                        413,
                        &format!(
                            "decompressed body over {} bytes",
                            self.config.max_content_length
                        ),
                    )
                    .into()
            }
            Err(DecodeBody::Corrupt(e) | DecodeBody::Unsupported(e)) => {
                return bad_event("Invalid data format", 6, 0, format!("body: {e}")).into()
            }
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            return hec(400, "No data", 5).into();
        }
        self.envelopes(&body)
    }
}

impl SplunkService {
    fn envelopes(&self, body: &[u8]) -> Outcome {
        let keep = self.core.keep();
        let mut events = Vec::new();
        let mut accepted = 0;
        let stream = serde_json::Deserializer::from_slice(body).into_iter::<Fields<'_>>();
        for (n, envelope) in stream.enumerate() {
            let failure = match envelope {
                Err(e) => Some(bad_event("Invalid data format", 6, n, e.to_string())),
                Ok(fields) => match self.envelope(&fields, keep) {
                    Ok(event) => {
                        accepted += 1;
                        events.extend(event);
                        None
                    }
                    Err(e) => Some(bad_event(e.text, e.code, n, e.detail)),
                },
            };
            if let Some(reply) = failure {
                return Outcome {
                    reply,
                    accepted,
                    events,
                };
            }
        }
        Outcome {
            reply: hec(200, "Success", 0),
            accepted,
            events,
        }
    }

    /// Checks one envelope.
    fn envelope(
        &self,
        fields: &Fields<'_>,
        keep: Keep<'_>,
    ) -> Result<Option<crate::ReceivedEvent>, DataError> {
        let Some(event) = fields.get("event") else {
            return Err(DataError::new(
                "Event field is required",
                12,
                "no `event`".into(),
            ));
        };
        let blank = match Kind::of(event) {
            Kind::Null => true,
            Kind::String => json::string(event).is_some_and(|s| s.trim().is_empty()),
            _ => false,
        };
        if blank {
            return Err(DataError::new(
                "Event field cannot be blank",
                13,
                "blank `event`".into(),
            ));
        }
        let time = match fields.get("time") {
            None => None,
            Some(raw) => Some(epoch_seconds(raw).ok_or_else(|| {
                DataError::format(format!("`time` must be epoch seconds, got {}", raw.get()))
            })?),
        };
        let mut meta = [None, None, None, None];
        for (slot, name) in meta
            .iter_mut()
            .zip(["host", "source", "sourcetype", "index"])
        {
            *slot = json::optional_string(fields.get(name)).map_err(|k| {
                DataError::format(format!("`{name}` must be a string, not {}", k.name()))
            })?;
        }
        if fields
            .get("fields")
            .is_some_and(|f| Kind::of(f) != Kind::Object)
        {
            return Err(DataError::format("`fields` must be an object".into()));
        }
        let [host, source, sourcetype, index] = meta;
        if let Some(index) = &index {
            let allowed = &self.config.allowed_indexes;
            if !allowed.is_empty() && !allowed.iter().any(|a| a == index) {
                let detail = format!("index {index:?} is not allowed for this token");
                return Err(DataError::new("Incorrect index", 7, detail));
            }
        }
        if Kind::of(event) != Kind::Object {
            return Err(DataError::format(format!(
                "`event` must be the event object, not {}",
                Kind::of(event).name()
            )));
        }
        let inner = Fields::parse(event).map_err(|e| DataError::format(format!("`event`: {e}")))?;
        let severity_id = inner.get("severity_id");
        if severity_id.is_some_and(|id| Kind::of(id) != Kind::Number) {
            return Err(DataError::format(
                "`event.severity_id` must be a number".into(),
            ));
        }
        decode_event(&inner, &CANONICAL, keep, || PlatformFields::Splunk {
            time,
            host: host.map(|s| s.into_owned()),
            source: source.map(|s| s.into_owned()),
            sourcetype: sourcetype.map(|s| s.into_owned()),
            index: index.map(|s| s.into_owned()),
            severity_id: severity_id.and_then(|id| id.get().trim().parse().ok()),
        })
        .map_err(|e| DataError::format(format!("`event`: {e}")))
    }
}

/// What is wrong with one envelope: HEC's text and code, and our explanation.
struct DataError {
    text: &'static str,
    code: u16,
    detail: String,
}

impl DataError {
    fn new(text: &'static str, code: u16, detail: String) -> Self {
        Self { text, code, detail }
    }

    fn format(detail: String) -> Self {
        Self::new("Invalid data format", 6, detail)
    }
}

/// `time` as HEC reads it: a number, or a string holding one.
fn epoch_seconds(raw: &RawValue) -> Option<f64> {
    match Kind::of(raw) {
        Kind::Number => raw.get().trim().parse().ok(),
        Kind::String => json::string(raw)?.trim().parse().ok(),
        _ => None,
    }
    .filter(|t: &f64| t.is_finite() && *t >= 0.0)
}
