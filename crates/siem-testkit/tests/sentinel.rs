//! Logs Ingestion (DCE) and Entra emulators: tokens, routing, records against the stream.

mod common;

use common::*;
use serde_json::{json, Value};
use siem_testkit::{
    compare_events, EntraEmulator, EntraEmulatorConfig, SentinelEmulator, SentinelEmulatorConfig,
    TokenServer,
};

async fn sentinel(config: SentinelEmulatorConfig) -> (SentinelEmulator, reqwest::Client) {
    with_client(
        SentinelEmulator::start(config).await.unwrap(),
        SentinelEmulator::ca_pem,
    )
}

async fn token_request(
    client: &reqwest::Client,
    entra: &EntraEmulator,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    json_of(
        client
            .post(entra.token_url())
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn good_form(config: &EntraEmulatorConfig) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", config.client_id.clone()),
        ("client_secret", config.client_secret.clone()),
        ("scope", "https://monitor.azure.com/.default".into()),
    ]
}

async fn token(client: &reqwest::Client, entra: &EntraEmulator) -> String {
    let form = good_form(entra.config());
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = token_request(client, entra, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    body["access_token"].as_str().unwrap().to_owned()
}

async fn ingest(
    sentinel: &SentinelEmulator,
    client: &reqwest::Client,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, serde_json::Value) {
    json_of(
        client
            .post(sentinel.ingestion_url())
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn records_sent_with_an_issued_token_are_accepted_and_decoded() {
    let (sentinel, client) = sentinel(Default::default()).await;
    assert_eq!(
        sentinel.authority_host(),
        sentinel.endpoint(),
        "same server by default"
    );
    let token = token(&client, sentinel.entra()).await;
    let events = events();
    let request = client
        .post(sentinel.ingestion_url())
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzip(sentinel_body(&events).as_bytes()));
    assert_eq!(send_json(request).await, (204, Value::Null));
    compare_events(&sentinel.received(), &events).unwrap();
    assert_eq!(sentinel.entra().tokens_issued(), 1);
    assert_eq!(sentinel.stats().accepted_events, events.len() as u64);
    assert_eq!(sentinel.entra().stats().accepted_requests, 1);
}

#[tokio::test]
async fn entra_rejects_bad_client_credentials_like_entra() {
    let (sentinel, client) = sentinel(Default::default()).await;
    let entra = sentinel.entra();
    let good = good_form(entra.config());
    let with = |key: &str, value: Option<&str>| -> Vec<(String, String)> {
        good.iter()
            .filter(|(k, _)| *k != key || value.is_some())
            .map(|(k, v)| {
                let v = if *k == key {
                    value.unwrap().to_owned()
                } else {
                    v.clone()
                };
                ((*k).to_owned(), v)
            })
            .collect()
    };
    let cases = [
        (
            with("client_secret", Some("wrong")),
            401,
            "invalid_client",
            "AADSTS7000215",
        ),
        (
            with("client_secret", None),
            401,
            "invalid_client",
            "AADSTS7000216",
        ),
        (
            with("client_id", Some("someone-else")),
            400,
            "unauthorized_client",
            "AADSTS700016",
        ),
        (
            with("grant_type", Some("password")),
            400,
            "unsupported_grant_type",
            "AADSTS70003",
        ),
        (
            with("scope", Some("https://graph.microsoft.com/.default")),
            400,
            "invalid_scope",
            "AADSTS1002012",
        ),
        (with("scope", None), 400, "invalid_request", "AADSTS900144"),
    ];
    for (form, status, error, code) in cases {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (got, body) = token_request(&client, entra, &form).await;
        assert_eq!(got, status, "{form:?} {body}");
        assert_eq!(body["error"], error, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(code),
            "{body}"
        );
    }
    let wrong_tenant = format!(
        "{}other-tenant/oauth2/v2.0/token",
        entra.authority_host().as_str()
    );
    let request = client
        .post(wrong_tenant)
        .form(&[("grant_type", "client_credentials")]);
    assert_eq!(send_status(request).await, 400);
    assert_eq!(entra.tokens_issued(), 0);
}

#[tokio::test]
async fn the_dce_checks_the_bearer_token() {
    let (sentinel, client) = sentinel(SentinelEmulatorConfig {
        static_tokens: vec!["static-token".into()],
        ..Default::default()
    })
    .await;
    let body = sentinel_body(&events());
    let no_token = client
        .post(sentinel.ingestion_url())
        .header("Content-Type", "application/json")
        .body(body.clone());
    let (status, answer) = send_json(no_token).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (401, json!("InvalidToken"))
    );
    let (status, answer) = ingest(&sentinel, &client, "made-up", body.clone()).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (401, json!("InvalidToken"))
    );
    assert_eq!(
        ingest(&sentinel, &client, "static-token", body.clone())
            .await
            .0,
        204
    );

    let token = token(&client, sentinel.entra()).await;
    assert_eq!(
        ingest(&sentinel, &client, &token, body.clone()).await.0,
        204
    );
    sentinel.entra().revoke_tokens();
    assert_eq!(
        ingest(&sentinel, &client, &token, body.clone()).await.0,
        401
    );
    let fresh = self::token(&client, sentinel.entra()).await;
    assert_eq!(ingest(&sentinel, &client, &fresh, body).await.0, 204);
}

#[tokio::test]
async fn wrong_dcr_stream_or_api_version_are_refused() {
    let (sentinel, client) = sentinel(Default::default()).await;
    let token = sentinel.entra().issue_token();
    let base = sentinel.endpoint();
    let base = base.as_str();
    let dcr = sentinel.dcr_immutable_id();
    let stream = sentinel.stream();
    let cases = [
        (
            format!("{base}dataCollectionRules/dcr-other/streams/{stream}?api-version=2023-01-01"),
            404,
            "NotFound",
        ),
        (
            format!("{base}dataCollectionRules/{dcr}/streams/Custom-Other?api-version=2023-01-01"),
            404,
            "NotFound",
        ),
        (
            format!("{base}dataCollectionRules/{dcr}/streams/{stream}"),
            400,
            "MissingApiVersionParameter",
        ),
        (
            format!(
                "{base}dataCollectionRules/{dcr}/streams/{stream}?api-version=2021-11-01-preview"
            ),
            400,
            "UnsupportedApiVersion",
        ),
        (format!("{base}somewhere/else"), 404, "NotFound"),
    ];
    for (url, status, code) in cases {
        let request = client
            .post(&url)
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(sentinel_body(&events()));
        let (got, body) = send_json(request).await;
        assert_eq!(
            (got, body["error"]["code"].clone()),
            (status, json!(code)),
            "{url}"
        );
    }
    assert!(sentinel.received().is_empty());
}

#[tokio::test]
async fn records_must_have_exactly_the_stream_columns_with_the_right_types() {
    let (sentinel, client) = sentinel(Default::default()).await;
    let token = sentinel.entra().issue_token();
    let good = sentinel_record(&events()[0]);
    let mutate = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut record = good.clone();
        f(&mut record);
        json!([good.clone(), record]).to_string()
    };
    let cases = [
        (mutate(&|r| r["Extra"] = json!(1)), "Extra"),
        (
            mutate(&|r| {
                r.as_object_mut().unwrap().remove("OrgId");
            }),
            "OrgId",
        ),
        (mutate(&|r| r["EventId"] = json!(12)), "EventId"),
        (
            mutate(&|r| r["TimeGenerated"] = json!("June 8th")),
            "TimeGenerated",
        ),
        (
            mutate(&|r| r["TimeGenerated"] = json!(1_780_949_730)),
            "TimeGenerated",
        ),
        (mutate(&|r| r["Details"] = json!("{}")), "Details"),
        (mutate(&|r| r["RequestId"] = json!(5)), "RequestId"),
        (mutate(&|r| r["Severity"] = json!(null)), "Severity"),
    ];
    for (body, column) in cases {
        let (status, answer) = ingest(&sentinel, &client, &token, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"]["code"], "InvalidStream", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("Record 1") && message.contains(column),
            "{message}"
        );
    }
    assert!(sentinel.received().is_empty());

    // RequestId may be null or absent.
    let ok = json!([
        mutate(&|r| r["RequestId"] = json!(null))
            .parse::<serde_json::Value>()
            .unwrap()[1],
        mutate(&|r| {
            r.as_object_mut().unwrap().remove("RequestId");
        })
        .parse::<serde_json::Value>()
        .unwrap()[1],
    ]);
    assert_eq!(
        ingest(&sentinel, &client, &token, ok.to_string()).await.0,
        204
    );
    assert_eq!(sentinel.received()[0].request_id, None);
    assert_eq!(ingest(&sentinel, &client, &token, "{}").await.0, 400);
}

#[tokio::test]
async fn calls_over_the_size_limit_get_413() {
    let (sentinel, client) = sentinel(SentinelEmulatorConfig {
        max_call_bytes: 3_000,
        ..Default::default()
    })
    .await;
    let token = sentinel.entra().issue_token();
    let many: Vec<_> = events().into_iter().cycle().take(20).collect();
    let body = sentinel_body(&many);
    let (status, answer) = ingest(&sentinel, &client, &token, body.clone()).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (413, json!("ContentLengthLimitExceeded"))
    );
    let zipped = client
        .post(sentinel.ingestion_url())
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(gzip(body.as_bytes()));
    assert_eq!(send_status(zipped).await, 413);
}

#[tokio::test]
async fn the_token_endpoint_can_run_on_its_own_server() {
    let (sentinel, client) = sentinel(SentinelEmulatorConfig {
        token_server: TokenServer::Separate,
        ..Default::default()
    })
    .await;
    assert!(sentinel.entra().has_own_server());
    assert_ne!(sentinel.authority_host(), sentinel.endpoint());
    let token = token(&client, sentinel.entra()).await;
    assert_eq!(
        ingest(&sentinel, &client, &token, sentinel_body(&events()))
            .await
            .0,
        204
    );
}
