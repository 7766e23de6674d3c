//! `oktaflow run` when things go wrong: bad credentials, a wrong domain and bad configs are
//! refused with one actionable line and nothing written; `kill -9` at random moments and
//! SIGTERM never lose or duplicate an event.

mod support;

use std::time::Duration;

use oktaflow_sim::SimConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::*;

/// The one line a failed run printed on stderr.
fn one_line(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr: {stderr}");
    lines[0].to_string()
}

fn assert_nothing_written(work: &Workdir) {
    assert!(!work.checkpoint_path().exists(), "no checkpoint");
    // Not even an empty output file: it is created by the first batch that has events.
    assert!(!work.out.exists(), "no output file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_halts_with_exit_3_and_writes_nothing() {
    let sim = start_sim(quiet(100)).await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "");
    let wrong = "00wrong-token-DO-NOT-PRINT";
    let output = finish(work.run_cmd(Some(wrong), &["--once"])).await;
    assert_eq!(output.status.code(), Some(3));
    let line = one_line(&output);
    let org = sim.base_url().trim_start_matches("http://").to_string();
    assert_eq!(
        line,
        format!("oktaflow: error: authentication failed for {org} (HTTP 401) — check OKTA_API_TOKEN (or api_token / api_token_file)")
    );
    assert!(!line.contains(wrong));
    assert_nothing_written(&work);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_domain_halts_with_exit_3_and_writes_nothing() {
    let sim = start_sim(SimConfig {
        expected_host: Some("acme.okta.com".into()),
        ..quiet(100)
    })
    .await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "");
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_eq!(output.status.code(), Some(3));
    let org = sim.base_url().trim_start_matches("http://").to_string();
    assert_eq!(
        one_line(&output),
        format!("oktaflow: error: {org} has no Okta System Log API (HTTP 404) — check the Okta domain (like acme.okta.com)")
    );
    assert_nothing_written(&work);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configs_are_refused_with_exit_2_before_any_work() {
    let sim = start_sim(quiet(100)).await;
    let work = Workdir::new();

    work.write_config(&sim, 100, "intervall = \"60s\"");
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_eq!(output.status.code(), Some(2));
    let line = one_line(&output);
    let expected = format!(
        "oktaflow: error: {}:9:1: unknown field `intervall`",
        work.config.display()
    );
    assert!(line.starts_with(&expected), "{line}");

    work.write_config(&sim, 100, "interval = \"5x\"");
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_eq!(output.status.code(), Some(2));
    let line = one_line(&output);
    assert!(
        line.starts_with(&format!(
            "oktaflow: error: source.interval (from {} [source] interval): ",
            work.config.display()
        )) && line.contains("5x"),
        "{line}"
    );

    work.write_config(&sim, 100, "");
    let output = finish(work.run_cmd(Some(TOKEN), &["--once", "--interval", "1s"])).await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        one_line(&output),
        "oktaflow: error: source.interval (from --interval): `1s` is out of range; use 10s..1d"
    );

    // Every bad value is reported, one line each.
    let args = ["--once", "--interval", "1s", "--backfill-concurrency", "99"];
    let output = finish(work.run_cmd(Some(TOKEN), &args)).await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "oktaflow: error: source.interval (from --interval): `1s` is out of range; use 10s..1d\n\
         oktaflow: error: source.backfill_concurrency (from --backfill-concurrency): 99 is out of range; use 1..=16\n"
    );

    assert!(
        !work.state.exists(),
        "the state directory was not even created"
    );
    assert!(!work.out.exists());
    assert_eq!(sim.stats().requests, 0, "no request reached the org");
    sim.shutdown().await;
}

/// `kill -9` at random moments of a backfill with live events arriving, restarting each time,
/// then a `--once` run to catch up: every event exactly once, in the org's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let sim = start_sim(SimConfig {
        live_events_per_sec: 20.0,
        late_fraction: 0.01,
        ..quiet(6_000)
    })
    .await;
    let backlog = sim.visible_events();
    let work = Workdir::new();
    work.write_config(&sim, 50, "rate_limit_share = 1.0\ninterval = \"10s\"");
    let mut rng = StdRng::seed_from_u64(0x6b69_6c6c);
    let mut kills = 0;
    for _ in 0..12 {
        let delay = Duration::from_millis(rng.random_range(150..900));
        if kill_after(work.run_cmd(Some(TOKEN), &[]), delay).await {
            kills += 1;
        }
        // After a kill the file may hold an uncommitted tail (even half a line): the next start
        // truncates it. What the checkpoint calls committed must be whole lines, each event
        // once, in the org's order.
        let committed = if work.checkpoint_path().exists() {
            work.committed_offset()
        } else {
            0
        };
        let bytes = std::fs::read(&work.out).unwrap_or_default();
        assert!(
            bytes.len() as u64 >= committed,
            "the file holds everything the checkpoint calls committed"
        );
        let committed_text =
            std::str::from_utf8(&bytes[..committed as usize]).expect("committed bytes are UTF-8");
        assert!(
            committed_text.is_empty() || committed_text.ends_with('\n'),
            "the committed offset ends on a line boundary"
        );
        let written = ids_of(committed_text);
        assert_unique(&written);
        assert_eq!(
            written[..],
            sim.delivered_order()[..written.len()],
            "the committed events are a prefix of the org's order"
        );
        eprintln!(
            "killed after {delay:?}: {} events committed, {} uncommitted bytes after them",
            written.len(),
            bytes.len() as u64 - committed
        );
    }
    assert!(kills >= 10, "{kills} kills");

    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_success(&output);
    let written = ids(&work.out);
    assert_unique(&written);
    let delivered = sim.delivered_order();
    assert_org_order_prefix(&written, &delivered, backlog);
    assert_eq!(work.committed_offset(), file_len(&work.out));
    let dead = std::fs::read_to_string(work.state.join("dead-letter.ndjson")).unwrap_or_default();
    let letters: Vec<&str> = dead.lines().collect();
    let unique: std::collections::HashSet<&&str> = letters.iter().collect();
    assert_eq!(unique.len(), letters.len(), "no dead letter twice");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_at_a_page_boundary() {
    let sim = start_sim(quiet(4_000)).await;
    let work = Workdir::new();
    work.write_config(&sim, 50, "rate_limit_share = 1.0");
    let child = work
        .run_cmd(Some(TOKEN), &[])
        .spawn()
        .expect("oktaflow starts");
    let pid = child.id().expect("running child has a pid");
    // Wait until it is mid-run (some pages committed), then ask it to stop.
    tokio::time::timeout(RUN_TIMEOUT, async {
        while !work.checkpoint_path().exists() || file_len(&work.out) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("it starts writing");
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
    let output = wait(child).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let written = ids(&work.out);
    assert!(!written.is_empty());
    assert_eq!(
        work.committed_offset(),
        file_len(&work.out),
        "checkpoint matches the file"
    );
    let delivered = sim.delivered_order();
    assert_eq!(written[..], delivered[..written.len()]);

    assert_success(&finish(work.run_cmd(Some(TOKEN), &["--once"])).await);
    assert_eq!(ids(&work.out), delivered);
    sim.shutdown().await;
}
