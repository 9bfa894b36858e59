//! A caching layer for any [`CredentialProvider`], built for AWS Secrets Manager:
//! see [`CachedCredential`].
//!
//! Time comes from a [`Clock`]: [`TokioClock`] by default (so tests can use
//! `#[tokio::test(start_paused = true)]` and `tokio::time::advance`), or a [`ManualClock`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::{BoxFuture, FutureExt, Shared};
use siem_core::{CredentialError, CredentialProvider, Secret};
use tokio::time::Instant;

/// How long a fetched value is used before it is fetched again: 5 minutes.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
/// How long past its TTL a value may still be served while the store fails: 30 minutes.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(30 * 60);
/// How long after a failed fetch before the next one is tried: 5 seconds.
pub const DEFAULT_FAILURE_BACKOFF: Duration = Duration::from_secs(5);

/// Cache timings. Build from [`CacheOptions::default`] and the `with_*` methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheOptions {
    /// How long a fetched value is fresh. Default [`DEFAULT_TTL`].
    pub ttl: Duration,
    /// How long past `ttl` a value may be served while refreshing fails.
    /// Default [`DEFAULT_MAX_STALENESS`]; zero disables stale serving.
    pub max_staleness: Duration,
    /// Minimum time between a failed fetch and the next attempt, and between two
    /// refetches caused by rejections of the same value. Default [`DEFAULT_FAILURE_BACKOFF`].
    pub failure_backoff: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_TTL,
            max_staleness: DEFAULT_MAX_STALENESS,
            failure_backoff: DEFAULT_FAILURE_BACKOFF,
        }
    }
}

impl CacheOptions {
    /// Sets [`ttl`](Self::ttl).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets [`max_staleness`](Self::max_staleness).
    pub fn with_max_staleness(mut self, max_staleness: Duration) -> Self {
        self.max_staleness = max_staleness;
        self
    }

    /// Sets [`failure_backoff`](Self::failure_backoff).
    pub fn with_failure_backoff(mut self, failure_backoff: Duration) -> Self {
        self.failure_backoff = failure_backoff;
        self
    }
}

/// A source of the current time for cache decisions.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// [`tokio::time::Instant::now`]: follows tokio's paused test clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to; clones share the time. For tests that must
/// not pause tokio's clock (e.g. while real network I/O with timeouts is in flight).
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock starting at the current instant.
    pub fn new() -> Self {
        Self {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.checked_add(by).unwrap_or(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The largest safety margin before expiry at which a value with a lifetime (see
/// [`ExpiringProvider`]) is refreshed.
pub const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The refresh margin for a value valid for `lifetime`: 10 % of it, at most
/// [`MAX_REFRESH_MARGIN`]. A one-hour token is refreshed after 55 minutes.
///
/// ```
/// use std::time::Duration;
/// use siem_secrets::refresh_margin;
/// assert_eq!(refresh_margin(Duration::from_secs(3600)), Duration::from_secs(300));
/// assert_eq!(refresh_margin(Duration::from_secs(600)), Duration::from_secs(60));
/// ```
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_REFRESH_MARGIN)
}

/// A source of values that may say how long they are valid (an OAuth token's
/// `expires_in`). A value with a lifetime is fresh until [`refresh_margin`] before it
/// expires and is never served past its expiry; one without follows the cache's
/// [`CacheOptions::ttl`] and [`CacheOptions::max_staleness`].
#[async_trait]
pub trait ExpiringProvider: Send + Sync + fmt::Debug + 'static {
    /// Fetches a value and, when known, how long it is valid from now.
    async fn fetch(&self) -> Result<(Secret, Option<Duration>), CredentialError>;
    /// How errors and logs name the source.
    fn describe(&self) -> String;
}

/// Any [`CredentialProvider`] as a source without lifetimes.
#[derive(Debug)]
struct Plain(Arc<dyn CredentialProvider>);

#[async_trait]
impl ExpiringProvider for Plain {
    async fn fetch(&self) -> Result<(Secret, Option<Duration>), CredentialError> {
        self.0.get().await.map(|secret| (secret, None))
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

type SharedFetch = Shared<BoxFuture<'static, Result<Secret, CredentialError>>>;

/// A [`CredentialProvider`] that caches another one.
///
/// - A value is fresh for [`CacheOptions::ttl`] (default [`DEFAULT_TTL`], 5 minutes).
/// - One fetch per credential is in flight at a time: every caller that finds the cache
///   cold or expired awaits the same fetch (no thundering herd).
/// - When a refresh fails, the previous value is served (with a `tracing` warning per
///   failed attempt) until it is [`CacheOptions::max_staleness`] past its expiry; after
///   that the store's error is returned.
/// - After a failure no new fetch starts for [`CacheOptions::failure_backoff`]; callers get
///   the stale value or the remembered error, so a failing store is not hammered.
/// - [`invalidate(rejected)`](CredentialProvider::invalidate) drops the value only if it is
///   the rejected one, so however many requests saw the same 401, exactly one refetch
///   follows. A rejected value is never served stale.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use siem_core::{CredentialProvider, Secret, StaticCredential};
/// use siem_secrets::{CacheOptions, CachedCredential};
/// let inner = Arc::new(StaticCredential::with_label(Secret::new("t"), "demo"));
/// let cached = CachedCredential::new(inner, CacheOptions::default());
/// assert_eq!(cached.get().await.unwrap().expose(), "t");
/// assert_eq!(cached.get().await.unwrap().expose(), "t");
/// assert_eq!(cached.fetch_count(), 1);
/// # }
/// ```
#[derive(Clone)]
pub struct CachedCredential {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Arc<dyn ExpiringProvider>,
    reference: String,
    options: CacheOptions,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entry: Option<Entry>,
    inflight: Option<SharedFetch>,
    last_failure: Option<(Instant, CredentialError)>,
    fetches: u64,
}

struct Entry {
    secret: Secret,
    fetched_at: Instant,
    /// How long the source said the value is valid, if it did.
    lifetime: Option<Duration>,
    /// A SIEM refused this value: refetch on the next `get`, never serve it stale.
    rejected: bool,
    /// Set when a refetch after a rejection returned the same value; further rejections
    /// of it are ignored for `failure_backoff` after this instant.
    reconfirmed_at: Option<Instant>,
}

fn deadline(start: Instant, after: Duration) -> Option<Instant> {
    start.checked_add(after)
}

impl Entry {
    fn is_fresh(&self, now: Instant, options: &CacheOptions) -> bool {
        let fresh_for = match self.lifetime {
            Some(lifetime) => lifetime - refresh_margin(lifetime),
            None => options.ttl,
        };
        !self.rejected && deadline(self.fetched_at, fresh_for).is_none_or(|end| now < end)
    }

    fn is_servable_stale(&self, now: Instant, options: &CacheOptions) -> bool {
        let limit = self.lifetime.unwrap_or_else(|| {
            options
                .ttl
                .checked_add(options.max_staleness)
                .unwrap_or(Duration::MAX)
        });
        !self.rejected && deadline(self.fetched_at, limit).is_none_or(|end| now < end)
    }
}

impl State {
    /// The stale value if it may still be served, else `error`.
    fn stale_or(
        &self,
        now: Instant,
        options: &CacheOptions,
        error: CredentialError,
    ) -> Result<Secret, CredentialError> {
        match &self.entry {
            Some(entry) if entry.is_servable_stale(now, options) => Ok(entry.secret.clone()),
            _ => Err(error),
        }
    }
}

impl CachedCredential {
    /// Caches `provider` with `options`, using [`TokioClock`].
    pub fn new(provider: Arc<dyn CredentialProvider>, options: CacheOptions) -> Self {
        Self::with_clock(provider, options, Arc::new(TokioClock))
    }

    /// Caches `provider` with `options` and an explicit clock.
    pub fn with_clock(
        provider: Arc<dyn CredentialProvider>,
        options: CacheOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::expiring(Arc::new(Plain(provider)), options, clock)
    }

    /// Caches a source whose values may carry their own lifetime (see
    /// [`ExpiringProvider`]), with `options` and `clock`.
    pub fn expiring(
        provider: Arc<dyn ExpiringProvider>,
        options: CacheOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let reference = provider.describe();
        Self {
            inner: Arc::new(Inner {
                provider,
                reference,
                options,
                clock,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The cache timings.
    pub fn options(&self) -> CacheOptions {
        self.inner.options
    }

    /// How many fetches from the underlying provider have completed (successful or not).
    pub fn fetch_count(&self) -> u64 {
        self.inner.lock().fetches
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the one in-flight fetch. The future holds the provider and only a weak
    /// reference to the cache, so an abandoned fetch stored in `inflight` is no cycle.
    fn start_fetch(self: &Arc<Self>) -> SharedFetch {
        let provider = Arc::clone(&self.provider);
        let cache = Arc::downgrade(self);
        async move {
            let result = provider.fetch().await;
            if let Some(cache) = cache.upgrade() {
                cache.record(&result);
            }
            result.map(|(secret, _)| secret)
        }
        .boxed()
        .shared()
    }

    /// Stores the outcome of a fetch.
    fn record(&self, result: &Result<(Secret, Option<Duration>), CredentialError>) {
        let now = self.clock.now();
        let mut state = self.lock();
        state.inflight = None;
        state.fetches += 1;
        match result {
            Ok((secret, lifetime)) => {
                let reconfirmed_at = match &state.entry {
                    Some(old) if old.rejected && old.secret.same_value(secret) => Some(now),
                    _ => None,
                };
                state.entry = Some(Entry {
                    secret: secret.clone(),
                    fetched_at: now,
                    lifetime: *lifetime,
                    rejected: false,
                    reconfirmed_at,
                });
                state.last_failure = None;
                tracing::debug!(reference = %self.reference, "credential fetched");
            }
            Err(error) => {
                state.last_failure = Some((now, error.clone()));
                match &state.entry {
                    Some(entry) if entry.is_servable_stale(now, &self.options) => {
                        tracing::warn!(
                            reference = %self.reference,
                            %error,
                            age_secs = now.saturating_duration_since(entry.fetched_at).as_secs(),
                            "could not refresh the credential; serving the cached value"
                        );
                    }
                    _ => {
                        tracing::warn!(
                            reference = %self.reference,
                            %error,
                            "could not fetch the credential and no usable cached value remains"
                        );
                    }
                }
            }
        }
    }
}

#[async_trait]
impl CredentialProvider for CachedCredential {
    async fn get(&self) -> Result<Secret, CredentialError> {
        let options = self.inner.options;
        let fetch = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            if let Some(entry) = &state.entry {
                if entry.is_fresh(now, &options) {
                    return Ok(entry.secret.clone());
                }
            }
            if let Some(fetch) = &state.inflight {
                fetch.clone()
            } else {
                if let Some((failed_at, error)) = &state.last_failure {
                    if deadline(*failed_at, options.failure_backoff).is_none_or(|end| now < end) {
                        return state.stale_or(now, &options, error.clone());
                    }
                }
                let fetch = self.inner.start_fetch();
                state.inflight = Some(fetch.clone());
                fetch
            }
        };
        match fetch.await {
            Ok(secret) => Ok(secret),
            Err(error) => {
                let now = self.inner.clock.now();
                self.inner.lock().stale_or(now, &options, error)
            }
        }
    }

    fn invalidate(&self, rejected: &Secret) {
        let now = self.inner.clock.now();
        let backoff = self.inner.options.failure_backoff;
        let mut state = self.inner.lock();
        let Some(entry) = state.entry.as_mut() else {
            return;
        };
        if entry.rejected || !entry.secret.same_value(rejected) {
            return;
        }
        if let Some(at) = entry.reconfirmed_at {
            if deadline(at, backoff).is_none_or(|end| now < end) {
                return;
            }
        }
        entry.rejected = true;
        // A rejection is new information: do not wait out an earlier failure's backoff.
        state.last_failure = None;
        tracing::info!(
            reference = %self.inner.reference,
            "credential rejected by a SIEM; it will be fetched again"
        );
    }

    fn describe(&self) -> String {
        self.inner.reference.clone()
    }
}

impl fmt::Debug for CachedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("CachedCredential")
            .field("reference", &self.inner.reference)
            .field("options", &self.inner.options)
            .field("cached", &state.entry.is_some())
            .field("fetching", &state.inflight.is_some())
            .field("fetches", &state.fetches)
            .finish()
    }
}
