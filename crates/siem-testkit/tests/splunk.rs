//! Splunk HEC emulator: accepted and decoded envelopes, auth, data errors, gzip, limits.

mod common;

use common::*;
use serde_json::json;
use siem_testkit::{compare_events, PlatformFields, SplunkEmulator, SplunkEmulatorConfig};

const TOKEN: &str = "hec-token-1";

async fn splunk(config: SplunkEmulatorConfig) -> (SplunkEmulator, reqwest::Client) {
    let config = SplunkEmulatorConfig {
        token: TOKEN.into(),
        ..config
    };
    with_client(
        SplunkEmulator::start(config).await.unwrap(),
        SplunkEmulator::ca_pem,
    )
}

async fn post(
    splunk: &SplunkEmulator,
    client: &reqwest::Client,
    auth: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, serde_json::Value) {
    send_json_with(
        client.post(splunk.event_url()).body(body),
        "Authorization",
        auth,
    )
    .await
}

#[tokio::test]
async fn a_batch_of_envelopes_is_accepted_and_decoded_back_to_the_events() {
    let (splunk, client) = splunk(Default::default()).await;
    let events = events();
    let (status, body) = post(
        &splunk,
        &client,
        Some("Splunk hec-token-1"),
        splunk_body(&events),
    )
    .await;
    assert_eq!((status, body), (200, json!({"text":"Success","code":0})));
    let received = splunk.received();
    assert_eq!(received.len(), events.len());
    compare_events(&received, &events).unwrap();
    match &received[0].platform {
        PlatformFields::Splunk {
            sourcetype,
            index,
            host,
            ..
        } => {
            assert_eq!(sourcetype.as_deref(), Some("aisg:security"));
            assert_eq!(index.as_deref(), Some("main"));
            assert_eq!(host.as_deref(), Some("gw-1"));
        }
        other => panic!("{other:?}"),
    }
    let stats = splunk.stats();
    assert_eq!(
        (
            stats.requests,
            stats.accepted_requests,
            stats.accepted_events
        ),
        (1, 1, events.len() as u64)
    );
}

#[tokio::test]
async fn the_bare_collector_path_is_accepted_and_health_answers() {
    let (splunk, client) = splunk(Default::default()).await;
    let url = format!("{}services/collector", splunk.endpoint().as_str());
    let response = client
        .post(url)
        .header("Authorization", "Splunk hec-token-1")
        .body(splunk_body(&events()[..1]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let health = client
        .get(format!(
            "{}services/collector/health",
            splunk.endpoint().as_str()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(health).await,
        (200, json!({"text":"HEC is healthy","code":17}))
    );
    let other = client.post(format!(
        "{}services/collector/raw2",
        splunk.endpoint().as_str()
    ));
    assert_eq!(send_status(other).await, 404);
}

#[tokio::test]
async fn auth_errors_use_hec_codes() {
    let (splunk, client) = splunk(Default::default()).await;
    let body = splunk_body(&events()[..1]);
    assert_eq!(
        post(&splunk, &client, None, body.clone()).await,
        (401, json!({"text":"Token is required","code":2}))
    );
    assert_eq!(
        post(&splunk, &client, Some("Bearer hec-token-1"), body.clone()).await,
        (401, json!({"text":"Invalid authorization","code":3}))
    );
    assert_eq!(
        post(&splunk, &client, Some("Splunk wrong"), body).await,
        (403, json!({"text":"Invalid token","code":4}))
    );
    assert!(splunk.received().is_empty());
    let stats = splunk.stats();
    assert_eq!((stats.rejected_with(401), stats.rejected_with(403)), (2, 1));
}

#[tokio::test]
async fn data_errors_name_the_envelope_and_keep_the_ones_before_it() {
    let (splunk, client) = splunk(SplunkEmulatorConfig {
        allowed_indexes: vec!["main".into()],
        ..Default::default()
    })
    .await;
    let auth = Some("Splunk hec-token-1");
    let good = splunk_envelope(&events()[0]).to_string();
    let cases = [
        (
            format!("{good}{{\"time\":1}}"),
            12,
            "Event field is required",
        ),
        (
            format!("{good}{{\"event\":\"\"}}"),
            13,
            "Event field cannot be blank",
        ),
        (
            format!("{good}{{\"event\":{{\"a\""),
            6,
            "Invalid data format",
        ),
        (format!("{good}[1,2]"), 6, "Invalid data format"),
        (
            format!("{good}{{\"event\":\"free text\"}}"),
            6,
            "Invalid data format",
        ),
    ];
    for (body, code, text) in cases {
        let (status, answer) = post(&splunk, &client, auth, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            answer,
            json!({"text": text, "code": code, "invalid-event-number": 1}),
            "{body}"
        );
    }
    // Each bad request still indexed the good envelope before the bad one.
    assert_eq!(splunk.received().len(), 5);

    let mut wrong_types = Vec::new();
    for (field, value) in [
        ("time", json!("yesterday")),
        ("host", json!(7)),
        ("sourcetype", json!(["a"])),
        ("index", json!(false)),
        ("fields", json!("x")),
    ] {
        let mut envelope = splunk_envelope(&events()[1]);
        envelope[field] = value;
        wrong_types.push(envelope.to_string());
    }
    for body in wrong_types {
        let (status, answer) = post(&splunk, &client, auth, body.clone()).await;
        assert_eq!((status, answer["code"].clone()), (400, json!(6)), "{body}");
    }
    let mut missing_id = splunk_envelope(&events()[1]);
    missing_id["event"]
        .as_object_mut()
        .unwrap()
        .remove("event_id");
    let (status, answer) = post(&splunk, &client, auth, missing_id.to_string()).await;
    assert_eq!((status, answer["code"].clone()), (400, json!(6)));
    assert!(splunk
        .requests()
        .last()
        .unwrap()
        .detail
        .as_deref()
        .unwrap()
        .contains("event_id"));

    let mut other_index = splunk_envelope(&events()[1]);
    other_index["index"] = json!("secret");
    assert_eq!(
        post(&splunk, &client, auth, other_index.to_string()).await,
        (
            400,
            json!({"text":"Incorrect index","code":7,"invalid-event-number":0})
        )
    );
    assert_eq!(
        post(&splunk, &client, auth, " \n").await,
        (400, json!({"text":"No data","code":5}))
    );
}

#[tokio::test]
async fn gzip_bodies_are_decompressed_and_corrupt_ones_rejected() {
    let (splunk, client) = splunk(Default::default()).await;
    let events = events();
    let request = client
        .post(splunk.event_url())
        .header("Authorization", "Splunk hec-token-1")
        .header("Content-Encoding", "gzip")
        .body(gzip(splunk_body(&events).as_bytes()));
    assert_eq!(send_status(request).await, 200);
    compare_events(&splunk.received(), &events).unwrap();
    assert_eq!(
        splunk.requests()[0].content_encoding.as_deref(),
        Some("gzip")
    );

    let corrupt = client
        .post(splunk.event_url())
        .header("Authorization", "Splunk hec-token-1")
        .header("Content-Encoding", "gzip")
        .body(b"\x1f\x8bnot gzip at all".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(corrupt).await.0, 400);
}

#[tokio::test]
async fn bodies_over_max_content_length_get_413_plain_or_gzip() {
    let (splunk, client) = splunk(SplunkEmulatorConfig {
        max_content_length: 4_000,
        ..Default::default()
    })
    .await;
    let many: Vec<_> = events().into_iter().cycle().take(40).collect();
    let body = splunk_body(&many);
    assert!(body.len() > 4_000 && gzip(body.as_bytes()).len() < 4_000);
    let plain = post(&splunk, &client, Some("Splunk hec-token-1"), body.clone()).await;
    assert_eq!(plain, (413, json!({"text":"Content too large"})));
    let zipped = client
        .post(splunk.event_url())
        .header("Authorization", "Splunk hec-token-1")
        .header("Content-Encoding", "gzip")
        .body(gzip(body.as_bytes()));
    assert_eq!(send_status(zipped).await, 413);
    assert!(splunk.received().is_empty());
    assert_eq!(splunk.stats().rejected_with(413), 2);
}

#[tokio::test]
async fn compare_events_catches_a_wrong_severity_mapping() {
    let (splunk, client) = splunk(Default::default()).await;
    let events = events();
    let mut envelope = splunk_envelope(&events[0]);
    envelope["event"]["severity_id"] = json!(1);
    envelope["time"] = json!(1);
    let (status, _) = post(
        &splunk,
        &client,
        Some("Splunk hec-token-1"),
        envelope.to_string(),
    )
    .await;
    assert_eq!(status, 200, "HEC itself accepts it");
    let mismatch = compare_events(&splunk.received(), &events[..1]).unwrap_err();
    assert_eq!(mismatch.fields.len(), 2, "{mismatch}");
    assert!(mismatch.to_string().contains("severity_id"), "{mismatch}");
    assert!(mismatch.to_string().contains("time"), "{mismatch}");
}
