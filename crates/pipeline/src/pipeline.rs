//! [`Pipeline`]: one source delivering to its sinks, exactly once.
//!
//! A run has two steps:
//!
//! 1. **Recover** (`recover`, `Writer::recover`): every sink and the dead-letter file are
//!    handed the position recorded in the source's checkpoint and make their store
//!    consistent with it (the file sink truncates what was written after it); fetching
//!    resumes from the checkpoint's [`SourceState`]. A first run saves its starting checkpoint
//!    before its first write, so that a crash right after that write is recovered like any
//!    other.
//! 2. **Commit batch after batch** (`Writer::commit_batch`, the one function that holds the
//!    key rule): the batch's documents go to every sink, dead letters are fsynced, and only
//!    then the checkpoint is saved. The next batch is taken only after that, so batch N's
//!    checkpoint is saved before batch N+1 is written (the file sink's rotation relies on it).
//!
//! A halt of the source (401, 403, 404, 400) ends the run with [`PipelineError::Halt`],
//! leaving the last checkpoint intact. A stop request is honoured at a batch boundary: a
//! fetch in flight is abandoned (nothing of it was written), a write in flight is finished and
//! committed; a sink waiting to retry is abandoned (the batch is not committed and is fetched
//! again on the next start).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use oktaflow_detect::DetectorState;

use crate::dedup_store::{DedupStateRef, DedupStore};
use crate::detect_store::{DetectStateRef, DetectStateStore, SavedSizes, StateUpdate};
use oktaflow_fetch::{FetchStatsSnapshot, LogSource, OrgUrl, SourceState, StartPoint};
use oktaflow_normalize::Normalizer;
use oktaflow_sink::{io_may_pass, BatchLimits, Document, Sink, SinkError};
use tokio::sync::watch;

use crate::batch::{Batch, BatchBuilder};
use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use crate::config::{PipelineConfig, StopWhen};
use crate::dead_letter::{DeadLetter, DeadLetterError, DeadLetterWriter, DEAD_LETTER_KEY};
use crate::fanout::{write_each, write_to_all, FanOutError, Next, OutputRetry, Retrying};
use crate::lock::StateLock;
use crate::normalize_stage::NormalizeStage;
use crate::observer::{
    AlertsCommitted, Committed, Observers, PipelineObserver, SinkCommit, StageTimes, Started,
};
use crate::prefetch::Prefetcher;
use crate::PipelineError;

/// Pages fetched ahead of the one being written (bounds memory: this many pages plus the
/// one in flight and the batches being normalized and written).
pub const PREFETCH_PAGES: usize = 2;
/// At most this many threads normalize one batch.
pub const MAX_NORMALIZE_THREADS: usize = 4;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Caught up (`StopWhen::CaughtUp`).
    CaughtUp,
    /// The follow time after catching up passed.
    FollowDone,
    /// A stop was requested.
    Requested,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The source's name.
    pub source: String,
    /// Events written to the sinks (by this process).
    pub written: u64,
    /// Events the normalizer refused (dead-lettered).
    pub rejected: u64,
    /// Documents a store refused for good (dead-lettered).
    pub refused_by_sinks: u64,
    /// Batches committed.
    pub pages: u64,
    /// Alerts the detect stage raised and committed (by this process).
    pub alerts: u64,
    /// Alerts committed by this process per `rule.id`.
    pub alerts_by_rule: BTreeMap<String, u64>,
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
    /// User and device lookups of this run (identity enrichment on and used).
    pub profile_lookups: Option<oktaflow_normalize::LookupCounts>,
}

/// The batch the pipeline aims for, from its sinks' preferences
/// ([`Sink::preferred_batch`]) within `bound` (the memory bound,
/// [`PipelineConfig::max_batch`]).
///
/// Every sink gets the same batch and the batch is committed with one checkpoint, so when
/// sinks differ one size must serve all: the pipeline takes the **largest** preference, in
/// documents and in bytes separately, then caps each by `bound`. A sink handed more than it
/// prefers still writes all of it (the network sinks cut it into requests of their own size,
/// the file sink appends it in one write), whereas a batch smaller than a sink prefers costs
/// that sink throughput (ClickHouse spends about twice the server CPU per row at 3,000 rows
/// as at 20,000). Without sinks: [`BatchLimits::DEFAULT_PREFERRED`], capped.
pub fn batch_size(
    preferences: impl IntoIterator<Item = BatchLimits>,
    bound: BatchLimits,
) -> BatchLimits {
    let largest = preferences
        .into_iter()
        .reduce(|a, b| BatchLimits {
            max_docs: a.max_docs.max(b.max_docs),
            max_bytes: a.max_bytes.max(b.max_bytes),
        })
        .unwrap_or(BatchLimits::DEFAULT_PREFERRED);
    BatchLimits {
        max_docs: largest.max_docs.min(bound.max_docs).max(1),
        max_bytes: largest.max_bytes.min(bound.max_bytes).max(1),
    }
}

/// The batch `limits` (the sinks' preference within the memory bound) of a batch written in
/// `schemas` distinct schemas: each schema holds its own copy of the batch's documents
/// (about 2.2 times the raw bytes each), so the raw bytes are divided by their number: the
/// batches of a run with sinks in two schemas hold about what one schema's do (raw + 2 ×
/// 2.2 × half ≈ 2.7 against 3.2 times the single-schema batch). Documents are not capped
/// further: memory follows bytes.
pub fn bound_for_schemas(limits: BatchLimits, schemas: usize) -> BatchLimits {
    let schemas = schemas.max(1);
    BatchLimits {
        max_docs: limits.max_docs,
        max_bytes: (limits.max_bytes / schemas).max(1),
    }
}

/// One source delivering to its sinks (see the [module documentation](self)).
pub struct Pipeline {
    pub(crate) config: PipelineConfig,
    pub(crate) sinks: Vec<Box<dyn Sink>>,
    pub(crate) alert_sinks: Vec<Box<dyn Sink>>,
    pub(crate) observers: Observers,
    /// A push source: its receiver and options ([`Pipeline::with_push`]); `None` polls.
    pub(crate) push: Option<(oktaflow_push::ReceiverConfig, crate::push::PushOptions)>,
    /// An SQS push source: its queue and options ([`Pipeline::with_sqs`]).
    pub(crate) sqs: Option<(oktaflow_sqs::SqsConfig, crate::push::PushOptions)>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sinks: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        f.debug_struct("Pipeline")
            .field("config", &self.config)
            .field("sinks", &sinks)
            .field("observers", &self.observers)
            .finish()
    }
}

impl Pipeline {
    /// A pipeline from `config`'s source to `sinks`. Refuses an empty sink list, two sinks
    /// with the same name (they would share one checkpoint position), and a sink writing one
    /// of the state directory's files or a file another sink writes
    /// ([`check_sink_files`](crate::outputs::check_sink_files)). Creates nothing.
    pub fn new(
        config: PipelineConfig,
        sinks: Vec<Box<dyn Sink>>,
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
        if !config.sink_schemas.is_empty() && config.sink_schemas.len() != sinks.len() {
            return Err(PipelineError::Config(format!(
                "{} sink schemas given for {} sinks; give one per sink (None: the source's)",
                config.sink_schemas.len(),
                sinks.len()
            )));
        }
        crate::outputs::check_sink_files(&config.state_dir, &sinks)
            .map_err(PipelineError::Config)?;
        Ok(Pipeline {
            config,
            sinks,
            alert_sinks: Vec::new(),
            observers: Observers::default(),
            push: None,
            sqs: None,
        })
    }

    /// Routes the detect stage's alerts ([`PipelineConfig::detect`]) to `alert_sinks`: they
    /// are written with each batch and their positions saved in its checkpoint, like the
    /// event sinks'. Refuses a name used twice (among all sinks) and a file written twice or
    /// in the state directory, like [`Pipeline::new`].
    pub fn with_alert_sinks(
        mut self,
        alert_sinks: Vec<Box<dyn Sink>>,
    ) -> Result<Pipeline, PipelineError> {
        let mut names: std::collections::HashSet<String> =
            self.sinks.iter().map(|s| s.name().to_string()).collect();
        for sink in &alert_sinks {
            if !names.insert(sink.name().to_string()) {
                return Err(PipelineError::Config(format!(
                    "sink {} is configured both for events and for alerts (or twice for \
                     alerts); give the alerts their own file or index",
                    sink.name()
                )));
            }
        }
        let events = self.sinks.len();
        self.sinks.extend(alert_sinks);
        let checked = crate::outputs::check_sink_files(&self.config.state_dir, &self.sinks);
        self.alert_sinks = self.sinks.split_off(events);
        checked.map_err(PipelineError::Config)?;
        Ok(self)
    }

    /// Adds an observer: it is told what the run does (observers are called in the order
    /// they were added).
    pub fn observe(&mut self, observer: Arc<dyn PipelineObserver>) -> &mut Pipeline {
        self.observers.push(observer);
        self
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.config.source.name
    }

    /// The batch this pipeline aims for ([`batch_size`] of its sinks' preferences, within
    /// the memory bound shared by the documents of every schema it writes).
    pub fn batch_limits(&self) -> BatchLimits {
        let schemas = 1 + self.config.schema_plan(self.sinks.len()).others.len();
        bound_for_schemas(
            batch_size(
                self.sinks.iter().map(|s| s.preferred_batch()),
                self.config.max_batch,
            ),
            schemas,
        )
    }

    /// Runs until the stop condition, a stop request (`stop` turns `true`) or a failure; the
    /// outcome is reported to the observers ([`PipelineObserver::stopped`] or
    /// [`PipelineObserver::halted`]).
    ///
    /// A push source ([`Pipeline::with_push`]) binds its receiver, serves it until the stop
    /// request and runs [`Pipeline::run_push`] on its deliveries.
    pub async fn run(mut self, stop: watch::Receiver<bool>) -> Result<RunSummary, PipelineError> {
        if let Some((receiver, options)) = self.push.take() {
            return self.run_receiver(receiver, options, stop).await;
        }
        if let Some((sqs, options)) = self.sqs.take() {
            return self.run_sqs(sqs, options, stop).await;
        }
        let observers = self.observers.clone();
        let source = self.config.source.name.clone();
        let result = self.run_to_end(stop).await;
        match &result {
            Ok(summary) => observers.stopped(summary),
            Err(error) => observers.halted(&source, error),
        }
        result
    }

    async fn run_to_end(self, stop: watch::Receiver<bool>) -> Result<RunSummary, PipelineError> {
        let started = Instant::now();
        let limits = self.batch_limits();
        let Pipeline {
            config,
            sinks,
            alert_sinks,
            observers,
            push: _,
            sqs: _,
        } = self;
        let name = config.source.name.clone();
        let mut writer = Writer::open(&config, sinks, alert_sinks, observers.clone())?;
        let (source, mut unsaved_start, saved_detect) = recover(&config, &mut writer).await?;
        let detector = detect_stage(&config, saved_detect)?;
        {
            let sink_names = writer.sink_names();
            observers.started(&Started {
                source: &name,
                org: source.org(),
                resumed: unsaved_start.is_none(),
                sinks: &sink_names,
                stats: source.stats(),
                batch: limits,
            });
        }
        // Identity enrichment: its sync runs beside the pipeline and stops with it.
        let (profiles, _enrich_task) = match &config.enrich {
            Some(options) => {
                let (handle, task) =
                    crate::enrich::start(&config, options, observers.clone()).await?;
                (Some(handle), Some(task))
            }
            None => (None, None),
        };
        let lookups_handle = profiles.clone();
        let mut lookups_seen = oktaflow_normalize::LookupCounts::default();
        let prefetcher = Prefetcher::start(source, PREFETCH_PAGES, Arc::new(observers.clone()));
        let mut batches = NormalizeStage::start_with(
            prefetcher,
            batch_builder(&config, writer.sinks.len()),
            limits,
            detector,
            profiles,
        );

        let mut summary = RunSummary {
            source: name.clone(),
            written: 0,
            rejected: 0,
            refused_by_sinks: 0,
            pages: 0,
            alerts: 0,
            alerts_by_rule: BTreeMap::new(),
            position: None,
            elapsed: Duration::ZERO,
            stopped: StopReason::Requested,
            fetch: FetchStatsSnapshot::default(),
            dead_letter_path: writer.dead_letter_path.clone(),
            checkpoint_path: writer.store.path().to_path_buf(),
            profile_lookups: None,
        };
        let mut follow_until: Option<tokio::time::Instant> = None;
        let mut stop = stop;

        let stopped = loop {
            if *stop.borrow() {
                break StopReason::Requested;
            }
            let deadline = follow_until;
            let waiting = Instant::now();
            let batch = tokio::select! {
                batch = batches.next() => batch?,
                Ok(()) = stop.changed() => break StopReason::Requested,
                () = sleep_until_opt(deadline) => break StopReason::FollowDone,
            };
            let waited = waiting.elapsed();
            if let Some(state) = unsaved_start.take() {
                if writer.checkpoint_start(state, &stop).await?.is_none() {
                    break StopReason::Requested;
                }
            }
            let Some(outcome) = writer.commit_batch(&batch, &stop).await? else {
                break StopReason::Requested;
            };

            summary.record(&batch, &outcome);
            observers.batch_committed(&Committed {
                source: &name,
                documents: batch.documents.len(),
                refused: batch.refused.len(),
                published_unparsable: batch.published_fallbacks,
                dead_lettered: outcome.dead_lettered,
                dead_letter_path: &writer.dead_letter_path,
                categories: &batch.categories,
                sinks: &outcome.sink_commits(),
                latest_published: batch.latest_published,
                caught_up: batch.caught_up,
                written_total: summary.written,
                times: StageTimes {
                    waited,
                    normalize: batch.normalize_time,
                    ..outcome.times
                },
            });
            if let Some(handle) = &lookups_handle {
                let now = handle.lookups();
                let delta = now.since(&lookups_seen);
                if !delta.is_zero() {
                    observers.profiles_looked_up(&name, &delta);
                    summary.profile_lookups = Some(now);
                }
                lookups_seen = now;
            }
            if let Some(detect) = &batch.detect {
                let alert_sinks = writer.alert_sink_names();
                observers.alerts_committed(&AlertsCommitted {
                    source: &name,
                    rules: &detect.rules,
                    stats: &detect.stats,
                    sinks: &alert_sinks,
                    detect_time: detect.time,
                });
            }

            if batch.caught_up {
                match config.stop_when {
                    StopWhen::CaughtUp => break StopReason::CaughtUp,
                    StopWhen::FollowFor(follow) if follow_until.is_none() => {
                        observers.following(&name, follow);
                        follow_until = Some(tokio::time::Instant::now() + follow);
                    }
                    _ => {}
                }
            }
            if follow_until.is_some_and(|t| tokio::time::Instant::now() >= t) {
                break StopReason::FollowDone;
            }
        };
        summary.stopped = stopped;
        summary.elapsed = started.elapsed();
        summary.fetch = batches.stats().snapshot();
        Ok(summary)
    }
}

/// The batch builder of a run with `sinks` event sinks: the source's normalizer on
/// [`normalize_threads`] threads, also writing the other schemas its sinks take.
pub(crate) fn batch_builder(config: &PipelineConfig, sinks: usize) -> BatchBuilder {
    BatchBuilder::new(
        Normalizer::new(config.normalize.clone()),
        normalize_threads(),
    )
    .with_schemas(config.schema_plan(sinks).others)
}

/// The detect stage of a run (`None` when detections are off), restored from `saved`.
pub(crate) fn detect_stage(
    config: &PipelineConfig,
    saved: SavedDetect,
) -> Result<Option<crate::detect::DetectStage>, PipelineError> {
    let Some(rules) = &config.detect else {
        return Ok(None);
    };
    let (state, sizes) = saved.map_or((None, None), |(s, z)| (Some(s), z));
    let detector = crate::detect::detector_for(rules, state)
        .map_err(|e| PipelineError::Config(format!("detections: {e}")))?;
    let files = crate::detect_store::GenerationFiles::new(&config.state_dir, &config.source.name);
    Ok(Some(crate::detect::DetectStage::new(
        detector, files, sizes,
    )))
}

/// The detectors' state a checkpoint covers, with the sizes of its files (`None`: it was
/// saved inside an older checkpoint).
pub(crate) type SavedDetect = Option<(DetectorState, Option<SavedSizes>)>;

/// Step 1 of a run: makes the writer's stores consistent with the checkpoint
/// (`Writer::recover`) and opens the source where the checkpoint left it (at
/// `start_from` on a first run). Returns the source, on a first run the starting state
/// to checkpoint before the first write, and the detectors' saved state (read only when
/// detections are on).
async fn recover(
    config: &PipelineConfig,
    writer: &mut Writer,
) -> Result<(LogSource, Option<SourceState>, SavedDetect), PipelineError> {
    let loaded = writer.recover().await?;
    let mut saved_detect = None;
    let start = match loaded {
        Some(checkpoint) => {
            saved_detect = writer
                .saved_detect(config, checkpoint.detect_files, checkpoint.detect)
                .await?;
            StartPoint::Resume(checkpoint.source)
        }
        None => {
            writer.saved_detect(config, None, None).await?;
            StartPoint::Since(config.source.start_from)
        }
    };
    let first_run = matches!(start, StartPoint::Since(_));
    let source = LogSource::new(
        config.source.client.clone(),
        start,
        config.source.options.clone(),
    )?;
    // A first run checkpoints its starting point before its first write.
    let unsaved_start = first_run.then(|| source.state().clone());
    Ok((source, unsaved_start, saved_detect))
}

impl RunSummary {
    /// Counts a committed batch.
    pub(crate) fn record(&mut self, batch: &Batch, outcome: &BatchOutcome) {
        self.pages += 1;
        self.written += batch.documents.len() as u64;
        if let Some(detect) = &batch.detect {
            self.alerts += detect.rules.len() as u64;
            for rule in &detect.rules {
                *self.alerts_by_rule.entry((*rule).to_string()).or_default() += 1;
            }
        }
        self.rejected += batch.refused.len() as u64;
        self.refused_by_sinks += outcome.refused_by_sinks;
        if let Some(latest) = batch.latest_published {
            self.position = Some(self.position.map_or(latest, |p| p.max(latest)));
        }
    }
}

/// What committing one batch did, besides the batch itself.
pub(crate) struct BatchOutcome {
    /// Each sink's name, how many documents it was given and how many its store refused,
    /// in sink order.
    per_sink: Vec<(String, usize, usize)>,
    /// Documents the stores refused for good.
    refused_by_sinks: u64,
    /// Dead letters written for the batch.
    pub(crate) dead_lettered: usize,
    /// Write, checkpoint and commit times (the others are filled in by the caller).
    pub(crate) times: StageTimes,
}

impl BatchOutcome {
    /// Each sink's part of the batch, for the observers.
    pub(crate) fn sink_commits(&self) -> Vec<SinkCommit<'_>> {
        self.per_sink
            .iter()
            .map(|(sink, documents, rejected)| SinkCommit {
                sink,
                documents: *documents,
                rejected: *rejected,
            })
            .collect()
    }
}

/// The writer stage: the sinks, the dead-letter file and the checkpoint store of one source.
pub(crate) struct Writer {
    /// Held while the writer exists: no other process uses the state directory.
    _lock: StateLock,
    source: String,
    org: OrgUrl,
    pub(crate) sinks: Vec<Box<dyn Sink>>,
    /// The documents each sink takes: its slot in the batch ([`Batch::documents_for`]).
    slots: Vec<usize>,
    /// Each slot's schema, with the sinks that take it (for dead letters naming them).
    slot_sinks: Vec<(oktaflow_normalize::Schema, String)>,
    /// Where the detect stage's alerts go (empty when detections are off or routed nowhere).
    alert_sinks: Vec<Box<dyn Sink>>,
    dead: Arc<Mutex<DeadLetterWriter>>,
    pub(crate) dead_letter_path: PathBuf,
    pub(crate) store: CheckpointStore,
    /// The detectors' state files beside the checkpoint.
    detect_store: Arc<Mutex<DetectStateStore>>,
    retry: OutputRetry,
    observers: Observers,
    /// A push source's de-duplication journals (`None`: a polling source), loaded by
    /// [`Writer::load_dedup`].
    dedup: Option<Arc<Mutex<DedupStore>>>,
    /// The ids the next checkpoint makes durable in the de-duplication window (a push source
    /// sets them before each [`Writer::commit_batch`]).
    pub(crate) dedup_ids: Arc<Vec<String>>,
    /// A push source's gap-filling state, saved with every checkpoint (`None`: none).
    pub(crate) stream: Option<crate::gap::StreamState>,
}

impl Writer {
    /// The writer of `config`'s source: locks the state directory first (before anything
    /// in it is read or written).
    pub(crate) fn open(
        config: &PipelineConfig,
        sinks: Vec<Box<dyn Sink>>,
        alert_sinks: Vec<Box<dyn Sink>>,
        observers: Observers,
    ) -> Result<Writer, PipelineError> {
        let lock = StateLock::acquire(&config.state_dir)?;
        let store = CheckpointStore::new(&config.state_dir, &config.source.name)?;
        let dead = DeadLetterWriter::checkpointed(config.state_dir.join(&config.dead_letter_file))?;
        let dead_letter_path = dead
            .path()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let plan = config.schema_plan(sinks.len());
        let slot_sinks = std::iter::once(config.normalize.schema)
            .chain(plan.others.iter().copied())
            .enumerate()
            .map(|(slot, schema)| {
                let names: Vec<&str> = sinks
                    .iter()
                    .zip(&plan.slots)
                    .filter(|(_, &s)| s == slot)
                    .map(|(sink, _)| sink.name())
                    .collect();
                (schema, names.join(", "))
            })
            .collect();
        Ok(Writer {
            _lock: lock,
            source: config.source.name.clone(),
            org: config.source.client.org.clone(),
            slots: plan.slots,
            slot_sinks,
            sinks,
            alert_sinks,
            dead: Arc::new(Mutex::new(dead)),
            dead_letter_path,
            detect_store: Arc::new(Mutex::new(DetectStateStore::new(
                &config.state_dir,
                &config.source.name,
            ))),
            store,
            retry: OutputRetry {
                backoff: config.sink_retry,
                limit: config.output_retry_limit,
            },
            observers,
            dedup: None,
            dedup_ids: Arc::new(Vec::new()),
            stream: None,
        })
    }

    pub(crate) fn sink_names(&self) -> Vec<&str> {
        self.sinks
            .iter()
            .chain(&self.alert_sinks)
            .map(|s| s.name())
            .collect()
    }

    pub(crate) fn alert_sink_names(&self) -> Vec<&str> {
        self.alert_sinks.iter().map(|s| s.name()).collect()
    }

    fn dead(&self) -> MutexGuard<'_, DeadLetterWriter> {
        lock(&self.dead)
    }

    /// The detectors' saved state when detections are on (`None` when off: the files are
    /// left alone): from the files the checkpoint names (`files`), else from the state an
    /// older checkpoint held inline (`inline`). Stray state files are deleted.
    pub(crate) async fn saved_detect(
        &mut self,
        config: &PipelineConfig,
        files: Option<DetectStateRef>,
        inline: Option<DetectorState>,
    ) -> Result<SavedDetect, PipelineError> {
        if config.detect.is_none() {
            return Ok(None);
        }
        Ok(match files {
            Some(files) => self
                .load_detect(Some(files))
                .await?
                .map(|(state, sizes)| (state, Some(sizes))),
            None => {
                self.load_detect(None).await?;
                inline.map(|state| (state, None))
            }
        })
    }

    /// Loads the detectors' state files the checkpoint names (`None`: it names none; stray
    /// files are deleted either way).
    async fn load_detect(
        &mut self,
        files: Option<DetectStateRef>,
    ) -> Result<Option<(DetectorState, SavedSizes)>, PipelineError> {
        let store = self.detect_store.clone();
        Ok(blocking(move || lock_detect(&store).load(files)).await??)
    }

    /// A push source's de-duplication window of `capacity` ids as the checkpoint left it:
    /// from the journals it names (`files`), else from the window an older checkpoint held
    /// inline (`inline`). From now on every checkpoint also makes [`Writer::dedup_ids`]
    /// durable in those journals.
    pub(crate) async fn load_dedup(
        &mut self,
        capacity: usize,
        files: Option<DedupStateRef>,
        inline: Option<crate::checkpoint::PushState>,
    ) -> Result<crate::push::DedupWindow, PipelineError> {
        let store = Arc::new(Mutex::new(DedupStore::new(
            self.store.dir(),
            &self.source,
            capacity,
        )));
        let ids = blocking({
            let store = store.clone();
            move || lock_dedup(&store).load(files, inline.map(|p| p.seen))
        })
        .await??;
        self.dedup = Some(store);
        let mut window = crate::push::DedupWindow::new(capacity);
        for id in ids.iter().skip(ids.len().saturating_sub(capacity)) {
            window.insert(id);
        }
        Ok(window)
    }

    /// Step 1 of a run: loads the checkpoint (`None` on a first run; refused when it belongs
    /// to another org) and makes every sink and the dead-letter file consistent with it,
    /// before anything is fetched.
    pub(crate) async fn recover(&mut self) -> Result<Option<Checkpoint>, PipelineError> {
        let loaded = blocking({
            let store = self.store.clone();
            let org = self.org.clone();
            move || store.load_for(&org)
        })
        .await??;
        let positions = loaded.as_ref().map(|c| &c.sinks);
        for sink in self.sinks.iter_mut().chain(self.alert_sinks.iter_mut()) {
            let position = positions.and_then(|p| p.get(sink.name()));
            let name = sink.name().to_string();
            let recovered = match self.retry.limit {
                // A store that is down at start is waited for (`build_sinks`), within the
                // same limit as any other output failure.
                Some(limit) => tokio::time::timeout(limit, sink.recover(position))
                    .await
                    .map_err(|_| PipelineError::OutputDown {
                        error: format!("{name}: the store is not ready at start"),
                        after: limit,
                    })?,
                None => sink.recover(position).await,
            };
            recovered.map_err(PipelineError::Recover)?;
        }
        let dead_position = positions.and_then(|p| p.get(DEAD_LETTER_KEY)).cloned();
        let dead = self.dead.clone();
        blocking(move || lock(&dead).recover(dead_position.as_ref())).await??;
        Ok(loaded)
    }

    /// A first run's starting checkpoint: `state` with every sink's (and the dead-letter
    /// file's) position before anything is written. `None` when a stop request interrupted a
    /// retry wait (nothing was written).
    pub(crate) async fn checkpoint_start(
        &mut self,
        state: SourceState,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<()>, PipelineError> {
        let mut positions = BTreeMap::new();
        for sink in self.sinks.iter_mut().chain(self.alert_sinks.iter_mut()) {
            let ack = sink.write_batch(&[]).await.map_err(PipelineError::Write)?;
            positions.insert(sink.name().to_string(), ack.position);
        }
        positions.insert(DEAD_LETTER_KEY.to_string(), self.dead().position());
        let mut checkpoint = Checkpoint::new(state, positions);
        checkpoint.stream = self.stream.clone();
        self.save_retrying(checkpoint, None, stop).await
    }

    /// Step 2 of a run, the key rule of exactly once: makes `batch` durable everywhere, then
    /// saves its checkpoint, and returns only once the checkpoint is saved. So batch N's
    /// checkpoint is saved before batch N+1 is written, and a crash at any instant leaves
    /// either the checkpoint before the batch (whose writes recovery takes back) or the one
    /// after it.
    ///
    /// In order: the normalizer's refusals are queued as dead letters; the documents go to
    /// every sink concurrently, each retried alone with the same batch while its error is
    /// retryable ([`write_to_all`]); documents a store refused for good are queued as dead
    /// letters; the dead letters are appended and fsynced; then the checkpoint
    /// `{batch.state_after, every sink's position, the dead-letter position}` is saved
    /// atomically. Returns `None` when a stop request interrupted a retry wait: nothing of
    /// the batch is committed (the dead letters queued for it are dropped on the next start).
    pub(crate) async fn commit_batch(
        &mut self,
        batch: &Batch,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<BatchOutcome>, PipelineError> {
        let committing = Instant::now();
        {
            let mut dead = self.dead();
            for refusal in &batch.refused {
                dead.push(&DeadLetter {
                    error: &refusal.reason,
                    raw: &refusal.event.text(),
                    source: Some(&self.source),
                    received_at: Some(batch.received_at),
                    ..DeadLetter::default()
                });
            }
            // Events the source's schema mapped but a sink's other schema did not: once per
            // schema, naming it and its sinks (those sinks do not get the event).
            for (k, other) in batch.others.iter().enumerate() {
                let sinks = self.slot_sinks.get(k + 1).map_or("", |(_, names)| names);
                for refusal in &other.refused {
                    let error = format!(
                        "schema {} (sinks {sinks}) cannot map the event: {}",
                        other.schema, refusal.reason
                    );
                    dead.push(&DeadLetter {
                        error: &error,
                        raw: &refusal.event.text(),
                        source: Some(&self.source),
                        received_at: Some(batch.received_at),
                        ..DeadLetter::default()
                    });
                }
            }
        }
        let documents: Vec<&[Document]> = self
            .slots
            .iter()
            .map(|&slot| batch.documents_for(slot))
            .collect();
        let alerts = batch.alerts();
        // Events and alerts are written at once; both are durable before the checkpoint.
        let (acks, alert_acks) = tokio::join!(
            write_each(
                &mut self.sinks,
                &documents,
                self.retry,
                stop,
                &self.observers,
            ),
            write_to_all(
                &mut self.alert_sinks,
                alerts,
                self.retry,
                stop,
                &self.observers,
            )
        );
        let acks = match acks.and_then(|acks| alert_acks.map(|alert_acks| (acks, alert_acks))) {
            Ok(acks) => acks,
            Err(FanOutError::Stopped) => return Ok(None),
            Err(FanOutError::Sink(error)) => return Err(PipelineError::Write(error)),
            Err(FanOutError::GaveUp { error, after }) => {
                return Err(PipelineError::OutputDown {
                    error: error.to_string(),
                    after,
                })
            }
        };
        let (acks, alert_acks) = acks;
        let write = committing.elapsed();
        let mut positions = BTreeMap::new();
        let mut per_sink = Vec::with_capacity(self.sinks.len());
        let mut refused_by_sinks = 0;
        {
            let mut dead = self.dead();
            for ((sink, ack), given) in self.sinks.iter().zip(acks).zip(&documents) {
                for rejected in &ack.rejected {
                    let raw = batch
                        .raw_of(&rejected.id)
                        .map(|raw| raw.text())
                        .unwrap_or_default();
                    let error =
                        format!("{} refused the document: {}", sink.name(), rejected.reason);
                    dead.push(&DeadLetter {
                        error: &error,
                        raw: &raw,
                        source: Some(&self.source),
                        received_at: Some(batch.received_at),
                        id: Some(&rejected.id),
                        sink: Some(sink.name()),
                        ..DeadLetter::default()
                    });
                    refused_by_sinks += 1;
                }
                per_sink.push((sink.name().to_string(), given.len(), ack.rejected.len()));
                positions.insert(sink.name().to_string(), ack.position);
            }
            for (sink, ack) in self.alert_sinks.iter().zip(alert_acks) {
                for rejected in &ack.rejected {
                    let raw = alerts
                        .iter()
                        .find(|a| a.id == rejected.id)
                        .map(|a| String::from_utf8_lossy(&a.json).into_owned())
                        .unwrap_or_default();
                    let error = format!(
                        "{} refused the alert document: {}",
                        sink.name(),
                        rejected.reason
                    );
                    dead.push(&DeadLetter {
                        error: &error,
                        raw: &raw,
                        source: Some(&self.source),
                        received_at: Some(batch.received_at),
                        id: Some(&rejected.id),
                        sink: Some(sink.name()),
                        ..DeadLetter::default()
                    });
                    refused_by_sinks += 1;
                }
                positions.insert(sink.name().to_string(), ack.position);
            }
        }
        let dead_lettered = self.dead().pending();
        let Some(dead_position) = self.commit_dead_letters(stop).await? else {
            return Ok(None);
        };
        positions.insert(DEAD_LETTER_KEY.to_string(), dead_position);
        let checkpointing = Instant::now();
        let mut checkpoint = Checkpoint::new(batch.state_after.clone(), positions);
        checkpoint.stream = self.stream.clone();
        let saved = self
            .save_retrying(
                checkpoint,
                batch.detect.as_ref().map(|d| d.state.clone()),
                stop,
            )
            .await?;
        if saved.is_none() {
            return Ok(None);
        }
        Ok(Some(BatchOutcome {
            per_sink,
            refused_by_sinks,
            dead_lettered,
            times: StageTimes {
                write,
                checkpoint: checkpointing.elapsed(),
                commit: committing.elapsed(),
                ..StageTimes::default()
            },
        }))
    }

    /// Makes the queued dead letters durable and returns the file's position, retrying an
    /// I/O failure that may pass like a sink's ([`OutputRetry`], reported as the output
    /// `dead-letter:PATH`). `None`: a stop request interrupted a retry wait.
    async fn commit_dead_letters(
        &mut self,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<serde_json::Value>, PipelineError> {
        let mut stop = stop.clone();
        let mut retrying = Retrying::new(self.retry);
        loop {
            if !self.dead().needs_commit() {
                return Ok(Some(self.dead().position()));
            }
            let started = Instant::now();
            let dead = self.dead.clone();
            let error = match blocking(move || lock(&dead).commit()).await? {
                Ok(position) => {
                    let name = format!("dead-letter:{}", self.dead_letter_path.display());
                    if retrying.failed() {
                        self.observers.sink_ok(&name, started.elapsed());
                    }
                    return Ok(Some(position));
                }
                Err(DeadLetterError::Write { target, error }) if io_may_pass(error.kind()) => {
                    SinkError::Io {
                        sink: format!("dead-letter:{target}"),
                        action: "write dead letters",
                        error,
                    }
                }
                Err(error) => return Err(error.into()),
            };
            let name = format!("dead-letter:{}", self.dead_letter_path.display());
            match retrying
                .after(&name, &error, &mut stop, &self.observers)
                .await
            {
                Next::Again => {}
                Next::Stopped => return Ok(None),
                Next::GiveUp(after) => {
                    let error = error.to_string();
                    return Err(PipelineError::OutputDown { error, after });
                }
            }
        }
    }

    /// Saves `checkpoint`, retrying an I/O failure that may pass like a sink's
    /// ([`OutputRetry`], reported as the output `checkpoint:PATH`). `None`: a stop request
    /// interrupted a retry wait (the checkpoint before stays in force).
    async fn save_retrying(
        &mut self,
        mut checkpoint: Checkpoint,
        detect: Option<StateUpdate>,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<()>, PipelineError> {
        let mut stop = stop.clone();
        let mut retrying = Retrying::new(self.retry);
        let name = format!("checkpoint:{}", self.store.path().display());
        loop {
            let started = Instant::now();
            let error =
                match self
                    .save_with_detect(&mut checkpoint, detect.as_ref())
                    .await
                {
                    Ok(()) => {
                        if retrying.failed() {
                            self.observers.sink_ok(&name, started.elapsed());
                        }
                        return Ok(Some(()));
                    }
                    Err(PipelineError::Checkpoint(CheckpointError::Io {
                        path, source, ..
                    })) if io_may_pass(source.kind()) => SinkError::Io {
                        sink: format!("checkpoint:{}", path.display()),
                        action: "save the checkpoint",
                        error: source,
                    },
                    Err(error) => return Err(error),
                };
            match retrying
                .after(&name, &error, &mut stop, &self.observers)
                .await
            {
                Next::Again => {}
                Next::Stopped => return Ok(None),
                Next::GiveUp(after) => {
                    let error = error.to_string();
                    return Err(PipelineError::OutputDown { error, after });
                }
            }
        }
    }

    /// Saves a checkpoint off the async threads (it fsyncs twice).
    /// Makes the detectors' state `update` durable (when there is one), then saves
    /// `checkpoint` naming it: the checkpoint is the commit point of both. Called again after
    /// a failure, it writes the same update at the same place.
    async fn save_with_detect(
        &mut self,
        checkpoint: &mut Checkpoint,
        update: Option<&StateUpdate>,
    ) -> Result<(), PipelineError> {
        if let Some(update) = update {
            let store = self.detect_store.clone();
            let update = update.clone();
            let files = blocking(move || lock_detect(&store).write(&update)).await??;
            checkpoint.detect_files = Some(files);
        }
        if let Some(store) = &self.dedup {
            let store = store.clone();
            let ids = self.dedup_ids.clone();
            checkpoint.push_files = blocking(move || lock_dedup(&store).write(&ids)).await??;
        }
        self.save(checkpoint.clone()).await?;
        if let Some(files) = checkpoint.detect_files.filter(|_| update.is_some()) {
            let store = self.detect_store.clone();
            blocking(move || lock_detect(&store).committed(files)).await??;
        }
        if let (Some(store), Some(files)) = (&self.dedup, checkpoint.push_files) {
            let store = store.clone();
            blocking(move || lock_dedup(&store).committed(files)).await??;
            self.dedup_ids = Arc::new(Vec::new());
        }
        Ok(())
    }

    fn save(
        &self,
        checkpoint: Checkpoint,
    ) -> impl std::future::Future<Output = Result<(), PipelineError>> + Send + 'static {
        let store = self.store.clone();
        async move {
            blocking(move || store.save(&checkpoint)).await??;
            Ok(())
        }
    }
}

fn lock_dedup(store: &Mutex<DedupStore>) -> MutexGuard<'_, DedupStore> {
    // The store's fields change only after its files did: a panic leaves it usable.
    store.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock_detect(store: &Mutex<DetectStateStore>) -> MutexGuard<'_, DetectStateStore> {
    // The store's fields change only after its files did: a panic leaves it usable.
    store.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock(dead: &Mutex<DeadLetterWriter>) -> MutexGuard<'_, DeadLetterWriter> {
    // A panic while holding the lock leaves at worst letters queued twice in memory, which
    // recovery drops: the file itself only changes through commit and recover.
    dead.lock().unwrap_or_else(|p| p.into_inner())
}

/// Threads that normalize a batch: one per core, at most [`MAX_NORMALIZE_THREADS`]. While
/// the writer waits for fsyncs or a store, the other cores would otherwise sit idle.
pub(crate) fn normalize_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_NORMALIZE_THREADS)
}

/// Sleeps until `deadline`, or forever without one.
pub(crate) async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
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
    use oktaflow_sink::{Ack, Document, ExistingFile, FileSink, Rejected, SinkError};

    use super::*;
    use crate::config::{SourceConfig, DEAD_LETTER_FILE};

    #[test]
    fn a_second_schema_shares_the_batch_memory_bound() {
        let bound = BatchLimits {
            max_docs: 20_000,
            max_bytes: 12_000_000,
        };
        assert_eq!(bound_for_schemas(bound, 1), bound);
        assert_eq!(bound_for_schemas(bound, 0), bound);
        let two = bound_for_schemas(bound, 2);
        assert_eq!((two.max_docs, two.max_bytes), (20_000, 6_000_000));
        assert_eq!(bound_for_schemas(bound, 3).max_bytes, 4_000_000);
    }

    /// Tallies `event.category` of the committed documents (as the demo's summary does).
    #[derive(Default)]
    struct Categories(Mutex<BTreeMap<&'static str, u64>>);

    impl PipelineObserver for Categories {
        fn batch_committed(&self, batch: &Committed<'_>) {
            let mut tally = self.0.lock().unwrap();
            for category in batch.categories {
                *tally.entry(category).or_default() += 1;
            }
        }
    }

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
        };
        let out = dir.path().join("out.ndjson");
        let sinks: Vec<Box<dyn Sink>> = vec![
            Box::new(FileSink::new(&out, ExistingFile::Refuse).unwrap()),
            Box::new(Refusing { every: 10, seen: 0 }),
        ];
        let state = dir.path().join("state");
        let mut config = PipelineConfig::new(source, &state);
        config.stop_when = StopWhen::CaughtUp;
        let (_tx, stop) = watch::channel(false);
        let mut pipeline = Pipeline::new(config, sinks).unwrap();
        let categories = Arc::new(Categories::default());
        pipeline.observe(categories.clone());
        let summary = pipeline.run(stop).await.unwrap();

        assert_eq!(summary.stopped, StopReason::CaughtUp);
        assert_eq!(summary.written, 300);
        assert_eq!(summary.rejected, 0);
        assert_eq!(summary.refused_by_sinks, 30);
        assert_eq!(categories.0.lock().unwrap().values().sum::<u64>(), 300);
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
        assert_eq!(summary.dead_letter_path, state.join(DEAD_LETTER_FILE));
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
