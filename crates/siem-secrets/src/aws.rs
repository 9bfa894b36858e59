//! AWS Secrets Manager (`GetSecretValue`; `CreateSecret`, `PutSecretValue` and
//! `DeleteSecret` for the connector service), behind the default feature `aws`.
//!
//! Limits and behaviour of the store that matter here:
//! - one `GetSecretValue` call per fetch; the SDK's standard retry applies unless the
//!   caller's config says otherwise, and [`CachedCredential`](crate::CachedCredential)
//!   keeps the call rate to one per secret per TTL;
//! - `SecretString` is used; binary secrets are refused as malformed;
//! - region, credentials and endpoint come from the SDK's standard configuration
//!   (`AWS_REGION`, profiles, the credential chain, `AWS_ENDPOINT_URL`…), or from the
//!   caller's [`SdkConfig`] or client.

use std::fmt;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_secretsmanager::Client;
use siem_core::{CredentialError, CredentialErrorKind, CredentialProvider, Secret};

use crate::value::extract;

/// A Secrets Manager client shared by every secret it serves (cheap to clone).
///
/// ```no_run
/// # async fn demo() -> Result<(), siem_core::CredentialError> {
/// use siem_core::CredentialProvider;
/// use siem_secrets::AwsSecretsManager;
/// let store = AwsSecretsManager::from_env().await;   // region, credentials, AWS_ENDPOINT_URL
/// let hec = store.secret("prod/siem", Some("hec_token")); // uncached: wrap in CachedCredential
/// let token = hec.get().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AwsSecretsManager {
    client: Client,
}

impl AwsSecretsManager {
    /// A client from the standard AWS configuration (environment, profiles, credential
    /// chain, `AWS_ENDPOINT_URL`), with the latest behaviour version.
    pub async fn from_env() -> Self {
        Self::from_sdk_config(&aws_config::defaults(BehaviorVersion::latest()).load().await)
    }

    /// A client from a loaded SDK configuration.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        Self::from_client(Client::new(config))
    }

    /// Wraps a Secrets Manager client configured by the caller.
    pub fn from_client(client: Client) -> Self {
        Self { client }
    }

    /// An uncached provider for one secret; with `key`, the secret is a JSON object and
    /// that field is the credential. Described as `aws:<id>` or `aws:<id>#<key>`.
    pub fn secret(&self, secret_id: impl Into<String>, key: Option<&str>) -> AwsSecret {
        let secret_id = secret_id.into();
        let key = key.map(str::to_owned);
        let reference = match &key {
            Some(key) => format!("aws:{secret_id}#{key}"),
            None => format!("aws:{secret_id}"),
        };
        AwsSecret {
            store: self.clone(),
            secret_id,
            key,
            reference,
        }
    }

    async fn secret_string(
        &self,
        reference: &str,
        secret_id: &str,
    ) -> Result<Secret, CredentialError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| map_sdk_error(reference, &e))?;
        match (output.secret_string(), output.secret_binary()) {
            (Some(value), _) => Ok(Secret::new(value)),
            (None, Some(_)) => Err(CredentialError::new(
                reference,
                CredentialErrorKind::Malformed,
                "the secret is binary; only SecretString secrets are supported",
            )),
            (None, None) => Err(CredentialError::new(
                reference,
                CredentialErrorKind::Malformed,
                "the response has no SecretString",
            )),
        }
    }
}

/// A failed write to Secrets Manager (`CreateSecret`, `PutSecretValue`, `DeleteSecret`):
/// the operation, the secret's name and the service's code and message, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Secrets Manager {operation} of \"{name}\" failed: {detail}")]
pub struct SecretWriteError {
    /// `CreateSecret`, `PutSecretValue` or `DeleteSecret`.
    pub operation: &'static str,
    /// The secret's name.
    pub name: String,
    /// The service's error code and message, or the transport failure.
    pub detail: String,
}

impl AwsSecretsManager {
    /// Stores `value` as the `SecretString` of the secret `name`: `CreateSecret` (with
    /// `tags`) when it does not exist, else `PutSecretValue` (a new version; the old one
    /// is kept by the service as `AWSPREVIOUS`).
    pub async fn put_secret(
        &self,
        name: &str,
        value: &Secret,
        tags: &[(&str, &str)],
    ) -> Result<(), SecretWriteError> {
        use aws_sdk_secretsmanager::types::Tag;
        let created = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value.expose())
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(context))
                if context.err().is_resource_exists_exception() =>
            {
                self.client
                    .put_secret_value()
                    .secret_id(name)
                    .secret_string(value.expose())
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| write_error("PutSecretValue", name, &e))
            }
            Err(e) => Err(write_error("CreateSecret", name, &e)),
        }
    }

    /// Schedules the secret `name` for deletion after `recovery_days` (7 to 30; the
    /// service keeps it restorable until then). A secret that does not exist is not an
    /// error.
    pub async fn schedule_deletion(
        &self,
        name: &str,
        recovery_days: i64,
    ) -> Result<(), SecretWriteError> {
        match self
            .client
            .delete_secret()
            .secret_id(name)
            .recovery_window_in_days(recovery_days)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(context))
                if context.err().is_resource_not_found_exception() =>
            {
                Ok(())
            }
            Err(e) => Err(write_error("DeleteSecret", name, &e)),
        }
    }
}

fn write_error<E>(
    operation: &'static str,
    name: &str,
    error: &SdkError<E, HttpResponse>,
) -> SecretWriteError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = match error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or("unknown error code");
            match context.err().message() {
                Some(message) => format!("{code}: {message} (HTTP {status})"),
                None => format!("{code} (HTTP {status})"),
            }
        }
        other => DisplayErrorContext(other).to_string(),
    };
    SecretWriteError {
        operation,
        name: name.to_owned(),
        detail: shorten(detail),
    }
}

impl fmt::Debug for AwsSecretsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = self.client.config();
        f.debug_struct("AwsSecretsManager")
            .field("region", &config.region().map(|r| r.as_ref()))
            .finish_non_exhaustive()
    }
}

/// One Secrets Manager secret (optionally one JSON key of it), fetched on every `get`.
/// Made by [`AwsSecretsManager::secret`]; wrap it in a
/// [`CachedCredential`](crate::CachedCredential) or get it from a
/// [`SecretResolver`](crate::SecretResolver), which does.
#[derive(Clone, Debug)]
pub struct AwsSecret {
    store: AwsSecretsManager,
    secret_id: String,
    key: Option<String>,
    reference: String,
}

#[async_trait]
impl CredentialProvider for AwsSecret {
    async fn get(&self) -> Result<Secret, CredentialError> {
        let raw = self
            .store
            .secret_string(&self.reference, &self.secret_id)
            .await?;
        extract(&self.reference, raw, self.key.as_deref())
    }

    fn describe(&self) -> String {
        self.reference.clone()
    }
}

/// Maps a `GetSecretValue` failure to a credential error naming `reference`.
fn map_sdk_error(
    reference: &str,
    error: &SdkError<GetSecretValueError, HttpResponse>,
) -> CredentialError {
    use CredentialErrorKind as K;
    let (kind, detail) = match error {
        SdkError::ServiceError(context) => {
            let err = context.err();
            let status = context.raw().status().as_u16();
            let code = err.code().unwrap_or("unknown error code");
            let kind = match err {
                GetSecretValueError::ResourceNotFoundException(_) => K::NotFound,
                GetSecretValueError::DecryptionFailure(_) => K::Decryption,
                GetSecretValueError::InternalServiceError(_) => K::Unavailable,
                // Bad name/ARN, or a secret scheduled for deletion.
                GetSecretValueError::InvalidParameterException(_)
                | GetSecretValueError::InvalidRequestException(_) => K::NotFound,
                _ => classify(code, status),
            };
            let detail = match err.message() {
                Some(message) => format!("{code}: {message} (HTTP {status})"),
                None => format!("{code} (HTTP {status})"),
            };
            (kind, detail)
        }
        SdkError::ResponseError(context) => {
            let status = context.raw().status().as_u16();
            (
                classify("", status),
                format!("unreadable response (HTTP {status})"),
            )
        }
        SdkError::TimeoutError(_) => (K::Unavailable, "request timed out".to_owned()),
        SdkError::DispatchFailure(_) => (
            K::Unavailable,
            format!("request failed: {}", DisplayErrorContext(error)),
        ),
        SdkError::ConstructionFailure(_) => (
            K::Unavailable,
            format!("request not sent: {}", DisplayErrorContext(error)),
        ),
        _ => (K::Unavailable, DisplayErrorContext(error).to_string()),
    };
    CredentialError::new(reference, kind, shorten(detail))
}

/// The SDK's error chains embed whole debug dumps of responses; keep logs readable.
const MAX_DETAIL_CHARS: usize = 300;

fn shorten(detail: String) -> String {
    if detail.chars().count() <= MAX_DETAIL_CHARS {
        return detail;
    }
    let mut short: String = detail.chars().take(MAX_DETAIL_CHARS).collect();
    short.push('…');
    short
}

/// Error codes outside the modelled `GetSecretValue` errors, then the HTTP status.
fn classify(code: &str, status: u16) -> CredentialErrorKind {
    use CredentialErrorKind as K;
    match code {
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "InvalidClientTokenId"
        | "ExpiredTokenException"
        | "MissingAuthenticationToken" => K::AccessDenied,
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => K::Throttled,
        "ResourceNotFoundException" => K::NotFound,
        "DecryptionFailure" => K::Decryption,
        _ => match status {
            429 => K::Throttled,
            401 | 403 => K::AccessDenied,
            404 => K::NotFound,
            _ => K::Unavailable,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_map_to_kinds() {
        use CredentialErrorKind as K;
        assert_eq!(classify("AccessDeniedException", 400), K::AccessDenied);
        assert_eq!(classify("ThrottlingException", 400), K::Throttled);
        assert_eq!(classify("SomethingNew", 429), K::Throttled);
        assert_eq!(classify("SomethingNew", 503), K::Unavailable);
        assert_eq!(classify("", 403), K::AccessDenied);
    }
}
