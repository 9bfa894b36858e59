//! Secrets that cannot leak through formatting, and the credential provider trait.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use zeroize::Zeroize;

/// A secret value (an API key, token or client secret).
///
/// `Debug` and `Display` print `[REDACTED]`; the value is only reachable through
/// [`Secret::expose`], which makes every use greppable. It is not `Serialize`, and the
/// memory is zeroed when the last clone is dropped.
///
/// ```
/// use siem_core::Secret;
/// let s = Secret::new("hec-token-123");
/// assert_eq!(format!("{s:?} {s}"), "Secret([REDACTED]) [REDACTED]");
/// assert_eq!(s.expose(), "hec-token-123");
/// ```
#[derive(Clone)]
pub struct Secret(Arc<SecretBytes>);

struct SecretBytes(String);

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::new(SecretBytes(value.into())))
    }

    /// The secret value. Only call this where the value goes onto the wire.
    pub fn expose(&self) -> &str {
        &self.0 .0
    }

    /// Whether two secrets hold the same value (constant-time in the length of the
    /// shorter value, so a comparison does not leak a prefix).
    pub fn same_value(&self, other: &Secret) -> bool {
        let (a, b) = (self.expose().as_bytes(), other.expose().as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Why a credential could not be obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialErrorKind {
    /// The secret does not exist.
    NotFound,
    /// The caller may not read it.
    AccessDenied,
    /// The store could not decrypt it.
    Decryption,
    /// The store throttled the request.
    Throttled,
    /// The value has the wrong shape (e.g. not JSON where a key was asked for).
    Malformed,
    /// The JSON value lacks the requested key.
    MissingKey,
    /// The store could not be reached or failed.
    Unavailable,
    /// The identity provider refused the client credentials.
    Rejected,
}

impl CredentialErrorKind {
    /// Whether asking again later can help.
    pub fn is_retryable(self) -> bool {
        match self {
            CredentialErrorKind::Throttled | CredentialErrorKind::Unavailable => true,
            CredentialErrorKind::NotFound
            | CredentialErrorKind::AccessDenied
            | CredentialErrorKind::Decryption
            | CredentialErrorKind::Malformed
            | CredentialErrorKind::MissingKey
            | CredentialErrorKind::Rejected => false,
        }
    }
}

impl fmt::Display for CredentialErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialErrorKind::NotFound => "not found",
            CredentialErrorKind::AccessDenied => "access denied",
            CredentialErrorKind::Decryption => "decryption failed",
            CredentialErrorKind::Throttled => "throttled",
            CredentialErrorKind::Malformed => "malformed value",
            CredentialErrorKind::MissingKey => "missing JSON key",
            CredentialErrorKind::Unavailable => "store unavailable",
            CredentialErrorKind::Rejected => "rejected by the identity provider",
        })
    }
}

/// A credential that could not be obtained. Names the reference, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credential {reference}: {kind}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
pub struct CredentialError {
    /// The reference, e.g. `env:SPLUNK_TOKEN` or `aws:prod/siem#hec_token`.
    pub reference: String,
    /// What went wrong.
    pub kind: CredentialErrorKind,
    /// More detail from the store (never a secret value).
    pub detail: String,
}

impl CredentialError {
    /// A new error.
    pub fn new(
        reference: impl Into<String>,
        kind: CredentialErrorKind,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            reference: reference.into(),
            kind,
            detail: detail.into(),
        }
    }
}

/// Where a sink gets its token from: a static value, an environment variable, AWS
/// Secrets Manager, an Entra ID token source, or your own.
///
/// Sinks call [`get`](Self::get) before each request (implementations cache), and
/// [`invalidate`](Self::invalidate) with the value a SIEM rejected (HTTP 401/403) so that
/// the next `get` fetches a fresh one. Passing the rejected value lets an implementation
/// ignore stale reports once it has already refreshed.
#[async_trait]
pub trait CredentialProvider: Send + Sync + fmt::Debug {
    /// The current credential.
    async fn get(&self) -> Result<Secret, CredentialError>;

    /// Marks `rejected` as refused by the SIEM. The default does nothing.
    fn invalidate(&self, rejected: &Secret) {
        let _ = rejected;
    }

    /// A description of the reference for logs and errors, e.g. `env:SPLUNK_TOKEN`.
    /// Never the value.
    fn describe(&self) -> String;
}

/// A fixed credential, for tests and for callers that manage secrets themselves.
#[derive(Debug, Clone)]
pub struct StaticCredential {
    secret: Secret,
    label: String,
}

impl StaticCredential {
    /// A static credential described as `static`.
    pub fn new(secret: Secret) -> Self {
        Self {
            secret,
            label: "static".to_owned(),
        }
    }

    /// A static credential with a description for logs.
    pub fn with_label(secret: Secret, label: impl Into<String>) -> Self {
        Self {
            secret,
            label: label.into(),
        }
    }
}

#[async_trait]
impl CredentialProvider for StaticCredential {
    async fn get(&self) -> Result<Secret, CredentialError> {
        Ok(self.secret.clone())
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("super-secret-value");
        let wrapped = Some(vec![s.clone()]);
        for text in [
            format!("{s}"),
            format!("{s:?}"),
            format!("{s:#?}"),
            format!("{wrapped:?}"),
            format!("{:?}", StaticCredential::new(s.clone())),
        ] {
            assert!(!text.contains("super-secret"), "{text}");
            assert!(text.contains("REDACTED"), "{text}");
        }
    }

    #[test]
    fn same_value_compares_contents() {
        assert!(Secret::new("a").same_value(&Secret::new("a")));
        assert!(!Secret::new("a").same_value(&Secret::new("ab")));
        assert!(!Secret::new("ab").same_value(&Secret::new("ac")));
    }

    #[test]
    fn credential_error_names_reference_not_value() {
        let e = CredentialError::new("env:HEC_TOKEN", CredentialErrorKind::NotFound, "");
        assert_eq!(e.to_string(), "credential env:HEC_TOKEN: not found");
    }
}
