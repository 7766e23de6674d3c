//! A token echoed by the server is never printed (issue 15, point 2): an Okta endpoint (a
//! misbehaving proxy or gateway) whose 403 `errorSummary` echoes the `Authorization` header
//! and the bare token. The token must not leave the process: not on stderr (text or JSON
//! logs, the one-line error at exit), not in `check`'s table, not in `/ready` or `/metrics`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The org's token in these tests (shaped like an Okta API token: 42 characters).
const ECHOED: &str = "00EchoedTokenAbCdEfGhIjKlMnOpQrStUvWxYz123";

/// How long a test waits for a condition on the endpoint before failing.
const WAIT: Duration = Duration::from_secs(60);

/// An Okta endpoint that answers every request `403` with an Okta error body whose
/// `errorSummary` holds the request's `Authorization` value and the credential alone.
async fn echo_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let value = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("authorization")
                            .then(|| value.trim().to_string())
                    })
                    .unwrap_or_default();
                let bare = value.split_once(' ').map_or(value.as_str(), |(_, t)| t);
                let body = serde_json::json!({
                    "errorCode": "E0000006",
                    "errorSummary": format!("Gateway refused Authorization: {value} (token {bare})"),
                })
                .to_string();
                let response = format!(
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), task)
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

/// Sends SIGTERM to the child (a clean stop).
fn terminate(child: &tokio::process::Child) {
    let pid = child.id().expect("child is running");
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a child's pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
}

/// A `[[sources]]` entry.
fn source_toml(name: &str, url: &str, token: &str) -> String {
    format!(
        "[[sources]]\nname = \"{name}\"\nokta_url = \"{url}\"\napi_token = \"{token}\"\nstart_from = \"2d\"\npage_size = 100\nrequest_timeout = \"2s\"\ninterval = \"10s\"\nrate_limit_share = 1.0\n"
    )
}

/// The echo happened (the server's summary is shown) and the token is not there.
fn assert_scrubbed(what: &str, text: &str) {
    assert!(!text.contains(ECHOED), "{what} shows the token: {text}");
    assert!(
        text.contains("SSWS [REDACTED] (token [REDACTED])"),
        "{what} shows the server's summary, scrubbed: {text}"
    );
}

/// `oktaflow check`: the failed row quotes the 403's summary without the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_never_prints_an_echoed_token() {
    let (url, server) = echo_server().await;
    let work = Workdir::new();
    let config = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n{}",
        work.state.display(),
        work.out.display(),
        source_toml("echo", &url, ECHOED),
    );
    std::fs::write(&work.config, config).expect("config written");
    let mut cmd = oktaflow(None);
    cmd.arg("check").arg("--config").arg(&work.config);
    let output = finish(cmd).await;
    assert_eq!(output.status.code(), Some(1), "a check failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_scrubbed("check's table", &stdout);
    assert!(!stderr.contains(ECHOED), "{stderr}");
    server.abort();
}

/// A running process with the echoing org halted and a good org running: `/ready`,
/// `/metrics`, the text log lines and the exit line never hold the token; then a `--once`
/// run with JSON log lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_and_the_logs_never_show_an_echoed_token() {
    let (url, server) = echo_server().await;
    let good = start_sim(quiet(50)).await;
    let work = Workdir::new();
    let addr = free_addr();
    let config = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n{}\n{}",
        work.state.display(),
        work.out.display(),
        source_toml("good", &good.base_url(), TOKEN),
        source_toml("echo", &url, ECHOED),
    );
    std::fs::write(&work.config, config).expect("config written");
    let child = oktaflow(None)
        .env("RUST_LOG", "info")
        .arg("run")
        .arg("--config")
        .arg(&work.config)
        .arg("--metrics-listen")
        .arg(addr.to_string())
        .spawn()
        .expect("oktaflow starts");

    let deadline = tokio::time::Instant::now() + WAIT;
    let ready = loop {
        if let Some((_, body)) = get(addr, "/ready") {
            let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            let halted = json["sources"]
                .as_array()
                .is_some_and(|l| l.iter().any(|s| s["state"] == "halted"));
            if halted {
                break body;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "echo never halted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_scrubbed("/ready", &ready);
    let (_, metrics) = get(addr, "/metrics").expect("metrics served");
    assert!(!metrics.contains(ECHOED), "{metrics}");
    assert!(
        metrics.contains("oktaflow_source_halted{source=\"echo\"} 1"),
        "{metrics}"
    );

    terminate(&child);
    let output = wait(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert_scrubbed("text log lines and the exit line", &stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("oktaflow: error: ") && l.contains("[REDACTED]")),
        "{stderr}"
    );

    // JSON log lines, `--once`, the echoing org alone.
    let config = format!(
        "state_dir = \"{}\"\nsinks = [\"file:{}\"]\n\n{}",
        work.state.display(),
        work.out.display(),
        source_toml("echo", &url, ECHOED),
    );
    std::fs::write(&work.config, config).expect("config written");
    let mut cmd = oktaflow(None);
    cmd.env("RUST_LOG", "info")
        .args(["--log-format", "json", "run", "--once", "--config"])
        .arg(&work.config);
    let output = finish(cmd).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    for line in stderr.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("a JSON line ({e}): {line}"));
    }
    assert_scrubbed("JSON log lines", &stderr);
    good.shutdown().await;
    server.abort();
}
