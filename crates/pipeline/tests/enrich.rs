//! Identity enrichment in the pipeline, in-process against the simulator: a restarted
//! pipeline joins the stored profiles onto every event at once, without downloading the org
//! again; a refresh's changes (a role grant) show on the events normalized after it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use oktaflow_enrich::{store_file_name, EnrichOptions, Enricher};
use oktaflow_fetch::{Auth, ClientConfig, OktaClient, OrgUrl, Secret, SourceOptions};
use oktaflow_pipeline::{Pipeline, PipelineConfig, SourceConfig, StopWhen};
use oktaflow_sim::{SimConfig, SimHandle, Simulator};
use oktaflow_sink::{ExistingFile, FileSink};
use serde_json::Value;
use tokio::sync::watch;

const TOKEN: &str = "t";

async fn start_sim(events: usize) -> SimHandle {
    Simulator::start(
        SimConfig {
            events,
            late_fraction: 0.0,
            api_token: TOKEN.into(),
            ..SimConfig::default()
        },
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("simulator starts")
}

fn client(sim: &SimHandle) -> ClientConfig {
    let mut client = ClientConfig::new(
        OrgUrl::from_base_url(&sim.base_url()).expect("url"),
        Auth::ApiToken(Secret::new(TOKEN)),
    );
    client.page_size = 1000;
    client.rate_limit_share = 1.0;
    client
}

fn options() -> EnrichOptions {
    EnrichOptions {
        rate_limit_share: 1.0,
        refresh: Duration::from_secs(3600),
        ..EnrichOptions::default()
    }
}

async fn run_once(sim: &SimHandle, state: &Path, out: &Path) -> Vec<Value> {
    let source = SourceConfig {
        name: "okta".into(),
        client: client(sim),
        start_from: sim.oldest_published().expect("events") - TimeDelta::seconds(1),
        options: SourceOptions::default(),
    };
    let mut config = PipelineConfig::new(source, state);
    config.stop_when = StopWhen::CaughtUp;
    config.enrich = Some(options());
    let sink = FileSink::new(out, ExistingFile::Refuse).expect("file sink");
    let pipeline = Pipeline::new(config, vec![Box::new(sink)]).expect("pipeline");
    let (_tx, stop) = watch::channel(false);
    pipeline.run(stop).await.expect("run");
    std::fs::read_to_string(out)
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_joins_the_stored_profiles_onto_every_event() {
    let sim = start_sim(1_000).await;
    let root = tempfile::tempdir().expect("tempdir");
    let state = root.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    // A previous run synced the store.
    {
        let enricher = Enricher::open(
            &state.join(store_file_name("okta")),
            Arc::new(OktaClient::new(client(&sim)).expect("client")),
            options(),
        )
        .expect("open");
        enricher.refresh().await.expect("refresh");
    }
    let users_requests = sim.directory_requests("users");
    let docs = run_once(&sim, &state, &root.path().join("out.ndjson")).await;
    assert_eq!(docs.len(), 1_000);
    // The restarted pipeline read no user: the store's snapshot is joined at once.
    assert_eq!(sim.directory_requests("users"), users_requests);
    let directory: std::collections::HashSet<String> =
        sim.directory_user_ids().into_iter().collect();
    let mut joined = 0;
    let mut privileged = 0;
    for doc in &docs {
        let Some(actor) = doc["user"]["id"].as_str() else {
            continue;
        };
        let profile = &doc["okta"]["profile"]["actor"];
        if directory.contains(actor) {
            assert_eq!(profile["known"], true, "{doc}");
            assert_eq!(doc["okta"]["enrichment"]["version"], 1);
            joined += 1;
            if profile["privileged"] == true {
                assert!(doc["user"]["roles"]
                    .as_array()
                    .is_some_and(|r| !r.is_empty()));
                privileged += 1;
            }
        }
    }
    assert!(
        joined > 500,
        "most events are by directory users ({joined})"
    );
    assert!(privileged > 0, "admins' events carry their roles");
    // Devices are joined by the event's device id.
    assert!(docs
        .iter()
        .any(|d| d["okta"]["profile"]["device"]["known"] == true
            && d["device"]["manufacturer"].is_string()));
    sim.shutdown().await;
}
