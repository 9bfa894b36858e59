//! Where connector secrets go: AWS Secrets Manager (`--secrets aws`) or, for trying the
//! service out, a local file beside the database (`--secrets local`, the default).
//!
//! One secret per connector, named `<prefix><org>/<connector>`, holding a JSON object of
//! the connector's secret fields (`{"token": "…"}` or `{"client_secret": "…"}`). The
//! database keeps only the reference (`aws:<name>` or `local:<name>`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use siem_core::Secret;
use siem_secrets::{AwsSecretsManager, SecretRef};

/// The default secret name prefix.
pub const DEFAULT_PREFIX: &str = "aisg/siem/";

/// Days Secrets Manager keeps a deleted connector's secret restorable.
pub const RECOVERY_DAYS: i64 = 7;

/// A connector's secret fields and their values.
pub type SecretValues = BTreeMap<String, Secret>;

/// A failed secret write or read; names the secret, never holds a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    /// Secrets Manager refused or failed.
    #[error(transparent)]
    Aws(#[from] siem_secrets::SecretWriteError),
    /// The local secret file could not be read or written.
    #[error("local secret file {path}: {reason}")]
    Local {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// The secret store the service writes to.
#[derive(Debug)]
pub struct SecretStore {
    prefix: String,
    backend: Backend,
}

#[derive(Debug)]
enum Backend {
    Aws(AwsSecretsManager),
    Local(LocalFile),
}

impl SecretStore {
    /// Secrets Manager, through the client given.
    pub fn aws(client: AwsSecretsManager, prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            backend: Backend::Aws(client),
        }
    }

    /// A local JSON file (created 0600). For trying the service out only: the file holds
    /// tokens in clear text.
    pub fn local_file(path: impl Into<PathBuf>, prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            backend: Backend::Local(LocalFile {
                path: path.into(),
                lock: Mutex::new(()),
            }),
        }
    }

    /// Whether static references are needed to hand local secrets to sinks.
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local(_))
    }

    /// The secret name of a connector.
    pub fn name(&self, org_id: &str, connector: &str) -> String {
        format!("{}{org_id}/{connector}", self.prefix)
    }

    /// Writes a connector's secret fields; returns the reference to store.
    pub async fn put(
        &self,
        org_id: &str,
        connector: &str,
        values: &SecretValues,
    ) -> Result<String, SecretStoreError> {
        let name = self.name(org_id, connector);
        let json: BTreeMap<&str, &str> = values
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        let json = Secret::new(serde_json::to_string(&json).unwrap_or_default());
        match &self.backend {
            Backend::Aws(client) => {
                client
                    .put_secret(&name, &json, &[("org", org_id), ("connector", connector)])
                    .await?;
                Ok(format!("aws:{name}"))
            }
            Backend::Local(file) => {
                file.update(|secrets| {
                    secrets.insert(name.clone(), json.expose().to_owned());
                })?;
                Ok(format!("local:{name}"))
            }
        }
    }

    /// Schedules a connector's secret for deletion (Secrets Manager) or removes it (local).
    pub async fn delete(&self, reference: &str) -> Result<(), SecretStoreError> {
        match (&self.backend, parse_ref(reference)) {
            (Backend::Aws(client), Some(("aws", name))) => {
                Ok(client.schedule_deletion(name, RECOVERY_DAYS).await?)
            }
            (Backend::Local(file), Some(("local", name))) => file.update(|secrets| {
                secrets.remove(name);
            }),
            // A reference of the other backend (the service was restarted with another
            // `--secrets`): nothing this instance can delete.
            _ => Ok(()),
        }
    }

    /// The credential reference a sink resolves for `field` of the stored `reference`.
    /// Secrets Manager references resolve (and cache) through the sink's resolver; a
    /// local secret is read now and handed over as a static value.
    pub fn credential(
        &self,
        reference: &str,
        field: &str,
    ) -> Result<Option<SecretRef>, SecretStoreError> {
        match parse_ref(reference) {
            Some(("aws", name)) => Ok(Some(SecretRef::aws(name, Some(field)))),
            Some(("local", name)) => {
                let Backend::Local(file) = &self.backend else {
                    return Ok(None);
                };
                let secrets = file.read()?;
                let value = secrets
                    .get(name)
                    .and_then(|json| serde_json::from_str::<BTreeMap<String, String>>(json).ok())
                    .and_then(|mut m| m.remove(field));
                Ok(value.map(|v| SecretRef::static_value(Secret::new(v))))
            }
            _ => Ok(None),
        }
    }
}

fn parse_ref(reference: &str) -> Option<(&str, &str)> {
    reference.split_once(':')
}

/// The local secret file: `{"<name>": "<json of fields>"}`, written whole through a
/// temporary file and a rename, mode 0600.
#[derive(Debug)]
struct LocalFile {
    path: PathBuf,
    lock: Mutex<()>,
}

impl LocalFile {
    fn error(&self, reason: impl ToString) -> SecretStoreError {
        SecretStoreError::Local {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    fn read(&self) -> Result<BTreeMap<String, String>, SecretStoreError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| self.error(format!("not a secret file: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(self.error(e)),
        }
    }

    fn update(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), SecretStoreError> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut secrets = self.read()?;
        change(&mut secrets);
        let bytes = serde_json::to_vec_pretty(&secrets).map_err(|e| self.error(e))?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.error(e))?;
        }
        let tmp = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(|e| self.error(e))?;
        file.write_all(&bytes).map_err(|e| self.error(e))?;
        file.sync_all().map_err(|e| self.error(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_secret_round_trips_through_a_0600_file_and_is_deleted() {
        let dir = std::env::temp_dir().join(format!("siem-server-secrets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SecretStore::local_file(dir.join("secrets.json"), DEFAULT_PREFIX);
        let values = SecretValues::from([("token".to_owned(), Secret::new("hec-123"))]);
        let reference = store.put("org_acme", "splunk", &values).await.unwrap();
        assert_eq!(reference, "local:aisg/siem/org_acme/splunk");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secrets.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let credential = store.credential(&reference, "token").unwrap().unwrap();
        assert_eq!(credential, SecretRef::static_value(Secret::new("hec-123")));
        store.delete(&reference).await.unwrap();
        assert!(store.credential(&reference, "token").unwrap().is_none());
    }
}
