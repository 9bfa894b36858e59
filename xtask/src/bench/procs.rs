//! The processes of a benchmark run: `siem emulate` (its key=value output), `siem forward`
//! under GNU time (its CPU, wall time and peak RSS), and the configuration between them.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable the forward configuration reads its token from.
pub const TOKEN_ENV: &str = "SIEM_BENCH_TOKEN";
/// The throwaway token the emulators accept.
pub const TOKEN: &str = "bench-token-0123456789abcdef";
/// GNU time, for the CPU time and peak RSS of `siem forward`.
pub const GNU_TIME: &str = "/usr/bin/time";

/// A shell-like rendering of a command, for the log of exact commands.
pub fn shown(program: &Path, args: &[String]) -> String {
    let mut s = program.display().to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// A running `siem emulate`.
pub struct Emulator {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// What it printed at start (url, ca_file, …).
    pub info: BTreeMap<String, String>,
    pub command: String,
}

impl Emulator {
    /// Starts `siem emulate --platform P --count-only …extra` and reads its start lines.
    pub fn start(
        siem: &Path,
        platform: &str,
        out_dir: &Path,
        extra: &[String],
    ) -> Result<Self, String> {
        let ca_file = out_dir.join(format!("ca-{platform}.pem"));
        let mut args: Vec<String> = [
            "emulate",
            "--platform",
            platform,
            "--count-only",
            "--token",
            TOKEN,
            "--ca-file",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.push(ca_file.display().to_string());
        args.extend(extra.iter().cloned());
        let command = shown(siem, &args);
        let log = std::fs::File::create(out_dir.join(format!("emulate-{platform}.log")))
            .map_err(|e| format!("cannot create the emulator log: {e}"))?;
        let mut child = Command::new(siem)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start `{command}`: {e}"))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            return Err("the emulator has no stdout".into());
        };
        let mut stdout = BufReader::new(stdout);
        let mut info = BTreeMap::new();
        let mut line = String::new();
        while !info.contains_key("ca_file") {
            line.clear();
            let n = stdout.read_line(&mut line).unwrap_or(0);
            if n == 0 {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{command}` stopped before printing ca_file= (see bench-out/emulate-{platform}.log)"
                ));
            }
            if let Some((k, v)) = line.trim().split_once('=') {
                info.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(Self {
            child,
            stdout,
            info,
            command,
        })
    }

    pub fn get(&self, key: &str) -> Result<&str, String> {
        self.info
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("`{}` printed no {key}=", self.command))
    }

    /// Stops it with SIGTERM and returns the counters it printed at exit.
    pub fn stop(mut self) -> Result<BTreeMap<String, String>, String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-s", "TERM", &pid]).status();
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        let _ = self.child.wait();
        let mut counters = BTreeMap::new();
        for pair in rest.split_whitespace() {
            if let Some((k, v)) = pair.split_once('=') {
                counters.insert(k.to_owned(), v.to_owned());
            }
        }
        if counters.contains_key("accepted_events") {
            Ok(counters)
        } else {
            Err(format!("`{}` printed no counters at exit", self.command))
        }
    }
}

/// Forward's sink settings.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    pub gzip: bool,
    pub max_events: usize,
    pub linger_ms: u64,
    pub max_attempts: Option<u32>,
    /// A disk buffer (in `data_dir`) instead of the memory buffer.
    pub disk: bool,
    /// The configuration's `data_dir` (emptied first).
    pub data_dir: Option<PathBuf>,
    /// A second sink per org (TOML keys after `[[org.sink]]`, `{ca_file}` replaced by the
    /// emulator's CA file), e.g. a hung SIEM.
    pub neighbour: Option<String>,
}

/// The organizations of the generated events; each gets one sink to the emulator.
pub const ORGS: [&str; 2] = ["org_acme", "org_globex"];

/// Writes a `siem forward` configuration for the emulator; returns its path.
pub fn write_config(
    emulator: &Emulator,
    platform: &str,
    settings: &SinkSettings,
    path: &Path,
) -> Result<PathBuf, String> {
    let mut sink = format!(
        "name = \"bench\"\nplatform = \"{platform}\"\nevents = [\"*\"]\ngzip = {}\n\
         ca_file = \"{}\"\nmax_events = {}\nlinger_ms = {}\n",
        settings.gzip,
        emulator.get("ca_file")?,
        settings.max_events,
        settings.linger_ms
    );
    if let Some(n) = settings.max_attempts {
        sink.push_str(&format!("max_attempts = {n}\n"));
    }
    let mut text = String::new();
    if let Some(dir) = &settings.data_dir {
        let _ = std::fs::remove_dir_all(dir);
        text.push_str(&format!("data_dir = \"{}\"\n", dir.display()));
    }
    if settings.disk {
        sink.push_str("buffer = { type = \"disk\" }\n");
    }
    let url = emulator.get("url")?;
    match platform {
        "splunk" => sink.push_str(&format!(
            "endpoint = \"{url}\"\nindex = \"main\"\ntoken = {{ env = \"{TOKEN_ENV}\" }}\n"
        )),
        "datadog" => sink.push_str(&format!(
            "endpoint = \"{url}\"\nenv = \"bench\"\nhostname = \"bench-gw\"\n\
             token = {{ env = \"{TOKEN_ENV}\" }}\n"
        )),
        "sentinel" => sink.push_str(&format!(
            "dce = \"{url}\"\ndcr_immutable_id = \"{}\"\nstream = \"{}\"\ntenant_id = \"{}\"\n\
             client_id = \"{}\"\nauthority_host = \"{}\"\n\
             client_secret = {{ env = \"{TOKEN_ENV}\" }}\n",
            emulator.get("dcr_immutable_id")?,
            emulator.get("stream")?,
            emulator.get("tenant_id")?,
            emulator.get("client_id")?,
            emulator.get("authority_host")?,
        )),
        other => return Err(format!("unknown platform {other}")),
    }
    for org in ORGS {
        text.push_str(&format!(
            "[[org]]\nid = \"{org}\"\n\n[[org.sink]]\n{sink}\n"
        ));
        if let Some(neighbour) = &settings.neighbour {
            let neighbour = neighbour.replace("{ca_file}", emulator.get("ca_file")?);
            text.push_str(&format!("[[org.sink]]\n{neighbour}\n"));
        }
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// What one `siem forward` run cost and reported.
#[derive(Debug, Clone, Default)]
pub struct ForwardRun {
    pub wall: Duration,
    /// When forward was started, in seconds since the Unix epoch.
    pub started_at: f64,
    /// user + sys, from GNU time.
    pub cpu: Option<f64>,
    pub user: Option<f64>,
    pub sys: Option<f64>,
    /// Peak RSS in KiB, from GNU time.
    pub max_rss_kib: Option<u64>,
    pub exit_ok: bool,
    /// Forward's `--json` report.
    pub report: Option<serde_json::Value>,
    pub command: String,
}

impl ForwardRun {
    /// A counter of `stats.totals` in forward's report.
    pub fn total(&self, name: &str) -> Option<u64> {
        self.report.as_ref()?["stats"]["totals"][name].as_u64()
    }

    /// When the sink named `sink` last delivered (of the last org that has one), as
    /// seconds since the Unix epoch.
    pub fn last_success(&self, sink: &str) -> Option<f64> {
        let orgs = self.report.as_ref()?["stats"]["orgs"].as_array()?;
        orgs.iter()
            .flat_map(|o| o["sinks"].as_array().into_iter().flatten())
            .filter(|s| s["name"] == sink)
            .filter_map(|s| s["last_success_at"].as_str())
            .filter_map(epoch_seconds)
            .reduce(f64::max)
    }
}

/// Seconds since the Unix epoch of an RFC 3339 UTC timestamp (`…Z`).
fn epoch_seconds(text: &str) -> Option<f64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(t.unix_timestamp_nanos() as f64 / 1e9)
}

/// How `siem forward` gets its input.
pub enum Input<'a> {
    File(&'a Path),
    /// A pipe written by `feed` (which must close it at the end of input).
    Pipe(Box<dyn FnOnce(std::process::ChildStdin) -> Result<(), String> + 'a>),
}

/// Runs `siem forward --config CONFIG --json` (under GNU time when present).
pub fn forward(
    siem: &Path,
    config: &Path,
    input: Input<'_>,
    out_dir: &Path,
    gnu_time: bool,
) -> Result<ForwardRun, String> {
    let time_file = out_dir.join("forward-time.txt");
    let _ = std::fs::remove_file(&time_file);
    let forward_args: Vec<String> = vec![
        "forward".into(),
        "--config".into(),
        config.display().to_string(),
        "--json".into(),
    ];
    let (program, args) = if gnu_time {
        let mut args: Vec<String> = vec!["-v".into(), "-o".into(), time_file.display().to_string()];
        args.push(siem.display().to_string());
        args.extend(forward_args);
        (PathBuf::from(GNU_TIME), args)
    } else {
        (siem.to_path_buf(), forward_args)
    };
    let mut command = format!("{TOKEN_ENV}=… {}", shown(&program, &args));
    let stdin = match &input {
        Input::File(path) => {
            command.push_str(&format!(" < {}", path.display()));
            Stdio::from(std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        Input::Pipe(_) => {
            command = format!("(paced writer) | {command}");
            Stdio::piped()
        }
    };
    let log = std::fs::File::create(out_dir.join("forward.log"))
        .map_err(|e| format!("cannot create the forward log: {e}"))?;
    let started = Instant::now();
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut child = Command::new(&program)
        .args(&args)
        .env(TOKEN_ENV, TOKEN)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start `{command}`: {e}"))?;
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.read_to_string(&mut text);
        }
        text
    });
    let fed = match input {
        Input::File(_) => Ok(()),
        Input::Pipe(feed) => match child.stdin.take() {
            Some(pipe) => feed(pipe),
            None => Err("forward has no stdin".into()),
        },
    };
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{command}`: {e}"))?;
    let wall = started.elapsed();
    fed?;
    let text = reader.join().unwrap_or_default();
    let mut run = ForwardRun {
        wall,
        started_at,
        exit_ok: status.success(),
        report: text
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok()),
        command,
        ..ForwardRun::default()
    };
    if gnu_time {
        let time = std::fs::read_to_string(&time_file)
            .map_err(|e| format!("{}: {e}", time_file.display()))?;
        let field = |label: &str| {
            time.lines()
                .find_map(|l| l.trim().strip_prefix(label))
                .map(str::trim)
        };
        run.user = field("User time (seconds):").and_then(|v| v.parse().ok());
        run.sys = field("System time (seconds):").and_then(|v| v.parse().ok());
        run.cpu = run.user.zip(run.sys).map(|(u, s)| u + s);
        run.max_rss_kib = field("Maximum resident set size (kbytes):").and_then(|v| v.parse().ok());
    }
    Ok(run)
}
