//! A throwaway certificate authority for TLS tests.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use super::TestServerError;

/// A certificate authority made up on the spot, trusted by nobody but the tests that ask
/// for its PEM: a client configured with
/// [`HttpOptions::extra_root_ca_pem`](crate::HttpOptions::extra_root_ca_pem)`(ca.cert_pem())`
/// accepts the server certificates it issues.
///
/// ```
/// let ca = siem_http::testing::TestCa::new("demo CA")?;
/// assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// let leaf = ca.issue_server_cert(&["127.0.0.1", "localhost"])?;
/// assert!(leaf.key_pem.contains("PRIVATE KEY"));
/// # Ok::<(), siem_http::testing::TestServerError>(())
/// ```
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// A server certificate and its private key, both PEM.
#[derive(Clone)]
pub struct ServerCert {
    /// The leaf certificate (PEM).
    pub cert_pem: String,
    /// The leaf's private key (PKCS#8 PEM).
    pub key_pem: String,
    pub(crate) cert_der: Vec<u8>,
    pub(crate) key_der: Vec<u8>,
}

impl fmt::Debug for ServerCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

fn rcgen_error(what: &'static str) -> impl FnOnce(rcgen::Error) -> TestServerError {
    move |e| TestServerError::Certificate {
        what,
        reason: e.to_string(),
    }
}

impl TestCa {
    /// Generates a new CA key and self-signed root certificate named `common_name`.
    pub fn new(common_name: &str) -> Result<Self, TestServerError> {
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error("CA parameters"))?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        name.push(DnType::OrganizationName, "siem-connectors tests");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(rcgen_error("CA key"))?;
        let cert = params
            .self_signed(&key)
            .map_err(rcgen_error("CA certificate"))?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
        })
    }

    /// The root certificate (PEM), for a client's extra trusted roots or a `ca_file`.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a server certificate for `names`: IP addresses become IP SANs, anything else
    /// a DNS name.
    pub fn issue_server_cert(&self, names: &[&str]) -> Result<ServerCert, TestServerError> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(rcgen_error("server names"))?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "siem-connectors test server");
        params.distinguished_name = name;
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().map_err(rcgen_error("server key"))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(rcgen_error("server certificate"))?;
        Ok(ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        })
    }
}
