//! [`EsEmulator`]: an in-process emulator of the Elasticsearch `_bulk` API, for tests
//! and benchmarks of bulk clients. It is **not** Elasticsearch: it stores documents in
//! memory and implements the documented semantics a bulk client depends on.
//!
//! * `POST /_bulk` and `POST /{index}/_bulk`: NDJSON action/source pairs (`create`,
//!   `index`; `delete` with no source), optionally gzip (`Content-Encoding: gzip`); a
//!   body not ending with a newline is a 400 `illegal_argument_exception`. The answer
//!   is `{"took","errors","items":[{"create":{"_index","_id","status",...}}]}` with
//!   one item per action, in order: 201 `created`; 409
//!   `version_conflict_engine_exception` for `create` of an existing `_id`; 400
//!   `document_parsing_exception` for a source that is not a JSON object or whose
//!   field has the wrong type for a mapping set with [`EsEmulator::map_field`];
//!   400 `illegal_argument_exception` for `index` into a data stream (`logs-*-*`),
//!   which only accepts `create`. `errors` is true when any item failed.
//! * `PUT /_index_template/{name}` (stored, see [`EsEmulator::template`]) and
//!   `GET /_index_template/{name}`; `PUT /_data_stream/{name}` (400
//!   `resource_already_exists_exception` the second time); `GET /` (cluster info).
//! * Auth (optional, [`EsAuth`]): `Authorization: Basic` or `ApiKey`; otherwise 401
//!   `security_exception` with `WWW-Authenticate`.
//! * Faults: the next N bulk requests answer 429 or 503 as a whole
//!   ([`EsEmulator::fail_requests`]); the next N items answer 429 (or any status)
//!   without being stored ([`EsEmulator::fail_items`]); the server stops listening
//!   (connection refused) until told to come back ([`EsEmulator::go_down`],
//!   [`EsEmulator::come_back`]).
//!
//! Documents are kept as their JSON bytes, in arrival order per index, and can be
//! inspected with [`EsEmulator::document`], [`EsEmulator::ids`] and
//! [`EsEmulator::count`].

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Largest accepted bulk body (Elasticsearch's default `http.max_content_length`).
const MAX_CONTENT_LENGTH: usize = 100 * 1024 * 1024;

/// Credentials the emulator requires, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EsAuth {
    /// No authentication (a cluster with security disabled).
    #[default]
    None,
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// `Authorization: ApiKey <key>`.
    ApiKey(String),
}

/// A field type the emulator enforces (a mapping), set with [`EsEmulator::map_field`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// An integer, or a string holding one.
    Long,
    /// A string holding an IPv4 or IPv6 address.
    Ip,
    /// `true`/`false`, or the strings `"true"`/`"false"`.
    Boolean,
    /// A string (not an object or array of objects).
    Keyword,
}

impl FieldType {
    fn name(self) -> &'static str {
        match self {
            FieldType::Long => "long",
            FieldType::Ip => "ip",
            FieldType::Boolean => "boolean",
            FieldType::Keyword => "keyword",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) => true,
            (_, Value::Array(items)) => items.iter().all(|v| self.accepts(v)),
            (FieldType::Long, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (FieldType::Long, Value::String(s)) => s.trim().parse::<i64>().is_ok(),
            (FieldType::Ip, Value::String(s)) => s.parse::<std::net::IpAddr>().is_ok(),
            (FieldType::Boolean, Value::Bool(_)) => true,
            (FieldType::Boolean, Value::String(s)) => s == "true" || s == "false",
            (FieldType::Keyword, Value::String(_) | Value::Number(_) | Value::Bool(_)) => true,
            _ => false,
        }
    }
}

#[derive(Default)]
struct IndexData {
    docs: HashMap<String, Bytes>,
    order: Vec<String>,
}

#[derive(Default)]
struct EsState {
    auth: EsAuth,
    indices: HashMap<String, IndexData>,
    templates: HashMap<String, Value>,
    data_streams: Vec<String>,
    mappings: Vec<(String, FieldType)>,
    failing_requests: Vec<u16>,
    failing_items: Vec<u16>,
    bulk_requests: u64,
    next_auto_id: u64,
}

struct ServerTask {
    shutdown: oneshot::Sender<()>,
    join: JoinHandle<()>,
}

/// A running emulator. Dropping it without [`EsEmulator::shutdown`] leaves the server
/// task running until the runtime ends.
pub struct EsEmulator {
    addr: SocketAddr,
    state: Arc<Mutex<EsState>>,
    server: tokio::sync::Mutex<Option<ServerTask>>,
}

impl EsEmulator {
    /// Starts an emulator without authentication on `addr` (port 0: any free port).
    pub async fn start(addr: SocketAddr) -> std::io::Result<EsEmulator> {
        EsEmulator::start_with_auth(addr, EsAuth::None).await
    }

    /// Starts an emulator requiring `auth` on `addr`.
    pub async fn start_with_auth(addr: SocketAddr, auth: EsAuth) -> std::io::Result<EsEmulator> {
        let state = Arc::new(Mutex::new(EsState {
            auth,
            ..EsState::default()
        }));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = serve(listener, state.clone());
        Ok(EsEmulator {
            addr,
            state,
            server: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    fn state(&self) -> MutexGuard<'_, EsState> {
        lock(&self.state)
    }

    /// The stored source of document `id` in `index`.
    pub fn document(&self, index: &str, id: &str) -> Option<Value> {
        let state = self.state();
        let bytes = state.indices.get(index)?.docs.get(id)?;
        serde_json::from_slice(bytes).ok()
    }

    /// The ids stored in `index`, in the order they were created.
    pub fn ids(&self, index: &str) -> Vec<String> {
        self.state()
            .indices
            .get(index)
            .map(|i| i.order.clone())
            .unwrap_or_default()
    }

    /// How many documents `index` holds.
    pub fn count(&self, index: &str) -> usize {
        self.state().indices.get(index).map_or(0, |i| i.docs.len())
    }

    /// The body of the index template `name`, if one was installed.
    pub fn template(&self, name: &str) -> Option<Value> {
        self.state().templates.get(name).cloned()
    }

    /// The data streams created with `PUT /_data_stream/{name}`.
    pub fn data_streams(&self) -> Vec<String> {
        self.state().data_streams.clone()
    }

    /// How many bulk requests arrived (including those failed on purpose).
    pub fn bulk_requests(&self) -> u64 {
        self.state().bulk_requests
    }

    /// The next `n` bulk requests answer `status` (e.g. 429 or 503) as a whole and
    /// store nothing.
    pub fn fail_requests(&self, n: usize, status: u16) {
        self.state()
            .failing_requests
            .extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` bulk items (documents) answer `status` (e.g. 429) and are not
    /// stored; the other items of the same request are processed normally.
    pub fn fail_items(&self, n: usize, status: u16) {
        self.state()
            .failing_items
            .extend(std::iter::repeat_n(status, n));
    }

    /// Maps the field at dotted `path` (e.g. `source.ip`) as `kind`: a document whose
    /// value there has another type is refused with 400 `document_parsing_exception`.
    pub fn map_field(&self, path: &str, kind: FieldType) {
        self.state().mappings.push((path.to_owned(), kind));
    }

    /// Stops listening: new connections are refused until [`EsEmulator::come_back`].
    /// Stored documents are kept.
    pub async fn go_down(&self) {
        let task = self.server.lock().await.take();
        if let Some(task) = task {
            let _ = task.shutdown.send(());
            let _ = task.join.await;
        }
    }

    /// Listens again on the same address after [`EsEmulator::go_down`].
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

fn lock(state: &Mutex<EsState>) -> MutexGuard<'_, EsState> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn serve(listener: TcpListener, state: Arc<Mutex<EsState>>) -> ServerTask {
    let app = Router::new()
        .route("/", get(info))
        .route("/_bulk", post(bulk_default))
        .route("/{index}/_bulk", post(bulk_index))
        .route(
            "/_index_template/{name}",
            put(put_template).get(get_template),
        )
        .route("/_data_stream/{name}", put(put_data_stream))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_CONTENT_LENGTH))
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

type Shared = State<Arc<Mutex<EsState>>>;

fn error_response(status: StatusCode, kind: &str, reason: &str) -> Response {
    (
        status,
        Json(json!({
            "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
            "status": status.as_u16()
        })),
    )
        .into_response()
}

/// The 401 answer when `headers` lack the credentials the emulator requires.
fn auth_failure(state: &EsState, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let ok = match &state.auth {
        EsAuth::None => true,
        EsAuth::Basic { user, password } => {
            use base64::Engine;
            let expected =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            given == Some(format!("Basic {expected}").as_str())
        }
        EsAuth::ApiKey(key) => given == Some(format!("ApiKey {key}").as_str()),
    };
    if ok {
        return None;
    }
    let reason = if given.is_some() {
        "unable to authenticate user for REST request [/_bulk]"
    } else {
        "missing authentication credentials for REST request [/_bulk]"
    };
    let mut response = error_response(StatusCode::UNAUTHORIZED, "security_exception", reason);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"security\", charset=\"UTF-8\", ApiKey"),
    );
    Some(response)
}

async fn info(State(state): Shared, headers: HeaderMap) -> Response {
    if let Some(response) = auth_failure(&lock(&state), &headers) {
        return response;
    }
    Json(json!({
        "name": "oktaflow-es-emulator",
        "cluster_name": "emulator",
        "version": {"number": "8.15.0", "distribution": "oktaflow-emulator"},
        "tagline": "You Know, for Search"
    }))
    .into_response()
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "resource_not_found_exception",
        "no handler found for this path in the emulator",
    )
}

async fn put_template(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = lock(&state);
    if let Some(response) = auth_failure(&state, &headers) {
        return response;
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(template)) if template.contains_key("index_patterns") => {
            state.templates.insert(name, Value::Object(template));
            Json(json!({"acknowledged": true})).into_response()
        }
        _ => error_response(
            StatusCode::BAD_REQUEST,
            "x_content_parse_exception",
            "[index_template] requires a JSON object with index_patterns",
        ),
    }
}

async fn get_template(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = lock(&state);
    if let Some(response) = auth_failure(&state, &headers) {
        return response;
    }
    match state.templates.get(&name) {
        Some(t) => {
            Json(json!({"index_templates": [{"name": name, "index_template": t}]})).into_response()
        }
        None => error_response(
            StatusCode::NOT_FOUND,
            "resource_not_found_exception",
            &format!("index template matching [{name}] not found"),
        ),
    }
}

async fn put_data_stream(
    State(state): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = lock(&state);
    if let Some(response) = auth_failure(&state, &headers) {
        return response;
    }
    if state.data_streams.contains(&name) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "resource_already_exists_exception",
            &format!("data_stream [{name}] already exists"),
        );
    }
    state.data_streams.push(name);
    Json(json!({"acknowledged": true})).into_response()
}

async fn bulk_default(state: Shared, headers: HeaderMap, body: Bytes) -> Response {
    bulk(state, None, headers, body)
}

async fn bulk_index(
    state: Shared,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(state, Some(index), headers, body)
}

/// Whether `index` is a data stream: created explicitly, or named like the
/// `logs-*-*` data streams of the built-in template.
fn is_data_stream(state: &EsState, index: &str) -> bool {
    state.data_streams.iter().any(|d| d == index)
        || (index.starts_with("logs-") && index.matches('-').count() >= 2)
}

/// One action of a bulk body, parsed and checked before the state is locked.
struct Action {
    op: Op,
    index: String,
    id: Option<String>,
    /// The source (a zero-copy slice of the request body); `None` for `delete`.
    source: Option<Bytes>,
    /// The outcome of checking the source against the mappings.
    check: Result<(), ItemError>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Index,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Index => "index",
            Op::Delete => "delete",
        }
    }
}

/// The metadata of an action line (`{"create":{"_index":..,"_id":..}}`).
#[derive(serde::Deserialize)]
struct ActionMeta<'a> {
    #[serde(rename = "_index", borrow, default)]
    index: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "_id", borrow, default)]
    id: Option<std::borrow::Cow<'a, str>>,
}

fn bulk(
    State(state): Shared,
    path_index: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    // Short critical sections: a real cluster handles concurrent bulk requests in parallel,
    // so decoding, parsing and checking happen outside the lock; only storing is serialized.
    let mappings = {
        let mut state = lock(&state);
        if let Some(response) = auth_failure(&state, &headers) {
            return response;
        }
        state.bulk_requests += 1;
        if !state.failing_requests.is_empty() {
            let status = state.failing_requests.remove(0);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return if status == StatusCode::TOO_MANY_REQUESTS {
                error_response(
                    status,
                    "es_rejected_execution_exception",
                    "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, max_coordinating_and_primary_bytes=0]",
                )
            } else {
                error_response(
                    status,
                    "unavailable_shards_exception",
                    "primary shard is not active",
                )
            };
        }
        state.mappings.clone()
    };
    let body = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        Some(enc) if enc.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            if let Err(e) = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out) {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "illegal_argument_exception",
                    &format!("cannot decode gzip body: {e}"),
                );
            }
            Bytes::from(out)
        }
        Some(enc) if !enc.eq_ignore_ascii_case("identity") => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("unsupported Content-Encoding {enc}"),
            );
        }
        _ => body,
    };
    let actions = match parse_actions(&body, path_index.as_deref(), &mappings) {
        Ok(actions) => actions,
        Err(response) => return *response,
    };
    let outcomes: Vec<Outcome> = {
        let mut state = lock(&state);
        actions
            .into_iter()
            .map(|action| {
                let id = match &action.id {
                    Some(id) => id.clone(),
                    None => {
                        state.next_auto_id += 1;
                        format!("auto-{}", state.next_auto_id)
                    }
                };
                let (status, error) = apply(&mut state, &action, &id);
                Outcome {
                    op: action.op,
                    index: action.index,
                    id,
                    status,
                    error,
                }
            })
            .collect()
    };
    bulk_response(started, &outcomes)
}

/// What became of one action.
struct Outcome {
    op: Op,
    index: String,
    id: String,
    status: u16,
    error: Option<ItemError>,
}

/// Parses the NDJSON action/source pairs of a bulk body (and checks each source); a body
/// that cannot be read as a whole is the error response.
fn parse_actions(
    body: &Bytes,
    path_index: Option<&str>,
    mappings: &[(String, FieldType)],
) -> Result<Vec<Action>, Box<Response>> {
    let fail =
        |status, kind: &str, reason: &str| Err(Box::new(error_response(status, kind, reason)));
    if body.is_empty() {
        return fail(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        );
    }
    if !body.ends_with(b"\n") {
        return fail(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]",
        );
    }
    let mut actions = Vec::new();
    let mut start = 0;
    let mut line_no = 0;
    let next_line = |start: &mut usize| -> Option<(usize, usize)> {
        if *start >= body.len() {
            return None;
        }
        let end = *start + memchr_newline(&body[*start..]);
        let line = (*start, end);
        *start = end + 1;
        Some(line)
    };
    while let Some((a, b)) = next_line(&mut start) {
        line_no += 1;
        let action_line = &body[a..b];
        if action_line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed: Result<
            std::collections::HashMap<std::borrow::Cow<'_, str>, ActionMeta<'_>>,
            _,
        > = serde_json::from_slice(action_line);
        let Ok(parsed) = parsed else {
            let reason = match serde_json::from_slice::<Value>(action_line) {
                Ok(Value::Object(_)) => format!("Malformed action/metadata line [{line_no}]"),
                _ => format!("[{line_no}:1] malformed action/metadata line"),
            };
            let kind = if reason.starts_with("Malformed") {
                "illegal_argument_exception"
            } else {
                "x_content_parse_exception"
            };
            return fail(StatusCode::BAD_REQUEST, kind, &reason);
        };
        let mut entries = parsed.into_iter();
        let (Some((op_name, meta)), None) = (entries.next(), entries.next()) else {
            return fail(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                &format!("Malformed action/metadata line [{line_no}]"),
            );
        };
        let op = match op_name.as_ref() {
            "create" => Op::Create,
            "index" => Op::Index,
            "delete" => Op::Delete,
            other => {
                return fail(StatusCode::BAD_REQUEST, "illegal_argument_exception", &format!("Malformed action/metadata line [{line_no}], expected one of [create, delete, index, update] but found [{other}]"));
            }
        };
        let Some(index) = meta
            .index
            .map(std::borrow::Cow::into_owned)
            .or_else(|| path_index.map(str::to_owned))
        else {
            return fail(
                StatusCode::BAD_REQUEST,
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;",
            );
        };
        let id = meta.id.map(std::borrow::Cow::into_owned);
        let source = if op == Op::Delete {
            None
        } else {
            match next_line(&mut start) {
                Some((a, b)) => {
                    line_no += 1;
                    Some(body.slice(a..b))
                }
                None => {
                    return fail(
                        StatusCode::BAD_REQUEST,
                        "illegal_argument_exception",
                        "The bulk request must be terminated by a newline [\\n]",
                    )
                }
            }
        };
        let check = match &source {
            Some(source) => check_source(mappings, id.as_deref().unwrap_or(""), source),
            None => Ok(()),
        };
        actions.push(Action {
            op,
            index,
            id,
            source,
            check,
        });
    }
    Ok(actions)
}

fn memchr_newline(text: &[u8]) -> usize {
    memchr::memchr(b'\n', text).unwrap_or(text.len())
}

/// `{"took","errors","items":[...]}`, written directly (one item per action, in order).
fn bulk_response(started: Instant, outcomes: &[Outcome]) -> Response {
    let errors = outcomes.iter().any(|o| o.error.is_some());
    let mut out = Vec::with_capacity(64 + outcomes.len() * 160);
    let json_str = |out: &mut Vec<u8>, text: &str| {
        // Serializing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    };
    out.extend_from_slice(
        format!(
            "{{\"took\":{},\"errors\":{errors},\"items\":[",
            started.elapsed().as_millis()
        )
        .as_bytes(),
    );
    for (i, outcome) in outcomes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!("{{\"{}\":{{\"_index\":", outcome.op.name()).as_bytes());
        json_str(&mut out, &outcome.index);
        out.extend_from_slice(b",\"_id\":");
        json_str(&mut out, &outcome.id);
        out.extend_from_slice(format!(",\"status\":{}", outcome.status).as_bytes());
        match &outcome.error {
            Some((kind, reason, caused_by)) => {
                out.extend_from_slice(b",\"error\":{\"type\":");
                json_str(&mut out, kind);
                out.extend_from_slice(b",\"reason\":");
                json_str(&mut out, reason);
                out.extend_from_slice(b",\"index\":");
                json_str(&mut out, &outcome.index);
                if let Some((ckind, creason)) = caused_by {
                    out.extend_from_slice(b",\"caused_by\":{\"type\":");
                    json_str(&mut out, ckind);
                    out.extend_from_slice(b",\"reason\":");
                    json_str(&mut out, creason);
                    out.push(b'}');
                }
                out.push(b'}');
            }
            None => {
                let result = if outcome.op == Op::Delete {
                    "deleted"
                } else if outcome.status == 200 {
                    "updated"
                } else {
                    "created"
                };
                out.extend_from_slice(
                    format!(
                        ",\"_version\":1,\"result\":\"{result}\",\"_shards\":{{\"total\":1,\"successful\":1,\"failed\":0}}"
                    )
                    .as_bytes(),
                );
            }
        }
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"]}");
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

type ItemError = (&'static str, String, Option<(&'static str, String)>);

/// Applies one bulk action; returns the item status and, on failure, the error.
fn apply(state: &mut EsState, action: &Action, id: &str) -> (u16, Option<ItemError>) {
    let (op, index) = (action.op, action.index.as_str());
    if !state.failing_items.is_empty() {
        let status = state.failing_items.remove(0);
        let error = if status == 429 {
            (
                "es_rejected_execution_exception",
                "rejected execution of primary operation [shard_id=[0], queue capacity=10000]"
                    .to_owned(),
                None,
            )
        } else {
            (
                "unavailable_shards_exception",
                format!("[{index}][0] primary shard is not active"),
                None,
            )
        };
        return (status, Some(error));
    }
    if op == Op::Delete {
        let data = index_data(state, index);
        return if data.docs.remove(id).is_some() {
            data.order.retain(|x| x != id);
            (200, None)
        } else {
            (
                404,
                Some(("not_found", format!("[{id}]: document missing"), None)),
            )
        };
    }
    if op == Op::Index && is_data_stream(state, index) {
        return (400, Some(("illegal_argument_exception", format!("only write ops with an op_type of create are allowed in data streams [{index}]"), None)));
    }
    let Some(source) = action.source.clone() else {
        return (
            400,
            Some(("illegal_argument_exception", "missing source".into(), None)),
        );
    };
    if let Err(error) = &action.check {
        return (400, Some(error.clone()));
    }
    let data = index_data(state, index);
    if data.docs.contains_key(id) {
        if op == Op::Create {
            return (
                409,
                Some((
                    "version_conflict_engine_exception",
                    format!(
                        "[{id}]: version conflict, document already exists (current version [1])"
                    ),
                    None,
                )),
            );
        }
        data.docs.insert(id.to_owned(), source);
        return (200, None);
    }
    data.docs.insert(id.to_owned(), source);
    data.order.push(id.to_owned());
    (201, None)
}

/// The documents of `index`, created on first use.
fn index_data<'s>(state: &'s mut EsState, index: &str) -> &'s mut IndexData {
    if !state.indices.contains_key(index) {
        state.indices.insert(index.to_owned(), IndexData::default());
    }
    state
        .indices
        .get_mut(index)
        .expect("the index was just inserted")
}

fn check_source(
    mappings: &[(String, FieldType)],
    id: &str,
    source: &[u8],
) -> Result<(), ItemError> {
    let parse_error = |e: &dyn std::fmt::Display| {
        (
            "document_parsing_exception",
            format!("[1:1] failed to parse: {e}"),
            None,
        )
    };
    if mappings.is_empty() {
        // Fast path: only check that the source is a JSON object.
        return match source.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => serde_json::from_slice::<serde::de::IgnoredAny>(source)
                .map(|_| ())
                .map_err(|e| parse_error(&e)),
            _ => Err(parse_error(&"the source is not a JSON object")),
        };
    }
    let doc: Value = serde_json::from_slice(source).map_err(|e| parse_error(&e))?;
    if !doc.is_object() {
        return Err(parse_error(&"the source is not a JSON object"));
    }
    for (path, kind) in mappings {
        let value = path.split('.').try_fold(&doc, |node, key| node.get(key));
        if let Some(value) = value {
            if !kind.accepts(value) {
                let preview: String = value
                    .to_string()
                    .trim_matches('"')
                    .chars()
                    .take(40)
                    .collect();
                return Err((
                    "document_parsing_exception",
                    format!(
                        "[1:1] failed to parse field [{path}] of type [{}] in document with id '{id}'. Preview of field's value: '{preview}'",
                        kind.name()
                    ),
                    Some(("illegal_argument_exception", format!("'{preview}' is not a valid {} value", kind.name()))),
                ));
            }
        }
    }
    Ok(())
}
