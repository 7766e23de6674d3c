//! # oktaflow-sim: an Okta System Log API simulator
//!
//! An in-process HTTP server that behaves like Okta's `GET /api/v1/logs` for
//! testing, demos and benchmarks of System Log collectors:
//!
//! * **Realistic, seeded events** ([`generate::EventGenerator`]): the event
//!   families of a real org, ~2.5 KB each, same seed → same events (uuids too).
//! * **Okta pagination**: `since`, `until`, `after`, `limit` (default 100, max
//!   1000), `sortOrder=ASCENDING`; opaque `after` cursors; `Link: <..>; rel="self"`
//!   and `rel="next"`. In *polling* mode (no `until`) events come in visibility
//!   order and a `next` link is always present, also on an empty page; in
//!   *bounded* mode (`until` given) events come in `(published, uuid)` order and
//!   `next` is present only while more remain.
//! * **Late events**: a share of events becomes visible some time after its
//!   `published`, so a collector resuming from the last `published` loses them
//!   while one following the cursor does not. [`SimHandle::delivered_order`] is
//!   the exact sequence a correct collector receives.
//! * **Live events**, **rate limits** (`X-Rate-Limit-*`, 429 `E0000047`),
//!   **auth** (`SSWS` token, OAuth 2.0 `private_key_jwt` client credentials at
//!   `POST /oauth2/v1/token`, bearer tokens), a **wrong-domain** 404, and
//!   **fault injection** (500, 503, dropped connection, slow response, truncated
//!   body) that never changes the simulator's state.
//! * **Log Streaming** ([`stream::LogStream`]): the org's events pushed as AWS EventBridge
//!   envelopes to a receiver URL, in simulated time, with duplicates, reordering, delays and
//!   stream outages (optionally with the stream's own lifecycle events), while the System Log
//!   (`/api/v1/logs`) holds every event: the ground truth.
//!
//! ```no_run
//! # async fn demo() -> Result<(), oktaflow_sim::SimError> {
//! use oktaflow_sim::{SimConfig, Simulator};
//! let config = SimConfig { events: 50_000, live_events_per_sec: 5.0, ..SimConfig::default() };
//! let sim = Simulator::start(config, "127.0.0.1:0".parse().expect("literal address")).await?;
//! println!("Okta org at {} (Authorization: SSWS {})", sim.base_url(), sim.config().api_token);
//! // ... run a collector, then compare what it wrote with:
//! let expected = sim.delivered_order();
//! # let _ = expected;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## What a collector sees (contract for `oktaflow-fetch` and its tests)
//!
//! * **Auth**: `Authorization: SSWS <SimConfig::api_token>`, or `Bearer <token>`
//!   from `POST /oauth2/v1/token` (form: `grant_type=client_credentials`,
//!   `scope=okta.logs.read`, `client_assertion_type=`[`ASSERTION_TYPE`],
//!   `client_assertion=<JWT>`; RS256/RS384/RS512 or ES256; `iss` = `sub` =
//!   client id, `aud` = `<base_url>/oauth2/v1/token`, `exp` at most 1 h ahead,
//!   a `jti` never used before). Token errors are OAuth JSON
//!   (`{"error":"invalid_client"|"invalid_scope"|"unsupported_grant_type","error_description":..}`).
//!   An unknown/expired bearer token gets 401 `E0000011`, one without
//!   `okta.logs.read` 403 `E0000006`, both with a `WWW-Authenticate: Bearer ...
//!   error="invalid_token"|"insufficient_scope"` header.
//! * **Links**: every 200 carries `Link: <URL>; rel="self"` (the request URL) and,
//!   as a separate `Link` header, `<URL>; rel="next"`. URLs are absolute,
//!   `http://<Host header>/api/v1/logs?...`. Polling next links are
//!   `...?after=<cursor>&limit=<n>`; bounded ones
//!   `...?since=<t>&until=<t>&after=<cursor>&limit=<n>`. Follow them verbatim.
//! * **Cursors** are opaque base64url strings, checksummed with a salt derived
//!   from the seed: a forged or foreign cursor gets 400 `E0000001`. A polling
//!   cursor encodes the position in the visibility order *and* the original
//!   `since`, so a `since` sent together with `after` is ignored. Cursors stay
//!   valid for the simulator's whole life (no expiry), so a collector may resume
//!   from a checkpointed cursor after a crash.
//! * **Polling** (no `until`): events with `published >= since` (default: 7 days
//!   ago) in visibility order; a page is "caught up" when it holds fewer than
//!   `limit` events; the next link of an empty page points at the same position.
//! * **Rate limit** (only when [`SimConfig::rate_limit_per_minute`] is set): every
//!   authenticated `/api/v1/logs` response carries `X-Rate-Limit-Limit`,
//!   `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (UTC epoch seconds when the
//!   one-minute window that began with its first request ends); when spent, 429
//!   `E0000047`. Without a configured limit the headers are absent.
//! * **Faults** (probability [`SimConfig::fault_rate`], after auth and rate
//!   limiting): 500 `E0000009`, 503 `E0000010`, a connection closed with no
//!   response, a response delayed by [`FaultKinds::slow_delay`], or a 200 whose
//!   `Content-Length` promises the page but whose body stops half-way. The
//!   simulator keeps no per-client state, so retrying the same URL is always safe.
//! * **Expected output**: [`SimHandle::delivered_order`] lists every visible
//!   event's uuid in the order a cursor follower starting at or before
//!   [`SimHandle::oldest_published`] receives them.
//!
//! Errors from `/api/v1/logs` use Okta's JSON error body (`errorCode`,
//! `errorSummary`, `errorLink`, `errorId`, `errorCauses`): 400 `E0000001`
//! (bad `limit`/`sortOrder`/`after`), 400 `E0000030` (bad `since`/`until`),
//! 401 `E0000011`, 403 `E0000006`, 404 `E0000007`, 429 `E0000047`,
//! 500 `E0000009`, 503 `E0000010`.

pub mod attacks;
mod config;
mod cursor;
mod directory;
mod error;
pub mod generate;
mod generate_ids;
mod oauth;
mod okta_error;
mod rate_limit;
mod rng;
mod server;
mod stats;
mod store;
pub mod stream;

pub use attacks::{AttackScenarios, Control, ExpectedAlert};
pub use config::{FaultKind, FaultKinds, SimConfig};
pub use error::SimError;
pub use oauth::{OAuthClientConfig, ASSERTION_TYPE, LOGS_SCOPE};
pub use server::{SimHandle, Simulator, SystemLog, DEFAULT_LIMIT, MAX_LIMIT};
pub use stats::SimStats;
pub use stream::{LogStream, Outage, StreamConfig, StreamReport};
