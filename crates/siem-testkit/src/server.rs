//! The HTTPS server the emulators run on: 127.0.0.1, a certificate from a shared test CA,
//! HTTP/1.1 with keep-alive (and HTTP/2 when negotiated by ALPN), and routing of each
//! request to an emulated service, with faults applied on the way.

use std::fmt;
use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use siem_core::Endpoint;
use siem_http::testing::TestCa;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

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
    /// gets every request no earlier one claims).
    fn claims(&self, path: &str) -> bool;
    /// The largest request body (as sent) the service reads; beyond it, 413.
    fn max_body(&self) -> usize;
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

/// A running server; stops (and drops every connection) when dropped.
pub(crate) struct Server {
    endpoint: Endpoint,
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("url", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Routes = Arc<[Arc<dyn Service>]>;

impl Server {
    /// Binds `127.0.0.1:port` (0 = any free port) and serves `routes`.
    pub(crate) async fn start(
        ca: &TestCa,
        port: u16,
        http2: bool,
        routes: Vec<Arc<dyn Service>>,
    ) -> Result<Self, EmulatorError> {
        let acceptor = tls_acceptor(ca, http2)?;
        let bind = |e: std::io::Error| EmulatorError::Bind {
            port,
            reason: e.to_string(),
        };
        // SO_REUSEADDR: a fixed port can be taken again right after a previous emulator
        // on it stopped (its old connections may linger in TIME_WAIT).
        let socket = TcpSocket::new_v4().map_err(bind)?;
        socket.set_reuseaddr(true).map_err(bind)?;
        socket
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .map_err(bind)?;
        let listener = socket.listen(1024).map_err(bind)?;
        let addr = listener.local_addr().map_err(|e| EmulatorError::Bind {
            port,
            reason: e.to_string(),
        })?;
        let endpoint =
            Endpoint::parse(&format!("https://{addr}/")).map_err(|e| EmulatorError::Bind {
                port,
                reason: e.to_string(),
            })?;
        let connections = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            routes.into(),
            connections.clone(),
        ));
        Ok(Self {
            endpoint,
            addr,
            connections,
            task,
        })
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TLS connections accepted so far (handshake completed).
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

fn tls_acceptor(ca: &TestCa, http2: bool) -> Result<TlsAcceptor, EmulatorError> {
    let cert = ca.issue_server_cert(&["127.0.0.1", "localhost"])?;
    let tls = |e: rustls::Error| EmulatorError::Tls {
        reason: e.to_string(),
    };
    let pem = |e: rustls::pki_types::pem::Error| EmulatorError::Tls {
        reason: format!("server certificate PEM: {e}"),
    };
    let cert_der = CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).map_err(pem)?;
    let key_der = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).map_err(pem)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .map_err(tls)?;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    routes: Routes,
    accepted: Arc<AtomicU64>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of descriptors or similar: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        connections.spawn(serve_connection(
            tcp,
            acceptor.clone(),
            routes.clone(),
            accepted.clone(),
        ));
    }
}

async fn serve_connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    routes: Routes,
    accepted: Arc<AtomicU64>,
) {
    // A client that refuses our certificate ends the handshake; nothing to serve then.
    let Ok(tls) = acceptor.accept(tcp).await else {
        return;
    };
    accepted.fetch_add(1, Ordering::Relaxed);
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let service = service_fn(move |request| handle(request, routes.clone()));
    let io = TokioIo::new(tls);
    if h2 {
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    }
}

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
    let max = service.max_body();
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
    if over_cap || req.body.len() > service.max_body() {
        return service
            .error(
                413,
                &format!("request body larger than {} bytes", service.max_body()),
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
