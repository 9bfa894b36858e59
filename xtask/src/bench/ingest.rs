//! The ingest run: the bench's events posted to `siem serve` as NDJSON bodies of 1,000
//! events over keep-alive connections and delivered to an emulator, beside `siem forward`
//! on the same events; then the same posts while one SIEM of the org is hung, for the
//! response times a gateway sees.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::procs::{self, Emulator, Input, ORGS, TOKEN};
use super::{fmt_opt, median, one_run, print_table, settings, Bench, Options};

/// Events per request body.
pub const EVENTS_PER_BODY: usize = 1_000;
/// Concurrent keep-alive connections posting bodies.
pub const CONNECTIONS: usize = 4;
/// The paced run: one gateway posting this many bodies a second on one connection, for
/// the response time a gateway sees when the service is not saturated.
pub const PACED_BODIES_PER_S: f64 = 50.0;
/// Bodies of the paced run.
pub const PACED_BODIES: usize = 500;
const BOOTSTRAP: &str = "bench-bootstrap-token";

/// A running `siem serve`.
struct Serve {
    child: Child,
    base: String,
    command: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(siem: &Path, data_dir: &Path, log: &Path) -> Result<Self, String> {
        let _ = std::fs::remove_dir_all(data_dir);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let args = vec![
            "serve".to_owned(),
            "--listen".to_owned(),
            format!("127.0.0.1:{port}"),
            "--data-dir".to_owned(),
            data_dir.display().to_string(),
        ];
        let command = procs::shown(siem, &args);
        let log = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(siem)
            .args(&args)
            .env("SIEM_BOOTSTRAP_TOKEN", BOOTSTRAP)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start `{command}`: {e}"))?;
        let serve = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            command,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if ureq::get(&format!("{}/readyz", serve.base)).call().is_ok() {
                return Ok(serve);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("`{}` did not become ready", serve.command))
    }

    /// CPU seconds (user + system) the process has used so far, from /proc.
    fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the parenthesised command name: state is field 3; utime and stime
        // are fields 14 and 15, in clock ticks (100 a second on Linux).
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }

    fn call(&self, method: &str, path: &str, token: &str, body: &Value) -> Result<Value, String> {
        let response = ureq::request(method, &format!("{}{path}", self.base))
            .set("authorization", &format!("Bearer {token}"))
            .send_json(body.clone())
            .map_err(|e| match e {
                ureq::Error::Status(code, r) => {
                    format!(
                        "{method} {path}: HTTP {code}: {}",
                        r.into_string().unwrap_or_default()
                    )
                }
                other => format!("{method} {path}: {other}"),
            })?;
        response
            .into_json()
            .map_err(|e| format!("{method} {path}: {e}"))
    }

    fn delivered(&self, admins: &[String], sink: &str) -> u64 {
        ORGS.iter()
            .zip(admins)
            .filter_map(|(org, admin)| {
                self.call(
                    "GET",
                    &format!("/api/v1/orgs/{org}/connectors/{sink}"),
                    admin,
                    &Value::Null,
                )
                .ok()
            })
            .filter_map(|c| c["status"]["delivered"].as_u64())
            .sum()
    }
}

/// The events file as request bodies, each with the ingest token index of its org.
fn bodies(file: &Path) -> Result<Vec<(usize, String)>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut open: Vec<(String, usize)> = ORGS.iter().map(|_| (String::new(), 0)).collect();
    let mut out = Vec::new();
    for line in text.lines() {
        let org = ORGS
            .iter()
            .position(|o| line.contains(&format!("\"org_id\":\"{o}\"")))
            .ok_or_else(|| format!("a line of {} has none of the bench's orgs", file.display()))?;
        let (body, n) = &mut open[org];
        body.push_str(line);
        body.push('\n');
        *n += 1;
        if *n == EVENTS_PER_BODY {
            out.push((org, std::mem::take(body)));
            *n = 0;
        }
    }
    for (org, (body, n)) in open.into_iter().enumerate() {
        if n > 0 {
            out.push((org, body));
        }
    }
    Ok(out)
}

/// One serve run: the bodies as fast as [`CONNECTIONS`] connections go (CPU seconds to
/// deliver everything, response times), then [`PACED_BODIES`] of them at a steady rate.
fn serve_run(
    b: &mut Bench,
    options: &Options,
    bodies: &[(usize, String)],
    hung_port: Option<u16>,
    label: &str,
) -> Result<ServeRun, String> {
    let emulator = Emulator::start(&b.siem, "splunk", &b.out, &[])?;
    b.commands.push(emulator.command.clone());
    let data_dir: PathBuf = b.out.join(format!("serve-data-{label}"));
    let serve = Serve::start(
        &b.siem,
        &data_dir,
        &b.out.join(format!("serve-{label}.log")),
    )?;
    b.commands
        .push(format!("SIEM_BOOTSTRAP_TOKEN=… {}", serve.command));
    let ca_pem = std::fs::read_to_string(emulator.get("ca_file")?).map_err(|e| e.to_string())?;
    let mut admins = Vec::new();
    let mut ingests = Vec::new();
    for org in ORGS {
        let token = |role: &str| -> Result<String, String> {
            let t = serve.call(
                "POST",
                &format!("/api/v1/orgs/{org}/tokens"),
                BOOTSTRAP,
                &json!({ "role": role }),
            )?;
            Ok(t["token"].as_str().unwrap_or_default().to_owned())
        };
        let admin = token("admin")?;
        ingests.push(token("ingest")?);
        let sink = settings(options, false, None);
        let connector = json!({
            "name": "bench", "platform": "splunk", "endpoint": emulator.get("url")?,
            "index": "main", "token": TOKEN, "ca_pem": ca_pem, "events": ["*"], "gzip": false,
            "max_events": sink.max_events, "linger_ms": sink.linger_ms,
        });
        serve.call(
            "POST",
            &format!("/api/v1/orgs/{org}/connectors"),
            &admin,
            &connector,
        )?;
        if let Some(port) = hung_port {
            let hung = json!({
                "name": "hung", "platform": "splunk", "endpoint": format!("https://127.0.0.1:{port}"),
                "token": TOKEN, "ca_pem": ca_pem, "events": ["*"], "attempt_timeout_ms": 2000,
                "buffer": { "type": "memory", "when_full": "drop_newest" },
            });
            serve.call(
                "POST",
                &format!("/api/v1/orgs/{org}/connectors"),
                &admin,
                &hung,
            )?;
        }
        admins.push(admin);
    }

    let cpu_before = serve.cpu_seconds();
    let started = Instant::now();
    let url = format!("{}/api/v1/events", serve.base);
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONNECTIONS)
            .map(|k| {
                let (url, ingests) = (&url, &ingests);
                scope.spawn(move || -> Result<Vec<f64>, String> {
                    // One agent per thread: one keep-alive connection each.
                    let agent = ureq::AgentBuilder::new()
                        .max_idle_connections_per_host(1)
                        .build();
                    let mut times = Vec::new();
                    for (org, body) in bodies.iter().skip(k).step_by(CONNECTIONS) {
                        times.push(post(&agent, url, &ingests[*org], body)?);
                    }
                    Ok(times)
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(
                w.join()
                    .map_err(|_| "a posting thread panicked".to_owned())??,
            );
        }
        Ok::<_, String>(all)
    })?;
    let total = options.events;
    while serve.delivered(&admins, "bench") < total && started.elapsed() < Duration::from_secs(300)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = serve.cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    // Then a gateway at a steady rate: the same bodies again, one connection, paced.
    let agent = ureq::AgentBuilder::new()
        .max_idle_connections_per_host(1)
        .build();
    let mut paced = Vec::new();
    let start = Instant::now();
    for (i, (org, body)) in bodies.iter().take(PACED_BODIES).enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / PACED_BODIES_PER_S);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        paced.push(post(&agent, &url, &ingests[*org], body)?);
    }
    let paced_events: u64 = bodies
        .iter()
        .take(PACED_BODIES)
        .map(|(_, b)| b.lines().count() as u64)
        .sum();
    let deadline = Instant::now() + Duration::from_secs(120);
    while serve.delivered(&admins, "bench") < total + paced_events && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(serve);
    let counters = emulator.stop()?;
    let got = counters
        .get("accepted_events")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(ServeRun {
        cpu,
        wall,
        burst: latencies,
        paced,
        got,
        expected: total + paced_events,
    })
}

/// What one serve run measured.
struct ServeRun {
    cpu: Option<f64>,
    wall: f64,
    /// Response times (ms) while posting as fast as possible.
    burst: Vec<f64>,
    /// Response times (ms) at [`PACED_BODIES_PER_S`].
    paced: Vec<f64>,
    got: u64,
    expected: u64,
}

/// Posts one NDJSON body and reads the whole answer; returns the response time in ms.
fn post(agent: &ureq::Agent, url: &str, token: &str, body: &str) -> Result<f64, String> {
    let sent = Instant::now();
    let response = agent
        .post(url)
        .set("authorization", &format!("Bearer {token}"))
        .set("content-type", "application/x-ndjson")
        .send_string(body)
        .map_err(|e| format!("POST /api/v1/events: {e}"))?;
    let mut answer = String::new();
    response
        .into_reader()
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(sent.elapsed().as_secs_f64() * 1000.0)
}

fn quantile(mut v: Vec<f64>, q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

/// The ingest section of `cargo xtask bench`.
pub(super) fn run(options: &Options, b: &mut Bench, file: &Path) -> Result<(), String> {
    let bodies = bodies(file)?;
    let hung = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let hung_port = hung.local_addr().map_err(|e| e.to_string())?.port();
    let (mut serve_cpu, mut forward_cpu, mut p99_alone, mut p99_hung) =
        (vec![], vec![], vec![], vec![]);
    let mut rows = Vec::new();
    for run_index in 1..=options.runs {
        // Side by side in one run: forward on the file, serve on the same events.
        let (run, counters) = one_run(
            b,
            "ingest-compare",
            "splunk",
            &[],
            &settings(options, false, None),
            Input::File(file),
        )?;
        let forward_got: u64 = counters
            .get("accepted_events")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        forward_cpu.extend(run.cpu);
        for (label, port) in [("alone", None), ("hung-neighbour", Some(hung_port))] {
            let r = serve_run(b, options, &bodies, port, label)?;
            let burst_p99 = quantile(r.burst.clone(), 0.99);
            let (paced_p50, paced_p99) = (
                quantile(r.paced.clone(), 0.5),
                quantile(r.paced.clone(), 0.99),
            );
            eprintln!(
                "xtask bench: serve ingest {label} run {run_index}/{}: {} CPU s, {:.2} s wall, \
                 burst p99 {} ms, paced p50 {} ms p99 {} ms, emulator received {} of {} \
                 (forward: {} CPU s, received {forward_got})",
                options.runs,
                fmt_opt(r.cpu, 2),
                r.wall,
                fmt_opt(burst_p99, 2),
                fmt_opt(paced_p50, 2),
                fmt_opt(paced_p99, 2),
                r.got,
                r.expected,
                fmt_opt(run.cpu, 2),
            );
            if r.got != r.expected {
                b.failures.push(format!(
                    "ingest {label} run {run_index}: the emulator received {} of {}",
                    r.got, r.expected
                ));
            }
            match port {
                None => {
                    serve_cpu.extend(r.cpu);
                    p99_alone.extend(paced_p99);
                }
                Some(_) => p99_hung.extend(paced_p99),
            }
            rows.push(vec![
                format!("{label} (run {run_index})"),
                fmt_opt(r.cpu, 2),
                format!("{:.2}", r.wall),
                fmt_opt(quantile(r.burst.clone(), 0.5), 2),
                fmt_opt(burst_p99, 2),
                fmt_opt(paced_p50, 2),
                fmt_opt(paced_p99, 2),
                format!("{} of {}", r.got, r.expected),
            ]);
        }
    }
    drop(hung);
    let ratio = median(serve_cpu.clone())
        .zip(median(forward_cpu.clone()))
        .map(|(s, f)| s / f);
    println!(
        "\nIngest: {} events posted to `siem serve` as NDJSON bodies of {EVENTS_PER_BODY} over \
         {CONNECTIONS} keep-alive connections, 2 orgs, delivered to one Splunk emulator (gzip off); \
         CPU = the serve process from the first post to the last delivery (burst); then \
         {PACED_BODIES} of the bodies again at {PACED_BODIES_PER_S} a second on one connection \
         (paced). Goals: CPU <= 1.5x forward's on the same events; p99 response < 5 ms beside \
         a hung SIEM (paced)",
        options.events
    );
    print_table(
        &[
            "serve run",
            "CPU s (burst)",
            "wall s (burst)",
            "burst p50 ms",
            "burst p99 ms",
            "paced p50 ms",
            "paced p99 ms",
            "received by emulator",
        ],
        &rows,
    );
    println!(
        "serve CPU median {} s vs forward {} s: ratio {}; paced p99 alone {} ms, beside a hung SIEM {} ms",
        fmt_opt(median(serve_cpu), 2),
        fmt_opt(median(forward_cpu), 2),
        fmt_opt(ratio, 2),
        fmt_opt(median(p99_alone), 2),
        fmt_opt(median(p99_hung), 2),
    );
    Ok(())
}
