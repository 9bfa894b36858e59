//! The HTTPS server every test endpoint runs on ([`HttpsServer`]), and on it a server
//! whose answers a test scripts with a closure ([`TlsTestServer`]).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use siem_core::Endpoint;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use url::Url;

use super::{TestCa, TestServerError};

/// How long [`TestResponse::hang`] waits before answering: longer than any test.
pub const HANG: Duration = Duration::from_secs(24 * 60 * 60);

/// A request as the test server received it.
#[derive(Debug, Clone)]
pub struct TestRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path, e.g. `/services/collector/event`.
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body as sent (still compressed when `Content-Encoding: gzip`).
    pub body: Bytes,
}

impl TestRequest {
    /// A header's value as text, when present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body, gunzipped when `Content-Encoding: gzip` says so.
    pub fn decoded_body(&self) -> std::io::Result<Vec<u8>> {
        if self
            .header("content-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
        {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&self.body[..]),
                &mut out,
            )?;
            Ok(out)
        } else {
            Ok(self.body.to_vec())
        }
    }
}

/// The body of a [`TestResponse`].
#[derive(Debug, Clone)]
pub enum TestBody {
    /// These bytes, with a `Content-Length`.
    Bytes(Bytes),
    /// Chunks of `x` for as long as the client keeps reading: for proving that a client
    /// caps what it reads.
    Endless,
}

/// What the test server answers.
///
/// ```
/// use siem_http::testing::TestResponse;
/// let r = TestResponse::json(503, r#"{"text":"Server is busy","code":9}"#).header("Retry-After", "7");
/// assert_eq!(r.status, 503);
/// ```
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The status code (an invalid one becomes 500).
    pub status: u16,
    /// Headers to send; invalid names or values are skipped.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: TestBody,
    /// How long to wait before answering.
    pub delay: Option<Duration>,
}

impl TestResponse {
    /// An empty answer with this status.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: TestBody::Bytes(Bytes::new()),
            delay: None,
        }
    }

    /// An answer with a JSON body and `Content-Type: application/json`.
    pub fn json(status: u16, body: impl Into<Bytes>) -> Self {
        Self::new(status)
            .header("Content-Type", "application/json")
            .body(body)
    }

    /// A `302 Found` redirect to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::new(302).header("Location", location)
    }

    /// An answer that never comes (it waits [`HANG`]).
    pub fn hang() -> Self {
        Self::new(200).delay(HANG)
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = TestBody::Bytes(body.into());
        self
    }

    /// Makes the body endless (see [`TestBody::Endless`]).
    #[must_use]
    pub fn endless_body(mut self) -> Self {
        self.body = TestBody::Endless;
        self
    }

    /// Waits this long before answering.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

type Handler = Arc<dyn Fn(&TestRequest) -> TestResponse + Send + Sync>;
type Received = Arc<Mutex<Vec<TestRequest>>>;

/// An HTTPS (HTTP/1.1) server on `127.0.0.1` with a certificate for `127.0.0.1` and
/// `localhost`, issued by a throwaway CA. Each request is recorded, then answered by the
/// handler. The server stops when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use siem_http::testing::{TestResponse, TlsTestServer};
/// use siem_http::{HttpClient, HttpOptions};
///
/// let server = TlsTestServer::start(|req| {
///     assert_eq!(req.path, "/hello");
///     TestResponse::json(200, r#"{"ok":true}"#)
/// })
/// .await?;
/// let client = HttpClient::new(&HttpOptions::new("doc/1").extra_root_ca_pem(server.ca_pem()))?;
/// let response = client.post(&server.url().join("/hello")?, &[], "hi".into()).await?;
/// assert_eq!(response.status, 200);
/// assert_eq!(server.requests()[0].body, "hi");
/// # Ok(()) }
/// ```
pub struct TlsTestServer {
    server: HttpsServer,
    ca_pem: String,
    received: Received,
}

impl fmt::Debug for TlsTestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTestServer")
            .field("url", &self.server.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl TlsTestServer {
    /// Starts a server with a fresh CA of its own; trust [`ca_pem`](Self::ca_pem).
    pub async fn start<F>(handler: F) -> Result<Self, TestServerError>
    where
        F: Fn(&TestRequest) -> TestResponse + Send + Sync + 'static,
    {
        let ca = TestCa::new("siem-connectors test CA")?;
        Self::start_with_ca(&ca, handler).await
    }

    /// Starts a server whose certificate `ca` issues, so several servers can share one CA
    /// (and one CA file).
    pub async fn start_with_ca<F>(ca: &TestCa, handler: F) -> Result<Self, TestServerError>
    where
        F: Fn(&TestRequest) -> TestResponse + Send + Sync + 'static,
    {
        Self::serve(ca, ca.cert_pem().to_owned(), Arc::new(handler)).await
    }

    /// Starts a server that a client must refuse: its certificate is issued by one CA,
    /// while [`ca_pem`](Self::ca_pem) returns *another* CA, which did not issue it.
    pub async fn start_untrusted<F>(handler: F) -> Result<Self, TestServerError>
    where
        F: Fn(&TestRequest) -> TestResponse + Send + Sync + 'static,
    {
        let signer = TestCa::new("siem-connectors untrusted CA")?;
        let decoy = TestCa::new("siem-connectors test CA")?;
        Self::serve(&signer, decoy.cert_pem().to_owned(), Arc::new(handler)).await
    }

    async fn serve(
        signer: &TestCa,
        ca_pem: String,
        handler: Handler,
    ) -> Result<Self, TestServerError> {
        let received = Received::default();
        let recorder = received.clone();
        let server = HttpsServer::start(signer, Listen::default(), move |request| {
            handle(request, handler.clone(), recorder.clone())
        })
        .await?;
        Ok(Self {
            server,
            ca_pem,
            received,
        })
    }

    /// The base URL, e.g. `https://127.0.0.1:41234/`.
    pub fn url(&self) -> &Url {
        self.server.endpoint.as_url()
    }

    /// The base URL as an [`Endpoint`].
    pub fn endpoint(&self) -> Endpoint {
        self.server.endpoint.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The PEM of the CA to trust (for an untrusted server: a CA that did not issue its
    /// certificate).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<TestRequest> {
        lock(&self.received).clone()
    }
}

fn lock(received: &Received) -> MutexGuard<'_, Vec<TestRequest>> {
    received.lock().unwrap_or_else(|e| e.into_inner())
}

async fn handle(
    request: Request<Incoming>,
    handler: Handler,
    received: Received,
) -> Result<Response<ReplyBody>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let request = TestRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    lock(&received).push(request.clone());
    let reply = handler(&request);
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::new(match reply.body {
        TestBody::Bytes(bytes) => ReplyBody::Full(Some(bytes)),
        TestBody::Endless => ReplyBody::Endless(Bytes::from(vec![b'x'; 16 * 1024])),
    });
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    Ok(response)
}

/// Where and how an [`HttpsServer`] listens.
#[derive(Debug, Clone, Copy, Default)]
pub struct Listen {
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Offer HTTP/2 by ALPN (HTTP/1.1 is always offered).
    pub http2: bool,
}

/// The server every test HTTPS endpoint runs on ([`TlsTestServer`] and `siem-testkit`'s
/// emulators): `127.0.0.1`, a certificate for `127.0.0.1` and `localhost` from a given
/// CA, HTTP/1.1 with keep-alive (and HTTP/2 when offered and negotiated), each request
/// answered by an async handler. Stops, dropping every connection, when dropped.
pub struct HttpsServer {
    endpoint: Endpoint,
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl fmt::Debug for HttpsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsServer")
            .field("url", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

/// What a handler's errors convert to.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A handler's answer with its types erased, so that the connection code is not generic.
type Answer = Pin<
    Box<dyn Future<Output = Result<Response<UnsyncBoxBody<Bytes, Infallible>>, NoAnswer>> + Send>,
>;

/// A handler's error: the connection closes without an answer. (A concrete type: hyper
/// cannot prove its bounds for a boxed error inside a spawned connection.)
#[derive(Debug)]
struct NoAnswer(BoxError);

impl fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for NoAnswer {}
type ErasedHandler = Arc<dyn Fn(Request<Incoming>) -> Answer + Send + Sync>;

impl HttpsServer {
    /// Binds `127.0.0.1` as `listen` says, with a certificate `ca` issues, and answers
    /// every request with `handler`. A handler error closes the connection without an
    /// answer (a reset, as the client sees it).
    pub async fn start<F, Fut, B, E>(
        ca: &TestCa,
        listen: Listen,
        handler: F,
    ) -> Result<Self, TestServerError>
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<B>, E>> + Send + 'static,
        B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
        E: Into<BoxError>,
    {
        let acceptor = tls_acceptor(ca, listen.http2)?;
        let bind = |e: std::io::Error| TestServerError::Bind {
            reason: e.to_string(),
        };
        // SO_REUSEADDR: a fixed port can be taken again right after a previous server on
        // it stopped (its old connections may linger in TIME_WAIT).
        let socket = TcpSocket::new_v4().map_err(bind)?;
        socket.set_reuseaddr(true).map_err(bind)?;
        socket
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, listen.port)))
            .map_err(bind)?;
        let listener = socket.listen(1024).map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let endpoint =
            Endpoint::parse(&format!("https://{addr}/")).map_err(|e| TestServerError::Bind {
                reason: e.to_string(),
            })?;
        let handler: ErasedHandler = Arc::new(move |request| {
            let answer = handler(request);
            Box::pin(async move {
                match answer.await {
                    Ok(response) => Ok(response.map(BodyExt::boxed_unsync)),
                    Err(e) => Err(NoAnswer(e.into())),
                }
            })
        });
        let connections = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(
            listener,
            acceptor,
            handler,
            connections.clone(),
        ));
        Ok(Self {
            endpoint,
            addr,
            connections,
            task,
        })
    }

    /// The base URL, e.g. `https://127.0.0.1:41234/`.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TLS connections accepted so far (handshake completed): with keep-alive, far fewer
    /// than requests.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

fn tls_acceptor(ca: &TestCa, http2: bool) -> Result<TlsAcceptor, TestServerError> {
    let cert = ca.issue_server_cert(&["127.0.0.1", "localhost"])?;
    let tls = |e: rustls::Error| TestServerError::Tls {
        reason: e.to_string(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.cert_der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der)),
        )
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
    handler: ErasedHandler,
    accepted: Arc<AtomicU64>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((tcp, _)) = listener.accept().await else {
            // e.g. out of file descriptors: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        connections.spawn(serve_connection(
            tcp,
            acceptor.clone(),
            handler.clone(),
            accepted.clone(),
        ));
    }
}

async fn serve_connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    handler: ErasedHandler,
    accepted: Arc<AtomicU64>,
) {
    // A client that refuses our certificate ends the handshake; nothing to serve then.
    let Ok(tls) = acceptor.accept(tcp).await else {
        return;
    };
    accepted.fetch_add(1, Ordering::Relaxed);
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let service = service_fn(move |request| handler(request));
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

/// A response body: all at once, or endless chunks.
enum ReplyBody {
    Full(Option<Bytes>),
    Endless(Bytes),
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(match self.get_mut() {
            ReplyBody::Full(bytes) => bytes.take().map(|b| Ok(Frame::data(b))),
            ReplyBody::Endless(chunk) => Some(Ok(Frame::data(chunk.clone()))),
        })
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ReplyBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            ReplyBody::Full(None) => SizeHint::with_exact(0),
            ReplyBody::Endless(_) => SizeHint::default(),
        }
    }
}
