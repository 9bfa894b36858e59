//! What the three adapters share besides the transport: the sink (name, options, one
//! authenticated POST per request) and the option and build errors (the transport part of
//! every configuration is [`TransportConfig`](crate::TransportConfig)). An adapter
//! supplies its options type and implements
//! [`Adapter`] on it; `SplunkSink` is `HttpSink<SplunkOptions>`, and so on.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use siem_core::{
    Ack, CredentialProvider, DeliveryError, Encoded, EncodedRequest, SecurityEvent, SiemSink,
};
use url::Url;

use crate::{
    AuthHeader, AuthenticatedPost, HttpClient, HttpError, HttpOptions, HttpResponse, RequestPlan,
};

/// An option that failed validation, naming the platform and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform} option `{field}`: {reason}")]
pub struct ConfigError {
    /// `splunk`, `datadog` or `sentinel`.
    pub platform: &'static str,
    /// The field (its TOML name), e.g. `index`.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// `field` of a `platform` sink is wrong because of `reason`.
    pub fn new(platform: &'static str, field: &'static str, reason: impl fmt::Display) -> Self {
        Self {
            platform,
            field,
            reason: reason.to_string(),
        }
    }
}

/// Shows at most 80 characters of a rejected value, quoted, for option errors.
pub fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if value.chars().count() > 80 {
        s.push('…');
    }
    format!("{s:?}")
}

/// A sink (or token source) that could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The sink name is empty.
    #[error("a {platform} sink needs a non-empty name")]
    EmptyName {
        /// The platform.
        platform: &'static str,
    },
    /// An option is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built (e.g. the extra CA is not valid PEM).
    #[error("{component}: {source}")]
    Http {
        /// What was being built, e.g. `splunk sink splunk-prod`.
        component: String,
        /// Why.
        #[source]
        source: HttpError,
    },
}

/// Whether request bodies are gzip-compressed unless configured: on for every platform
/// (all three accept `Content-Encoding: gzip`; Datadog recommends it).
pub const DEFAULT_GZIP: bool = true;

/// [`DEFAULT_GZIP`], for `#[serde(default = "siem_http::default_gzip")]`.
pub const fn default_gzip() -> bool {
    DEFAULT_GZIP
}

/// A platform's validated options, as a sink needs them: where to post, how to
/// authenticate, how to encode, how to read the answer.
pub trait Adapter: fmt::Debug + Send + Sync + 'static {
    /// The platform name reported by [`SiemSink::platform`].
    const PLATFORM: &'static str;
    /// How the credential is sent.
    const AUTH: AuthHeader;
    /// The URL every request goes to.
    fn url(&self) -> Url;
    /// The client settings.
    fn http(&self) -> &HttpOptions;
    /// Writes the bodies of `events` and decides which events each holds (the encoder).
    fn plan(&self, events: &[Arc<SecurityEvent>]) -> RequestPlan;
    /// The platform's answer as an outcome.
    fn check_response(response: &HttpResponse) -> Result<Ack, DeliveryError>;

    /// Encodes a borrowed batch (pure): each request gets clones of its events.
    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded {
        self.plan(events).cloning(events)
    }
    /// Encodes a batch handed over: the requests take the events themselves.
    fn encode_owned(&self, events: Vec<Arc<SecurityEvent>>) -> Encoded {
        self.plan(&events).moving(events)
    }
}

/// The parts of an adapter's validated options that are the same in every adapter, for
/// `$options { config: $config, http: HttpOptions, .. }` with an inherent
/// `$options::new($config) -> Result<$options, ConfigError>` and `$options::url()`:
/// `Deref` to the settings, `TryFrom` the settings, `http()`, `map_http()`,
/// `$config::sink_options()`, and [`Adapter`] with the platform name, the auth header,
/// the encoder's `plan` function and the answer check.
#[macro_export]
macro_rules! adapter_options {
    (
        $options:ident, $config:ident,
        platform: $platform:expr,
        auth: $auth:expr,
        plan: $plan:path,
        check_response: $check:path $(,)?
    ) => {
        impl ::std::ops::Deref for $options {
            type Target = $config;
            fn deref(&self) -> &$config {
                &self.config
            }
        }

        impl ::std::convert::TryFrom<$config> for $options {
            type Error = $crate::ConfigError;
            fn try_from(config: $config) -> ::std::result::Result<Self, $crate::ConfigError> {
                Self::new(config)
            }
        }

        impl $options {
            /// The client settings.
            pub fn http(&self) -> &$crate::HttpOptions {
                &self.http
            }
            /// Changes the client settings (tests: a plain-HTTP loopback mock, a short
            /// timeout, a CA as PEM text).
            pub fn map_http(
                mut self,
                f: impl FnOnce($crate::HttpOptions) -> $crate::HttpOptions,
            ) -> Self {
                self.http = f(self.http);
                self
            }
        }

        impl $config {
            /// Validates the settings (and reads `ca_file`, if set).
            pub fn sink_options(&self) -> ::std::result::Result<$options, $crate::ConfigError> {
                $options::new(self.clone())
            }
        }

        impl $crate::Adapter for $options {
            const PLATFORM: &'static str = $platform;
            const AUTH: $crate::AuthHeader = $auth;
            fn url(&self) -> $crate::__private::Url {
                $options::url(self)
            }
            fn http(&self) -> &$crate::HttpOptions {
                &self.http
            }
            fn plan(
                &self,
                events: &[::std::sync::Arc<$crate::__private::SecurityEvent>],
            ) -> $crate::RequestPlan {
                $plan(events, self)
            }
            fn check_response(
                response: &$crate::HttpResponse,
            ) -> ::std::result::Result<$crate::__private::Ack, $crate::__private::DeliveryError>
            {
                $check(response)
            }
        }
    };
}

/// A sink of platform `A`: one attempt per request, classified outcome.
pub struct HttpSink<A> {
    name: String,
    options: A,
    post: AuthenticatedPost,
}

impl<A: Adapter> fmt::Debug for HttpSink<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSink")
            .field("platform", &A::PLATFORM)
            .field("name", &self.name)
            .field("url", &self.post.url().as_str())
            .field("options", &self.options)
            .field("credential", &self.post.credential().describe())
            .finish()
    }
}

impl<A: Adapter> HttpSink<A> {
    /// A sink named `name` (e.g. `splunk-prod`) sending with `options`, authenticating with
    /// the secret from `credential`.
    pub fn new(
        name: impl Into<String>,
        options: A,
        credential: Arc<dyn CredentialProvider>,
    ) -> Result<Self, BuildError> {
        let name = name.into();
        if name.is_empty() {
            return Err(BuildError::EmptyName {
                platform: A::PLATFORM,
            });
        }
        let client = HttpClient::new(options.http()).map_err(|source| BuildError::Http {
            component: format!("{} sink {name}", A::PLATFORM),
            source,
        })?;
        Ok(Self {
            post: AuthenticatedPost::new(options.url(), client, credential, A::AUTH),
            name,
            options,
        })
    }

    /// The options.
    pub fn options(&self) -> &A {
        &self.options
    }

    /// The URL requests go to.
    pub fn url(&self) -> &Url {
        self.post.url()
    }
}

#[async_trait]
impl<A: Adapter> SiemSink for HttpSink<A> {
    fn name(&self) -> &str {
        &self.name
    }

    fn platform(&self) -> &'static str {
        A::PLATFORM
    }

    fn encode(&self, events: &[Arc<SecurityEvent>]) -> Encoded {
        self.options.encode(events)
    }

    fn encode_owned(&self, events: Vec<Arc<SecurityEvent>>) -> Encoded {
        self.options.encode_owned(events)
    }

    async fn send(&self, request: &EncodedRequest) -> Result<Ack, DeliveryError> {
        self.post.send(request, A::check_response).await
    }
}
