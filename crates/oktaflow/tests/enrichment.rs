//! Identity enrichment in `oktaflow run`, against the simulator: log polling goes on while
//! the first profile refresh is still reading, a `kill -9` in the middle of that refresh
//! leaves a store that opens with the last committed snapshot (none yet), and a restart
//! completes the sync and joins the profiles onto the events written after it.

mod support;

use std::time::Duration;

use oktaflow_enrich::{store_file_name, ProfileStore};
use support::{assert_success, finish, quiet, start_sim, wait, Workdir, RUN_TIMEOUT, TOKEN};

/// Every document of the output file.
fn documents(work: &Workdir) -> Vec<serde_json::Value> {
    std::fs::read_to_string(&work.out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON document"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_refresh_then_restart() {
    let sim = start_sim(quiet(1_000)).await;
    let work = Workdir::new();
    // A slow sync (2 % of an unannounced limit: one request every 2.5 s), fast log polling.
    work.write_config(
        &sim,
        1000,
        "rate_limit_share = 1.0\ninterval = \"10s\"\n[source.enrichment]\nrate_limit_share = 0.02\n",
    );
    let mut first = work.run_cmd(Some(TOKEN), &[]).spawn().expect("starts");
    // The events are written while the first refresh is still reading users.
    tokio::time::timeout(RUN_TIMEOUT, async {
        while documents(&work).len() < 1_000 || sim.directory_requests("users") < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("events written while the profiles are read");
    first.start_kill().expect("SIGKILL sent");
    let killed = wait(first).await;
    assert_eq!(killed.status.code(), None, "died of the signal");
    let docs = documents(&work);
    assert!(
        docs.iter().all(|d| d["okta"]["enrichment"]["version"] == 0),
        "written before any refresh committed: version 0"
    );

    // The store opens; nothing of the interrupted refresh is in it.
    let store_path = work.state.join(store_file_name("okta"));
    {
        let store = ProfileStore::open(&store_path).expect("the store opens after kill -9");
        assert_eq!(store.sync_state().expect("state").version, 0);
    }

    // Restarted (`--once`, a normal share): the never-synced store is synced first, and the
    // new events carry the profiles.
    work.write_config(&sim, 1000, "rate_limit_share = 1.0\n[source.enrichment]\n");
    sim.add_events(300);
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_success(&output);
    let docs = documents(&work);
    let later = &docs[1_000..];
    assert!(!later.is_empty());
    let directory: std::collections::HashSet<String> =
        sim.directory_user_ids().into_iter().collect();
    let mut joined = 0;
    for doc in later {
        assert_eq!(doc["okta"]["enrichment"]["version"], 1, "{doc}");
        if doc["user"]["id"]
            .as_str()
            .is_some_and(|id| directory.contains(id))
        {
            assert_eq!(doc["okta"]["profile"]["actor"]["known"], true);
            joined += 1;
        }
    }
    assert!(joined > 0);
    let store = ProfileStore::open(&store_path).expect("store");
    assert_eq!(store.counts().expect("counts"), (600, 600));
    sim.shutdown().await;
}
