//! [`LogSource`]: pages of System Log events with the exact state to checkpoint after each.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::client::{OktaClient, PageRequest, RawPage};
use crate::config::{ClientConfig, ConfigError, OrgUrl};
use crate::error::FetchError;
use crate::repeat::RepeatFilter;
use crate::state::{last_published, BackfillState, EventKey, Page, Seam, SourceState};
use crate::stats::FetchStats;
use oktaflow_plumbing::RawEvent;

/// Default settle margin: backfill slices end this long before "now", so events Okta reveals
/// late fall in the polling range.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(600);
/// Pages each backfill slice buffers ahead of delivery. With K workers at most
/// `K × (PREFETCH_PAGES_PER_SLICE + 1)` pages are held (the buffered ones plus one being
/// fetched per worker): 12 pages of 1000 events (≈ 30 MB of JSON) at K = 4.
const PREFETCH_PAGES_PER_SLICE: usize = 2;
/// Slices per worker over the backfill range (more slices → better balance).
const SLICES_PER_WORKER: i64 = 16;

/// Where a new source starts.
#[derive(Debug, Clone)]
pub enum StartPoint {
    /// From a time (the configured `start_from`): polls from it, or backfills from it in
    /// parallel when the backfill concurrency is above 1.
    Since(DateTime<Utc>),
    /// From a checkpointed state.
    Resume(SourceState),
}

/// How a source polls and backfills.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// Wait between polls once caught up (10 s – 1 day in the configuration).
    pub poll_interval: Duration,
    /// Backfill workers K; 1 = pure cursor polling from the start point.
    pub backfill_concurrency: usize,
    /// Backfill slices end at `now - settle`.
    pub settle: Duration,
}

impl Default for SourceOptions {
    fn default() -> SourceOptions {
        SourceOptions {
            poll_interval: Duration::from_secs(60),
            backfill_concurrency: 1,
            settle: DEFAULT_SETTLE,
        }
    }
}

/// Reads one org's System Log as pages, each with the [`SourceState`] to checkpoint once it is
/// durable.
///
/// Polling: the first request uses `since`, every later one follows `rel="next"`. Backfill
/// (K > 1): `[start, now − settle)` is cut into `until`-bounded slices fetched by K workers and
/// delivered in order, then polling continues from the backfill's end.
///
/// Dropping the source stops its backfill workers.
pub struct LogSource {
    client: Arc<OktaClient>,
    state: SourceState,
    options: SourceOptions,
    backfill: Option<BackfillRun>,
    poll_at: Option<Instant>,
    repeats: RepeatFilter,
}

impl std::fmt::Debug for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSource")
            .field("client", &self.client)
            .field("state", &self.state)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LogSource {
    /// Validates the configuration and sets the starting state. No request is made yet.
    pub fn new(
        config: ClientConfig,
        start: StartPoint,
        options: SourceOptions,
    ) -> Result<LogSource, FetchError> {
        if options.backfill_concurrency == 0 {
            return Err(ConfigError::new("backfill_concurrency", "must be at least 1").into());
        }
        if options.poll_interval.is_zero() {
            return Err(ConfigError::new("interval", "must be above zero").into());
        }
        let client = Arc::new(OktaClient::new(config)?);
        let repeats = RepeatFilter::new(client.config().page_size, client.org().label());
        let org = client.org().label().to_string();
        let state = match start {
            StartPoint::Resume(state) => {
                check_resumable(&state, client.org())?;
                state
            }
            StartPoint::Since(since) => initial_state(org, since, Utc::now(), &options),
        };
        Ok(LogSource {
            client,
            state,
            options,
            backfill: None,
            poll_at: None,
            repeats,
        })
    }

    /// The state after the last page returned (fetched, not necessarily durable).
    pub fn state(&self) -> &SourceState {
        &self.state
    }

    /// The org label (`acme.okta.com`).
    pub fn org(&self) -> &str {
        self.client.org().label()
    }

    /// The live request counters.
    pub fn stats(&self) -> Arc<FetchStats> {
        self.client.stats().clone()
    }

    /// The next page. Retries transient failures internally (logged at `warn`); an `Err` is
    /// always a halt ([`FetchError::is_halt`]) and the source must not be polled again.
    ///
    /// When the previous page was caught up, first waits the poll interval.
    ///
    /// Cancel-safe: dropping the future (e.g. in `tokio::select!` on shutdown) loses nothing;
    /// the state only advances when a page is returned, and a later call resumes the wait or
    /// re-requests the same cursor.
    pub async fn next_page(&mut self) -> Result<Page, FetchError> {
        if self.state.backfill.is_some() {
            self.next_backfill_page().await
        } else {
            self.next_polling_page().await
        }
    }

    async fn next_polling_page(&mut self) -> Result<Page, FetchError> {
        if let Some(at) = self.poll_at {
            tokio::time::sleep_until(at).await;
        }
        let request = match &self.state.next {
            Some(next) => PageRequest::Next(next.clone()),
            None => PageRequest::Start {
                since: self.state.since,
                until: None,
            },
        };
        let raw = self.client.fetch(&request).await?;
        let next = raw.next.ok_or_else(|| FetchError::Protocol {
            org: self.org().to_string(),
            detail: "no rel=\"next\" link on a polling page; the System Log API always sends one"
                .into(),
        })?;
        // Short of the `limit` it was fetched with (the client sets every followed link's
        // `limit` to the page size, see `client::with_limit`).
        let page_size = self.client.config().page_size;
        let caught_up = raw.events.len() < page_size as usize;
        let mut state = self.state.clone();
        let client = &self.client;
        let events = filter_seam(raw.events, &mut state.seam, client.stats());
        let events = self.repeats.filter(
            events,
            self.state.next.as_deref(),
            Some(&next),
            &mut state.repeat,
            client.stats(),
        )?;
        state.next = Some(next);
        self.poll_at = caught_up.then(|| Instant::now() + self.options.poll_interval);
        let page = Page {
            last_published: last_published(&events),
            events,
            state_after: state.clone(),
            caught_up,
        };
        self.state = state;
        Ok(page)
    }

    async fn next_backfill_page(&mut self) -> Result<Page, FetchError> {
        let Some(progress) = self.state.backfill.clone() else {
            return self.next_polling_page().await;
        };
        if self.backfill.is_none() {
            info!(
                org = self.org(),
                from = %progress.slice_since,
                to = %progress.end,
                workers = self.options.backfill_concurrency,
                "backfilling in time slices"
            );
            self.backfill = Some(BackfillRun::start(
                self.client.clone(),
                progress.clone(),
                self.options.backfill_concurrency,
            ));
        }
        let run = self
            .backfill
            .as_mut()
            .expect("backfill run was just started");
        let (raw, slice) = run.next().await.map_err(|e| {
            e.unwrap_or_else(|| FetchError::Protocol {
                org: self.client.org().label().to_string(),
                detail: "a backfill worker stopped unexpectedly".into(),
            })
        })?;
        let slice_done = raw.next.is_none() || raw.events.is_empty();
        let mut state = self.state.clone();
        let client = &self.client;
        let events = self.repeats.filter(
            raw.events,
            progress.slice_next.as_deref(),
            raw.next.as_deref(),
            &mut state.repeat,
            client.stats(),
        )?;
        if let Some(seam) = state.seam.as_mut() {
            let from = seam.until - TimeDelta::seconds(seam.settle_seconds as i64);
            if slice.until > from {
                for event in &events {
                    let key = EventKey::of(event);
                    if let (Some(uuid), Some(published)) = (key.uuid, key.published) {
                        if published >= from {
                            seam.ids.push(uuid.into_owned());
                        }
                    }
                }
            }
        }
        if slice_done {
            run.finish_slice();
            if slice.until >= progress.end {
                state.backfill = None;
                state.since = progress.end;
                state.next = None;
                self.backfill = None;
                info!(org = self.org(), until = %progress.end, "backfill done; polling from its end");
            } else {
                let len = TimeDelta::seconds(progress.slice_seconds as i64);
                state.backfill = Some(BackfillState {
                    slice_since: slice.until,
                    slice_until: (slice.until + len).min(progress.end),
                    slice_next: None,
                    ..progress
                });
            }
        } else {
            state.backfill = Some(BackfillState {
                slice_next: raw.next,
                ..progress
            });
        }
        let page = Page {
            last_published: last_published(&events),
            events,
            state_after: state.clone(),
            caught_up: false,
        };
        self.state = state;
        Ok(page)
    }
}

/// The state for a fresh start at `since`.
fn initial_state(
    org: String,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    options: &SourceOptions,
) -> SourceState {
    let settle = TimeDelta::from_std(options.settle).unwrap_or(TimeDelta::minutes(10));
    let end = (now - settle)
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap_or(now - settle);
    let workers = options.backfill_concurrency as i64;
    if workers <= 1 || end - since < TimeDelta::minutes(2) {
        return SourceState::polling(org, since);
    }
    let range = (end - since).num_seconds();
    let slice_seconds = (range / (workers * SLICES_PER_WORKER)).clamp(60, 3600);
    SourceState {
        org,
        backfill: Some(BackfillState {
            end,
            slice_seconds: slice_seconds as u64,
            slice_since: since,
            slice_until: (since + TimeDelta::seconds(slice_seconds)).min(end),
            slice_next: None,
        }),
        since: end,
        next: None,
        seam: Some(Seam {
            until: end,
            settle_seconds: options.settle.as_secs(),
            ids: Vec::new(),
        }),
        repeat: None,
    }
}

fn check_resumable(state: &SourceState, org: &OrgUrl) -> Result<(), FetchError> {
    if !state.belongs_to(org) {
        return Err(ConfigError::new(
            "state_dir",
            format!(
                "the checkpoint belongs to {}, not {}; use another state_dir or source name",
                state.org,
                org.label()
            ),
        )
        .into());
    }
    if let Some(backfill) = &state.backfill {
        if backfill.slice_seconds == 0
            || backfill.slice_since >= backfill.slice_until
            || backfill.slice_until > backfill.end
        {
            return Err(ConfigError::new(
                "state_dir",
                "the checkpoint's backfill slice is inconsistent",
            )
            .into());
        }
    }
    Ok(())
}

/// Drops events the backfill already delivered; clears the seam once polling is past it.
fn filter_seam(
    events: Vec<RawEvent>,
    seam: &mut Option<Seam>,
    stats: &FetchStats,
) -> Vec<RawEvent> {
    let Some(current) = seam.as_ref() else {
        return events;
    };
    let ids: HashSet<&str> = current.ids.iter().map(String::as_str).collect();
    let clear_at = current.until + TimeDelta::seconds(current.settle_seconds as i64);
    let mut past_seam = false;
    let mut kept = Vec::with_capacity(events.len());
    for event in events {
        let key = EventKey::of(&event);
        if key.published.is_some_and(|p| p >= clear_at) {
            past_seam = true;
        }
        if key.uuid.as_deref().is_some_and(|id| ids.contains(id)) {
            stats.record_seam_duplicate();
            debug!(
                uuid = key.uuid.as_deref().unwrap_or(""),
                "skipping event already delivered by the backfill"
            );
            continue;
        }
        kept.push(event);
    }
    drop(ids);
    if past_seam {
        *seam = None;
    }
    kept
}

/// A slice of the backfill range.
#[derive(Debug, Clone)]
struct Slice {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    next: Option<String>,
}

/// A slice being fetched, its pages in order. Holding it holds one of the K window slots.
struct SliceHandle {
    slice: Slice,
    pages: mpsc::Receiver<Result<RawPage, FetchError>>,
    _slot: OwnedSemaphorePermit,
}

/// The running backfill: a dispatcher task hands out slices in order to at most K workers.
struct BackfillRun {
    handles: mpsc::Receiver<SliceHandle>,
    current: Option<SliceHandle>,
    dispatcher: tokio::task::JoinHandle<()>,
}

impl Drop for BackfillRun {
    fn drop(&mut self) {
        self.dispatcher.abort();
    }
}

impl BackfillRun {
    fn start(client: Arc<OktaClient>, progress: BackfillState, workers: usize) -> BackfillRun {
        let (tx, handles) = mpsc::channel(workers);
        let capacity = PREFETCH_PAGES_PER_SLICE;
        let first = Slice {
            since: progress.slice_since,
            until: progress.slice_until,
            next: progress.slice_next.clone(),
        };
        let dispatcher = tokio::spawn(dispatch(client, first, progress, workers, capacity, tx));
        BackfillRun {
            handles,
            current: None,
            dispatcher,
        }
    }

    /// The next page of the current slice (waiting for the slice when needed), with the slice.
    /// `Err(None)` when the workers stopped without a reason. Cancel-safe.
    async fn next(&mut self) -> Result<(RawPage, Slice), Option<FetchError>> {
        if self.current.is_none() {
            self.current = Some(self.handles.recv().await.ok_or(None)?);
        }
        let handle = self.current.as_mut().expect("current slice was just set");
        match handle.pages.recv().await {
            Some(Ok(page)) => Ok((page, handle.slice.clone())),
            Some(Err(error)) => Err(Some(error)),
            None => Err(None),
        }
    }

    /// The current slice is fully delivered: free its window slot.
    fn finish_slice(&mut self) {
        self.current = None;
    }
}

async fn dispatch(
    client: Arc<OktaClient>,
    first: Slice,
    progress: BackfillState,
    workers: usize,
    capacity: usize,
    handles: mpsc::Sender<SliceHandle>,
) {
    let window = Arc::new(Semaphore::new(workers));
    let mut tasks = JoinSet::new();
    let len = TimeDelta::seconds(progress.slice_seconds as i64);
    let mut slice = Some(first);
    while let Some(current) = slice {
        let Ok(slot) = window.clone().acquire_owned().await else {
            return;
        };
        let (tx, rx) = mpsc::channel(capacity);
        tasks.spawn(fetch_slice(client.clone(), current.clone(), tx));
        slice = (current.until < progress.end).then(|| Slice {
            since: current.until,
            until: (current.until + len).min(progress.end),
            next: None,
        });
        let handle = SliceHandle {
            slice: current,
            pages: rx,
            _slot: slot,
        };
        if handles.send(handle).await.is_err() {
            return;
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn fetch_slice(
    client: Arc<OktaClient>,
    slice: Slice,
    pages: mpsc::Sender<Result<RawPage, FetchError>>,
) {
    let mut request = match slice.next {
        Some(next) => PageRequest::Next(next),
        None => PageRequest::Start {
            since: slice.since,
            until: Some(slice.until),
        },
    };
    loop {
        match client.fetch(&request).await {
            Ok(page) => {
                let next = if page.events.is_empty() {
                    None
                } else {
                    page.next.clone()
                };
                if pages.send(Ok(page)).await.is_err() {
                    return;
                }
                match next {
                    Some(next) => request = PageRequest::Next(next),
                    None => return,
                }
            }
            Err(error) => {
                let _ = pages.send(Err(error)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn k1_is_pure_polling() {
        let state = initial_state(
            "o".into(),
            t("2024-01-01T00:00:00Z"),
            t("2024-01-02T00:00:00Z"),
            &SourceOptions::default(),
        );
        assert_eq!(state, SourceState::polling("o", t("2024-01-01T00:00:00Z")));
    }

    #[test]
    fn backfill_slices_end_before_now_minus_settle() {
        let options = SourceOptions {
            backfill_concurrency: 4,
            ..SourceOptions::default()
        };
        let state = initial_state(
            "o".into(),
            t("2024-01-01T00:00:00Z"),
            t("2024-01-02T00:10:00.250Z"),
            &options,
        );
        let backfill = state.backfill.unwrap();
        assert_eq!(backfill.end, t("2024-01-02T00:00:00Z"));
        assert_eq!(backfill.slice_seconds, 86_400 / 64);
        assert_eq!(backfill.slice_since, t("2024-01-01T00:00:00Z"));
        assert_eq!(backfill.slice_until, t("2024-01-01T00:22:30Z"));
        assert_eq!(state.since, backfill.end);
        assert_eq!(state.seam.unwrap().until, backfill.end);
    }

    #[test]
    fn short_range_skips_backfill() {
        let options = SourceOptions {
            backfill_concurrency: 4,
            ..SourceOptions::default()
        };
        let state = initial_state(
            "o".into(),
            t("2024-01-01T23:55:00Z"),
            t("2024-01-02T00:00:00Z"),
            &options,
        );
        assert!(state.backfill.is_none());
    }

    #[test]
    fn seam_filter_skips_known_ids_and_clears() {
        let stats = FetchStats::new();
        let mut seam = Some(Seam {
            until: t("2024-01-01T00:00:00Z"),
            settle_seconds: 600,
            ids: vec!["dup".into()],
        });
        let events = oktaflow_plumbing::split_events(&bytes::Bytes::from_static(
            br#"[{"uuid":"dup","published":"2023-12-31T23:59:59Z"},{"uuid":"new","published":"2024-01-01T00:00:01Z"}]"#,
        ))
        .unwrap();
        let kept = filter_seam(events, &mut seam, &stats);
        assert_eq!(kept.len(), 1);
        assert!(kept[0].text().contains("\"new\""));
        assert!(seam.is_some());
        assert_eq!(stats.snapshot().seam_duplicates, 1);
        let events = oktaflow_plumbing::split_events(&bytes::Bytes::from_static(
            br#"[{"uuid":"later","published":"2024-01-01T00:10:00Z"}]"#,
        ))
        .unwrap();
        assert_eq!(filter_seam(events, &mut seam, &stats).len(), 1);
        assert!(seam.is_none());
    }

    #[test]
    fn resume_checks_org() {
        let org = |url: &str| OrgUrl::from_base_url(url).unwrap();
        let state = SourceState::polling("acme.okta.com", t("2024-01-01T00:00:00Z"));
        assert!(check_resumable(&state, &org("https://ACME.okta.com")).is_ok());
        let err = check_resumable(&state, &org("https://other.okta.com")).unwrap_err();
        assert!(
            err.to_string().contains("belongs to acme.okta.com"),
            "{err}"
        );
        let local = SourceState::polling("127.0.0.1:8080", t("2024-01-01T00:00:00Z"));
        assert!(check_resumable(&local, &org("http://127.0.0.1:8080")).is_ok());
        // Another port is another server: two orgs (or simulators) on one host.
        assert!(check_resumable(&local, &org("http://127.0.0.1:8081")).is_err());
        assert!(check_resumable(&local, &org("http://127.0.0.1")).is_err());
        let v6 = SourceState::polling("[::1]:8080", t("2024-01-01T00:00:00Z"));
        assert!(check_resumable(&v6, &org("http://[::1]:8080")).is_ok());
    }
}
