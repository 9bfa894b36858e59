//! The authenticated send path every sink shares: fetch the credential, put it in the
//! platform's auth header, POST once, classify the answer, and clean up after a rejected
//! or echoed credential.

use std::fmt;
use std::sync::Arc;

use siem_core::{Ack, CredentialProvider, DeliveryError, EncodedRequest};
use url::Url;
use zeroize::Zeroize;

use crate::{scrub_secret, secret_header, HeaderName, HeaderValue, HttpClient, HttpResponse};

/// How a platform carries its credential: a header name and a prefix written before the
/// secret (`Authorization: Splunk <token>`, `DD-API-KEY: <key>`,
/// `Authorization: Bearer <token>`).
#[derive(Debug, Clone)]
pub struct AuthHeader {
    name: HeaderName,
    prefix: &'static str,
}

impl AuthHeader {
    /// `name` must be a lower-case header name; `prefix` (e.g. `"Bearer "`, or `""`) is
    /// written before the secret.
    pub const fn new(name: &'static str, prefix: &'static str) -> Self {
        Self {
            name: HeaderName::from_static(name),
            prefix,
        }
    }

    /// The header carrying `secret`, marked sensitive (see [`secret_header`]).
    pub fn header(&self, secret: &str) -> Result<(HeaderName, HeaderValue), DeliveryError> {
        let mut value = String::with_capacity(self.prefix.len() + secret.len());
        value.push_str(self.prefix);
        value.push_str(secret);
        let header = secret_header(&value);
        value.zeroize();
        Ok((self.name.clone(), header?))
    }
}

/// The headers of a request other than the credential: `Content-Type: application/json`
/// and, for gzip bodies, `Content-Encoding: gzip`. Pure, so snapshot tests can show a
/// request without a network.
pub fn content_headers(request: &EncodedRequest) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = vec![(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    )];
    if request.gzip {
        headers.push((
            HeaderName::from_static("content-encoding"),
            HeaderValue::from_static("gzip"),
        ));
    }
    headers
}

/// The transport half of a sink: one URL, one client, one credential and the way the
/// credential is sent. `Debug` shows the URL and the credential's description only.
pub struct AuthenticatedPost {
    url: Url,
    client: HttpClient,
    credential: Arc<dyn CredentialProvider>,
    auth: AuthHeader,
}

impl fmt::Debug for AuthenticatedPost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatedPost")
            .field("url", &self.url.as_str())
            .field("auth", &self.auth.name.as_str())
            .field("credential", &self.credential.describe())
            .finish()
    }
}

impl AuthenticatedPost {
    /// Posts to `url` with `client`, authenticating with `credential` sent as `auth`.
    pub fn new(
        url: Url,
        client: HttpClient,
        credential: Arc<dyn CredentialProvider>,
        auth: AuthHeader,
    ) -> Self {
        Self {
            url,
            client,
            credential,
            auth,
        }
    }

    /// The URL every request goes to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The credential provider (for `describe()` in a sink's `Debug`).
    pub fn credential(&self) -> &dyn CredentialProvider {
        &*self.credential
    }

    /// One attempt: gets the credential, POSTs `request` with the auth and content
    /// headers, and turns the answer into an outcome with `classify`. On
    /// [`DeliveryError::CredentialsRejected`] the credential is invalidated so the next
    /// attempt fetches a fresh one; every error has the secret scrubbed from its text
    /// (see [`scrub_secret`]).
    pub async fn send(
        &self,
        request: &EncodedRequest,
        classify: impl FnOnce(&HttpResponse) -> Result<Ack, DeliveryError>,
    ) -> Result<Ack, DeliveryError> {
        let secret = self.credential.get().await?;
        let result = async {
            let mut headers = vec![self.auth.header(secret.expose())?];
            headers.extend(content_headers(request));
            let response = self
                .client
                .post(&self.url, &headers, request.body.clone())
                .await?;
            classify(&response)
        }
        .await;
        result.map_err(|e| {
            if matches!(e, DeliveryError::CredentialsRejected { .. }) {
                self.credential.invalidate(&secret);
            }
            // In case the platform echoed the credential back in its error text.
            scrub_secret(e, secret.expose())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_header_prefixes_and_hides_the_secret() {
        let (name, value) = AuthHeader::new("authorization", "Splunk ")
            .header("t0k")
            .unwrap();
        assert_eq!(name.as_str(), "authorization");
        assert_eq!(value.to_str().unwrap(), "Splunk t0k");
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("t0k"));
        let (name, value) = AuthHeader::new("dd-api-key", "").header("k").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("dd-api-key", "k")
        );
        let e = AuthHeader::new("authorization", "Bearer ")
            .header("bad\nvalue")
            .unwrap_err();
        assert!(matches!(e, DeliveryError::Permanent { .. }));
        assert!(!e.to_string().contains("value"));
    }

    #[test]
    fn content_headers_follow_the_gzip_flag() {
        let plain = crate::finish_body(Vec::new(), b"[]".to_vec(), false);
        let names = |r: &EncodedRequest| -> Vec<String> {
            content_headers(r)
                .iter()
                .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
                .collect()
        };
        assert_eq!(names(&plain), ["content-type: application/json"]);
        let gzip = crate::finish_body(Vec::new(), b"[]".to_vec(), true);
        assert_eq!(
            names(&gzip),
            ["content-type: application/json", "content-encoding: gzip"]
        );
    }
}
