//! `cargo xtask bench`: end-to-end speed and memory of `siem forward` against `siem emulate`
//! (issue 7), and the crates' criterion benches.
//!
//! Throughput: the generated NDJSON file (bench-out/events-N.ndjson) is piped into the
//! release `siem forward` for each platform, gzip on and off, `--runs` times, each run
//! against a fresh `siem emulate --count-only` process. CPU (user+sys) and peak RSS of the
//! forward process come from GNU time (`/usr/bin/time -v`); wall time is measured here.
//! Steady rate: events stamped with the current time are written to forward's stdin at a
//! fixed rate; the emulator records arrival time minus timestamp for every event
//! (`--arrival-delays`). Outage: the same paced feed while the emulator answers 503 for a
//! while (`--outage-after-secs`, `--outage-secs`).

mod criterion;
mod events;
mod ingest;
mod procs;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use procs::{Emulator, ForwardRun, Input, SinkSettings};

/// `cargo xtask bench`: the arguments.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchArgs {
    /// Run the crates' criterion benches (parsing, encoders, emit) instead.
    #[arg(long)]
    criterion: bool,
    /// A short run: 100,000 events, one run, short steady and outage phases.
    #[arg(long)]
    quick: bool,
    /// Events per throughput run (default 1,000,000; 100,000 with --quick).
    #[arg(long, value_parser = num::<u64>)]
    events: Option<u64>,
    /// Runs per throughput setting (default 3; 1 with --quick).
    #[arg(long, value_parser = num::<usize>)]
    runs: Option<usize>,
    /// The platforms to measure.
    #[arg(long, value_delimiter = ',', default_value = "splunk,datadog,sentinel",
          value_parser = ["splunk", "datadog", "sentinel"])]
    platforms: Vec<String>,
    /// The gzip settings to measure.
    #[arg(long, value_delimiter = ',', default_value = "off,on", value_parser = ["on", "off"])]
    gzip: Vec<String>,
    /// The sinks' batch size.
    #[arg(long, default_value_t = 1000, value_parser = num::<usize>)]
    max_events: usize,
    /// The sinks' linger time.
    #[arg(long, default_value_t = 500, value_parser = num::<u64>)]
    linger_ms: u64,
    /// Events per second of the steady-rate run.
    #[arg(long, default_value_t = 20_000, value_parser = num::<u64>)]
    steady_rate: u64,
    /// Length of the steady-rate run (default 30; 5 with --quick).
    #[arg(long)]
    steady_seconds: Option<f64>,
    /// When the emulator's outage starts (default 10; 2 with --quick).
    #[arg(long)]
    outage_after_secs: Option<f64>,
    /// How long the outage lasts (default 30; 5 with --quick).
    #[arg(long)]
    outage_secs: Option<f64>,
    /// How long the outage run goes on after it (default 20; 5 with --quick).
    #[arg(long)]
    outage_tail_secs: Option<f64>,
    /// The sinks' attempts in the outage run.
    #[arg(long)]
    outage_max_attempts: Option<u32>,
    /// Leave out the throughput runs.
    #[arg(long)]
    skip_throughput: bool,
    /// Leave out the memory-vs-disk buffer runs.
    #[arg(long)]
    skip_disk: bool,
    /// Leave out the hung-neighbour runs.
    #[arg(long)]
    skip_hung: bool,
    /// Events per second of the hung-neighbour runs with paced input (below what the
    /// disk buffer takes at full speed on 2 cores).
    #[arg(long, default_value_t = 400_000, value_parser = num::<u64>)]
    hung_paced_rate: u64,
    /// Leave out the `siem serve` ingest runs.
    #[arg(long)]
    skip_ingest: bool,
    /// Leave out the steady-rate run.
    #[arg(long)]
    skip_steady: bool,
    /// Leave out the outage run.
    #[arg(long)]
    skip_outage: bool,
    /// Use the siem binary as last built.
    #[arg(long)]
    no_build: bool,
}

#[derive(Debug, Clone)]
struct Options {
    events: u64,
    runs: usize,
    platforms: Vec<String>,
    gzip: Vec<bool>,
    max_events: usize,
    linger_ms: u64,
    steady_rate: u64,
    steady_seconds: f64,
    outage_after: f64,
    outage_secs: f64,
    outage_tail: f64,
    outage_max_attempts: Option<u32>,
    throughput: bool,
    disk: bool,
    hung: bool,
    hung_paced_rate: u64,
    ingest: bool,
    steady: bool,
    outage: bool,
    build: bool,
}

impl Options {
    fn new(a: BenchArgs) -> Result<Self, String> {
        let q = a.quick;
        let quick = |short: f64, full: f64| if q { short } else { full };
        let o = Options {
            events: a.events.unwrap_or(if q { 100_000 } else { 1_000_000 }),
            runs: a.runs.unwrap_or(if q { 1 } else { 3 }),
            gzip: a.gzip.iter().map(|g| g == "on").collect(),
            platforms: a.platforms,
            max_events: a.max_events,
            linger_ms: a.linger_ms,
            steady_rate: a.steady_rate,
            steady_seconds: a.steady_seconds.unwrap_or(quick(5.0, 30.0)),
            outage_after: a.outage_after_secs.unwrap_or(quick(2.0, 10.0)),
            outage_secs: a.outage_secs.unwrap_or(quick(5.0, 30.0)),
            outage_tail: a.outage_tail_secs.unwrap_or(quick(5.0, 20.0)),
            outage_max_attempts: a.outage_max_attempts,
            throughput: !a.skip_throughput,
            disk: !a.skip_disk,
            hung: !a.skip_hung,
            hung_paced_rate: a.hung_paced_rate,
            ingest: !a.skip_ingest,
            steady: !a.skip_steady,
            outage: !a.skip_outage,
            build: !a.no_build,
        };
        if o.events == 0 || o.runs == 0 || o.steady_rate == 0 || o.hung_paced_rate == 0 {
            return Err("--events, --runs and --steady-rate must be positive".to_owned());
        }
        Ok(o)
    }
}

/// A number, `_` separators allowed (`1_000_000`).
fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))
}

/// The entry point of `cargo xtask bench …`.
pub(crate) fn run(args: BenchArgs) -> Result<(), String> {
    if args.criterion {
        return criterion::run();
    }
    let options = Options::new(args)?;
    let root = crate::root();
    let out = root.join("bench-out");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut commands = Vec::new();
    print_machine();
    let gnu_time = Path::new(procs::GNU_TIME).is_file();
    if !gnu_time {
        println!(
            "NOTE: {} is missing, so sender CPU seconds and peak RSS are NOT measured \
             (install GNU time: `apt-get install -y time`).",
            procs::GNU_TIME
        );
    }
    let build = ["build", "--release", "-p", "siem-cli"];
    if options.build {
        commands.push(format!("cargo {}", build.join(" ")));
        crate::run_command("cargo", &build, &[], "The release build of siem failed.")?;
    } else {
        println!("NOTE: --no-build: using the siem binary as last built (not rebuilt now).");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut b = Bench {
        siem: target.join("release").join("siem"),
        out,
        gnu_time,
        commands,
        failures: Vec::new(),
    };
    if options.throughput || options.disk || options.hung || options.ingest {
        let file = b.out.join(format!("events-{}.ndjson", options.events));
        let average = events::ensure_file(&file, options.events)?;
        b.commands.push(format!(
            "(generated by xtask) {}: {} events, {average:.0} bytes a line on average",
            file.display(),
            options.events
        ));
        if options.throughput {
            throughput(&options, &mut b, &file)?;
        }
        if options.disk {
            disk_vs_memory(&options, &mut b, &file)?;
        }
        if options.hung {
            hung_neighbour(&options, &mut b, &file)?;
        }
        if options.ingest {
            ingest::run(&options, &mut b, &file)?;
        }
    }
    if options.steady {
        steady(&options, &mut b)?;
    }
    if options.outage {
        outage(&options, &mut b)?;
    }
    println!("\nCommands (in bench-out/: forward-*.toml configs, *.log outputs):");
    let mut seen = std::collections::BTreeSet::new();
    for c in &b.commands {
        if seen.insert(c) {
            println!("  {c}");
        }
    }
    if b.failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "benchmark problems:\n  {}",
            b.failures.join("\n  ")
        ))
    }
}

fn print_machine() {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(crate::root())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " + uncommitted changes"
    };
    println!("machine: {cpus} CPUs, {model}; {rustc}; commit {commit}{dirty}");
}

fn settings(options: &Options, gzip: bool, max_attempts: Option<u32>) -> SinkSettings {
    SinkSettings {
        gzip,
        max_events: options.max_events,
        linger_ms: options.linger_ms,
        max_attempts,
        disk: false,
        data_dir: None,
        neighbour: None,
    }
}

fn with_disk(mut settings: SinkSettings, data_dir: PathBuf) -> SinkSettings {
    settings.disk = true;
    settings.data_dir = Some(data_dir);
    settings
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.digits$}"))
}

fn mib(kib: Option<u64>) -> Option<f64> {
    kib.map(|k| k as f64 / 1024.0)
}

/// What every run needs: the binary, the output directory, and the logs.
struct Bench {
    siem: PathBuf,
    out: PathBuf,
    gnu_time: bool,
    commands: Vec<String>,
    failures: Vec<String>,
}

/// One emulator + one forward run.
fn one_run(
    b: &mut Bench,
    scenario: &str,
    platform: &str,
    emulate_extra: &[String],
    settings: &SinkSettings,
    input: Input<'_>,
) -> Result<(ForwardRun, std::collections::BTreeMap<String, String>), String> {
    let (siem, out) = (b.siem.as_path(), b.out.as_path());
    let emulator = Emulator::start(siem, platform, out, emulate_extra)?;
    b.commands.push(emulator.command.clone());
    let config = out.join(format!(
        "forward-{scenario}-{platform}-gzip-{}.toml",
        if settings.gzip { "on" } else { "off" }
    ));
    let run = procs::write_config(&emulator, platform, settings, &config)
        .and_then(|config| procs::forward(siem, &config, input, out, b.gnu_time));
    // Stopped whatever happened, so no emulator outlives the bench.
    let counters = emulator.stop()?;
    let run = run?;
    b.commands.push(run.command.clone());
    Ok((run, counters))
}

fn throughput(options: &Options, b: &mut Bench, file: &Path) -> Result<(), String> {
    let mut rows = Vec::new();
    for platform in &options.platforms {
        for &gzip in &options.gzip {
            let label = format!("{platform}, gzip {}", if gzip { "on" } else { "off" });
            let (mut eps, mut cpu, mut wall, mut rss) = (vec![], vec![], vec![], vec![]);
            let mut received = Vec::new();
            for run_index in 1..=options.runs {
                let (run, counters) = one_run(
                    b,
                    "throughput",
                    platform,
                    &[],
                    &settings(options, gzip, None),
                    Input::File(file),
                )?;
                let got: u64 = counters
                    .get("accepted_events")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let secs = run.wall.as_secs_f64();
                eprintln!(
                    "xtask bench: {label} run {run_index}/{}: {:.2} s wall, {} CPU s, {} MiB, \
                     emulator received {got}, forward exit {}",
                    options.runs,
                    secs,
                    fmt_opt(run.cpu, 2),
                    fmt_opt(mib(run.max_rss_kib), 1),
                    if run.exit_ok { "ok" } else { "FAILED" }
                );
                if got != options.events || !run.exit_ok {
                    b.failures.push(format!(
                        "{label} run {run_index}: the emulator received {got} events, not {}; \
                         forward {} (see bench-out/forward.log)",
                        options.events,
                        if run.exit_ok { "exited 0" } else { "failed" }
                    ));
                }
                received.push(got);
                eps.push(options.events as f64 / secs);
                wall.push(secs);
                cpu.extend(run.cpu);
                rss.extend(mib(run.max_rss_kib));
            }
            rows.push(vec![
                label,
                fmt_opt(median(eps), 0),
                fmt_opt(median(cpu), 2),
                fmt_opt(median(wall), 2),
                fmt_opt(median(rss), 1),
                received
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join("/"),
            ]);
        }
    }
    println!(
        "\nThroughput: {} events, max_events = {}, 2 orgs (one sink each), medians of {} run(s), \
         sender = `siem forward` process only",
        options.events, options.max_events, options.runs
    );
    print_table(
        &[
            "platform",
            "events/s",
            "CPU s (user+sys)",
            "wall s",
            "peak RSS MiB",
            "received by emulator",
        ],
        &rows,
    );
    Ok(())
}

/// A Markdown table on stdout, ready for BENCHMARKS.md.
fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    print!("{}", crate::table::markdown(headers, rows));
}

/// Writes events stamped with the current time to `pipe` at `rate` per second for
/// `seconds`; returns how many were written and the largest lag behind the schedule.
fn paced_feed(
    pipe: std::process::ChildStdin,
    rate: u64,
    seconds: f64,
    first_index: u64,
) -> Result<(u64, Duration), String> {
    let mut writer = std::io::BufWriter::with_capacity(1 << 16, pipe);
    let total = (rate as f64 * seconds) as u64;
    let started = Instant::now();
    let mut sent = 0u64;
    let mut max_lag = Duration::ZERO;
    let mut line = String::with_capacity(1 << 16);
    while sent < total {
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        if due > sent {
            let lag = Duration::from_secs_f64((due - sent) as f64 / rate as f64);
            max_lag = max_lag.max(lag);
            line.clear();
            let now = events::now_millis();
            // At most 50 ms of events per write, so timestamps stay close to the write.
            let n = (due - sent).min((rate / 20).max(1));
            for i in sent..sent + n {
                events::push_event(&mut line, first_index + i, now);
            }
            writer
                .write_all(line.as_bytes())
                .and_then(|()| writer.flush())
                .map_err(|e| format!("writing to forward: {e}"))?;
            sent += n;
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok((sent, max_lag))
}

/// Input lines read ahead of time, for feeding at a pace at next to no CPU.
struct Lines {
    text: Vec<u8>,
    /// The end of each line (after its newline).
    ends: Vec<usize>,
}

impl Lines {
    fn read(file: &Path) -> Result<Self, String> {
        let text = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let ends = text
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        Ok(Self { text, ends })
    }

    /// Writes the lines to forward's stdin at `rate` per second, in writes of at most
    /// 50 ms of lines.
    fn feed(&self, pipe: std::process::ChildStdin, rate: u64) -> Result<(), String> {
        let mut writer = std::io::BufWriter::with_capacity(1 << 16, pipe);
        let per_write = (rate / 20).max(1) as usize;
        let started = Instant::now();
        let (mut sent, mut at) = (0usize, 0usize);
        while sent < self.ends.len() {
            let due =
                ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(self.ends.len());
            if due <= sent {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let upto = due.min(sent + per_write);
            let end = self.ends[upto - 1];
            writer
                .write_all(&self.text[at..end])
                .and_then(|()| writer.flush())
                .map_err(|e| format!("writing to forward: {e}"))?;
            sent = upto;
            at = end;
        }
        Ok(())
    }
}

fn steady(options: &Options, b: &mut Bench) -> Result<(), String> {
    let mut rows = Vec::new();
    for platform in &options.platforms {
        let mut fed = (0, Duration::ZERO);
        let feed = Input::Pipe(Box::new(|pipe| {
            fed = paced_feed(pipe, options.steady_rate, options.steady_seconds, 0)?;
            Ok(())
        }));
        let (run, c) = one_run(
            b,
            "steady",
            platform,
            &["--arrival-delays".into()],
            &settings(options, true, None),
            feed,
        )?;
        let got: u64 = c
            .get("accepted_events")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if got != fed.0 || !run.exit_ok {
            b.failures.push(format!(
                "steady {platform}: fed {} events, the emulator received {got}",
                fed.0
            ));
        }
        let d = |k: &str| c.get(k).cloned().unwrap_or_else(|| "n/a".into());
        rows.push(vec![
            format!("{platform}, gzip on"),
            format!("{} ({:.1} s)", fed.0, options.steady_seconds),
            got.to_string(),
            d("delay_p50_ms"),
            d("delay_p90_ms"),
            d("delay_p99_ms"),
            d("delay_max_ms"),
            format!("{:.0}", fed.1.as_secs_f64() * 1e3),
            fmt_opt(run.cpu, 2),
            fmt_opt(mib(run.max_rss_kib), 1),
        ]);
    }
    println!(
        "\nSteady rate: {} events/s, linger_ms = {}, max_events = {}; latency = arrival at the \
         emulator minus the event's timestamp (set when written to forward's stdin); target \
         p99 <= linger + 50 ms = {} ms",
        options.steady_rate,
        options.linger_ms,
        options.max_events,
        options.linger_ms + 50
    );
    print_table(
        &[
            "platform",
            "fed",
            "received",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "writer max lag ms",
            "CPU s",
            "peak RSS MiB",
        ],
        &rows,
    );
    Ok(())
}

fn outage(options: &Options, b: &mut Bench) -> Result<(), String> {
    let mut rows = Vec::new();
    let seconds = options.outage_after + options.outage_secs + options.outage_tail;
    for platform in &options.platforms {
        for disk in [false, true] {
            let mut fed = (0, Duration::ZERO);
            let feed = Input::Pipe(Box::new(|pipe| {
                fed = paced_feed(pipe, options.steady_rate, seconds, 0)?;
                Ok(())
            }));
            let extra = vec![
                "--outage-after-secs".to_owned(),
                options.outage_after.to_string(),
                "--outage-secs".to_owned(),
                options.outage_secs.to_string(),
            ];
            let mut sink = settings(options, true, options.outage_max_attempts);
            if disk {
                sink = with_disk(sink, b.out.join("data-outage"));
            }
            let (run, c) = one_run(b, "outage", platform, &extra, &sink, feed)?;
            let got: u64 = c
                .get("accepted_events")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let t = |k: &str| run.total(k).map_or("n/a".into(), |v| v.to_string());
            let total = |k: &str| run.total(k).unwrap_or(0);
            let accounted =
                total("delivered") + total("failed") + total("dropped") + total("buffered");
            if accounted != fed.0 {
                b.failures.push(format!(
                    "outage {platform}: fed {} events but delivered+failed+dropped+buffered = \
                     {accounted}",
                    fed.0
                ));
            }
            if disk && total("delivered") != fed.0 {
                b.failures.push(format!(
                    "outage {platform}, disk buffer: fed {} events, delivered {}",
                    fed.0,
                    total("delivered")
                ));
            }
            rows.push(vec![
                format!(
                    "{platform}, gzip on, {} buffer",
                    if disk { "disk" } else { "memory" }
                ),
                fed.0.to_string(),
                t("delivered"),
                t("retried"),
                t("dropped"),
                t("failed"),
                got.to_string(),
                c.get("rejected").cloned().unwrap_or_default(),
                format!("{:.1}", fed.1.as_secs_f64()),
                format!("{:.1}", run.wall.as_secs_f64()),
                fmt_opt(mib(run.max_rss_kib), 1),
            ]);
        }
    }
    println!(
        "\nOutage: paced feed at {} events/s for {seconds:.0} s; the emulator answers 503 from \
         {:.0} s to {:.0} s after it started; max_attempts = {}. Memory buffer: forward waits \
         while the buffer is full until the circuit opens, then drops (counted); disk buffer: \
         events wait on disk and are all delivered after the outage",
        options.steady_rate,
        options.outage_after,
        options.outage_after + options.outage_secs,
        options
            .outage_max_attempts
            .map_or("default (6)".into(), |n| n.to_string()),
    );
    print_table(
        &[
            "platform",
            "fed",
            "delivered",
            "retried (requests)",
            "dropped",
            "failed",
            "emulator accepted",
            "emulator 503s",
            "writer max lag s",
            "forward wall s",
            "peak RSS MiB",
        ],
        &rows,
    );
    Ok(())
}

/// (a) The same events with a memory and a disk buffer, alternating, side by side.
fn disk_vs_memory(options: &Options, b: &mut Bench, file: &Path) -> Result<(), String> {
    let mut cpu = [Vec::new(), Vec::new()];
    let mut wall = [Vec::new(), Vec::new()];
    let mut rss = [Vec::new(), Vec::new()];
    for run_index in 1..=options.runs {
        for (k, disk) in [false, true].into_iter().enumerate() {
            let mut sink = settings(options, false, None);
            if disk {
                sink = with_disk(sink, b.out.join("data-disk"));
            }
            let (run, counters) = one_run(b, "buffer", "splunk", &[], &sink, Input::File(file))?;
            let got: u64 = counters
                .get("accepted_events")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let label = if disk { "disk" } else { "memory" };
            eprintln!(
                "xtask bench: {label} buffer run {run_index}/{}: {:.2} s wall, {} CPU s, {} MiB, \
                 received {got}",
                options.runs,
                run.wall.as_secs_f64(),
                fmt_opt(run.cpu, 2),
                fmt_opt(mib(run.max_rss_kib), 1)
            );
            if got != options.events || !run.exit_ok {
                b.failures.push(format!(
                    "{label} buffer run {run_index}: received {got} of {}",
                    options.events
                ));
            }
            cpu[k].extend(run.cpu);
            wall[k].push(run.wall.as_secs_f64());
            rss[k].extend(mib(run.max_rss_kib));
        }
    }
    let memory_cpu = median(cpu[0].clone());
    let rows: Vec<Vec<String>> = ["memory", "disk"]
        .iter()
        .enumerate()
        .map(|(k, label)| {
            let c = median(cpu[k].clone());
            vec![
                (*label).to_owned(),
                fmt_opt(c, 2),
                fmt_opt(memory_cpu.zip(c).map(|(m, c)| c / m), 2),
                fmt_opt(median(wall[k].clone()), 2),
                fmt_opt(median(rss[k].clone()), 1),
            ]
        })
        .collect();
    println!(
        "\nBuffers: {} events to Splunk (gzip off), memory and disk buffer runs alternating, \
         medians of {} each; goal: disk <= 1.8x memory's CPU seconds, peak RSS <= 64 MiB",
        options.events, options.runs
    );
    print_table(
        &["buffer", "CPU s", "x memory", "wall s", "peak RSS MiB"],
        &rows,
    );
    Ok(())
}

/// (b) A healthy sink alone, and beside a hung one (accepts TCP, never answers; disk
/// buffer), alternating: the healthy sink's throughput, from forward's start to its last
/// delivery. Also with input paced below the disk buffer's full speed, where the hung
/// neighbour should cost the healthy sink nothing.
fn hung_neighbour(options: &Options, b: &mut Bench, file: &Path) -> Result<(), String> {
    // Connections complete in the kernel's backlog; nothing ever answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let port = hung.local_addr().map_err(|e| e.to_string())?.port();
    let neighbour = |buffer: &str| {
        format!(
            "name = \"hung\"\nplatform = \"splunk\"\nendpoint = \"https://127.0.0.1:{port}\"\n\
             token = {{ env = \"{}\" }}\nca_file = \"{{ca_file}}\"\nevents = [\"*\"]\n\
             buffer = {buffer}\nattempt_timeout_ms = 2000\n",
            procs::TOKEN_ENV
        )
    };
    let disk = neighbour("{ type = \"disk\" }");
    let paced = format!("input paced at {} events/s", options.hung_paced_rate);
    // (label, the hung neighbour, paced input); each ratio is to the first row with the
    // same input.
    let variants = [
        ("alone".to_owned(), None, false),
        (
            "beside a hung sink (disk buffer)".to_owned(),
            Some(disk.clone()),
            false,
        ),
        (
            "beside a hung sink (memory, drop_newest)".to_owned(),
            Some(neighbour(
                "{ type = \"memory\", when_full = \"drop_newest\" }",
            )),
            false,
        ),
        (format!("alone, {paced}"), None, true),
        (
            format!("beside a hung sink (disk buffer), {paced}"),
            Some(disk),
            true,
        ),
    ];
    let lines = Lines::read(file)?;
    let mut rates = vec![Vec::new(); variants.len()];
    for run_index in 1..=options.runs {
        for (k, (label, neighbour, paced)) in variants.iter().enumerate() {
            let mut sink = settings(options, false, None);
            if neighbour.is_some() {
                sink.data_dir = Some(b.out.join("data-hung"));
                sink.neighbour = neighbour.clone();
            }
            let input = if *paced {
                let rate = options.hung_paced_rate;
                let lines = &lines;
                Input::Pipe(Box::new(move |pipe| lines.feed(pipe, rate)))
            } else {
                Input::File(file)
            };
            let (run, counters) = one_run(b, "hung", "splunk", &[], &sink, input)?;
            let got: u64 = counters
                .get("accepted_events")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let seconds = run.last_success("bench").map(|t| t - run.started_at);
            let rate = seconds.map(|s| options.events as f64 / s);
            eprintln!(
                "xtask bench: healthy sink {label} run {run_index}/{}: {} s to its last \
                 delivery, forward {:.2} s wall, received {got}",
                options.runs,
                fmt_opt(seconds, 2),
                run.wall.as_secs_f64()
            );
            if got != options.events {
                b.failures.push(format!(
                    "hung neighbour run {run_index}: the healthy sink received {got} of {}",
                    options.events
                ));
            }
            rates[k].extend(rate);
        }
    }
    drop(hung);
    let alone = median(rates[0].clone());
    let alone_paced = median(rates[3].clone());
    println!(
        "\nHung neighbour: {} events to a healthy Splunk sink alone and beside a hung one (accepts \
         TCP, never answers; attempt_timeout_ms = 2000), alternating, medians of {}; the \
         healthy sink's events/s from forward's start to its last delivery (paced rows: ratio \
         to alone at the same pace); goal: ratio >= 0.8",
        options.events, options.runs
    );
    let rows: Vec<Vec<String>> = variants
        .iter()
        .zip(&rates)
        .map(|((label, _, paced), r)| {
            let rate = median(r.clone());
            let base = if *paced { alone_paced } else { alone };
            vec![
                label.clone(),
                fmt_opt(rate, 0),
                fmt_opt(base.zip(rate).map(|(a, h)| h / a), 2),
            ]
        })
        .collect();
    print_table(&["healthy sink", "events/s", "ratio to alone"], &rows);
    Ok(())
}
