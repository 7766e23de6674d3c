//! `oktaflow check` and `oktaflow run` with a `kind = "eventbridge"` source: the receiver
//! answers 200 only for durable events, and after `kill -9` and a restart every event is in
//! the file sink once (redeliveries of durable events dropped).

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use support::{assert_success, assert_unique, finish, ids, oktaflow, Workdir};

const KEY: &str = "push-run-test-key-7f3a";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn envelope(n: u64) -> String {
    let published =
        Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap() + TimeDelta::seconds(n as i64);
    format!(
        r#"{{"version":"0","id":"eb-{n}","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/s","detail":{{"uuid":"push-{n:05}","published":"{}","eventType":"user.session.start","outcome":{{"result":"SUCCESS"}},"actor":{{"id":"00u{n}","type":"User"}}}}}}"#,
        published.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    )
}

fn write_config(work: &Workdir, port: u16) {
    let text = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n[[sources]]\nname = \"okta\"\nkind = \"eventbridge\"\ndomain = \"acme.okta.com\"\n\n[sources.eventbridge]\nlisten = \"127.0.0.1:{port}\"\napi_key_header = \"x-oktaflow-key\"\napi_key_env = \"OKTAFLOW_PUSH_KEY\"\n",
        work.state.display(),
        work.out.display(),
    );
    std::fs::write(&work.config, text).expect("config written");
}

/// Posts each body until it is answered (the receiver may still be starting); returns the
/// final statuses.
async fn post_all(url: &str, bodies: &[String]) -> Vec<u16> {
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for body in bodies {
        let started = Instant::now();
        loop {
            match client
                .post(url)
                .header("x-oktaflow-key", KEY)
                .body(body.clone())
                .send()
                .await
            {
                Ok(response) => {
                    statuses.push(response.status().as_u16());
                    break;
                }
                Err(e) if started.elapsed() < Duration::from_secs(60) && e.is_connect() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("posting: {e}"),
            }
        }
    }
    statuses
}

fn run_cmd(work: &Workdir) -> tokio::process::Command {
    let mut cmd = oktaflow(None);
    cmd.env("OKTAFLOW_PUSH_KEY", KEY)
        .arg("run")
        .arg("--config")
        .arg(&work.config)
        .stdout(Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_then_run_kill_and_rerun_keeps_each_event_once() {
    let work = Workdir::new();
    let port = free_port();
    write_config(&work, port);
    let url = format!("http://127.0.0.1:{port}/");

    let mut check = oktaflow(None);
    check
        .env("OKTAFLOW_PUSH_KEY", KEY)
        .arg("check")
        .arg("--config")
        .arg(&work.config);
    let output = finish(check).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_success(&output);
    assert!(stdout.contains("receiver"), "{stdout}");
    assert!(!stdout.contains(KEY), "{stdout}");

    let mut first = run_cmd(&work).spawn().expect("oktaflow starts");
    let mut bodies: Vec<String> = (0..40).map(envelope).collect();
    bodies.extend((0..5).map(envelope));
    let statuses = post_all(&url, &bodies).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    // 200 means durable: kill -9 now loses nothing.
    first.start_kill().expect("SIGKILL");
    let _ = first.wait().await;
    assert_eq!(ids(&work.out).len(), 40);

    let metrics_port = free_port();
    let mut second = run_cmd(&work)
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{metrics_port}"))
        .spawn()
        .expect("oktaflow starts");
    let again: Vec<String> = (30..50).map(envelope).collect();
    let statuses = post_all(&url, &again).await;
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    // The receiver's answers and the events' outcomes are on /metrics; the source is ready.
    let ops = format!("http://127.0.0.1:{metrics_port}");
    let client = reqwest::Client::new();
    let text = client
        .get(format!("{ops}/metrics"))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("/metrics body");
    for series in [
        "oktaflow_push_requests_total{source=\"okta\",status=\"200\"} 20",
        "oktaflow_push_events_total{outcome=\"accepted\",source=\"okta\"} 10",
        "oktaflow_push_events_total{outcome=\"duplicate\",source=\"okta\"} 10",
        "oktaflow_push_ack_latency_seconds_count{source=\"okta\"} 20",
        "oktaflow_push_in_flight_limit{source=\"okta\"} 500",
    ] {
        assert!(text.contains(series), "{series} in\n{text}");
    }
    let ready = client
        .get(format!("{ops}/ready"))
        .send()
        .await
        .expect("/ready answers");
    assert_eq!(ready.status().as_u16(), 200);
    let ready: serde_json::Value = ready.json().await.expect("/ready is JSON");
    assert_eq!(ready["sources"][0]["push"]["listening"], true, "{ready}");
    second.start_kill().expect("SIGKILL");
    let _ = second.wait().await;
    let written = ids(&work.out);
    assert_unique(&written);
    assert_eq!(written.len(), 50);
}
