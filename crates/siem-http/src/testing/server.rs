//! An HTTPS server on 127.0.0.1 whose answers a test scripts with a closure.

use std::convert::Infallible;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use siem_core::Endpoint;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use url::Url;

use super::{ServerCert, TestCa, TestServerError};

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
    endpoint: Endpoint,
    ca_pem: String,
    received: Received,
    task: JoinHandle<()>,
}

impl fmt::Debug for TlsTestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTestServer")
            .field("url", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl Drop for TlsTestServer {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which aborts every connection.
        self.task.abort();
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
        let cert = ca.issue_server_cert(&["127.0.0.1", "localhost"])?;
        Self::serve(cert, ca.cert_pem().to_owned(), Arc::new(handler)).await
    }

    /// Starts a server that a client must refuse: its certificate is issued by one CA,
    /// while [`ca_pem`](Self::ca_pem) returns *another* CA, which did not issue it.
    pub async fn start_untrusted<F>(handler: F) -> Result<Self, TestServerError>
    where
        F: Fn(&TestRequest) -> TestResponse + Send + Sync + 'static,
    {
        let signer = TestCa::new("siem-connectors untrusted CA")?;
        let decoy = TestCa::new("siem-connectors test CA")?;
        let cert = signer.issue_server_cert(&["127.0.0.1", "localhost"])?;
        Self::serve(cert, decoy.cert_pem().to_owned(), Arc::new(handler)).await
    }

    async fn serve(
        cert: ServerCert,
        ca_pem: String,
        handler: Handler,
    ) -> Result<Self, TestServerError> {
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
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| TestServerError::Bind {
                reason: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| TestServerError::Bind {
            reason: e.to_string(),
        })?;
        let endpoint =
            Endpoint::parse(&format!("https://{addr}/")).map_err(|e| TestServerError::Bind {
                reason: e.to_string(),
            })?;
        let received = Received::default();
        let task = tokio::spawn(accept_loop(listener, acceptor, handler, received.clone()));
        Ok(Self {
            endpoint,
            ca_pem,
            received,
            task,
        })
    }

    /// The base URL, e.g. `https://127.0.0.1:41234/`.
    pub fn url(&self) -> &Url {
        self.endpoint.as_url()
    }

    /// The base URL as an [`Endpoint`].
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        let port = self.endpoint.as_url().port().unwrap_or(443);
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
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

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handler: Handler,
    received: Received,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((tcp, _)) = listener.accept().await else {
            // e.g. out of file descriptors: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        connections.spawn(serve_connection(
            tcp,
            acceptor.clone(),
            handler.clone(),
            received.clone(),
        ));
    }
}

async fn serve_connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    handler: Handler,
    received: Received,
) {
    // A client that refuses our certificate ends the handshake; nothing to serve then.
    let Ok(tls) = acceptor.accept(tcp).await else {
        return;
    };
    let service = service_fn(move |request| handle(request, handler.clone(), received.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
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
