//! [`Pacer`]: spreads a source's requests so it stays within its share of Okta's rate limit.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Per-minute limit assumed before the first response announces the real one
/// (Okta's smallest System Log limit class).
pub const ASSUMED_LIMIT_PER_MINUTE: u64 = 60;

/// Paces requests: at most `share × X-Rate-Limit-Limit` per minute, evenly spaced
/// (`60 s / (share × limit)` apart), slower when `X-Rate-Limit-Remaining` shows the org's
/// budget is nearly spent by other clients, and paused after a 429 until the window resets.
///
/// One pacer is shared by all requests of a source (backfill workers included).
#[derive(Debug)]
pub struct Pacer {
    share: f64,
    state: Mutex<PacerState>,
}

#[derive(Debug)]
struct PacerState {
    limit: u64,
    /// Earliest time the next request may start.
    next_slot: Option<Instant>,
    /// No request before this (429 or budget exhausted).
    hold_until: Option<Instant>,
    /// Extra spacing while the org's remaining budget is low: (interval, valid until).
    stretched: Option<(Duration, Instant)>,
}

impl Pacer {
    /// A pacer using `share` (0, 1] of the announced limit.
    pub fn new(share: f64) -> Pacer {
        Pacer {
            share: share.clamp(0.001, 1.0),
            state: Mutex::new(PacerState {
                limit: ASSUMED_LIMIT_PER_MINUTE,
                next_slot: None,
                hold_until: None,
                stretched: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The even spacing for the current limit: `60 s / (share × limit)`.
    pub fn min_interval(&self) -> Duration {
        let limit = self.lock().limit;
        self.base_interval(limit)
    }

    fn base_interval(&self, limit: u64) -> Duration {
        let per_minute = (self.share * limit as f64).max(1.0 / 60.0);
        Duration::from_secs_f64(60.0 / per_minute)
    }

    /// Waits for this request's slot and reserves it. Cancel-safe: a dropped wait only leaves
    /// one slot unused.
    pub async fn acquire(&self) {
        let start = {
            let mut state = self.lock();
            let now = Instant::now();
            let mut start = now;
            if let Some(slot) = state.next_slot {
                start = start.max(slot);
            }
            if let Some(hold) = state.hold_until {
                start = start.max(hold);
            }
            let mut interval = self.base_interval(state.limit);
            if let Some((stretched, until)) = state.stretched {
                if start < until {
                    interval = interval.max(stretched);
                }
            }
            state.next_slot = Some(start + interval);
            start
        };
        tokio::time::sleep_until(start).await;
    }

    /// Learns from a response's rate-limit headers. `reset_in` is the time until the window
    /// resets (from `X-Rate-Limit-Reset`, relative to the server's `Date`).
    pub fn observe(&self, limit: Option<u64>, remaining: Option<u64>, reset_in: Option<Duration>) {
        let mut state = self.lock();
        let now = Instant::now();
        if let Some(limit) = limit.filter(|l| *l > 0) {
            if limit != state.limit {
                // Re-space the already reserved slot for the new limit.
                let old = self.base_interval(state.limit);
                let new = self.base_interval(limit);
                if let Some(last_start) = state.next_slot.and_then(|slot| slot.checked_sub(old)) {
                    state.next_slot = Some(last_start + new);
                }
                state.limit = limit;
            }
        }
        let (Some(remaining), Some(reset_in)) = (remaining, reset_in) else {
            return;
        };
        let reset_at = now + reset_in;
        // Keep a tenth of the org's budget for other integrations and for safety.
        let floor = (state.limit / 10).max(1);
        if remaining <= floor {
            state.hold_until = Some(state.hold_until.map_or(reset_at, |h| h.max(reset_at)));
            state.stretched = None;
        } else {
            let spare = u32::try_from(remaining - floor).unwrap_or(u32::MAX);
            let spread = reset_in / spare;
            state.stretched = Some((spread, reset_at));
        }
    }

    /// Holds every request until `until` (after a 429).
    pub fn hold_until(&self, until: Instant) {
        let mut state = self.lock();
        state.hold_until = Some(state.hold_until.map_or(until, |h| h.max(until)));
    }

    /// The per-minute limit currently assumed.
    pub fn limit(&self) -> u64 {
        self.lock().limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn starts(pacer: &Pacer, n: usize) -> Vec<Duration> {
        let origin = Instant::now();
        let mut out = Vec::new();
        for _ in 0..n {
            pacer.acquire().await;
            out.push(Instant::now() - origin);
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_evenly_for_announced_limit() {
        let pacer = Pacer::new(0.5);
        // Before any response: 60/min assumed, share 0.5 → one request every 2 s.
        assert_eq!(pacer.min_interval(), Duration::from_secs(2));
        pacer.observe(Some(600), Some(600), Some(Duration::from_secs(60)));
        // 600/min × 0.5 = 300/min → 200 ms apart.
        assert_eq!(pacer.min_interval(), Duration::from_millis(200));
        let times = starts(&pacer, 6).await;
        for pair in times.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::from_millis(200), "{times:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_acquirers_share_the_spacing() {
        let pacer = std::sync::Arc::new(Pacer::new(1.0));
        pacer.observe(Some(120), None, None); // 2 per second → 500 ms
        let origin = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..4 {
            let pacer = pacer.clone();
            handles.push(tokio::spawn(async move {
                pacer.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for handle in handles {
            times.push(handle.await.unwrap() - origin);
        }
        times.sort();
        assert_eq!(
            times,
            vec![
                Duration::ZERO,
                Duration::from_millis(500),
                Duration::from_millis(1000),
                Duration::from_millis(1500)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn low_remaining_budget_holds_until_reset() {
        let pacer = Pacer::new(0.5);
        pacer.observe(Some(100), Some(5), Some(Duration::from_secs(20)));
        let times = starts(&pacer, 1).await;
        assert_eq!(times[0], Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn shrinking_remaining_budget_stretches_spacing() {
        let pacer = Pacer::new(0.5);
        // limit 600 → base 200 ms; only 20 left for 30 s, floor 60 → hold.
        // With 110 left: (110 - 60) = 50 requests over 30 s → 600 ms apart.
        pacer.observe(Some(600), Some(110), Some(Duration::from_secs(30)));
        let times = starts(&pacer, 3).await;
        assert_eq!(times[1] - times[0], Duration::from_millis(600));
        assert_eq!(times[2] - times[1], Duration::from_millis(600));
    }

    #[tokio::test(start_paused = true)]
    async fn hold_after_429() {
        let pacer = Pacer::new(0.5);
        pacer.observe(Some(6000), None, None);
        pacer.hold_until(Instant::now() + Duration::from_secs(7));
        let times = starts(&pacer, 2).await;
        assert_eq!(times[0], Duration::from_secs(7));
        assert_eq!(times[1], Duration::from_secs(7) + Duration::from_millis(20));
    }
}
