//! The pipeline of one source: fetch a page → normalize each event → write the batch to every
//! sink → checkpoint → next.
//!
//! Three stages run at once, each holding a bounded number of items: the fetch task
//! ([`prefetch`], pages ahead), the normalize stage ([`normalize_stage`], one batch ahead, on up
//! to one thread per core) and the writer (this module's loop: sinks, dead letters, checkpoint).
//! Normalizing the next batch overlaps with writing and fsyncing this one; commits stay
//! strictly in page order, one batch after the other.
//!
//! Exactly once, across crashes at any instant:
//!
//! * On start, every sink (and the dead-letter file) is handed the position recorded in the
//!   source's checkpoint and makes its store consistent with it (the file sink truncates what
//!   was written after it); fetching resumes from the checkpoint's [`SourceState`].
//! * A page's documents go to all sinks concurrently ([`fanout`]); a retryable sink error is
//!   retried with the same batch and nothing more is fetched meanwhile (bounded memory).
//! * Events the normalizer refuses, and documents a store refuses for good, are written to
//!   the dead-letter file ([`dead_letter`]) and fsynced.
//! * Only then `{state_after, sink positions, dead-letter position}` is saved atomically.
//!   Pages already fetched are normalized and committed together (up to
//!   [`MAX_BATCH_EVENTS`]), so a backfill pays one round of fsyncs per group. The next batch
//!   is written only after this checkpoint is saved (the file sink's rotation relies on it).
//!   The first run saves its starting checkpoint before its first write, so that a crash
//!   right after that write is recovered like any other.
//!
//! A halt of the source (401, 403, 404, 400) ends the run with [`PipelineError::Halt`],
//! leaving the last checkpoint intact. A stop request (signal) is honoured at a page
//! boundary: a fetch in flight is abandoned (nothing of it was written), a write in flight is
//! finished and committed.

pub mod batch;
pub mod dead_letter;
pub mod fanout;
pub mod monitor;
pub mod normalize_stage;
pub mod prefetch;
pub mod progress;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use oktaflow_fetch::{
    Checkpoint, CheckpointError, CheckpointStore, FetchError, FetchErrorKind, FetchStatsSnapshot,
    LogSource, RetryPolicy, SourceState, StartPoint,
};
use oktaflow_normalize::Normalizer;
use oktaflow_sink::{Sink, SinkError};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::config::SourceConfig;
use crate::exit::Exit;
use dead_letter::{DeadLetterFile, DEAD_LETTER_KEY};
use fanout::{write_to_all, FanOutError};
use monitor::SourceMonitor;
use normalize_stage::NormalizeStage;
use prefetch::Prefetcher;
pub use progress::{Console, Progress};

/// Pages fetched ahead of the one being written (bounds memory: this many pages plus the
/// one in flight and the batch being written).
pub const PREFETCH_PAGES: usize = 2;
/// At most this many threads normalize one batch.
pub const MAX_NORMALIZE_THREADS: usize = 4;
/// Pages already fetched are committed together, up to this many events per batch: one
/// round of fsyncs (sinks, checkpoint) for several pages while backfilling.
pub const MAX_BATCH_EVENTS: usize = 3_000;

/// File name of the dead-letter file in the state directory.
pub const DEAD_LETTER_FILE: &str = "dead-letter.ndjson";

/// When a run ends by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopWhen {
    /// Never: poll forever (until a stop request or a halt).
    Never,
    /// After the first page that is caught up (`--once`).
    CaughtUp,
    /// This long after the first caught-up page (the demo's live follow).
    FollowFor(Duration),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Caught up (`StopWhen::CaughtUp`).
    CaughtUp,
    /// The follow time after catching up passed.
    FollowDone,
    /// A stop was requested (SIGINT/SIGTERM).
    Requested,
}

/// Settings of a run besides the source and the sinks.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Where the checkpoint and the dead-letter file live.
    pub state_dir: PathBuf,
    /// When to end.
    pub stop_when: StopWhen,
    /// Backoff between retries of a batch a sink could not write.
    pub sink_retry: RetryPolicy,
    /// Normalizer options (GeoIP, `event.original`, ...).
    pub normalize: oktaflow_normalize::Options,
    /// The dead-letter file's name in `state_dir` (sources sharing a state directory need
    /// one each: its offset is part of each source's checkpoint).
    pub dead_letter_file: String,
    /// Where metrics, readiness and the silence alert are recorded (none: not recorded).
    pub monitor: Option<Arc<SourceMonitor>>,
}

impl PipelineOptions {
    /// Defaults: run until stopped, sink retries from 500 ms up to 30 s.
    pub fn new(state_dir: impl Into<PathBuf>) -> PipelineOptions {
        PipelineOptions {
            state_dir: state_dir.into(),
            stop_when: StopWhen::Never,
            sink_retry: RetryPolicy {
                base: Duration::from_millis(500),
                cap: Duration::from_secs(30),
            },
            normalize: oktaflow_normalize::Options::default(),
            dead_letter_file: DEAD_LETTER_FILE.to_string(),
            monitor: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Events written to the sinks (by this process).
    pub written: u64,
    /// Written events by `event.category`.
    pub by_category: BTreeMap<&'static str, u64>,
    /// Events the normalizer refused (dead-lettered).
    pub rejected: u64,
    /// Documents a store refused for good (dead-lettered).
    pub refused_by_sinks: u64,
    /// Pages committed.
    pub pages: u64,
    /// Latest `published` time written.
    pub position: Option<DateTime<Utc>>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Why it ended.
    pub stopped: StopReason,
    /// The source's request counters.
    pub fetch: FetchStatsSnapshot,
    /// The dead-letter file.
    pub dead_letter_path: PathBuf,
    /// The checkpoint file.
    pub checkpoint_path: PathBuf,
}

/// Why a run failed. `Display` is one line; [`PipelineError::exit`] maps it to the exit code.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The sinks or paths are configured inconsistently.
    #[error("{0}")]
    Config(String),
    /// The checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A sink (or the dead-letter file) could not be made consistent with the checkpoint.
    #[error("{0}")]
    Recover(SinkError),
    /// A sink failed in a way retrying cannot fix while writing.
    #[error("{0}")]
    Write(SinkError),
    /// The source halted on an error retrying cannot fix (or its configuration is invalid).
    #[error(transparent)]
    Halt(#[from] FetchError),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PipelineError {
    /// The exit code: 2 for configuration and state problems found before any work, 3 for an
    /// Okta halt, 4 for I/O failures while running.
    pub fn exit(&self) -> Exit {
        match self {
            PipelineError::Config(_) | PipelineError::Recover(_) => Exit::Usage,
            PipelineError::Checkpoint(CheckpointError::Io { .. }) => Exit::Io,
            PipelineError::Checkpoint(_) => Exit::Usage,
            PipelineError::Halt(e) if e.kind() == FetchErrorKind::Config => Exit::Usage,
            PipelineError::Halt(_) => Exit::OktaHalt,
            PipelineError::Write(_) | PipelineError::Internal(_) => Exit::Io,
        }
    }
}

/// One source delivering to its sinks.
pub struct Pipeline {
    source: SourceConfig,
    sinks: Vec<Box<dyn Sink>>,
    options: PipelineOptions,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sinks: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        f.debug_struct("Pipeline")
            .field("source", &self.source.name)
            .field("sinks", &sinks)
            .field("options", &self.options)
            .finish()
    }
}

impl Pipeline {
    /// A pipeline from `source` to `sinks`. Refuses an empty sink list and two sinks with the
    /// same name (they would share one checkpoint position).
    pub fn new(
        source: SourceConfig,
        sinks: Vec<Box<dyn Sink>>,
        options: PipelineOptions,
    ) -> Result<Pipeline, PipelineError> {
        if sinks.is_empty() {
            return Err(PipelineError::Config(
                "no sink configured; add --sink file:PATH or --sink stdout".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for sink in &sinks {
            if !names.insert(sink.name()) {
                return Err(PipelineError::Config(format!(
                    "sink {} is configured twice; list each sink once",
                    sink.name()
                )));
            }
        }
        Ok(Pipeline {
            source,
            sinks,
            options,
        })
    }

    /// Runs until the stop condition, a stop request (`stop` turns `true`) or a failure; the
    /// outcome is recorded in the options' monitor.
    pub async fn run(
        self,
        console: &Console,
        stop: watch::Receiver<bool>,
    ) -> Result<RunSummary, PipelineError> {
        let monitor = self.options.monitor.clone();
        let result = self.run_to_end(console, stop).await;
        if let Some(monitor) = monitor {
            match &result {
                Ok(_) => monitor.stopped(),
                Err(error) => monitor.halted(&error.to_string()),
            }
        }
        result
    }

    async fn run_to_end(
        self,
        console: &Console,
        stop: watch::Receiver<bool>,
    ) -> Result<RunSummary, PipelineError> {
        let Pipeline {
            source: config,
            mut sinks,
            options,
        } = self;
        let started = Instant::now();
        let store = CheckpointStore::new(&options.state_dir, &config.name)?;
        let dead_path = options.state_dir.join(&options.dead_letter_file);
        let monitor = options.monitor.as_deref();
        let mut dead = DeadLetterFile::new(&dead_path, &config.name).map_err(|e| {
            PipelineError::Config(format!("dead-letter file {}: {e}", dead_path.display()))
        })?;
        for sink in &sinks {
            if sink.name() == format!("file:{}", dead.path().display()) {
                return Err(PipelineError::Config(format!(
                    "sink {} is the dead-letter file; write events to another file",
                    sink.name()
                )));
            }
        }
        let loaded = blocking({
            let store = store.clone();
            move || store.load()
        })
        .await??;

        // Make every store consistent with the checkpoint before anything is fetched.
        let positions = loaded.as_ref().map(|c| &c.sinks);
        for sink in &mut sinks {
            let position = positions.and_then(|p| p.get(sink.name()));
            sink.recover(position)
                .await
                .map_err(PipelineError::Recover)?;
        }
        dead.recover(positions.and_then(|p| p.get(DEAD_LETTER_KEY)))
            .await
            .map_err(PipelineError::Recover)?;

        let start = match &loaded {
            Some(checkpoint) => StartPoint::Resume(checkpoint.source.clone()),
            None => StartPoint::Since(config.start_from),
        };
        let resumed = loaded.is_some();
        let source = LogSource::new(config.client.clone(), start, config.options.clone())?;
        info!(
            source = %config.name,
            org = source.org(),
            resumed,
            sinks = ?sinks.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "pipeline started"
        );
        // A first run checkpoints its starting point before its first write.
        let mut unsaved_start: Option<SourceState> = (!resumed).then(|| source.state().clone());
        if let Some(monitor) = monitor {
            let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
            monitor.attach(source.stats(), &names);
        }
        let prefetcher = Prefetcher::start(source, PREFETCH_PAGES, options.monitor.clone());
        let mut batches = NormalizeStage::start(
            prefetcher,
            Normalizer::new(options.normalize.clone()),
            normalize_threads(),
            MAX_BATCH_EVENTS,
        );

        let mut progress = Progress::new(console, &config.name);
        let mut stop = stop;
        let mut summary = RunSummary {
            written: 0,
            by_category: BTreeMap::new(),
            rejected: 0,
            refused_by_sinks: 0,
            pages: 0,
            position: None,
            elapsed: Duration::ZERO,
            stopped: StopReason::Requested,
            fetch: FetchStatsSnapshot::default(),
            dead_letter_path: dead.path().to_path_buf(),
            checkpoint_path: store.path().to_path_buf(),
        };
        let mut follow_until: Option<tokio::time::Instant> = None;

        let stopped = loop {
            if *stop.borrow() {
                break StopReason::Requested;
            }
            let deadline = follow_until;
            let waited = Instant::now();
            let batch = tokio::select! {
                batch = batches.next() => batch?,
                Ok(()) = stop.changed() => break StopReason::Requested,
                () = sleep_until_opt(deadline) => break StopReason::FollowDone,
            };

            if let Some(state) = unsaved_start.take() {
                let mut sinks_at_start = BTreeMap::new();
                for sink in &mut sinks {
                    let ack = sink.write_batch(&[]).await.map_err(PipelineError::Write)?;
                    sinks_at_start.insert(sink.name().to_string(), ack.position);
                }
                let dead_at_start = dead.commit().await.map_err(PipelineError::Write)?;
                sinks_at_start.insert(DEAD_LETTER_KEY.to_string(), dead_at_start);
                save(&store, Checkpoint::new(state, sinks_at_start)).await?;
            }

            let committing = Instant::now();
            for refusal in &batch.refused {
                dead.reject_event(&refusal.event.text(), &refusal.reason, batch.received_at);
            }
            let documents = &batch.documents;
            let acks = match write_to_all(&mut sinks, documents, options.sink_retry, &stop, monitor)
                .await
            {
                Ok(acks) => acks,
                Err(FanOutError::Stopped) => break StopReason::Requested,
                Err(FanOutError::Sink(error)) => return Err(PipelineError::Write(error)),
            };
            let wrote = committing.elapsed();
            let mut positions = BTreeMap::new();
            let mut refused_by_sinks = 0;
            let per_sink: Vec<(&str, usize, usize)> = sinks
                .iter()
                .zip(&acks)
                .map(|(sink, ack)| (sink.name(), documents.len(), ack.rejected.len()))
                .collect();
            for (sink, ack) in sinks.iter().zip(acks) {
                for rejected in &ack.rejected {
                    let raw = batch
                        .raw_of(&rejected.id)
                        .map(|raw| raw.text())
                        .unwrap_or_default();
                    dead.reject_document(
                        sink.name(),
                        &rejected.id,
                        &raw,
                        &rejected.reason,
                        batch.received_at,
                    );
                    refused_by_sinks += 1;
                }
                positions.insert(sink.name().to_string(), ack.position);
            }
            if dead.pending() > 0 {
                warn!(
                    source = %config.name,
                    count = dead.pending(),
                    file = %dead.path().display(),
                    "events dead-lettered"
                );
            }
            let dead_position = dead.commit().await.map_err(PipelineError::Write)?;
            positions.insert(DEAD_LETTER_KEY.to_string(), dead_position);
            let checkpointing = Instant::now();
            let caught_up = batch.caught_up;
            save(
                &store,
                Checkpoint::new(batch.state_after.clone(), positions),
            )
            .await?;
            let refused = batch.refused.len();
            debug!(
                source = %config.name,
                events = documents.len(),
                waited_ms = committing.duration_since(waited).as_secs_f64() * 1e3,
                normalize_ms = batch.normalize_time.as_secs_f64() * 1e3,
                write_ms = wrote.as_secs_f64() * 1e3,
                checkpoint_ms = checkpointing.elapsed().as_secs_f64() * 1e3,
                "batch committed"
            );
            if let Some(monitor) = monitor {
                monitor.stage("normalize", batch.normalize_time);
                monitor.stage("write", wrote);
                monitor.stage("checkpoint", checkpointing.elapsed());
                monitor.stage("commit", committing.elapsed());
                monitor.committed(documents.len(), refused, &per_sink, batch.latest_published);
            }

            summary.pages += 1;
            summary.written += documents.len() as u64;
            summary.rejected += refused as u64;
            summary.refused_by_sinks += refused_by_sinks;
            for category in &batch.categories {
                *summary.by_category.entry(category).or_default() += 1;
            }
            if let Some(latest) = batch.latest_published {
                summary.position = Some(summary.position.map_or(latest, |p| p.max(latest)));
            }
            progress.update(summary.written, batch.latest_published, caught_up);

            if caught_up {
                match options.stop_when {
                    StopWhen::CaughtUp => break StopReason::CaughtUp,
                    StopWhen::FollowFor(follow) if follow_until.is_none() => {
                        info!(source = %config.name, follow_secs = follow.as_secs_f64(), "caught up; following live events");
                        follow_until = Some(tokio::time::Instant::now() + follow);
                    }
                    _ => {}
                }
            }
            if follow_until.is_some_and(|t| tokio::time::Instant::now() >= t) {
                break StopReason::FollowDone;
            }
        };
        progress.finish();
        summary.stopped = stopped;
        summary.elapsed = started.elapsed();
        summary.fetch = batches.stats().snapshot();
        drop(batches);
        info!(
            source = %config.name,
            written = summary.written,
            dead_lettered = summary.rejected + summary.refused_by_sinks,
            pages = summary.pages,
            requests = summary.fetch.requests,
            rate_limited = summary.fetch.rate_limited,
            retries = summary.fetch.retries,
            stopped = ?summary.stopped,
            "pipeline stopped"
        );
        Ok(summary)
    }
}

/// Threads that normalize a batch: one per core, at most [`MAX_NORMALIZE_THREADS`]. While
/// the writer waits for fsyncs or a store, the other cores would otherwise sit idle.
fn normalize_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_NORMALIZE_THREADS)
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Saves a checkpoint off the async threads (it fsyncs twice).
async fn save(store: &CheckpointStore, checkpoint: Checkpoint) -> Result<(), PipelineError> {
    let store = store.clone();
    blocking(move || store.save(&checkpoint)).await??;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PipelineError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PipelineError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use chrono::TimeDelta;
    use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions};
    use oktaflow_sim::{SimConfig, Simulator};
    use oktaflow_sink::{Ack, Document, ExistingFile, FileSink, Rejected};

    use super::*;

    /// Accepts documents but refuses every `every`-th one for good, like a mapping error.
    struct Refusing {
        every: usize,
        seen: usize,
    }

    #[async_trait::async_trait]
    impl Sink for Refusing {
        fn name(&self) -> &str {
            "refusing"
        }
        async fn recover(&mut self, position: Option<&serde_json::Value>) -> Result<(), SinkError> {
            self.seen = position.and_then(|p| p["seen"].as_u64()).unwrap_or(0) as usize;
            Ok(())
        }
        async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
            let mut rejected = Vec::new();
            for doc in batch {
                self.seen += 1;
                if self.seen.is_multiple_of(self.every) {
                    rejected.push(Rejected {
                        id: doc.id.clone(),
                        reason: "mapper_parsing_exception".into(),
                    });
                }
            }
            Ok(Ack {
                position: serde_json::json!({ "seen": self.seen }),
                rejected,
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn store_refusals_are_dead_lettered_and_every_position_checkpointed() {
        let sim = Simulator::start(
            SimConfig {
                events: 300,
                late_fraction: 0.0,
                rate_limit_per_minute: Some(60_000),
                api_token: "t".into(),
                ..SimConfig::default()
            },
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut client = ClientConfig::new(
            OrgUrl::from_base_url(&sim.base_url()).unwrap(),
            Auth::ApiToken(Secret::new("t")),
        );
        client.page_size = 100;
        client.rate_limit_share = 1.0;
        let source = SourceConfig {
            name: "okta".into(),
            client,
            start_from: sim.oldest_published().unwrap() - TimeDelta::seconds(1),
            options: SourceOptions::default(),
            silence_alert: None,
        };
        let out = dir.path().join("out.ndjson");
        let sinks: Vec<Box<dyn Sink>> = vec![
            Box::new(FileSink::new(&out, ExistingFile::Refuse).unwrap()),
            Box::new(Refusing { every: 10, seen: 0 }),
        ];
        let state = dir.path().join("state");
        let mut options = PipelineOptions::new(&state);
        options.stop_when = StopWhen::CaughtUp;
        let (_tx, stop) = watch::channel(false);
        let pipeline = Pipeline::new(source, sinks, options).unwrap();
        let summary = pipeline.run(&Console::default(), stop).await.unwrap();

        assert_eq!(summary.stopped, StopReason::CaughtUp);
        assert_eq!(summary.written, 300);
        assert_eq!(summary.rejected, 0);
        assert_eq!(summary.refused_by_sinks, 30);
        assert_eq!(summary.by_category.values().sum::<u64>(), 300);
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 300);
        let dead_path = state.join(DEAD_LETTER_FILE);
        let dead = std::fs::read_to_string(&dead_path).unwrap();
        let letters: Vec<serde_json::Value> = dead
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(letters.len(), 30);
        let delivered = sim.delivered_order();
        for (i, letter) in letters.iter().enumerate() {
            let id = delivered[i * 10 + 9].as_str();
            assert_eq!(letter["id"], id);
            assert_eq!(letter["sink"], "refusing");
            assert_eq!(letter["source"], "okta");
            assert_eq!(
                letter["error"],
                "refusing refused the document: mapper_parsing_exception"
            );
            let raw: serde_json::Value =
                serde_json::from_str(letter["raw"].as_str().unwrap()).unwrap();
            assert_eq!(raw["uuid"], id);
        }
        let checkpoint = CheckpointStore::new(&state, "okta")
            .unwrap()
            .load()
            .unwrap()
            .unwrap();
        assert_eq!(checkpoint.sinks["refusing"]["seen"], 300);
        assert_eq!(
            checkpoint.sinks[DEAD_LETTER_KEY]["offset"].as_u64(),
            Some(dead.len() as u64)
        );
        let out_abs = std::path::absolute(&out).unwrap();
        assert_eq!(
            checkpoint.sinks[&format!("file:{}", out_abs.display())]["offset"].as_u64(),
            Some(std::fs::metadata(&out).unwrap().len())
        );
        sim.shutdown().await;
    }
}
