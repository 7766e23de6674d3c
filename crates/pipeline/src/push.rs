//! The push run ([`Pipeline::run_push`]): events that an EventBridge API destination posted
//! to the receiver (`oktaflow-push`) go through the same normalize stage, detect stage,
//! sinks and checkpoint as fetched pages, exactly once.
//!
//! * **Batches.** The run takes the first queued delivery, then whatever arrives within
//!   [`PushOptions::linger`], up to the sinks' batch size; the batch is committed by the one
//!   commit function of the pipeline (`Writer::commit_batch`): documents in every sink, dead
//!   letters fsynced, then the checkpoint. Only then is every delivery of the batch
//!   acknowledged (its request answered `200`); a batch that fails fails its deliveries
//!   (`503`, EventBridge retries) and ends the run. Batch N's checkpoint is saved before
//!   batch N+1 is written, as for polling.
//! * **Duplicates.** Log Streaming is at least once. Every event's `uuid` is looked up in a
//!   bounded window of the ids made durable most recently ([`PushOptions::dedup_window`],
//!   default 200,000). Each batch's new ids are appended to the window's journal
//!   ([`crate::dedup_store`]) before its checkpoint, which names the journal's length: the
//!   checkpoint is the commit point of both, so a redelivery of an event already durable,
//!   also after a crash, is acknowledged without being written again, while the checkpoint
//!   stays a few hundred bytes. Two copies in one batch are written once.
//! * **Order.** Within a batch, events are handed to the normalizer and the detectors in
//!   `published` order (a stable sort: events without a readable `published` keep their
//!   arrival order, first). The batch is the reorder buffer: it never holds a request longer
//!   than the linger plus one commit, well inside EventBridge's 5 s.
//! * **Malformed bodies** (not an envelope, no `detail`, not JSON) go through the normalizer
//!   like any event, which refuses them: they are dead-lettered with the reason, then
//!   acknowledged (retrying them would never succeed).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use oktaflow_fetch::{FetchStatsSnapshot, RawEvent, SourceState};
use oktaflow_push::{Deliveries, Delivery};
use serde::Deserialize;
use tokio::sync::watch;

use crate::batch::BatchBuilder;
use crate::checkpoint::PushState;
use crate::gap::{GapFill, GapFiller};
use crate::observer::{
    AlertsCommitted, Committed, PipelineObserver, PushAcked, PushListening, StageTimes, Started,
};
use crate::pipeline::{blocking, Pipeline, RunSummary, StopReason, Writer};
use crate::PipelineError;

/// The default de-duplication window: the last 200,000 event ids.
pub const DEFAULT_DEDUP_WINDOW: usize = 200_000;

/// The default time a push batch waits for more deliveries after its first.
pub const DEFAULT_PUSH_LINGER: Duration = Duration::from_millis(50);

/// Settings of a push run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOptions {
    /// How many of the most recent event ids are remembered to drop redeliveries.
    pub dedup_window: usize,
    /// How long a batch waits for more deliveries after its first.
    pub linger: Duration,
    /// Fill gaps of the stream from the System Log API (`None`: receive only; needs API
    /// credentials in the source's client).
    pub gap_fill: Option<GapFill>,
}

impl Default for PushOptions {
    fn default() -> PushOptions {
        PushOptions {
            dedup_window: DEFAULT_DEDUP_WINDOW,
            linger: DEFAULT_PUSH_LINGER,
            gap_fill: None,
        }
    }
}

/// The ids of the events made durable most recently, at most `capacity`, oldest evicted
/// first.
#[derive(Debug, Clone)]
pub struct DedupWindow {
    capacity: usize,
    set: HashSet<Arc<str>>,
    order: VecDeque<Arc<str>>,
}

impl DedupWindow {
    /// An empty window of `capacity` ids (at least one).
    pub fn new(capacity: usize) -> DedupWindow {
        DedupWindow {
            capacity: capacity.max(1),
            set: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// The window saved in a checkpoint (its newest `capacity` ids).
    pub fn restore(capacity: usize, state: Option<&PushState>) -> DedupWindow {
        let mut window = DedupWindow::new(capacity);
        for id in state.map(|s| s.seen.as_slice()).unwrap_or_default() {
            window.insert(id);
        }
        window
    }

    /// True when `id` is in the window.
    pub fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// Adds `id` (evicting the oldest when full); false when it was already there.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        let id: Arc<str> = Arc::from(id);
        self.set.insert(Arc::clone(&id));
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// How many ids it holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// What goes into the checkpoint.
    pub fn state(&self) -> PushState {
        PushState {
            seen: self.order.iter().map(|id| id.to_string()).collect(),
        }
    }
}

/// The fields of an envelope the run reads itself (the normalizer reads the rest).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    detail: Option<Detail<'a>>,
}

#[derive(Deserialize)]
struct Detail<'a> {
    #[serde(borrow)]
    uuid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    published: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "eventType")]
    event_type: Option<Cow<'a, str>>,
}

/// What the run reads of an event: its id, `published` time and `eventType`.
#[derive(Debug, Default, PartialEq)]
struct Peek {
    id: Option<String>,
    published: Option<DateTime<Utc>>,
    event_type: Option<String>,
}

impl From<Detail<'_>> for Peek {
    fn from(detail: Detail<'_>) -> Peek {
        Peek {
            id: detail.uuid.map(Cow::into_owned),
            published: detail
                .published
                .and_then(|p| DateTime::parse_from_rfc3339(&p).ok())
                .map(|t| t.with_timezone(&Utc)),
            event_type: detail.event_type.map(Cow::into_owned),
        }
    }
}

/// What an envelope (a pushed body) holds, when it is one.
fn peek(body: &[u8]) -> Peek {
    match serde_json::from_slice::<Envelope<'_>>(body) {
        Ok(Envelope {
            detail: Some(detail),
        }) => detail.into(),
        _ => Peek::default(),
    }
}

/// What a bare LogEvent (a page of the API) holds.
fn peek_event(body: &[u8]) -> Peek {
    serde_json::from_slice::<Detail<'_>>(body)
        .map(Peek::from)
        .unwrap_or_default()
}

/// While deliveries keep arriving, a due gap still gets a page at least this often.
const GAP_TURN: Duration = Duration::from_secs(1);

/// The longest a gap page may take (retries included) before the run goes back to its
/// deliveries and tries the gap again later.
const GAP_PAGE_TIMEOUT: Duration = Duration::from_secs(20);

impl Pipeline {
    /// Makes this pipeline a push source: [`Pipeline::run`] then binds `receiver` and runs
    /// [`Pipeline::run_push`] on what it receives, with `options`.
    pub fn with_push(
        mut self,
        receiver: oktaflow_push::ReceiverConfig,
        options: PushOptions,
    ) -> Pipeline {
        self.push = Some((receiver, options));
        self
    }

    /// Binds the receiver (a bad setting or a taken address is a one-line
    /// [`PipelineError::Config`]), serves it until `stop` turns true, and runs the push loop.
    pub(crate) async fn run_receiver(
        self,
        receiver: oktaflow_push::ReceiverConfig,
        options: PushOptions,
        stop: watch::Receiver<bool>,
    ) -> Result<RunSummary, PipelineError> {
        let max_in_flight = receiver.max_in_flight;
        let (receiver, deliveries) = oktaflow_push::Receiver::bind(receiver)
            .await
            .map_err(|e| PipelineError::Config(format!("eventbridge receiver: {e}")))?;
        if let Ok(addr) = receiver.local_addr() {
            tracing::info!(source = %self.config.source.name, listen = %addr, "push receiver listening");
            self.observers.push_listening(&PushListening {
                source: &self.config.source.name,
                listen: addr,
                stats: receiver.stats(),
                max_in_flight,
            });
        }
        let mut until_stop = stop.clone();
        let server = tokio::spawn(receiver.serve(async move {
            while !*until_stop.borrow() {
                if until_stop.changed().await.is_err() {
                    break;
                }
            }
        }));
        let result = self.run_push(deliveries, options, stop).await;
        server.abort();
        result
    }

    /// Runs the push source: takes the receiver's deliveries and commits them batch after
    /// batch (see the [module documentation](crate::push)) until a stop request, the end of
    /// the queue (the receiver stopped) or a failure. Recovery is a polling run's: every sink
    /// and the dead-letter file go back to the checkpoint's positions, and the
    /// de-duplication window is the checkpoint's.
    pub async fn run_push(
        self,
        mut deliveries: Deliveries,
        options: PushOptions,
        stop: watch::Receiver<bool>,
    ) -> Result<RunSummary, PipelineError> {
        let observers = self.observers.clone();
        let source = self.config.source.name.clone();
        let result = self.push_to_end(&mut deliveries, options, stop).await;
        // Whatever is still queued was never committed: its senders retry.
        while let Some(delivery) = deliveries.try_recv() {
            delivery.fail("the push source stopped before the event was written");
        }
        match &result {
            Ok(summary) => observers.stopped(summary),
            Err(error) => observers.halted(&source, error),
        }
        result
    }

    async fn push_to_end(
        self,
        deliveries: &mut Deliveries,
        options: PushOptions,
        mut stop: watch::Receiver<bool>,
    ) -> Result<RunSummary, PipelineError> {
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
        let loaded = writer.recover().await?;
        let resumed = loaded.is_some();
        let (state, detect_files, inline_detect, saved_push, push_files, saved_stream) =
            match loaded {
                Some(checkpoint) => (
                    checkpoint.source,
                    checkpoint.detect_files,
                    checkpoint.detect,
                    checkpoint.push,
                    checkpoint.push_files,
                    checkpoint.stream,
                ),
                None => (
                    SourceState::polling(config.source.client.org.label(), Utc::now()),
                    None,
                    None,
                    None,
                    None,
                    None,
                ),
            };
        let saved_detect = writer
            .saved_detect(&config, detect_files, inline_detect)
            .await?;
        let mut window = writer
            .load_dedup(options.dedup_window, push_files, saved_push)
            .await?;
        // Gap filling: the API client, and what is still to fill from the checkpoint.
        let mut gaps = match options.gap_fill {
            Some(fill) => {
                let client = oktaflow_fetch::OktaClient::new(config.source.client.clone())
                    .map_err(|e| PipelineError::Config(format!("gap filling: {e}")))?;
                Some((Arc::new(client), GapFiller::new(fill, saved_stream)))
            }
            None => None,
        };
        writer.stream = gaps.as_ref().map(|(_, filler)| filler.state().clone());
        let detector = crate::pipeline::detect_stage(&config, saved_detect)?;
        {
            let sink_names = writer.sink_names();
            let stats = gaps.as_ref().map_or_else(
                || Arc::new(oktaflow_fetch::FetchStats::default()),
                |(client, _)| Arc::clone(client.stats()),
            );
            observers.started(&Started {
                source: &name,
                org: config.source.client.org.label(),
                resumed,
                sinks: &sink_names,
                stats,
                batch: limits,
            });
        }
        if !resumed
            && writer
                .checkpoint_start(state.clone(), &stop)
                .await?
                .is_none()
        {
            return Ok(summary_of(&name, &writer, started, StopReason::Requested));
        }
        let mut run = PushCommit {
            name: name.clone(),
            state,
            builder: Some(
                crate::pipeline::batch_builder(&config, writer.sinks.len())
                    .with_detect_parts(detector.is_some()),
            ),
            detector,
            summary: summary_of(&name, &writer, started, StopReason::Requested),
            writer,
            observers: observers.clone(),
        };
        // How often the gap filler looks at the clock while no delivery comes.
        let tick = Duration::from_millis(500);
        let mut last_fill = Instant::now();

        loop {
            if *stop.borrow() {
                break;
            }
            // A due gap is fetched a page at a time, while no delivery waits (or at least
            // every GAP_TURN while deliveries keep coming).
            if let Some((client, filler)) = &mut gaps {
                if deliveries.is_empty() || last_fill.elapsed() >= GAP_TURN {
                    last_fill = Instant::now();
                    filler.check_silence(Utc::now());
                    if let Some(request) = filler.next_request(Utc::now()) {
                        if !run
                            .fill_page(client, filler, request, &mut window, &stop)
                            .await?
                        {
                            break;
                        }
                        continue;
                    }
                }
            }
            let waiting = Instant::now();
            let first = tokio::select! {
                delivery = deliveries.recv() => match delivery {
                    Some(delivery) => delivery,
                    None => break,
                },
                Ok(()) = stop.changed() => break,
                () = tokio::time::sleep(tick), if gaps.is_some() => continue,
            };
            let mut taken = vec![first];
            let mut bytes = taken[0].body.len();
            let linger = tokio::time::sleep(options.linger);
            tokio::pin!(linger);
            while taken.len() < limits.max_docs && bytes < limits.max_bytes {
                tokio::select! {
                    delivery = deliveries.recv() => match delivery {
                        Some(delivery) => {
                            bytes += delivery.body.len();
                            taken.push(delivery);
                        }
                        None => break,
                    },
                    () = &mut linger => break,
                }
            }
            let waited = waiting.elapsed();
            if let Some((_, filler)) = &mut gaps {
                filler.delivered();
            }

            // Already durable: acknowledged at once. New: into the batch, in `published`
            // order. A second copy within the batch waits for the batch.
            let mut fresh: Vec<(Peek, Delivery)> = Vec::new();
            let mut in_batch: HashSet<String> = HashSet::new();
            let mut copies: Vec<Delivery> = Vec::new();
            let mut durable: Vec<Delivery> = Vec::new();
            for delivery in taken {
                let peeked = peek(&delivery.body);
                match &peeked.id {
                    Some(id) if window.contains(id) => durable.push(delivery),
                    Some(id) if !in_batch.insert(id.clone()) => copies.push(delivery),
                    _ => fresh.push((peeked, delivery)),
                }
            }
            if fresh.is_empty() {
                // Only redeliveries of durable events (copies within the batch are
                // impossible without fresh ones, but answer them rather than hold them).
                durable.append(&mut copies);
            }
            if !durable.is_empty() {
                // Counted before they are answered, so a client that saw its 200 finds it
                // in the metrics.
                let latencies: Vec<Duration> = durable.iter().map(since).collect();
                observers.push_acked(&PushAcked {
                    source: &name,
                    accepted: 0,
                    duplicates: durable.len(),
                    rejected: 0,
                    ack_latencies: &latencies,
                });
                for delivery in durable {
                    delivery.ack();
                }
            }
            if fresh.is_empty() {
                continue;
            }
            fresh.sort_by_key(|(peeked, _)| peeked.published);
            let events: Vec<RawEvent> = fresh
                .iter()
                .map(|(_, d)| RawEvent::new(d.body.clone()))
                .collect();
            let new_ids: Vec<String> = fresh.iter().filter_map(|(p, _)| p.id.clone()).collect();
            let stream_after = gaps.as_mut().map(|(_, filler)| {
                filler.after_pushed(
                    fresh
                        .iter()
                        .filter_map(|(p, _)| p.published.map(|t| (t, p.event_type.as_deref()))),
                )
            });
            run.writer.stream = stream_after.clone();
            let committed = match run.commit(events, new_ids, waited, &stop).await {
                Ok(Some(committed)) => committed,
                Ok(None) => {
                    for (_, delivery) in fresh {
                        delivery.fail("stopped before the batch was committed");
                    }
                    for copy in copies {
                        copy.fail("stopped before the batch was committed");
                    }
                    break;
                }
                Err(error) => {
                    let reason = error.to_string();
                    for (_, delivery) in fresh {
                        delivery.fail(reason.clone());
                    }
                    for copy in copies {
                        copy.fail(reason.clone());
                    }
                    return Err(error);
                }
            };
            if let (Some((_, filler)), Some(state)) = (&mut gaps, stream_after) {
                for gap in state.gaps.iter().skip(filler.state().gaps.len()) {
                    tracing::warn!(source = %name, since = %gap.since, until = %gap.until, reason = %gap.reason, "gap in the pushed stream; it will be filled from the System Log API");
                }
                filler.committed(state);
            }
            let rejected = committed.refused;
            let accepted = fresh.len().saturating_sub(rejected);
            let latencies: Vec<Duration> = fresh
                .iter()
                .map(|(_, d)| d)
                .chain(&copies)
                .map(since)
                .collect();
            observers.push_acked(&PushAcked {
                source: &name,
                accepted,
                duplicates: copies.len(),
                rejected,
                ack_latencies: &latencies,
            });
            for (peeked, delivery) in fresh {
                if let Some(id) = &peeked.id {
                    window.insert(id);
                }
                delivery.ack();
            }
            for copy in copies {
                copy.ack();
            }
        }
        let mut summary = run.summary;
        if let Some((client, _)) = &gaps {
            summary.fetch = client.stats().snapshot();
        }
        summary.elapsed = started.elapsed();
        Ok(summary)
    }
}

/// What a committed push batch reports back.
struct CommittedBatch {
    /// Events the normalizer refused (dead-lettered).
    refused: usize,
}

/// The parts of a push run that commit a batch: pushed deliveries and fetched gap pages go
/// through the same normalize, detect and [`Writer::commit_batch`].
struct PushCommit {
    name: String,
    state: SourceState,
    builder: Option<BatchBuilder>,
    detector: Option<crate::detect::DetectStage>,
    summary: RunSummary,
    writer: Writer,
    observers: crate::observer::Observers,
}

impl PushCommit {
    /// Normalizes, detects and commits `events` (in this order) with the uuids `new_ids`
    /// added to the de-duplication window by the same checkpoint (and [`Writer::stream`] as
    /// set by the caller). `None`: a stop request interrupted it, nothing was committed.
    async fn commit(
        &mut self,
        events: Vec<RawEvent>,
        new_ids: Vec<String>,
        waited: Duration,
        stop: &watch::Receiver<bool>,
    ) -> Result<Option<CommittedBatch>, PipelineError> {
        let mut working = self
            .builder
            .take()
            .ok_or_else(|| PipelineError::Internal("push batch builder lost".into()))?;
        let state_after = self.state.clone();
        let received_at = Utc::now();
        let mut detector = self.detector.take();
        // Off the async threads: detecting may write a new generation of the state.
        let (working, returned, batch) = blocking(move || {
            let mut batch = working.build(events, state_after, true, received_at);
            let detected = match &mut detector {
                Some(detector) => crate::detect::detect_batch(detector, &mut batch),
                None => Ok(()),
            };
            (working, detector, detected.map(|()| batch))
        })
        .await?;
        self.builder = Some(working);
        self.detector = returned;
        let batch = batch?;
        self.writer.dedup_ids = Arc::new(new_ids);
        let Some(outcome) = self.writer.commit_batch(&batch, stop).await? else {
            return Ok(None);
        };
        let name = &self.name;
        self.summary.record(&batch, &outcome);
        self.observers.batch_committed(&Committed {
            source: name,
            documents: batch.documents.len(),
            refused: batch.refused.len(),
            published_unparsable: batch.published_fallbacks,
            dead_lettered: outcome.dead_lettered,
            dead_letter_path: &self.writer.dead_letter_path,
            categories: &batch.categories,
            sinks: &outcome.sink_commits(),
            latest_published: batch.latest_published,
            caught_up: true,
            written_total: self.summary.written,
            times: StageTimes {
                waited,
                normalize: batch.normalize_time,
                ..outcome.times
            },
        });
        if let Some(detect) = &batch.detect {
            let alert_sinks = self.writer.alert_sink_names();
            self.observers.alerts_committed(&AlertsCommitted {
                source: name,
                rules: &detect.rules,
                stats: &detect.stats,
                sinks: &alert_sinks,
                detect_time: detect.time,
            });
        }
        Ok(Some(CommittedBatch {
            refused: batch.refused.len(),
        }))
    }

    /// Fetches one page of the first gap (`request`) and commits the events of it that are
    /// not in the window, with the gap's progress. False: a stop request interrupted it.
    /// A fetch that fails for a reason retrying may fix, or takes too long, is logged and
    /// the gap is scanned again later; one that cannot succeed (a wrong token) ends the run.
    async fn fill_page(
        &mut self,
        client: &oktaflow_fetch::OktaClient,
        filler: &mut GapFiller,
        request: oktaflow_fetch::PageRequest,
        window: &mut DedupWindow,
        stop: &watch::Receiver<bool>,
    ) -> Result<bool, PipelineError> {
        let fetching = Instant::now();
        let page = match tokio::time::timeout(GAP_PAGE_TIMEOUT, client.fetch(&request)).await {
            Ok(Ok(page)) => page,
            Ok(Err(error)) if error.is_halt() => return Err(PipelineError::Halt(error)),
            Ok(Err(error)) => {
                tracing::warn!(source = %self.name, %error, "gap filling: fetch failed; trying again later");
                filler.page_failed();
                return Ok(true);
            }
            Err(_) => {
                tracing::warn!(source = %self.name, "gap filling: a page took longer than {} s; trying again later", GAP_PAGE_TIMEOUT.as_secs());
                filler.page_failed();
                return Ok(true);
            }
        };
        self.observers
            .page_fetched(page.events.len(), Some(fetching.elapsed()));
        let mut in_page: HashSet<String> = HashSet::new();
        let mut published = Vec::with_capacity(page.events.len());
        let mut fresh: Vec<(Option<DateTime<Utc>>, RawEvent)> = Vec::new();
        let mut new_ids = Vec::new();
        for event in page.events {
            let peeked = peek_event(event.as_bytes());
            if let Some(p) = peeked.published {
                published.push(p);
            }
            match peeked.id {
                Some(id) if window.contains(&id) || !in_page.insert(id.clone()) => {}
                Some(id) => {
                    new_ids.push(id);
                    fresh.push((peeked.published, event));
                }
                None => fresh.push((peeked.published, event)),
            }
        }
        let state = filler.after_page(published, page.next.as_deref());
        let done = page.next.is_none();
        if fresh.is_empty() && !done {
            // Nothing new: progress stays in memory until a page brings something.
            filler.page_committed(filler.state().clone(), page.next);
            return Ok(true);
        }
        fresh.sort_by_key(|(p, _)| *p);
        let events: Vec<RawEvent> = fresh.into_iter().map(|(_, e)| e).collect();
        let written = events.len();
        self.writer.stream = Some(state.clone());
        if self
            .commit(events, new_ids.clone(), Duration::ZERO, stop)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        for id in &new_ids {
            window.insert(id);
        }
        if let Some(gap) = filler.current().filter(|_| done) {
            tracing::info!(source = %self.name, since = %gap.since, until = %gap.until, "gap filled from the System Log API");
        }
        if written > 0 {
            tracing::info!(source = %self.name, events = written, "gap filling: events the stream had not delivered written");
        }
        filler.page_committed(state, page.next);
        Ok(true)
    }
}

/// The time since `delivery` was received.
fn since(delivery: &Delivery) -> Duration {
    delivery.received_at.elapsed().unwrap_or_default()
}

fn summary_of(name: &str, writer: &Writer, started: Instant, stopped: StopReason) -> RunSummary {
    RunSummary {
        profile_lookups: None,
        source: name.to_string(),
        written: 0,
        rejected: 0,
        refused_by_sinks: 0,
        pages: 0,
        alerts: 0,
        alerts_by_rule: BTreeMap::new(),
        position: None,
        elapsed: started.elapsed(),
        stopped,
        fetch: FetchStatsSnapshot::default(),
        dead_letter_path: writer.dead_letter_path.clone(),
        checkpoint_path: writer.store.path().to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_keeps_the_newest_ids_and_survives_its_state() {
        let mut window = DedupWindow::new(3);
        assert!(window.insert("a"));
        assert!(!window.insert("a"));
        for id in ["b", "c", "d"] {
            window.insert(id);
        }
        assert_eq!(window.len(), 3);
        assert!(!window.contains("a"));
        assert!(window.contains("d"));
        let state = window.state();
        assert_eq!(state.seen, ["b", "c", "d"]);
        let smaller = DedupWindow::restore(2, Some(&state));
        assert!(!smaller.contains("b") && smaller.contains("c") && smaller.contains("d"));
    }

    #[test]
    fn peek_reads_the_id_published_and_type_of_an_envelope_only() {
        let body = br#"{"version":"0","detail-type":"SystemLog","detail":{"uuid":"u-1","published":"2026-12-05T10:00:00.123Z","eventType":"user.session.start","actor":{"id":"x"}}}"#;
        let peeked = peek(body);
        assert_eq!(peeked.id.as_deref(), Some("u-1"));
        assert_eq!(peeked.event_type.as_deref(), Some("user.session.start"));
        assert_eq!(
            peeked.published.map(|p| p.to_rfc3339()),
            Some("2026-12-05T10:00:00.123+00:00".to_string())
        );
        assert_eq!(peek(b"not json"), Peek::default());
        assert_eq!(peek(br#"{"uuid":"bare-event"}"#), Peek::default());
        assert_eq!(
            peek_event(br#"{"uuid":"bare-event"}"#).id.as_deref(),
            Some("bare-event")
        );
    }
}
