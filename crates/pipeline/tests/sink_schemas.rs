//! A sink with its own `schema`: two file sinks of one source, one in the source's schema
//! (ECS) and one in OCSF, in-process against the simulator. Every event reaches both, each
//! document byte for byte what a normalizer of that sink's schema writes for the raw event
//! (what `oktaflow normalize --schema` prints), across a stopped run, a run that aborts
//! with the OCSF sink failing in the middle of a batch, and the rerun: exactly once in each
//! file, every position in the checkpoint.

mod support;

use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use oktaflow_fetch::SourceOptions;
use oktaflow_normalize::{Normalizer, Options, Schema};
use oktaflow_pipeline::{CheckpointStore, Pipeline, PipelineConfig, PipelineError, StopReason};
use oktaflow_sim::SimHandle;
use oktaflow_sink::{ExistingFile, FileSink};
use support::{file_sink, start_sim, FailsMidBatch, StopAfter};
use tokio::sync::watch;

/// The source in ECS; the first sink takes the source's schema, the second OCSF.
fn config(sim: &SimHandle, state: &Path) -> PipelineConfig {
    let mut config = support::config(sim, state, SourceOptions::default().backfill_concurrency);
    config.sink_schemas = vec![None, Some(Schema::Ocsf)];
    config
}

/// What a normalizer of `schema` writes for each of `events`, one line each.
fn expected_lines(schema: Schema, events: &[String]) -> Vec<String> {
    let mut normalizer = Normalizer::new(Options {
        schema,
        ..Options::default()
    });
    events
        .iter()
        .map(|raw| {
            let mut out = Vec::new();
            normalizer
                .normalize_into(raw.as_bytes(), &mut out)
                .expect("a simulator event normalizes");
            String::from_utf8(out).expect("UTF-8")
        })
        .collect()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sink_gets_every_event_once_in_its_own_schema_across_stops_and_failures() {
    let sim = start_sim(1_500).await;
    let root = tempfile::tempdir().expect("temp dir");
    let state = root.path().join("state");
    let ecs = root.path().join("okta.ecs.ndjson");
    let ocsf = root.path().join("okta.ocsf.ndjson");

    // 1. Stopped after two batches.
    let (tx, stop) = watch::channel(false);
    let mut first = Pipeline::new(
        config(&sim, &state),
        vec![file_sink(&ecs), file_sink(&ocsf)],
    )
    .expect("pipeline");
    first.observe(Arc::new(StopAfter {
        after: 2,
        committed: AtomicUsize::new(0),
        stop: tx,
    }));
    let summary = first.run(stop).await.expect("first run");
    assert_eq!(summary.stopped, StopReason::Requested);
    assert_eq!(lines(&ecs).len() as u64, summary.written);
    assert_eq!(lines(&ocsf).len() as u64, summary.written);
    assert!(summary.written < 1_500, "stopped before the end");

    // 2. The OCSF sink fails for good in the middle of its second batch of this run.
    let failing = FailsMidBatch {
        inner: FileSink::new(&ocsf, ExistingFile::Refuse).expect("file sink"),
        batches: 0,
        fail_on: 2,
    };
    let (_tx, stop) = watch::channel(false);
    let second = Pipeline::new(
        config(&sim, &state),
        vec![file_sink(&ecs), Box::new(failing)],
    )
    .expect("pipeline");
    match second.run(stop).await {
        Err(PipelineError::Write(error)) => assert!(!error.is_retryable(), "{error}"),
        other => panic!("expected the run to abort on the sink error, got {other:?}"),
    }
    // Both hold an uncommitted tail: the ECS file the whole failed batch, the OCSF file half.
    let torn = (lines(&ecs).len(), lines(&ocsf).len());
    assert!(
        torn.0 > torn.1 && torn.1 > summary.written as usize,
        "{torn:?}"
    );

    // 3. The rerun takes the half batch back and delivers the rest.
    let (_tx, stop) = watch::channel(false);
    let third = Pipeline::new(
        config(&sim, &state),
        vec![file_sink(&ecs), file_sink(&ocsf)],
    )
    .expect("pipeline");
    let rest = third.run(stop).await.expect("third run");
    assert_eq!(rest.stopped, StopReason::CaughtUp);
    assert_eq!(rest.rejected, 0);

    let events = sim.delivered_events();
    assert_eq!(events.len(), 1_500);
    let (ecs_lines, ocsf_lines) = (lines(&ecs), lines(&ocsf));
    assert_eq!(ecs_lines.len(), 1_500, "each event once in the ECS file");
    assert_eq!(ocsf_lines.len(), 1_500, "each event once in the OCSF file");
    assert!(
        ecs_lines == expected_lines(Schema::Ecs, &events),
        "ECS documents"
    );
    assert!(
        ocsf_lines == expected_lines(Schema::Ocsf, &events),
        "OCSF documents"
    );
    let first_ocsf: serde_json::Value = serde_json::from_str(&ocsf_lines[0]).expect("JSON");
    assert_eq!(
        first_ocsf["metadata"]["uid"],
        sim.delivered_order()[0].as_str()
    );
    assert!(first_ocsf.get("@timestamp").is_none());

    // The checkpoint holds each file's committed length under its own name.
    let checkpoint = CheckpointStore::new(&state, "okta")
        .expect("store")
        .load()
        .expect("readable")
        .expect("saved");
    for path in [&ecs, &ocsf] {
        let name = format!(
            "file:{}",
            std::path::absolute(path).expect("path").display()
        );
        assert_eq!(
            checkpoint.sinks[&name]["offset"].as_u64(),
            Some(std::fs::metadata(path).expect("file").len()),
            "{name}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_list_that_does_not_match_the_sinks_is_refused() {
    let sim = start_sim(10).await;
    let root = tempfile::tempdir().expect("temp dir");
    let out = root.path().join("out.ndjson");
    let err = Pipeline::new(
        config(&sim, &root.path().join("state")),
        vec![file_sink(&out)],
    )
    .expect_err("two schemas for one sink");
    assert_eq!(
        err.to_string(),
        "2 sink schemas given for 1 sinks; give one per sink (None: the source's)"
    );
    sim.shutdown().await;
}
