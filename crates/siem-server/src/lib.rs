//! The connector service behind `siem serve`.
//!
//! An organization's admin sets up SIEM connectors through a JSON API (choose the
//! platform, give endpoint and token, choose event types, send a test event before
//! saving); the service stores connectors in a database (SQLite by default, PostgreSQL for
//! several instances), their secrets in AWS Secrets Manager (or a local file for trying it
//! out), runs them on the dispatcher, and takes a gateway's events over HTTP.
//!
//! ```no_run
//! # async fn demo() -> Result<(), siem_server::ServeError> {
//! use siem_server::{ServeConfig, Server};
//! let server = Server::start(ServeConfig::default()).await?; // 127.0.0.1:8080, ./siem-data
//! println!("listening on {}", server.addr());
//! let report = server.shutdown().await;                      // drains as `forward` does
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod api;
mod app;
pub mod auth;
pub mod connectors;
mod hints;
mod ingest;
mod ops;
mod page;
pub mod secrets;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use siem_core::Secret;
use siem_dispatch::{Dispatcher, ShutdownReport};
use siem_secrets::{AwsSecretsManager, SecretResolver};

pub use ops::OPENAPI;

use crate::app::App;
use crate::secrets::SecretStore;
use crate::store::Store;

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default data folder (database, local secrets, disk buffers).
pub const DEFAULT_DATA_DIR: &str = "siem-data";
/// The default cap on a request body (uncompressed, for gzip ingest).
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Where connector secrets are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretsBackend {
    /// A 0600 JSON file in the data folder: for trying the service out only.
    #[default]
    Local,
    /// AWS Secrets Manager, through the SDK's standard configuration (region,
    /// credentials, `AWS_ENDPOINT_URL`).
    Aws,
}

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where to listen. Plain HTTP only on a loopback address.
    pub listen: SocketAddr,
    /// A PEM certificate chain and key for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `sqlite://…` or `postgres://…`; `None`: `sqlite://<data_dir>/siem.db`.
    pub database_url: Option<String>,
    /// The data folder.
    pub data_dir: PathBuf,
    /// Where secrets go.
    pub secrets: SecretsBackend,
    /// The prefix of secret names (`<prefix><org>/<connector>`).
    pub secret_prefix: String,
    /// The file of [`SecretsBackend::Local`]; `None`: `<data_dir>/secrets.json`. Instances
    /// sharing a PostgreSQL database need one secret store: Secrets Manager, or this file
    /// on a shared path.
    pub local_secrets_file: Option<PathBuf>,
    /// The super-admin token (`SIEM_BOOTSTRAP_TOKEN`), which creates organizations and
    /// tokens.
    pub bootstrap_token: Option<Secret>,
    /// The cap on a request body.
    pub max_body_bytes: usize,
    /// How often the store is polled for changes by other instances.
    pub poll_interval: Duration,
    /// How long a shutdown waits for buffered events to be delivered.
    pub shutdown_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("a valid default address"),
            tls: None,
            database_url: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            secrets: SecretsBackend::Local,
            secret_prefix: secrets::DEFAULT_PREFIX.to_owned(),
            local_secrets_file: None,
            bootstrap_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            poll_interval: Duration::from_millis(500),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl ServeConfig {
    /// The database URL in use.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("siem.db").display()))
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Plain HTTP on an address other hosts can reach.
    #[error("plain HTTP is allowed only on a loopback address; give --tls-cert and --tls-key to listen on {0}")]
    PlainHttpNotLoopback(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key could not be read.
    #[error("TLS: {0}")]
    Tls(String),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The dispatcher could not start (e.g. its data folder is locked by another process).
    #[error("the dispatcher cannot start: {0}")]
    Dispatcher(String),
    /// The data folder could not be created.
    #[error("data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A running service.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    app: Arc<App>,
    handle: axum_server::Handle,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
    poller: tokio::task::JoinHandle<()>,
    shutdown_timeout: Duration,
}

impl Server {
    /// Opens the store, starts the stored connectors, and listens.
    pub async fn start(config: ServeConfig) -> Result<Self, ServeError> {
        if config.tls.is_none() && !config.listen.ip().is_loopback() {
            return Err(ServeError::PlainHttpNotLoopback(config.listen));
        }
        let tls = match &config.tls {
            Some((cert, key)) => Some(tls_config(cert, key)?),
            None => None,
        };
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let store = Store::connect(&config.database_url()).await?;
        let (secrets, resolver) = match config.secrets {
            SecretsBackend::Local => (
                SecretStore::local_file(
                    config
                        .local_secrets_file
                        .clone()
                        .unwrap_or_else(|| config.data_dir.join("secrets.json")),
                    &*config.secret_prefix,
                ),
                SecretResolver::builder().allow_static(true).build(),
            ),
            SecretsBackend::Aws => {
                let client = AwsSecretsManager::from_env().await;
                (
                    SecretStore::aws(client.clone(), &*config.secret_prefix),
                    // Static references only ever come from this service's own code (a
                    // connector body carries values, not references).
                    SecretResolver::builder()
                        .aws(client)
                        .allow_static(true)
                        .build(),
                )
            }
        };
        let dispatcher = Dispatcher::builder()
            .data_dir(config.data_dir.join("buffers"))
            .start()
            .map_err(|e| ServeError::Dispatcher(e.to_string()))?;
        let bootstrap_hash = config
            .bootstrap_token
            .as_ref()
            .map(|t| auth::hash_token(t.expose()));
        let app = Arc::new(App::new(
            store,
            secrets,
            resolver,
            dispatcher,
            config.data_dir.clone(),
            bootstrap_hash,
            config.max_body_bytes,
        ));
        app.sync().await?;
        app.ready.store(true, Ordering::Release);
        let poller = app::spawn_poller(&app, config.poll_interval);

        let listener =
            std::net::TcpListener::bind(config.listen).map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
        let handle = axum_server::Handle::new();
        let service =
            api::router(Arc::clone(&app)).into_make_service_with_connect_info::<SocketAddr>();
        let serving = match tls {
            Some(tls) => {
                let server = axum_server::from_tcp_rustls(listener, tls).handle(handle.clone());
                tokio::spawn(async move { server.serve(service).await })
            }
            None => {
                let server = axum_server::from_tcp(listener).handle(handle.clone());
                tokio::spawn(async move { server.serve(service).await })
            }
        };
        tracing::info!(%addr, database = %redact_url(&config.database_url()), "siem serve: listening");
        Ok(Self {
            addr,
            app,
            handle,
            serving,
            poller,
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests (in-flight ones finish), then delivers what is buffered, up
    /// to the shutdown timeout, as `siem forward` does.
    pub async fn shutdown(self) -> ShutdownReport {
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
        let _ = self.serving.await;
        self.poller.abort();
        let report = self.app.dispatcher.shutdown(self.shutdown_timeout).await;
        self.app.store.close().await;
        report
    }

    /// Cuts a running [`shutdown`](Self::shutdown) short (a second Ctrl-C).
    pub fn abort_handle(&self) -> impl Fn() + Send + Sync + 'static {
        let app = Arc::clone(&self.app);
        move || app.dispatcher.abort()
    }
}

/// A database URL without its password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<axum_server::tls_rustls::RustlsConfig, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(axum_server::tls_rustls::RustlsConfig::from_config(
        Arc::new(config),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_not_logged() {
        assert_eq!(
            redact_url("postgres://siem:hunter2@db:5432/siem"),
            "postgres://siem:***@db:5432/siem"
        );
        assert_eq!(
            redact_url("sqlite://siem-data/siem.db"),
            "sqlite://siem-data/siem.db"
        );
    }
}
