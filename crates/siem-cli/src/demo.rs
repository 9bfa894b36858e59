//! `siem demo`: the whole path on one machine. Starts local emulators of Splunk HEC,
//! Datadog and Sentinel (+ Entra ID) with a throwaway CA, builds the real dispatcher and
//! adapters from a generated configuration (the same loader as `--config` files), streams
//! the fixture events (and `--events N` generated ones), and shows what each platform
//! received and the delivery counters.

use std::path::Path;
use std::time::{Duration, Instant};

use siem_core::SecurityEvent;
use siem_dispatch::Dispatcher;
use siem_secrets::SecretResolver;
use siem_testkit::{compare_events, Emulators, EmulatorsConfig, ReceivedEvent};

use crate::config::{self, Config};
use crate::output;
use crate::EXIT_FAILURES;

/// The canonical events of every gateway event type (`fixtures/events/`).
pub const FIXTURE_EVENTS: [&str; 5] = [
    include_str!("../../../fixtures/events/dlp.pii_blocked.json"),
    include_str!("../../../fixtures/events/dlp.injection_blocked.json"),
    include_str!("../../../fixtures/events/dlp.pii_redacted.json"),
    include_str!("../../../fixtures/events/budget.exhausted.json"),
    include_str!("../../../fixtures/events/loop.detected.json"),
];

/// How long the demo waits for delivery at the end.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(extra_events: usize, json: bool) -> u8 {
    match demo(extra_events, json).await {
        Ok(true) => 0,
        Ok(false) => EXIT_FAILURES,
        Err(e) => {
            eprintln!("siem demo: {e}");
            EXIT_FAILURES
        }
    }
}

async fn demo(extra_events: usize, json: bool) -> Result<bool, String> {
    let started = Instant::now();
    let emulators = Emulators::start(EmulatorsConfig::default())
        .await
        .map_err(|e| format!("cannot start the emulators: {e}"))?;
    let toml = demo_config(&emulators);
    let config =
        Config::parse(&toml, Path::new("<demo configuration>")).map_err(|e| e.to_string())?;
    // The demo's credentials are the emulators' own throwaway values.
    let resolver = SecretResolver::builder().allow_static(true).build();
    let orgs = config::build_orgs(&config, config::Credentials::Fetch(&resolver))
        .await
        .map_err(|e| e.to_string())?;
    let dispatcher = Dispatcher::start(orgs).map_err(|e| e.to_string())?;

    let events = demo_events(extra_events)?;
    for event in &events {
        dispatcher.emit(event.clone());
    }
    let report = dispatcher.shutdown(FLUSH_TIMEOUT).await;
    let elapsed = started.elapsed();

    let platforms: [(&str, Vec<ReceivedEvent>); 3] = [
        ("splunk", emulators.splunk.received()),
        ("datadog", emulators.datadog.received()),
        ("sentinel", emulators.sentinel.received()),
    ];
    let mut ok = report.complete && output::all_delivered(&report.stats);
    let mut rows = Vec::new();
    let mut per_platform = Vec::new();
    for (platform, received) in &platforms {
        let check = compare_events(received, &events);
        ok &= check.is_ok();
        let mut types: Vec<&str> = received.iter().map(|r| r.event_type.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        rows.push(vec![
            (*platform).to_owned(),
            format!("{}/{}", received.len(), events.len()),
            match &check {
                Ok(()) => "all fields match".to_owned(),
                Err(m) => format!(
                    "MISMATCH: {}",
                    m.to_string().lines().next().unwrap_or_default()
                ),
            },
            types.join(", "),
        ]);
        per_platform.push(serde_json::json!({
            "platform": platform,
            "received": received.len(),
            "expected": events.len(),
            "matches": check.is_ok(),
            "mismatch": check.err().map(|m| m.to_string()),
        }));
    }
    if json {
        output::print_json(&serde_json::json!({
            "ok": ok,
            "events": events.len(),
            "elapsed_ms": elapsed.as_millis() as u64,
            "platforms": per_platform,
            "stats": report.stats,
        }));
    } else {
        eprintln!(
            "siem demo: {} events streamed to local Splunk HEC, Datadog and Sentinel emulators over TLS (CA {})\n",
            events.len(),
            emulators.ca_file().display()
        );
        eprint!(
            "{}",
            output::table(&["platform", "received", "check", "event types"], &rows)
        );
        eprintln!();
        eprint!("{}", output::stats_table(&report.stats));
        if let Some(sample) = platforms[0].1.first() {
            eprintln!(
                "\nSplunk received, e.g.: {} {} severity={} org={} project={}",
                sample.timestamp,
                sample.event_type,
                sample.severity,
                sample.org_id,
                sample.project_id
            );
        }
        eprintln!(
            "\n{} in {:.2} s",
            if ok {
                "all events delivered to all three platforms"
            } else {
                "NOT everything was delivered"
            },
            elapsed.as_secs_f64()
        );
    }
    Ok(ok)
}

/// The fixture events, plus `extra` generated copies with fresh ids.
fn demo_events(extra: usize) -> Result<Vec<SecurityEvent>, String> {
    let mut events = Vec::with_capacity(FIXTURE_EVENTS.len() + extra);
    let mut templates = Vec::new();
    for text in FIXTURE_EVENTS {
        let event = SecurityEvent::from_json(text).map_err(|e| format!("fixture event: {e}"))?;
        templates.push(serde_json::from_str::<serde_json::Value>(text).map_err(|e| e.to_string())?);
        events.push(event);
    }
    for i in 0..extra {
        let mut value = templates[i % templates.len()].clone();
        if let Some(object) = value.as_object_mut() {
            object.remove("event_id");
            object.remove("timestamp");
            object.insert("request_id".into(), format!("req_demo_{i}").into());
        }
        events.push(SecurityEvent::from_json(&value.to_string()).map_err(|e| e.to_string())?);
    }
    Ok(events)
}

/// A configuration with one sink per platform for each fixture organization, pointing at
/// the emulators and trusting their CA.
fn demo_config(emulators: &Emulators) -> String {
    let secret = |value: &str| format!("{{ static = \"{value}\" }}");
    let entra = emulators.sentinel.entra().config();
    let sinks = [
        (
            "splunk",
            secret(emulators.splunk.token()),
            "index = \"main\"\n",
        ),
        (
            "datadog",
            secret(emulators.datadog.api_key()),
            "env = \"demo\"\nhostname = \"aisg-demo\"\n",
        ),
        ("sentinel", secret(&entra.client_secret), ""),
    ];
    let mut toml = String::new();
    for org in ["org_acme", "org_globex"] {
        toml.push_str(&format!("\n[[org]]\nid = \"{org}\"\n"));
        for (platform, credential, keys) in &sinks {
            let extra = format!("{keys}events = [\"*\"]\nlinger_ms = 50");
            toml.push_str(&emulators.sink_table(platform, platform, credential, &extra));
        }
    }
    toml
}
