//! Fault injection (status sequences, Retry-After, delay, latency, hang, reset, outage),
//! recording modes and the all-in-one start.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use siem_testkit::{
    DatadogEmulator, Emulators, Fault, Recording, SentinelEmulator, SplunkEmulator,
    SplunkEmulatorConfig,
};

async fn splunk(config: SplunkEmulatorConfig) -> SplunkEmulator {
    SplunkEmulator::start(config).await.unwrap()
}

async fn send(
    splunk: &SplunkEmulator,
    client: &reqwest::Client,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(splunk.event_url())
        .header("Authorization", format!("Splunk {}", splunk.token()))
        .body(splunk_body(&events()))
        .send()
        .await
}

/// Posts the sample events to `datadog`, with its API key.
async fn send_to_datadog(datadog: &DatadogEmulator, client: &reqwest::Client) -> reqwest::Response {
    client
        .post(datadog.logs_url())
        .header("DD-API-KEY", datadog.api_key())
        .header("Content-Type", "application/json")
        .body(datadog_body(&events()))
        .send()
        .await
        .unwrap()
}

/// Posts the sample events to `sentinel`, with a token its Entra endpoint issued.
async fn send_to_sentinel(
    sentinel: &SentinelEmulator,
    client: &reqwest::Client,
) -> reqwest::Response {
    client
        .post(sentinel.ingestion_url())
        .bearer_auth(sentinel.entra().issue_token())
        .header("Content-Type", "application/json")
        .body(sentinel_body(&events()))
        .send()
        .await
        .unwrap()
}

/// The `Retry-After` header, status and JSON body of `response`.
async fn retry_after_and_json(response: reqwest::Response) -> (String, u16, serde_json::Value) {
    let retry_after = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, body) = json_of(response).await;
    (retry_after, status, body)
}

#[tokio::test]
async fn a_status_sequence_is_answered_in_order_with_platform_bodies_then_normal_service() {
    let splunk = splunk(Default::default()).await;
    let client = client(splunk.ca_pem());
    splunk.inject_all([
        Fault::status_retry_after(503, Duration::from_secs(7)),
        Fault::status(500),
        Fault::status(413),
    ]);
    assert_eq!(splunk.pending_faults(), 3);
    let first = send(&splunk, &client).await.unwrap();
    assert_eq!(first.headers()["retry-after"], "7");
    assert_eq!(
        json_of(first).await,
        (503, json!({"text":"Server is busy","code":9}))
    );
    let second = send(&splunk, &client).await.unwrap();
    assert!(second.headers().get("retry-after").is_none());
    assert_eq!(
        json_of(second).await,
        (500, json!({"text":"Internal server error","code":8}))
    );
    assert_eq!(json_of(send(&splunk, &client).await.unwrap()).await.0, 413);
    assert_eq!(json_of(send(&splunk, &client).await.unwrap()).await.0, 200);
    assert_eq!(
        splunk.received().len(),
        events().len(),
        "only the last request was accepted"
    );
    let stats = splunk.stats();
    assert_eq!(stats.faults_applied, 3);
    assert_eq!(stats.rejected_total(), 3);
    assert_eq!((stats.rejected_with(503), stats.rejected_with(500)), (1, 1));
}

#[tokio::test]
async fn injected_statuses_carry_each_platforms_error_body() {
    let all = Emulators::start(Default::default()).await.unwrap();
    let client = client(all.ca_pem());
    all.datadog
        .inject(Fault::status_retry_after(429, Duration::from_secs(3)));
    let (retry_after, status, body) =
        retry_after_and_json(send_to_datadog(&all.datadog, &client).await).await;
    let error_status = &body["errors"][0]["status"];
    assert_eq!(
        (retry_after, status, error_status),
        ("3".into(), 429, &json!("429"))
    );

    all.sentinel
        .inject(Fault::status_retry_after(503, Duration::from_secs(5)));
    let (retry_after, status, body) =
        retry_after_and_json(send_to_sentinel(&all.sentinel, &client).await).await;
    let error_code = &body["error"]["code"];
    let expected = ("5".into(), 503, &json!("ServiceUnavailable"));
    assert_eq!((retry_after, status, error_code), expected);

    all.sentinel.entra().inject(Fault::status(503));
    let request = client
        .post(all.sentinel.entra().token_url())
        .form(&[("grant_type", "client_credentials")]);
    let (status, body) = send_json(request).await;
    assert_eq!(
        (status, body["error"].clone()),
        (503, json!("temporarily_unavailable"))
    );
    assert_eq!(
        all.sentinel.stats().requests,
        1,
        "the token fault did not touch the DCE"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hang_never_answers_until_the_client_times_out() {
    let splunk = splunk(Default::default()).await;
    let client = client_with_timeout(splunk.ca_pem(), Some(Duration::from_secs(30)));
    splunk.inject(Fault::Hang);
    let error = send(&splunk, &client).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(send(&splunk, &client).await.unwrap().status(), 200);
    assert_eq!(splunk.stats().faults_applied, 1);
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_a_response() {
    let splunk = splunk(Default::default()).await;
    let client = client(splunk.ca_pem());
    splunk.inject(Fault::Reset);
    let error = send(&splunk, &client).await.unwrap_err();
    assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
    assert_eq!(send(&splunk, &client).await.unwrap().status(), 200);
    assert!(splunk.requests()[0].status.is_none());
    assert_eq!(splunk.received().len(), events().len());
}

#[tokio::test(start_paused = true)]
async fn latency_and_delays_hold_the_answer_back() {
    let splunk = splunk(Default::default()).await;
    let client = client(splunk.ca_pem());
    splunk.set_latency(Duration::from_secs(30));
    let start = tokio::time::Instant::now();
    assert_eq!(send(&splunk, &client).await.unwrap().status(), 200);
    assert!(start.elapsed() >= Duration::from_secs(30));
    splunk.set_latency(Duration::ZERO);
    splunk.inject(Fault::Delay(Duration::from_secs(90)));
    let start = tokio::time::Instant::now();
    assert_eq!(send(&splunk, &client).await.unwrap().status(), 200);
    assert!(start.elapsed() >= Duration::from_secs(90));
    assert_eq!(splunk.received().len(), 2 * events().len());
}

#[tokio::test]
async fn an_outage_refuses_everything_until_it_ends() {
    let splunk = splunk(Default::default()).await;
    let client = client(splunk.ca_pem());
    splunk.set_outage(true);
    for _ in 0..3 {
        assert_eq!(send(&splunk, &client).await.unwrap().status(), 503);
    }
    splunk.set_outage_fault(Some(Fault::Reset));
    assert!(send(&splunk, &client).await.is_err());
    splunk.set_outage(false);
    assert_eq!(send(&splunk, &client).await.unwrap().status(), 200);
    let stats = splunk.stats();
    assert_eq!((stats.rejected_with(503), stats.accepted_requests), (3, 1));
}

#[tokio::test]
async fn count_only_mode_counts_without_storing() {
    let splunk = splunk(SplunkEmulatorConfig {
        recording: Recording::CountOnly,
        ..Default::default()
    })
    .await;
    let client = client(splunk.ca_pem());
    for _ in 0..3 {
        assert_eq!(send(&splunk, &client).await.unwrap().status(), 200);
    }
    let n = 3 * events().len() as u64;
    let stats = splunk.stats();
    assert_eq!((stats.accepted_events, stats.events_not_stored), (n, n));
    assert!(splunk.received().is_empty());
    // Validation still runs in count-only mode.
    let bad = client
        .post(splunk.event_url())
        .header("Authorization", format!("Splunk {}", splunk.token()))
        .body(r#"{"event":{"event_type":"x"}}"#);
    assert_eq!(send_status(bad).await, 400);
}

#[tokio::test]
async fn storage_is_bounded_and_take_received_makes_room() {
    let splunk = splunk(SplunkEmulatorConfig {
        recording: Recording::Store { max_events: 7 },
        ..Default::default()
    })
    .await;
    let client = client(splunk.ca_pem());
    let per_request = events().len(); // 6
    send(&splunk, &client).await.unwrap();
    send(&splunk, &client).await.unwrap();
    assert_eq!(splunk.received().len(), 7);
    assert_eq!(
        splunk.stats().events_not_stored,
        (2 * per_request - 7) as u64
    );
    assert_eq!(splunk.take_received().len(), 7);
    send(&splunk, &client).await.unwrap();
    assert_eq!(splunk.received().len(), per_request);
}

#[tokio::test]
async fn start_all_shares_one_ca_file_that_reaches_every_emulator() {
    let all = Emulators::start(Default::default()).await.unwrap();
    let pem = std::fs::read_to_string(all.ca_file()).unwrap();
    let client = client(&pem);
    assert_eq!(send(&all.splunk, &client).await.unwrap().status(), 200);
    let datadog = send_to_datadog(&all.datadog, &client).await;
    assert_eq!(datadog.status(), 202);
    let sentinel = send_to_sentinel(&all.sentinel, &client).await;
    assert_eq!(sentinel.status(), 204);
    let file = all.ca_file().to_owned();
    drop(all);
    assert!(!file.exists(), "the temporary CA directory is removed");
}

#[tokio::test]
async fn a_fixed_port_is_honoured() {
    let probe = SentinelEmulator::start(Default::default()).await.unwrap();
    let port = probe.addr().port();
    drop(probe);
    // Let the runtime finish the aborted accept task, which closes the listener.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let splunk = splunk(SplunkEmulatorConfig {
        port,
        ..Default::default()
    })
    .await;
    assert_eq!(splunk.addr().port(), port);
    assert!(splunk.endpoint().as_str().ends_with(&format!(":{port}/")));
}

#[tokio::test]
async fn clients_keep_their_connection_alive_across_requests() {
    let splunk = splunk(Default::default()).await;
    let client = client(splunk.ca_pem());
    for _ in 0..5 {
        assert_eq!(send(&splunk, &client).await.unwrap().status(), 200);
    }
    assert_eq!(splunk.stats().requests, 5);
    assert_eq!(splunk.connections_accepted(), 1);
    assert!(splunk.requests().iter().all(|r| r.version == "HTTP/1.1"));
}
