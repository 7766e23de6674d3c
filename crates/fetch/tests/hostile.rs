//! The fetch crate against small hostile HTTP servers: an endless body, a cursor that never
//! advances, a 429 whose reset time lies in the past, an error body that echoes the
//! credentials (issue 15, points 3, 6, 9 and 2).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use oktaflow_fetch::{
    Auth, ClientConfig, FetchErrorKind, LogSource, OrgUrl, RetryPolicy, Secret, SourceOptions,
    StartPoint, MIN_MAX_RESPONSE_BODY,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server answers to every request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// A chunked 200 whose body never ends (64 KiB chunks, about 64 MB/s at most).
    EndlessBody,
    /// Three events, and a `next` link that is always the same `after` cursor.
    StuckCursor,
    /// 429 with `X-Rate-Limit-Reset` 30 s before the server's `Date`.
    RateLimitedResetInPast,
    /// This status (400 or 403) with an Okta error body whose `errorSummary` echoes the
    /// request's `Authorization` header, and the bare credential after it (a misbehaving
    /// proxy or gateway).
    EchoAuthorization(u16),
}

/// A one-behaviour HTTP/1.1 server on loopback counting requests and body bytes sent.
struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    body_bytes: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(behaviour: Behaviour) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let body_bytes = Arc::new(AtomicU64::new(0));
        let (r, b) = (requests.clone(), body_bytes.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, behaviour, addr, r.clone(), b.clone()));
            }
        });
        Server {
            addr,
            requests,
            body_bytes,
            task,
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request head; `None` when the peer closed the connection.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// The value of the request's `Authorization` header.
fn authorization(head: &str) -> &str {
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("authorization")
                .then_some(value.trim())
        })
        .unwrap_or("")
}

async fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    body_bytes: Arc<AtomicU64>,
) {
    while let Some(request) = read_head(&mut stream).await {
        requests.fetch_add(1, Ordering::SeqCst);
        let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
        match behaviour {
            Behaviour::EndlessBody => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Type: application/json\r\n\
                     Transfer-Encoding: chunked\r\n\
                     Link: <http://{addr}/api/v1/logs?after=x&limit=100>; rel=\"next\"\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut chunk = b"[".to_vec();
                chunk.resize(64 * 1024, b' ');
                loop {
                    let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
                    frame.extend_from_slice(&chunk);
                    frame.extend_from_slice(b"\r\n");
                    if stream.write_all(&frame).await.is_err() {
                        return;
                    }
                    body_bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                    chunk.fill(b' ');
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            Behaviour::StuckCursor => {
                let body = r#"[{"uuid":"e1","published":"2024-01-01T00:00:01.000Z"},{"uuid":"e2","published":"2024-01-01T00:00:02.000Z"},{"uuid":"e3","published":"2024-01-01T00:00:03.000Z"}]"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nDate: {date}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\
                     Link: <http://{addr}/api/v1/logs?after=STUCK&limit=3>; rel=\"next\"\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(body.as_bytes()).await.is_err()
                {
                    return;
                }
            }
            Behaviour::RateLimitedResetInPast => {
                let body = r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#;
                let reset = Utc::now().timestamp() - 30;
                let head = format!(
                    "HTTP/1.1 429 Too Many Requests\r\nDate: {date}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\
                     X-Rate-Limit-Limit: 600\r\nX-Rate-Limit-Remaining: 0\r\n\
                     X-Rate-Limit-Reset: {reset}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(body.as_bytes()).await.is_err()
                {
                    return;
                }
            }
            Behaviour::EchoAuthorization(status) => {
                let value = authorization(&request);
                let credential = value.split_once(' ').map_or(value, |(_, c)| c);
                let body = serde_json::json!({
                    "errorCode": "E0000006",
                    "errorSummary": format!("Invalid Authorization header: {value}; credential {credential} refused"),
                })
                .to_string();
                let head = format!(
                    "HTTP/1.1 {status} Refused\r\nDate: {date}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                if stream.write_all(head.as_bytes()).await.is_err()
                    || stream.write_all(body.as_bytes()).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

fn config(server: &Server, page_size: u32) -> ClientConfig {
    config_with(server, page_size, Secret::new("hostile-test-token"))
}

fn config_with(server: &Server, page_size: u32, token: Secret) -> ClientConfig {
    let mut config = ClientConfig::new(
        OrgUrl::from_base_url(&server.base_url()).unwrap(),
        Auth::ApiToken(token),
    );
    config.page_size = page_size;
    config.rate_limit_share = 1.0;
    config.request_timeout = Duration::from_secs(60);
    config.retry = RetryPolicy {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(100),
    };
    config
}

fn options() -> SourceOptions {
    SourceOptions {
        poll_interval: Duration::from_secs(3600),
        ..SourceOptions::default()
    }
}

fn uuids(events: &[oktaflow_fetch::RawEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(e.as_bytes()).unwrap();
            v["uuid"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Point 3: an endless chunked body is cut at the cap while it streams, retried like a
/// truncated body, then halts with one line naming the cap and the setting.
#[tokio::test]
async fn endless_body_is_cut_at_the_cap_and_halts() {
    let server = Server::start(Behaviour::EndlessBody).await;
    let mut config = config(&server, 100);
    config.max_response_body = MIN_MAX_RESPONSE_BODY;
    let mut source =
        LogSource::new(config, StartPoint::Since(Utc::now()), options()).expect("valid config");
    // A guard against a hang, not a speed assertion: without the cap the fetch reads until the
    // 60 s request timeout, then retries forever.
    let error = tokio::time::timeout(Duration::from_secs(30), source.next_page())
        .await
        .expect("the fetch stops at the cap instead of reading forever")
        .expect_err("an endless body is an error");
    assert!(error.is_halt(), "{error}");
    let text = error.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("1 MiB"), "names the cap: {text}");
    assert!(
        text.contains("max_response_body"),
        "names the setting: {text}"
    );
    let attempts = server.requests();
    assert!(attempts >= 2, "retried before halting: {attempts}");
    let stats = source.stats().snapshot();
    assert!(stats.retries >= 1, "{stats:?}");
    // Bounded memory: the client stopped reading right after the cap on every attempt (the
    // server could not push much more than the cap plus socket buffers).
    let sent = server.body_bytes.load(Ordering::SeqCst);
    eprintln!("halt: {text}; {attempts} attempts, {sent} body bytes streamed");
    assert!(
        sent <= attempts * 8 * MIN_MAX_RESPONSE_BODY,
        "{sent} bytes streamed in {attempts} attempts"
    );
}

/// Point 6: a server that answers the same events with the same `after` cursor again and
/// again: no event is delivered twice (also after a restart from the checkpointed state), and
/// the source halts with one line once the cursor is clearly stuck.
#[tokio::test]
async fn repeated_cursor_never_yields_an_event_twice() {
    let server = Server::start(Behaviour::StuckCursor).await;
    let since = Utc::now() - TimeDelta::hours(1);
    let mut source = LogSource::new(config(&server, 3), StartPoint::Since(since), options())
        .expect("valid config");
    let mut delivered = Vec::new();
    let mut last_state = None;
    let mut halt = None;
    for _ in 0..10 {
        match source.next_page().await {
            Ok(page) => {
                delivered.extend(uuids(&page.events));
                last_state = Some(page.state_after);
            }
            Err(error) => {
                halt = Some(error);
                break;
            }
        }
    }
    assert_eq!(delivered, ["e1", "e2", "e3"], "each event exactly once");
    let halt = halt.expect("a cursor that never advances halts the source");
    assert!(halt.is_halt());
    assert_eq!(halt.kind(), FetchErrorKind::Protocol, "{halt}");
    let text = halt.to_string();
    eprintln!("halt: {text}");
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("next link"), "{text}");
    assert!(source.stats().snapshot().repeat_duplicates >= 3);

    // A restart from the last checkpointed state does not deliver them again either.
    let state = last_state.expect("pages were delivered");
    let json = serde_json::to_string(&state).unwrap();
    let state = serde_json::from_str(&json).unwrap();
    let mut resumed = LogSource::new(config(&server, 3), StartPoint::Resume(state), options())
        .expect("valid config");
    let mut again = HashSet::new();
    for _ in 0..5 {
        match resumed.next_page().await {
            Ok(page) => again.extend(uuids(&page.events)),
            Err(_) => break,
        }
    }
    assert!(again.is_empty(), "redelivered after restart: {again:?}");
}

/// Point 9: a 429 whose `X-Rate-Limit-Reset` lies in the past (clock skew) is retried with a
/// growing wait (1 s, 2 s, 4 s, ...), not every second.
#[tokio::test]
async fn rate_limit_reset_in_the_past_backs_off_growing() {
    let server = Server::start(Behaviour::RateLimitedResetInPast).await;
    let mut source = LogSource::new(
        config(&server, 100),
        StartPoint::Since(Utc::now()),
        options(),
    )
    .expect("valid config");
    // Five seconds of a source that only ever gets 429s. Each wait is at least the growing
    // floor (1 s, then 2 s, then 4 s), so at most 3 requests fit: at 0, ≥ 1 s and ≥ 3 s.
    // Retrying every second or faster (the bug) sends 5 or more.
    let result = tokio::time::timeout(Duration::from_secs(5), source.next_page()).await;
    assert!(result.is_err(), "429s are retried, never returned");
    let requests = server.requests();
    assert!(requests >= 2, "the 429 was retried: {requests}");
    assert!(
        requests <= 3,
        "{requests} requests in 5 s: the wait did not grow"
    );
}

/// Point 2: a 403 or 400 whose `errorSummary` echoes the `Authorization` header. The halt's
/// message keeps Okta's summary but never the credential: neither after its scheme (found by
/// pattern, even for a token this process never registered — an OAuth access token) nor
/// bare (a registered secret, found wherever it appears).
#[tokio::test]
async fn an_echoed_credential_never_reaches_the_error() {
    for status in [403, 400] {
        let server = Server::start(Behaviour::EchoAuthorization(status)).await;
        // Not registered: only the pattern after `SSWS` can find it; the bare copy stays
        // (the next case covers it).
        let unlisted = "00echoUnlistedToken1234567890abcdefghijklm";
        let config = config_with(&server, 10, Secret::unlisted(unlisted));
        let mut source =
            LogSource::new(config, StartPoint::Since(Utc::now()), options()).expect("valid");
        let error = source.next_page().await.expect_err("a 4xx halts");
        let text = error.to_string();
        assert!(
            text.contains("Invalid Authorization header: SSWS [REDACTED]"),
            "{text}"
        );
        assert_eq!(
            text.matches(unlisted).count(),
            1,
            "only the bare copy: {text}"
        );

        // Registered (as every configured secret is): no copy at all.
        let registered = "00echoRegisteredToken1234567890abcdefghijk";
        let config = config_with(&server, 10, Secret::new(registered));
        let mut source =
            LogSource::new(config, StartPoint::Since(Utc::now()), options()).expect("valid");
        let error = source.next_page().await.expect_err("a 4xx halts");
        let text = error.to_string();
        assert!(error.is_halt(), "{text}");
        assert!(!text.contains(registered), "{text}");
        assert!(
            text.contains("SSWS [REDACTED]; credential [REDACTED] refused"),
            "{text}"
        );
        assert!(
            text.contains(&format!("HTTP {status}")),
            "Okta's summary is kept: {text}"
        );
    }
}
