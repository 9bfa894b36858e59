//! `docs/configuration.md`, generated from the one table of keys
//! ([`siem_config::keys`]) by `siem config-reference`.

use std::fmt::Write as _;

use siem_config::keys::*;
use siem_config::Platform;

/// The configuration reference, `docs/configuration.md`.
pub fn reference() -> String {
    let mut out = String::new();
    out.push_str(
        "# Configuration reference\n\n\
         <!-- Generated from crates/siem-config/src/keys.rs by `siem config-reference`; \
         a test fails when this file is out of date. -->\n\n\
         The `siem` command (`send-test`, `forward`, `validate`, `render`) reads one TOML \
         file, given with `--config` or `SIEM_CONFIG`. `siem validate` checks it the way \
         `forward` would start with it; errors name the file, line and column, the org, the \
         sink and the key. An example with the commonly needed keys: \
         [`fixtures/config/siem.example.toml`](../fixtures/config/siem.example.toml).\n\n\
         Secrets are references, never values: `{ env = \"VAR\" }`, \
         `{ aws_secret = \"name-or-arn\" }` or `{ aws_secret = \"name-or-arn\", key = \"json-key\" }`. \
         Endpoints must be `https://`.\n",
    );
    let table = |out: &mut String,
                 title: &str,
                 intro: &str,
                 keys: Vec<&Key>,
                 platform: Option<Platform>| {
        let _ = write!(out, "\n## {title}\n\n");
        if !intro.is_empty() {
            let _ = write!(out, "{intro}\n\n");
        }
        let rows: Vec<Vec<String>> = keys
            .into_iter()
            .map(|k| {
                vec![
                    format!("`{}`", k.name),
                    k.ty.to_owned(),
                    k.required.unwrap_or("no").to_owned(),
                    if k.required == Some("yes") {
                        "—".to_owned()
                    } else {
                        default_of(k, platform)
                    },
                    k.about.to_owned(),
                ]
            })
            .collect();
        out.push_str(&crate::table::markdown(
            &["key", "type", "required", "default", "description"],
            &rows,
        ));
    };
    table(
        &mut out,
        "Top level",
        "",
        keys_of(Section::Top, None).collect(),
        None,
    );
    table(
        &mut out,
        "`[[org]]`",
        "",
        keys_of(Section::Org, None).collect(),
        None,
    );
    table(
        &mut out,
        "`[[org.sink]]`: every platform",
        "",
        keys_of(Section::Sink, None).collect(),
        None,
    );
    for p in Platform::ALL {
        let intro = match p {
            Platform::Splunk => "Splunk HTTP Event Collector, `platform = \"splunk\"`.".to_owned(),
            Platform::Datadog => format!(
                "Datadog Logs API v2, `platform = \"datadog\"`. Datadog sites: {}.",
                siem_datadog::config::SITES
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Platform::Sentinel => {
                "Microsoft Sentinel (Logs Ingestion API), `platform = \"sentinel\"`. \
                 With `tenant_id`, `client_id` and `client_secret` tokens come from Entra ID; \
                 otherwise give a static bearer `token`."
                    .to_owned()
            }
        };
        table(
            &mut out,
            &format!("`[[org.sink]]`: {p}"),
            &intro,
            keys_of(Section::Platform, Some(p)).collect(),
            Some(p),
        );
    }
    table(
        &mut out,
        "`[[org.sink]]`: delivery (every platform)",
        "Batching, retries, the circuit breaker, the buffer and the dead-letter file of one sink.",
        keys_of(Section::Delivery, None).collect(),
        None,
    );
    table(
        &mut out,
        "`buffer = { … }`",
        "",
        keys_of(Section::Buffer, None).collect(),
        None,
    );
    table(
        &mut out,
        "`timeouts = { … }`",
        "",
        keys_of(Section::Timeouts, None).collect(),
        None,
    );
    out
}
