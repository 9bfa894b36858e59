//! `siem render`: the exact request bodies a sink would send, without sending anything.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use siem_core::{Secret, SiemSink};
use siem_secrets::SecretResolver;

use crate::config::{self, Config, Platform};
use crate::events;
use crate::{EXIT_CONFIG, EXIT_FAILURES};

pub async fn run(
    platform: Option<Platform>,
    config_file: Option<PathBuf>,
    org: Option<String>,
    sink_name: Option<String>,
    file: Option<PathBuf>,
) -> u8 {
    let text = match read_input(file.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("siem render: {e}");
            return EXIT_CONFIG;
        }
    };
    let (events, errors) = events::parse_all(&text);
    for e in &errors {
        eprintln!("siem render: {e}");
    }
    let sink = match (platform, config_file, sink_name) {
        (Some(p), _, _) => default_sink(p).await,
        (None, Some(path), Some(name)) => sink_from_config(&path, org.as_deref(), &name).await,
        _ => Err("give --platform, or --config with --sink".to_owned()),
    };
    let sink = match sink {
        Ok(s) => s,
        Err(e) => {
            eprintln!("siem render: {e}");
            return EXIT_CONFIG;
        }
    };
    let events: Vec<_> = events.into_iter().map(Arc::new).collect();
    let encoded = sink.encode(&events);
    for rejected in &encoded.rejected {
        eprintln!("siem render: {}", rejected.reason);
    }
    for request in &encoded.requests {
        let body = if request.gzip {
            let mut out = Vec::new();
            match flate2::read::GzDecoder::new(&request.body[..]).read_to_end(&mut out) {
                Ok(_) => out,
                Err(e) => {
                    eprintln!("siem render: cannot decompress a body: {e}");
                    return EXIT_FAILURES;
                }
            }
        } else {
            request.body.to_vec()
        };
        println!("{}", String::from_utf8_lossy(&body));
    }
    if errors.is_empty() && encoded.rejected.is_empty() {
        0
    } else {
        EXIT_FAILURES
    }
}

fn read_input(file: Option<&PathBuf>) -> Result<String, String> {
    match file {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(text)
        }
    }
}

/// A sink with the platform's default options; it never sends, so its endpoint and
/// credential are placeholders.
async fn default_sink(platform: Platform) -> Result<Arc<dyn SiemSink>, String> {
    let toml = match platform {
        Platform::Splunk => "endpoint = \"https://splunk.invalid:8088\"",
        Platform::Datadog => "site = \"datadoghq.com\"",
        Platform::Sentinel => {
            "dce = \"https://dce.invalid\"\ndcr_immutable_id = \"dcr-00000000000000000000000000000000\""
        }
    };
    let text = format!(
        "[[org]]\nid = \"render\"\n[[org.sink]]\nname = \"{platform}\"\nplatform = \"{platform}\"\nevents = [\"*\"]\ntoken = {{ static = \"unused\" }}\n{toml}\n"
    );
    let config =
        Config::parse(&text, std::path::Path::new("<defaults>")).map_err(|e| e.to_string())?;
    build_without_secrets(&config.orgs[0].id, &config.orgs[0].sinks[0]).await
}

async fn sink_from_config(
    path: &std::path::Path,
    org: Option<&str>,
    name: &str,
) -> Result<Arc<dyn SiemSink>, String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let (org, section) = config.find_sink(org, name)?;
    build_without_secrets(&org.id, section).await
}

/// Rendering needs no credential: every reference is replaced by a placeholder, so that
/// `render` works offline and never fetches a secret.
async fn build_without_secrets(
    org: &str,
    section: &config::SinkSection,
) -> Result<Arc<dyn SiemSink>, String> {
    let mut section = section.clone();
    let placeholder = siem_secrets::SecretRef::static_value(Secret::new("unused"));
    if section.token.is_some() {
        section.token = Some(placeholder.clone());
    }
    if section.client_secret.is_some() {
        section.client_secret = Some(placeholder);
    }
    let resolver = SecretResolver::builder().allow_static(true).build();
    config::build_sink(org, &section, &resolver)
        .await
        .map_err(|e| e.to_string())
}
