//! Progress: an `indicatif` bar per source when stderr is a terminal (several sources share
//! one multi-bar display), a periodic log line otherwise; and the `tracing` subscriber, whose
//! lines are printed above the bars instead of through them. [`ProgressObserver`] shows a
//! pipeline's progress as it observes it.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use oktaflow_pipeline::{Committed, PipelineError, PipelineObserver, RunSummary, Started};
use tracing::info;
use tracing_subscriber::fmt::MakeWriter;

use crate::logging;

/// How often the plain progress line is logged when there is no bar.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

/// Where log lines and the progress bars meet: while a bar is shown, log lines are printed
/// above the bars (they are suspended for the write).
#[derive(Clone, Debug, Default)]
pub struct Console {
    bars: MultiProgress,
    shown: Arc<AtomicUsize>,
}

impl Console {
    /// Installs the global `tracing` subscriber with [`logging::init`] in the format chosen
    /// on the command line ([`logging::format`]), writing through this console so that lines
    /// are printed above the bar; levels from `RUST_LOG` (default `default_level`, e.g.
    /// `info`). Returns the console to hand to [`Progress`]. A subscriber already installed
    /// (e.g. JSON lines by `main`) is kept.
    pub fn init(default_level: &str) -> Console {
        let console = Console::default();
        logging::init(logging::format(), default_level, console.clone());
        console
    }
}

/// One log line's writer (see [`Console`]).
#[derive(Debug)]
pub struct ConsoleWriter {
    bars: Option<MultiProgress>,
}

impl Write for ConsoleWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &self.bars {
            Some(bars) => bars.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for Console {
    type Writer = ConsoleWriter;

    fn make_writer(&'a self) -> ConsoleWriter {
        ConsoleWriter {
            bars: (self.shown.load(Ordering::Acquire) > 0).then(|| self.bars.clone()),
        }
    }
}

/// The progress of one run: events written, their rate and the `published` time reached.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    console: Console,
    source: String,
    started: Instant,
    last_log: Instant,
    /// `published` of the first event of this run: the bar's origin.
    origin: Option<DateTime<Utc>>,
    position: Option<DateTime<Utc>>,
    written: u64,
    caught_up: bool,
}

impl Progress {
    /// Starts showing progress for `source`: a bar when stderr is a terminal, an `info` line
    /// every [`LOG_EVERY`] otherwise.
    pub fn new(console: &Console, source: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = console.bars.add(ProgressBar::new(1));
            console.shown.fetch_add(1, Ordering::AcqRel);
            let style = ProgressStyle::with_template(
                "{spinner:.green} {prefix} [{elapsed_precise}] [{bar:30.cyan/blue}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(source.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            console: console.clone(),
            source: source.to_string(),
            started: now,
            last_log: now,
            origin: None,
            position: None,
            written: 0,
            caught_up: false,
        }
    }

    /// Records a committed page: `written` events in total so far, the latest `published`
    /// reached, and whether the source is caught up.
    pub fn update(&mut self, written: u64, latest: Option<DateTime<Utc>>, caught_up: bool) {
        self.written = written;
        self.caught_up = caught_up;
        if let Some(latest) = latest {
            self.origin.get_or_insert(latest);
            self.position = Some(self.position.map_or(latest, |p| p.max(latest)));
        }
        let rate = self.rate();
        if let Some(bar) = &self.bar {
            let (done, total) = self.fraction();
            bar.set_length(total.max(1));
            bar.set_position(done);
            bar.set_message(format!(
                "{} events, {:.0}/s, at {}{}",
                self.written,
                rate,
                self.position_text(),
                if caught_up { " (caught up)" } else { "" }
            ));
        } else if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            info!(
                source = %self.source,
                events = self.written,
                events_per_sec = rate.round() as u64,
                position = %self.position_text(),
                caught_up,
                "progress"
            );
        }
    }

    /// Removes the bar (the summary follows on a clean line); later calls do nothing.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            if !bar.is_finished() {
                bar.finish_and_clear();
                self.console.bars.remove(bar);
                self.console.shown.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    fn rate(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.0 {
            self.written as f64 / secs
        } else {
            0.0
        }
    }

    /// Seconds from the first event of the run to the position, and to now.
    fn fraction(&self) -> (u64, u64) {
        match (self.origin, self.position) {
            (Some(origin), Some(position)) if !self.caught_up => {
                let done = (position - origin).num_seconds().max(0) as u64;
                let total = (Utc::now() - origin).num_seconds().max(1) as u64;
                (done.min(total), total)
            }
            _ => (1, 1),
        }
    }

    fn position_text(&self) -> String {
        self.position.map_or_else(
            || "-".to_string(),
            |p| p.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Shows a pipeline's [`Progress`]: the bar (or log line) appears when the run starts, moves
/// with every committed batch and is removed when the run ends.
#[derive(Debug)]
pub struct ProgressObserver {
    console: Console,
    progress: Mutex<Option<Progress>>,
}

impl ProgressObserver {
    /// Progress shown through `console`.
    pub fn new(console: &Console) -> Arc<ProgressObserver> {
        Arc::new(ProgressObserver {
            console: console.clone(),
            progress: Mutex::new(None),
        })
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Option<Progress>> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finish(&self) {
        if let Some(progress) = self.progress().take() {
            progress.finish();
        }
    }
}

impl PipelineObserver for ProgressObserver {
    fn started(&self, started: &Started<'_>) {
        *self.progress() = Some(Progress::new(&self.console, started.source));
    }

    fn batch_committed(&self, batch: &Committed<'_>) {
        if let Some(progress) = self.progress().as_mut() {
            progress.update(batch.written_total, batch.latest_published, batch.caught_up);
        }
    }

    fn halted(&self, _source: &str, _error: &PipelineError) {
        self.finish();
    }

    fn stopped(&self, _summary: &RunSummary) {
        self.finish();
    }
}
