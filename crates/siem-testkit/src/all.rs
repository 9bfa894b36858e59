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

    /// An `[[org.sink]]` table of a `platform` sink (`splunk`, `datadog` or `sentinel`)
    /// named `name`, sending to that emulator and trusting the shared CA file: `credential`
    /// is the TOML value of its `token` (for Sentinel, of the Entra ID `client_secret`; the
    /// rule, stream, tenant and client are the emulator's), `extra` more keys, one a line
    /// (`events` is for the caller to give).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), siem_testkit::EmulatorError> {
    /// let all = siem_testkit::start_all().await?;
    /// let table = all.sink_table("datadog", "dd", r#"{ env = "DD_KEY" }"#, r#"events = ["*"]"#);
    /// assert!(table.contains(&format!("endpoint = \"{}\"", all.datadog.endpoint())));
    /// assert!(table.contains("token = { env = \"DD_KEY\" }"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// When `platform` is none of the three.
    pub fn sink_table(&self, platform: &str, name: &str, credential: &str, extra: &str) -> String {
        let with_token = |endpoint: siem_core::Endpoint| {
            format!("endpoint = \"{endpoint}\"\ntoken = {credential}")
        };
        let target = match platform {
            "splunk" => with_token(self.splunk.endpoint()),
            "datadog" => with_token(self.datadog.endpoint()),
            "sentinel" => {
                let (sentinel, entra) = (&self.sentinel, self.sentinel.entra().config());
                format!(
                    "dce = \"{}\"\ndcr_immutable_id = \"{}\"\nstream = \"{}\"\n\
                     tenant_id = \"{}\"\nclient_id = \"{}\"\nauthority_host = \"{}\"\n\
                     client_secret = {credential}",
                    sentinel.endpoint(),
                    sentinel.dcr_immutable_id(),
                    sentinel.stream(),
                    entra.tenant_id,
                    entra.client_id,
                    sentinel.authority_host(),
                )
            }
            other => panic!("no emulator of a platform {other:?}"),
        };
        format!(
            "\n[[org.sink]]\nname = \"{name}\"\nplatform = \"{platform}\"\n{target}\n\
             ca_file = \"{}\"\n{extra}\n",
            self.ca_file.display()
        )
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
