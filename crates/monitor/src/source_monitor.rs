//! [`SourceMonitor`]: what one source's pipeline reports while it runs — the metrics of
//! [`crate::metrics`], the readiness detail of `/ready`, and the silence alert.
//!
//! It observes the pipeline ([`PipelineObserver`]): the pipeline calls it as it goes and the
//! observer methods record; [`SourceMonitor::tick`] (once a second from [`watch`], and before
//! every scrape) copies the fetch counters into the metrics, updates the lag gauges and raises
//! or clears the silence alert.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use oktaflow_fetch::{FetchStats, FetchStatsSnapshot};
use oktaflow_pipeline::{
    AlertsCommitted, Committed, EnrichError, LookupCounts, PipelineError, PipelineObserver,
    ProfilesSynced, PushAcked, PushListening, ReceiverStats, RunSummary, Started,
};
use oktaflow_plumbing::scrub;
use oktaflow_sink::SinkError;
use serde::Serialize;
use tracing::{error, info};

use crate::metrics::Metrics;

/// Slack added to a source's poll interval before a fetch counts as overdue in `/ready`
/// (covers a rate-limit wait, a slow answer and a few retries).
pub const READY_MARGIN: Duration = Duration::from_secs(60);
/// How often [`watch`] refreshes every monitor.
pub const TICK: Duration = Duration::from_secs(1);

/// Where a source's pipeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Started; no page fetched yet.
    Starting,
    /// Fetching and delivering.
    Running,
    /// Running, but no event for longer than the silence threshold.
    Silent,
    /// Stopped on an error retrying cannot fix (see `last_error`).
    Halted,
    /// Ended cleanly (caught up with `--once`, or a stop request).
    Stopped,
}

/// A sink's state in the `/ready` detail.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SinkReport {
    /// The sink's name (e.g. `file:/var/lib/oktaflow/okta.ndjson`).
    pub sink: String,
    /// True while its writes fail and are retried.
    pub failing: bool,
    /// The last write error while failing.
    pub error: Option<String>,
}

/// One source's entry in the `/ready` detail.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// The source's name.
    pub source: String,
    /// Where it is.
    pub state: RunState,
    /// Whether this source lets the process count as ready.
    pub ready: bool,
    /// When a page was last fetched successfully (RFC 3339).
    pub last_fetch: Option<String>,
    /// When the source last delivered an event (RFC 3339).
    pub last_event_received: Option<String>,
    /// `published` of the last committed event (RFC 3339).
    pub last_event_published: Option<String>,
    /// Now − `published` of the last committed event.
    pub checkpoint_lag_seconds: Option<i64>,
    /// Seconds since the last event (since the start when none came yet).
    pub seconds_since_last_event: u64,
    /// The silence threshold (`null` when the alert is off).
    pub silence_alert_seconds: Option<u64>,
    /// Why it halted, or the last sink error.
    pub last_error: Option<String>,
    /// Its sinks.
    pub sinks: Vec<SinkReport>,
    /// A push source's receiver (absent for a polling source).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PushReport>,
}

#[derive(Debug)]
struct Status {
    state: RunState,
    started: Instant,
    last_fetch: Option<(Instant, DateTime<Utc>)>,
    last_event: Option<(Instant, DateTime<Utc>)>,
    last_committed_published: Option<DateTime<Utc>>,
    last_error: Option<String>,
    silent: bool,
    sinks: BTreeMap<String, Option<String>>,
    stats: Option<Arc<FetchStats>>,
    copied: FetchStatsSnapshot,
    /// A push source's receiver (`None`: a polling source, or not bound yet).
    push: Option<PushStatus>,
}

/// A push receiver as the monitor follows it.
#[derive(Debug)]
struct PushStatus {
    stats: Arc<ReceiverStats>,
    max_in_flight: u64,
    /// The counters already copied into the metrics, by status.
    copied: [u64; 6],
}

impl PushStatus {
    fn by_status(&self) -> [(u64, &'static str); 6] {
        let s = &self.stats;
        [
            (s.accepted(), "200"),
            (s.unauthorized(), "401"),
            (s.bad_method(), "405"),
            (s.too_large(), "413"),
            (s.throttled(), "429"),
            (s.failed(), "503"),
        ]
    }
}

/// A push source's entry in the `/ready` detail.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// The receiver is bound (and the source recovered: the state is `running`).
    pub listening: bool,
    /// Requests in flight now.
    pub in_flight: u64,
    /// The in-flight bound; at it, the receiver answers `429` and the source is not ready.
    pub max_in_flight: u64,
}

/// The running record of one source (shared by its pipeline, the ticker and the server).
#[derive(Debug)]
pub struct SourceMonitor {
    name: String,
    interval: Duration,
    silence_alert: Option<Duration>,
    metrics: Arc<Metrics>,
    status: Mutex<Status>,
}

impl SourceMonitor {
    /// A monitor for source `name` polling every `interval`, alerting after `silence_alert`
    /// without an event (`None`: never). Its gauges start at 0.
    pub fn new(
        name: &str,
        interval: Duration,
        silence_alert: Option<Duration>,
        metrics: Arc<Metrics>,
    ) -> Arc<SourceMonitor> {
        for gauge in [&metrics.source_silent, &metrics.source_halted] {
            gauge.with_label_values(&[name]).set(0);
        }
        metrics.events_fetched.with_label_values(&[name]).inc_by(0);
        Arc::new(SourceMonitor {
            name: name.to_string(),
            interval,
            silence_alert,
            metrics,
            status: Mutex::new(Status {
                state: RunState::Starting,
                started: Instant::now(),
                last_fetch: None,
                last_event: None,
                last_committed_published: None,
                last_error: None,
                silent: false,
                sinks: BTreeMap::new(),
                stats: None,
                copied: FetchStatsSnapshot::default(),
                push: None,
            }),
        })
    }

    fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts following the source's request counters.
    pub fn attach(&self, stats: Arc<FetchStats>, sinks: &[&str]) {
        let mut status = self.status();
        status.stats = Some(stats);
        for sink in sinks {
            status.sinks.insert(sink.to_string(), None);
            let labels = [self.name.as_str(), sink];
            self.metrics.sink_failing.with_label_values(&labels).set(0);
            self.metrics
                .events_written
                .with_label_values(&labels)
                .inc_by(0);
        }
        if status.state == RunState::Starting {
            status.state = RunState::Running;
        }
    }

    /// This is a push source whose receiver listens with `stats`, answering `429` beyond
    /// `max_in_flight` requests: its counters go into the `oktaflow_push_*` metrics and its
    /// readiness follows the receiver instead of the fetch schedule.
    pub fn attach_push(&self, stats: Arc<ReceiverStats>, max_in_flight: usize) {
        let name = self.name.as_str();
        self.metrics
            .push_in_flight_limit
            .with_label_values(&[name])
            .set(i64::try_from(max_in_flight).unwrap_or(i64::MAX));
        self.metrics
            .push_in_flight
            .with_label_values(&[name])
            .set(0);
        for outcome in ["accepted", "duplicate", "rejected"] {
            self.metrics
                .push_events
                .with_label_values(&[name, outcome])
                .inc_by(0);
        }
        self.status().push = Some(PushStatus {
            stats,
            max_in_flight: max_in_flight as u64,
            copied: [0; 6],
        });
    }

    /// A push source answered deliveries: `accepted` events made durable, `duplicates`
    /// redeliveries dropped, `rejected` bodies dead-lettered, each answer `latencies` after
    /// its receipt.
    pub fn push_acked(
        &self,
        accepted: usize,
        duplicates: usize,
        rejected: usize,
        latencies: &[Duration],
    ) {
        let name = self.name.as_str();
        let m = &self.metrics;
        for (outcome, count) in [
            ("accepted", accepted),
            ("duplicate", duplicates),
            ("rejected", rejected),
        ] {
            m.push_events
                .with_label_values(&[name, outcome])
                .inc_by(count as u64);
        }
        let histogram = m.push_ack_latency.with_label_values(&[name]);
        for latency in latencies {
            histogram.observe(latency.as_secs_f64());
        }
        if accepted > 0 {
            self.status().last_event = Some((Instant::now(), Utc::now()));
        }
    }

    /// A page of `events` events was fetched; `took` is the request time when the fetch
    /// followed the previous page at once (not after a poll-interval wait).
    pub fn fetched(&self, events: usize, took: Option<Duration>) {
        let now = (Instant::now(), Utc::now());
        {
            let mut status = self.status();
            status.last_fetch = Some(now);
            if events > 0 {
                status.last_event = Some(now);
            }
        }
        self.metrics
            .events_fetched
            .with_label_values(&[&self.name])
            .inc_by(events as u64);
        if let Some(took) = took {
            self.stage("fetch", took);
        }
    }

    /// Records the time of one stage of a batch (`normalize`, `write`, `checkpoint`).
    pub fn stage(&self, stage: &str, took: Duration) {
        self.metrics
            .batch_duration
            .with_label_values(&[&self.name, stage])
            .observe(took.as_secs_f64());
    }

    /// A batch was committed: `normalized` documents built, `refused` events the normalizer
    /// refused, `published_unparsable` documents written at their fetch time because their
    /// `published` was missing or unparsable, `written` documents per sink with the ones it
    /// `rejected`, and the latest `published` time committed.
    pub fn committed(
        &self,
        normalized: usize,
        refused: usize,
        published_unparsable: usize,
        per_sink: &[(&str, usize, usize)],
        latest: Option<DateTime<Utc>>,
    ) {
        let m = &self.metrics;
        m.events_published_unparsable
            .with_label_values(&[&self.name])
            .inc_by(published_unparsable as u64);
        m.events_normalized
            .with_label_values(&[&self.name])
            .inc_by(normalized as u64);
        m.events_dead_lettered
            .with_label_values(&[&self.name, "normalize"])
            .inc_by(refused as u64);
        for (sink, written, rejected) in per_sink {
            let labels = [self.name.as_str(), sink];
            m.events_written
                .with_label_values(&labels)
                .inc_by(written.saturating_sub(*rejected) as u64);
            m.sink_rejected
                .with_label_values(&labels)
                .inc_by(*rejected as u64);
            m.events_dead_lettered
                .with_label_values(&[&self.name, "rejected"])
                .inc_by(*rejected as u64);
        }
        if let Some(latest) = latest {
            let mut status = self.status();
            status.last_committed_published = Some(
                status
                    .last_committed_published
                    .map_or(latest, |p| p.max(latest)),
            );
        }
    }

    /// A batch write to `sink` succeeded after `took`.
    pub fn sink_ok(&self, sink: &str, took: Duration) {
        let labels = [self.name.as_str(), sink];
        self.metrics
            .sink_write_duration
            .with_label_values(&labels)
            .observe(took.as_secs_f64());
        self.metrics.sink_failing.with_label_values(&labels).set(0);
        self.status().sinks.insert(sink.to_string(), None);
    }

    /// A write to `sink` (or to the checkpoint or the dead-letter file) failed with `error` of
    /// `kind` ([`SinkError::kind`]: it is retried or the run ends). The error
    /// is recorded scrubbed of every configured secret ([`oktaflow_plumbing::scrub`]).
    pub fn sink_failed(&self, sink: &str, kind: &str, error: &str) {
        let labels = [self.name.as_str(), sink];
        self.metrics
            .sink_errors
            .with_label_values(&[self.name.as_str(), sink, kind])
            .inc();
        self.metrics.sink_failing.with_label_values(&labels).set(1);
        self.status()
            .sinks
            .insert(sink.to_string(), Some(scrub(error).into_owned()));
    }

    /// The pipeline ended with `error` (recorded scrubbed, like [`SourceMonitor::sink_failed`]).
    pub fn halted(&self, error: &str) {
        self.tick();
        let mut status = self.status();
        status.state = RunState::Halted;
        status.last_error = Some(scrub(error).into_owned());
        self.metrics
            .source_halted
            .with_label_values(&[&self.name])
            .set(1);
    }

    /// The pipeline ended cleanly.
    pub fn stopped(&self) {
        self.tick();
        self.status().state = RunState::Stopped;
    }

    /// Copies the request counters into the metrics, updates the lag gauges, and raises
    /// (logging an error once per episode) or clears the silence alert.
    pub fn tick(&self) {
        let mut status = self.status();
        let m = &self.metrics;
        let name = self.name.as_str();
        if let Some(stats) = &status.stats {
            let now = stats.snapshot();
            let before = &status.copied;
            for (code, count) in &now.by_status {
                let old = before.by_status.get(code).copied().unwrap_or(0);
                m.requests
                    .with_label_values(&[name, &code.to_string()])
                    .inc_by(count.saturating_sub(old));
            }
            m.rate_limited
                .with_label_values(&[name])
                .inc_by(now.rate_limited.saturating_sub(before.rate_limited));
            m.retries
                .with_label_values(&[name])
                .inc_by(now.retries.saturating_sub(before.retries));
            if let Some(remaining) = now.last_rate_limit_remaining {
                m.rate_limit_remaining
                    .with_label_values(&[name])
                    .set(i64::try_from(remaining).unwrap_or(i64::MAX));
            }
            status.copied = now;
        }
        if let Some(push) = &mut status.push {
            let now = push.by_status();
            for (i, (count, code)) in now.iter().enumerate() {
                m.push_requests
                    .with_label_values(&[name, code])
                    .inc_by(count.saturating_sub(push.copied[i]));
                push.copied[i] = *count;
            }
            m.push_in_flight
                .with_label_values(&[name])
                .set(i64::try_from(push.stats.in_flight()).unwrap_or(i64::MAX));
        }
        if let Some(published) = status.last_committed_published {
            m.checkpoint_lag
                .with_label_values(&[name])
                .set((Utc::now() - published).num_seconds().max(0));
        }
        let quiet = status
            .last_event
            .map_or(status.started, |(at, _)| at)
            .elapsed();
        m.since_last_event
            .with_label_values(&[name])
            .set(i64::try_from(quiet.as_secs()).unwrap_or(i64::MAX));
        let active = matches!(
            status.state,
            RunState::Starting | RunState::Running | RunState::Silent
        );
        let silent = active && self.silence_alert.is_some_and(|limit| quiet >= limit);
        if silent != status.silent {
            status.silent = silent;
            m.source_silent
                .with_label_values(&[name])
                .set(i64::from(silent));
            if silent {
                error!(
                    source = name,
                    silent_secs = quiet.as_secs(),
                    "no event from this source for longer than its silence_alert; check the org and its integration"
                );
            } else if active {
                info!(source = name, "events are arriving again");
            }
        }
        if active && status.state != RunState::Starting {
            status.state = if silent {
                RunState::Silent
            } else {
                RunState::Running
            };
        }
    }

    /// This source's `/ready` entry (call [`SourceMonitor::tick`] first for fresh values).
    pub fn report(&self) -> SourceReport {
        let status = self.status();
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let fresh = status
            .last_fetch
            .is_some_and(|(at, _)| at.elapsed() <= self.interval + READY_MARGIN);
        let sinks: Vec<SinkReport> = status
            .sinks
            .iter()
            .map(|(sink, error)| SinkReport {
                sink: sink.clone(),
                failing: error.is_some(),
                error: error.clone(),
            })
            .collect();
        let sinks_ok = sinks.iter().all(|s| !s.failing);
        let quiet = status
            .last_event
            .map_or(status.started, |(at, _)| at)
            .elapsed();
        let push = status.push.as_ref().map(|p| PushReport {
            listening: true,
            in_flight: p.stats.in_flight(),
            max_in_flight: p.max_in_flight,
        });
        // A push source is ready once its receiver is bound and its run recovered (running),
        // while the receiver has room (at the bound it answers 429); it fetches nothing on a
        // schedule. Silence is the silence alert's business, not readiness.
        let ready = match &push {
            Some(push) => {
                matches!(status.state, RunState::Running | RunState::Silent)
                    && push.in_flight < push.max_in_flight
                    && sinks_ok
            }
            None => status.state == RunState::Running && fresh && sinks_ok,
        };
        SourceReport {
            source: self.name.clone(),
            state: status.state,
            ready,
            last_fetch: status.last_fetch.map(|(_, t)| time(t)),
            last_event_received: status.last_event.map(|(_, t)| time(t)),
            last_event_published: status.last_committed_published.map(time),
            checkpoint_lag_seconds: status
                .last_committed_published
                .map(|p| (Utc::now() - p).num_seconds().max(0)),
            seconds_since_last_event: quiet.as_secs(),
            silence_alert_seconds: self.silence_alert.map(|d| d.as_secs()),
            last_error: status.last_error.clone().or_else(|| {
                sinks
                    .iter()
                    .find_map(|s| s.error.as_ref().map(|e| with_output(&s.sink, e)))
            }),
            sinks,
            push,
        }
    }
}

impl PipelineObserver for SourceMonitor {
    fn started(&self, started: &Started<'_>) {
        self.attach(started.stats.clone(), started.sinks);
    }

    fn page_fetched(&self, events: usize, took: Option<Duration>) {
        self.fetched(events, took);
    }

    fn push_listening(&self, listening: &PushListening<'_>) {
        self.attach_push(listening.stats.clone(), listening.max_in_flight);
    }

    fn push_acked(&self, acked: &PushAcked<'_>) {
        SourceMonitor::push_acked(
            self,
            acked.accepted,
            acked.duplicates,
            acked.rejected,
            acked.ack_latencies,
        );
    }

    fn batch_committed(&self, batch: &Committed<'_>) {
        self.stage("normalize", batch.times.normalize);
        self.stage("write", batch.times.write);
        self.stage("checkpoint", batch.times.checkpoint);
        self.stage("commit", batch.times.commit);
        let per_sink: Vec<(&str, usize, usize)> = batch
            .sinks
            .iter()
            .map(|s| (s.sink, s.documents, s.rejected))
            .collect();
        self.committed(
            batch.documents,
            batch.refused,
            batch.published_unparsable,
            &per_sink,
            batch.latest_published,
        );
    }

    fn alerts_committed(&self, alerts: &AlertsCommitted<'_>) {
        self.stage("detect", alerts.detect_time);
        let m = &self.metrics;
        for rule in alerts.rules {
            m.alerts
                .with_label_values(&[self.name.as_str(), rule])
                .inc();
        }
        for (rule, keys) in &alerts.stats.keys {
            let keys = i64::try_from(*keys).unwrap_or(i64::MAX);
            m.detect_keys
                .with_label_values(&[self.name.as_str(), rule])
                .set(keys);
        }
        // The detector counts evictions since it was built; the counter follows it.
        for (rule, evicted) in &alerts.stats.evicted {
            let counter = m
                .detect_evicted
                .with_label_values(&[self.name.as_str(), rule]);
            counter.inc_by(evicted.saturating_sub(counter.get()));
        }
    }

    fn profiles_synced(&self, synced: &ProfilesSynced<'_>) {
        let m = &self.metrics;
        let source = self.name.as_str();
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let status = synced.status;
        m.profiles
            .with_label_values(&[source, "user"])
            .set(count(status.users));
        m.profiles
            .with_label_values(&[source, "device"])
            .set(count(status.devices));
        m.profiles_synced
            .with_label_values(&[source])
            .set(status.synced_at.map_or(0, |t| t.timestamp()));
        m.profile_requests
            .with_label_values(&[source])
            .inc_by(synced.requests);
        if synced.requests > 0 {
            m.profile_refreshes.with_label_values(&[source, "ok"]).inc();
        }
    }

    fn profiles_sync_failed(&self, _source: &str, error: &EnrichError) {
        let m = &self.metrics;
        let source = self.name.as_str();
        m.profile_refreshes
            .with_label_values(&[source, "error"])
            .inc();
        m.profile_refresh_errors
            .with_label_values(&[source, error.endpoint()])
            .inc();
    }

    fn profiles_looked_up(&self, _source: &str, lookups: &LookupCounts) {
        let counter = &self.metrics.profile_lookups;
        let source = self.name.as_str();
        for (kind, result, n) in [
            ("user", "hit", lookups.user_hits),
            ("user", "miss", lookups.user_misses),
            ("device", "hit", lookups.device_hits),
            ("device", "miss", lookups.device_misses),
        ] {
            if n > 0 {
                counter.with_label_values(&[source, kind, result]).inc_by(n);
            }
        }
    }

    fn sink_ok(&self, sink: &str, took: Duration) {
        SourceMonitor::sink_ok(self, sink, took);
    }

    fn sink_failed(&self, sink: &str, error: &SinkError, _retry_in: Option<Duration>) {
        SourceMonitor::sink_failed(self, sink, error.kind(), &error.to_string());
    }

    fn halted(&self, _source: &str, error: &PipelineError) {
        SourceMonitor::halted(self, &error.to_string());
    }

    fn stopped(&self, _summary: &RunSummary) {
        SourceMonitor::stopped(self);
    }
}

/// `error` prefixed with the output's name, unless it starts with it already (sink errors
/// name their sink).
fn with_output(output: &str, error: &str) -> String {
    if error.starts_with(output) {
        error.to_string()
    } else {
        format!("{output}: {error}")
    }
}

/// Ticks every monitor each [`TICK`], forever (spawn it; abort it to stop).
pub async fn watch(monitors: Vec<Arc<SourceMonitor>>) {
    let mut interval = tokio::time::interval(TICK);
    loop {
        interval.tick().await;
        for monitor in &monitors {
            monitor.tick();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(silence: Option<Duration>) -> (Arc<Metrics>, Arc<SourceMonitor>) {
        let metrics = Arc::new(Metrics::new().unwrap());
        let monitor = SourceMonitor::new("prod", Duration::from_secs(60), silence, metrics.clone());
        (metrics, monitor)
    }

    #[test]
    fn a_failed_profile_refresh_is_counted_by_what_failed_and_keeps_the_store_gauges() {
        let (metrics, monitor) = monitor(None);
        let status = oktaflow_pipeline::ProfileStatus {
            users: 120,
            devices: 40,
            version: 3,
            synced_at: "2026-12-06T01:00:00Z".parse().ok(),
        };
        monitor.profiles_synced(&ProfilesSynced {
            source: "prod",
            status: &status,
            requests: 9,
            changed: (2, 0),
        });
        monitor.profiles_sync_failed(
            "prod",
            &EnrichError::Parse {
                what: "devices",
                detail: "expected an array".into(),
            },
        );
        let text = metrics.encode().unwrap();
        for line in [
            "oktaflow_profiles{kind=\"user\",source=\"prod\"} 120",
            "oktaflow_profiles{kind=\"device\",source=\"prod\"} 40",
            "oktaflow_profiles_synced_timestamp_seconds{source=\"prod\"} 1796518800",
            "oktaflow_profile_requests_total{source=\"prod\"} 9",
            "oktaflow_profile_refreshes_total{result=\"ok\",source=\"prod\"} 1",
            "oktaflow_profile_refreshes_total{result=\"error\",source=\"prod\"} 1",
            "oktaflow_profile_refresh_errors_total{endpoint=\"devices\",source=\"prod\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn a_push_source_is_ready_once_bound_and_recovered_and_while_it_has_room() {
        let (_, full) = monitor(None);
        let (metrics, monitor) = monitor(None);
        monitor.attach_push(Arc::new(ReceiverStats::default()), 2000);
        monitor.tick();
        let report = monitor.report();
        assert!(!report.ready, "bound but not recovered: {report:?}");
        assert_eq!(report.push.as_ref().map(|p| p.max_in_flight), Some(2000));
        // Recovered (the run's `started`): ready without any fetch.
        monitor.attach(Arc::new(FetchStats::new()), &["file:/tmp/x"]);
        monitor.push_acked(3, 2, 1, &[Duration::from_millis(20); 6]);
        monitor.tick();
        let report = monitor.report();
        assert!(report.ready, "{report:?}");
        let text = metrics.encode().unwrap();
        for series in [
            "oktaflow_push_events_total{outcome=\"accepted\",source=\"prod\"} 3",
            "oktaflow_push_events_total{outcome=\"duplicate\",source=\"prod\"} 2",
            "oktaflow_push_events_total{outcome=\"rejected\",source=\"prod\"} 1",
            "oktaflow_push_ack_latency_seconds_count{source=\"prod\"} 6",
            "oktaflow_push_in_flight{source=\"prod\"} 0",
            "oktaflow_push_in_flight_limit{source=\"prod\"} 2000",
            "oktaflow_push_requests_total{source=\"prod\",status=\"429\"} 0",
        ] {
            assert!(text.contains(series), "{series} in {text}");
        }
        // A receiver whose bound is reached (here: a bound of 0, reached by no request)
        // answers 429: not ready.
        full.attach_push(Arc::new(ReceiverStats::default()), 0);
        full.attach(Arc::new(FetchStats::new()), &[]);
        full.tick();
        assert!(!full.report().ready);
    }

    #[test]
    fn a_fetching_source_with_healthy_sinks_is_ready() {
        let (metrics, monitor) = monitor(None);
        assert!(!monitor.report().ready, "not ready before the first fetch");
        monitor.attach(Arc::new(FetchStats::new()), &["stdout"]);
        monitor.fetched(3, Some(Duration::from_millis(5)));
        monitor.sink_ok("stdout", Duration::from_millis(1));
        monitor.committed(3, 0, 1, &[("stdout", 3, 1)], Some(Utc::now()));
        monitor.tick();
        let report = monitor.report();
        assert!(report.ready, "{report:?}");
        assert_eq!(report.state, RunState::Running);
        assert_eq!(report.checkpoint_lag_seconds, Some(0));
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("oktaflow_events_fetched_total{source=\"prod\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("oktaflow_events_written_total{sink=\"stdout\",source=\"prod\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "oktaflow_events_dead_lettered_total{reason=\"rejected\",source=\"prod\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("oktaflow_events_published_unparsable_total{source=\"prod\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn alerts_are_counted_per_rule_with_the_state_held_and_evicted() {
        use oktaflow_pipeline::{AlertsCommitted, PipelineObserver};
        let (metrics, monitor) = monitor(None);
        let mut stats = oktaflow_detect::DetectorStats::default();
        stats.keys.insert("okta.brute_force_logins", 7);
        stats.evicted.insert("okta.brute_force_logins", 2);
        let rules = [
            "okta.brute_force_logins",
            "okta.api_key_created",
            "okta.brute_force_logins",
        ];
        let batch = |rules: &[&'static str], stats: &oktaflow_detect::DetectorStats| {
            PipelineObserver::alerts_committed(
                &*monitor,
                &AlertsCommitted {
                    source: "prod",
                    rules,
                    stats,
                    sinks: &[],
                    detect_time: Duration::from_millis(1),
                },
            );
        };
        batch(&rules, &stats);
        stats.evicted.insert("okta.brute_force_logins", 5);
        batch(&[], &stats);
        let text = metrics.encode().unwrap();
        for line in [
            "oktaflow_alerts_total{rule=\"okta.brute_force_logins\",source=\"prod\"} 2",
            "oktaflow_alerts_total{rule=\"okta.api_key_created\",source=\"prod\"} 1",
            "oktaflow_detect_state_keys{rule=\"okta.brute_force_logins\",source=\"prod\"} 7",
            "oktaflow_detect_state_evicted_total{rule=\"okta.brute_force_logins\",source=\"prod\"} 5",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn a_failing_sink_or_a_halt_makes_the_source_not_ready() {
        let (metrics, monitor) = monitor(None);
        monitor.attach(Arc::new(FetchStats::new()), &["stdout"]);
        monitor.fetched(1, None);
        monitor.sink_failed("stdout", "io", "broken pipe");
        let report = monitor.report();
        assert!(!report.ready);
        assert_eq!(report.last_error.as_deref(), Some("stdout: broken pipe"));
        assert!(report.sinks[0].failing);
        monitor.sink_ok("stdout", Duration::from_millis(1));
        assert!(monitor.report().ready);
        monitor.halted("authentication failed");
        let report = monitor.report();
        assert_eq!(report.state, RunState::Halted);
        assert!(!report.ready);
        assert_eq!(report.last_error.as_deref(), Some("authentication failed"));
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("oktaflow_source_halted{source=\"prod\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "oktaflow_sink_errors_total{kind=\"io\",sink=\"stdout\",source=\"prod\"} 1"
            ),
            "{text}"
        );
    }

    #[test]
    fn recorded_errors_never_hold_a_configured_secret() {
        let (_, monitor) = monitor(None);
        let token = oktaflow_plumbing::Secret::new("00monitorScrubTokenZZZZZZZZZZZZZZZZZZZZZ");
        monitor.attach(Arc::new(FetchStats::new()), &["stdout"]);
        monitor.sink_failed("stdout", "refused", &format!("refused {}", token.expose()));
        let report = monitor.report();
        assert_eq!(report.sinks[0].error.as_deref(), Some("refused [REDACTED]"));
        monitor.halted(&format!("HTTP 403: SSWS {}", token.expose()));
        let report = monitor.report();
        assert_eq!(
            report.last_error.as_deref(),
            Some("HTTP 403: SSWS [REDACTED]")
        );
    }

    #[test]
    fn silence_is_raised_after_the_threshold_and_cleared_by_an_event() {
        let (metrics, monitor) = monitor(Some(Duration::ZERO));
        monitor.attach(Arc::new(FetchStats::new()), &[]);
        monitor.tick();
        assert_eq!(monitor.report().state, RunState::Silent);
        assert!(metrics
            .encode()
            .unwrap()
            .contains("oktaflow_source_silent{source=\"prod\"} 1"));

        let (metrics, monitor) = self::monitor(Some(Duration::from_secs(3600)));
        monitor.attach(Arc::new(FetchStats::new()), &[]);
        monitor.fetched(1, None);
        monitor.tick();
        assert_eq!(monitor.report().state, RunState::Running);
        assert!(metrics
            .encode()
            .unwrap()
            .contains("oktaflow_source_silent{source=\"prod\"} 0"));
    }
}
