//! The connectors page: a static HTML page, one plain JavaScript file and one style sheet,
//! compiled into the binary and served at `/`, on the admin API.
//!
//! No template engine and no build step: the page holds no organization data when it is
//! served (everything an organization entered arrives later as JSON and is put in the page
//! as text by the script), so there is nothing to escape on the server. What the form
//! offers per platform (its fields, the Datadog sites, the event types) is served as
//! `/assets/catalog.json`, built from the adapters' own constants, so a new site or event
//! type shows up without touching the page.
//!
//! Every answer carries a strict Content-Security-Policy (`default-src 'self'`: no inline
//! script or style, nothing from elsewhere, no framing).

use std::sync::LazyLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use siem_core::EventType;

/// The Content-Security-Policy of the page and its assets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'; object-src 'none'";

const INDEX_HTML: &str = include_str!("../assets/index.html");
const PAGE_JS: &str = include_str!("../assets/page.js");
const PAGE_CSS: &str = include_str!("../assets/page.css");

/// The page's routes; no state, so they merge into the API's router.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/assets/page.js",
            get(|| async { asset("text/javascript; charset=utf-8", PAGE_JS) }),
        )
        .route(
            "/assets/page.css",
            get(|| async { asset("text/css; charset=utf-8", PAGE_CSS) }),
        )
        .route(
            "/assets/catalog.json",
            get(|| async { asset("application/json", CATALOG.as_str()) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // For browsers older than `frame-ancestors`.
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Revalidated on each load, so an upgraded binary's page and script match.
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// What the form offers, as JSON.
static CATALOG: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string(&catalog()).expect("the catalog is plain data"));

#[derive(Debug, Serialize)]
struct Catalog {
    platforms: Vec<PlatformForm>,
    /// The event types a connector can subscribe to (besides `*`).
    event_types: Vec<String>,
    /// The write-only fields: never answered, blank means "keep".
    secret_fields: [&'static str; 2],
}

#[derive(Debug, Serialize)]
struct PlatformForm {
    id: &'static str,
    /// The platform's name in the list of connectors.
    name: &'static str,
    /// Its name in the form's dropdown.
    label: &'static str,
    fields: Vec<FormField>,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Text,
    Url,
    Secret,
    Select,
    /// A comma-separated list in the form, an array in the body.
    List,
    /// PEM text (a text area).
    Pem,
}

#[derive(Debug, Serialize)]
struct FormField {
    /// The key of the connector body (a `[[org.sink]]` key).
    key: &'static str,
    label: &'static str,
    kind: Kind,
    required: bool,
    /// A valid value, shown as the placeholder (the unit test below saves them).
    example: &'static str,
    /// A sentence under the field, when the label is not enough.
    help: &'static str,
    /// The choices of a `select`.
    options: &'static [&'static str],
}

impl FormField {
    const fn new(key: &'static str, label: &'static str, kind: Kind) -> Self {
        Self {
            key,
            label,
            kind,
            required: false,
            example: "",
            help: "",
            options: &[],
        }
    }

    const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    const fn example(mut self, example: &'static str) -> Self {
        self.example = example;
        self
    }

    const fn help(mut self, help: &'static str) -> Self {
        self.help = help;
        self
    }
}

fn ca_pem() -> FormField {
    FormField::new("ca_pem", "Extra CA certificate (PEM)", Kind::Pem)
        .help("Optional: only for a SIEM whose TLS certificate is signed by an internal CA.")
}

fn catalog() -> Catalog {
    let splunk = vec![
        FormField::new("endpoint", "HEC endpoint", Kind::Url)
            .required()
            .example("https://splunk.example.com:8088")
            .help("The HTTP Event Collector's base URL; https:// only."),
        FormField::new("token", "HEC token", Kind::Secret).required(),
        FormField::new("index", "Index", Kind::Text)
            .example("main")
            .help("Leave blank for the token's default index."),
        FormField::new("sourcetype", "Sourcetype", Kind::Text)
            .example(siem_splunk::config::DEFAULT_SOURCETYPE),
        ca_pem(),
    ];
    let datadog = vec![
        FormField {
            options: siem_datadog::config::SITES,
            ..FormField::new("site", "Site", Kind::Select)
                .required()
                .example(siem_datadog::config::DEFAULT_SITE)
                .help("The site of your Datadog account, as in its URL.")
        },
        FormField::new("token", "API key", Kind::Secret).required(),
        FormField::new("env", "Environment (env tag)", Kind::Text).example("production"),
        FormField::new("hostname", "Hostname", Kind::Text).example("ai-gateway"),
        FormField::new("tags", "Tags", Kind::List)
            .example("team:security, service:ai-gateway")
            .help("Comma-separated, key:value or plain."),
        ca_pem(),
    ];
    let sentinel = vec![
        FormField::new("endpoint", "Data collection endpoint (DCE) URL", Kind::Url)
            .required()
            .example("https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com"),
        FormField::new("dcr_immutable_id", "DCR immutable id", Kind::Text)
            .required()
            .example("dcr-00112233445566778899aabbccddeeff"),
        FormField::new("stream", "Stream", Kind::Text)
            .example(siem_sentinel::config::DEFAULT_STREAM)
            .help("The stream declared in the data collection rule."),
        FormField::new("tenant_id", "Tenant id", Kind::Text)
            .required()
            .example("contoso.onmicrosoft.com"),
        FormField::new("client_id", "Client id", Kind::Text)
            .required()
            .example("11111111-2222-3333-4444-555555555555"),
        FormField::new("client_secret", "Client secret", Kind::Secret).required(),
        ca_pem(),
    ];
    Catalog {
        platforms: vec![
            PlatformForm {
                id: "splunk",
                name: "Splunk",
                label: "Splunk (HTTP Event Collector)",
                fields: splunk,
            },
            PlatformForm {
                id: "datadog",
                name: "Datadog",
                label: "Datadog (Logs)",
                fields: datadog,
            },
            PlatformForm {
                id: "sentinel",
                name: "Microsoft Sentinel",
                label: "Microsoft Sentinel",
                fields: sentinel,
            },
        ],
        // `siem.test` is left out: test events go straight to the SIEM, whatever the
        // connector subscribes to.
        event_types: EventType::KNOWN
            .iter()
            .filter(|t| **t != EventType::SiemTest)
            .map(|t| t.as_str().to_owned())
            .collect(),
        secret_fields: crate::connectors::SECRET_FIELDS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    /// The body the page would send with every field at its example value.
    fn filled(platform: &PlatformForm) -> Value {
        let mut body = Map::new();
        body.insert("name".into(), json!("from-the-form"));
        body.insert("platform".into(), json!(platform.id));
        body.insert("events".into(), json!(["*"]));
        for field in &platform.fields {
            let value = match field.kind {
                Kind::Secret => json!("a-secret-value"),
                // A PEM is checked by parsing it; the browser test gives a real one.
                Kind::Pem => continue,
                Kind::List => json!(field.example.split(", ").collect::<Vec<_>>()),
                _ => json!(field.example),
            };
            body.insert(field.key.into(), value);
        }
        Value::Object(body)
    }

    #[test]
    fn every_field_of_the_form_is_a_key_the_platform_accepts() {
        let catalog = catalog();
        for platform in &catalog.platforms {
            let input = crate::connectors::read_body(filled(platform), None).unwrap();
            let secrets: Vec<String> = input.secrets.keys().cloned().collect();
            let checked = crate::connectors::check(
                &input.options,
                &secrets,
                "aisg/siem/o/c",
                std::path::Path::new("."),
            );
            assert!(checked.is_ok(), "{}: {checked:?}", platform.id);
            for field in &platform.fields {
                assert!(
                    field.kind != Kind::Select || field.options.contains(&field.example),
                    "{}: the example is one of the options",
                    field.key
                );
            }
        }
    }

    #[test]
    fn every_datadog_site_is_accepted() {
        for site in siem_datadog::config::SITES {
            let body = json!({
                "name": "dd", "platform": "datadog", "events": ["*"],
                "site": site, "token": "k",
            });
            let input = crate::connectors::read_body(body, None).unwrap();
            let checked =
                crate::connectors::check(&input.options, &["token".into()], "n", ".".as_ref());
            assert!(checked.is_ok(), "{site}: {checked:?}");
        }
    }

    #[test]
    fn the_event_types_are_the_known_ones_a_connector_can_choose() {
        let catalog = catalog();
        assert_eq!(catalog.event_types.len(), EventType::KNOWN.len() - 1);
        assert!(catalog.event_types.iter().any(|t| t == "dlp.pii_blocked"));
        assert!(!catalog.event_types.iter().any(|t| t == "siem.test"));
        siem_core::EventFilter::parse(&catalog.event_types).unwrap();
    }
}
