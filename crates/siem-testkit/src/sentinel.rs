//! Azure Monitor Logs Ingestion API (data collection endpoint) emulator, with the Entra ID
//! token endpoint on the same server or its own.
//!
//! # What it checks, like the DCE
//! - `POST /dataCollectionRules/{dcr}/streams/{stream}` with the configured DCR immutable
//!   id and stream, else 404 `NotFound` (405 for another method).
//! - `Authorization: Bearer <token>` with a token the Entra emulator issued (or a
//!   configured static one), else 401 `{"error":{"code":"InvalidToken",…}}`.
//! - `?api-version=2023-01-01`: missing → 400 `MissingApiVersionParameter`, another →
//!   400 `UnsupportedApiVersion`.
//! - `Content-Type: application/json`, else 415 `UnsupportedMediaType`;
//!   `Content-Encoding: gzip` decompressed, another encoding → 415.
//! - At most 1,000,000 bytes per call (decompressed, and as sent) → 413
//!   `ContentLengthLimitExceeded`.
//! - The body a JSON array (else 400 `InvalidPayload`) of records, each an object with
//!   exactly the stream's columns ([`STREAM_COLUMNS`]) and the right JSON types:
//!   `TimeGenerated` an RFC 3339 string; `EventId`, `EventType`, `Severity`, `OrgId`,
//!   `ProjectId`, `Source` strings; `RequestId` a string, null or absent; `Details` an
//!   object. Otherwise 400 `{"error":{"code":"InvalidStream","message":…}}` naming the
//!   record and the column. A call is accepted or rejected as a whole.
//! - Success: 204, empty body.

use std::sync::Arc;

use http::Method;
use serde_json::value::RawValue;

use crate::control::{config_debug, control_methods, Core, Keep, Recording};
use crate::entra::{EntraEmulator, EntraEmulatorConfig, EntraService, TokenBook};
use crate::event::{decode_event, Names, PlatformFields};
use crate::json::{self, Fields, Kind};
use crate::server::{
    decode_body, is_json_content_type, server_methods, start_with_own_ca, DecodeBody,
    EmulatorServer, Outcome, Reply, Req, Service,
};

/// The API version the emulator serves.
pub const API_VERSION: &str = "2023-01-01";
/// Default DCR immutable id.
pub const DEFAULT_DCR_IMMUTABLE_ID: &str = "dcr-00000000000000000000000000000000";
/// Default stream (the shipped DCR template's).
pub const DEFAULT_STREAM: &str = "Custom-AisgSecurityEvents";
/// Bytes per call.
pub const DEFAULT_MAX_CALL_BYTES: usize = 1_000_000;

/// The type a stream column requires of a record's JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// An RFC 3339 string (a `datetime` column).
    DateTime,
    /// A string.
    String,
    /// A string or null, or the column left out.
    OptionalString,
    /// An object (a `dynamic` column holding our details).
    Object,
}

/// The declared columns of the `Custom-AisgSecurityEvents` stream (the shipped table and
/// DCR templates).
pub const STREAM_COLUMNS: &[(&str, ColumnType)] = &[
    ("TimeGenerated", ColumnType::DateTime),
    ("EventId", ColumnType::String),
    ("EventType", ColumnType::String),
    ("Severity", ColumnType::String),
    ("OrgId", ColumnType::String),
    ("ProjectId", ColumnType::String),
    ("RequestId", ColumnType::OptionalString),
    ("Source", ColumnType::String),
    ("Details", ColumnType::Object),
];

const SENTINEL_NAMES: Names = Names {
    event_id: "EventId",
    event_type: "EventType",
    org_id: "OrgId",
    project_id: "ProjectId",
    request_id: "RequestId",
    severity: "Severity",
    source: "Source",
    timestamp: "TimeGenerated",
    details: "Details",
};

/// Where the Entra token endpoint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenServer {
    /// On the DCE emulator's server (one URL for both).
    #[default]
    SameServer,
    /// On a server of its own (another port, same CA).
    Separate,
}

/// Configuration of a [`SentinelEmulator`].
#[derive(Clone)]
pub struct SentinelEmulatorConfig {
    /// The DCR immutable id in the path.
    pub dcr_immutable_id: String,
    /// The stream in the path.
    pub stream: String,
    /// The Entra token endpoint's tenant, client id and secret.
    pub entra: EntraEmulatorConfig,
    /// Where the token endpoint runs.
    pub token_server: TokenServer,
    /// Bearer tokens accepted besides those the token endpoint issues (for sinks with a
    /// static bearer token).
    pub static_tokens: Vec<String>,
    /// Bytes per call.
    pub max_call_bytes: usize,
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// What to keep of accepted events.
    pub recording: Recording,
    /// Offer HTTP/2 by ALPN (Azure does).
    pub http2: bool,
}

impl Default for SentinelEmulatorConfig {
    fn default() -> Self {
        Self {
            dcr_immutable_id: DEFAULT_DCR_IMMUTABLE_ID.to_owned(),
            stream: DEFAULT_STREAM.to_owned(),
            entra: EntraEmulatorConfig::default(),
            token_server: TokenServer::default(),
            static_tokens: Vec::new(),
            max_call_bytes: DEFAULT_MAX_CALL_BYTES,
            port: 0,
            recording: Recording::default(),
            http2: true,
        }
    }
}

config_debug!(SentinelEmulatorConfig {
    dcr_immutable_id,
    stream,
    entra,
    token_server,
    static_tokens => count,
    max_call_bytes,
    port,
    recording,
    http2,
});

/// A running Logs Ingestion (DCE) emulator and its Entra token endpoint; stops when
/// dropped.
#[derive(Debug)]
pub struct SentinelEmulator {
    server: EmulatorServer,
    service: Arc<DceService>,
    entra: EntraEmulator,
}

impl SentinelEmulator {
    start_with_own_ca!(
        SentinelEmulatorConfig,
        "siem-testkit Sentinel CA",
        |ca, config| {
            let separate = match config.token_server {
                TokenServer::Separate => {
                    Some(EntraEmulator::start_with_ca(ca, config.entra.clone()).await?)
                }
                TokenServer::SameServer => None,
            };
            let entra_service = match &separate {
                Some(entra) => entra.service.clone(),
                None => EntraService::new(config.entra.clone()),
            };
            let service = Arc::new(DceService {
                core: Core::new(config.recording, config.max_call_bytes),
                tokens: entra_service.tokens.clone(),
                config,
            });
            let mut routes: Vec<Arc<dyn Service>> = Vec::with_capacity(2);
            if separate.is_none() {
                routes.push(entra_service.clone());
            }
            routes.push(service.clone());
            let server =
                EmulatorServer::start(ca, service.config.port, service.config.http2, routes)
                    .await?;
            let entra = match separate {
                Some(entra) => entra,
                None => EntraEmulator::hosted(
                    entra_service,
                    server.endpoint().clone(),
                    server.ca_pem().to_owned(),
                ),
            };
            Ok(Self {
                server,
                service,
                entra,
            })
        }
    );

    server_methods!(server, "the data collection endpoint, a sink's `dce`");

    /// The full ingestion URL, with the DCR, the stream and the api-version.
    pub fn ingestion_url(&self) -> String {
        format!(
            "{}dataCollectionRules/{}/streams/{}?api-version={API_VERSION}",
            self.server.endpoint().as_str(),
            self.service.config.dcr_immutable_id,
            self.service.config.stream
        )
    }

    /// The DCR immutable id.
    pub fn dcr_immutable_id(&self) -> &str {
        &self.service.config.dcr_immutable_id
    }

    /// The stream name.
    pub fn stream(&self) -> &str {
        &self.service.config.stream
    }

    /// The token endpoint (its own faults, counters, tokens).
    pub fn entra(&self) -> &EntraEmulator {
        &self.entra
    }

    /// The Entra authority host: a sink's `authority_host`.
    pub fn authority_host(&self) -> siem_core::Endpoint {
        self.entra.authority_host()
    }

    fn core(&self) -> &Core {
        &self.service.core
    }

    control_methods!(core);
}

#[derive(Debug)]
struct DceService {
    config: SentinelEmulatorConfig,
    tokens: Arc<TokenBook>,
    core: Core,
}

fn azure_error(status: u16, code: &str, message: &str) -> Reply {
    let mut reply = Reply::json(
        status,
        format!(
            r#"{{"error":{{"code":{},"message":{}}}}}"#,
            json::quote(code),
            json::quote(message)
        ),
    );
    reply.detail = Some(message.to_owned());
    reply
}

impl DceService {
    fn authorized(&self, req: &Req) -> Result<(), Reply> {
        let token = req.header("authorization").and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
                .map(|(_, t)| t.trim())
        });
        let Some(token) = token else {
            return Err(azure_error(
                401,
                "InvalidToken",
                "The request has no Bearer token in the Authorization header.",
            ));
        };
        if self.tokens.is_valid(token) || self.config.static_tokens.iter().any(|t| t == token) {
            Ok(())
        } else {
            Err(azure_error(
                401,
                "InvalidToken",
                "The provided token is not valid or has expired.",
            ))
        }
    }

    fn route(&self, req: &Req) -> Result<(), Reply> {
        let mut parts = req.path.trim_start_matches('/').split('/');
        let (Some("dataCollectionRules"), Some(dcr), Some("streams"), Some(stream), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(azure_error(
                404,
                "NotFound",
                &format!("No route for {}", req.path),
            ));
        };
        if dcr != self.config.dcr_immutable_id {
            return Err(azure_error(
                404,
                "NotFound",
                &format!("Data collection rule with immutable Id '{dcr}' not found."),
            ));
        }
        if stream != self.config.stream {
            return Err(azure_error(
                404,
                "NotFound",
                &format!("Stream '{stream}' is not declared in data collection rule '{dcr}'."),
            ));
        }
        let version = req.query.as_deref().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "api-version")
                .map(|(_, v)| v.into_owned())
        });
        match version.as_deref() {
            None => Err(azure_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )),
            Some(API_VERSION) => Ok(()),
            Some(other) => Err(azure_error(
                400,
                "UnsupportedApiVersion",
                &format!("The HTTP resource does not support the API version '{other}'."),
            )),
        }
    }

    fn records(&self, body: &[u8]) -> Outcome {
        let records: Vec<&RawValue> = match serde_json::from_slice(body) {
            Ok(records) => records,
            Err(e) => {
                return azure_error(
                    400,
                    "InvalidPayload",
                    &format!("The body must be a JSON array of records: {e}"),
                )
                .into()
            }
        };
        let keep = self.core.keep();
        let mut events = Vec::with_capacity(if keep.store { records.len() } else { 0 });
        for (n, record) in records.iter().enumerate() {
            match check_record(record, keep) {
                Ok(event) => events.extend(event),
                Err(why) => {
                    return azure_error(
                        400,
                        "InvalidStream",
                        &format!(
                            "Record {n} does not match stream '{}': {why}",
                            self.config.stream
                        ),
                    )
                    .into()
                }
            }
        }
        Outcome {
            reply: Reply::empty(204),
            accepted: records.len(),
            events,
        }
    }
}

/// Checks a record against [`STREAM_COLUMNS`]; decodes it when storing.
fn check_record(record: &RawValue, keep: Keep<'_>) -> Result<Option<crate::ReceivedEvent>, String> {
    if Kind::of(record) != Kind::Object {
        return Err(format!(
            "a record must be an object, not {}",
            Kind::of(record).name()
        ));
    }
    let fields = Fields::parse(record)?;
    let mut seen = [false; STREAM_COLUMNS.len()];
    for (name, value) in &fields.0 {
        let Some(i) = STREAM_COLUMNS.iter().position(|(c, _)| c == name) else {
            return Err(format!("column '{name}' is not declared in the stream"));
        };
        seen[i] = true;
        let (column, ty) = STREAM_COLUMNS[i];
        let kind = Kind::of(value);
        let ok = match ty {
            ColumnType::String => kind == Kind::String,
            ColumnType::OptionalString => matches!(kind, Kind::String | Kind::Null),
            ColumnType::Object => kind == Kind::Object,
            ColumnType::DateTime => {
                kind == Kind::String
                    && json::string(value)
                        .is_some_and(|s| s.parse::<siem_core::Timestamp>().is_ok())
            }
        };
        if !ok {
            let want = match ty {
                ColumnType::String => "a string",
                ColumnType::OptionalString => "a string or null",
                ColumnType::Object => "an object",
                ColumnType::DateTime => "an RFC 3339 datetime string",
            };
            return Err(format!(
                "column '{column}' must be {want}, got {}",
                value.get().chars().take(64).collect::<String>()
            ));
        }
    }
    for ((column, ty), present) in STREAM_COLUMNS.iter().zip(seen) {
        if !present && *ty != ColumnType::OptionalString {
            return Err(format!("column '{column}' is missing"));
        }
    }
    decode_event(&fields, &SENTINEL_NAMES, keep, || PlatformFields::Sentinel)
}

impl Service for DceService {
    fn core(&self) -> &Core {
        &self.core
    }

    fn error(&self, status: u16, message: &str) -> Reply {
        let code = match status {
            400 => "InvalidPayload",
            401 => "InvalidToken",
            403 => "Forbidden",
            404 => "NotFound",
            413 => "ContentLengthLimitExceeded",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            _ => "InternalServerError",
        };
        azure_error(status, code, message)
    }

    fn handle(&self, req: &Req) -> Outcome {
        if let Err(reply) = self.authorized(req) {
            return reply.into();
        }
        if let Err(reply) = self.route(req) {
            return reply.into();
        }
        if req.method != Method::POST {
            return azure_error(405, "MethodNotAllowed", "Use POST.").into();
        }
        if !is_json_content_type(req) {
            return azure_error(
                415,
                "UnsupportedMediaType",
                "Content-Type must be application/json.",
            )
            .into();
        }
        let max = self.config.max_call_bytes;
        let body = decode_body(req, max).map_err(|e| match e {
            DecodeBody::TooLarge => (
                413,
                "ContentLengthLimitExceeded",
                format!("Maximum allowed content length: {max} bytes. The request body is larger once decompressed."),
            ),
            DecodeBody::Unsupported(e) => (
                415,
                "UnsupportedMediaType",
                format!("Content-Encoding '{e}' is not supported; use gzip."),
            ),
            DecodeBody::Corrupt(e) => (400, "InvalidPayload", format!("The gzip body is invalid: {e}")),
        });
        let body = match body {
            Ok(body) => body,
            Err((status, code, message)) => return azure_error(status, code, &message).into(),
        };
        self.records(&body)
    }
}
