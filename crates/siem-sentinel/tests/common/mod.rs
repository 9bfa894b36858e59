//! Helpers shared by the integration tests (the generic ones come from
//! `siem_core::testing` and `siem_http::testing`).
#![allow(dead_code, unused_imports)]

pub use siem_core::testing::{fixture_events, load_event, RecordingCredential};
pub use siem_http::testing::{check_gzip_and_empty_batch, for_loopback_mock, gunzip};
pub use siem_secrets::ManualClock;

use std::sync::Arc;
use std::time::Duration;

use siem_core::{CredentialProvider, Endpoint, SecurityEvent};
use siem_sentinel::{EntraOptions, SentinelConfig, SentinelOptions, SentinelSink};

pub const DCR: &str = "dcr-00112233445566778899aabbccddeeff";
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
pub const CLIENT_SECRET: &str = "cl1ent-s3cret~value";

pub fn sample_events() -> Vec<Arc<SecurityEvent>> {
    siem_core::testing::sample_events()
        .into_iter()
        .map(Arc::new)
        .collect()
}

pub const DCE: &str = "https://aisg-dce-x1y2.westeurope-1.ingest.monitor.azure.com";

/// The defaults for [`DCE`] and [`DCR`].
pub fn config() -> SentinelConfig {
    SentinelConfig::new(Endpoint::parse(DCE).unwrap(), DCR)
}

/// The default options with `gzip` on or off.
pub fn options(gzip: bool) -> SentinelOptions {
    SentinelConfig { gzip, ..config() }.sink_options().unwrap()
}

/// Options pointing at a plain-HTTP mock server on loopback, changed by `f`.
pub fn mock_options(uri: &str, f: impl FnOnce(&mut SentinelConfig)) -> SentinelOptions {
    let mut config = SentinelConfig::new(Endpoint::plain_http_loopback(uri).unwrap(), DCR);
    f(&mut config);
    config.sink_options().unwrap().map_http(for_loopback_mock)
}

/// Entra ID options for [`TENANT`] and [`CLIENT`] at the plain-HTTP authority `uri`.
pub fn mock_entra(uri: &str) -> EntraOptions {
    let config = SentinelConfig {
        tenant_id: Some(TENANT.into()),
        client_id: Some(CLIENT.into()),
        authority_host: Some(Endpoint::plain_http_loopback(uri).unwrap()),
        ..config()
    };
    let entra = config.entra_options().unwrap().unwrap();
    entra.map_http(for_loopback_mock)
}

pub fn mock_sink(uri: &str, credential: Arc<dyn CredentialProvider>) -> SentinelSink {
    SentinelSink::new("sentinel-test", mock_options(uri, |_| {}), credential).unwrap()
}
