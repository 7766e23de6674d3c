//! [`OktaClient`]: one page of `GET /api/v1/logs`, with auth, pacing and retries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use oktaflow_plumbing::http::{build_client, ClientOptions};
use oktaflow_plumbing::{error_chain, split_events, Backoff, RawEvent};
use rand::Rng;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, USER_AGENT};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tracing::{debug, warn};

use crate::auth::Authenticator;
use crate::body::{human_bytes, read_capped, BodyError, OVER_CAP_ATTEMPTS};
use crate::config::{ClientConfig, ConfigError, OrgUrl};
use crate::error::{transport_error, FetchError};
use crate::link::find_link;
use crate::pacer::Pacer;
use crate::stats::FetchStats;

/// The System Log endpoint path.
pub const LOGS_PATH: &str = "/api/v1/logs";

/// The wait after the first 429 whose `X-Rate-Limit-Reset` is not in the future (clock skew
/// between Okta and a proxy, or a stale header); it doubles with each such 429 in a row.
const STALE_RESET_FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest wait after 429s whose reset time is not in the future: one rate-limit window.
const STALE_RESET_MAX_WAIT: Duration = Duration::from_secs(60);

/// What one request's retries have met so far (see [`OktaClient::fetch`]).
#[derive(Debug, Default)]
struct Retries {
    /// Bodies over [`ClientConfig::max_response_body`].
    over_cap: u32,
    /// 429s whose reset time was not in the future.
    stale_resets: u32,
}

/// Where a page request starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// A first request from a time: `since` (and `until` for a bounded query).
    Start {
        /// Lower bound.
        since: DateTime<Utc>,
        /// Upper bound (bounded query) or `None` (polling query).
        until: Option<DateTime<Utc>>,
    },
    /// Follow a stored `rel="next"` link (its path and query).
    Next(String),
}

/// An Okta management API endpoint read by the identity enrichment: its path (requests and
/// `next` links must stay under it), what it holds and the OAuth scope that reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiEndpoint {
    /// Path prefix, e.g. `/api/v1/users`.
    pub path: &'static str,
    /// What it lists, for messages (`users`, `devices`).
    pub what: &'static str,
    /// The OAuth 2.0 scope that reads it, e.g. `okta.users.read`.
    pub scope: &'static str,
}

/// One successful answer of an [`ApiEndpoint`].
#[derive(Debug)]
pub struct ApiPage {
    /// The response body (a JSON array or object).
    pub body: Bytes,
    /// Path and query of the `rel="next"` link, if any.
    pub next: Option<String>,
}

/// Whose request this is: the System Log (the client's pacer and stats) or an API endpoint
/// with its own pacer (no System Log stats).
#[derive(Clone, Copy)]
enum Target<'t> {
    Logs,
    Api {
        endpoint: &'t ApiEndpoint,
        pacer: &'t Pacer,
    },
}

/// One successful response.
#[derive(Debug)]
pub struct RawPage {
    /// The events, in the order Okta sent them.
    pub events: Vec<RawEvent>,
    /// Path and query of the `rel="next"` link, if any.
    pub next: Option<String>,
}

/// An HTTP client for one org's System Log, shared by a source's workers.
pub struct OktaClient {
    http: reqwest::Client,
    config: ClientConfig,
    auth: Authenticator,
    pacer: Pacer,
    stats: Arc<FetchStats>,
    reached: AtomicBool,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("config", &self.config)
            .field("pacer", &self.pacer)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct OktaErrorBody {
    #[serde(rename = "errorSummary")]
    error_summary: Option<String>,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
}

impl OktaClient {
    /// Validates `config` and builds the HTTP client (TLS, proxy, timeout) and authenticator.
    pub fn new(config: ClientConfig) -> Result<OktaClient, ConfigError> {
        config.validate()?;
        let mut options = ClientOptions::new(config.tls.clone(), config.request_timeout);
        options.proxy_url = config.proxy_url.clone();
        options.pool_idle_timeout = Duration::from_secs(50);
        let http = build_client(config.org.base(), &options)
            .map_err(|e| ConfigError::new(e.key, e.reason))?;
        let auth = Authenticator::new(&config)?;
        Ok(OktaClient {
            http,
            pacer: Pacer::new(config.rate_limit_share),
            auth,
            config,
            stats: Arc::new(FetchStats::new()),
            reached: AtomicBool::new(false),
        })
    }

    /// The org being read.
    pub fn org(&self) -> &OrgUrl {
        &self.config.org
    }

    /// The client configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The counters of this client's requests.
    pub fn stats(&self) -> &Arc<FetchStats> {
        &self.stats
    }

    /// The shared pacer.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// The URL of a page request.
    pub fn url(&self, request: &PageRequest) -> Result<Url, FetchError> {
        match request {
            PageRequest::Start { since, until } => {
                let mut url = self
                    .config
                    .org
                    .join(LOGS_PATH)
                    .ok_or_else(|| self.protocol("cannot build the System Log URL"))?;
                {
                    let mut query = url.query_pairs_mut();
                    query.append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true));
                    if let Some(until) = until {
                        query.append_pair(
                            "until",
                            &until.to_rfc3339_opts(SecondsFormat::Millis, true),
                        );
                    }
                    query.append_pair("limit", &self.config.page_size.to_string());
                    query.append_pair("sortOrder", "ASCENDING");
                }
                Ok(url)
            }
            PageRequest::Next(path) => {
                if !path.starts_with(LOGS_PATH) {
                    return Err(self.protocol(&format!(
                        "stored next link `{path}` is not a System Log link"
                    )));
                }
                let path = with_limit(path, self.config.page_size);
                self.config.org.join(&path).ok_or_else(|| {
                    self.protocol(&format!("stored next link `{path}` is not a valid path"))
                })
            }
        }
    }

    fn protocol(&self, detail: &str) -> FetchError {
        FetchError::Protocol {
            org: self.config.org.label().to_string(),
            detail: detail.to_string(),
        }
    }

    /// Fetches one page, retrying transient failures (5xx, 429, timeouts, resets, bad bodies)
    /// until it succeeds; returns only pages or halts. Cancel-safe (nothing is committed here).
    pub async fn fetch(&self, request: &PageRequest) -> Result<RawPage, FetchError> {
        let url = self.url(request)?;
        let mut backoff = Backoff::new(self.config.retry);
        let mut retries = Retries::default();
        loop {
            let error = match self.attempt(&url, &mut retries).await {
                Ok(page) => return Ok(page),
                Err(error) if error.is_halt() => return Err(error),
                Err(error) => error,
            };
            self.stats.record_retry();
            let delay = match &error {
                FetchError::RateLimited { wait, .. } => *wait,
                _ => backoff.next_delay(&mut rand::rng()),
            };
            warn!(org = self.config.org.label(), error = %error, retry_in_ms = delay.as_millis() as u64, "retrying System Log request");
            tokio::time::sleep(delay).await;
        }
    }

    /// One request; a 401 with OAuth renews the access token once.
    async fn attempt(&self, url: &Url, retries: &mut Retries) -> Result<RawPage, FetchError> {
        let (body, next) = self.send(url, Target::Logs, retries).await?;
        let org = self.config.org.label().to_string();
        let events = split_events(&body).map_err(|e| FetchError::Body {
            org,
            detail: format!("not a JSON array of events ({e})"),
        })?;
        self.stats.record_page(events.len());
        Ok(RawPage { events, next })
    }

    /// One GET of `url` for `target`: the body of a successful answer and the path of its
    /// `rel="next"` link; every error status mapped to its one-line [`FetchError`].
    async fn send(
        &self,
        url: &Url,
        target: Target<'_>,
        retries: &mut Retries,
    ) -> Result<(Bytes, Option<String>), FetchError> {
        let mut renewed = false;
        let pacer = match target {
            Target::Logs => &self.pacer,
            Target::Api { pacer, .. } => pacer,
        };
        loop {
            pacer.acquire().await;
            let authorization = self
                .auth
                .header(&self.http, &self.config.org, &self.stats)
                .await?;
            if matches!(target, Target::Logs) {
                self.stats.record_request();
            }
            match target {
                Target::Logs => debug!(
                    org = self.config.org.label(),
                    path = url.path(),
                    query = url.query().unwrap_or(""),
                    "GET System Log page"
                ),
                Target::Api { endpoint, .. } => debug!(
                    org = self.config.org.label(),
                    path = url.path(),
                    query = url.query().unwrap_or(""),
                    what = endpoint.what,
                    "GET Okta API page"
                ),
            }
            let response = self
                .http
                .get(url.clone())
                .header(AUTHORIZATION, authorization)
                .header(ACCEPT, "application/json")
                .header(USER_AGENT, concat!("oktaflow/", env!("CARGO_PKG_VERSION")))
                .send()
                .await
                .map_err(|e| {
                    transport_error(&self.config.org, e, !self.reached.load(Ordering::Relaxed))
                })?;
            let status = response.status();
            if matches!(target, Target::Logs) {
                self.stats.record_status(status.as_u16());
            }
            let headers = response.headers().clone();
            let wait_429 = self.observe_rate_limit(&headers, target);
            if status == StatusCode::UNAUTHORIZED && self.auth.is_oauth() && !renewed {
                renewed = true;
                self.auth.invalidate().await;
                continue;
            }
            self.reached.store(true, Ordering::Relaxed);
            let org = self.config.org.label().to_string();
            if status.is_success() {
                let cap = self.config.max_response_body;
                let body = match read_capped(response, cap).await {
                    Ok(body) => body,
                    Err(BodyError::Read(e)) => {
                        return Err(FetchError::Body {
                            org,
                            detail: format!("reading the body failed ({})", error_chain(&e)),
                        })
                    }
                    Err(BodyError::OverCap) => {
                        retries.over_cap += 1;
                        return Err(self.over_cap(org, retries.over_cap));
                    }
                };
                let next = match find_link(&headers, "next") {
                    Some(link) => Some(self.link_path(url, &link, target)?),
                    None => None,
                };
                return Ok((body, next));
            }
            return Err(match status.as_u16() {
                429 => {
                    let wait = match wait_429 {
                        Some(wait) => wait,
                        None => {
                            retries.stale_resets += 1;
                            stale_reset_wait(retries.stale_resets)
                        }
                    };
                    let wait = wait + Duration::from_millis(rand::rng().random_range(0..=1000));
                    pacer.hold_until(tokio::time::Instant::now() + wait);
                    FetchError::RateLimited { org, wait }
                }
                500..=599 | 408 => FetchError::Server {
                    org,
                    status: status.as_u16(),
                },
                401 => FetchError::Unauthorized {
                    org,
                    hint: self.config.auth.fix_hint(),
                },
                code => match target {
                    Target::Logs => match code {
                        400 => FetchError::BadRequest {
                            org,
                            summary: okta_summary(response).await,
                        },
                        403 => FetchError::Forbidden {
                            org,
                            summary: okta_summary(response).await,
                        },
                        404 => FetchError::NotFound { org },
                        other => FetchError::Protocol {
                            org,
                            detail: format!("HTTP {other} from {LOGS_PATH}"),
                        },
                    },
                    Target::Api { endpoint, .. } => match code {
                        403 => FetchError::ApiForbidden {
                            org,
                            what: endpoint.what,
                            scope: endpoint.scope,
                            summary: okta_summary(response).await,
                        },
                        other => FetchError::ApiRefused {
                            org,
                            path: url.path().to_string(),
                            status: other,
                            summary: okta_summary(response).await,
                        },
                    },
                },
            });
        }
    }

    /// One page of an Okta management API endpoint (users, groups, roles, devices): `path`
    /// is the path and query (a first request or a stored `next` link) and must lie under
    /// `endpoint.path`. Paced by `pacer` (one per endpoint, with its own share of that
    /// endpoint's rate limit), retried like a System Log page on transient failures; a
    /// halt says what was refused and, for a 403, which OAuth scope is missing.
    pub async fn fetch_api(
        &self,
        endpoint: &ApiEndpoint,
        path: &str,
        pacer: &Pacer,
    ) -> Result<ApiPage, FetchError> {
        if !path.starts_with(endpoint.path) {
            return Err(self.protocol(&format!(
                "`{path}` is not under the {} endpoint {}",
                endpoint.what, endpoint.path
            )));
        }
        let url = self
            .config
            .org
            .join(path)
            .ok_or_else(|| self.protocol(&format!("`{path}` is not a valid path")))?;
        let target = Target::Api { endpoint, pacer };
        let mut backoff = Backoff::new(self.config.retry);
        let mut retries = Retries::default();
        loop {
            let error = match self.send(&url, target, &mut retries).await {
                Ok((body, next)) => return Ok(ApiPage { body, next }),
                Err(error) if error.is_halt() => return Err(error),
                Err(error) => error,
            };
            let delay = match &error {
                FetchError::RateLimited { wait, .. } => *wait,
                _ => backoff.next_delay(&mut rand::rng()),
            };
            warn!(org = self.config.org.label(), endpoint = endpoint.path, error = %error, retry_in_ms = delay.as_millis() as u64, "retrying Okta API request");
            tokio::time::sleep(delay).await;
        }
    }

    /// The path and query of a next link, which must point to the same endpoint of this
    /// org (the System Log, or the API endpoint asked).
    fn link_path(
        &self,
        request_url: &Url,
        link: &str,
        target: Target<'_>,
    ) -> Result<String, FetchError> {
        let resolved = request_url
            .join(link)
            .map_err(|_| self.protocol(&format!("rel=\"next\" link `{link}` is not a URL")))?;
        let expected = match target {
            Target::Logs => LOGS_PATH,
            Target::Api { endpoint, .. } => endpoint.path,
        };
        let same_endpoint = match target {
            Target::Logs => resolved.path() == LOGS_PATH,
            Target::Api { .. } => resolved.path().starts_with(expected),
        };
        if !same_endpoint || resolved.host_str() != request_url.host_str() {
            return Err(self.protocol(&format!(
                "rel=\"next\" link points to `{}`, not {expected}",
                resolved.path()
            )));
        }
        Ok(match resolved.query() {
            Some(query) => format!("{}?{query}", resolved.path()),
            None => resolved.path().to_string(),
        })
    }

    /// A body over the cap: retried like a truncated body ([`FetchError::Body`]) until it
    /// happened [`OVER_CAP_ATTEMPTS`] times for this request, then a halt naming the cap.
    fn over_cap(&self, org: String, times: u32) -> FetchError {
        let cap = human_bytes(self.config.max_response_body);
        if times < OVER_CAP_ATTEMPTS {
            return FetchError::Body {
                org,
                detail: format!("the body passed the {cap} cap (max_response_body); dropped"),
            };
        }
        FetchError::Protocol {
            org,
            detail: format!(
                "a System Log response body passed the {cap} cap {times} times — if the \
                 org's pages really are that large, raise max_response_body (now {cap}) or lower \
                 page_size; otherwise check a proxy or gateway in between"
            ),
        }
    }

    /// Feeds the rate-limit headers to the pacer and stats; returns the wait until the window
    /// resets (used after a 429): 60 s without `X-Rate-Limit-Reset`, `None` when the reset time
    /// is not in the future (the caller then backs off with a growing wait instead).
    fn observe_rate_limit(&self, headers: &HeaderMap, target: Target<'_>) -> Option<Duration> {
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let limit = number("x-rate-limit-limit");
        let remaining = number("x-rate-limit-remaining");
        let reset_secs = number("x-rate-limit-reset").map(|reset| {
            let server_now = headers
                .get(reqwest::header::DATE)
                .and_then(|d| d.to_str().ok())
                .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
                .map(|d| d.timestamp())
                .unwrap_or_else(|| Utc::now().timestamp());
            i64::try_from(reset)
                .unwrap_or(i64::MAX)
                .saturating_sub(server_now)
        });
        let reset_in = reset_secs.map(|secs| Duration::from_secs(secs.clamp(0, 120) as u64));
        match target {
            Target::Logs => {
                if let Some(remaining) = remaining {
                    self.stats.record_remaining(remaining);
                }
                self.pacer.observe(limit, remaining, reset_in);
            }
            Target::Api { pacer, .. } => pacer.observe(limit, remaining, reset_in),
        }
        match reset_secs {
            None => Some(Duration::from_secs(60)),
            Some(secs) if secs <= 0 => None,
            Some(_) => reset_in,
        }
    }
}

/// The wait after the `n`-th 429 in a row (1-based) whose reset time was not in the future:
/// 1 s, 2 s, 4 s, ... up to 60 s, so a skewed clock never turns into a retry every second.
fn stale_reset_wait(n: u32) -> Duration {
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
    STALE_RESET_FIRST_WAIT
        .saturating_mul(factor)
        .min(STALE_RESET_MAX_WAIT)
}

/// A stored next link with its `limit` set to `page_size` (appended when it has none).
///
/// Okta documents polling queries as endless: every page carries a `next` link, an empty page
/// included, and a collector continues "until no events are returned". oktaflow judges a page
/// "caught up" when it is shorter than the `limit` it asked for (one request per poll when the
/// org is quiet, instead of a second one for the empty page). Okta echoes the request's
/// `limit` in its next links, so a checkpointed cursor keeps the page size it was written
/// with; judged against a changed `page_size`, every full page would look short and the
/// source would stall. `limit` is a documented query parameter of its own, separate from the
/// opaque `after` cursor, so oktaflow sets it to the configured page size on every link it
/// follows and keeps the rest of the link byte for byte.
pub(crate) fn with_limit(path: &str, page_size: u32) -> String {
    let limit = format!("limit={page_size}");
    let Some((route, query)) = path.split_once('?') else {
        return format!("{path}?{limit}");
    };
    let mut found = false;
    let pairs: Vec<&str> = query
        .split('&')
        .map(|pair| {
            if pair.split('=').next() == Some("limit") {
                found = true;
                limit.as_str()
            } else {
                pair
            }
        })
        .collect();
    let mut query = pairs.join("&");
    if !found {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&limit);
    }
    format!("{route}?{query}")
}

/// Okta's `errorSummary` (or `errorCode`) from an error response, on one line, scrubbed of
/// credentials ([`crate::error::server_text`]).
async fn okta_summary(response: reqwest::Response) -> String {
    let Ok(body) = response.bytes().await else {
        return "no error body".into();
    };
    match serde_json::from_slice::<OktaErrorBody>(&body) {
        Ok(OktaErrorBody {
            error_summary: Some(s),
            ..
        }) => crate::error::server_text(&s),
        Ok(OktaErrorBody {
            error_code: Some(c),
            ..
        }) => crate::error::server_text(&c),
        _ => "no error summary".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_follow_the_configured_page_size() {
        assert_eq!(
            with_limit("/api/v1/logs?after=abc_1&limit=100", 1000),
            "/api/v1/logs?after=abc_1&limit=1000"
        );
        assert_eq!(
            with_limit(
                "/api/v1/logs?limit=100&since=2024-01-01T00%3A00%3A00.000Z&after=x%2By",
                250
            ),
            "/api/v1/logs?limit=250&since=2024-01-01T00%3A00%3A00.000Z&after=x%2By"
        );
        assert_eq!(
            with_limit("/api/v1/logs?after=z", 7),
            "/api/v1/logs?after=z&limit=7"
        );
        assert_eq!(with_limit("/api/v1/logs", 7), "/api/v1/logs?limit=7");
        assert_eq!(
            with_limit("/api/v1/logs?limits=3&after=z", 7),
            "/api/v1/logs?limits=3&after=z&limit=7"
        );
    }

    #[test]
    fn stale_reset_waits_grow_to_one_window() {
        let waits: Vec<u64> = (1..=9).map(|n| stale_reset_wait(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(stale_reset_wait(u32::MAX), STALE_RESET_MAX_WAIT);
    }
}
