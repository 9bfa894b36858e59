//! `siem`: try siem-connectors on local emulators, render native payloads, send test
//! events, forward NDJSON events from any gateway, validate configurations and run
//! emulators.
//!
//! Exit codes: 0 success, 1 delivery failures (failed, dropped, malformed, or left in a
//! disk buffer), 2 usage or configuration errors, 130/143 `forward` stopped by
//! SIGINT/SIGTERM (after its report).
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// jemalloc instead of the system allocator: `siem forward` allocates and frees a few
/// small objects per event, millions of times; jemalloc's thread caches make that a few
/// percent cheaper than glibc's malloc (BENCHMARKS.md). When events were parsed on one
/// thread and freed on another, glibc spent about a third of the CPU in arena locks.
/// Libraries in this workspace never choose an allocator; a gateway picks its own.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use siem_config as config;
mod demo;
mod emulate;
mod events;
mod forward;
mod output;
mod progress;
mod reference;
mod render;
mod send_test;
mod serve;
mod signals;
mod table;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Platform;

/// Stream AI-gateway security events to Splunk, Datadog and Microsoft Sentinel.
#[derive(Debug, Parser)]
#[command(name = "siem", version, about, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start local emulators of Splunk HEC, Datadog and Sentinel (+ Entra ID) with a
    /// throwaway CA, stream the fixture events through the real dispatcher and show what
    /// each platform received.
    Demo {
        /// Also send this many generated events.
        #[arg(long, default_value_t = 0)]
        events: usize,
        /// Print the result as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print the exact request body(ies) for events (JSON, JSON array or NDJSON); with
    /// --config and --sink, for the events `forward` would send to that sink.
    Render {
        /// Use a platform's default options.
        #[arg(long, conflicts_with_all = ["config", "sink"], required_unless_present = "config")]
        platform: Option<Platform>,
        /// Use the options of a configured sink (with --sink).
        #[arg(long, requires = "sink")]
        config: Option<PathBuf>,
        /// The sink whose options to use.
        #[arg(long)]
        sink: Option<String>,
        /// The organization of the sink, when several have one by that name.
        #[arg(long)]
        org: Option<String>,
        /// Render every event, not only those `forward` would send to the sink (its org's
        /// events that its `events` filter lets through).
        #[arg(long, requires = "sink")]
        all: bool,
        /// Events file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Send a test event to every configured sink (or one org/sink) and report each result.
    SendTest {
        /// The configuration file (TOML; see fixtures/config/siem.example.toml).
        #[arg(long, env = "SIEM_CONFIG")]
        config: PathBuf,
        /// Only this organization's sinks.
        #[arg(long)]
        org: Option<String>,
        /// Only the sink of this name.
        #[arg(long)]
        sink: Option<String>,
        /// Print the results as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Read NDJSON events on stdin, dispatch them, flush on EOF and print the counters.
    ///
    /// SIGINT/SIGTERM stop reading, deliver what is buffered within --flush-timeout, print
    /// the report and exit 130/143; a second signal skips the delivery. Exit 0: every
    /// event delivered; 1: some failed, dropped, malformed or left in a disk buffer.
    Forward {
        /// The configuration file (TOML; see fixtures/config/siem.example.toml).
        #[arg(long, env = "SIEM_CONFIG")]
        config: PathBuf,
        /// Seconds allowed to deliver what is buffered after end of input or a signal;
        /// what is left then stays in disk buffers or is reported undelivered.
        #[arg(long, default_value_t = 30)]
        flush_timeout: u64,
        /// Print the report as one JSON object on stdout.
        #[arg(long)]
        json: bool,
        /// Milliseconds between two progress lines when stderr is not a terminal (a
        /// terminal gets a progress bar).
        #[arg(long, default_value_t = progress::LOG_EVERY.as_millis() as u64, hide = true)]
        progress_every_ms: u64,
    },
    /// Check a configuration the way `forward` starts with it (every sink, CA file and
    /// delivery policy is built; nothing is sent); with --resolve also fetch every secret.
    Validate {
        /// The configuration file (TOML; see fixtures/config/siem.example.toml).
        #[arg(long, env = "SIEM_CONFIG")]
        config: PathBuf,
        /// Also fetch every secret the configuration refers to (nothing is sent to a SIEM).
        #[arg(long)]
        resolve: bool,
        /// Print the result as one JSON object on stdout (`valid`, `sinks`, `errors` with
        /// file, line, column, org, sink and field).
        #[arg(long)]
        json: bool,
    },
    /// Print the configuration reference (docs/configuration.md) generated from the code.
    #[command(hide = true)]
    ConfigReference,
    /// Run one local emulator as its own process until interrupted.
    Emulate {
        /// The platform to emulate (its intake; Sentinel's comes with Entra ID).
        #[arg(long)]
        platform: Platform,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// The token (HEC token, API key, or Entra client secret) the emulator accepts.
        #[arg(long, default_value = "emulator-token")]
        token: String,
        /// Where to write the CA certificate (PEM).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Only count events (no per-event storage); for benchmarks.
        #[arg(long)]
        count_only: bool,
        #[command(flatten)]
        bench: emulate::BenchArgs,
    },
    /// Run the connector service: organizations set up their connectors through an HTTP
    /// API (stored in a database, secrets in AWS Secrets Manager or a local file) and a
    /// gateway posts its events to it. SIGINT/SIGTERM stop it after delivering what is
    /// buffered (a second signal skips that).
    Serve(serve::ServeArgs),
}

/// The exit codes, as `siem --help` lists them (the README has the same table).
const EXIT_CODES_HELP: &str = "Exit codes (every subcommand):
  0        success: every event delivered, every test event arrived, configuration valid
  1        delivery problems: events failed, were dropped, are left in a disk buffer,
           or input lines were malformed
  2        usage or configuration error (nothing was sent)
  130/143  `forward` stopped by SIGINT/SIGTERM (after printing its report)";

/// Exit code for delivery failures.
pub const EXIT_FAILURES: u8 = 1;
/// Exit code for usage and configuration errors.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code of `forward` stopped by SIGINT (128 + 2, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;
/// Exit code of `forward` stopped by SIGTERM (128 + 15).
pub const EXIT_TERMINATED: u8 = 143;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve(args) => init_logging(serve::LOG_FILTER, args.json_logs),
        _ => init_logging(DEFAULT_LOG_FILTER, false),
    }
    // `forward` runs every task on one thread (its input has a thread of its own; see
    // forward.rs): the work per event is a few microseconds, less than what handing each
    // event to another core costs in cache misses and wake-ups.
    let mut builder = match cli.command {
        Command::Forward { .. } => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = match builder.enable_all().thread_name("siem-worker").build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("siem: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURES);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Demo { events, json } => demo::run(events, json).await,
            Command::Render {
                platform,
                config,
                sink,
                org,
                all,
                file,
            } => {
                let source = match (platform, config, sink) {
                    (Some(p), _, _) => render::Source::Platform(p),
                    (None, Some(config), Some(sink)) => render::Source::Configured {
                        config,
                        org,
                        sink,
                        all,
                    },
                    // clap requires one or the other.
                    _ => {
                        eprintln!("siem render: give --platform, or --config with --sink");
                        return EXIT_CONFIG;
                    }
                };
                render::run(source, file).await
            }
            Command::SendTest {
                config,
                org,
                sink,
                json,
            } => send_test::run(&config, org.as_deref(), sink.as_deref(), json).await,
            Command::Forward {
                config,
                flush_timeout,
                json,
                progress_every_ms,
            } => {
                let every = std::time::Duration::from_millis(progress_every_ms.max(1));
                forward::run(&config, flush_timeout, json, every).await
            }
            Command::Validate {
                config,
                resolve,
                json,
            } => validate::run(&config, resolve, json).await,
            Command::ConfigReference => {
                print!("{}", reference::reference());
                0
            }
            Command::Emulate {
                platform,
                port,
                token,
                ca_file,
                count_only,
                bench,
            } => emulate::run(platform, port, token, ca_file, count_only, bench).await,
            Command::Serve(args) => serve::run(args).await,
        }
    });
    ExitCode::from(code)
}

/// Logs go to stderr; `RUST_LOG` overrides the default: our warnings, and only errors from
/// the AWS SDK (whose credential-chain probing warns at every start outside AWS).
const DEFAULT_LOG_FILTER: &str = "warn,aws_config=error,aws_smithy_runtime=error";

fn init_logging(default_filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.with_ansi(colour_on_stderr()).try_init()
    };
}

/// Colour only for a person at a terminal, and never with `NO_COLOR` set (no-color.org):
/// escape codes in a log file or a CI log only get in the way.
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
