//! # oktaflow-pipeline: one Okta source to its sinks, exactly once
//!
//! A [`Pipeline`] fetches pages of System Log events ([`oktaflow_fetch`]), normalizes them to
//! ECS ([`oktaflow_normalize`]), writes each batch to every sink ([`oktaflow_sink`]) and then
//! saves its [`Checkpoint`]: the source's cursor next to every sink's position. Three stages
//! run at once, each holding a bounded number of items:
//!
//! ```text
//!  fetch task ──pages──▶ normalize stage ──batches──▶ writer (sinks, dead letters, checkpoint)
//!  (prefetch)            (normalize_stage, threads)   (pipeline: commit_batch, one at a time)
//! ```
//!
//! Exactly once, across crashes at any instant:
//!
//! * **One process**: a run first locks its state directory ([`StateLock`]; a second process
//!   is refused with [`LockError::Busy`]), refuses a checkpoint saved for another org
//!   ([`CheckpointError::OtherOrg`]), and [`Pipeline::new`] refuses sinks that would write a
//!   state file or one file twice ([`outputs`]).
//! * **Recover**: on start every sink (and the dead-letter file) is handed the position
//!   recorded in the checkpoint and makes its store consistent with it (the file sink
//!   truncates what was written after it); fetching resumes from the checkpoint's
//!   [`SourceState`](oktaflow_fetch::SourceState).
//! * **Commit batch**: a batch goes to all sinks concurrently (a retryable sink error is
//!   retried with the same batch while nothing more is fetched), refused events are
//!   dead-lettered and fsynced, and only then `{state_after, sink positions, dead-letter
//!   position}` is saved atomically ([`CheckpointStore`]). Batch N's checkpoint is saved
//!   before batch N+1 is written.
//!
//! The batch size comes from the sinks: each states the batch it writes best
//! ([`Sink::preferred_batch`](oktaflow_sink::Sink::preferred_batch)); the pipeline takes the
//! largest within its memory bound ([`batch_size`], [`PipelineConfig::max_batch`]).
//!
//! Events that cannot be delivered go to the dead-letter file in the one line format of
//! [`DeadLetter`], written by [`DeadLetterWriter`] (which `oktaflow normalize` uses too).
//!
//! The pipeline reports through [`PipelineObserver`]s (progress, metrics, logs, summaries
//! are observers of the caller's) and fails with a typed [`PipelineError`]; it has no
//! command line, exit codes, metrics registry or log subscriber of its own.
//!
//! ```no_run
//! # async fn demo(sinks: Vec<Box<dyn oktaflow_sink::Sink>>) -> Result<(), Box<dyn std::error::Error>> {
//! use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions};
//! use oktaflow_pipeline::{Pipeline, PipelineConfig, SourceConfig, StopWhen};
//!
//! let client = ClientConfig::new(
//!     OrgUrl::from_domain("acme.okta.com")?,
//!     Auth::ApiToken(Secret::new("00abc...")),
//! );
//! let source = SourceConfig {
//!     name: "okta".into(),
//!     client,
//!     start_from: chrono::Utc::now() - chrono::TimeDelta::days(1),
//!     options: SourceOptions::default(),
//! };
//! let mut config = PipelineConfig::new(source, "/var/lib/oktaflow");
//! config.stop_when = StopWhen::CaughtUp;
//! let (_stop_tx, stop) = tokio::sync::watch::channel(false);
//! let summary = Pipeline::new(config, sinks)?.run(stop).await?;
//! println!("{} events written", summary.written);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod dead_letter;
pub mod dedup_store;
pub mod detect;
pub mod detect_store;
pub mod enrich;
mod error;
pub mod fanout;
pub mod gap;
pub mod lock;
pub mod normalize_stage;
pub mod observer;
pub mod offline;
pub mod outputs;
pub mod pipeline;
pub mod prefetch;
pub mod preflight;
pub mod push;
pub mod push_settings;
pub mod sinks;
pub mod sources;
pub mod sqs;
mod state_files;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointStore, PushState, CHECKPOINT_VERSION};
pub use config::{
    PipelineConfig, SourceConfig, StopWhen, DEAD_LETTER_FILE, MAX_BATCH, ONCE_OUTPUT_RETRY_LIMIT,
};
pub use dead_letter::{DeadLetter, DeadLetterError, DeadLetterWriter, DEAD_LETTER_KEY};
pub use detect::DetectConfig;
pub use error::PipelineError;
pub use gap::{GapFill, StreamState};
pub use lock::{LockError, StateLock, LOCK_FILE};
pub use observer::{
    AlertsCommitted, Committed, PipelineObserver, ProfilesSynced, PushAcked, PushListening,
    SinkCommit, StageTimes, Started,
};
/// Identity enrichment settings and the OAuth scopes they need (from `oktaflow-enrich`).
pub use oktaflow_enrich::{
    required_scopes, EnrichError, EnrichOptions, ProfileStatus, DEFAULT_RATE_LIMIT_SHARE,
    DEFAULT_REFRESH,
};
/// User and device lookup totals of identity enrichment (from `oktaflow-normalize`).
pub use oktaflow_normalize::LookupCounts;
pub use oktaflow_push::ReceiverStats;
pub use pipeline::{
    batch_size, Pipeline, RunSummary, StopReason, MAX_NORMALIZE_THREADS, PREFETCH_PAGES,
};
pub use push::{DedupWindow, PushOptions, DEFAULT_DEDUP_WINDOW, DEFAULT_PUSH_LINGER};
pub use push_settings::{PushTable, StreamSettings};
pub use sinks::{build_sinks, SinksError};
pub use sources::{run_sources, SourcesFailed};
pub use sqs::DEFAULT_SQS_LINGER;
