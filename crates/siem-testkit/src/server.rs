//! The emulators on siem-http's test HTTPS server ([`HttpsServer`]): routing of each
//! request to an emulated service, with faults applied on the way.

use std::fmt;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use siem_core::Endpoint;
use siem_http::testing::{HttpsServer, Listen, TestCa, TestServerError};

use crate::control::{Core, Fault, RequestRecord};
use crate::event::ReceivedEvent;
use crate::EmulatorError;

/// A request as a service sees it (body already read, not yet decompressed).
#[derive(Debug)]
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Bytes,
    pub content_type: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
    /// The emulator's own explanation, kept in the [`RequestRecord`] (never sent when the
    /// platform's body has no room for it).
    pub detail: Option<String>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            body: body.into(),
            content_type: Some("application/json; charset=utf-8"),
            headers: Vec::new(),
            detail: None,
        }
    }

    pub(crate) fn empty(status: u16) -> Self {
        Self {
            status,
            body: Bytes::new(),
            content_type: None,
            headers: Vec::new(),
            detail: None,
        }
    }
}

/// What a service made of a request.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub reply: Reply,
    /// Events accepted (stored or not).
    pub accepted: usize,
    /// Decoded events to store (empty when not storing).
    pub events: Vec<ReceivedEvent>,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Self {
            reply,
            accepted: 0,
            events: Vec::new(),
        }
    }
}

/// One emulated service (Splunk HEC, Datadog intake, DCE, Entra).
pub(crate) trait Service: Send + Sync + 'static {
    /// Its faults, counters and records.
    fn core(&self) -> &Core;
    /// Whether a request for `path` is for this service (the last service of a server
    /// gets every request no earlier one claims); by default, every request.
    fn claims(&self, _path: &str) -> bool {
        true
    }
    /// The platform's error answer for `status` with this message.
    fn error(&self, status: u16, message: &str) -> Reply;
    /// Validates and handles a request.
    fn handle(&self, req: &Req) -> Outcome;
}

/// The connection ends without an answer (a [`Fault::Reset`]).
#[derive(Debug)]
struct ResetConnection;

impl fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by fault injection")
    }
}

impl std::error::Error for ResetConnection {}

type Routes = Arc<[Arc<dyn Service>]>;

/// An emulator's server (siem-http's one test HTTPS server, routing to the emulated
/// services) and the CA certificate clients must trust; stops when dropped.
#[derive(Debug)]
pub(crate) struct EmulatorServer {
    https: HttpsServer,
    ca_pem: String,
}

impl EmulatorServer {
    /// Starts a server on `127.0.0.1:port` (0 = any free port) with a certificate from
    /// `ca`, and routes its requests to `routes`.
    pub(crate) async fn start(
        ca: &TestCa,
        port: u16,
        http2: bool,
        routes: Vec<Arc<dyn Service>>,
    ) -> Result<Self, EmulatorError> {
        let routes: Routes = routes.into();
        let https = HttpsServer::start(ca, Listen { port, http2 }, move |request| {
            handle(request, routes.clone())
        })
        .await
        .map_err(|e| match e {
            TestServerError::Bind { reason } => EmulatorError::Bind { port, reason },
            TestServerError::Tls { reason } => EmulatorError::Tls { reason },
            other => EmulatorError::Certificate(other),
        })?;
        Ok(Self {
            https,
            ca_pem: ca.cert_pem().to_owned(),
        })
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        self.https.endpoint()
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.https.addr()
    }

    pub(crate) fn connections(&self) -> u64 {
        self.https.connections()
    }

    pub(crate) fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

/// The accessors every emulator with a server of its own has, reading `self.$server` (an
/// [`EmulatorServer`]); `$endpoint_use` says what its base URL is for.
macro_rules! server_methods {
    ($server:ident, $endpoint_use:literal) => {
        #[doc = concat!("The base URL (`https://127.0.0.1:PORT/`): ", $endpoint_use, ".")]
        pub fn endpoint(&self) -> siem_core::Endpoint {
            self.$server.endpoint().clone()
        }

        /// TLS connections accepted so far: with keep-alive, far fewer than requests.
        pub fn connections_accepted(&self) -> u64 {
            self.$server.connections()
        }

        /// The address listened on.
        pub fn addr(&self) -> std::net::SocketAddr {
            self.$server.addr()
        }

        /// The CA certificate (PEM) clients must trust.
        pub fn ca_pem(&self) -> &str {
            self.$server.ca_pem()
        }

        /// Writes the CA certificate to `path` (for a sink's `ca_file`).
        pub fn write_ca_pem(&self, path: &std::path::Path) -> Result<(), $crate::EmulatorError> {
            $crate::write_pem(path, self.$server.ca_pem())
        }
    };
}

pub(crate) use server_methods;

/// An emulator's two constructors: `start_with_ca($ca, $config)`, whose body is given,
/// and `start($config)`, which makes a CA of its own, named `$ca_name`, and calls it.
macro_rules! start_with_own_ca {
    ($config_ty:ty, $ca_name:literal, |$ca:ident, $config:ident| $body:block) => {
        /// Starts it with a CA of its own.
        pub async fn start(config: $config_ty) -> Result<Self, $crate::EmulatorError> {
            let ca = siem_http::testing::TestCa::new($ca_name)?;
            Self::start_with_ca(&ca, config).await
        }

        /// Starts it with a certificate from `ca` (shared by emulators that share a CA file).
        pub async fn start_with_ca(
            $ca: &siem_http::testing::TestCa,
            $config: $config_ty,
        ) -> Result<Self, $crate::EmulatorError> $body
    };
}

pub(crate) use start_with_own_ca;

fn route<'a>(routes: &'a Routes, path: &str) -> Option<&'a Arc<dyn Service>> {
    routes
        .iter()
        .find(|s| s.claims(path))
        .or_else(|| routes.last())
}

async fn handle(
    request: Request<Incoming>,
    routes: Routes,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let (parts, body) = request.into_parts();
    let Some(service) = route(&routes, parts.uri.path()) else {
        return Ok(to_response(Reply::empty(404), false));
    };
    let service = service.as_ref();
    // Read a little beyond the limit, so that a client sending slightly too much gets
    // its 413 rather than a broken pipe; far beyond it we stop reading and close.
    let max = service.core().max_body();
    let hard_cap = max.saturating_add(max.max(1 << 20));
    let (body, over_cap) = match Limited::new(body, hard_cap).collect().await {
        Ok(collected) => (collected.to_bytes(), false),
        Err(_) => (Bytes::new(), true),
    };
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    let core = service.core();
    let plan = core.begin(req.body.len());
    let mut record = RequestRecord {
        method: req.method.to_string(),
        path: req.path.clone(),
        query: req.query.clone(),
        status: None,
        events: 0,
        body_len: req.body.len(),
        content_encoding: req.header("content-encoding").map(str::to_owned),
        user_agent: req.header("user-agent").map(str::to_owned),
        version: format!("{:?}", parts.version),
        detail: None,
    };
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let mut outcome = match plan.fault {
        Some(Fault::Hang) => {
            core.finish(record, 0, Vec::new());
            std::future::pending::<()>().await;
            return Err(ResetConnection);
        }
        Some(Fault::Reset) => {
            core.finish(record, 0, Vec::new());
            return Err(ResetConnection);
        }
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let mut reply = service.error(status, "fault injected by siem-testkit");
            if let Some(after) = retry_after {
                reply
                    .headers
                    .push(("retry-after", after.as_secs().to_string()));
            }
            Outcome::from(reply)
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            answer(service, &req, over_cap)
        }
        None => answer(service, &req, over_cap),
    };
    record.status = Some(outcome.reply.status);
    record.events = outcome.accepted;
    record.detail = outcome.reply.detail.take();
    core.finish(record, outcome.accepted, outcome.events);
    let close = over_cap || parts.version == Version::HTTP_10;
    Ok(to_response(outcome.reply, close))
}

fn answer(service: &dyn Service, req: &Req, over_cap: bool) -> Outcome {
    if over_cap || req.body.len() > service.core().max_body() {
        return service
            .error(
                413,
                &format!(
                    "request body larger than {} bytes",
                    service.core().max_body()
                ),
            )
            .into();
    }
    service.handle(req)
}

fn to_response(reply: Reply, close: bool) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Some(content_type) = reply.content_type {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
    }
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(name, value);
        }
    }
    if close {
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Why a body could not be decompressed.
#[derive(Debug)]
pub(crate) enum DecodeBody {
    /// `Content-Encoding` other than gzip / identity.
    Unsupported(String),
    /// Not valid gzip.
    Corrupt(String),
    /// Larger than the limit once decompressed.
    TooLarge,
}

/// The body, gunzipped when `Content-Encoding: gzip`, at most `limit` bytes decompressed.
pub(crate) fn decode_body(req: &Req, limit: usize) -> Result<Bytes, DecodeBody> {
    let encoding = req.header("content-encoding").map(str::trim).unwrap_or("");
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return if req.body.len() > limit {
            Err(DecodeBody::TooLarge)
        } else {
            Ok(req.body.clone())
        };
    }
    if !encoding.eq_ignore_ascii_case("gzip") {
        return Err(DecodeBody::Unsupported(encoding.chars().take(40).collect()));
    }
    let mut out = Vec::with_capacity(req.body.len().saturating_mul(4).min(limit));
    let mut decoder = flate2::read::GzDecoder::new(&req.body[..]).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| DecodeBody::Corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(DecodeBody::TooLarge);
    }
    Ok(Bytes::from(out))
}

/// Whether `Content-Type` is JSON (parameters such as `charset` allowed).
pub(crate) fn is_json_content_type(req: &Req) -> bool {
    req.header("content-type").is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    })
}
