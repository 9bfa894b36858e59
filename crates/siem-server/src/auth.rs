//! API tokens: random, shown once, stored as SHA-256 hashes, each scoped to one
//! organization and one role; a bootstrap super-admin token from the environment; and a
//! limit on failed authentications per client address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::rand::SecureRandom;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The connector API of its organization.
    Admin,
    /// `POST /api/v1/events` for its organization.
    Ingest,
}

impl Role {
    /// `admin` / `ingest`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ingest => "ingest",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "ingest" => Some(Role::Ingest),
            _ => None,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The bootstrap token: creates organizations and tokens, and may do what any
    /// organization's admin may.
    SuperAdmin,
    /// A token of one organization and role.
    Org {
        /// The organization.
        org_id: String,
        /// The role.
        role: Role,
    },
}

/// The prefix of every token the service issues (so a leaked one is recognisable).
pub const TOKEN_PREFIX: &str = "siem_";

/// A new random token: 32 bytes from the system's CSPRNG, hex-encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator failed");
    format!("{TOKEN_PREFIX}{}", hex(&bytes))
}

/// The stored form of a token: SHA-256, hex. Tokens are 256 random bits, so a plain hash
/// (no salt, no slow KDF) cannot be reversed by guessing.
pub fn hash_token(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Failed authentications allowed per client address in one window.
pub const MAX_FAILURES: u32 = 20;
/// The window of [`MAX_FAILURES`].
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Counts failed authentications per client address; over [`MAX_FAILURES`] in
/// [`FAILURE_WINDOW`], the address is refused (429) until the window ends.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailureLimiter {
    /// How long `addr` must wait, if it is over the limit.
    pub fn blocked_for(&self, addr: IpAddr) -> Option<Duration> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, count) = windows.get(&addr)?;
        let elapsed = start.elapsed();
        (*count >= MAX_FAILURES && elapsed < FAILURE_WINDOW).then(|| FAILURE_WINDOW - elapsed)
    }

    /// Records a failure of `addr`.
    pub fn record_failure(&self, addr: IpAddr) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        // Bound the table: forget windows that have ended.
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| start.elapsed() < FAILURE_WINDOW);
        }
        let entry = windows.entry(addr).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= FAILURE_WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_fixed_length() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn bearer_needs_the_scheme_and_a_token() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn an_address_is_blocked_after_too_many_failures() {
        let limiter = FailureLimiter::default();
        let addr: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..MAX_FAILURES - 1 {
            limiter.record_failure(addr);
        }
        assert!(limiter.blocked_for(addr).is_none());
        limiter.record_failure(addr);
        assert!(limiter.blocked_for(addr).is_some());
        assert!(limiter.blocked_for([127, 0, 0, 2].into()).is_none());
    }
}
