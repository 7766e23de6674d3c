//! The push run in-process: the receiver (`oktaflow-push`) on loopback, the pipeline's push
//! loop, the file sink. Every event is written once whatever the duplicates, a request is
//! answered 200 only once its event is durable, a redelivery after a restart is dropped, a
//! batch is in `published` order and a malformed body is dead-lettered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::HeaderName;
use chrono::{TimeDelta, TimeZone, Utc};
use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions};
use oktaflow_pipeline::{Pipeline, PipelineConfig, PushOptions, RunSummary, SourceConfig};
use oktaflow_push::{Receiver, ReceiverConfig};
use oktaflow_sink::{ExistingFile, FileSink, Sink};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const KEY: &str = "push-pipeline-test-key";

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

fn file_sink(path: &Path) -> Box<dyn Sink> {
    Box::new(FileSink::new(path, ExistingFile::Refuse).unwrap())
}

/// The envelope of event `n`, published `n` seconds after a fixed instant.
fn envelope(n: u64) -> String {
    let published =
        Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap() + TimeDelta::seconds(n as i64);
    let event = format!(
        r#"{{"uuid":"uuid-{n:06}","published":"{}","eventType":"user.session.start","severity":"INFO","displayMessage":"User login to Okta","actor":{{"id":"00u{n}","type":"User","alternateId":"user{n}@example.com"}},"outcome":{{"result":"SUCCESS"}}}}"#,
        published.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    format!(
        r#"{{"version":"0","id":"eb-{n}","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/stream","account":"123456789012","time":"{}","region":"eu-west-1","resources":[],"detail":{event}}}"#,
        published.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

struct Running {
    url: String,
    stop: watch::Sender<bool>,
    run: JoinHandle<Result<RunSummary, oktaflow_pipeline::PipelineError>>,
    _receiver_stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(state: &Path, out: &Path, options: PushOptions) -> Running {
    let auth = oktaflow_push::Auth::ApiKey {
        header: HeaderName::from_static("x-key"),
        value: Secret::new(KEY),
    };
    let (receiver, deliveries) = Receiver::bind(ReceiverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        None,
        auth,
    ))
    .await
    .unwrap();
    let url = format!("http://{}/", receiver.local_addr().unwrap());
    let (receiver_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(receiver.serve(async {
        let _ = stopped.await;
    }));
    let pipeline = Pipeline::new(config(state), vec![file_sink(out)]).unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(pipeline.run_push(deliveries, options, stop_rx));
    Running {
        url,
        stop,
        run,
        _receiver_stop: receiver_stop,
    }
}

impl Running {
    async fn finish(self) -> RunSummary {
        self.stop.send(true).unwrap();
        self.run.await.unwrap().unwrap()
    }
}

/// Posts every body, 32 at a time; returns the status of each.
async fn post_all(url: &str, bodies: Vec<String>) -> Vec<u16> {
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for chunk in bodies.chunks(32) {
        let requests = chunk.iter().map(|body| {
            client
                .post(url)
                .header("x-key", KEY)
                .body(body.clone())
                .send()
        });
        for response in futures_util::future::join_all(requests).await {
            statuses.push(response.unwrap().status().as_u16());
        }
    }
    statuses
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_once_through_duplicates_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out.ndjson");

    // 300 events, every 10th posted twice, in an order that is not `published` order.
    let mut bodies: Vec<String> = (0..300u64).rev().map(envelope).collect();
    let copies: Vec<String> = (0..300u64).step_by(10).map(envelope).collect();
    bodies.extend(copies);
    let running = start(&state, &out, PushOptions::default()).await;
    let statuses = post_all(&running.url, bodies).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    // Answered 200 means durable: the file already holds every event, once.
    let ids = ids_in(&out);
    assert_eq!(ids.len(), 300);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 300);
    let summary = running.finish().await;
    assert_eq!(summary.written, 300);
    // The window is in its journal beside the checkpoint, not in the checkpoint.
    let checkpoint = std::fs::read_to_string(state.join("okta.checkpoint.json")).unwrap();
    assert!(checkpoint.len() < 2_000, "{checkpoint}");
    assert!(checkpoint.contains("\"push_files\""), "{checkpoint}");
    assert!(!checkpoint.contains("uuid-000"), "{checkpoint}");
    let journal = std::fs::read_to_string(state.join("okta.dedup-1.journal")).unwrap();
    assert_eq!(journal.matches("uuid-").count(), 300, "{journal}");

    // A restart on the same state: redeliveries of durable events are acknowledged and
    // dropped (the window was saved with the checkpoint); new events are written.
    let running = start(&state, &out, PushOptions::default()).await;
    let mut again: Vec<String> = (250..300u64).map(envelope).collect();
    again.extend((300..310u64).map(envelope));
    let statuses = post_all(&running.url, again).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let summary = running.finish().await;
    assert_eq!(summary.written, 10);
    let ids = ids_in(&out);
    assert_eq!(ids.len(), 310);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 310);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_in_published_order_and_a_malformed_body_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out.ndjson");
    let options = PushOptions {
        linger: Duration::from_secs(1),
        ..PushOptions::default()
    };
    let running = start(&state, &out, options).await;
    let bodies = vec![
        envelope(3),
        envelope(1),
        "this is not an envelope".to_string(),
        envelope(2),
    ];
    let statuses = post_all(&running.url, bodies).await;
    assert_eq!(statuses, [200, 200, 200, 200]);
    assert_eq!(ids_in(&out), ["uuid-000001", "uuid-000002", "uuid-000003"]);
    let dead = std::fs::read_to_string(state.join("dead-letter.ndjson")).unwrap();
    assert_eq!(dead.lines().count(), 1, "{dead}");
    assert!(dead.contains("this is not an envelope"), "{dead}");
    let summary = running.finish().await;
    assert_eq!(summary.written, 3);
    assert_eq!(summary.rejected, 1);
}

/// A stream from the simulator's Log Streaming side with duplicates, reordering and a
/// 10-minute outage (simulated time, marked by the stream's lifecycle events): the gap is
/// noticed and fetched from the simulator's `/api/v1/logs` with `since`/`until`, and the file
/// holds exactly the System Log's events, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_outage_is_filled_from_the_api_and_the_file_equals_the_system_log() {
    use oktaflow_sim::{LogStream, Outage, SimConfig, Simulator, StreamConfig};

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = dir.path().join("out.ndjson");
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
    let mut client = ClientConfig::new(
        OrgUrl::from_base_url(&sim.base_url()).unwrap(),
        Auth::ApiToken(Secret::new("sim-token")),
    );
    client.page_size = 200;
    let mut config = config(&state);
    config.source.client = client;
    let options = PushOptions {
        gap_fill: Some(oktaflow_pipeline::GapFill {
            jump: Duration::from_secs(120),
            silence: Duration::from_secs(3600),
            overlap: Duration::from_secs(30),
            settle: Duration::ZERO,
        }),
        ..PushOptions::default()
    };
    let auth = oktaflow_push::Auth::ApiKey {
        header: HeaderName::from_static("x-key"),
        value: Secret::new(KEY),
    };
    let (receiver, deliveries) = Receiver::bind(ReceiverConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        None,
        auth,
    ))
    .await
    .unwrap();
    let url = format!("http://{}/", receiver.local_addr().unwrap());
    let (receiver_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(receiver.serve(async {
        let _ = stopped.await;
    }));
    let pipeline = Pipeline::new(config, vec![file_sink(&out)]).unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(pipeline.run_push(deliveries, options, stop_rx));

    let start = Utc::now() - TimeDelta::hours(2);
    let outage = Outage {
        at: Duration::from_secs(600),
        length: Duration::from_secs(600),
        lifecycle: true,
    };
    let stream = LogStream::start(
        StreamConfig {
            url,
            api_key_header: "x-key".into(),
            api_key: KEY.into(),
            events: 1_500,
            start,
            events_per_sec: 1.0,
            speed: 300.0,
            outages: vec![outage],
            ..StreamConfig::default()
        },
        sim.system_log(),
    );
    let report = stream.finish().await;
    assert!(report.withheld >= 600 && report.duplicates > 0 && report.reordered > 0);
    let truth: HashSet<String> = sim.delivered_order().into_iter().collect();
    assert_eq!(truth.len() as u64, report.events);
    // The gap is filled between deliveries: wait until the file holds the System Log.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while ids_in(&out).len() < truth.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    let summary = run.await.unwrap().unwrap();
    drop(receiver_stop);
    let ids = ids_in(&out);
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "no event twice");
    assert_eq!(unique, truth);
    // The outage's interval was asked for with since/until.
    let outage_from = start + TimeDelta::seconds(600);
    let outage_to = start + TimeDelta::seconds(1200);
    let queries = sim.bounded_queries();
    assert!(
        queries
            .iter()
            .any(|(since, until)| *since <= outage_from && *until >= outage_to),
        "{queries:?}"
    );
    assert!(summary.fetch.pages > 0, "{:?}", summary.fetch);
    sim.shutdown().await;
}
