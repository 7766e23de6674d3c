//! The SQS route of a push source in-process, against a real SQS-compatible server (`moto`
//! in server mode: `.ci/sqs.sh`, run by `.ci/run`; ignored without `OKTAFLOW_TEST_SQS_URL`):
//! the consumer of `oktaflow-sqs`, the pipeline's push run, the file sink. Every event is
//! written once and its message deleted afterwards; a duplicate is written once; a poison
//! message is dead-lettered with its reason and deleted; a crash before the ack leaves the
//! messages in the queue and the restart writes them once; a slow sink keeps its messages
//! invisible.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions};
use oktaflow_pipeline::{
    Pipeline, PipelineConfig, PipelineError, PushOptions, RunSummary, SourceConfig,
    DEFAULT_SQS_LINGER,
};
use oktaflow_sink::{Ack, BatchLimits, Document, ExistingFile, FileSink, Sink, SinkError};
use oktaflow_sqs::testing::{create_queue, depth, send};
use oktaflow_sqs::{SqsClient, SqsConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

fn config(state: &Path) -> PipelineConfig {
    let client = ClientConfig::new(
        OrgUrl::from_domain("acme.okta.com").unwrap(),
        Auth::ApiToken(Secret::new("unused-token")),
    );
    let source = SourceConfig {
        name: "okta".into(),
        client,
        start_from: Utc::now(),
        options: SourceOptions::default(),
    };
    PipelineConfig::new(source, state)
}

/// The EventBridge envelope of event `n` (as an EventBridge rule puts it in the queue).
fn envelope(n: u64) -> String {
    let published =
        Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap() + TimeDelta::seconds(n as i64);
    let event = format!(
        r#"{{"uuid":"uuid-{n:06}","published":"{}","eventType":"user.session.start","severity":"INFO","displayMessage":"User login to Okta","actor":{{"id":"00u{n}","type":"User","alternateId":"user{n}@example.com"}},"outcome":{{"result":"SUCCESS"}}}}"#,
        published.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    format!(
        r#"{{"version":"0","id":"eb-{n}","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/stream","account":"123456789012","time":"{}","region":"us-east-1","resources":[],"detail":{event}}}"#,
        published.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// The `event.id` of every line of the file sink's output, in order.
fn ids_in(path: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            doc["event"]["id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn assert_once(ids: &[String], expected: impl IntoIterator<Item = u64>) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "an event was written twice: {ids:?}"
    );
    let mut expected: Vec<String> = expected
        .into_iter()
        .map(|n| format!("uuid-{n:06}"))
        .collect();
    expected.sort();
    let mut got = ids.to_vec();
    got.sort();
    assert_eq!(got, expected);
}

/// A sink in front of the file sink: it may sleep before each write, or write and then
/// hang forever (a crash after the sink wrote, before the checkpoint).
struct Wrapped {
    inner: FileSink,
    delay: Duration,
    hang: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Sink for Wrapped {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn recover(&mut self, position: Option<&serde_json::Value>) -> Result<(), SinkError> {
        self.inner.recover(position).await
    }
    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        tokio::time::sleep(self.delay).await;
        let ack = self.inner.write_batch(batch).await?;
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(ack)
    }
    fn preferred_batch(&self) -> BatchLimits {
        self.inner.preferred_batch()
    }
    fn file(&self) -> Option<&Path> {
        self.inner.file()
    }
}

struct Running {
    stop: watch::Sender<bool>,
    run: JoinHandle<Result<RunSummary, PipelineError>>,
}

fn start_with(
    state: &Path,
    out: &Path,
    sqs: &SqsConfig,
    delay: Duration,
    hang: Arc<AtomicBool>,
) -> Running {
    let sink = Wrapped {
        inner: FileSink::new(out, ExistingFile::Refuse).unwrap(),
        delay,
        hang,
    };
    let options = PushOptions {
        linger: DEFAULT_SQS_LINGER,
        ..PushOptions::default()
    };
    let pipeline = Pipeline::new(config(state), vec![Box::new(sink)])
        .unwrap()
        .with_sqs(sqs.clone(), options);
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(pipeline.run(stop_rx));
    Running { stop, run }
}

fn start(state: &Path, out: &Path, sqs: &SqsConfig) -> Running {
    start_with(
        state,
        out,
        sqs,
        Duration::ZERO,
        Arc::new(AtomicBool::new(false)),
    )
}

impl Running {
    async fn finish(self) -> RunSummary {
        self.stop.send(true).unwrap();
        self.run.await.unwrap().unwrap()
    }
}

/// Waits until the file holds `lines` lines and the queue is empty (nothing visible,
/// nothing in flight), at most 30 s.
async fn settled(out: &PathBuf, client: &SqsClient, lines: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let written = ids_in(out).len();
        let queued = depth(client).await.unwrap();
        if written >= lines && queued == (0, 0) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not settled after 30 s: {written} of {lines} lines written, queue (visible, in flight) = {queued:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn events_from_the_queue_are_written_once_then_deleted_and_duplicates_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("out.ndjson"));
    let sqs = create_queue("once", 30).await.unwrap();
    let client = SqsClient::new(&sqs).unwrap();
    // 120 events in reverse `published` order, every 10th sent twice.
    for n in (0..120u64).rev() {
        send(&client, &envelope(n)).await.unwrap();
    }
    for n in (0..120u64).step_by(10) {
        send(&client, &envelope(n)).await.unwrap();
    }
    let running = start(&state, &out, &sqs);
    settled(&out, &client, 120).await;
    assert_once(&ids_in(&out), 0..120);
    // A copy arriving after its event was committed is dropped too (the uuid window).
    send(&client, &envelope(7)).await.unwrap();
    send(&client, &envelope(120)).await.unwrap();
    settled(&out, &client, 121).await;
    let summary = running.finish().await;
    assert_eq!(summary.written, 121);
    assert_once(&ids_in(&out), 0..121);
    assert_eq!(depth(&client).await.unwrap(), (0, 0));
    // A restart on the same state drops a copy of an event written before it. (Sent once
    // the stopped consumer's last long poll, abandoned at the stop, has surely ended on the
    // server: a message that poll took would come back only after its visibility timeout.)
    tokio::time::sleep(sqs.wait_time + Duration::from_millis(500)).await;
    send(&client, &envelope(42)).await.unwrap();
    let running = start(&state, &out, &sqs);
    settled(&out, &client, 121).await;
    let summary = running.finish().await;
    assert_eq!(summary.written, 0);
    assert_once(&ids_in(&out), 0..121);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn a_poison_message_is_dead_lettered_with_its_reason_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("out.ndjson"));
    let sqs = create_queue("poison", 30).await.unwrap();
    let client = SqsClient::new(&sqs).unwrap();
    send(&client, &envelope(1)).await.unwrap();
    send(&client, "this is not JSON").await.unwrap();
    send(
        &client,
        r#"{"version":"0","detail-type":"Scheduled Event","detail":"no LogEvent"}"#,
    )
    .await
    .unwrap();
    send(&client, &envelope(2)).await.unwrap();
    let running = start(&state, &out, &sqs);
    settled(&out, &client, 2).await;
    let summary = running.finish().await;
    assert_once(&ids_in(&out), 1..3);
    assert_eq!(summary.rejected, 2);
    let dead = std::fs::read_to_string(state.join("dead-letter.ndjson")).unwrap();
    let lines: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{dead}");
    for line in &lines {
        assert!(
            line["error"].as_str().is_some_and(|e| !e.is_empty()),
            "a dead letter without its reason: {line}"
        );
    }
    assert!(dead.contains("this is not JSON"), "{dead}");
    assert!(dead.contains("Scheduled Event"), "{dead}");
    assert_eq!(depth(&client).await.unwrap(), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn a_crash_before_the_ack_leaves_the_messages_and_the_restart_writes_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("out.ndjson"));
    let sqs = create_queue("crash", 2).await.unwrap();
    let client = SqsClient::new(&sqs).unwrap();
    for n in 0..30u64 {
        send(&client, &envelope(n)).await.unwrap();
    }
    // The pipeline runs on a runtime of its own, so that the crash ends all its tasks (the
    // consumer's too) without any of them running another line, as kill -9 would.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hang = Arc::new(AtomicBool::new(false));
    let sink = Wrapped {
        inner: FileSink::new(&out, ExistingFile::Refuse).unwrap(),
        delay: Duration::ZERO,
        hang: Arc::clone(&hang),
    };
    let pipeline = Pipeline::new(config(&state), vec![Box::new(sink)])
        .unwrap()
        .with_sqs(sqs.clone(), PushOptions::default());
    let (_stop, stop_rx) = watch::channel(false);
    let _run = runtime.spawn(pipeline.run(stop_rx));
    settled(&out, &client, 30).await;
    // The next batch reaches the file, then the process "dies" before the checkpoint.
    hang.store(true, Ordering::SeqCst);
    for n in 30..60u64 {
        send(&client, &envelope(n)).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ids_in(&out).len() <= 30 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second batch was never written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::task::spawn_blocking(move || runtime.shutdown_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    let (visible, in_flight) = depth(&client).await.unwrap();
    assert!(
        visible + in_flight >= 1,
        "messages deleted before their checkpoint"
    );
    // The restart: the file goes back to the checkpoint, the messages come back after their
    // 2 s visibility timeout, and each event is written once.
    let running = start(&state, &out, &sqs);
    settled(&out, &client, 60).await;
    let summary = running.finish().await;
    assert_once(&ids_in(&out), 0..60);
    assert!(
        summary.written >= 1 && summary.written <= 30,
        "{}",
        summary.written
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn a_slow_sink_keeps_its_messages_invisible_until_they_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("out.ndjson"));
    let sqs = create_queue("slow-sink", 2).await.unwrap();
    let client = SqsClient::new(&sqs).unwrap();
    for n in 0..15u64 {
        send(&client, &envelope(n)).await.unwrap();
    }
    // Every write takes 6 s: three visibility timeouts.
    let running = start_with(
        &state,
        &out,
        &sqs,
        Duration::from_secs(6),
        Arc::new(AtomicBool::new(false)),
    );
    // The consumer takes all 15 within the first write's 6 s ...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while depth(&client).await.unwrap() != (0, 15) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer did not take the messages"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ... and none becomes visible again while the sink is busy (well past the 2 s
    // visibility timeout given at receive): their visibility is extended.
    let held = tokio::time::Instant::now();
    while held.elapsed() < Duration::from_secs(4) && ids_in(&out).is_empty() {
        let (visible, in_flight) = depth(&client).await.unwrap();
        assert_eq!(
            visible, 0,
            "a message became visible while the sink was writing"
        );
        assert_eq!(in_flight, 15);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        held.elapsed() >= Duration::from_secs(3),
        "the sink was not slow"
    );
    settled(&out, &client, 15).await;
    let summary = running.finish().await;
    assert_once(&ids_in(&out), 0..15);
    assert_eq!(summary.written, 15);
}

/// A source with API credentials fills a gap of its queue from the System Log API: the
/// stream lost 100 events (200 s of event time); the queue's events after the gap reveal the
/// jump, the interval is read with `since`/`until`, and the file holds every event of the
/// System Log once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn a_gap_in_the_queue_is_filled_from_the_api_and_the_file_equals_the_system_log() {
    use oktaflow_sim::{SimConfig, Simulator};

    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("out.ndjson"));
    let sim = Simulator::start(
        SimConfig {
            events: 0,
            late_fraction: 0.0,
            api_token: "sim-token".into(),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let log = sim.system_log();
    let start = Utc::now() - TimeDelta::hours(2);
    let at = |n: i64| start + TimeDelta::seconds(2 * n);
    let events: Vec<(String, String)> = (0..300).map(|n| log.append_event(at(n))).collect();
    let envelope_of = |n: usize, json: &str| {
        format!(
            r#"{{"version":"0","id":"eb-gap-{n}","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/stream","account":"123456789012","time":"2026-12-05T10:00:00Z","region":"us-east-1","resources":[],"detail":{json}}}"#
        )
    };
    let sqs = create_queue("gap", 30).await.unwrap();
    let client = SqsClient::new(&sqs).unwrap();

    let mut api = ClientConfig::new(
        OrgUrl::from_base_url(&sim.base_url()).unwrap(),
        Auth::ApiToken(Secret::new("sim-token")),
    );
    api.page_size = 50;
    let mut config = config(&state);
    config.source.client = api;
    let options = PushOptions {
        linger: DEFAULT_SQS_LINGER,
        gap_fill: Some(oktaflow_pipeline::GapFill {
            jump: Duration::from_secs(60),
            silence: Duration::from_secs(3600),
            overlap: Duration::from_secs(10),
            settle: Duration::ZERO,
        }),
        ..PushOptions::default()
    };
    let sink = FileSink::new(&out, ExistingFile::Refuse).unwrap();
    let pipeline = Pipeline::new(config, vec![Box::new(sink)])
        .unwrap()
        .with_sqs(sqs.clone(), options);
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(pipeline.run(stop_rx));

    // Before the outage, then after it: events 100..200 never reach the queue.
    for (n, (_, json)) in events.iter().enumerate().take(100) {
        send(&client, &envelope_of(n, json)).await.unwrap();
    }
    settled(&out, &client, 100).await;
    for (n, (_, json)) in events.iter().enumerate().skip(200) {
        send(&client, &envelope_of(n, json)).await.unwrap();
    }
    settled(&out, &client, 300).await;
    stop.send(true).unwrap();
    run.await.unwrap().unwrap();

    let written = ids_in(&out);
    let unique: HashSet<&String> = written.iter().collect();
    assert_eq!(unique.len(), written.len(), "an event was written twice");
    let truth: HashSet<&String> = events.iter().map(|(uuid, _)| uuid).collect();
    assert_eq!(unique, truth, "the file holds the System Log");
    let queries = sim.bounded_queries();
    assert!(
        queries
            .iter()
            .any(|(since, until)| *since <= at(100) && *until >= at(199)),
        "the lost interval was read with since/until: {queries:?}"
    );
    sim.shutdown().await;
}
