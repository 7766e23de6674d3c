//! The detect stage in-process against the simulator's attack scenarios: the alerts of every
//! attack reach the alert sink once, controls raise nothing, the checkpoint holds the
//! detector's state and the alert sink's position; a second run on the same state goes on
//! from that state and raises nothing twice.

use std::net::SocketAddr;
use std::path::Path;

use chrono::TimeDelta;
use oktaflow_detect::{DetectorState, RulesConfig};
use oktaflow_fetch::{Auth, ClientConfig, OrgUrl, Secret, SourceOptions};
use oktaflow_pipeline::detect_store::DetectStateStore;
use oktaflow_pipeline::{CheckpointStore, Pipeline, PipelineConfig, SourceConfig, StopWhen};
use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use oktaflow_sink::{BatchLimits, ExistingFile, FileSink, Sink};
use tokio::sync::watch;

const TOKEN: &str = "t";

fn config(sim: &SimHandle, state: &Path) -> PipelineConfig {
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
        options: SourceOptions::default(),
    };
    let mut config = PipelineConfig::new(source, state);
    config.stop_when = StopWhen::CaughtUp;
    config.max_batch = BatchLimits {
        max_docs: 200,
        max_bytes: 16_000_000,
    };
    config.detect = Some(RulesConfig::default());
    config
}

fn file(path: &Path) -> Vec<Box<dyn Sink>> {
    vec![Box::new(FileSink::new(path, ExistingFile::Refuse).unwrap())]
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_raise_their_alerts_once_and_the_state_is_checkpointed() {
    let sim = Simulator::start(
        SimConfig {
            events: 3_000,
            late_fraction: 0.0,
            rate_limit_per_minute: Some(60_000),
            api_token: TOKEN.into(),
            attacks: true,
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (events, alerts, state) = (
        dir.path().join("events.ndjson"),
        dir.path().join("alerts.ndjson"),
        dir.path().join("state"),
    );
    let (_tx, stop) = watch::channel(false);
    let summary = Pipeline::new(config(&sim, &state), file(&events))
        .unwrap()
        .with_alert_sinks(file(&alerts))
        .unwrap()
        .run(stop.clone())
        .await
        .unwrap();
    let scenarios = sim.attacks();
    let docs = lines(&alerts);
    assert_eq!(summary.alerts, docs.len() as u64);
    assert!(summary.pages > 5, "several batches: {}", summary.pages);
    for attack in &scenarios.expected {
        let found: Vec<_> = docs
            .iter()
            .filter(|a| {
                a["rule"]["id"] == attack.rule
                    && a["oktaflow"]["alert"]["group"] == attack.group.as_str()
            })
            .collect();
        assert_eq!(found.len(), 1, "{} {}", attack.rule, attack.group);
        assert_eq!(found[0]["event"]["kind"], "alert");
        let ids: Vec<&str> = found[0]["oktaflow"]["alert"]["event_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ids, attack.triggers, "{}", attack.rule);
    }
    for control in &scenarios.controls {
        assert!(
            !docs.iter().any(|a| a["rule"]["id"] == control.rule
                && a["oktaflow"]["alert"]["group"] == control.group.as_str()),
            "{} fired on {}",
            control.rule,
            control.what
        );
    }
    let checkpoint = CheckpointStore::new(&state, "okta")
        .unwrap()
        .load()
        .unwrap()
        .unwrap();
    let alerts_abs = std::path::absolute(&alerts).unwrap();
    assert_eq!(
        checkpoint.sinks[&format!("file:{}", alerts_abs.display())]["offset"].as_u64(),
        Some(std::fs::metadata(&alerts).unwrap().len())
    );
    // The state is in files beside the checkpoint (a whole state and a journal of changes),
    // which the checkpoint names; the checkpoint itself stays small.
    assert!(checkpoint.detect.is_none(), "not inline any more");
    let files = checkpoint.detect_files.expect("detector state saved");
    let checkpoint_bytes = std::fs::metadata(state.join("okta.checkpoint.json"))
        .unwrap()
        .len();
    assert!(checkpoint_bytes < 4096, "{checkpoint_bytes} bytes");
    let (detect, sizes): (DetectorState, _) = DetectStateStore::new(&state, "okta")
        .load(Some(files))
        .unwrap()
        .expect("the files the checkpoint names");
    assert!(detect.rules.contains_key("okta.geo_improbable_access"));
    assert!(
        sizes.journal_bytes > 0,
        "batches after the first journal their changes: {sizes:?}"
    );
    // The size of the state after every batch (printed, not asserted).
    let sizes: Vec<String> = detect
        .rules
        .iter()
        .map(|(rule, state)| format!("{rule} {} B", state.to_string().len()))
        .collect();
    eprintln!(
        "detect state after {} events: {} bytes ({})",
        summary.written,
        serde_json::to_string(&detect).unwrap().len(),
        sizes.join(", ")
    );

    // More events: a second run restores the state, keeps the alert file's committed part and
    // appends only the alerts of the new events.
    sim.add_events(500);
    let summary = Pipeline::new(config(&sim, &state), file(&events))
        .unwrap()
        .with_alert_sinks(file(&alerts))
        .unwrap()
        .run(stop)
        .await
        .unwrap();
    let again = lines(&alerts);
    assert_eq!(again[..docs.len()], docs[..], "earlier alerts untouched");
    assert_eq!(again.len() as u64, docs.len() as u64 + summary.alerts);
    let mut ids: Vec<&str> = again
        .iter()
        .map(|a| a["event"]["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "no alert twice");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_alert_sink_cannot_be_an_event_sink() {
    let sim = Simulator::start(
        SimConfig {
            events: 10,
            api_token: TOKEN.into(),
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.ndjson");
    let err = Pipeline::new(config(&sim, &dir.path().join("state")), file(&out))
        .unwrap()
        .with_alert_sinks(file(&out))
        .unwrap_err();
    assert!(
        err.to_string().contains("both for events and for alerts"),
        "{err}"
    );
    sim.shutdown().await;
}

/// `[detect] rules`: the configured Sigma rules run in the stage beside the built-in rules
/// (here SigmaHQ's shipped Okta rules): each `system.api_token.create` the simulator served
/// raises the Sigma rule's alert once, and their state is saved in the checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_sigma_rules_run_in_the_stage() {
    let sim = Simulator::start(
        SimConfig {
            events: 2_000,
            late_fraction: 0.0,
            rate_limit_per_minute: Some(60_000),
            api_token: TOKEN.into(),
            attacks: true,
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (events, alerts, state) = (
        dir.path().join("events.ndjson"),
        dir.path().join("alerts.ndjson"),
        dir.path().join("state"),
    );
    let mut config = config(&sim, &state);
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/okta");
    config.detect = Some(RulesConfig {
        rules: vec![shipped],
        ..RulesConfig::default()
    });
    let (_tx, stop) = watch::channel(false);
    Pipeline::new(config, file(&events))
        .unwrap()
        .with_alert_sinks(file(&alerts))
        .unwrap()
        .run(stop)
        .await
        .unwrap();
    let created: Vec<String> = lines(&events)
        .iter()
        .filter(|e| e["event"]["action"] == "system.api_token.create")
        .map(|e| e["event"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !created.is_empty(),
        "the attack scenarios create API tokens"
    );
    let docs = lines(&alerts);
    let sigma: Vec<String> = docs
        .iter()
        .filter(|a| a["rule"]["id"] == "19951c21-229d-4ccb-8774-b993c3ff3c5c")
        .map(|a| {
            assert_eq!(a["rule"]["ruleset"], "sigma");
            a["oktaflow"]["alert"]["event_ids"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        sigma, created,
        "one Sigma alert per token created, in order"
    );
    assert!(
        docs.iter()
            .any(|a| a["rule"]["id"] == "okta.api_key_created"),
        "built-in rules still run"
    );
    let checkpoint = CheckpointStore::new(&state, "okta")
        .unwrap()
        .load()
        .unwrap()
        .unwrap();
    assert!(checkpoint.detect_files.is_some());
    sim.shutdown().await;
}
