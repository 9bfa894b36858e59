//! Turning configured [`SecretRef`]s into shared credential providers.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use siem_core::{CredentialError, CredentialProvider, StaticCredential};

use crate::cache::{CacheOptions, CachedCredential, Clock, TokioClock};
use crate::env::EnvCredential;
use crate::reference::SecretRef;

/// A reference that cannot be turned into a provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// `{ static = ... }` without [`SecretResolverBuilder::allow_static`].
    #[error(
        "credential static: literal secrets in the configuration are only allowed in tests and \
         demos; use {{ env = \"VAR\" }} or {{ aws_secret = \"name-or-arn\" }}"
    )]
    StaticNotAllowed,
    /// An AWS reference in a build without the `aws` feature.
    #[error(
        "credential {reference}: this build has no AWS Secrets Manager support (feature `aws`)"
    )]
    AwsUnsupported {
        /// The reference, e.g. `aws:prod/siem#hec`.
        reference: String,
    },
}

/// One reference that failed during [`SecretResolver::prefetch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrefetchFailure {
    /// The reference could not be resolved to a provider.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The provider could not fetch the credential.
    #[error(transparent)]
    Fetch(#[from] CredentialError),
}

/// Start-up fetching failed for some references; each failure names its reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} of {total} secret reference(s) could not be fetched: {}", failures.len(), list(failures))]
pub struct PrefetchError {
    /// How many distinct references were fetched.
    pub total: usize,
    /// One entry per failed reference.
    pub failures: Vec<PrefetchFailure>,
}

fn list(failures: &[PrefetchFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Resolves [`SecretRef`]s to providers, sharing one AWS client and one
/// [`CachedCredential`] per distinct AWS reference across every caller (sink).
///
/// - `env` references become an [`EnvCredential`] (read on each `get`, not cached);
/// - `aws_secret` references become a [`CachedCredential`] over an
///   [`AwsSecret`](crate::AwsSecret); the client is built from the standard AWS
///   configuration on first use unless one was supplied;
/// - `static` references are refused unless [`allow_static`](SecretResolverBuilder::allow_static).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use siem_secrets::{SecretRef, SecretResolver};
/// std::env::set_var("SIEM_DOC_HEC", "hec-token");
/// let resolver = SecretResolver::builder().build();
/// let refs = [SecretRef::env("SIEM_DOC_HEC")];
/// resolver.prefetch(&refs).await?;            // at start-up: fails naming each bad reference
/// let provider = resolver.resolve(&refs[0]).await?;
/// assert_eq!(provider.describe(), "env:SIEM_DOC_HEC");
/// assert_eq!(provider.get().await?.expose(), "hec-token");
/// # Ok(()) }
/// ```
pub struct SecretResolver {
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    options: CacheOptions,
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    clock: Arc<dyn Clock>,
    allow_static: bool,
    cached: Mutex<HashMap<String, Arc<CachedCredential>>>,
    #[cfg(feature = "aws")]
    aws: tokio::sync::OnceCell<crate::aws::AwsSecretsManager>,
}

/// Builds a [`SecretResolver`].
#[derive(Debug)]
#[must_use]
pub struct SecretResolverBuilder {
    options: CacheOptions,
    clock: Arc<dyn Clock>,
    allow_static: bool,
    #[cfg(feature = "aws")]
    aws: Option<crate::aws::AwsSecretsManager>,
}

impl SecretResolverBuilder {
    /// Cache timings for AWS references. Default [`CacheOptions::default`].
    pub fn cache_options(mut self, options: CacheOptions) -> Self {
        self.options = options;
        self
    }

    /// The clock used by the caches. Default [`TokioClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Accept `{ static = "..." }` references (tests and demos). Default `false`.
    pub fn allow_static(mut self, allow: bool) -> Self {
        self.allow_static = allow;
        self
    }

    /// Use this Secrets Manager client instead of loading the standard AWS configuration.
    #[cfg(feature = "aws")]
    pub fn aws(mut self, store: crate::aws::AwsSecretsManager) -> Self {
        self.aws = Some(store);
        self
    }

    /// The resolver.
    pub fn build(self) -> SecretResolver {
        SecretResolver {
            options: self.options,
            clock: self.clock,
            allow_static: self.allow_static,
            cached: Mutex::new(HashMap::new()),
            #[cfg(feature = "aws")]
            aws: tokio::sync::OnceCell::new_with(self.aws),
        }
    }
}

impl SecretResolver {
    /// A builder with defaults.
    pub fn builder() -> SecretResolverBuilder {
        SecretResolverBuilder {
            options: CacheOptions::default(),
            clock: Arc::new(TokioClock),
            allow_static: false,
            #[cfg(feature = "aws")]
            aws: None,
        }
    }

    /// The provider for `reference`. Calls with equal AWS references return the same
    /// cached provider.
    pub async fn resolve(
        &self,
        reference: &SecretRef,
    ) -> Result<Arc<dyn CredentialProvider>, ResolveError> {
        match reference {
            SecretRef::Env { var } => Ok(Arc::new(EnvCredential::new(var.clone()))),
            SecretRef::Static(secret) if self.allow_static => Ok(Arc::new(
                StaticCredential::with_label(secret.clone(), "static"),
            )),
            SecretRef::Static(_) => Err(ResolveError::StaticNotAllowed),
            #[cfg(feature = "aws")]
            SecretRef::Aws { secret_id, key } => {
                self.resolve_aws(reference, secret_id, key.as_deref()).await
            }
            #[cfg(not(feature = "aws"))]
            SecretRef::Aws { .. } => Err(ResolveError::AwsUnsupported {
                reference: reference.to_string(),
            }),
        }
    }

    /// Forgets the cached provider of `reference`, so that the next
    /// [`resolve`](Self::resolve) fetches the secret again (after it was rotated). Providers
    /// already handed out keep their own cache until its TTL.
    pub fn forget(&self, reference: &SecretRef) {
        self.lock().remove(&reference.to_string());
    }

    #[cfg(feature = "aws")]
    async fn resolve_aws(
        &self,
        reference: &SecretRef,
        secret_id: &str,
        key: Option<&str>,
    ) -> Result<Arc<dyn CredentialProvider>, ResolveError> {
        let name = reference.to_string();
        if let Some(found) = self.lock().get(&name) {
            return Ok(Arc::clone(found) as Arc<dyn CredentialProvider>);
        }
        let store = self
            .aws
            .get_or_init(crate::aws::AwsSecretsManager::from_env)
            .await;
        let provider = Arc::new(store.secret(secret_id, key));
        let mut cached = self.lock();
        let entry = cached.entry(name).or_insert_with(|| {
            Arc::new(CachedCredential::with_clock(
                provider,
                self.options,
                Arc::clone(&self.clock),
            ))
        });
        Ok(Arc::clone(entry) as Arc<dyn CredentialProvider>)
    }

    /// Resolves and fetches every distinct reference concurrently (call at start-up), so
    /// caches are warm and bad references are reported before any event is sent.
    pub async fn prefetch<'a>(
        &self,
        references: impl IntoIterator<Item = &'a SecretRef>,
    ) -> Result<(), PrefetchError> {
        let mut distinct: Vec<&SecretRef> = Vec::new();
        for reference in references {
            if !distinct.contains(&reference) {
                distinct.push(reference);
            }
        }
        let total = distinct.len();
        let results = futures::future::join_all(distinct.into_iter().map(|reference| async move {
            let provider = self.resolve(reference).await?;
            provider.get().await?;
            Ok::<(), PrefetchFailure>(())
        }))
        .await;
        let failures: Vec<PrefetchFailure> = results.into_iter().filter_map(Result::err).collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(PrefetchError { total, failures })
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CachedCredential>>> {
        self.cached.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for SecretResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut references: Vec<String> = self.lock().keys().cloned().collect();
        references.sort();
        f.debug_struct("SecretResolver")
            .field("options", &self.options)
            .field("allow_static", &self.allow_static)
            .field("cached", &references)
            .finish_non_exhaustive()
    }
}
