//! `siem render`: the exact request bodies a sink would send, without sending anything.
//!
//! With `--config … --sink …` it renders what `forward` would send to that sink: only the
//! events of the sink's org that its `events` filter lets through (`--all` renders every
//! event). Bad input lines are reported by number and skipped, as `forward` does.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use siem_core::{SecurityEvent, SiemSink};

use crate::config::{self, Config, Credentials, Platform};
use crate::events;
use crate::{EXIT_CONFIG, EXIT_FAILURES};

/// Where the rendering sink's options come from.
#[derive(Debug)]
pub enum Source {
    /// A platform's defaults.
    Platform(Platform),
    /// A configured sink.
    Configured {
        config: PathBuf,
        org: Option<String>,
        sink: String,
        /// Render every event, not only those `forward` would send to the sink.
        all: bool,
    },
}

/// Runs `siem render`; the exit code.
pub async fn run(source: Source, file: Option<PathBuf>) -> u8 {
    let input = match read_input(file.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("siem render: {e}");
            return EXIT_CONFIG;
        }
    };
    let (sink, route) = match build(&source).await {
        Ok(built) => built,
        Err(e) => {
            eprintln!("siem render: {e}");
            return EXIT_CONFIG;
        }
    };
    let (events, errors) = events::parse_all(&input);
    for e in &errors {
        eprintln!("siem render: {e} (skipped)");
    }
    let total = events.len();
    let events: Vec<_> = events
        .into_iter()
        .filter(|e| route.as_ref().is_none_or(|r| r.takes(e)))
        .map(Arc::new)
        .collect();
    if let Some(route) = &route {
        if events.len() < total {
            eprintln!(
                "siem render: {} of {total} events are not for org \"{}\", sink \"{}\" (another org, \
                 or not in its `events` filter); --all renders them too",
                total - events.len(),
                route.org,
                sink.name()
            );
        }
    }
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

/// What `forward` routes to a sink: its org's events that its filter lets through.
#[derive(Debug)]
struct Route {
    org: String,
    filter: siem_core::EventFilter,
}

impl Route {
    fn takes(&self, event: &SecurityEvent) -> bool {
        event.org_id().as_str() == self.org && self.filter.matches(event.event_type())
    }
}

fn read_input(file: Option<&PathBuf>) -> Result<Vec<u8>, String> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        _ => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(input)
        }
    }
}

/// The sink, and the route that selects its events (none: every event).
async fn build(source: &Source) -> Result<(Arc<dyn SiemSink>, Option<Route>), String> {
    match source {
        Source::Platform(p) => Ok((default_sink(*p).await?, None)),
        Source::Configured {
            config,
            org,
            sink,
            all,
        } => {
            let config = Config::load(config).map_err(|e| e.to_string())?;
            let (org, section) = config.find_sink(org.as_deref(), sink)?;
            let route = (!all).then(|| Route {
                org: org.id.clone(),
                filter: section.events.clone(),
            });
            Ok((build_sink(section).await?, route))
        }
    }
}

/// A sink with the platform's default options; it never sends, so its endpoint is a
/// placeholder.
async fn default_sink(platform: Platform) -> Result<Arc<dyn SiemSink>, String> {
    let toml = match platform {
        Platform::Splunk => "endpoint = \"https://splunk.invalid:8088\"",
        Platform::Datadog => "site = \"datadoghq.com\"",
        Platform::Sentinel => {
            "dce = \"https://dce.invalid\"\ndcr_immutable_id = \"dcr-00000000000000000000000000000000\""
        }
    };
    let text = format!(
        "[[org]]\nid = \"render\"\n[[org.sink]]\nname = \"{platform}\"\nplatform = \"{platform}\"\nevents = [\"*\"]\ntoken = {{ env = \"UNUSED\" }}\n{toml}\n"
    );
    let config = Config::parse(&text, Path::new("<defaults>")).map_err(|e| e.to_string())?;
    build_sink(&config.orgs[0].sinks[0]).await
}

/// Rendering needs no credential: placeholders stand in for them, so that `render`
/// works offline and never fetches a secret.
async fn build_sink(section: &config::SinkSection) -> Result<Arc<dyn SiemSink>, String> {
    config::build_sink(section, Credentials::Placeholders)
        .await
        .map_err(|(field, message)| match field {
            Some(field) => format!("sink \"{}\": field `{field}`: {message}", section.name),
            None => format!("sink \"{}\": {message}", section.name),
        })
}
