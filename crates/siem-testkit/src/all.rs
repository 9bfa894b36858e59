//! All three emulators (and the token endpoint) behind one CA and one CA file.

use std::path::{Path, PathBuf};

use siem_http::testing::TestCa;

use crate::{
    DatadogEmulator, DatadogEmulatorConfig, EmulatorError, EmulatorStats, SentinelEmulator,
    SentinelEmulatorConfig, SplunkEmulator, SplunkEmulatorConfig,
};

/// Configuration of [`Emulators::start`].
#[derive(Debug, Clone, Default)]
pub struct EmulatorsConfig {
    /// The Splunk HEC emulator.
    pub splunk: SplunkEmulatorConfig,
    /// The Datadog intake emulator.
    pub datadog: DatadogEmulatorConfig,
    /// The Logs Ingestion emulator and its token endpoint.
    pub sentinel: SentinelEmulatorConfig,
    /// Where to write `ca.pem`; `None` makes a fresh directory under the system temporary
    /// directory, removed when the emulators are dropped.
    pub ca_dir: Option<PathBuf>,
}

/// The three emulators, sharing one throwaway CA written to one PEM file (what
/// `siem demo` starts).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), siem_testkit::EmulatorError> {
/// let all = siem_testkit::start_all().await?;
/// assert!(all.ca_file().exists());
/// assert_eq!(std::fs::read_to_string(all.ca_file()).unwrap(), all.ca_pem());
/// assert_eq!(all.splunk.ca_pem(), all.sentinel.ca_pem());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Emulators {
    /// Splunk HEC.
    pub splunk: SplunkEmulator,
    /// Datadog logs intake.
    pub datadog: DatadogEmulator,
    /// Logs Ingestion (DCE) and Entra.
    pub sentinel: SentinelEmulator,
    ca_pem: String,
    ca_file: PathBuf,
    /// A directory we made, removed on drop.
    own_dir: Option<PathBuf>,
}

/// Starts all emulators with default configurations (see [`Emulators::start`]).
pub async fn start_all() -> Result<Emulators, EmulatorError> {
    Emulators::start(EmulatorsConfig::default()).await
}

impl Emulators {
    /// Starts the three emulators with one CA and writes its certificate to `ca.pem`.
    pub async fn start(config: EmulatorsConfig) -> Result<Self, EmulatorError> {
        let ca = TestCa::new("siem-testkit CA")?;
        let (dir, own_dir) = match config.ca_dir {
            Some(dir) => (dir, None),
            None => {
                let dir = std::env::temp_dir()
                    .join(format!("siem-testkit-{}", uuid::Uuid::new_v4().simple()));
                (dir.clone(), Some(dir))
            }
        };
        std::fs::create_dir_all(&dir).map_err(|e| EmulatorError::CaFile {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        let ca_file = dir.join("ca.pem");
        crate::write_pem(&ca_file, ca.cert_pem())?;
        Ok(Self {
            splunk: SplunkEmulator::start_with_ca(&ca, config.splunk).await?,
            datadog: DatadogEmulator::start_with_ca(&ca, config.datadog).await?,
            sentinel: SentinelEmulator::start_with_ca(&ca, config.sentinel).await?,
            ca_pem: ca.cert_pem().to_owned(),
            ca_file,
            own_dir,
        })
    }

    /// The shared CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The file holding [`ca_pem`](Self::ca_pem): a sink's `ca_file`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// Each emulator's counters: `[("splunk", …), ("datadog", …), ("sentinel", …)]`.
    pub fn stats(&self) -> [(&'static str, EmulatorStats); 3] {
        [
            ("splunk", self.splunk.stats()),
            ("datadog", self.datadog.stats()),
            ("sentinel", self.sentinel.stats()),
        ]
    }
}

impl Drop for Emulators {
    fn drop(&mut self) {
        if let Some(dir) = &self.own_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
