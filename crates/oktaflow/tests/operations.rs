//! Running for real: several orgs in one process (one failing), the `/metrics`, `/health` and
//! `/ready` endpoint with its values checked against the simulators, and the silence alert.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use oktaflow_sim::{SimConfig, SimHandle};
use support::*;

/// How long a test waits for a condition on the endpoint before failing.
const WAIT: Duration = Duration::from_secs(60);

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

/// The value of the sample `name{labels}` (labels exactly as exposed), if present.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// Polls `/ready` until `done` holds for its JSON body; returns (status, body).
async fn ready_when(
    addr: SocketAddr,
    done: impl Fn(&serde_json::Value) -> bool,
) -> (u16, serde_json::Value) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut last = None;
        if let Some((status, body)) = get(addr, "/ready") {
            let json: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            if done(&json) {
                return (status, json);
            }
            last = Some(json);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `/metrics` until `done` holds; returns the exposition.
async fn metrics_when(addr: SocketAddr, done: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = get(addr, "/metrics");
        if let Some((200, text)) = &answer {
            if done(text) {
                return text.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The entry of `source` in a `/ready` body.
fn source_entry<'a>(ready: &'a serde_json::Value, source: &str) -> &'a serde_json::Value {
    ready["sources"]
        .as_array()
        .and_then(|list| list.iter().find(|s| s["source"] == source))
        .unwrap_or_else(|| panic!("{source} in {ready}"))
}

/// A `[[sources]]` entry for `sim`.
fn source_entry_toml(name: &str, sim: &SimHandle, token: &str, page_size: u32) -> String {
    format!(
        "[[sources]]\nname = \"{name}\"\nokta_url = \"{}\"\napi_token = \"{token}\"\nstart_from = \"2d\"\npage_size = {page_size}\nrequest_timeout = \"2s\"\ninterval = \"10s\"\nrate_limit_share = 0.5\n",
        sim.base_url()
    )
}

fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).expect("config written");
}

/// Sends SIGTERM to the child (a clean stop).
fn terminate(child: &tokio::process::Child) {
    let pid = child.id().expect("child is running");
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
}

/// Two orgs in one process: `good` (a rate-limit storm on a 2 s window) delivers everything,
/// `bad` (wrong token) halts alone; metrics, `/health` and `/ready` say so with exact values,
/// and the exit code at the end is the halt's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_org_halts_alone_and_the_endpoint_tells_exact_values() {
    let good = start_sim(SimConfig {
        // A window starts with oktaflow's first request; other integrations spend the rest of
        // its budget within 0.1 s, so the second request of each window (paced 0.2 s apart at
        // a share of 0.5) is answered 429 and oktaflow waits for the reset.
        rate_limit_per_minute: Some(600),
        other_integrations_per_minute: 12_000,
        rate_limit_window: Duration::from_secs(2),
        ..quiet(2_000)
    })
    .await;
    let bad = start_sim(quiet(50)).await;
    let work = Workdir::new();
    let addr = free_addr();
    let config = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n{}\n{}",
        work.state.display(),
        work.out.display(),
        source_entry_toml("good", &good, TOKEN, 1000),
        source_entry_toml("bad", &bad, "not-the-token", 100),
    );
    write_file(&work.config, &config);
    let child = oktaflow(None)
        .arg("run")
        .arg("--config")
        .arg(&work.config)
        .arg("--metrics-listen")
        .arg(addr.to_string())
        .spawn()
        .expect("oktaflow starts");

    // Each source writes its own file, derived from the configured path.
    let good_out = work.dir.path().join("out.good.ndjson");
    let good_sink = format!(
        "file:{}",
        std::path::absolute(&good_out).expect("absolute").display()
    );
    let written_series =
        format!("oktaflow_events_written_total{{sink=\"{good_sink}\",source=\"good\"}}");
    metrics_when(addr, |text| {
        sample(text, &written_series) == Some(2000.0)
            && sample(text, "oktaflow_source_halted{source=\"bad\"}") == Some(1.0)
    })
    .await;
    // The good source goes on polling into the storm while the test reads: compare the
    // metrics with the org's counts taken at a moment when no request is in between (the
    // org served nothing during the scrape and oktaflow has recorded every answer).
    let (served, text) = {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let before = good.stats();
            let text = metrics_when(addr, |_| true).await;
            let settled = good.stats() == before
                && before.by_status.iter().all(|(status, count)| {
                    sample(
                        &text,
                        &format!(
                            "oktaflow_okta_requests_total{{source=\"good\",status=\"{status}\"}}"
                        ),
                    ) == Some(*count as f64)
                });
            if settled || tokio::time::Instant::now() >= deadline {
                break (before, text);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    // The good org: everything delivered once, counters equal to what the org served.
    let written = ids(&good_out);
    assert_eq!(written, good.delivered_order());
    assert_eq!(written.len(), 2000);
    assert_eq!(
        sample(&text, "oktaflow_events_fetched_total{source=\"good\"}"),
        Some(2000.0)
    );
    assert_eq!(
        sample(&text, "oktaflow_events_normalized_total{source=\"good\"}"),
        Some(2000.0)
    );
    for (status, count) in &served.by_status {
        assert_eq!(
            sample(
                &text,
                &format!("oktaflow_okta_requests_total{{source=\"good\",status=\"{status}\"}}")
            ),
            Some(*count as f64),
            "status {status}: {served:?}\n{text}"
        );
    }
    assert!(
        served.by_status.get(&200).copied().unwrap_or(0) >= 2,
        "{served:?}"
    );
    assert!(
        served.rate_limited >= 1,
        "the storm answered 429: {served:?}"
    );
    assert_eq!(
        sample(&text, "oktaflow_okta_rate_limited_total{source=\"good\"}"),
        Some(served.rate_limited as f64)
    );
    assert!(
        sample(&text, "oktaflow_okta_retries_total{source=\"good\"}")
            .is_some_and(|r| r >= served.rate_limited as f64),
        "{text}"
    );
    assert!(
        sample(&text, "oktaflow_okta_rate_limit_remaining{source=\"good\"}").is_some(),
        "{text}"
    );
    assert_eq!(
        sample(&text, "oktaflow_source_halted{source=\"good\"}"),
        Some(0.0)
    );
    let write_count = sample(
        &text,
        &format!(
            "oktaflow_sink_write_duration_seconds_count{{sink=\"{good_sink}\",source=\"good\"}}"
        ),
    )
    .expect("sink write histogram");
    assert!(write_count >= 1.0, "{text}");
    let batches = |stage: &str| {
        sample(
            &text,
            &format!("oktaflow_batch_duration_seconds_count{{source=\"good\",stage=\"{stage}\"}}"),
        )
    };
    assert!(batches("commit").is_some_and(|n| n >= 1.0), "{text}");
    for stage in ["normalize", "write", "checkpoint"] {
        assert_eq!(
            batches(stage),
            batches("commit"),
            "one sample per batch: {text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            "oktaflow_events_dead_lettered_total{reason=\"normalize\",source=\"good\"}"
        ),
        Some(0.0)
    );

    // The bad org: one 401, nothing fetched, halted.
    assert_eq!(
        sample(
            &text,
            "oktaflow_okta_requests_total{source=\"bad\",status=\"401\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "oktaflow_events_fetched_total{source=\"bad\"}"),
        Some(0.0)
    );
    assert_eq!(ids(&work.dir.path().join("out.bad.ndjson")).len(), 0);

    assert_eq!(get(addr, "/health"), Some((200, "ok\n".to_string())));
    let (status, ready) = ready_when(addr, |r| source_entry(r, "good")["ready"] == true).await;
    assert_eq!(status, 503, "not ready while a source is halted: {ready}");
    assert_eq!(ready["ready"], false);
    let good_entry = source_entry(&ready, "good");
    assert_eq!(good_entry["state"], "running");
    assert!(good_entry["last_fetch"].is_string(), "{good_entry}");
    assert!(
        good_entry["checkpoint_lag_seconds"].as_i64().is_some(),
        "{good_entry}"
    );
    // The event file's entry (its alert file, beside it, is listed too).
    let events_sink = good_entry["sinks"]
        .as_array()
        .and_then(|sinks| sinks.iter().find(|s| s["sink"] == good_sink.as_str()))
        .expect("the event file's entry");
    assert_eq!(events_sink["failing"], false);
    let bad_entry = source_entry(&ready, "bad");
    assert_eq!(bad_entry["state"], "halted");
    assert_eq!(bad_entry["ready"], false);
    let error = bad_entry["last_error"]
        .as_str()
        .expect("the halt's message");
    assert!(error.contains("authentication failed"), "{error}");
    assert!(!error.contains("not-the-token"), "no secret: {error}");

    // A clean stop: the good source commits and stops; the exit code is the halt's (3).
    terminate(&child);
    let output = wait(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("1 source failed: bad: ") && stderr.contains("authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-token"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|line| line.contains("source{source=bad}")
                && line.contains("source stopped; the other sources go on")),
        "the halt is logged, tagged with its source: {stderr}"
    );
    assert_eq!(ids(&good_out).len(), 2000, "nothing more, nothing less");
    assert!(work.state.join("good.checkpoint.json").exists());
    good.shutdown().await;
    bad.shutdown().await;
}

/// A source that delivers nothing for longer than its `silence_alert`: one error line (JSON,
/// tagged with the source), the `oktaflow_source_silent` gauge, and `/ready` 503 "silent".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_source_raises_the_alert_once() {
    let sim = start_sim(quiet(120)).await;
    let work = Workdir::new();
    work.write_config(
        &sim,
        100,
        "rate_limit_share = 1.0\ninterval = \"10s\"\nsilence_alert = \"2s\"",
    );
    let addr = free_addr();
    let child = oktaflow(Some(TOKEN))
        .args(["--log-format", "json", "run", "--config"])
        .arg(&work.config)
        .arg("--metrics-listen")
        .arg(addr.to_string())
        .spawn()
        .expect("oktaflow starts");

    let (status, ready) = ready_when(addr, |r| source_entry(r, "okta")["state"] == "silent").await;
    assert_eq!(status, 503, "{ready}");
    let entry = source_entry(&ready, "okta");
    assert_eq!(entry["ready"], false);
    assert_eq!(entry["silence_alert_seconds"], 2);
    assert!(
        entry["seconds_since_last_event"]
            .as_u64()
            .is_some_and(|s| s >= 2),
        "{entry}"
    );
    let text = metrics_when(addr, |_| true).await;
    assert_eq!(
        sample(&text, "oktaflow_source_silent{source=\"okta\"}"),
        Some(1.0)
    );
    assert!(
        sample(&text, "oktaflow_seconds_since_last_event{source=\"okta\"}")
            .is_some_and(|s| s >= 2.0),
        "{text}"
    );
    assert_eq!(ids(&work.out).len(), 120);

    terminate(&child);
    let output = wait(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let alerts: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| {
            line["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no event from this source"))
        })
        .collect();
    assert_eq!(alerts.len(), 1, "once per episode: {stderr}");
    assert_eq!(alerts[0]["level"], "ERROR");
    assert_eq!(alerts[0]["fields"]["source"], "okta");
    sim.shutdown().await;
}

/// A metrics address already in use refuses the start before anything is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_metrics_address_fails_the_start_and_changes_nothing() {
    let sim = start_sim(quiet(10)).await;
    let work = Workdir::new();
    work.write_config(&sim, 100, "");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = taken.local_addr().expect("local address");
    // The flag's old name, still accepted.
    let output = finish(work.run_cmd(Some(TOKEN), &["--metrics-addr", &addr.to_string()])).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "oktaflow: error: cannot serve metrics on {addr}: "
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!work.state.exists() && !work.out.exists());
    assert_eq!(sim.stats().requests, 0);
    sim.shutdown().await;
}

/// Counts the `known` flags of one document's `okta.profile` lookups: (user hits, user
/// misses, device hits, device misses).
fn profile_lookups(doc: &serde_json::Value) -> [u64; 4] {
    let mut counts = [0; 4];
    let profile = &doc["okta"]["profile"];
    let mut users: Vec<&serde_json::Value> = vec![&profile["actor"], &profile["target"]];
    users.extend(profile["targets"].as_array().into_iter().flatten());
    for user in users {
        match user["known"].as_bool() {
            Some(true) => counts[0] += 1,
            Some(false) => counts[1] += 1,
            None => {}
        }
    }
    match profile["device"]["known"].as_bool() {
        Some(true) => counts[2] += 1,
        Some(false) => counts[3] += 1,
        None => {}
    }
    counts
}

/// Identity enrichment on `/metrics`: the store's counts and last sync time after the first
/// refresh, the sync's requests, and lookups that add up to the `known` flags of the written
/// documents (hits once the profiles are in, misses before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_reports_its_store_and_lookups() {
    let sim = start_sim(quiet(300)).await;
    let work = Workdir::new();
    work.write_config(
        &sim,
        100,
        "rate_limit_share = 1.0\ninterval = \"10s\"\n[source.enrichment]\nrefresh = \"1h\"\n",
    );
    let addr = free_addr();
    let child = oktaflow(Some(TOKEN))
        .args(["run", "--config"])
        .arg(&work.config)
        .arg("--metrics-listen")
        .arg(addr.to_string())
        .spawn()
        .expect("oktaflow starts");

    let users = sim.directory_user_ids().len() as f64;
    let devices = sim.directory_device_ids().len() as f64;
    let text = metrics_when(addr, |t| {
        sample(t, "oktaflow_profiles{kind=\"user\",source=\"okta\"}") == Some(users)
    })
    .await;
    assert_eq!(
        sample(&text, "oktaflow_profiles{kind=\"device\",source=\"okta\"}"),
        Some(devices)
    );
    let synced = sample(
        &text,
        "oktaflow_profiles_synced_timestamp_seconds{source=\"okta\"}",
    )
    .expect("sync time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    assert!(synced > now - 600.0 && synced <= now + 1.0, "{synced}");
    assert_eq!(
        sample(
            &text,
            "oktaflow_profile_refreshes_total{result=\"ok\",source=\"okta\"}"
        ),
        Some(1.0)
    );
    assert!(
        sample(&text, "oktaflow_profile_requests_total{source=\"okta\"}").is_some_and(|n| n >= 4.0),
        "users, groups, admin roles and devices read at least once: {text}"
    );

    // Events arriving after the refresh are joined; the lookups counted equal the documents'
    // `known` flags, before and after the refresh alike.
    sim.add_events(200);
    let series = |kind: &str, result: &str| {
        format!(
            "oktaflow_profile_lookups_total{{kind=\"{kind}\",result=\"{result}\",source=\"okta\"}}"
        )
    };
    let counted = |text: &str| {
        [
            ("user", "hit"),
            ("user", "miss"),
            ("device", "hit"),
            ("device", "miss"),
        ]
        .map(|(kind, result)| sample(text, &series(kind, result)).unwrap_or(0.0) as u64)
    };
    let expected = || {
        let docs: Vec<serde_json::Value> = std::fs::read_to_string(&work.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON document"))
            .collect();
        let sum = docs.iter().map(profile_lookups).fold([0u64; 4], |a, b| {
            [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
        });
        (docs.len(), sum)
    };
    // Lookups are reported after each commit: once all 500 documents are written, the
    // counters settle on exactly the documents' flags.
    let text = metrics_when(addr, |t| {
        let (written, sum) = expected();
        written == 500 && counted(t) == sum
    })
    .await;
    let (_, sum) = expected();
    assert!(sum[0] > 0, "profiles joined after the refresh: {sum:?}");
    assert_eq!(counted(&text), sum);

    terminate(&child);
    let output = wait(child).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    sim.shutdown().await;
}
