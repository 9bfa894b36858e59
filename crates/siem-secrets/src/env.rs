//! Credentials from environment variables.

use async_trait::async_trait;
use siem_core::{CredentialError, CredentialErrorKind, CredentialProvider, Secret};

/// A credential read from an environment variable on every [`get`](CredentialProvider::get)
/// (reading the environment is cheap, and a restart-free rotation then just works).
///
/// A missing or empty variable is [`NotFound`](CredentialErrorKind::NotFound), a value
/// that is not UTF-8 is [`Malformed`](CredentialErrorKind::Malformed); both name the
/// variable. Described as `env:VAR`.
///
/// ```
/// use siem_core::CredentialProvider;
/// use siem_secrets::EnvCredential;
/// let provider = EnvCredential::new("SIEM_DOC_EXAMPLE_UNSET");
/// assert_eq!(provider.describe(), "env:SIEM_DOC_EXAMPLE_UNSET");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCredential {
    var: String,
}

impl EnvCredential {
    /// A provider reading `var`.
    pub fn new(var: impl Into<String>) -> Self {
        Self { var: var.into() }
    }

    /// The variable name.
    pub fn var(&self) -> &str {
        &self.var
    }

    fn read(&self) -> Result<Secret, CredentialError> {
        let error = |kind, detail: &str| CredentialError::new(self.describe(), kind, detail);
        match std::env::var(&self.var) {
            Ok(value) if value.is_empty() => Err(error(
                CredentialErrorKind::NotFound,
                "the environment variable is empty",
            )),
            Ok(value) => Ok(Secret::new(value)),
            Err(std::env::VarError::NotPresent) => Err(error(
                CredentialErrorKind::NotFound,
                "the environment variable is not set",
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(error(
                CredentialErrorKind::Malformed,
                "the environment variable is not valid UTF-8",
            )),
        }
    }
}

#[async_trait]
impl CredentialProvider for EnvCredential {
    async fn get(&self) -> Result<Secret, CredentialError> {
        self.read()
    }

    fn describe(&self) -> String {
        format!("env:{}", self.var)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_the_variable_each_time() {
        let var = "SIEM_SECRETS_TEST_ENV_READS";
        std::env::set_var(var, "env-value-1");
        let provider = EnvCredential::new(var);
        assert_eq!(provider.get().await.unwrap().expose(), "env-value-1");
        std::env::set_var(var, "env-value-2");
        assert_eq!(provider.get().await.unwrap().expose(), "env-value-2");
        std::env::remove_var(var);
    }

    #[tokio::test]
    async fn missing_or_empty_variable_is_not_found_and_named() {
        let var = "SIEM_SECRETS_TEST_ENV_MISSING";
        std::env::remove_var(var);
        let provider = EnvCredential::new(var);
        let err = provider.get().await.unwrap_err();
        assert_eq!(err.kind, CredentialErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            "credential env:SIEM_SECRETS_TEST_ENV_MISSING: not found \
             (the environment variable is not set)"
        );
        std::env::set_var(var, "");
        assert_eq!(
            provider.get().await.unwrap_err().kind,
            CredentialErrorKind::NotFound
        );
        std::env::remove_var(var);
    }
}
