//! Chaos for a push source with gap filling (`kind = "eventbridge"` plus API credentials): the
//! simulator's Log Streaming side pushes an org's events with 5 % duplicates, 2 % reordered, a
//! 10-minute stream outage (simulated time, marked by the stream's lifecycle events), while
//! `oktaflow run` is killed with SIGKILL at least ten times and restarted. At the end the file
//! sink holds exactly the System Log's events (the simulator's ground truth), none twice, and
//! the outage was fetched from `/api/v1/logs` with `since`/`until`.

mod support;

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::process::Stdio;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use oktaflow_sim::{LogStream, Outage, StreamConfig};
use support::{ids, oktaflow, quiet, start_sim, Workdir, TOKEN};

const KEY: &str = "push-chaos-key-51c2";
/// Kills of `oktaflow run` at least.
const KILLS: usize = 10;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_reordering_an_outage_and_kills_leave_the_system_log_once_each() {
    let sim = start_sim(quiet(0)).await;
    let work = Workdir::new();
    let port = free_port();
    let config = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n[[sources]]\nname = \"okta\"\nkind = \"eventbridge\"\nokta_url = \"{}\"\nrequest_timeout = \"2s\"\npage_size = 500\n\n[sources.eventbridge]\nlisten = \"127.0.0.1:{port}\"\napi_key_header = \"x-oktaflow-key\"\napi_key_env = \"OKTAFLOW_PUSH_KEY\"\ngap_jump = \"2m\"\ngap_silence = \"1h\"\ngap_overlap = \"30s\"\ngap_settle = \"1s\"\n",
        work.state.display(),
        work.out.display(),
        sim.base_url(),
    );
    std::fs::write(&work.config, config).expect("config written");
    let log = work.dir.path().join("oktaflow.log");
    let run = || {
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut cmd = oktaflow(Some(TOKEN));
        cmd.env("OKTAFLOW_PUSH_KEY", KEY)
            .arg("run")
            .arg("--config")
            .arg(&work.config)
            .stdout(Stdio::null())
            .stderr(stderr);
        cmd.spawn().expect("oktaflow starts")
    };

    // 25 simulated minutes of events at 2 per second, 60 times faster than the wall clock;
    // the stream is down from minute 8 to minute 18.
    let start = Utc::now() - TimeDelta::hours(3);
    let outage = Outage {
        at: Duration::from_secs(8 * 60),
        length: Duration::from_secs(10 * 60),
        lifecycle: true,
    };
    let stream = LogStream::start(
        StreamConfig {
            url: format!("http://127.0.0.1:{port}/"),
            api_key_header: "x-oktaflow-key".into(),
            api_key: KEY.into(),
            events: 3_000,
            start,
            events_per_sec: 2.0,
            speed: 60.0,
            duplicate_rate: 0.05,
            reorder_rate: 0.02,
            max_delay: Duration::from_secs(2),
            outages: vec![outage],
            concurrency: 8,
            seed: 11,
            ..StreamConfig::default()
        },
        sim.system_log(),
    );

    // Kill -9 and restart while the stream runs (and after, until ten kills are done).
    let mut kills = 0;
    let mut round: u64 = 0;
    while kills < KILLS || !stream.is_finished() {
        let mut child = run();
        // 0.8 .. 2.3 s of running: enough to start, recover and commit some batches.
        round += 1;
        let alive = Duration::from_millis(800 + (round * 379) % 1500);
        tokio::time::sleep(alive).await;
        if child.try_wait().expect("child status").is_some() {
            panic!("oktaflow exited by itself:\n{}", log_tail(&log));
        }
        child.start_kill().expect("SIGKILL sent");
        let status = child.wait().await.expect("child reaped");
        assert!(status.code().is_none(), "killed by the signal: {status:?}");
        kills += 1;
        assert!(
            kills < 60,
            "the stream did not finish: {}",
            stream.acknowledged()
        );
    }
    let report = stream.finish().await;
    assert!(kills >= KILLS);
    assert!(
        report.duplicates > 0 && report.reordered > 0 && report.withheld >= 1_200,
        "{report:?}"
    );

    // A last run fills what is left; it ends once the file holds the System Log.
    let truth: HashSet<String> = sim.delivered_order().into_iter().collect();
    assert_eq!(truth.len() as u64, report.events);
    let mut last = run();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let written: HashSet<String> = ids(&work.out).into_iter().collect();
        if written.len() >= truth.len() || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last.start_kill().expect("SIGKILL sent");
    let _ = last.wait().await;

    let written = ids(&work.out);
    let unique: HashSet<String> = written.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        written.len(),
        "an event written twice\n{}",
        log_tail(&log)
    );
    let missing: Vec<&String> = truth.difference(&unique).take(5).collect();
    let extra: Vec<&String> = unique.difference(&truth).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} written, {} in the System Log; missing {missing:?}, extra {extra:?}\n{}",
        unique.len(),
        truth.len(),
        log_tail(&log)
    );
    // The outage was fetched from the API with since/until covering it.
    let from = start + TimeDelta::seconds(8 * 60);
    let to = start + TimeDelta::seconds(18 * 60);
    let queries = sim.bounded_queries();
    assert!(
        queries.iter().any(|(s, u)| *s <= from && *u >= to),
        "no since/until query covering {from} .. {to}: {queries:?}"
    );
    sim.shutdown().await;
}
