//! `siem validate`: check a configuration the way `forward` starts with it, without
//! sending anything.
//!
//! Every sink is built as `forward` builds it (its HTTP client with the extra CA parsed,
//! its delivery policies, its credential references), only with placeholders for the
//! credentials unless `--resolve` fetches them: "valid" means `forward` will start.

use std::path::Path;

use siem_secrets::SecretResolver;

use crate::config::{self, Config, ConfigErrors, Credentials, Loaded};
use crate::output;
use crate::EXIT_CONFIG;

/// Runs `siem validate`; the exit code.
pub async fn run(config_path: &Path, resolve: bool, json: bool) -> u8 {
    let result = check(config_path, resolve).await;
    if json {
        output::print_json(&serde_json::json!({
            "file": config_path.display().to_string(),
            "valid": result.is_ok(),
            "secrets_resolved": resolve && result.is_ok(),
            "sinks": result.as_ref().map(sinks_json).unwrap_or_default(),
            "errors": result
                .as_ref()
                .err()
                .map(|e| e.0.iter().map(config::ConfigError::to_json).collect::<Vec<_>>())
                .unwrap_or_default(),
        }));
    }
    match result {
        Ok(config) => {
            if !json {
                eprint!("{}", sinks_table(&config));
                eprintln!(
                    "{}: valid{}",
                    config_path.display(),
                    if resolve {
                        ", every secret resolved"
                    } else {
                        " (secrets not fetched; --resolve fetches them)"
                    }
                );
            }
            0
        }
        Err(errors) => {
            if !json {
                crate::output::print_config_errors(&errors, "siem validate");
            }
            EXIT_CONFIG
        }
    }
}

/// Loads the configuration and builds every sink as `forward` would; reports every bad
/// sink, in the order of the file.
async fn check(config_path: &Path, resolve: bool) -> Result<Config, ConfigErrors> {
    let Loaded { config, mut errors } = Config::load_all(config_path)?;
    let built = if resolve {
        let resolver = SecretResolver::builder().build();
        // Fetches every secret at once; a failure is reported below, by sink and field.
        let _ = resolver.prefetch(config.secret_refs()).await;
        config::build_orgs(&config, Credentials::Fetch(&resolver)).await
    } else {
        config::build_orgs(&config, Credentials::Placeholders).await
    };
    if let Err(ConfigErrors(more)) = built {
        errors.extend(more);
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        errors.sort_by_key(|e| e.position.map(|p| (p.line, p.column)));
        Err(ConfigErrors(errors))
    }
}

fn credentials(sink: &config::SinkSection) -> Vec<String> {
    sink.token
        .iter()
        .chain(sink.client_secret.iter())
        .map(ToString::to_string)
        .collect()
}

fn sinks_table(config: &Config) -> String {
    let rows: Vec<Vec<String>> = config
        .sinks_matching(None, None)
        .map(|(o, s)| {
            vec![
                o.id.clone(),
                s.name.clone(),
                s.platform.platform().to_string(),
                s.events.names().join(","),
                credentials(s).join(", "),
            ]
        })
        .collect();
    output::table(&["org", "sink", "platform", "events", "credentials"], &rows)
}

fn sinks_json(config: &Config) -> Vec<serde_json::Value> {
    config
        .sinks_matching(None, None)
        .map(|(o, s)| {
            serde_json::json!({
                "org": o.id,
                "sink": s.name,
                "platform": s.platform.platform().as_str(),
                "events": s.events.names(),
                // References only (`env:VAR`), never values.
                "credentials": credentials(s),
            })
        })
        .collect()
}
