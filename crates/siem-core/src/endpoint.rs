//! HTTPS-only endpoint URLs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// A base URL that a sink may send to: `https://` only, with a host, and without
/// `user:password@` (credentials travel in headers from a credential provider, never in
/// URLs, which end up in logs).
///
/// ```
/// use siem_core::Endpoint;
/// let e = Endpoint::parse("https://splunk.example.com:8088")?;
/// assert_eq!(e.join("/services/collector/event").as_str(),
///            "https://splunk.example.com:8088/services/collector/event");
/// assert!(Endpoint::parse("http://splunk.example.com").is_err());
/// # Ok::<(), siem_core::EndpointError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(Url);

/// Why a string is not an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Not a URL at all.
    #[error("is not a valid URL: {reason}")]
    Unparsable {
        /// The parser's reason.
        reason: String,
    },
    /// A scheme other than `https`.
    #[error("must use https:// (found {scheme}://); plain HTTP would expose tokens and events")]
    NotHttps {
        /// The scheme found.
        scheme: String,
    },
    /// `user:password@` in the URL.
    #[error("must not contain user info (user:password@); give credentials as a token reference")]
    Userinfo,
    /// No host name.
    #[error("has no host")]
    MissingHost,
    /// A query or fragment, which base URLs cannot carry.
    #[error("must not contain a query or fragment")]
    QueryOrFragment,
}

impl Endpoint {
    /// Parses and checks a base URL.
    pub fn parse(value: &str) -> Result<Self, EndpointError> {
        let url = Url::parse(value.trim()).map_err(|e| EndpointError::Unparsable {
            reason: e.to_string(),
        })?;
        if url.scheme() != "https" {
            return Err(EndpointError::NotHttps {
                scheme: url.scheme().to_owned(),
            });
        }
        Self::check_rest(url)
    }

    fn check_rest(url: Url) -> Result<Self, EndpointError> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EndpointError::Userinfo);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(EndpointError::MissingHost);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(EndpointError::QueryOrFragment);
        }
        Ok(Self(url))
    }

    /// A plain-HTTP endpoint on a loopback address, for mock servers in tests.
    ///
    /// Only with the `testing` feature, and only for `127.0.0.0/8`, `[::1]` and
    /// `localhost`: production builds have no way to send to plain HTTP.
    #[cfg(feature = "testing")]
    pub fn plain_http_loopback(value: &str) -> Result<Self, EndpointError> {
        let url = Url::parse(value).map_err(|e| EndpointError::Unparsable {
            reason: e.to_string(),
        })?;
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        if url.scheme() != "http" || !loopback {
            return Err(EndpointError::NotHttps {
                scheme: format!("{} (non-loopback)", url.scheme()),
            });
        }
        Self::check_rest(url)
    }

    /// The URL.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host name.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// Appends `path` (which should start with `/`) to the base path; a trailing `/` on the
    /// base does not double.
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let base = url.path().trim_end_matches('/');
        let joined = format!("{base}/{}", path.trim_start_matches('/'));
        url.set_path(&joined);
        url
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.0.as_str())
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Endpoint::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_without_userinfo() {
        assert!(matches!(
            Endpoint::parse("http://x.example"),
            Err(EndpointError::NotHttps { scheme }) if scheme == "http"
        ));
        assert_eq!(
            Endpoint::parse("https://user:pw@x.example"),
            Err(EndpointError::Userinfo)
        );
        assert_eq!(
            Endpoint::parse("https://token@x.example"),
            Err(EndpointError::Userinfo)
        );
        assert!(matches!(
            Endpoint::parse("not a url"),
            Err(EndpointError::Unparsable { .. })
        ));
        assert_eq!(
            Endpoint::parse("https://x.example/?a=b"),
            Err(EndpointError::QueryOrFragment)
        );
        assert!(Endpoint::parse("ftp://x.example").is_err());
        assert!(Endpoint::parse("HTTPS://X.example").is_ok());
    }

    #[test]
    fn join_keeps_base_path() {
        let e = Endpoint::parse("https://proxy.example/splunk/").unwrap();
        assert_eq!(
            e.join("/services/collector/event").as_str(),
            "https://proxy.example/splunk/services/collector/event"
        );
    }
}
