//! The connectors page in a real browser: headless Chromium driven through WebDriver
//! (chromedriver, started here on a free loopback port). An org admin signs in by
//! keyboard, is told why an `http://` endpoint and a wrong token fail, sends a test event
//! that reaches the Splunk emulator, saves the connector and sees events flowing, edits it
//! without retyping the token, and another organization's admin does not see it. Text an
//! organization entered (a connector named like a script) shows as text.
//!
//! Screenshots of each step go to `<target>/browser-screenshots/`. Without Chromium and
//! chromedriver the browser test says loudly that it was skipped, unless
//! `SIEM_TEST_REQUIRE_SERVICES` is set (CI), where it fails.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use siem_server::Server;
use support::*;

/// How long a step may take to show its result: a liveness bound, not a speed target
/// (the list refreshes every 5 s).
const WAIT: Duration = Duration::from_secs(30);

/// A connector name an attacker in an organization might choose; names only need to be
/// printable, so the API accepts it.
const HOSTILE_NAME: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let dir = data_dir("page-headers");
    let server = Server::start(config(&dir)).await.unwrap();
    let base = format!("http://{}", server.addr());
    let http = reqwest::Client::new();
    let mut html = String::new();
    for (path, content_type) in [
        ("/", "text/html"),
        ("/assets/page.js", "text/javascript"),
        ("/assets/page.css", "text/css"),
        ("/assets/catalog.json", "application/json"),
    ] {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let body = response.text().await.unwrap();
        match path {
            "/" => html = body,
            // The script builds the page from data with text, never with markup.
            "/assets/page.js" => assert!(!body.contains("innerHTML") && !body.contains("eval(")),
            "/assets/catalog.json" => {
                let catalog: Value = serde_json::from_str(&body).unwrap();
                let sites = &catalog["platforms"][1]["fields"][0]["options"];
                assert!(sites.as_array().unwrap().contains(&json!("datadoghq.eu")));
            }
            _ => {}
        }
    }
    // No inline script or style for the policy to block: both come from files.
    assert!(html.match_indices("<script").all(|(i, _)| html[i..]
        .split('>')
        .next()
        .unwrap()
        .contains(" src=")));
    assert!(!html.contains("<style") && !html.contains(" style="));
    // The API's answers are unchanged: JSON, with their own status codes.
    let response = http
        .get(format!("{base}/api/v1/orgs/org_acme/connectors"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}

/// Chromium and chromedriver: `SIEM_TEST_CHROMIUM` / `SIEM_TEST_CHROMEDRIVER`, else the
/// Debian packages' paths. `None` (with a loud message) when either is missing.
fn browser(test: &str) -> Option<(PathBuf, PathBuf)> {
    let path = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let chromium = path("SIEM_TEST_CHROMIUM", "/usr/bin/chromium");
    let driver = path("SIEM_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
    if chromium.is_file() && driver.is_file() {
        return Some((chromium, driver));
    }
    assert!(
        std::env::var_os("SIEM_TEST_REQUIRE_SERVICES").is_none(),
        "{test}: {} or {} is missing and SIEM_TEST_REQUIRE_SERVICES is set",
        chromium.display(),
        driver.display()
    );
    eprintln!(
        "\n*** SKIPPED {test}: no {} or {} (install the chromium and chromium-driver \
         packages, or set SIEM_TEST_CHROMIUM and SIEM_TEST_CHROMEDRIVER) ***\n",
        chromium.display(),
        driver.display()
    );
    None
}

/// chromedriver on a free loopback port; killed when dropped.
struct Driver {
    url: String,
    _child: tokio::process::Child,
}

async fn start_driver(path: &Path) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(response) = http.get(format!("{url}/status")).send().await {
            let status: Value = response.json().await.unwrap_or_default();
            if status["value"]["ready"] == true {
                break;
            }
        }
        assert!(
            start.elapsed() < WAIT,
            "chromedriver did not answer on {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { url, _child: child }
}

async fn open_browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let capabilities = json!({
        "browserName": "chrome",
        // An alert left open stays open, so the checks below can see it.
        "unhandledPromptBehavior": "ignore",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,1100",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap()
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("browser-screenshots");
    // Only this run's steps, so an old run's pictures are not mistaken for these.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The browser on the page, with the steps' screenshots.
struct Page {
    client: Client,
    shots: PathBuf,
    step: u32,
}

impl Page {
    async fn shot(&mut self, name: &str) {
        self.step += 1;
        let png = self.client.screenshot().await.unwrap();
        let path = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client.find(Locator::Css(css)).await.unwrap()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap()
    }

    /// Waits until `script` returns a truthy value and returns it; on timeout, a
    /// screenshot and a failure saying what was expected.
    async fn until(&mut self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let start = Instant::now();
        loop {
            let value = self.js(script, args.clone()).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!("")
                && value != json!(0);
            if truthy {
                return value;
            }
            if start.elapsed() > WAIT {
                self.shot("timed-out").await;
                panic!("{what}: not seen within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of element `id` once it has some.
    async fn text_of(&mut self, what: &str, id: &str) -> String {
        let script = "const e = document.getElementById(arguments[0]); \
                      return e && !e.hidden && e.textContent.trim();";
        match self.until(what, script, vec![json!(id)]).await {
            Value::String(s) => s,
            other => panic!("{what}: {other}"),
        }
    }

    /// The SIEM's verdict on a test event, once the page has it.
    async fn verdict(&mut self, what: &str) -> String {
        let script = "const v = document.getElementById('verdict'); \
                      return v.classList.contains('verdict') && v.textContent;";
        match self.until(what, script, vec![]).await {
            Value::String(s) => s,
            other => panic!("{what}: {other}"),
        }
    }

    /// The ids of the fields the form shows for the chosen platform.
    async fn platform_fields(&self) -> Value {
        self.js(
            "return [...document.querySelectorAll('#platform-fields input, \
             #platform-fields select, #platform-fields textarea')].map(e => e.id);",
            vec![],
        )
        .await
    }

    /// No alert is open and no element was made from organization text.
    async fn assert_nothing_injected(&self) {
        assert!(
            self.client.get_alert_text().await.is_err(),
            "an alert opened"
        );
        let injected = self
            .js(
                "return document.querySelectorAll('main img, main script').length;",
                vec![],
            )
            .await;
        assert_eq!(injected, json!(0), "elements were injected");
    }

    async fn sign_in(&self, org: &str, token: &str) {
        self.type_into("#sign-in-org", org).await;
        self.type_into("#sign-in-token", token).await;
        self.click("#sign-in-form button[type=submit]").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_a_splunk_connector_in_the_browser() {
    let test = "an_admin_sets_up_a_splunk_connector_in_the_browser";
    let Some((chromium, driver_path)) = browser(test) else {
        return;
    };
    let dir = data_dir("browser");
    let server = Server::start(config(&dir)).await.unwrap();
    let emulator = splunk_emulator().await;
    let driver = start_driver(&driver_path).await;
    let profile = dir.join("chromium-profile");
    let client = open_browser(&driver, &chromium, &profile).await;
    let page = Page {
        client: client.clone(),
        shots: screenshot_dir(),
        step: 0,
    };
    // The steps run in a task so that the browser is closed even when one fails.
    let outcome = tokio::spawn(steps(page, Api::new(&server), emulator)).await;
    let _ = client.close().await;
    drop(driver);
    server.shutdown().await;
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn steps(mut page: Page, api: Api, emulator: siem_testkit::SplunkEmulator) {
    let org = "org_acme";
    let admin = api.token(org, "admin").await;
    let other_admin = api.token("org_other", "admin").await;

    // Sign in by keyboard alone: the page focuses the organization field.
    page.client.goto(&api.base).await.unwrap();
    page.until(
        "the page to start",
        "return document.body.dataset.ready;",
        vec![],
    )
    .await;
    page.shot("sign-in").await;
    let focused = page.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("sign-in-org")
    );
    let tab = char::from(Key::Tab).to_string();
    let enter = char::from(Key::Enter).to_string();
    focused
        .send_keys(&format!("{org}{tab}{admin}{enter}"))
        .await
        .unwrap();
    let empty = page.text_of("the empty list", "list-empty").await;
    assert!(empty.starts_with("No connectors yet"), "{empty}");
    assert_eq!(page.text("#who-org").await, org);
    page.shot("signed-in-empty").await;

    // Add: each platform shows exactly its fields, every one labelled.
    page.click("#add").await;
    let platform = page.find("#f-platform").await;
    for (id, fields) in [
        (
            "datadog",
            json!([
                "f-site",
                "f-token",
                "f-env",
                "f-hostname",
                "f-tags",
                "f-ca_pem"
            ]),
        ),
        (
            "sentinel",
            json!([
                "f-endpoint",
                "f-dcr_immutable_id",
                "f-stream",
                "f-tenant_id",
                "f-client_id",
                "f-client_secret",
                "f-ca_pem"
            ]),
        ),
        (
            "splunk",
            json!([
                "f-endpoint",
                "f-token",
                "f-index",
                "f-sourcetype",
                "f-ca_pem"
            ]),
        ),
    ] {
        platform.select_by_value(id).await.unwrap();
        assert_eq!(page.platform_fields().await, fields, "{id}");
        let unlabelled = page
            .js(
                "return [...document.querySelectorAll('main input, main select, main textarea')]\
                 .filter(e => !e.hidden && e.labels.length === 0).map(e => e.id);",
                vec![],
            )
            .await;
        assert_eq!(unlabelled, json!([]), "{id}: inputs without a label");
        if id == "datadog" {
            let sites = page
                .js(
                    "return [...document.getElementById('f-site').options].map(o => o.value);",
                    vec![],
                )
                .await;
            assert_eq!(sites[0], "datadoghq.com");
            assert!(sites.as_array().unwrap().contains(&json!("datadoghq.eu")));
            page.shot("datadog-fields").await;
        }
    }

    // An http:// endpoint: the server's words, next to the endpoint field.
    page.type_into("#f-name", "splunk-prod").await;
    page.type_into("#f-endpoint", "http://splunk.example.com:8088")
        .await;
    page.type_into("#f-token", HEC_TOKEN).await;
    page.js(
        // Pasted, as an admin would paste a certificate.
        "document.getElementById('f-ca_pem').value = arguments[0];",
        vec![json!(emulator.ca_pem())],
    )
    .await;
    page.click("#send-test").await;
    let message = page.text_of("the endpoint's message", "err-endpoint").await;
    assert!(message.contains("https://"), "{message}");
    let beside = page
        .js(
            "const f = document.getElementById('f-endpoint'); \
             return f.closest('.field').contains(document.getElementById('err-endpoint')) \
                 && f.getAttribute('aria-invalid') === 'true' \
                 && f.getAttribute('aria-describedby').includes('err-endpoint') \
                 && document.activeElement === f;",
            vec![],
        )
        .await;
    assert_eq!(beside, json!(true), "the message is not tied to the field");
    page.shot("http-endpoint-refused").await;

    // A wrong token: the SIEM's verdict, inline.
    page.type_into("#f-endpoint", emulator.endpoint().as_str())
        .await;
    page.type_into("#f-token", "not-the-hec-token").await;
    page.click("#send-test").await;
    let verdict = page.verdict("the wrong token's verdict").await;
    assert!(verdict.starts_with("Not delivered"), "{verdict}");
    assert!(
        verdict.contains("403") && verdict.contains("HEC token"),
        "{verdict}"
    );
    assert_eq!(page.text("#err-endpoint").await, "");
    page.shot("wrong-token").await;
    assert!(emulator.received().is_empty());

    // The right token: delivered, and the emulator has the test event.
    page.type_into("#f-token", HEC_TOKEN).await;
    page.click("#send-test").await;
    let verdict = page.verdict("the delivered verdict").await;
    assert!(verdict.starts_with("Delivered"), "{verdict}");
    assert!(verdict.contains("HTTP 200"), "{verdict}");
    let received = emulator.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].event_type, "siem.test");
    page.shot("test-event-delivered").await;

    // Save: listed; events flow and the list, refreshing by itself, says so.
    page.click("#save").await;
    let row = "return [...document.querySelectorAll('#list-body tr')]\
               .find(tr => tr.dataset.name === arguments[0])?.innerText;";
    let listed = page
        .until("the saved connector", row, vec![json!("splunk-prod")])
        .await;
    assert!(listed.as_str().unwrap().contains("all (*)"), "{listed}");
    let ingest = api.token(org, "ingest").await;
    let (status, _) = api.post_events(&ingest, events(org, 1, 0..3)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let health = "const tr = [...document.querySelectorAll('#list-body tr')]\
                  .find(tr => tr.dataset.name === arguments[0]); \
                  const cell = (k) => tr.querySelector(`[data-cell=${k}]`).textContent; \
                  return tr && cell('health') === 'Events flowing' && cell('delivered') === '3' \
                      && cell('success') !== 'never' && cell('failed') === '0' && cell('error');";
    let error = page
        .until("events flowing", health, vec![json!("splunk-prod")])
        .await;
    assert_eq!(error, "none");
    page.shot("saved-and-flowing").await;
    assert_eq!(emulator.received().len(), 4);

    // Edit: the token is never shown back; saved blank, it is kept.
    page.click(r#"button[aria-label="Edit splunk-prod"]"#).await;
    page.until(
        "the edit form",
        "return document.getElementById('editor-title').textContent === arguments[0];",
        vec![json!("Edit the connector splunk-prod")],
    )
    .await;
    let token = page.find("#f-token").await;
    assert_eq!(token.prop("value").await.unwrap().as_deref(), Some(""));
    let placeholder = token.attr("placeholder").await.unwrap().unwrap();
    assert!(placeholder.contains("leave blank to keep"), "{placeholder}");
    assert!(!page.client.source().await.unwrap().contains(HEC_TOKEN));
    page.type_into("#f-sourcetype", "aisg:edited").await;
    // A test with the token left blank uses the saved one.
    page.click("#send-test").await;
    let verdict = page.verdict("the verdict with the saved token").await;
    assert!(verdict.starts_with("Delivered"), "{verdict}");
    page.shot("edit-token-not-shown").await;
    page.click("#save").await;
    page.until("the list after saving", row, vec![json!("splunk-prod")])
        .await;
    let path = format!("/api/v1/orgs/{org}/connectors/splunk-prod");
    let (_, saved) = api.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(saved["sourcetype"], "aisg:edited");
    assert_eq!(saved["secret_fields"], json!(["token"]));
    let (_, verdict) = api
        .call(Method::POST, &format!("{path}/test"), Some(&admin), None)
        .await;
    assert_eq!(verdict["delivered"], true, "the kept token: {verdict}");

    // A hostile name: shown as text in the list and the delete confirmation.
    let mut hostile = splunk_body(HOSTILE_NAME, &emulator);
    hostile["sourcetype"] = json!("<img src=x onerror=alert(3)>");
    let (status, body) = api
        .call(
            Method::POST,
            &format!("/api/v1/orgs/{org}/connectors"),
            Some(&admin),
            Some(&hostile),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let name_cell = "return [...document.querySelectorAll('#list-body th')]\
                     .some(th => th.textContent === arguments[0]);";
    page.until(
        "the hostile name as text",
        name_cell,
        vec![json!(HOSTILE_NAME)],
    )
    .await;
    page.assert_nothing_injected().await;
    page.shot("hostile-name-as-text").await;
    // Its settings are shown as values in the form, not as markup.
    page.click(&format!(r#"button[aria-label="Edit {HOSTILE_NAME}"]"#))
        .await;
    page.until(
        "the hostile connector's form",
        "return document.getElementById('f-sourcetype')?.value === arguments[0] \
             && document.getElementById('f-name').value === arguments[1];",
        vec![json!("<img src=x onerror=alert(3)>"), json!(HOSTILE_NAME)],
    )
    .await;
    let title = page.text("#editor-title").await;
    assert_eq!(title, format!("Edit the connector {HOSTILE_NAME}"));
    page.assert_nothing_injected().await;
    page.shot("hostile-settings-as-values").await;
    page.click("#cancel").await;
    // The list's own test button, for a saved connector.
    page.click(r#"button[aria-label="Send a test event with splunk-prod"]"#)
        .await;
    page.until(
        "the saved connector's verdict",
        "return document.getElementById('row-verdict').classList.contains('ok') \
             && document.getElementById('row-verdict').textContent;",
        vec![],
    )
    .await;
    page.click(&format!(r#"button[aria-label="Delete {HOSTILE_NAME}"]"#))
        .await;
    let confirm = page
        .text_of("the confirmation", "confirm-delete-text")
        .await;
    assert!(confirm.contains(HOSTILE_NAME), "{confirm}");
    let focused = page.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("confirm-delete-no"),
        "the safe choice has the focus"
    );
    page.assert_nothing_injected().await;
    page.shot("delete-confirmation").await;
    page.click("#confirm-delete-yes").await;
    page.until(
        "the hostile connector gone",
        "return ![...document.querySelectorAll('#list-body th')]\
         .some(th => th.textContent === arguments[0]);",
        vec![json!(HOSTILE_NAME)],
    )
    .await;
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/api/v1/orgs/{org}/connectors/{}", urlencode(HOSTILE_NAME)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Another organization's admin: not with this org's id, and sees none of its connectors.
    page.click("#sign-out").await;
    page.sign_in(org, &other_admin).await;
    let refused = page.text_of("the refusal", "sign-in-error").await;
    assert!(
        refused.contains("not an admin token of that organization"),
        "{refused}"
    );
    page.shot("other-org-token-refused").await;
    page.sign_in("org_other", &other_admin).await;
    page.text_of("the other org's empty list", "list-empty")
        .await;
    assert_eq!(page.text("#who-org").await, "org_other");
    let rows = page
        .js(
            "return document.querySelectorAll('#list-body tr').length;",
            vec![],
        )
        .await;
    assert_eq!(rows, json!(0));
    assert!(!page.client.source().await.unwrap().contains("splunk-prod"));
    page.shot("other-org-sees-nothing").await;
}

/// A path segment, percent-encoded.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
