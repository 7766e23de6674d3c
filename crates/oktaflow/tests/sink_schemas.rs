//! Sinks with their own `schema`, through the real binary: `oktaflow run` with an ECS file
//! sink and an OCSF one (`file:...?schema=ocsf`), killed with SIGKILL several times and then
//! run to the end. Each file holds every event of the org exactly once, in the org's order,
//! and equals what `oktaflow normalize --schema` prints for the same raw events; both
//! positions are in the checkpoint. `oktaflow check` lists every sink that cannot hold the
//! source's OCSF, one line each.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

/// `oktaflow normalize --schema SCHEMA` of `events` (one JSON text each).
async fn normalized(work: &Workdir, schema: &str, events: &[String]) -> String {
    let input = work.dir.path().join("raw.ndjson");
    let output = work.dir.path().join(format!("normalized.{schema}.ndjson"));
    std::fs::write(&input, events.join("\n") + "\n").expect("raw events written");
    let mut cmd = oktaflow(None);
    cmd.args(["normalize", "--schema", schema, "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output);
    assert_success(&finish(cmd).await);
    std::fs::read_to_string(&output).expect("normalized output")
}

fn offset(work: &Workdir, path: &Path) -> Option<u64> {
    let name = format!(
        "file:{}",
        std::path::absolute(path).expect("path").display()
    );
    work.checkpoint()["sinks"][name]["offset"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecs_and_an_ocsf_file_sink_each_get_every_event_once_across_kills() {
    let sim = start_sim(quiet(4_000)).await;
    let work = Workdir::new();
    let ocsf = work.dir.path().join("out.ocsf.ndjson");
    let text = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\", \"file:{}?schema=ocsf\"]\n\n[source]\nokta_url = \"{}\"\nstart_from = \"2d\"\npage_size = 100\nrequest_timeout = \"2s\"\nrate_limit_share = 0.05\n",
        work.state.display(),
        work.out.display(),
        ocsf.display(),
        sim.base_url(),
    );
    std::fs::write(&work.config, text).expect("config written");

    // Paced at a twentieth of the rate limit, a run takes a few seconds: kill it thrice.
    let mut landed = 0;
    for delay in [700, 1_100, 1_500] {
        if kill_after(work.run_cmd(Some(TOKEN), &[]), Duration::from_millis(delay)).await {
            landed += 1;
        }
        // A kill may leave an uncommitted tail in a file (even half a line): the next start
        // truncates it. What the checkpoint calls committed is read.
        let (ecs_text, ocsf_text) = (work.committed_text(&work.out), work.committed_text(&ocsf));
        let ecs_ids = ids_of(&ecs_text);
        let delivered = sim.delivered_order();
        assert_org_order_prefix(&ecs_ids, &delivered, 0);
        let ocsf_ids: Vec<String> = ocsf_text
            .lines()
            .map(|line| {
                let doc: serde_json::Value = serde_json::from_str(line).expect("JSON line");
                doc["metadata"]["uid"]
                    .as_str()
                    .expect("metadata.uid")
                    .to_string()
            })
            .collect();
        assert_org_order_prefix(&ocsf_ids, &delivered, 0);
        eprintln!(
            "after a kill at {delay} ms: {} ECS and {} OCSF events",
            ecs_ids.len(),
            ocsf_ids.len()
        );
    }
    assert!(landed >= 1, "at least one kill landed while running");
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_success(&output);

    let events = sim.delivered_events();
    assert_eq!(events.len(), 4_000);
    let ecs_text = std::fs::read_to_string(&work.out).expect("ECS file");
    let ocsf_text = std::fs::read_to_string(&ocsf).expect("OCSF file");
    assert_eq!(
        ecs_text.lines().count(),
        4_000,
        "each event once in the ECS file"
    );
    assert_eq!(
        ocsf_text.lines().count(),
        4_000,
        "each event once in the OCSF file"
    );
    assert!(
        ecs_text == normalized(&work, "ecs", &events).await,
        "the ECS file is `oktaflow normalize --schema ecs` of the org's events"
    );
    assert!(
        ocsf_text == normalized(&work, "ocsf", &events).await,
        "the OCSF file is `oktaflow normalize --schema ocsf` of the org's events"
    );
    assert_eq!(offset(&work, &work.out), Some(file_len(&work.out)));
    assert_eq!(offset(&work, &ocsf), Some(file_len(&ocsf)));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_every_sink_that_cannot_hold_its_schema() {
    let work = Workdir::new();
    let text = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\", \"elasticsearch:http://127.0.0.1:9?schema=ocsf\", \"clickhouse:http://127.0.0.1:9\", \"opensearch:http://127.0.0.1:9?schema=elastic\"]\n\n[source]\nokta_url = \"http://127.0.0.1:9\"\nschema = \"ocsf\"\n",
        work.state.display(),
        work.out.display(),
    );
    std::fs::write(&work.config, text).expect("config written");
    let mut cmd = oktaflow(Some(TOKEN));
    cmd.arg("check").arg("--config").arg(&work.config);
    let output = finish(cmd).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let unfit: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("cannot be written"))
        .collect();
    assert_eq!(unfit.len(), 2, "{stdout}");
    assert!(
        unfit[0].contains("elasticsearch sink elasticsearch:http://127.0.0.1:9"),
        "{stdout}"
    );
    assert!(
        unfit[1].contains("clickhouse sink clickhouse:http://127.0.0.1:9"),
        "{stdout}"
    );
    assert!(!stdout.contains("opensearch sink"), "{stdout}");

    // The same configuration is refused by `run` before anything is created.
    let mut cmd = oktaflow(Some(TOKEN));
    cmd.arg("run")
        .arg("--config")
        .arg(&work.config)
        .arg("--once");
    let output = finish(cmd).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(!work.state.exists() && !work.out.exists());
}
