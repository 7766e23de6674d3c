//! Request counters, readable through [`crate::SimHandle::stats`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::config::FaultKind;

/// A snapshot of what the simulator has served.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// HTTP requests received (all paths).
    pub requests: u64,
    /// Responses by HTTP status (dropped connections are not responses).
    pub by_status: BTreeMap<u16, u64>,
    /// 429 responses.
    pub rate_limited: u64,
    /// Injected faults by kind.
    pub faults: BTreeMap<FaultKind, u64>,
    /// OAuth access tokens issued.
    pub tokens_issued: u64,
    /// Successful `/api/v1/logs` pages (200), including empty ones.
    pub pages_served: u64,
    /// Events in those pages (counting repeats).
    pub events_served: u64,
}

impl SimStats {
    /// Total injected faults of every kind.
    pub fn faults_injected(&self) -> u64 {
        self.faults.values().sum()
    }
}

/// Live counters.
#[derive(Default)]
pub(crate) struct StatsCounters {
    requests: AtomicU64,
    tokens_issued: AtomicU64,
    pages_served: AtomicU64,
    events_served: AtomicU64,
    by_status: Mutex<BTreeMap<u16, u64>>,
    faults: Mutex<BTreeMap<FaultKind, u64>>,
}

impl StatsCounters {
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn status(&self, status: u16) {
        if let Ok(mut map) = self.by_status.lock() {
            *map.entry(status).or_default() += 1;
        }
    }

    pub(crate) fn fault(&self, kind: FaultKind) {
        if let Ok(mut map) = self.faults.lock() {
            *map.entry(kind).or_default() += 1;
        }
    }

    pub(crate) fn token_issued(&self) {
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn page(&self, events: usize) {
        self.pages_served.fetch_add(1, Ordering::Relaxed);
        self.events_served
            .fetch_add(events as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> SimStats {
        let by_status = self.by_status.lock().map(|m| m.clone()).unwrap_or_default();
        SimStats {
            requests: self.requests.load(Ordering::Relaxed),
            rate_limited: by_status.get(&429).copied().unwrap_or(0),
            by_status,
            faults: self.faults.lock().map(|m| m.clone()).unwrap_or_default(),
            tokens_issued: self.tokens_issued.load(Ordering::Relaxed),
            pages_served: self.pages_served.load(Ordering::Relaxed),
            events_served: self.events_served.load(Ordering::Relaxed),
        }
    }
}
