//! Datadog Logs API v2 intake emulator.
//!
//! # What it checks, like the intake
//! - `POST /api/v2/logs`, else 404 `{"errors":["Not Found"]}` (405 for another method).
//! - `DD-API-KEY` equal to the configured key, else 403 `{"errors":["Forbidden"]}`.
//! - `Content-Type: application/json` (parameters allowed), else 400.
//! - `Content-Encoding: gzip` is decompressed; another encoding → 415.
//! - At most 5,000,000 bytes decompressed per request, at most 1000 items, at most
//!   1,000,000 bytes per item (its JSON text) → 413.
//! - The body a JSON array of objects; reserved attributes (`ddsource`, `ddtags`,
//!   `hostname`, `service`, `status`, `message`) strings when present → else 400.
//! - Stricter than Datadog, on purpose: each item must carry our event's fields at top
//!   level (see [`ReceivedEvent`](crate::ReceivedEvent)), else 400.
//! - A request is accepted or rejected as a whole. Success: 202 `{}`.
//!
//! Error bodies: 403 is `{"errors":["Forbidden"]}`; the others are Datadog's log-intake
//! form `{"errors":[{"status":"400","title":"Bad Request","detail":"…"}]}`.

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::value::RawValue;

use crate::control::{config_debug, control_methods, Core, Keep, Recording};
use crate::event::{decode_event, PlatformFields, CANONICAL};
use crate::json::{self, Fields, Kind};
use crate::server::{
    decode_body, is_json_content_type, server_methods, start_with_own_ca, DecodeBody,
    EmulatorServer, Outcome, Reply, Req, Service,
};

/// The API key the emulator accepts unless configured otherwise.
pub const DEFAULT_DATADOG_API_KEY: &str = "0123456789abcdef0123456789abcdef";

/// Items per request.
pub const DEFAULT_MAX_ITEMS: usize = 1000;
/// Bytes per request, decompressed.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 5_000_000;
/// Bytes per item.
pub const DEFAULT_MAX_ITEM_BYTES: usize = 1_000_000;

/// Configuration of a [`DatadogEmulator`].
#[derive(Clone)]
pub struct DatadogEmulatorConfig {
    /// The API key clients must send in `DD-API-KEY`.
    pub api_key: String,
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Items per request.
    pub max_items: usize,
    /// Bytes per request, decompressed.
    pub max_payload_bytes: usize,
    /// Bytes per item.
    pub max_item_bytes: usize,
    /// What to keep of accepted events.
    pub recording: Recording,
    /// Offer HTTP/2 by ALPN (the intake does).
    pub http2: bool,
}

impl Default for DatadogEmulatorConfig {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_DATADOG_API_KEY.to_owned(),
            port: 0,
            max_items: DEFAULT_MAX_ITEMS,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_item_bytes: DEFAULT_MAX_ITEM_BYTES,
            recording: Recording::default(),
            http2: true,
        }
    }
}

config_debug!(DatadogEmulatorConfig {
    api_key => redacted,
    port,
    max_items,
    max_payload_bytes,
    max_item_bytes,
    recording,
    http2,
});

/// A running Datadog logs intake emulator; stops when dropped.
#[derive(Debug)]
pub struct DatadogEmulator {
    server: EmulatorServer,
    service: Arc<DatadogService>,
}

impl DatadogEmulator {
    start_with_own_ca!(
        DatadogEmulatorConfig,
        "siem-testkit Datadog CA",
        |ca, config| {
            let (port, http2) = (config.port, config.http2);
            let service = Arc::new(DatadogService {
                core: Core::new(config.recording, config.max_payload_bytes),
                config,
            });
            let server = EmulatorServer::start(ca, port, http2, vec![service.clone()]).await?;
            Ok(Self { server, service })
        }
    );

    server_methods!(server, "a sink's explicit `endpoint`");

    /// The intake URL, `{endpoint}api/v2/logs`.
    pub fn logs_url(&self) -> String {
        format!("{}api/v2/logs", self.server.endpoint().as_str())
    }

    /// The API key clients must send.
    pub fn api_key(&self) -> &str {
        &self.service.config.api_key
    }

    fn core(&self) -> &Core {
        &self.service.core
    }

    control_methods!(core);
}

#[derive(Debug)]
struct DatadogService {
    config: DatadogEmulatorConfig,
    core: Core,
}

fn log_error(status: u16, detail: &str) -> Reply {
    let title = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut reply = Reply::json(
        status,
        format!(
            r#"{{"errors":[{{"status":"{status}","title":{},"detail":{}}}]}}"#,
            json::quote(title),
            json::quote(detail)
        ),
    );
    reply.detail = Some(detail.to_owned());
    reply
}

const RESERVED: [&str; 6] = [
    "ddsource", "ddtags", "hostname", "service", "status", "message",
];

impl Service for DatadogService {
    fn core(&self) -> &Core {
        &self.core
    }

    fn error(&self, status: u16, message: &str) -> Reply {
        match status {
            403 => {
                let mut reply = Reply::json(403, r#"{"errors":["Forbidden"]}"#);
                reply.detail = Some(message.to_owned());
                reply
            }
            404 => Reply::json(404, r#"{"errors":["Not Found"]}"#),
            _ => log_error(status, message),
        }
    }

    fn handle(&self, req: &Req) -> Outcome {
        if req.path != "/api/v2/logs" {
            return self.error(404, "").into();
        }
        if req.method != Method::POST {
            return log_error(405, "use POST").into();
        }
        if req.header("dd-api-key") != Some(self.config.api_key.as_str()) {
            let why = if req.header("dd-api-key").is_some() {
                "wrong DD-API-KEY"
            } else {
                "no DD-API-KEY"
            };
            return self.error(403, why).into();
        }
        if !is_json_content_type(req) {
            let got = req.header("content-type").unwrap_or("none");
            return log_error(
                400,
                &format!("Content-Type must be application/json, got {got}"),
            )
            .into();
        }
        let max = self.config.max_payload_bytes;
        let body = match decode_body(req, max) {
            Ok(body) => body,
            Err(DecodeBody::TooLarge) => {
                return log_error(413, &format!("payload over {max} bytes uncompressed")).into()
            }
            Err(DecodeBody::Unsupported(e)) => {
                return log_error(415, &format!("unsupported Content-Encoding {e}")).into()
            }
            Err(DecodeBody::Corrupt(e)) => {
                return log_error(400, &format!("Malformed payload: gzip: {e}")).into()
            }
        };
        let items: Vec<&RawValue> = match serde_json::from_slice(&body) {
            Ok(items) => items,
            Err(e) => {
                return log_error(
                    400,
                    &format!("Malformed payload: expected a JSON array: {e}"),
                )
                .into()
            }
        };
        if items.len() > self.config.max_items {
            return log_error(
                413,
                &format!(
                    "{} items, more than {} per request",
                    items.len(),
                    self.config.max_items
                ),
            )
            .into();
        }
        let keep = self.core.keep();
        let mut events = Vec::with_capacity(if keep.store { items.len() } else { 0 });
        for (n, item) in items.iter().enumerate() {
            match self.item(item, keep) {
                Ok(event) => events.extend(event),
                Err((status, why)) => return log_error(status, &format!("item {n}: {why}")).into(),
            }
        }
        Outcome {
            reply: Reply::json(202, "{}"),
            accepted: items.len(),
            events,
        }
    }
}

impl DatadogService {
    fn item(
        &self,
        item: &RawValue,
        keep: Keep<'_>,
    ) -> Result<Option<crate::ReceivedEvent>, (u16, String)> {
        let size = item.get().len();
        if size > self.config.max_item_bytes {
            return Err((
                413,
                format!(
                    "{size} bytes, more than {} per item",
                    self.config.max_item_bytes
                ),
            ));
        }
        if Kind::of(item) != Kind::Object {
            return Err((
                400,
                format!("must be an object, not {}", Kind::of(item).name()),
            ));
        }
        let fields = Fields::parse(item).map_err(|e| (400, e))?;
        let mut reserved: [Option<String>; 6] = Default::default();
        for (slot, name) in reserved.iter_mut().zip(RESERVED) {
            let value = json::optional_string(fields.get(name))
                .map_err(|k| (400, format!("`{name}` must be a string, not {}", k.name())))?;
            if keep.store {
                *slot = value.map(|s| s.into_owned());
            }
        }
        let [ddsource, ddtags, hostname, service, status, message] = reserved;
        decode_event(&fields, &CANONICAL, keep, || PlatformFields::Datadog {
            ddsource,
            ddtags,
            hostname,
            service,
            status,
            message,
        })
        .map_err(|e| (400, e))
    }
}
