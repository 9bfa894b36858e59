//! Arrival delays (for latency benchmarks): every valid event is measured from its own
//! timestamp, only while tracking is on, in count-only mode too.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use serde_json::json;
use siem_core::Timestamp;
use siem_testkit::{Recording, SplunkEmulator, SplunkEmulatorConfig};

fn envelope(timestamp: &str, n: u32) -> String {
    json!({"event": {
        "event_id": format!("0b7c6f1e-8d0a-4c43-9a57-3f1d2a9e4b{n:02}"),
        "event_type": "siem.test", "org_id": "o", "project_id": "p", "severity": "info",
        "timestamp": timestamp, "details": {}}})
    .to_string()
}

#[tokio::test]
async fn delays_are_measured_from_each_events_timestamp_only_while_tracking() {
    let splunk = SplunkEmulator::start(SplunkEmulatorConfig {
        token: "t".into(),
        recording: Recording::CountOnly,
        ..Default::default()
    })
    .await
    .unwrap();
    let client = common::client(splunk.ca_pem());
    let post = |body: String| {
        client
            .post(splunk.event_url())
            .header("Authorization", "Splunk t")
            .body(body)
            .send()
    };
    // Not tracking yet: nothing recorded.
    let now = Timestamp::now().unix_millis();
    let an_hour_ago = Timestamp::from_unix_millis(now - 3_600_000).unwrap();
    let mut stamp = String::new();
    an_hour_ago.write_rfc3339(&mut stamp);
    let old = envelope(&stamp, 1);
    assert_eq!(post(old.clone()).await.unwrap().status(), 200);
    assert_eq!(splunk.arrival_delays().count(), 0);

    splunk.track_arrival_delays(true);
    let future = envelope("2999-01-01T00:00:00Z", 2);
    assert_eq!(
        post(format!("{old}{old}{future}")).await.unwrap().status(),
        200
    );
    let delays = splunk.arrival_delays();
    assert_eq!(delays.count(), 2, "the two old events");
    assert_eq!(delays.early(), 1, "the event stamped in the future");
    // Stamped an hour ago: an hour late, within the histogram's 1.6 % (and the time the
    // test takes, far less than the tolerance).
    let p50 = delays.quantile(0.5).unwrap();
    assert!(
        (Duration::from_secs(3540)..=Duration::from_secs(3660)).contains(&p50),
        "{p50:?}"
    );
    assert!(delays.max() >= p50 && delays.max() < Duration::from_secs(3660));

    // A rejected envelope (no event) is not measured.
    let status = post(r#"{"time":1}"#.to_owned()).await.unwrap().status();
    assert_eq!(status, 400);
    assert_eq!(splunk.arrival_delays().count(), 2);
}
