//! `siem forward`'s progress: a progress bar (indicatif) for a person at a terminal, a
//! plain line every few seconds for a log file or a pipe, where a redrawn bar would be
//! noise.

use std::cell::Cell;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use siem_dispatch::Dispatcher;

/// How often the progress is reported when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(5);
/// How often the bar is redrawn on a terminal.
const BAR_EVERY: Duration = Duration::from_millis(250);

/// Where progress goes.
#[derive(Debug)]
pub enum Progress {
    /// A bar redrawn in place on the terminal.
    Bar(indicatif::ProgressBar),
    /// A line every `every` on stderr.
    Lines { every: Duration },
}

impl Progress {
    /// A bar when stderr is a terminal, log lines every `log_every` otherwise.
    pub fn for_stderr(log_every: Duration) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            {
                bar.set_style(style);
            }
            Progress::Bar(bar)
        } else {
            Progress::Lines { every: log_every }
        }
    }

    /// Reports until dropped (it runs beside the input, in a `select!`): lines read so
    /// far (`lines`, updated by the reader) and the dispatcher's counters.
    pub async fn run(&self, dispatcher: &Dispatcher, lines: &Cell<u64>, started: Instant) {
        let every = match self {
            Progress::Bar(_) => BAR_EVERY,
            Progress::Lines { every } => *every,
        };
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate: nothing to say yet.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let t = dispatcher.stats().totals;
            let message = format!(
                "{} lines read, {} queued, {} delivered, {} failed, {} dropped ({})",
                lines.get(),
                t.queued,
                t.delivered,
                t.failed,
                t.dropped,
                rate(t.delivered, started.elapsed())
            );
            match self {
                Progress::Bar(bar) => {
                    bar.set_message(message);
                    bar.tick();
                }
                Progress::Lines { .. } => eprintln!("siem forward: {message}"),
            }
        }
    }

    /// Removes the bar before the report is printed.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `12,345 events/s`-style rate of `events` over `elapsed` (whole events per second).
pub fn rate(events: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return "– events/s".to_owned();
    }
    format!("{:.0} events/s", events as f64 / secs)
}
