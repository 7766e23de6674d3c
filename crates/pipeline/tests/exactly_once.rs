//! Exactly once, in-process against the Okta simulator: a run interrupted (a stop request, a
//! sink that fails for good in the middle of a batch) and a rerun on the same state
//! directory deliver every event of the org to the file sink exactly once, in the org's
//! order.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions};
use oktaflow_pipeline::{
    Committed, Pipeline, PipelineConfig, PipelineError, PipelineObserver, SourceConfig, StopReason,
    StopWhen,
};
use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use oktaflow_sink::{Ack, BatchLimits, Document, ExistingFile, FileSink, Sink, SinkError};
use tokio::sync::watch;

const TOKEN: &str = "t";

async fn start_sim(events: usize) -> SimHandle {
    Simulator::start(
        SimConfig {
            events,
            late_fraction: 0.0,
            rate_limit_per_minute: Some(60_000),
            api_token: TOKEN.into(),
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("simulator starts")
}

fn config(sim: &SimHandle, state: &Path, backfill_concurrency: usize) -> PipelineConfig {
    let mut client = ClientConfig::new(
        OrgUrl::from_base_url(&sim.base_url()).unwrap(),
        Auth::ApiToken(Secret::new(TOKEN)),
    );
    client.page_size = 100;
    client.rate_limit_share = 1.0;
    let source = SourceConfig {
        name: "okta".into(),
        client,
        start_from: sim.oldest_published().unwrap() - TimeDelta::seconds(1),
        options: SourceOptions {
            backfill_concurrency,
            ..SourceOptions::default()
        },
    };
    let mut config = PipelineConfig::new(source, state);
    config.stop_when = StopWhen::CaughtUp;
    // Batches of two pages: several batches per run.
    config.max_batch = BatchLimits {
        max_docs: 200,
        max_bytes: 16_000_000,
    };
    config
}

/// The event ids in the output file, in order.
fn written_ids(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).expect("one JSON document");
            doc["event"]["id"].as_str().expect("event.id").to_string()
        })
        .collect()
}

fn file_sink(path: &Path) -> Box<dyn Sink> {
    Box::new(FileSink::new(path, ExistingFile::Refuse).unwrap())
}

/// Requests a stop once `after` batches are committed.
struct StopAfter {
    after: usize,
    committed: AtomicUsize,
    stop: watch::Sender<bool>,
}

impl PipelineObserver for StopAfter {
    fn batch_committed(&self, _batch: &Committed<'_>) {
        if self.committed.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            let _ = self.stop.send(true);
        }
    }
}

/// The file sink, until its `fail_on`-th batch: that one is half written (and fsynced),
/// then the write fails for good, as a disk that turned read-only would.
struct FailsMidBatch {
    inner: FileSink,
    batches: usize,
    fail_on: usize,
}

#[async_trait::async_trait]
impl Sink for FailsMidBatch {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn recover(&mut self, position: Option<&serde_json::Value>) -> Result<(), SinkError> {
        self.inner.recover(position).await
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        if batch.is_empty() {
            return self.inner.write_batch(batch).await;
        }
        self.batches += 1;
        if self.batches == self.fail_on {
            self.inner.write_batch(&batch[..batch.len() / 2]).await?;
            return Err(SinkError::Io {
                sink: self.inner.name().to_string(),
                action: "write batch",
                error: std::io::ErrorKind::PermissionDenied.into(),
            });
        }
        self.inner.write_batch(batch).await
    }
}

/// Records the size of every batch written and prefers `preferred`.
struct Recording {
    preferred: BatchLimits,
    sizes: Arc<Mutex<Vec<usize>>>,
}

#[async_trait::async_trait]
impl Sink for Recording {
    fn name(&self) -> &str {
        "recording"
    }

    async fn recover(&mut self, _: Option<&serde_json::Value>) -> Result<(), SinkError> {
        Ok(())
    }

    async fn write_batch(&mut self, batch: &[Document]) -> Result<Ack, SinkError> {
        if !batch.is_empty() {
            self.sizes.lock().unwrap().push(batch.len());
        }
        Ok(Ack::accepted(serde_json::Value::Null))
    }

    fn preferred_batch(&self) -> BatchLimits {
        self.preferred
    }
}

struct Dirs {
    _root: tempfile::TempDir,
    state: PathBuf,
    out: PathBuf,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    Dirs {
        state: root.path().join("state"),
        out: root.path().join("out.ndjson"),
        _root: root,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_and_its_rerun_write_every_event_once_in_order() {
    let sim = start_sim(2_000).await;
    let dirs = dirs();

    let (tx, stop) = watch::channel(false);
    let mut first =
        Pipeline::new(config(&sim, &dirs.state, 4), vec![file_sink(&dirs.out)]).unwrap();
    first.observe(Arc::new(StopAfter {
        after: 2,
        committed: AtomicUsize::new(0),
        stop: tx,
    }));
    let summary = first.run(stop).await.unwrap();
    assert_eq!(summary.stopped, StopReason::Requested);
    let partial = written_ids(&dirs.out);
    assert_eq!(partial.len() as u64, summary.written);
    assert!(partial.len() < 2_000, "stopped before the end");

    let (_tx, stop) = watch::channel(false);
    let second = Pipeline::new(config(&sim, &dirs.state, 4), vec![file_sink(&dirs.out)]).unwrap();
    let rest = second.run(stop).await.unwrap();
    assert_eq!(rest.stopped, StopReason::CaughtUp);
    assert_eq!(summary.written + rest.written, 2_000);
    assert_eq!(written_ids(&dirs.out), sim.delivered_order());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_failing_mid_batch_aborts_the_run_and_the_rerun_writes_every_event_once() {
    let sim = start_sim(1_500).await;
    let dirs = dirs();

    let failing = FailsMidBatch {
        inner: FileSink::new(&dirs.out, ExistingFile::Refuse).unwrap(),
        batches: 0,
        fail_on: 3,
    };
    let (_tx, stop) = watch::channel(false);
    let first = Pipeline::new(config(&sim, &dirs.state, 1), vec![Box::new(failing)]).unwrap();
    match first.run(stop).await {
        Err(PipelineError::Write(error)) => assert!(!error.is_retryable(), "{error}"),
        other => panic!("expected the run to abort on the sink error, got {other:?}"),
    }
    let torn = written_ids(&dirs.out);
    assert!(
        !torn.is_empty(),
        "two batches and half of the third were written"
    );

    let (_tx, stop) = watch::channel(false);
    let second = Pipeline::new(config(&sim, &dirs.state, 1), vec![file_sink(&dirs.out)]).unwrap();
    let summary = second.run(stop).await.unwrap();
    assert_eq!(summary.stopped, StopReason::CaughtUp);
    let delivered = sim.delivered_order();
    let written = written_ids(&dirs.out);
    assert_eq!(written.len(), 1_500, "each event exactly once");
    assert_eq!(written, delivered, "in the org's order");
    // The half batch written before the failure was taken back, not kept twice.
    assert_eq!(&written[..torn.len()], &torn[..]);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_never_exceed_the_largest_preference_of_the_sinks() {
    let sim = start_sim(3_000).await;
    let dirs = dirs();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let recording = Recording {
        preferred: BatchLimits {
            max_docs: 500,
            max_bytes: 64_000_000,
        },
        sizes: sizes.clone(),
    };
    let small = Recording {
        preferred: BatchLimits {
            max_docs: 100,
            max_bytes: 1_000_000,
        },
        sizes: Arc::new(Mutex::new(Vec::new())),
    };
    let sinks: Vec<Box<dyn Sink>> = vec![file_sink(&dirs.out), Box::new(recording)];
    let (_tx, stop) = watch::channel(false);
    let mut bounded = config(&sim, &dirs.state, 4);
    bounded.max_batch = oktaflow_pipeline::MAX_BATCH;
    let pipeline = Pipeline::new(bounded, sinks).unwrap();
    assert_eq!(
        pipeline.batch_limits(),
        BatchLimits {
            max_docs: 3_000,
            max_bytes: oktaflow_pipeline::MAX_BATCH.max_bytes
        },
        "the file sink's 3,000 events win over 500; 64 MB is capped by the memory bound"
    );
    let summary = pipeline.run(stop).await.unwrap();
    assert_eq!(summary.written, 3_000);
    let sizes = sizes.lock().unwrap().clone();
    assert_eq!(sizes.iter().sum::<usize>(), 3_000);
    assert!(sizes.iter().all(|&n| n <= 3_000), "{sizes:?}");
    assert_eq!(written_ids(&dirs.out), sim.delivered_order());

    // A sink alone gets what it prefers.
    let pipeline = Pipeline::new(config(&sim, &dirs.state, 1), vec![Box::new(small)]).unwrap();
    assert_eq!(pipeline.batch_limits().max_docs, 100);
    sim.shutdown().await;
}
