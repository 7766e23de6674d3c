//! [`FetchStats`]: counters of one source's requests, readable by the pipeline (and metrics later).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Live counters shared by a source's requests. Read them with [`FetchStats::snapshot`].
#[derive(Debug, Default)]
pub struct FetchStats {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    events: AtomicU64,
    pages: AtomicU64,
    token_requests: AtomicU64,
    seam_duplicates: AtomicU64,
    repeat_duplicates: AtomicU64,
    /// -1 until a response announced `X-Rate-Limit-Remaining`.
    last_remaining: AtomicI64,
    by_status: Mutex<BTreeMap<u16, u64>>,
}

/// A point-in-time copy of [`FetchStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FetchStatsSnapshot {
    /// HTTP requests sent to the System Log API (including retried ones).
    pub requests: u64,
    /// Responses by HTTP status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Retries after transient failures (including 429s).
    pub retries: u64,
    /// HTTP 429 answers received.
    pub rate_limited: u64,
    /// Events received in successful pages.
    pub events: u64,
    /// Successful pages received.
    pub pages: u64,
    /// OAuth access-token requests.
    pub token_requests: u64,
    /// Events skipped at the backfill→polling seam because the backfill already delivered them.
    pub seam_duplicates: u64,
    /// Events skipped because a server that did not advance its next link sent them again.
    pub repeat_duplicates: u64,
    /// The last `X-Rate-Limit-Remaining` seen.
    pub last_rate_limit_remaining: Option<u64>,
}

impl FetchStats {
    /// Fresh counters.
    pub fn new() -> FetchStats {
        FetchStats {
            last_remaining: AtomicI64::new(-1),
            ..FetchStats::default()
        }
    }

    pub(crate) fn record_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_status(&self, status: u16) {
        if status == 429 {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        let mut map = self.by_status.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(status).or_insert(0) += 1;
    }

    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_page(&self, events: usize) {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_token_request(&self) {
        self.token_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_repeat_duplicates(&self, count: usize) {
        self.repeat_duplicates
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn record_seam_duplicate(&self) {
        self.seam_duplicates.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_remaining(&self, remaining: u64) {
        self.last_remaining.store(
            i64::try_from(remaining).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
    }

    /// A consistent-enough copy of all counters.
    pub fn snapshot(&self) -> FetchStatsSnapshot {
        let remaining = self.last_remaining.load(Ordering::Relaxed);
        FetchStatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            by_status: self
                .by_status
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            pages: self.pages.load(Ordering::Relaxed),
            token_requests: self.token_requests.load(Ordering::Relaxed),
            seam_duplicates: self.seam_duplicates.load(Ordering::Relaxed),
            repeat_duplicates: self.repeat_duplicates.load(Ordering::Relaxed),
            last_rate_limit_remaining: u64::try_from(remaining).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let stats = FetchStats::new();
        assert_eq!(stats.snapshot().last_rate_limit_remaining, None);
        stats.record_request();
        stats.record_status(200);
        stats.record_request();
        stats.record_status(429);
        stats.record_retry();
        stats.record_page(3);
        stats.record_remaining(17);
        let snap = stats.snapshot();
        assert_eq!(snap.requests, 2);
        assert_eq!(snap.by_status.get(&200), Some(&1));
        assert_eq!(snap.by_status.get(&429), Some(&1));
        assert_eq!(snap.rate_limited, 1);
        assert_eq!(snap.retries, 1);
        assert_eq!(snap.events, 3);
        assert_eq!(snap.last_rate_limit_remaining, Some(17));
    }
}
