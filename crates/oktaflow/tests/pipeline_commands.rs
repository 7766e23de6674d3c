//! `oktaflow demo` and `oktaflow sim` end to end.

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_backfills_follows_and_summarizes() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("demo");
    let demo = |dir: &std::path::Path| {
        let mut cmd = oktaflow(None);
        cmd.args(["demo", "--events", "3000", "--follow", "1s", "--dir"])
            .arg(dir);
        cmd
    };
    let output = finish(demo(&dir)).await;
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let written = ids(&dir.join("events.ndjson"));
    assert_unique(&written);
    // The backlog minus the few late events not yet visible, plus live ones.
    assert!(written.len() >= 2_950, "{} events", written.len());
    let headline = format!("oktaflow demo: {} events written in ", group(written.len()));
    assert!(stdout.contains(&headline), "{stdout}");
    assert!(stdout.contains("by event.category:"), "{stdout}");
    assert!(stdout.contains("authentication"), "{stdout}");
    assert!(stdout.contains("rejected (dead-lettered): 0"), "{stdout}");
    // The attack scenarios are on by default: every built-in rule fires, the alerts are in
    // alerts.ndjson beside the events, each once.
    assert!(stdout.contains("alerts raised: "), "{stdout}");
    let alerts = ids(&dir.join("alerts.ndjson"));
    assert_unique(&alerts);
    for rule in [
        "okta.admin_role_assigned",
        "okta.api_key_created",
        "okta.api_key_revoked",
        "okta.brute_force_logins",
        "okta.geo_improbable_access",
        "okta.password_spraying",
        "okta.mfa_push_bombing",
        "okta.stolen_session",
    ] {
        assert!(stdout.contains(rule), "{rule} in the summary: {stdout}");
    }
    // Identity enrichment: the directory is synced before the backfill, so events carry
    // their users' profiles, and the profile documents are beside the events.
    assert!(
        stdout.contains("profiles: 600 users, 600 devices in the store"),
        "{stdout}"
    );
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("events.ndjson"))
            .expect("events")
            .lines()
            .next()
            .expect("a first event"),
    )
    .expect("JSON");
    assert_eq!(first["okta"]["enrichment"]["version"], 1, "{first}");
    let known = std::fs::read_to_string(dir.join("events.ndjson"))
        .expect("events")
        .lines()
        .filter(|l| l.contains("\"actor\":{\"known\":true"))
        .count();
    assert!(known > written.len() / 2, "{known} of {}", written.len());
    assert_eq!(ids(&dir.join("profiles.ndjson")).len(), 1_200);
    let checkpoint: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("state/demo.checkpoint.json")).expect("checkpoint"),
    )
    .expect("JSON");
    let events = std::path::absolute(dir.join("events.ndjson")).expect("absolute");
    assert_eq!(
        checkpoint["sinks"][format!("file:{}", events.display())]["offset"].as_u64(),
        Some(file_len(&events))
    );

    // Re-running starts fresh in its own directory ...
    assert_success(&finish(demo(&dir)).await);
    let again = ids(&dir.join("events.ndjson"));
    assert_unique(&again);
    assert!(again.len() >= 2_950);
    // ... and refuses a directory it did not create.
    let mine = root.path().join("mine");
    std::fs::create_dir(&mine).expect("dir");
    std::fs::write(mine.join("notes.txt"), "keep").expect("file");
    let output = finish(demo(&mine)).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not an oktaflow demo directory"),
        "{stderr}"
    );
    assert!(mine.join("notes.txt").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_command_serves_an_org_that_run_reads() {
    let mut sim = oktaflow(None);
    sim.args([
        "sim",
        "--port",
        "0",
        "--events",
        "300",
        "--seed",
        "5",
        "--token",
        "sim-cmd-token",
        "--late-fraction",
        "0",
    ]);
    let mut child = sim.spawn().expect("oktaflow sim starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the simulator starts in time")
        .expect("stdout readable")
        .expect("a first line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("a URL in {first:?}"))
        .to_string();
    assert!(first.contains("300 events, seed 5"), "{first}");
    let token_line = lines
        .next_line()
        .await
        .expect("stdout")
        .expect("token line");
    assert_eq!(token_line.trim(), "token: sim-cmd-token");

    let work = Workdir::new();
    let mut run = oktaflow(Some("sim-cmd-token"));
    run.args([
        "run",
        "--once",
        "--start-from",
        "2d",
        "--okta-url",
        &url,
        "--state-dir",
    ])
    .arg(&work.state)
    .arg("--sink")
    .arg(format!("file:{}", work.out.display()));
    assert_success(&finish(run).await);
    let written = ids(&work.out);
    assert_eq!(written.len(), 300);
    assert_unique(&written);

    let pid = child.id().expect("running");
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT sent");
    let status = tokio::time::timeout(RUN_TIMEOUT, child.wait())
        .await
        .expect("stops in time")
        .expect("status");
    assert_eq!(status.code(), Some(0));
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(line);
    }
    let stopped = rest
        .iter()
        .find(|l| l.starts_with("simulator stopped:"))
        .unwrap_or_else(|| panic!("a closing line in {rest:?}"));
    assert!(stopped.contains("300 events served"), "{stopped}");
}

/// `1234` → `1,234` (as the demo prints counts).
fn group(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
