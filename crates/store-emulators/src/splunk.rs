//! [`HecEmulator`]: an in-process emulator of a Splunk HTTP Event Collector (HEC) and
//! of a plain NDJSON HTTP collector, for tests of HTTP sinks. It is **not** Splunk.
//!
//! * `POST /services/collector/event` (and `/services/collector`): requires
//!   `Authorization: Splunk <token>` (401 code 2 "Token is required" without it, 403
//!   code 4 "Invalid token" with another). The body is a sequence of JSON envelopes
//!   `{"time", "host", "source", "sourcetype", "index", "event"}` (whitespace between
//!   them allowed, gzip accepted). Each needs a non-empty `event` (400 code 12/13),
//!   `time` if present must be a number of epoch seconds (400 code 6). As Splunk does,
//!   the events before a bad one are indexed and the answer names the bad one:
//!   `{"text":"Invalid data format","code":6,"invalid-event-number":N}`; the rest of
//!   the request is dropped. Success: `{"text":"Success","code":0}`.
//! * Any other `POST` path: a plain collector; each non-empty NDJSON line is stored.
//!   A request is all or nothing: a line that is not JSON, or that holds the refuse
//!   marker, makes it answer 400 `line N: ...` (N from 1) and store none of it.
//! * Faults: the next N requests answer 503 (code 9 "Server is busy") or another
//!   status ([`HecEmulator::fail_requests`]), also after some served ones
//!   ([`HecEmulator::fail_requests_after`]); events whose text contains a marker are
//!   refused as invalid ([`HecEmulator::refuse_events_containing`]); the server stops
//!   listening until told to come back ([`HecEmulator::go_down`]).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One request as received (for tests that check headers and paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// The request path.
    pub path: String,
    /// The headers, names lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Whether the body was gzip-compressed.
    pub gzip: bool,
}

#[derive(Default)]
struct HecState {
    token: String,
    events: Vec<Value>,
    lines: Vec<Value>,
    requests: Vec<ReceivedRequest>,
    /// What the next requests get, in order: `None` served, `Some(status)` that status.
    failing: std::collections::VecDeque<Option<u16>>,
    refuse_marker: Option<String>,
}

struct ServerTask {
    shutdown: oneshot::Sender<()>,
    join: JoinHandle<()>,
}

/// A running HEC / NDJSON collector emulator.
pub struct HecEmulator {
    addr: SocketAddr,
    state: Arc<Mutex<HecState>>,
    server: tokio::sync::Mutex<Option<ServerTask>>,
}

fn lock(state: &Mutex<HecState>) -> MutexGuard<'_, HecState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HecEmulator {
    /// Starts an emulator accepting HEC token `token` on `addr` (port 0: any port).
    pub async fn start(addr: SocketAddr, token: &str) -> std::io::Result<HecEmulator> {
        let state = Arc::new(Mutex::new(HecState {
            token: token.to_owned(),
            ..HecState::default()
        }));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = serve(listener, state.clone());
        Ok(HecEmulator {
            addr,
            state,
            server: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The HEC envelopes indexed so far, in order.
    pub fn events(&self) -> Vec<Value> {
        lock(&self.state).events.clone()
    }

    /// The NDJSON lines received on other paths, in order.
    pub fn lines(&self) -> Vec<Value> {
        lock(&self.state).lines.clone()
    }

    /// Every request received (also refused ones).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.state).requests.clone()
    }

    /// The next `n` requests answer `status` (503: code 9 "Server is busy"), after any
    /// faults still pending.
    pub fn fail_requests(&self, n: usize, status: u16) {
        self.fail_requests_after(0, n, status);
    }

    /// The next `served` requests are served, then `n` answer `status` (after any faults
    /// still pending).
    pub fn fail_requests_after(&self, served: usize, n: usize, status: u16) {
        let mut state = lock(&self.state);
        state.failing.extend(std::iter::repeat_n(None, served));
        state.failing.extend(std::iter::repeat_n(Some(status), n));
    }

    /// HEC events whose JSON text contains `marker` are refused as invalid (code 6); a
    /// plain collector request with such a line is refused whole (400).
    pub fn refuse_events_containing(&self, marker: &str) {
        lock(&self.state).refuse_marker = Some(marker.to_owned());
    }

    /// Stops listening (connections refused) until [`HecEmulator::come_back`].
    pub async fn go_down(&self) {
        if let Some(task) = self.server.lock().await.take() {
            let _ = task.shutdown.send(());
            let _ = task.join.await;
        }
    }

    /// Listens again on the same address.
    pub async fn come_back(&self) -> std::io::Result<()> {
        let mut server = self.server.lock().await;
        if server.is_none() {
            let listener = TcpListener::bind(self.addr).await?;
            *server = Some(serve(listener, self.state.clone()));
        }
        Ok(())
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        self.go_down().await;
    }
}

fn serve(listener: TcpListener, state: Arc<Mutex<HecState>>) -> ServerTask {
    let app = Router::new()
        .route("/services/collector/event", post(hec))
        .route("/services/collector", post(hec))
        .fallback(post(plain))
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(state);
    let (shutdown, signal) = oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = signal.await;
            })
            .await;
    });
    ServerTask { shutdown, join }
}

type Shared = State<Arc<Mutex<HecState>>>;

fn reply(status: StatusCode, text: &str, code: u32) -> Response {
    (status, Json(json!({"text": text, "code": code}))).into_response()
}

/// Records the request, applies a pending fault, and decodes the body.
fn receive(
    state: &mut HecState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Vec<u8>, Box<Response>> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    state.requests.push(ReceivedRequest {
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        gzip,
    });
    if let Some(Some(status)) = state.failing.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return Err(Box::new(reply(status, "Server is busy", 9)));
    }
    if gzip {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .map_err(|_| Box::new(reply(StatusCode::BAD_REQUEST, "Invalid data format", 6)))?;
        Ok(out)
    } else {
        Ok(body.to_vec())
    }
}

async fn hec(State(state): Shared, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = lock(&state);
    let body = match receive(&mut state, &uri, &headers, &body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        None => return reply(StatusCode::UNAUTHORIZED, "Token is required", 2),
        Some(auth) if auth != format!("Splunk {}", state.token) => {
            return reply(StatusCode::FORBIDDEN, "Invalid token", 4)
        }
        Some(_) => {}
    }
    let mut stream = serde_json::Deserializer::from_slice(&body).into_iter::<Value>();
    let mut number = 0;
    loop {
        let envelope = match stream.next() {
            None => break,
            Some(Ok(v)) => v,
            Some(Err(_)) => return invalid(6, "Invalid data format", number),
        };
        let event = envelope.get("event");
        match event {
            None | Some(Value::Null) => return invalid(12, "Event field is required", number),
            Some(Value::String(s)) if s.is_empty() => {
                return invalid(13, "Event field cannot be blank", number)
            }
            _ => {}
        }
        if let Some(time) = envelope.get("time") {
            let numeric =
                time.is_number() || time.as_str().is_some_and(|s| s.parse::<f64>().is_ok());
            if !numeric {
                return invalid(6, "Invalid data format", number);
            }
        }
        if let Some(marker) = &state.refuse_marker {
            if event.is_some_and(|e| e.to_string().contains(marker.as_str())) {
                return invalid(6, "Invalid data format", number);
            }
        }
        state.events.push(envelope);
        number += 1;
    }
    if number == 0 {
        return reply(StatusCode::BAD_REQUEST, "No data", 5);
    }
    reply(StatusCode::OK, "Success", 0)
}

fn invalid(code: u32, text: &str, number: usize) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"text": text, "code": code, "invalid-event-number": number})),
    )
        .into_response()
}

async fn plain(State(state): Shared, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = lock(&state);
    let body = match receive(&mut state, &uri, &headers, &body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let mut parsed = Vec::new();
    let lines = body
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    for (number, line) in (1..).zip(lines) {
        let refused = |reason: &str| {
            (StatusCode::BAD_REQUEST, format!("line {number}: {reason}")).into_response()
        };
        match serde_json::from_slice::<Value>(line) {
            Ok(_)
                if state.refuse_marker.as_ref().is_some_and(|m| {
                    std::str::from_utf8(line).is_ok_and(|text| text.contains(m.as_str()))
                }) =>
            {
                return refused("invalid document")
            }
            Ok(v) => parsed.push(v),
            Err(e) => return refused(&format!("not JSON: {e}")),
        }
    }
    state.lines.extend(parsed);
    StatusCode::NO_CONTENT.into_response()
}
