//! `siem emulate`: one local emulator as its own process, for trying a gateway locally and
//! for benchmarks. Prints its URL, CA file and credentials, then serves until Ctrl-C and
//! prints its counters.
//!
//! Benchmark switches ([`BenchArgs`]): `--arrival-delays` records, for every valid
//! event, the delay between its `timestamp` and its arrival, and prints percentiles at
//! exit; `--outage-after-secs A --outage-secs D` answers every request with 503 from A to
//! A + D seconds after start.

use std::path::PathBuf;
use std::time::Duration;

use siem_testkit::{
    ArrivalDelays, DatadogEmulator, DatadogEmulatorConfig, EmulatorStats, EntraEmulatorConfig,
    Recording, SentinelEmulator, SentinelEmulatorConfig, SplunkEmulator, SplunkEmulatorConfig,
};

use crate::config::Platform;
use crate::{EXIT_CONFIG, EXIT_FAILURES};

/// `siem emulate` switches for benchmarks.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BenchArgs {
    /// Record each valid event's arrival delay (arrival time minus its `timestamp`) and
    /// print `delay_*` percentiles at exit.
    #[arg(long)]
    pub arrival_delays: bool,
    /// Start an outage (503 for every request) this many seconds after start.
    #[arg(long, requires = "outage_secs")]
    pub outage_after_secs: Option<f64>,
    /// How long the outage lasts, in seconds (from --outage-after-secs, default 0).
    #[arg(long)]
    pub outage_secs: Option<f64>,
}

pub async fn run(
    platform: Platform,
    port: u16,
    token: String,
    ca_file: Option<PathBuf>,
    count_only: bool,
    bench: BenchArgs,
) -> u8 {
    let recording = if count_only {
        Recording::CountOnly
    } else {
        Recording::default()
    };
    // Caught from before the emulator is announced, so that a stop right after the
    // announcement still ends with the counters (and the CA file removed).
    let mut signals = crate::signals::Signals::install();
    // A CA file we chose is ours to remove at exit; one the caller named is theirs.
    let own_ca_file = ca_file.is_none();
    let ca_file = ca_file.unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "siem-emulate-{}-{}.pem",
            platform,
            std::process::id()
        ))
    });
    let started = match platform {
        Platform::Splunk => SplunkEmulator::start(SplunkEmulatorConfig {
            token: token.clone(),
            port,
            recording,
            ..Default::default()
        })
        .await
        .map(Running::Splunk),
        Platform::Datadog => DatadogEmulator::start(DatadogEmulatorConfig {
            api_key: token.clone(),
            port,
            recording,
            ..Default::default()
        })
        .await
        .map(Running::Datadog),
        Platform::Sentinel => SentinelEmulator::start(SentinelEmulatorConfig {
            port,
            recording,
            static_tokens: vec![token.clone()],
            entra: EntraEmulatorConfig {
                client_secret: token.clone(),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .map(|e| Running::Sentinel(Box::new(e))),
    };
    let running = match started {
        Ok(r) => r,
        Err(e) => {
            eprintln!("siem emulate: {e}");
            return EXIT_CONFIG;
        }
    };
    if let Err(e) = running.write_ca(&ca_file) {
        eprintln!("siem emulate: {e}");
        return EXIT_FAILURES;
    }
    running.track_arrival_delays(bench.arrival_delays);
    running.describe(&ca_file, &token);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let outage = bench.outage_secs.map(|secs| {
        let after = bench.outage_after_secs.unwrap_or(0.0);
        (seconds(after), seconds(secs))
    });
    let running = std::sync::Arc::new(running);
    let outage_task = outage.map(|(after, length)| {
        let running = running.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            running.set_outage(true);
            eprintln!("siem emulate: outage on (503) for {length:?}");
            tokio::time::sleep(length).await;
            running.set_outage(false);
            eprintln!("siem emulate: outage off");
        })
    });
    signals.next().await;
    if let Some(task) = outage_task {
        task.abort();
    }
    if own_ca_file {
        let _ = std::fs::remove_file(&ca_file);
    }
    let stats = running.stats();
    println!(
        "requests={} accepted_requests={} accepted_events={} rejected={} bytes_received={}",
        stats.requests,
        stats.accepted_requests,
        stats.accepted_events,
        stats.rejected_total(),
        stats.bytes_received
    );
    if bench.arrival_delays {
        let delays = running.arrival_delays();
        let ms = |q: f64| {
            delays.quantile(q).map_or("none".to_owned(), |d| {
                format!("{:.3}", d.as_secs_f64() * 1e3)
            })
        };
        println!(
            "delay_count={} delay_early={} delay_p50_ms={} delay_p90_ms={} delay_p99_ms={} \
             delay_p999_ms={} delay_max_ms={:.3}",
            delays.count(),
            delays.early(),
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(0.999),
            delays.max().as_secs_f64() * 1e3
        );
    }
    0
}

/// Whole or fractional seconds; negative or non-finite values count as zero.
fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

enum Running {
    Splunk(SplunkEmulator),
    Datadog(DatadogEmulator),
    Sentinel(Box<SentinelEmulator>),
}

impl Running {
    fn write_ca(&self, path: &std::path::Path) -> Result<(), siem_testkit::EmulatorError> {
        match self {
            Running::Splunk(e) => e.write_ca_pem(path),
            Running::Datadog(e) => e.write_ca_pem(path),
            Running::Sentinel(e) => e.write_ca_pem(path),
        }
    }

    fn stats(&self) -> EmulatorStats {
        match self {
            Running::Splunk(e) => e.stats(),
            Running::Datadog(e) => e.stats(),
            Running::Sentinel(e) => e.stats(),
        }
    }

    fn track_arrival_delays(&self, on: bool) {
        match self {
            Running::Splunk(e) => e.track_arrival_delays(on),
            Running::Datadog(e) => e.track_arrival_delays(on),
            Running::Sentinel(e) => e.track_arrival_delays(on),
        }
    }

    fn arrival_delays(&self) -> ArrivalDelays {
        match self {
            Running::Splunk(e) => e.arrival_delays(),
            Running::Datadog(e) => e.arrival_delays(),
            Running::Sentinel(e) => e.arrival_delays(),
        }
    }

    /// For Sentinel, the data collection endpoint (the token endpoint stays up).
    fn set_outage(&self, on: bool) {
        match self {
            Running::Splunk(e) => e.set_outage(on),
            Running::Datadog(e) => e.set_outage(on),
            Running::Sentinel(e) => e.set_outage(on),
        }
    }

    /// Prints what a sink configuration needs, one `key=value` per line on stdout (easy to
    /// read from a script), and a hint on stderr.
    fn describe(&self, ca_file: &std::path::Path, token: &str) {
        match self {
            Running::Splunk(e) => {
                println!("platform=splunk");
                println!("url={}", e.endpoint());
            }
            Running::Datadog(e) => {
                println!("platform=datadog");
                println!("url={}", e.endpoint());
            }
            Running::Sentinel(e) => {
                println!("platform=sentinel");
                println!("url={}", e.endpoint());
                println!("dcr_immutable_id={}", e.dcr_immutable_id());
                println!("stream={}", e.stream());
                println!("tenant_id={}", e.entra().config().tenant_id);
                println!("client_id={}", e.entra().config().client_id);
                println!("authority_host={}", e.authority_host());
            }
        }
        println!("ca_file={}", ca_file.display());
        let _ = token; // chosen by the caller (or the documented default); not echoed
        eprintln!("siem emulate: serving until Ctrl-C or SIGTERM");
    }
}
