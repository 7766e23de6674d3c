//! `oktaflow check` and `oktaflow run` with a `kind = "sqs"` source against a real
//! SQS-compatible server (`moto` in server mode: `.ci/sqs.sh`, run by `.ci/run`; ignored
//! without `OKTAFLOW_TEST_SQS_URL`). The credentials come from the standard AWS environment
//! variables and are never printed; after several `kill -9` and a restart every event is in
//! the file sink once and every message is deleted.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use oktaflow_sqs::testing::{create_queue, depth, send, test_credentials};
use oktaflow_sqs::{SqsClient, SqsConfig};
use support::{assert_success, assert_unique, finish, ids, oktaflow, Workdir};

fn envelope(n: u64) -> String {
    let published =
        Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap() + TimeDelta::seconds(n as i64);
    format!(
        r#"{{"version":"0","id":"eb-{n}","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/s","detail":{{"uuid":"sqs-{n:05}","published":"{}","eventType":"user.session.start","outcome":{{"result":"SUCCESS"}},"actor":{{"id":"00u{n}","type":"User"}}}}}}"#,
        published.format("%Y-%m-%dT%H:%M:%S%.3fZ")
    )
}

fn write_config(work: &Workdir, queue_url: &str) {
    let text = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n[[sources]]\nname = \"okta\"\nkind = \"sqs\"\ndomain = \"acme.okta.com\"\n\n[sources.sqs]\nqueue_url = \"{queue_url}\"\nregion = \"us-east-1\"\nwait_time = \"1s\"\nvisibility_timeout = \"2s\"\n",
        work.state.display(),
        work.out.display(),
    );
    std::fs::write(&work.config, text).expect("config written");
}

fn with_aws_env(mut cmd: tokio::process::Command) -> tokio::process::Command {
    let credentials = test_credentials();
    cmd.env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
        .env(
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.expose(),
        );
    cmd
}

fn run_cmd(work: &Workdir) -> tokio::process::Command {
    let mut cmd = with_aws_env(oktaflow(None));
    cmd.arg("run")
        .arg("--config")
        .arg(&work.config)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Complete lines in the output file (a kill may leave a partial one).
fn lines_in(work: &Workdir) -> usize {
    std::fs::read(&work.out)
        .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0)
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn queue() -> (SqsConfig, SqsClient) {
    let config = create_queue("run", 2)
        .await
        .expect("a queue on the test server");
    let client = SqsClient::new(&config).expect("a client");
    (config, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn check_reads_the_queue_and_names_a_missing_one_in_one_line() {
    let (config, _client) = queue().await;
    let work = Workdir::new();
    write_config(&work, &config.queue_url);
    let mut check = with_aws_env(oktaflow(None));
    check.arg("check").arg("--config").arg(&work.config);
    let output = finish(check).await;
    assert_success(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("queue") && stdout.contains("readable"),
        "{stdout}"
    );
    let secret = test_credentials().secret_access_key.expose().to_string();
    assert!(!stdout.contains(&secret), "{stdout}");

    write_config(&work, &format!("{}-missing", config.queue_url));
    let mut check = with_aws_env(oktaflow(None));
    check.arg("check").arg("--config").arg(&work.config);
    let output = finish(check).await;
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("QueueDoesNotExist"))
        .unwrap_or_else(|| panic!("no QueueDoesNotExist row: {stdout}"));
    assert!(line.contains("queue_url"), "{line}");
    assert!(!stdout.contains(&secret), "{stdout}");

    // `run` on the missing queue ends at once with the same one line and exit code 2.
    let mut run = with_aws_env(oktaflow(None));
    run.arg("run").arg("--config").arg(&work.config);
    let output = finish(run).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("QueueDoesNotExist"), "{stderr}");
    assert!(!stderr.contains(&secret), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an SQS server: OKTAFLOW_TEST_SQS_URL (.ci/sqs.sh)"]
async fn run_killed_again_and_again_writes_each_queued_event_once() {
    let (config, client) = queue().await;
    let work = Workdir::new();
    write_config(&work, &config.queue_url);
    let mut sent = 0u64;
    let mut killed_holding = 0;
    // Three rounds: 40 new events (and copies of 5 older ones), kill -9 as soon as some of
    // the round is written, i.e. with messages received and not yet deleted.
    for round in 0..3u64 {
        let before = lines_in(&work);
        for n in sent..sent + 40 {
            send(&client, &envelope(n)).await.unwrap();
        }
        for n in (sent.saturating_sub(5))..sent {
            send(&client, &envelope(n)).await.unwrap();
        }
        sent += 40;
        let mut child = run_cmd(&work).spawn().expect("oktaflow starts");
        wait_until(
            &format!("round {round}: some events written"),
            Duration::from_secs(60),
            async || lines_in(&work) > before,
        )
        .await;
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
        let (visible, in_flight) = depth(&client).await.unwrap();
        if visible + in_flight > 0 {
            killed_holding += 1;
        }
    }
    assert!(
        killed_holding >= 1,
        "no kill happened with messages still in the queue"
    );
    // The last run drains the queue: every event once, every message deleted.
    let mut child = run_cmd(&work).spawn().expect("oktaflow starts");
    wait_until(
        "every event written and every message deleted",
        Duration::from_secs(90),
        async || lines_in(&work) >= sent as usize && depth(&client).await.unwrap() == (0, 0),
    )
    .await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    let written = ids(&work.out);
    assert_unique(&written);
    assert_eq!(written.len(), sent as usize);
}
