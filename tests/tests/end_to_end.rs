//! End to end: the real dispatcher and adapters over real TLS into the platform
//! emulators. What arrives must equal what was emitted, field for field, through faults.

use std::sync::Arc;
use std::time::Duration;

use siem_core::{
    CredentialProvider, EventFilter, Secret, SecurityEvent, SiemSink, StaticCredential,
};
use siem_dispatch::{Dispatcher, OrgConfig, RetryPolicy, SinkConfig};
use siem_http::TransportConfig;
use siem_testkit::{compare_events, Emulators, EmulatorsConfig, Fault, SplunkEmulatorConfig};

const FLUSH: Duration = Duration::from_secs(30);

/// Every fixture event (of `fixtures/events/`), in file order.
fn fixture_events() -> Vec<SecurityEvent> {
    siem_core::testing::fixture_events()
        .iter()
        .map(|e| SecurityEvent::clone(e))
        .collect()
}

/// Emits the fixture events of `org_id` to `dispatcher` and returns them.
fn emit_fixture_events_of(dispatcher: &Dispatcher, org_id: &str) -> Vec<SecurityEvent> {
    let events: Vec<_> = fixture_events()
        .into_iter()
        .filter(|e| e.org_id().as_str() == org_id)
        .collect();
    for event in &events {
        dispatcher.emit(event.clone());
    }
    events
}

fn credential(value: &str) -> Arc<dyn CredentialProvider> {
    Arc::new(StaticCredential::new(Secret::new(value)))
}

fn splunk_sink(emulators: &Emulators, timeout: Duration) -> Arc<dyn SiemSink> {
    let options = siem_splunk::SplunkConfig {
        index: Some("main".into()),
        transport: TransportConfig::with_ca_file(emulators.ca_file()),
        ..siem_splunk::SplunkConfig::new(emulators.splunk.endpoint())
    }
    .sink_options()
    .unwrap()
    .map_http(|h| h.request_timeout(timeout));
    Arc::new(
        siem_splunk::SplunkSink::new("splunk", options, credential(emulators.splunk.token()))
            .unwrap(),
    )
}

fn datadog_sink(emulators: &Emulators) -> Arc<dyn SiemSink> {
    let options = siem_datadog::DatadogConfig {
        endpoint: Some(emulators.datadog.endpoint()),
        env: Some("e2e".into()),
        hostname: Some("aisg-e2e".into()),
        transport: TransportConfig::with_ca_file(emulators.ca_file()),
        ..Default::default()
    }
    .sink_options()
    .unwrap();
    Arc::new(
        siem_datadog::DatadogSink::new("datadog", options, credential(emulators.datadog.api_key()))
            .unwrap(),
    )
}

fn sentinel_sink(emulators: &Emulators) -> Arc<dyn SiemSink> {
    let sentinel = &emulators.sentinel;
    let entra = sentinel.entra().config();
    let config = siem_sentinel::SentinelConfig {
        stream: sentinel.stream().into(),
        tenant_id: Some(entra.tenant_id.clone()),
        client_id: Some(entra.client_id.clone()),
        authority_host: Some(sentinel.authority_host()),
        transport: TransportConfig::with_ca_file(emulators.ca_file()),
        ..siem_sentinel::SentinelConfig::new(sentinel.endpoint(), sentinel.dcr_immutable_id())
    };
    let options = config.sink_options().unwrap();
    let entra_options = config.entra_options().unwrap().unwrap();
    let tokens =
        siem_sentinel::EntraTokenSource::new(entra_options, credential(&entra.client_secret))
            .unwrap();
    Arc::new(siem_sentinel::SentinelSink::new("sentinel", options, Arc::new(tokens)).unwrap())
}

fn quick_retry() -> RetryPolicy {
    RetryPolicy::recommended()
        .max_attempts(50)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
}

fn org(id: &str, sinks: Vec<Arc<dyn SiemSink>>) -> OrgConfig {
    let mut org = OrgConfig::new(id).unwrap();
    for sink in sinks {
        org.push_sink(
            SinkConfig::new(sink)
                .filter(EventFilter::all())
                .retry(quick_retry()),
        );
    }
    org
}

async fn emulators(config: EmulatorsConfig) -> Emulators {
    Emulators::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_event_arrives_on_every_platform_field_for_field() {
    let emulators = emulators(EmulatorsConfig::default()).await;
    let orgs = ["org_acme", "org_globex"].map(|id| {
        org(
            id,
            vec![
                splunk_sink(&emulators, Duration::from_secs(10)),
                datadog_sink(&emulators),
                sentinel_sink(&emulators),
            ],
        )
    });
    let dispatcher = Dispatcher::start(orgs).unwrap();
    let events = fixture_events();
    for event in &events {
        assert_eq!(dispatcher.emit(event.clone()).queued_sinks(), 3);
    }
    let report = dispatcher.shutdown(FLUSH).await;
    assert!(report.complete, "{:?}", report.undelivered);
    assert_eq!(report.stats.totals.delivered, 15);
    compare_events(&emulators.splunk.received(), &events).unwrap();
    compare_events(&emulators.datadog.received(), &events).unwrap();
    compare_events(&emulators.sentinel.received(), &events).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_retried_and_delivered_exactly_once() {
    let emulators = emulators(EmulatorsConfig::default()).await;
    emulators.splunk.inject(Fault::status(503));
    emulators.splunk.inject(Fault::Reset);
    let dispatcher = Dispatcher::start([org(
        "org_acme",
        vec![splunk_sink(&emulators, Duration::from_secs(10))],
    )])
    .unwrap();
    let events = emit_fixture_events_of(&dispatcher, "org_acme");
    let report = dispatcher.shutdown(FLUSH).await;
    assert!(report.complete);
    compare_events(&emulators.splunk.received(), &events).unwrap();
    let sink = &report.stats.orgs[0].sinks[0];
    assert!(sink.counts.retried >= 1, "{sink:?}");
    assert_eq!(emulators.splunk.stats().rejected_with(503), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_too_large_is_split_until_it_fits() {
    // The emulator takes far less than the sink's 1 MB default: the dispatcher must halve.
    let emulators = emulators(EmulatorsConfig {
        splunk: SplunkEmulatorConfig {
            max_content_length: 2_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let dispatcher = Dispatcher::start([org(
        "org_acme",
        vec![splunk_sink(&emulators, Duration::from_secs(10))],
    )])
    .unwrap();
    let events: Vec<_> = siem_core::testing::sample_events_for("org_acme")
        .into_iter()
        .cycle()
        .take(24)
        .map(|e| {
            SecurityEvent::from_json(&e.to_json().replace(
                &e.event_id().to_string(),
                &siem_core::EventId::new_random().to_string(),
            ))
            .unwrap()
        })
        .collect();
    for event in &events {
        dispatcher.emit(event.clone());
    }
    let report = dispatcher.shutdown(FLUSH).await;
    assert!(report.complete, "{:?}", report.stats);
    compare_events(&emulators.splunk.received(), &events).unwrap();
    assert!(emulators.splunk.stats().rejected_with(413) >= 1);
    assert!(report.stats.totals.splits >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_refreshed_once_and_delivery_continues() {
    let emulators = emulators(EmulatorsConfig::default()).await;
    let dispatcher =
        Dispatcher::start([org("org_globex", vec![sentinel_sink(&emulators)])]).unwrap();
    let events: Vec<_> = fixture_events()
        .into_iter()
        .filter(|e| e.org_id().as_str() == "org_globex")
        .collect();
    dispatcher.emit(events[0].clone());
    let flushed = dispatcher.flush(FLUSH).await;
    assert!(flushed.complete);
    assert_eq!(emulators.sentinel.entra().tokens_issued(), 1);
    // The platform now refuses the token it accepted a moment ago.
    emulators.sentinel.entra().revoke_tokens();
    dispatcher.emit(events[1].clone());
    let report = dispatcher.shutdown(FLUSH).await;
    assert!(report.complete, "{:?}", report.stats);
    compare_events(&emulators.sentinel.received(), &events).unwrap();
    assert_eq!(emulators.sentinel.stats().rejected_with(401), 1);
    assert_eq!(emulators.sentinel.entra().tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_platform_times_out_without_delaying_the_others() {
    let emulators = emulators(EmulatorsConfig::default()).await;
    // Splunk accepts connections but never answers until the outage ends.
    emulators.splunk.set_outage_fault(Some(Fault::Hang));
    emulators.splunk.set_outage(true);
    let dispatcher = Dispatcher::start([org(
        "org_acme",
        vec![
            splunk_sink(&emulators, Duration::from_millis(300)),
            datadog_sink(&emulators),
        ],
    )])
    .unwrap();
    let events = emit_fixture_events_of(&dispatcher, "org_acme");
    // Datadog delivers everything while every Splunk request hangs.
    let mut waited = 0;
    while emulators.datadog.received().len() < events.len() && waited < 300 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    compare_events(&emulators.datadog.received(), &events).unwrap();
    assert!(emulators.splunk.received().is_empty());
    let stats = dispatcher.stats();
    let splunk = stats.orgs[0]
        .sinks
        .iter()
        .find(|s| s.name == "splunk")
        .unwrap();
    assert_eq!(splunk.counts.delivered, 0);
    // Splunk comes back: the timed-out batch is retried and delivered once.
    emulators.splunk.set_outage(false);
    let report = dispatcher.shutdown(FLUSH).await;
    assert!(report.complete, "{:?}", report.stats);
    compare_events(&emulators.splunk.received(), &events).unwrap();
    let splunk = report.stats.orgs[0]
        .sinks
        .iter()
        .find(|s| s.name == "splunk")
        .unwrap();
    assert!(splunk.counts.retried >= 1);
}
