//! Exactly once, in-process against the Okta simulator: a run interrupted (a stop request, a
//! sink that fails for good in the middle of a batch) and a rerun on the same state
//! directory deliver every event of the org to the file sink exactly once, in the org's
//! order.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use oktaflow_pipeline::{Pipeline, PipelineError, StopReason};
use oktaflow_sink::{Ack, BatchLimits, Document, ExistingFile, FileSink, Sink, SinkError};
use support::{config, file_sink, start_sim, FailsMidBatch, StopAfter};
use tokio::sync::watch;

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
