//! `siem send-test`: the "send test event" button, for every configured sink.

use std::path::Path;

use siem_dispatch::{Dispatcher, TestOutcome};
use siem_secrets::SecretResolver;

use crate::config::{self, Config, Credentials};
use crate::output;
use crate::{EXIT_CONFIG, EXIT_FAILURES};

pub async fn run(config_path: &Path, org: Option<&str>, sink: Option<&str>, json: bool) -> u8 {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            crate::output::print_config_errors(&e, "siem send-test");
            return EXIT_CONFIG;
        }
    };
    let targets: Vec<(String, String)> = config
        .sinks_matching(org, sink)
        .map(|(o, s)| (o.id.clone(), s.name.clone()))
        .collect();
    if targets.is_empty() {
        eprintln!(
            "siem send-test: no sink matches{}{} in {}",
            org.map(|o| format!(" --org {o}")).unwrap_or_default(),
            sink.map(|s| format!(" --sink {s}")).unwrap_or_default(),
            config_path.display()
        );
        return EXIT_CONFIG;
    }
    let resolver = SecretResolver::builder().build();
    let orgs = match config::build_orgs(&config, Credentials::Fetch(&resolver)).await {
        Ok(o) => o,
        Err(e) => {
            crate::output::print_config_errors(&e, "siem send-test");
            return EXIT_CONFIG;
        }
    };
    let dispatcher = match Dispatcher::start(orgs) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("siem send-test: {e}");
            return EXIT_CONFIG;
        }
    };
    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut causes = output::Causes::default();
    let mut all_ok = true;
    for (org_id, sink_name) in &targets {
        match dispatcher.send_test_event(org_id, sink_name).await {
            Ok(result) => {
                all_ok &= result.is_delivered();
                let mut cause = |what: &str, e: &dyn std::fmt::Display| {
                    let marker = causes.add(org_id, sink_name, result.platform, &e.to_string());
                    format!("{what} {marker}")
                };
                let outcome = match &result.outcome {
                    TestOutcome::Delivered { status } => format!("delivered (HTTP {status})"),
                    TestOutcome::Failed(e) => cause("FAILED", e),
                    TestOutcome::Rejected(e) => cause("REJECTED", e),
                };
                rows.push(vec![
                    org_id.clone(),
                    sink_name.clone(),
                    result.platform.to_owned(),
                    outcome,
                    format!("{:.0} ms", result.latency.as_secs_f64() * 1000.0),
                ]);
                let mut value = serde_json::to_value(&result).unwrap_or_default();
                let failure = match &result.outcome {
                    TestOutcome::Failed(e) => Some(e.to_string()),
                    TestOutcome::Rejected(e) => Some(e.to_string()),
                    TestOutcome::Delivered { .. } => None,
                };
                if let (Some(hint), Some(map)) = (
                    failure.and_then(|f| output::hint(result.platform, &f)),
                    value.as_object_mut(),
                ) {
                    map.insert("hint".to_owned(), hint.into());
                }
                results.push(value);
            }
            Err(e) => {
                all_ok = false;
                let marker = causes.add(org_id, sink_name, "", &e.to_string());
                rows.push(vec![
                    org_id.clone(),
                    sink_name.clone(),
                    String::new(),
                    format!("FAILED {marker}"),
                    String::new(),
                ]);
                results.push(serde_json::json!({"org_id": org_id, "sink": sink_name, "error": e.to_string()}));
            }
        }
    }
    let _ = dispatcher.shutdown(std::time::Duration::from_secs(1)).await;
    if json {
        output::print_json(&serde_json::json!({ "all_delivered": all_ok, "results": results }));
    } else {
        eprint!(
            "{}{}",
            output::table(&["org", "sink", "platform", "result", "latency"], &rows),
            causes.lines()
        );
    }
    if all_ok {
        0
    } else {
        EXIT_FAILURES
    }
}
