//! The connector API as an org admin and a gateway use it: CRUD on SQLite and PostgreSQL,
//! test before save, access between organizations, secrets kept out of the database and
//! the answers, ingest beside a hung SIEM, and reconfiguration under load.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use siem_server::Server;
use support::*;

/// Create, read, update (token kept when omitted), test, delete: the three steps of an
/// org admin, on whichever database `config` names.
async fn crud(server: &Server, org: &str) {
    let api = Api::new(server);
    let admin = api.token(org, "admin").await;
    let emulator = splunk_emulator().await;
    let base = format!("/api/v1/orgs/{org}/connectors");

    // Step 2 before saving: an http:// endpoint is refused with the CLI's words.
    let mut bad = splunk_body("splunk-prod", &emulator);
    bad["endpoint"] = json!("http://splunk.example.com:8088");
    let (status, body) = api.post(&format!("{base}/test"), &admin, Some(&bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["field"], "endpoint");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("https://"));

    // Step 3: the test event of the unsaved body arrives.
    let good = splunk_body("splunk-prod", &emulator);
    let (status, verdict) = api.post(&format!("{base}/test"), &admin, Some(&good)).await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["delivered"], true, "{verdict}");
    assert_eq!(emulator.received().len(), 1);
    assert_eq!(emulator.received()[0].event_type, "siem.test");

    // A wrong token: the SIEM's verdict names the credential.
    let mut wrong = good.clone();
    wrong["token"] = json!("not-the-hec-token");
    let (_, verdict) = api
        .post(&format!("{base}/test"), &admin, Some(&wrong))
        .await;
    assert_eq!(verdict["delivered"], false);
    assert_eq!(verdict["status"], 403, "{verdict}");
    assert!(
        verdict["message"].as_str().unwrap().contains("HEC token"),
        "{verdict}"
    );

    // Save; the answer never holds the token.
    let (status, created) = api.post(&base, &admin, Some(&good)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(!created.to_string().contains(HEC_TOKEN));
    assert_eq!(created["secret_fields"], json!(["token"]));
    let (status, _) = api.post(&base, &admin, Some(&good)).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Listed, with status; the saved connector's test event arrives too.
    let (_, list) = api.get(&base, &admin, None).await;
    assert_eq!(list["connectors"][0]["name"], "splunk-prod");
    assert!(!list.to_string().contains(HEC_TOKEN));
    let (status, verdict) = api
        .post(&format!("{base}/splunk-prod/test"), &admin, None)
        .await;
    assert_eq!(
        (status, verdict["delivered"].clone()),
        (StatusCode::OK, json!(true)),
        "{verdict}"
    );

    // Events flow and the status says so.
    let ingest = api.token(org, "ingest").await;
    let (status, answer) = api.post_events(&ingest, events(org, 1, 0..20)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["accepted"], 20);
    assert!(eventually(Duration::from_secs(20), || emulator.received().len() == 22).await);
    let mut flowing = Value::Null;
    for _ in 0..100 {
        flowing = api.status(&admin, org, "splunk-prod").await;
        if flowing["delivered"] == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(flowing["health"], "flowing", "{flowing}");
    assert_eq!(flowing["delivered"], 20);

    // Update without the token: the stored one is kept and still works.
    let mut update = good.clone();
    update.as_object_mut().unwrap().remove("token");
    update["sourcetype"] = json!("aisg:updated");
    let (status, updated) = api
        .put(&format!("{base}/splunk-prod"), &admin, Some(&update))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["sourcetype"], "aisg:updated");
    let (_, verdict) = api
        .post(&format!("{base}/splunk-prod/test"), &admin, None)
        .await;
    assert_eq!(verdict["delivered"], true, "{verdict}");

    // Delete.
    let (status, _) = api
        .delete(&format!("{base}/splunk-prod"), &admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get(&format!("{base}/splunk-prod"), &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_on_sqlite_keeps_tokens_out_of_the_database() {
    let dir = data_dir("crud-sqlite");
    let server = Server::start(config(&dir)).await.unwrap();
    crud(&server, "org_acme").await;
    // Another connector stays saved, so its secret is somewhere: not in the database.
    let api = Api::new(&server);
    let admin = api.token("org_acme", "admin").await;
    let emulator = splunk_emulator().await;
    let (status, _) = api
        .post(
            "/api/v1/orgs/org_acme/connectors",
            &admin,
            Some(&splunk_body("kept", &emulator)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    server.shutdown().await;
    let mut database_bytes = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("siem.db") {
            let bytes = std::fs::read(&path).unwrap();
            database_bytes += bytes.len();
            assert!(
                !bytes
                    .windows(HEC_TOKEN.len())
                    .any(|w| w == HEC_TOKEN.as_bytes()),
                "the token is in {name}"
            );
            assert!(
                !bytes.windows(admin.len()).any(|w| w == admin.as_bytes()),
                "an API token is in {name}"
            );
        }
    }
    assert!(database_bytes > 0);
    // It is in the local secret file, which only its owner may read.
    let secrets = std::fs::read_to_string(dir.join("secrets.json")).unwrap();
    assert!(secrets.contains(HEC_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_on_postgres() {
    let Some(url) = postgres_url("crud_on_postgres") else {
        return;
    };
    let dir = data_dir("crud-postgres");
    let mut config = config(&dir);
    config.database_url = Some(url);
    let server = Server::start(config).await.unwrap();
    // A fresh org per run: the database outlives the test.
    let org = format!("org_pg{}", std::process::id());
    crud(&server, &org).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_by_one_instance_applies_on_another_sharing_postgres() {
    let Some(url) = postgres_url("a_change_made_by_one_instance_applies_on_another") else {
        return;
    };
    let (dir_a, dir_b) = (data_dir("pg-a"), data_dir("pg-b"));
    let mut config_a = config(&dir_a);
    config_a.database_url = Some(url.clone());
    let mut config_b = config(&dir_b);
    config_b.database_url = Some(url);
    // One secret store for both (in production: Secrets Manager).
    config_b.local_secrets_file = Some(dir_a.join("secrets.json"));
    let (a, b) = (
        Server::start(config_a).await.unwrap(),
        Server::start(config_b).await.unwrap(),
    );
    let org = format!("org_two{}", std::process::id());
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    let admin = api_a.token(&org, "admin").await;
    let emulator = splunk_emulator().await;
    let (status, _) = api_a
        .post(
            &format!("/api/v1/orgs/{org}/connectors"),
            &admin,
            Some(&splunk_body("shared", &emulator)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Instance B runs the connector once its poll sees the change.
    let ingest = api_a.token(&org, "ingest").await;
    let mut delivered = false;
    for _ in 0..100 {
        let (status, answer) = api_b.post_events(&ingest, events(&org, 2, 0..1)).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        if answer["unrouted"] == 0 {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        delivered,
        "instance B never applied the connector made on A"
    );
    assert!(eventually(Duration::from_secs(20), || !emulator.received().is_empty()).await);
    a.shutdown().await;
    b.shutdown().await;
}

/// Every endpoint, with another org's admin token (404), no token and a wrong token (401).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_cannot_see_or_touch_each_other() {
    let dir = data_dir("access");
    let server = Server::start(config(&dir)).await.unwrap();
    let api = Api::new(&server);
    let acme = api.token("org_acme", "admin").await;
    let other = api.token("org_other", "admin").await;
    let acme_ingest = api.token("org_acme", "ingest").await;
    let emulator = splunk_emulator().await;
    let body = splunk_body("splunk-prod", &emulator);
    let (status, _) = api
        .post("/api/v1/orgs/org_acme/connectors", &acme, Some(&body))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let endpoints: Vec<(Method, &str, Option<&Value>)> = vec![
        (Method::GET, "/api/v1/orgs/org_acme/connectors", None),
        (
            Method::POST,
            "/api/v1/orgs/org_acme/connectors",
            Some(&body),
        ),
        (
            Method::POST,
            "/api/v1/orgs/org_acme/connectors/test",
            Some(&body),
        ),
        (
            Method::GET,
            "/api/v1/orgs/org_acme/connectors/splunk-prod",
            None,
        ),
        (
            Method::PUT,
            "/api/v1/orgs/org_acme/connectors/splunk-prod",
            Some(&body),
        ),
        (
            Method::POST,
            "/api/v1/orgs/org_acme/connectors/splunk-prod/test",
            None,
        ),
        (
            Method::DELETE,
            "/api/v1/orgs/org_acme/connectors/splunk-prod",
            None,
        ),
    ];
    for (method, path, body) in &endpoints {
        let (status, answer) = api.call(method.clone(), path, Some(&other), *body).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{method} {path} as org_other: {answer}"
        );
        let (status, _) = api.call(method.clone(), path, None, *body).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        let (status, _) = api
            .call(method.clone(), path, Some("siem_wrong"), *body)
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a wrong token"
        );
        let (status, _) = api
            .call(method.clone(), path, Some(&acme_ingest), *body)
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} {path} with an ingest token"
        );
    }
    // Organization and token creation: the bootstrap token only.
    let (status, _) = api
        .post(
            "/api/v1/orgs/org_acme/tokens",
            &acme,
            Some(&json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api
        .call(
            Method::POST,
            "/api/v1/orgs",
            None,
            Some(&json!({"id": "org_x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Ingest: only with an ingest token, only for its own organization.
    let (status, _) = api.post_events(&acme, events("org_acme", 3, 0..1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other_ingest = api.token("org_other", "ingest").await;
    let (status, answer) = api
        .post_events(&other_ingest, events("org_acme", 3, 0..2))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["rejected"], 2);
    assert!(answer["errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("not this token's organization"));
    // Nothing of org_acme changed, and nothing reached its SIEM from org_other.
    let (status, _) = api
        .get("/api/v1/orgs/org_acme/connectors/splunk-prod", &acme, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(emulator.received().is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentications_are_rate_limited_per_address() {
    let dir = data_dir("ratelimit");
    let server = Server::start(config(&dir)).await.unwrap();
    let api = Api::new(&server);
    let path = "/api/v1/orgs/org_acme/connectors";
    let mut statuses = Vec::new();
    for _ in 0..siem_server::auth::MAX_FAILURES + 1 {
        statuses.push(
            api.call(Method::GET, path, Some("siem_guess"), None)
                .await
                .0,
        );
    }
    assert!(statuses[..siem_server::auth::MAX_FAILURES as usize]
        .iter()
        .all(|s| *s == StatusCode::UNAUTHORIZED));
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);
    // Even the right token waits out the window from that address.
    let (status, _) = api.call(Method::GET, path, Some(BOOTSTRAP), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_paths_are_refused_and_bad_lines_named() {
    let dir = data_dir("paths");
    let server = Server::start(config(&dir)).await.unwrap();
    let api = Api::new(&server);
    let admin = api.token("org_acme", "admin").await;
    let emulator = splunk_emulator().await;
    let mut body = splunk_body("s", &emulator);
    body["ca_file"] = json!("/etc/ssl/private/key.pem");
    body["dead_letter"] = json!("/etc/cron.d/x");
    let (status, answer) = api
        .post("/api/v1/orgs/org_acme/connectors", &admin, Some(&body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = answer["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["ca_file", "dead_letter"]);
    assert!(answer.to_string().contains("ca_pem"));
    // A misspelt key is named with the key it resembles.
    let mut body = splunk_body("s", &emulator);
    body["sourcetyp"] = json!("x");
    let (status, answer) = api
        .post("/api/v1/orgs/org_acme/connectors", &admin, Some(&body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer.to_string().contains("sourcetyp"), "{answer}");

    // Ingest: bad lines by number, the rest accepted.
    let (status, _) = api
        .post(
            "/api/v1/orgs/org_acme/connectors",
            &admin,
            Some(&splunk_body("s", &emulator)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let ingest = api.token("org_acme", "ingest").await;
    let good = events("org_acme", 4, 0..2);
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(1, "{\"event_type\": \"nope\"}");
    lines.insert(2, "");
    let (status, answer) = api.post_events(&ingest, lines.join("\n")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["accepted"], 2);
    assert_eq!(answer["rejected"], 1);
    assert_eq!(answer["errors"][0]["line"], 2);
    assert!(eventually(Duration::from_secs(20), || emulator.received().len() == 2).await);
    server.shutdown().await;
}

/// A hung SIEM beside a healthy one: every post is answered 202 and the healthy SIEM
/// receives everything; the hung one's events wait in its buffer or are counted dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_beside_a_hung_siem_keeps_answering_and_delivering() {
    let dir = data_dir("hung");
    let server = Server::start(config(&dir)).await.unwrap();
    let api = Api::new(&server);
    let admin = api.token("org_acme", "admin").await;
    let (healthy, hung) = (splunk_emulator().await, splunk_emulator().await);
    for (name, emulator) in [("healthy", &healthy), ("hung", &hung)] {
        let mut body = splunk_body(name, emulator);
        // A SIEM that may hang gets a buffer that never waits on it (a `block` buffer
        // holds ingest until the circuit opens: README, "The connector service").
        body["buffer"] = json!({ "type": "memory", "when_full": "drop_newest" });
        let (status, answer) = api
            .post("/api/v1/orgs/org_acme/connectors", &admin, Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    hung.set_latency(Duration::from_secs(3600));
    let ingest = api.token("org_acme", "ingest").await;
    const POSTS: usize = 40;
    const PER_POST: usize = 250;
    for post in 0..POSTS {
        let (status, answer) = api
            .post_events(
                &ingest,
                events("org_acme", 5, post * PER_POST..(post + 1) * PER_POST),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer["accepted"], PER_POST);
    }
    let total = POSTS * PER_POST;
    assert!(
        eventually(Duration::from_secs(60), || healthy.received().len()
            == total)
        .await,
        "the healthy SIEM got {} of {total}",
        healthy.received().len()
    );
    let hung_status = api.status(&admin, "org_acme", "hung").await;
    let accounted = hung_status["delivered"].as_u64().unwrap()
        + hung_status["buffered"].as_u64().unwrap()
        + hung_status["dropped"].as_u64().unwrap()
        + hung_status["failed"].as_u64().unwrap();
    assert_eq!(accounted, total as u64, "{hung_status}");
    server.shutdown().await;
}

/// Connectors change while events pour in for two organizations: nothing is lost and no
/// event reaches the other organization's SIEM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfiguration_under_load_loses_and_misroutes_nothing() {
    let dir = data_dir("reconfig");
    let server = Server::start(config(&dir)).await.unwrap();
    let api = Api::new(&server);
    let orgs = ["org_one", "org_two"];
    let mut admins = Vec::new();
    let mut ingests = Vec::new();
    let mut emulators = Vec::new();
    for org in orgs {
        let admin = api.token(org, "admin").await;
        let emulator = splunk_emulator().await;
        let (status, _) = api
            .post(
                &format!("/api/v1/orgs/{org}/connectors"),
                &admin,
                Some(&splunk_body("main", &emulator)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        ingests.push(api.token(org, "ingest").await);
        admins.push(admin);
        emulators.push(emulator);
    }
    const POSTS: usize = 30;
    const PER_POST: usize = 100;
    let load = {
        let (api, ingests) = (api.clone(), ingests.clone());
        tokio::spawn(async move {
            for post in 0..POSTS {
                for (i, org) in orgs.iter().enumerate() {
                    let (status, answer) = api
                        .post_events(
                            &ingests[i],
                            events(org, i as u16, post * PER_POST..(post + 1) * PER_POST),
                        )
                        .await;
                    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
                    assert_eq!(answer["unrouted"], 0, "{answer}");
                }
            }
        })
    };
    // Meanwhile: change each connector's options several times (token kept).
    for round in 0..5 {
        for (i, org) in orgs.iter().enumerate() {
            let mut body = splunk_body("main", &emulators[i]);
            body.as_object_mut().unwrap().remove("token");
            body["sourcetype"] = json!(format!("aisg:round{round}"));
            let (status, answer) = api
                .put(
                    &format!("/api/v1/orgs/{org}/connectors/main"),
                    &admins[i],
                    Some(&body),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    load.await.unwrap();
    let total = POSTS * PER_POST;
    for (i, org) in orgs.iter().enumerate() {
        let emulator = &emulators[i];
        assert!(
            eventually(Duration::from_secs(60), || emulator.received().len()
                >= total)
            .await,
            "{org}: {} of {total} delivered",
            emulator.received().len()
        );
        let received = emulator.received();
        assert!(
            received.iter().all(|e| e.org_id == *org),
            "another org's event reached {org}'s SIEM"
        );
        let ids: std::collections::BTreeSet<_> =
            received.iter().map(|e| e.event_id.clone()).collect();
        assert_eq!(ids.len(), total, "{org}: duplicates or losses");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_is_refused_off_loopback_and_the_openapi_is_served() {
    let dir = data_dir("listen");
    let mut config = config(&dir);
    config.listen = "0.0.0.0:0".parse().unwrap();
    let error = Server::start(config).await.unwrap_err();
    assert!(error.to_string().contains("--tls-cert"), "{error}");
    let server = Server::start(support::config(&dir)).await.unwrap();
    let api = Api::new(&server);
    let (status, spec) = api
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["paths"]["/api/v1/orgs/{org}/connectors/{name}"]["put"].is_object());
    let (status, _) = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let admin = api.token("org_acme", "admin").await;
    let emulator = splunk_emulator().await;
    api.post(
        "/api/v1/orgs/org_acme/connectors",
        &admin,
        Some(&splunk_body("m", &emulator)),
    )
    .await;
    let metrics = reqwest::get(format!("{}/metrics", api.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"siem_events_delivered_total{org="org_acme",connector="m",platform="splunk"} 0"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("siem_breaker_open"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_takes_gzip_and_json_arrays_and_caps_bodies() {
    use std::io::Write as _;
    let dir = data_dir("ingest-forms");
    let mut config = config(&dir);
    config.max_body_bytes = 64 * 1024;
    let server = Server::start(config).await.unwrap();
    let api = Api::new(&server);
    let admin = api.token("org_acme", "admin").await;
    let emulator = splunk_emulator().await;
    api.post(
        "/api/v1/orgs/org_acme/connectors",
        &admin,
        Some(&splunk_body("s", &emulator)),
    )
    .await;
    let ingest = api.token("org_acme", "ingest").await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/events", api.base);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(events("org_acme", 6, 0..10).as_bytes())
        .unwrap();
    let answer: Value = client
        .post(&url)
        .bearer_auth(&ingest)
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["accepted"], 10, "{answer}");

    let array: Vec<Value> = events("org_acme", 7, 0..5)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let response = client
        .post(&url)
        .bearer_auth(&ingest)
        .json(&array)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.json::<Value>().await.unwrap()["accepted"], 5);

    // Over the cap, plain or inflated from a small gzip body: refused, nothing taken.
    let big = events("org_acme", 8, 0..1000);
    assert!(big.len() > 64 * 1024);
    let response = client
        .post(&url)
        .bearer_auth(&ingest)
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(big.as_bytes()).unwrap();
    let small = gz.finish().unwrap();
    assert!(small.len() < 64 * 1024);
    let response = client
        .post(&url)
        .bearer_auth(&ingest)
        .header("content-encoding", "gzip")
        .body(small)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(eventually(Duration::from_secs(20), || emulator.received().len() == 15).await);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_given_certificate() {
    let dir = data_dir("tls");
    let ca = siem_http::testing::TestCa::new("siem serve test CA").unwrap();
    let cert = ca.issue_server_cert(&["127.0.0.1", "localhost"]).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &cert.key_pem).unwrap();
    let mut config = config(&dir);
    config.tls = Some((dir.join("cert.pem"), dir.join("key.pem")));
    let server = Server::start(config).await.unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let answer = client
        .get(format!("https://localhost:{}/readyz", server.addr().port()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    // Not plain HTTP on the same port.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{}/readyz", server.addr().port()))
            .await
            .map_or(true, |r| !r.status().is_success())
    );
    server.shutdown().await;
}
