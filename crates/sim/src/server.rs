//! The HTTP server: `GET /api/v1/logs`, `POST /oauth2/v1/token`, the accept loop
//! (which can drop a connection without answering), the live-event task and the
//! [`SimHandle`] that controls a running simulator.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::attacks::AttackScenarios;
use crate::config::{FaultKind, SimConfig};
use crate::cursor::{Cursor, CursorCodec};
use crate::directory::{parse_last_updated_search, Directory};
use crate::error::SimError;
use crate::generate::EventGenerator;
use crate::oauth::{BearerCheck, OAuthServer, LOGS_SCOPE};
use crate::okta_error::{codes, error_body};
use crate::rate_limit::{RateLimiter, RateStatus};
use crate::rng::Rng;
use crate::stats::{SimStats, StatsCounters};
use crate::store::{EventStore, StoredEvent};

/// Default page size of `/api/v1/logs`.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest accepted `limit`.
pub const MAX_LIMIT: usize = 1000;
/// Default look-back of a query without `since` (Okta: 7 days).
const DEFAULT_LOOKBACK_MS: i64 = 7 * 24 * 3600 * 1000;
/// How often the background task adds live events and reveals late ones.
const TICK: Duration = Duration::from_millis(50);
/// Pause between the half body and the failure of a truncated response.
const TRUNCATION_PAUSE: Duration = Duration::from_millis(50);

/// Marker on a response meaning "close the connection without sending it".
#[derive(Clone, Copy)]
struct DropConnection;

/// The service error that makes hyper close a connection without a response.
#[derive(Debug)]
struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for ConnectionDropped {}

/// Generator state for events added while running.
struct LiveSource {
    generator: EventGenerator,
    rng: Rng,
    started: Instant,
    produced: u64,
    last_ms: i64,
}

/// State shared by the handlers, the live task and the handle.
struct Shared {
    config: SimConfig,
    attacks: AttackScenarios,
    store: RwLock<EventStore>,
    live: Mutex<LiveSource>,
    codec: CursorCodec,
    rate: Option<Mutex<RateLimiter>>,
    fault_rng: Mutex<Rng>,
    oauth: Mutex<OAuthServer>,
    stats: StatsCounters,
    local_addr: SocketAddr,
    /// Users, groups, admin roles and devices of the org.
    directory: RwLock<Directory>,
    /// Rate limiters of the directory endpoint families, when limited.
    directory_rate: Mutex<HashMap<&'static str, RateLimiter>>,
    /// Requests served per directory endpoint family.
    directory_requests: Mutex<HashMap<&'static str, u64>>,
    /// Most requests counted in one rate-limit window, per directory endpoint family.
    directory_peak: Mutex<HashMap<&'static str, u32>>,
    /// Every authenticated System Log and directory request in arrival order: its family
    /// (`logs`, or a directory family) and when it arrived.
    arrivals: Mutex<Vec<(&'static str, Instant)>>,
    /// `(since, until)` of every bounded (`until`) System Log query that started a scan (no
    /// `after`), in arrival order.
    bounded_queries: Mutex<Vec<(i64, i64)>>,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn ms_to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn format_ms(ms: i64) -> String {
    ms_to_datetime(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Requests [`Shared::arrived`] keeps (24 MB at most).
const MAX_ARRIVALS: usize = 1 << 20;

impl Shared {
    /// Records one request of `family` (see [`SimHandle::peak_within`]).
    fn arrived(&self, family: &'static str) {
        if let Ok(mut arrivals) = self.arrivals.lock() {
            // Bounded for long `oktaflow sim` runs: tests look at the first million requests.
            if arrivals.len() < MAX_ARRIVALS {
                arrivals.push((family, Instant::now()));
            }
        }
    }

    /// Adds `n` events published between the last addition and now (late ones
    /// `late_delay` earlier) and reveals pending events whose time has come.
    fn add_live(&self, n: usize) {
        let now = now_ms();
        let late_ms = i64::try_from(self.config.late_delay.as_millis()).unwrap_or(i64::MAX / 4);
        let mut fresh = Vec::with_capacity(n);
        if n > 0 {
            let Ok(mut live) = self.live.lock() else {
                return;
            };
            let from = live.last_ms.min(now);
            for i in 0..n {
                let mut published = from + (now - from) * (i as i64 + 1) / n as i64;
                if live.rng.chance(self.config.late_fraction) {
                    published -= late_ms;
                }
                let event = live.generator.next_event(ms_to_datetime(published));
                fresh.push(StoredEvent {
                    published_ms: published,
                    uuid: event.uuid.into(),
                    json: event.json.into(),
                });
            }
            live.last_ms = now;
            live.produced += n as u64;
        }
        if let Ok(mut store) = self.store.write() {
            store.promote(now);
            for event in fresh {
                store.push_visible(event);
            }
        }
    }

    /// One tick of the live task.
    fn tick(&self) {
        let due = match self.live.lock() {
            Ok(live) if self.config.live_events_per_sec > 0.0 => {
                let expected =
                    (live.started.elapsed().as_secs_f64() * self.config.live_events_per_sec) as u64;
                expected.saturating_sub(live.produced) as usize
            }
            _ => 0,
        };
        self.add_live(due);
    }

    fn base_url(&self, headers: &HeaderMap) -> String {
        match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            Some(host) => format!("http://{host}"),
            None => format!("http://{}", self.local_addr),
        }
    }

    fn host_ok(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.config.expected_host else {
            return true;
        };
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        host.eq_ignore_ascii_case(expected) || name.eq_ignore_ascii_case(expected)
    }
}

/// An error answer, boxed because responses are large.
type Reject = Box<Response<Body>>;

/// Builds an Okta error response.
fn okta_error(status: StatusCode, code: &str, summary: &str, causes: &[String]) -> Response<Body> {
    let mut response = Response::new(Body::from(error_body(code, summary, causes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn validation_error(cause: String) -> Response<Body> {
    let field = cause.split(':').next().unwrap_or("").to_string();
    okta_error(
        StatusCode::BAD_REQUEST,
        codes::VALIDATION,
        &format!("Api validation failed: {field}"),
        &[cause],
    )
}

/// A 400 for a bad query parameter.
fn invalid_param(cause: String) -> Reject {
    Box::new(validation_error(cause))
}

fn add_rate_headers(response: &mut Response<Body>, status: Option<RateStatus>) {
    if let Some(s) = status {
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-limit", HeaderValue::from(s.limit));
        headers.insert("x-rate-limit-remaining", HeaderValue::from(s.remaining));
        headers.insert("x-rate-limit-reset", HeaderValue::from(s.reset_epoch));
    }
}

fn not_found(uri: &Uri) -> Response<Body> {
    okta_error(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        &format!("Not found: Resource not found: {} (Org)", uri.path()),
        &[],
    )
}

/// Parsed `/api/v1/logs` query.
struct LogsQuery {
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    after: Option<Cursor>,
    limit: usize,
}

fn parse_time(name: &str, value: &str) -> Result<i64, Reject> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            Box::new(okta_error(
                StatusCode::BAD_REQUEST,
                codes::INVALID_DATE,
                "Bad request. Invalid date. Dates must be of the form yyyy-MM-dd'T'HH:mm:ss.SSSZZ, e.g. 2013-01-01T12:00:00.000-07:00.",
                &[format!("{name}: {value:?} is not a valid date")],
            ))
        })
}

fn parse_logs_query(raw: Option<&str>, codec: &CursorCodec) -> Result<LogsQuery, Reject> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| invalid_param(format!("query: malformed query string ({e})")))?;
    let params: HashMap<String, String> = pairs.into_iter().collect();
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Ok(n) if n > MAX_LIMIT => {
                return Err(invalid_param(format!(
                    "limit: must not exceed {MAX_LIMIT}, got {n}"
                )))
            }
            _ => {
                return Err(invalid_param(format!(
                    "limit: must be a positive integer, got {v:?}"
                )))
            }
        },
    };
    match params.get("sortOrder").map(String::as_str) {
        None | Some("ASCENDING") => {}
        Some("DESCENDING") => {
            return Err(invalid_param(
                "sortOrder: DESCENDING is not supported by the simulator; use ASCENDING"
                    .to_string(),
            ))
        }
        Some(other) => {
            return Err(invalid_param(format!(
                "sortOrder: must be ASCENDING or DESCENDING, got {other:?}"
            )))
        }
    }
    let since_ms = params
        .get("since")
        .map(|v| parse_time("since", v))
        .transpose()?;
    let until_ms = params
        .get("until")
        .map(|v| parse_time("until", v))
        .transpose()?;
    if let (Some(since), Some(until)) = (since_ms, until_ms) {
        if since >= until {
            return Err(invalid_param("since: must be before until".to_string()));
        }
    }
    let after = match params.get("after") {
        None => None,
        Some(text) => match codec.decode(text) {
            Some(cursor) => Some(cursor),
            None => {
                return Err(invalid_param(
                    "after: invalid or expired cursor".to_string(),
                ))
            }
        },
    };
    Ok(LogsQuery {
        since_ms,
        until_ms,
        after,
        limit,
    })
}

/// Decides whether this request gets a fault, and which.
fn draw_fault(shared: &Shared) -> Option<FaultKind> {
    if shared.config.fault_rate <= 0.0 {
        return None;
    }
    let kinds = shared.config.faults.enabled();
    let mut rng = shared.fault_rng.lock().ok()?;
    if kinds.is_empty() || !rng.chance(shared.config.fault_rate) {
        return None;
    }
    Some(*rng.pick(&kinds))
}

/// Authenticates a `/api/v1/logs` request; `Err` is the 401/403 to send.
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    base_url: &str,
    scope: &str,
) -> Result<(), Reject> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let invalid = || {
        okta_error(
            StatusCode::UNAUTHORIZED,
            codes::INVALID_TOKEN,
            "Invalid token provided",
            &[],
        )
    };
    let challenge = |error: &str, description: &str| {
        format!(
            "Bearer authorization_uri=\"{base_url}/oauth2/v1/authorize\", realm=\"IdpRealm\", scope=\"{scope}\", error=\"{error}\", error_description=\"{description}\", resource=\"/api/v1/logs\""
        )
    };
    if let Some(token) = value.strip_prefix("SSWS ") {
        return if token.trim() == shared.config.api_token {
            Ok(())
        } else {
            Err(Box::new(invalid()))
        };
    }
    if let Some(token) = value.strip_prefix("Bearer ") {
        let check = match shared.oauth.lock() {
            Ok(oauth) => oauth.check_bearer(token.trim(), scope, Instant::now()),
            Err(_) => BearerCheck::Invalid,
        };
        let (mut response, www) = match check {
            BearerCheck::Valid => return Ok(()),
            BearerCheck::Invalid => (
                invalid(),
                challenge("invalid_token", "The access token is invalid."),
            ),
            BearerCheck::MissingScope => (
                okta_error(
                    StatusCode::FORBIDDEN,
                    codes::FORBIDDEN,
                    "You do not have permission to perform the requested action",
                    &[],
                ),
                challenge(
                    "insufficient_scope",
                    "The access token provided does not contain the required scopes.",
                ),
            ),
        };
        if let Ok(v) = HeaderValue::from_str(&www) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return Err(Box::new(response));
    }
    Err(Box::new(invalid()))
}

async fn list_logs(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response<Body> {
    if !shared.host_ok(&headers) {
        return not_found(&uri);
    }
    let base = shared.base_url(&headers);
    if let Err(response) = authenticate(&shared, &headers, &base, LOGS_SCOPE) {
        return *response;
    }
    shared.arrived("logs");
    let rate = match &shared.rate {
        Some(limiter) => match limiter.lock() {
            Ok(mut limiter) => Some(limiter.check(Instant::now())),
            Err(_) => None,
        },
        None => None,
    };
    let mut response = logs_response(&shared, &base, &uri, raw.as_deref(), rate).await;
    add_rate_headers(&mut response, rate);
    response
}

async fn logs_response(
    shared: &Shared,
    base: &str,
    uri: &Uri,
    raw: Option<&str>,
    rate: Option<RateStatus>,
) -> Response<Body> {
    if rate.is_some_and(|r| r.exceeded) {
        return okta_error(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMIT,
            "API call exceeded rate limit due to too many requests.",
            &[],
        );
    }
    let query = match parse_logs_query(raw, &shared.codec) {
        Ok(q) => q,
        Err(response) => return *response,
    };
    let fault = draw_fault(shared);
    if let Some(kind) = fault {
        shared.stats.fault(kind);
        match kind {
            FaultKind::InternalError => {
                return okta_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    codes::INTERNAL,
                    "Internal Server Error",
                    &[],
                )
            }
            FaultKind::ServiceUnavailable => {
                return okta_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    codes::UNAVAILABLE,
                    "Service Unavailable: the service is temporarily unable to handle the request",
                    &[],
                )
            }
            FaultKind::DropConnection => {
                let mut response = Response::new(Body::empty());
                response.extensions_mut().insert(DropConnection);
                return response;
            }
            FaultKind::SlowResponse => tokio::time::sleep(shared.config.faults.slow_delay).await,
            FaultKind::TruncatedBody => {}
        }
    }
    let built = build_page(shared, base, query);
    let (body, links) = match built {
        Ok(page) => page,
        Err(response) => return *response,
    };
    if !shared.config.page_latency.is_zero() {
        tokio::time::sleep(shared.config.page_latency).await;
    }
    let full_len = body.body.len();
    let mut response = if fault == Some(FaultKind::TruncatedBody) {
        // Status and headers promise the whole page; the body stops half-way.
        // The pause lets the head and the first half reach the client before
        // the stream fails and hyper closes the connection.
        use futures_util::StreamExt;
        let half = Bytes::from(body.body).slice(..full_len / 2);
        let first = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(half) });
        let failure = futures_util::stream::once(async {
            tokio::time::sleep(TRUNCATION_PAUSE).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "truncated by fault injection",
            ))
        });
        Response::new(Body::from_stream(first.chain(failure)))
    } else {
        shared.stats.page(body.count);
        Response::new(Body::from(body.body))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    let self_link = format!(
        "<{base}{}>; rel=\"self\"",
        uri.path_and_query().map_or("/api/v1/logs", |p| p.as_str())
    );
    for link in std::iter::once(self_link).chain(links) {
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.append(header::LINK, value);
        }
    }
    response
}

/// Builds the page body and its `next` link (if any).
fn build_page(
    shared: &Shared,
    base: &str,
    query: LogsQuery,
) -> Result<(crate::store::PageBody, Option<String>), Reject> {
    let now = now_ms();
    let bad_cursor =
        || invalid_param("after: cursor does not belong to this kind of query".to_string());
    let internal = || {
        Box::new(okta_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "Internal Server Error",
            &[],
        ))
    };
    let due = shared.store.read().map(|s| s.has_due(now)).unwrap_or(false);
    if due {
        match shared.store.write() {
            Ok(mut store) => store.promote(now),
            Err(_) => return Err(internal()),
        }
    }
    let Ok(store) = shared.store.read() else {
        return Err(internal());
    };
    match query.until_ms {
        None => {
            let (position, since_ms) = match query.after {
                Some(Cursor::Polling { position, since_ms }) => (position, since_ms),
                Some(Cursor::Bounded { .. }) => return Err(bad_cursor()),
                None => (0, query.since_ms.unwrap_or(now - DEFAULT_LOOKBACK_MS)),
            };
            let (page, next) = store.polling_page(position, since_ms, query.limit);
            let cursor = shared.codec.encode(&Cursor::Polling {
                position: next,
                since_ms,
            });
            let link = format!(
                "<{base}/api/v1/logs?after={cursor}&limit={}>; rel=\"next\"",
                query.limit
            );
            Ok((page, Some(link)))
        }
        Some(until_ms) => {
            let since_ms = query.since_ms.unwrap_or(until_ms - DEFAULT_LOOKBACK_MS);
            if query.after.is_none() {
                if let Ok(mut queries) = shared.bounded_queries.lock() {
                    if queries.len() < MAX_ARRIVALS {
                        queries.push((since_ms, until_ms));
                    }
                }
            }
            let after = match &query.after {
                Some(Cursor::Bounded { published_ms, uuid }) => {
                    Some((*published_ms, uuid.as_str()))
                }
                Some(Cursor::Polling { .. }) => return Err(bad_cursor()),
                None => None,
            };
            let (page, last, more) = store.bounded_page(since_ms, until_ms, after, query.limit);
            let link = match last {
                Some((published_ms, uuid)) if more => {
                    let cursor = shared.codec.encode(&Cursor::Bounded { published_ms, uuid });
                    Some(format!(
                        "<{base}/api/v1/logs?since={}&until={}&after={cursor}&limit={}>; rel=\"next\"",
                        format_ms(since_ms),
                        format_ms(until_ms),
                        query.limit
                    ))
                }
                _ => None,
            };
            Ok((page, link))
        }
    }
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response<Body> {
    if !shared.host_ok(&headers) {
        return not_found(&uri);
    }
    let form: HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .map(|pairs| pairs.into_iter().collect())
            .unwrap_or_default();
    let base = shared.base_url(&headers);
    let mut audiences = vec![format!("{base}/oauth2/v1/token")];
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        audiences.push(format!("https://{host}/oauth2/v1/token"));
    }
    audiences.push(format!("http://{}/oauth2/v1/token", shared.local_addr));
    let result = match shared.oauth.lock() {
        Ok(mut oauth) => oauth.token(&form, &audiences),
        Err(_) => {
            return okta_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::INTERNAL,
                "Internal Server Error",
                &[],
            )
        }
    };
    let (status, text) = match result {
        Ok(issued) => {
            shared.stats.token_issued();
            (StatusCode::OK, issued.body())
        }
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.body(),
        ),
    };
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn fallback(uri: Uri) -> Response<Body> {
    not_found(&uri)
}

/// Generates the backlog (blocking work), with the attack scenarios when configured.
fn build_backlog(config: &SimConfig) -> (EventStore, LiveSource, AttackScenarios) {
    let now = now_ms();
    let end = config.backlog_end.map_or(now, |t| t.timestamp_millis());
    let span = i64::try_from(config.backlog_span.as_millis()).unwrap_or(i64::MAX / 4);
    let start = end - span;
    let late_ms = i64::try_from(config.late_delay.as_millis()).unwrap_or(i64::MAX / 4);
    let mut generator = EventGenerator::new(config.seed);
    let mut rng = Rng::new(config.seed ^ 0x7469_6d65_7321);
    let n = config.events;
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        // Evenly spread with jitter: sorted by construction.
        let offset = ((i as f64 + rng.unit()) / n as f64 * span as f64) as i64;
        let published = (start + offset).min(end);
        let visible_at = if rng.chance(config.late_fraction) {
            published + late_ms
        } else {
            published
        };
        let event = generator.next_event(ms_to_datetime(published));
        events.push((
            visible_at,
            StoredEvent {
                published_ms: published,
                uuid: event.uuid.into(),
                json: event.json.into(),
            },
        ));
    }
    let attacks = if config.attacks {
        crate::attacks::scenarios(config.seed, start, end)
    } else {
        AttackScenarios::default()
    };
    if !attacks.events.is_empty() {
        // Merged in `published` order (stable: a background event first on a tie), visible
        // at once: a scenario is never late.
        let mut merged = Vec::with_capacity(events.len() + attacks.events.len());
        let mut injected = attacks.events.iter().peekable();
        for (visible_at, event) in events {
            while let Some(a) = injected.next_if(|a| a.published_ms < event.published_ms) {
                merged.push(stored(a));
            }
            merged.push((visible_at, event));
        }
        merged.extend(injected.map(stored));
        events = merged;
    }
    let store = EventStore::new(events, now);
    let live = LiveSource {
        generator,
        rng,
        started: Instant::now(),
        produced: 0,
        last_ms: now,
    };
    (store, live, attacks)
}

/// A scenario event as the store keeps it (visible at its `published`).
fn stored(event: &crate::attacks::ScenarioEvent) -> (i64, StoredEvent) {
    (
        event.published_ms,
        StoredEvent {
            published_ms: event.published_ms,
            uuid: event.uuid.as_str().into(),
            json: event.json.as_str().into(),
        },
    )
}

/// Default and largest page size of the directory endpoints.
const DIRECTORY_LIMIT: usize = 200;

/// One directory request: family (rate-limit bucket), OAuth scope.
fn directory_family(path: &str) -> Option<(&'static str, &'static str)> {
    if path.ends_with("/roles") {
        Some(("roles", "okta.roles.read"))
    } else if path.starts_with("/api/v1/users") {
        Some(("users", "okta.users.read"))
    } else if path.starts_with("/api/v1/groups") {
        Some(("groups", "okta.groups.read"))
    } else if path.starts_with("/api/v1/iam") {
        Some(("iam", "okta.roles.read"))
    } else if path.starts_with("/api/v1/devices") {
        Some(("devices", "okta.devices.read"))
    } else {
        None
    }
}

async fn directory_api(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response<Body> {
    if !shared.host_ok(&headers) {
        return not_found(&uri);
    }
    let path = uri.path().to_string();
    let Some((family, scope)) = directory_family(&path) else {
        return not_found(&uri);
    };
    let base = shared.base_url(&headers);
    if let Err(response) = authenticate(&shared, &headers, &base, scope) {
        return *response;
    }
    if let Ok(mut counts) = shared.directory_requests.lock() {
        *counts.entry(family).or_default() += 1;
    }
    shared.arrived(family);
    let rate = shared
        .config
        .directory_rate_limit_per_minute
        .and_then(|limit| {
            let mut limiters = shared.directory_rate.lock().ok()?;
            let limiter = limiters
                .entry(family)
                .or_insert_with(|| RateLimiter::new(limit, 0, shared.config.rate_limit_window));
            let status = limiter.check(Instant::now());
            if let Ok(mut peaks) = shared.directory_peak.lock() {
                let peak = peaks.entry(family).or_default();
                *peak = (*peak).max(limiter.used());
            }
            Some(status)
        });
    let mut response = if rate.is_some_and(|r| r.exceeded) {
        okta_error(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMIT,
            "API call exceeded rate limit due to too many requests.",
            &[],
        )
    } else {
        match directory_page(&shared, &base, &path, raw.as_deref()) {
            Ok(response) => response,
            Err(reject) => *reject,
        }
    };
    add_rate_headers(&mut response, rate);
    response
}

/// The page of a directory listing asked by `path` and `raw` (query).
fn directory_page(
    shared: &Shared,
    base: &str,
    path: &str,
    raw: Option<&str>,
) -> Result<Response<Body>, Reject> {
    let query: HashMap<String, String> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| invalid_param(format!("query: {e}")))?;
    let limit = match query.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=DIRECTORY_LIMIT).contains(l))
            .ok_or_else(|| invalid_param(format!("limit: {l}")))?,
        None => DIRECTORY_LIMIT,
    };
    let after: usize = match query.get("after") {
        Some(a) => a
            .parse()
            .map_err(|_| invalid_param(format!("after: {a}")))?,
        None => 0,
    };
    let since = match query.get("search") {
        Some(search) => Some(
            parse_last_updated_search(search)
                .ok_or_else(|| invalid_param(format!("search: {search}")))?,
        ),
        None => None,
    };
    let dir = shared
        .directory
        .read()
        .map_err(|_| Box::new(not_found(&Uri::from_static("/"))))?;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let no_such = || {
        Box::new(okta_error(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            &format!("Not found: Resource not found: {path} (User)"),
            &[],
        ))
    };
    // (all items, whether the listing is paged as a JSON array with Link headers)
    let items: Vec<serde_json::Value> = match segments.as_slice() {
        ["api", "v1", "users"] => (0..dir.users.len())
            .filter(|&i| !dir.users[i].deleted)
            .filter(|&i| match since {
                Some(t) => dir.users[i].last_updated > t,
                // Okta lists every user but the deprovisioned ones without a search.
                None => dir.users[i].status != "DEPROVISIONED",
            })
            .map(|i| dir.user_json(i))
            .collect(),
        ["api", "v1", "users", id, "roles"] => {
            let i = dir.user_index(id).ok_or_else(no_such)?;
            return Ok(json_response(dir.roles_json(i), None, base, path, &query));
        }
        ["api", "v1", "groups"] => (0..dir.groups.len()).map(|g| dir.group_json(g)).collect(),
        ["api", "v1", "groups", id, "users"] => {
            let group = dir
                .groups
                .iter()
                .find(|g| g.id == *id)
                .ok_or_else(no_such)?;
            group.members.iter().map(|&i| dir.user_json(i)).collect()
        }
        ["api", "v1", "iam", "assignees", "users"] => {
            let ids: Vec<usize> = dir
                .roles
                .iter()
                .filter(|(_, r)| !r.is_empty())
                .map(|(&i, _)| i)
                .collect();
            let end = (after + limit).min(ids.len());
            let value: Vec<serde_json::Value> = ids[after.min(end)..end]
                .iter()
                .map(|&i| {
                    let id = &dir.users[i].id;
                    serde_json::json!({
                        "id": id,
                        "orn": format!("orn:okta:directory:sim:users:{id}"),
                        "_links": {"self": {"href": format!("{base}/api/v1/users/{id}")},
                                   "roles": {"href": format!("{base}/api/v1/users/{id}/roles")}},
                    })
                })
                .collect();
            let mut links = serde_json::json!({"self": {"href": format!("{base}{path}")}});
            if end < ids.len() {
                links["next"] =
                    serde_json::json!({"href": format!("{base}{path}?limit={limit}&after={end}")});
            }
            return Ok(json_response(
                serde_json::json!({"value": value, "_links": links}),
                None,
                base,
                path,
                &query,
            ));
        }
        ["api", "v1", "devices"] => (0..dir.devices.len())
            .filter(|&d| !dir.devices[d].deleted)
            .filter(|&d| since.is_none_or(|t| dir.devices[d].last_updated > t))
            .map(|d| dir.device_json(d))
            .collect(),
        _ => return Err(no_such()),
    };
    let end = (after + limit).min(items.len());
    let page = items[after.min(end)..end].to_vec();
    let next = (end < items.len()).then_some(end);
    Ok(json_response(
        serde_json::Value::Array(page),
        next,
        base,
        path,
        &query,
    ))
}

/// A 200 with `body`, a `rel="self"` link and, when `next` is set, a `rel="next"` link
/// to the same listing from offset `next`.
fn json_response(
    body: serde_json::Value,
    next: Option<usize>,
    base: &str,
    path: &str,
    query: &HashMap<String, String>,
) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut pairs: Vec<(&str, String)> = query
        .iter()
        .filter(|(k, _)| k.as_str() != "after")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    pairs.sort();
    let link = |pairs: &[(&str, String)]| {
        let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if q.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{q}")
        }
    };
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>; rel=\"self\"", link(&pairs))) {
        response.headers_mut().append(header::LINK, v);
    }
    if let Some(next) = next {
        pairs.push(("after", next.to_string()));
        if let Ok(v) = HeaderValue::from_str(&format!("<{}>; rel=\"next\"", link(&pairs))) {
            response.headers_mut().append(header::LINK, v);
        }
    }
    response
}

/// Entry point: starts simulators.
pub struct Simulator;

impl Simulator {
    /// Generates the backlog, binds `addr` (port 0 = any free port) and serves
    /// until [`SimHandle::shutdown`] (or the handle is dropped).
    pub async fn start(config: SimConfig, addr: SocketAddr) -> Result<SimHandle, SimError> {
        config.validate()?;
        let oauth = OAuthServer::new(config.oauth.as_ref(), config.seed)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let backlog_config = config.clone();
        let (store, live, attacks) =
            tokio::task::spawn_blocking(move || build_backlog(&backlog_config))
                .await
                .map_err(|e| SimError::Generation(e.to_string()))?;
        let shared = Arc::new(Shared {
            rate: config.rate_limit_per_minute.map(|limit| {
                Mutex::new(RateLimiter::new(
                    limit,
                    config.other_integrations_per_minute,
                    config.rate_limit_window,
                ))
            }),
            codec: CursorCodec::new(config.seed ^ 0x6375_7273_6f72),
            fault_rng: Mutex::new(Rng::new(config.seed ^ 0x6661_756c_7473)),
            oauth: Mutex::new(oauth),
            store: RwLock::new(store),
            attacks,
            live: Mutex::new(live),
            stats: StatsCounters::default(),
            local_addr,
            directory: RwLock::new(Directory::new(
                EventGenerator::new(config.seed).org(),
                Utc::now(),
            )),
            directory_rate: Mutex::new(HashMap::new()),
            directory_requests: Mutex::new(HashMap::new()),
            directory_peak: Mutex::new(HashMap::new()),
            arrivals: Mutex::new(Vec::new()),
            bounded_queries: Mutex::new(Vec::new()),
            config,
        });
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let router = Router::new()
            .route("/api/v1/logs", get(list_logs))
            .route("/oauth2/v1/token", post(token))
            .route("/api/v1/users", get(directory_api))
            .route("/api/v1/users/{id}/roles", get(directory_api))
            .route("/api/v1/groups", get(directory_api))
            .route("/api/v1/groups/{id}/users", get(directory_api))
            .route("/api/v1/iam/assignees/users", get(directory_api))
            .route("/api/v1/devices", get(directory_api))
            .fallback(fallback)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(serve(
            listener,
            router,
            Arc::clone(&shared),
            shutdown_rx.clone(),
        ));
        let ticker = tokio::spawn(live_task(Arc::clone(&shared), shutdown_rx));
        tracing::info!(%local_addr, "Okta System Log simulator listening");
        Ok(SimHandle {
            shared,
            local_addr,
            shutdown: shutdown_tx,
            tasks: Some((server, ticker)),
        })
    }
}

async fn live_task(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let shared = Arc::clone(&shared);
                // Generation is CPU work: keep it off the I/O threads.
                if tokio::task::spawn_blocking(move || shared.tick()).await.is_err() {
                    return;
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let shared = Arc::clone(&shared);
                let mut stop = shutdown.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let router = router.clone();
                        let shared = Arc::clone(&shared);
                        async move {
                            shared.stats.request();
                            let response = match router.oneshot(request).await {
                                Ok(response) => response,
                                Err(never) => match never {},
                            };
                            if response.extensions().get::<DropConnection>().is_some() {
                                return Err(ConnectionDropped);
                            }
                            shared.stats.status(response.status().as_u16());
                            Ok(response)
                        }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        _ = stop.changed() => {
                            connection.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(Duration::from_millis(500), connection).await;
                        }
                    }
                });
                while connections.try_join_next().is_some() {}
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(1), drain)
        .await
        .is_err()
    {
        connections.abort_all();
    }
}

/// The System Log of a running simulator's org, to add events to while it runs (what the Log
/// Streaming side, [`crate::stream`], does for each event it streams). Cheap to clone.
#[derive(Clone)]
pub struct SystemLog(Arc<Shared>);

impl std::fmt::Debug for SystemLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SystemLog({})", self.0.local_addr)
    }
}

impl SystemLog {
    /// Adds one generated event published at `published`, visible at once; returns its uuid
    /// and JSON text.
    pub fn append_event(&self, published: DateTime<Utc>) -> (String, String) {
        let event = match self.0.live.lock() {
            Ok(mut live) => live.generator.next_event(published),
            Err(poisoned) => poisoned.into_inner().generator.next_event(published),
        };
        self.append_json(&event.uuid, published, event.json.clone());
        (event.uuid, event.json)
    }

    /// Adds the event `json` (uuid `uuid`, published at `published`), visible at once.
    pub fn append_json(&self, uuid: &str, published: DateTime<Utc>, json: String) {
        if let Ok(mut store) = self.0.store.write() {
            store.push_visible(StoredEvent {
                published_ms: published.timestamp_millis(),
                uuid: uuid.into(),
                json: json.into(),
            });
        }
    }
}

/// A running simulator.
pub struct SimHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Option<(JoinHandle<()>, JoinHandle<()>)>,
}

impl SimHandle {
    /// `http://IP:PORT`: the "Okta org URL" clients should use.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Uuids of every event visible so far, in visibility order: exactly the
    /// sequence a correct collector receives by starting a polling query with a
    /// `since` at or before [`SimHandle::oldest_published`] and then following
    /// `rel="next"` links.
    pub fn delivered_order(&self) -> Vec<String> {
        match self.shared.store.write() {
            Ok(mut store) => {
                store.promote(now_ms());
                store.visible_uuids()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Adds `n` events now (published now, or `late_delay` ago for the
    /// `late_fraction` share of late ones); they are visible at once.
    pub fn add_events(&self, n: usize) {
        self.shared.add_live(n);
    }

    /// Counters of what was served so far.
    pub fn stats(&self) -> SimStats {
        self.shared.stats.snapshot()
    }

    /// Number of events visible to the API now.
    pub fn visible_events(&self) -> usize {
        match self.shared.store.write() {
            Ok(mut store) => {
                store.promote(now_ms());
                store.visible_len()
            }
            Err(_) => 0,
        }
    }

    /// Number of backlog events still waiting to become visible (late events).
    pub fn pending_events(&self) -> usize {
        self.shared.store.read().map_or(0, |s| s.pending_len())
    }

    /// The earliest `published` of any event: a `since` at or before it sees everything.
    pub fn oldest_published(&self) -> Option<DateTime<Utc>> {
        self.shared
            .store
            .read()
            .ok()
            .and_then(|s| s.oldest_published_ms())
            .map(ms_to_datetime)
    }

    /// Moves user `id` to `department` (its `lastUpdated` becomes now); false when unknown.
    pub fn set_user_department(&self, id: &str, department: &str) -> bool {
        self.change_user(id, |u| u.department = department.to_string())
    }

    /// Sets user `id`'s lifecycle status (`DEPROVISIONED` for a deactivated user, `SUSPENDED`,
    /// `ACTIVE`; its `lastUpdated` becomes now); false when unknown.
    pub fn set_user_status(&self, id: &str, status: &str) -> bool {
        self.change_user(id, |u| u.status = status.to_string())
    }

    /// Assigns the admin role `role_type` (`SUPER_ADMIN`, `ORG_ADMIN`, ...) to user `id`.
    /// As in Okta, the user's `lastUpdated` does not change. False when unknown.
    pub fn grant_admin_role(&self, id: &str, role_type: &str) -> bool {
        let Ok(mut dir) = self.shared.directory.write() else {
            return false;
        };
        let Some(i) = dir.user_index(id) else {
            return false;
        };
        dir.roles.entry(i).or_default().push(role_type.to_string());
        true
    }

    /// Deletes user `id` (a deactivated user deleted in Okta): it leaves every listing, its
    /// groups (their `lastMembershipUpdated` becomes now) and admin roles; its devices stay,
    /// without it. False when unknown (or deleted already).
    pub fn delete_user(&self, id: &str) -> bool {
        let Ok(mut dir) = self.shared.directory.write() else {
            return false;
        };
        let Some(i) = dir.user_index(id) else {
            return false;
        };
        let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
        dir.delete_user(i, now);
        true
    }

    /// Deletes device `id` from the directory; false when unknown (or deleted already).
    pub fn delete_device(&self, id: &str) -> bool {
        let Ok(mut dir) = self.shared.directory.write() else {
            return false;
        };
        match dir.devices.iter_mut().find(|d| d.id == id && !d.deleted) {
            Some(device) => {
                device.deleted = true;
                true
            }
            None => false,
        }
    }

    /// Ids of the directory's devices, in order (the devices of the generated events).
    pub fn directory_device_ids(&self) -> Vec<String> {
        self.shared
            .directory
            .read()
            .map(|d| d.devices.iter().map(|x| x.id.clone()).collect())
            .unwrap_or_default()
    }

    /// Ids of the directory's users, in order (the actors of the generated events).
    pub fn directory_user_ids(&self) -> Vec<String> {
        self.shared
            .directory
            .read()
            .map(|d| d.users.iter().map(|u| u.id.clone()).collect())
            .unwrap_or_default()
    }

    /// Requests served so far by directory endpoint family: `users`, `roles`
    /// (`/api/v1/users/{id}/roles`), `groups`, `iam`, `devices`.
    pub fn directory_requests(&self, family: &str) -> u64 {
        self.shared
            .directory_requests
            .lock()
            .ok()
            .and_then(|c| c.get(family).copied())
            .unwrap_or(0)
    }

    /// The most requests of directory endpoint `family` counted in one rate-limit window
    /// (with [`SimConfig::directory_rate_limit_per_minute`] set).
    pub fn directory_peak_per_window(&self, family: &str) -> u32 {
        self.shared
            .directory_peak
            .lock()
            .ok()
            .and_then(|p| p.get(family).copied())
            .unwrap_or(0)
    }

    /// The most requests of `family` (`logs`, `users`, `roles`, `groups`, `iam`, `devices`)
    /// that arrived within any interval of length `window`, by the simulator's clock: what a
    /// rate limit counting over `window` would have counted at its worst.
    pub fn peak_within(&self, family: &str, window: std::time::Duration) -> usize {
        let times: Vec<Instant> = self
            .shared
            .arrivals
            .lock()
            .map(|a| {
                a.iter()
                    .filter(|(f, _)| *f == family)
                    .map(|(_, t)| *t)
                    .collect()
            })
            .unwrap_or_default();
        let mut peak = 0;
        let mut first = 0;
        for (last, t) in times.iter().enumerate() {
            while t.duration_since(times[first]) >= window {
                first += 1;
            }
            peak = peak.max(last - first + 1);
        }
        peak
    }

    /// The families of the System Log and directory requests in arrival order (`logs`,
    /// `users`, `roles`, `groups`, `iam`, `devices`).
    pub fn arrival_order(&self) -> Vec<&'static str> {
        self.shared
            .arrivals
            .lock()
            .map(|a| a.iter().map(|(f, _)| *f).collect())
            .unwrap_or_default()
    }

    fn change_user(&self, id: &str, change: impl FnOnce(&mut crate::directory::DirUser)) -> bool {
        let Ok(mut dir) = self.shared.directory.write() else {
            return false;
        };
        let Some(i) = dir.user_index(id) else {
            return false;
        };
        // Strictly later than any earlier lastUpdated, even within one millisecond.
        let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3)
            .max(dir.users[i].last_updated + chrono::Duration::milliseconds(1));
        change(&mut dir.users[i]);
        dir.users[i].last_updated = now;
        true
    }

    /// The attack scenarios injected into the backlog and the alerts they must raise (empty
    /// unless [`SimConfig::attacks`]).
    pub fn attacks(&self) -> &AttackScenarios {
        &self.shared.attacks
    }

    /// The JSON text of every event visible so far, in the order of
    /// [`SimHandle::delivered_order`].
    pub fn delivered_events(&self) -> Vec<String> {
        match self.shared.store.write() {
            Ok(mut store) => {
                store.promote(now_ms());
                store.visible_json()
            }
            Err(_) => Vec::new(),
        }
    }

    /// The org's System Log, to add events to (shared; see [`SystemLog`]).
    pub fn system_log(&self) -> SystemLog {
        SystemLog(Arc::clone(&self.shared))
    }

    /// `(since, until)` of every bounded System Log query started so far (`until` given, no
    /// `after` cursor), in arrival order: what a gap filler asked for.
    pub fn bounded_queries(&self) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.shared
            .bounded_queries
            .lock()
            .map(|q| {
                q.iter()
                    .map(|(s, u)| (ms_to_datetime(*s), ms_to_datetime(*u)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The configuration the simulator runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Stops accepting, lets in-flight requests finish briefly, then stops.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some((server, ticker)) = self.tasks.take() {
            let _ = server.await;
            let _ = ticker.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
