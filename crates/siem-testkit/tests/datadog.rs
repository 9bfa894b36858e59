//! Datadog intake emulator: accepted and decoded items, API key, shape, gzip, limits.

mod common;

use common::*;
use serde_json::json;
use siem_testkit::{compare_events, DatadogEmulator, DatadogEmulatorConfig, PlatformFields};

const KEY: &str = "dd-key-1";

async fn datadog(config: DatadogEmulatorConfig) -> (DatadogEmulator, reqwest::Client) {
    let config = DatadogEmulatorConfig {
        api_key: KEY.into(),
        ..config
    };
    with_client(
        DatadogEmulator::start(config).await.unwrap(),
        DatadogEmulator::ca_pem,
    )
}

async fn post(
    datadog: &DatadogEmulator,
    client: &reqwest::Client,
    key: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, serde_json::Value) {
    send_json_with(
        client
            .post(datadog.logs_url())
            .header("Content-Type", "application/json")
            .body(body),
        "DD-API-KEY",
        key,
    )
    .await
}

#[tokio::test]
async fn a_gzip_array_of_items_is_accepted_and_decoded() {
    let (datadog, client) = datadog(Default::default()).await;
    let events = events();
    let request = client
        .post(datadog.logs_url())
        .header("DD-API-KEY", KEY)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzip(datadog_body(&events).as_bytes()));
    assert_eq!(send_json(request).await, (202, json!({})));
    let received = datadog.received();
    compare_events(&received, &events).unwrap();
    match &received[0].platform {
        PlatformFields::Datadog {
            hostname, ddtags, ..
        } => {
            assert_eq!(hostname.as_deref(), Some("gw-1"));
            assert!(ddtags.as_deref().unwrap().starts_with("env:test,"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(datadog.stats().accepted_events, events.len() as u64);
}

#[tokio::test]
async fn a_missing_or_wrong_api_key_is_forbidden() {
    let (datadog, client) = datadog(Default::default()).await;
    let body = datadog_body(&events());
    let forbidden = (403, json!({"errors":["Forbidden"]}));
    assert_eq!(post(&datadog, &client, None, body.clone()).await, forbidden);
    assert_eq!(post(&datadog, &client, Some("nope"), body).await, forbidden);
    assert!(datadog.received().is_empty());
}

#[tokio::test]
async fn malformed_bodies_get_400_with_datadog_errors() {
    let (datadog, client) = datadog(Default::default()).await;
    let mut missing_type = datadog_item(&events()[0]);
    missing_type.as_object_mut().unwrap().remove("event_type");
    let mut bad_tags = datadog_item(&events()[0]);
    bad_tags["ddtags"] = json!(["env:x"]);
    let mut bad_details = datadog_item(&events()[0]);
    bad_details["details"] = json!("text");
    for body in [
        datadog_item(&events()[0]).to_string(), // an object, not an array
        "[1]".to_owned(),
        "[{\"a\":".to_owned(),
        json!([datadog_item(&events()[1]), missing_type]).to_string(),
        json!([bad_tags]).to_string(),
        json!([bad_details]).to_string(),
    ] {
        let (status, answer) = post(&datadog, &client, Some(KEY), body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["errors"][0]["status"], "400", "{answer}");
        assert_eq!(answer["errors"][0]["title"], "Bad Request", "{answer}");
    }
    let detail = datadog.requests()[3].detail.clone().unwrap();
    assert!(
        detail.contains("item 1") && detail.contains("event_type"),
        "{detail}"
    );
    assert!(datadog.received().is_empty(), "a request is all or nothing");

    let text = client
        .post(datadog.logs_url())
        .header("DD-API-KEY", KEY)
        .header("Content-Type", "text/plain")
        .body(datadog_body(&events()));
    assert_eq!(send_status(text).await, 400);
}

#[tokio::test]
async fn count_payload_and_item_limits_give_413() {
    let (datadog, client) = datadog(DatadogEmulatorConfig {
        max_item_bytes: 2_000,
        max_payload_bytes: 20_000,
        ..Default::default()
    })
    .await;
    let item = datadog_item(&events()[0]);
    let mut big = item.clone();
    big["details"]["model"] = json!("m".repeat(2_000));
    let (status, answer) = post(
        &datadog,
        &client,
        Some(KEY),
        json!([item.clone(), big]).to_string(),
    )
    .await;
    assert_eq!(
        (status, answer["errors"][0]["status"].clone()),
        (413, json!("413"))
    );

    let many = serde_json::Value::Array(vec![item.clone(); 60]).to_string();
    assert!(many.len() > 20_000);
    assert_eq!(post(&datadog, &client, Some(KEY), many).await.0, 413);

    // 1001 tiny items on an emulator with the default limits.
    let (datadog, client) = self::datadog(Default::default()).await;
    let tiny: Vec<_> = (0..1001).map(|_| json!({})).collect();
    assert_eq!(
        post(&datadog, &client, Some(KEY), json!(tiny).to_string())
            .await
            .0,
        413
    );
    assert_eq!(datadog.stats().rejected_with(413), 1);
}

#[tokio::test]
async fn http2_is_negotiated_when_offered() {
    let (datadog, client) = datadog(Default::default()).await;
    let (status, _) = post(&datadog, &client, Some(KEY), datadog_body(&events())).await;
    assert_eq!(status, 202);
    assert_eq!(datadog.requests()[0].version, "HTTP/2.0");
}
