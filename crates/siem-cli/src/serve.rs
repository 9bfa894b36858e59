//! `siem serve`: the connector service (crate `siem-server`) on this command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use siem_core::Secret;
use siem_server::{SecretsBackend, ServeConfig, Server};

use crate::signals::Signals;
use crate::{EXIT_CONFIG, EXIT_FAILURES};

/// The service logs what it does (requests that change connectors, failed
/// authentications, delivery problems); the AWS SDK only its errors.
pub const LOG_FILTER: &str = "info,aws_config=error,aws_smithy_runtime=error,sqlx=warn";

/// Where secrets are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SecretsArg {
    /// A 0600 file beside the database: for trying the service out only.
    Local,
    /// AWS Secrets Manager (the SDK's standard configuration: AWS_REGION, credentials,
    /// AWS_ENDPOINT_URL).
    Aws,
}

/// `siem serve` flags.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Plain HTTP is allowed only on loopback; elsewhere give
    /// --tls-cert and --tls-key.
    #[arg(long, default_value = siem_server::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// PEM certificate chain for HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Database: sqlite://path or postgres://user:pass@host/db (several instances may share
    /// one PostgreSQL database). Default: `sqlite://<data-dir>/siem.db`.
    #[arg(long, env = "SIEM_DATABASE_URL")]
    database_url: Option<String>,
    /// Folder for the embedded database, local secrets and disk buffers.
    #[arg(long, default_value = siem_server::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Where connector tokens are written.
    #[arg(long, value_enum, default_value_t = SecretsArg::Local)]
    secrets: SecretsArg,
    /// The secret file of --secrets local (default `<data-dir>/secrets.json`); instances
    /// sharing a database must share it (or use --secrets aws).
    #[arg(long)]
    secrets_file: Option<PathBuf>,
    /// Prefix of secret names: `<prefix><org>/<connector>`.
    #[arg(long, default_value = siem_server::secrets::DEFAULT_PREFIX)]
    secret_prefix: String,
    /// Largest request body in bytes (uncompressed for gzip ingest).
    #[arg(long, default_value_t = siem_server::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Seconds allowed to deliver what is buffered when stopping.
    #[arg(long, default_value_t = 10)]
    shutdown_timeout: u64,
    /// Log as JSON lines.
    #[arg(long)]
    pub json_logs: bool,
}

pub async fn run(args: ServeArgs) -> u8 {
    let mut signals = Signals::install();
    let bootstrap_token = std::env::var("SIEM_BOOTSTRAP_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    if bootstrap_token.is_none() {
        tracing::warn!("SIEM_BOOTSTRAP_TOKEN is not set: no organization or token can be created");
    }
    let config = ServeConfig {
        listen: args.listen,
        tls: args.tls_cert.zip(args.tls_key),
        database_url: args.database_url,
        data_dir: args.data_dir,
        secrets: match args.secrets {
            SecretsArg::Local => SecretsBackend::Local,
            SecretsArg::Aws => SecretsBackend::Aws,
        },
        secret_prefix: args.secret_prefix,
        local_secrets_file: args.secrets_file,
        bootstrap_token,
        max_body_bytes: args.max_body_bytes,
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        ..ServeConfig::default()
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("siem serve: {e}");
            return EXIT_CONFIG;
        }
    };
    eprintln!(
        "siem serve: listening on {scheme}://{} (API under /api/v1, OpenAPI at /api/v1/openapi.json)",
        server.addr()
    );
    let signal = signals.next().await;
    eprintln!("siem serve: {signal}: stopping; delivering what is buffered (again to skip)");
    let abort = server.abort_handle();
    let report = tokio::select! {
        report = server.shutdown() => report,
        _ = signals.next() => {
            abort();
            eprintln!("siem serve: second signal: not waiting for deliveries");
            return signal.exit_code();
        }
    };
    let undelivered: u64 = report.undelivered.iter().map(|u| u.events).sum();
    let on_disk: u64 = report.left_in_buffer.iter().map(|u| u.events).sum();
    eprintln!(
        "siem serve: stopped: {} delivered, {undelivered} undelivered, {on_disk} left in disk buffers",
        report.stats.totals.delivered
    );
    if report.complete {
        signal.exit_code()
    } else {
        EXIT_FAILURES.max(signal.exit_code())
    }
}
