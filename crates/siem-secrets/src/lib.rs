//! # siem-secrets
//!
//! Where sinks get their tokens: [`CredentialProvider`](siem_core::CredentialProvider)
//! implementations for environment variables ([`EnvCredential`]), fixed values
//! ([`StaticCredential`]) and AWS Secrets Manager ([`AwsSecretsManager`], default feature
//! `aws`), a cache for any of them ([`CachedCredential`]: 5-minute TTL, one in-flight
//! fetch per secret, stale values served with a warning while the store fails, early
//! invalidation when a SIEM rejects a credential), and a [`SecretResolver`] that turns the
//! configuration's [`SecretRef`]s into shared providers and prefetches them at start-up.
//! Feature `entra` (default): [`entra::EntraTokenSource`], the Entra ID client-credentials
//! token source Sentinel uses, on the same cache (tokens carry their own lifetime, see
//! [`ExpiringProvider`]).
//!
//! Errors are [`CredentialError`](siem_core::CredentialError)s that name the reference
//! (`env:VAR`, `aws:name#key`), never the value; every type's `Debug` redacts values.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use siem_secrets::{SecretRef, SecretResolver};
//! #[derive(serde::Deserialize)]
//! struct SinkConfig { token: SecretRef }
//! let sink: SinkConfig = toml::from_str(r#"token = { env = "SIEM_DOC_LIB_TOKEN" }"#)?;
//! std::env::set_var("SIEM_DOC_LIB_TOKEN", "hec-token");
//!
//! let resolver = SecretResolver::builder().build(); // one per process: shares caches
//! resolver.prefetch([&sink.token]).await?;
//! let provider = resolver.resolve(&sink.token).await?;   // Arc<dyn CredentialProvider>
//! let token = provider.get().await?;                     // before each request
//! provider.invalidate(&token);                           // when the SIEM answers 401/403
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

#[cfg(feature = "aws")]
mod aws;
mod cache;
#[cfg(feature = "entra")]
pub mod entra;
mod env;
mod reference;
mod resolver;
mod value;

#[cfg(feature = "aws")]
pub use aws::{AwsSecret, AwsSecretsManager, SecretWriteError};
pub use cache::{
    refresh_margin, CacheOptions, CachedCredential, Clock, ExpiringProvider, ManualClock,
    TokioClock, DEFAULT_FAILURE_BACKOFF, DEFAULT_MAX_STALENESS, DEFAULT_TTL, MAX_REFRESH_MARGIN,
};
pub use env::EnvCredential;
pub use reference::{SecretRef, EXPECTED_FORMS};
pub use resolver::{
    PrefetchError, PrefetchFailure, ResolveError, SecretResolver, SecretResolverBuilder,
};
pub use siem_core::StaticCredential;

/// The AWS SDK crates this crate was built with, for callers that build their own
/// [`SdkConfig`](aws_config::SdkConfig) or client.
#[cfg(feature = "aws")]
pub mod sdk {
    pub use aws_config;
    pub use aws_sdk_secretsmanager;
}
