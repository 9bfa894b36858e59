//! `siem validate`: check a configuration, optionally fetching every secret.

use std::path::Path;

use siem_secrets::SecretResolver;

use crate::config::{self, Config};
use crate::output;
use crate::EXIT_CONFIG;

pub async fn run(config_path: &Path, resolve: bool) -> u8 {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("siem validate: {e}");
            return EXIT_CONFIG;
        }
    };
    if resolve {
        let resolver = SecretResolver::builder().build();
        if let Err(e) = resolver.prefetch(config.secret_refs()).await {
            eprintln!("siem validate: {e}");
            return EXIT_CONFIG;
        }
        if let Err(e) = config::build_orgs(&config, &resolver).await {
            eprintln!("siem validate: {e}");
            return EXIT_CONFIG;
        }
    }
    let rows: Vec<Vec<String>> = config
        .orgs
        .iter()
        .flat_map(|o| {
            o.sinks.iter().map(move |s| {
                vec![
                    o.id.clone(),
                    s.name.clone(),
                    s.platform.platform().to_string(),
                    s.events.names().join(","),
                    s.token
                        .iter()
                        .chain(s.client_secret.iter())
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
        })
        .collect();
    eprint!(
        "{}",
        output::table(&["org", "sink", "platform", "events", "credentials"], &rows)
    );
    eprintln!(
        "{}: valid{}",
        config_path.display(),
        if resolve {
            ", every secret resolved"
        } else {
            ""
        }
    );
    0
}
