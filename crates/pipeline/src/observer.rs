//! [`PipelineObserver`]: how a running pipeline reports what it does, without knowing who
//! listens (a progress bar, metrics, logs, a summary; all live in the binary).
//!
//! An observer is a trait object with a no-op default for every method, so each implements
//! only what it shows. The pipeline calls it synchronously from its own tasks (the fetch task
//! calls [`page_fetched`](PipelineObserver::page_fetched), the writer the rest): methods must
//! return quickly and never block on I/O. Chosen over a channel of events because the
//! observers need no task of their own, a slow observer cannot make events pile up in memory,
//! and the borrowed event structs cost no copy of the batch.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oktaflow_fetch::FetchStats;
use oktaflow_sink::SinkError;

use crate::{PipelineError, RunSummary};

/// What a run starts with (after recovery, before the first fetch).
#[derive(Debug)]
pub struct Started<'a> {
    /// The source's name.
    pub source: &'a str,
    /// The org's host.
    pub org: &'a str,
    /// True when the run resumes from a checkpoint.
    pub resumed: bool,
    /// The sinks' names, in configuration order.
    pub sinks: &'a [&'a str],
    /// The source's request counters (live: read them whenever needed).
    pub stats: Arc<FetchStats>,
    /// The batch the pipeline aims for (events, bytes of raw events), from the sinks'
    /// preferences within the configured bound.
    pub batch: oktaflow_sink::BatchLimits,
}

/// How long each step of committing a batch took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    /// The writer waited this long for the batch (fetching and normalizing were behind).
    pub waited: Duration,
    /// Normalizing the batch (overlapped with writing the previous one).
    pub normalize: Duration,
    /// Writing it to every sink, retries included.
    pub write: Duration,
    /// Saving the checkpoint.
    pub checkpoint: Duration,
    /// The whole commit: dead letters, sinks and checkpoint.
    pub commit: Duration,
}

/// One sink's part of a committed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkCommit<'a> {
    /// The sink's name.
    pub sink: &'a str,
    /// Documents handed to it.
    pub documents: usize,
    /// Of those, the ones its store refused for good (dead-lettered).
    pub rejected: usize,
}

/// A batch whose checkpoint is saved: everything in it is durable.
#[derive(Debug)]
pub struct Committed<'a> {
    /// The source's name.
    pub source: &'a str,
    /// Documents written (to every sink).
    pub documents: usize,
    /// Events the normalizer refused (dead-lettered).
    pub refused: usize,
    /// Documents whose `published` was missing or unparsable, written with the time
    /// their page was received as `@timestamp` (tag `okta_published_unparsable`).
    pub published_unparsable: usize,
    /// Dead letters written for this batch (normalizer refusals and store rejections).
    pub dead_lettered: usize,
    /// The dead-letter file.
    pub dead_letter_path: &'a std::path::Path,
    /// `event.category` of each document, in order.
    pub categories: &'a [&'static str],
    /// Each sink's part, in configuration order.
    pub sinks: &'a [SinkCommit<'a>],
    /// The latest `published` time in the batch.
    pub latest_published: Option<DateTime<Utc>>,
    /// True when the batch reached "now".
    pub caught_up: bool,
    /// Documents written by this run so far, this batch included.
    pub written_total: u64,
    /// The step times.
    pub times: StageTimes,
}

/// The alerts committed with a batch (only when detections are on; after
/// [`PipelineObserver::batch_committed`] of the same batch).
#[derive(Debug)]
pub struct AlertsCommitted<'a> {
    /// The source's name.
    pub source: &'a str,
    /// `rule.id` of each alert committed with the batch (empty: none raised).
    pub rules: &'a [&'static str],
    /// Keys held and evicted per stateful rule after the batch.
    pub stats: &'a oktaflow_detect::DetectorStats,
    /// The alert sinks written (empty: the alerts are routed nowhere).
    pub sinks: &'a [&'a str],
    /// Time the detect stage spent on the batch (overlapped with writing the previous one).
    pub detect_time: Duration,
}

/// The source's profile store after it was opened or refreshed (identity enrichment on).
#[derive(Debug)]
pub struct ProfilesSynced<'a> {
    /// The source's name.
    pub source: &'a str,
    /// Users, devices, version and last sync time of the store.
    pub status: &'a oktaflow_enrich::ProfileStatus,
    /// Requests the refresh sent (0 when the store was only opened).
    pub requests: u64,
    /// Profiles the refresh changed (users, devices).
    pub changed: (usize, usize),
}

/// A push source's receiver is listening (before recovery: requests queue until the run
/// takes them).
#[derive(Debug)]
pub struct PushListening<'a> {
    /// The source's name.
    pub source: &'a str,
    /// The address it listens on.
    pub listen: std::net::SocketAddr,
    /// The receiver's answer counters and requests in flight (live).
    pub stats: Arc<oktaflow_push::ReceiverStats>,
    /// Requests it handles at once before answering `429`.
    pub max_in_flight: usize,
}

/// What a push source did with the deliveries it answered (after their batch's checkpoint,
/// or at once for redeliveries of durable events).
#[derive(Debug)]
pub struct PushAcked<'a> {
    /// The source's name.
    pub source: &'a str,
    /// Events made durable (new ids, and bodies without one, normalized).
    pub accepted: usize,
    /// Deliveries dropped as redeliveries of an event already durable (or in the batch).
    pub duplicates: usize,
    /// Bodies the normalizer refused (dead-lettered, then acknowledged).
    pub rejected: usize,
    /// For each answered delivery, the time from its receipt to its answer.
    pub ack_latencies: &'a [Duration],
}

/// Receives what a pipeline does. Every method has a no-op default.
pub trait PipelineObserver: Send + Sync {
    /// Recovery is done and fetching starts.
    fn started(&self, _started: &Started<'_>) {}

    /// A page of `events` events was fetched; `took` is the request time when the fetch
    /// followed the previous page at once (not after a poll-interval wait).
    fn page_fetched(&self, _events: usize, _took: Option<Duration>) {}

    /// A batch was committed (its checkpoint is saved).
    fn batch_committed(&self, _batch: &Committed<'_>) {}

    /// The alerts of a committed batch (detections on).
    fn alerts_committed(&self, _alerts: &AlertsCommitted<'_>) {}

    /// A write of a batch to `sink` succeeded after `took`.
    fn sink_ok(&self, _sink: &str, _took: Duration) {}

    /// A write to `sink` failed; `retry_in` is the wait before the same batch is written
    /// again (`None`: the error is not retryable and the run ends).
    fn sink_failed(&self, _sink: &str, _error: &SinkError, _retry_in: Option<Duration>) {}

    /// A push source's receiver is bound and listening.
    fn push_listening(&self, _listening: &PushListening<'_>) {}

    /// A push source answered deliveries `200`.
    fn push_acked(&self, _acked: &PushAcked<'_>) {}

    /// The source caught up and the run follows live events for `follow` before it ends.
    fn following(&self, _source: &str, _follow: Duration) {}

    /// The run ended with an error (the last checkpoint stays intact).
    fn halted(&self, _source: &str, _error: &PipelineError) {}

    /// The run ended cleanly.
    fn stopped(&self, _summary: &RunSummary) {}

    /// The profile store was opened (at start) or refreshed (identity enrichment on).
    fn profiles_synced(&self, _synced: &ProfilesSynced<'_>) {}

    /// A profile refresh failed; the last snapshot stays in use.
    fn profiles_sync_failed(&self, _source: &str, _error: &oktaflow_enrich::EnrichError) {}

    /// User and device lookups made while normalizing, since the previous call (called
    /// after each committed batch when anything was looked up).
    fn profiles_looked_up(&self, _source: &str, _lookups: &oktaflow_normalize::LookupCounts) {}
}

/// Several observers called in order: what the pipeline holds.
#[derive(Clone, Default)]
pub(crate) struct Observers(Vec<Arc<dyn PipelineObserver>>);

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Observers({})", self.0.len())
    }
}

impl Observers {
    pub(crate) fn push(&mut self, observer: Arc<dyn PipelineObserver>) {
        self.0.push(observer);
    }
}

impl PipelineObserver for Observers {
    fn started(&self, started: &Started<'_>) {
        self.0.iter().for_each(|o| o.started(started));
    }
    fn page_fetched(&self, events: usize, took: Option<Duration>) {
        self.0.iter().for_each(|o| o.page_fetched(events, took));
    }
    fn batch_committed(&self, batch: &Committed<'_>) {
        self.0.iter().for_each(|o| o.batch_committed(batch));
    }
    fn alerts_committed(&self, alerts: &AlertsCommitted<'_>) {
        self.0.iter().for_each(|o| o.alerts_committed(alerts));
    }
    fn sink_ok(&self, sink: &str, took: Duration) {
        self.0.iter().for_each(|o| o.sink_ok(sink, took));
    }
    fn sink_failed(&self, sink: &str, error: &SinkError, retry_in: Option<Duration>) {
        self.0
            .iter()
            .for_each(|o| o.sink_failed(sink, error, retry_in));
    }
    fn push_listening(&self, listening: &PushListening<'_>) {
        self.0.iter().for_each(|o| o.push_listening(listening));
    }
    fn push_acked(&self, acked: &PushAcked<'_>) {
        self.0.iter().for_each(|o| o.push_acked(acked));
    }
    fn following(&self, source: &str, follow: Duration) {
        self.0.iter().for_each(|o| o.following(source, follow));
    }
    fn halted(&self, source: &str, error: &PipelineError) {
        self.0.iter().for_each(|o| o.halted(source, error));
    }
    fn stopped(&self, summary: &RunSummary) {
        self.0.iter().for_each(|o| o.stopped(summary));
    }
    fn profiles_synced(&self, synced: &ProfilesSynced<'_>) {
        self.0.iter().for_each(|o| o.profiles_synced(synced));
    }
    fn profiles_sync_failed(&self, source: &str, error: &oktaflow_enrich::EnrichError) {
        self.0
            .iter()
            .for_each(|o| o.profiles_sync_failed(source, error));
    }
    fn profiles_looked_up(&self, source: &str, lookups: &oktaflow_normalize::LookupCounts) {
        self.0
            .iter()
            .for_each(|o| o.profiles_looked_up(source, lookups));
    }
}
