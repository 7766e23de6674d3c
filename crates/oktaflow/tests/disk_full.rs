//! A full disk on the output file (issue 15, point 5): `--once` gives up after
//! `output_retry_limit` with exit 4 and one line, a continuous run says so in `/ready` and the
//! metrics while it retries, and a restart once there is room again delivers every event
//! exactly once.
//!
//! The "full disk" is the process's file-size limit (`ulimit -f`, with `SIGXFSZ` ignored):
//! a write past it fails with `EFBIG` like one on a full disk fails with `ENOSPC` — part of
//! the batch reaches the file, the rest is refused — without needing a small file system.
//! The limit applies to every file the process writes; the checkpoint and the dead-letter file
//! stay far below it, the output file crosses it.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use support::*;
use tokio::process::Command;

/// Events in the org: about 4 MB of output, well past the limit.
const EVENTS: usize = 2_000;
/// The file-size limit in 512-byte blocks (dash's `ulimit -f` unit): 1 MiB.
const LIMIT_BLOCKS: u64 = 2_048;

/// `oktaflow <args>` under a file-size limit of [`LIMIT_BLOCKS`], `SIGXFSZ` ignored (so a
/// write past the limit fails with `EFBIG` instead of killing the process).
fn limited(token: &str, args: &[&str]) -> Command {
    let script = format!("ulimit -f {LIMIT_BLOCKS}; trap '' XFSZ; exec \"$0\" \"$@\"");
    let mut sh = Command::new("/bin/sh");
    sh.env_clear()
        .env("RUST_LOG", "warn")
        .env("OKTA_API_TOKEN", token)
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_oktaflow"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        sh.env("PATH", path);
    }
    sh
}

/// A free loopback address for `--metrics-listen`.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address")
}

/// `GET path` on the endpoint: (status, body), or `None` while it does not answer yet.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The value of the sample `series` (labels exactly as exposed), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// Sends SIGTERM to the child (a clean stop).
fn terminate(child: &tokio::process::Child) {
    let pid = child.id().expect("child is running");
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
}

/// After the room is back: a `--once` run delivers the rest, and the file holds every
/// event of the org exactly once, in its order.
async fn assert_restart_is_exact(work: &Workdir, sim: &oktaflow_sim::SimHandle) {
    let output = finish(work.run_cmd(Some(TOKEN), &["--once"])).await;
    assert_success(&output);
    let written = ids(&work.out);
    assert_unique(&written);
    assert_eq!(written.len(), EVENTS);
    assert_eq!(written, sim.delivered_order()[..EVENTS]);
}

/// `--once` on a full disk: retried for `output_retry_limit`, then exit 4 with one error line
/// naming the output and the cause; what was committed before is intact, and a restart with
/// room delivers the rest exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_gives_up_on_a_full_disk_with_exit_4_and_a_restart_is_exact() {
    let sim = start_sim(quiet(EVENTS)).await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "rate_limit_share = 1.0");
    let config = std::fs::read_to_string(&work.config).expect("config");
    std::fs::write(
        &work.config,
        format!("output_retry_limit = \"2s\"\n{config}"),
    )
    .expect("config written");

    let config_path = work.config.to_str().expect("UTF-8 path");
    let output = finish(limited(TOKEN, &["run", "--config", config_path, "--once"])).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("oktaflow: error: "))
        .collect();
    assert_eq!(errors.len(), 1, "one line: {stderr}");
    let out = std::path::absolute(&work.out).expect("absolute");
    assert!(
        errors[0].contains(&format!("file:{}: cannot write batch: ", out.display()))
            && errors[0].contains("File too large")
            && errors[0].contains("still failing after")
            && errors[0].contains("nothing is lost"),
        "{stderr}"
    );
    // The committed part is whole; the batch that did not fit was taken back.
    let committed = work.committed_offset();
    assert_eq!(file_len(&work.out), committed);
    assert!(committed <= LIMIT_BLOCKS * 512);
    let before = ids(&work.out);
    assert!(before.len() < EVENTS, "{} written", before.len());
    assert_eq!(before, sim.delivered_order()[..before.len()]);

    assert_restart_is_exact(&work, &sim).await;
    sim.shutdown().await;
}

/// A continuous run on a full disk keeps retrying and says so: `/ready` 503 with the sink
/// failing and the cause in `last_error`, `oktaflow_sink_failing` 1 and
/// `oktaflow_sink_errors_total{kind="storage_full"}` counting; SIGTERM stops it cleanly (the
/// batch in retry is not committed) and a restart with room is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuous_run_on_a_full_disk_shows_it_and_a_restart_is_exact() {
    let sim = start_sim(quiet(EVENTS)).await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "rate_limit_share = 1.0");
    let addr = free_addr();
    let config_path = work.config.to_str().expect("UTF-8 path");
    let listen = addr.to_string();
    let child = limited(
        TOKEN,
        &["run", "--config", config_path, "--metrics-listen", &listen],
    )
    .spawn()
    .expect("oktaflow starts");

    let out = std::path::absolute(&work.out).expect("absolute");
    let sink = format!("file:{}", out.display());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (status, ready) = loop {
        if let Some((status, body)) = get(addr, "/ready") {
            let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            // The event file's entry (the alert file beside it is listed too).
            let events = json["sources"][0]["sinks"]
                .as_array()
                .and_then(|sinks| sinks.iter().find(|s| s["sink"] == sink.as_str()))
                .cloned();
            if events.is_some_and(|s| s["failing"] == true) {
                break (status, json);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sink never failed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 503, "{ready}");
    let entry = &ready["sources"][0];
    assert_eq!(entry["ready"], false, "{ready}");
    assert_eq!(entry["state"], "running", "still running: {ready}");
    let last_error = entry["last_error"].as_str().expect("last_error");
    assert!(
        last_error.starts_with(&format!("{sink}: cannot write batch: "))
            && last_error.contains("File too large"),
        "{last_error}"
    );
    let (_, metrics) = get(addr, "/metrics").expect("metrics");
    assert_eq!(
        sample(
            &metrics,
            &format!("oktaflow_sink_failing{{sink=\"{sink}\",source=\"okta\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    let errors = sample(
        &metrics,
        &format!(
            "oktaflow_sink_errors_total{{kind=\"storage_full\",sink=\"{sink}\",source=\"okta\"}}"
        ),
    );
    assert!(errors.is_some_and(|n| n >= 1.0), "{metrics}");

    terminate(&child);
    let output = wait(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "a clean stop: {stderr}");
    assert_eq!(file_len(&work.out), work.committed_offset());

    assert_restart_is_exact(&work, &sim).await;
    sim.shutdown().await;
}
