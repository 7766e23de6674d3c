//! # oktaflow-fetch
//!
//! The source side of oktaflow: reads an Okta org's System Log (`GET /api/v1/logs`) as pages
//! of raw events, each with the exact [`SourceState`] to checkpoint once the page is durable.
//!
//! * [`ClientConfig`] — where the org is ([`OrgUrl`]: `https` forced, plain `http` only for a
//!   loopback simulator), [`Auth`] (`SSWS` token or OAuth `private_key_jwt`), TLS, proxy,
//!   timeout, page size, rate-limit share.
//! * [`LogSource`] — `next_page()` polls with `since`, then follows `Link: rel="next"`; with a
//!   backfill concurrency K > 1 it first fetches `until`-bounded time slices in parallel and
//!   delivers them in order. Transient failures (5xx, timeouts, resets, truncated bodies, 429)
//!   are retried inside it with capped exponential backoff and full jitter, never advancing
//!   the cursor; what it returns as an error is a halt ([`FetchError::is_halt`]) with a
//!   one-line message naming the org and the fix. Hostile answers are bounded: a body is read
//!   within [`ClientConfig::max_response_body`] while it streams, a 429 whose reset time is
//!   past backs off growing, and a server repeating a page never gets an event delivered twice
//!   ([`RepeatGuard`]) before the source halts.
//! * [`Pacer`] — keeps the request rate within `share × X-Rate-Limit-Limit` per minute, evenly
//!   spaced (waits already reserved are re-spaced once the limit is learned or a 429 holds),
//!   slower when `X-Rate-Limit-Remaining` runs low. [`FetchStats`] counts requests.
//! * [`SourceState`] — the cursor(s) a source resumes from; the checkpoint that stores it next
//!   to the sinks' positions belongs to the pipeline (`oktaflow-pipeline`).
//! * [`Secret`], [`RetryPolicy`], [`TlsConfig`], [`RawEvent`] — from `oktaflow-plumbing`
//!   (redacting secrets, full-jitter backoff, the HTTP/TLS client builder, JSON framing).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use oktaflow_fetch::*;
//! let org = OrgUrl::from_domain("acme.okta.com")?;
//! let config = ClientConfig::new(org, Auth::ApiToken(Secret::new("00abc...")));
//! # fn load_saved_state() -> Option<SourceState> { None }
//! # fn save_state(_: &SourceState) {}
//! let start = match load_saved_state() {
//!     Some(state) => StartPoint::Resume(state),
//!     None => StartPoint::Since(chrono::Utc::now() - chrono::TimeDelta::days(1)),
//! };
//! let mut source = LogSource::new(config, start, SourceOptions::default())?;
//! let page = source.next_page().await?;
//! // ... make page.events durable in the sinks, then save where to resume:
//! save_state(&page.state_after);
//! # Ok(()) }
//! ```

mod auth;
mod body;
mod client;
mod config;
mod error;
mod link;
mod pacer;
mod probe;
mod repeat;
mod source;
mod start_from;
mod state;
mod stats;

pub use client::{ApiEndpoint, ApiPage, OktaClient, PageRequest, RawPage, LOGS_PATH};
pub use config::{
    Auth, ClientConfig, ConfigError, OrgUrl, DEFAULT_MAX_RESPONSE_BODY, DEFAULT_RATE_LIMIT_SHARE,
    DEFAULT_REQUEST_TIMEOUT, LOGS_SCOPE, MAX_PAGE_SIZE, MIN_MAX_RESPONSE_BODY,
};
pub use error::{FetchError, FetchErrorKind};
pub use link::{find_link, parse_link_header, Link};
/// The shared types that appear in this crate's API ([`ClientConfig`], [`Auth`], [`RawPage`]),
/// defined in `oktaflow-plumbing`.
pub use oktaflow_plumbing::{RawEvent, RetryPolicy, Secret, TlsConfig};
pub use pacer::{Pacer, ASSUMED_LIMIT_PER_MINUTE, UNANNOUNCED_LIMIT_PER_MINUTE};
pub use probe::{probe, ProbeOutcome, ProbeStep};
pub use source::{LogSource, SourceOptions, StartPoint, DEFAULT_SETTLE};
pub use start_from::parse_start_from;
pub use state::{BackfillState, Page, RepeatGuard, Seam, SourceState};
pub use stats::{FetchStats, FetchStatsSnapshot};
