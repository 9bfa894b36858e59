//! `siem emulate`: one local emulator as its own process, for trying a gateway locally and
//! for benchmarks. Prints its URL, CA file and credentials, then serves until Ctrl-C and
//! prints its counters.

use std::path::PathBuf;

use siem_testkit::{
    DatadogEmulator, DatadogEmulatorConfig, EmulatorStats, EntraEmulatorConfig, Recording,
    SentinelEmulator, SentinelEmulatorConfig, SplunkEmulator, SplunkEmulatorConfig,
};

use crate::config::Platform;
use crate::{EXIT_CONFIG, EXIT_FAILURES};

pub async fn run(
    platform: Platform,
    port: u16,
    token: String,
    ca_file: Option<PathBuf>,
    count_only: bool,
) -> u8 {
    let recording = if count_only {
        Recording::CountOnly
    } else {
        Recording::default()
    };
    let ca_file = ca_file.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("siem-emulate-{}-{}.pem", platform, std::process::id()))
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
        .map(Running::Sentinel),
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
    running.describe(&ca_file, &token);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    wait_for_stop().await;
    let stats = running.stats();
    println!(
        "requests={} accepted_requests={} accepted_events={} rejected={} bytes_received={}",
        stats.requests,
        stats.accepted_requests,
        stats.accepted_events,
        stats.rejected_total(),
        stats.bytes_received
    );
    0
}

enum Running {
    Splunk(SplunkEmulator),
    Datadog(DatadogEmulator),
    Sentinel(SentinelEmulator),
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

/// Waits for Ctrl-C or, on Unix, SIGTERM (how benchmark scripts stop the emulator).
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
