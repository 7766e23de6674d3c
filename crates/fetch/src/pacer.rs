//! [`Pacer`]: spreads a source's requests so it stays within its share of Okta's rate limit.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Per-minute limit assumed before the first response announces the real one
/// (Okta's smallest System Log limit class). It only spaces the requests reserved before that
/// response: they are re-spaced as soon as a response arrives.
pub const ASSUMED_LIMIT_PER_MINUTE: u64 = 60;

/// Per-minute limit used when responses carry no `X-Rate-Limit-Limit` at all (Okta always sends
/// it; a plain HTTP server or the simulator without a limit does not). Pacing then stays at
/// `share ×` this rate (10 requests/s at the default share 0.5), and a 429 still holds every
/// request until the window resets.
pub const UNANNOUNCED_LIMIT_PER_MINUTE: u64 = 1200;

/// Paces requests: at most `share × X-Rate-Limit-Limit` per minute, evenly spaced
/// (`60 s / (share × limit)` apart), slower when `X-Rate-Limit-Remaining` shows the org's
/// budget is nearly spent by other clients, and paused after a 429 until the window resets.
///
/// Until the first response, [`ASSUMED_LIMIT_PER_MINUTE`] applies; when a response announces
/// another limit (or none: [`UNANNOUNCED_LIMIT_PER_MINUTE`]), or a 429 or an exhausted budget
/// holds requests, the waits already reserved are re-spaced from the last request that
/// started, so requests stay evenly spread at the new interval without a burst.
///
/// One pacer is shared by all requests of a source (backfill workers included).
#[derive(Debug)]
pub struct Pacer {
    share: f64,
    state: Mutex<PacerState>,
    /// Wakes the reserved waits so they reserve again (limit learned, hold extended).
    respaced: Notify,
}

/// Where the current limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LimitOrigin {
    /// No response yet: [`ASSUMED_LIMIT_PER_MINUTE`].
    Assumed,
    /// Responses so far had no `X-Rate-Limit-Limit`: [`UNANNOUNCED_LIMIT_PER_MINUTE`].
    Unannounced,
    /// From `X-Rate-Limit-Limit`.
    Announced,
}

#[derive(Debug)]
struct PacerState {
    limit: u64,
    origin: LimitOrigin,
    /// Earliest time the next request may start.
    next_slot: Option<Instant>,
    /// Start of the latest request that went out.
    last_start: Option<Instant>,
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
                origin: LimitOrigin::Assumed,
                next_slot: None,
                last_start: None,
                hold_until: None,
                stretched: None,
            }),
            respaced: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PacerState> {
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

    /// The spacing after a request starting at `start`: the even spacing, or more while the
    /// remaining budget is low.
    fn interval_after(&self, state: &PacerState, start: Instant) -> Duration {
        let interval = self.base_interval(state.limit);
        match state.stretched {
            Some((stretched, until)) if start < until => interval.max(stretched),
            _ => interval,
        }
    }

    /// Waits for this request's slot and reserves it. Cancel-safe: a dropped wait only leaves
    /// one slot unused.
    pub async fn acquire(&self) {
        loop {
            // Created before reserving, so a re-spacing after the reservation wakes it.
            let respaced = self.respaced.notified();
            let start = self.reserve();
            tokio::select! {
                () = tokio::time::sleep_until(start) => {
                    self.started(start);
                    return;
                }
                () = respaced => {}
            }
        }
    }

    /// Reserves the earliest free slot.
    fn reserve(&self) -> Instant {
        let mut state = self.lock();
        let mut start = Instant::now();
        if let Some(slot) = state.next_slot {
            start = start.max(slot);
        }
        if let Some(hold) = state.hold_until {
            start = start.max(hold);
        }
        state.next_slot = Some(start + self.interval_after(&state, start));
        start
    }

    /// A request reserved for `start` goes out now.
    fn started(&self, start: Instant) {
        let mut state = self.lock();
        state.last_start = Some(state.last_start.map_or(start, |last| last.max(start)));
        let after = start + self.interval_after(&state, start);
        state.next_slot = Some(state.next_slot.map_or(after, |slot| slot.max(after)));
    }

    /// Drops the reserved slots: the next one follows the last request that started, and every
    /// reserved wait is woken to reserve again.
    fn respace(&self, mut state: MutexGuard<'_, PacerState>) {
        state.next_slot = state
            .last_start
            .map(|last| last + self.interval_after(&state, last));
        drop(state);
        self.respaced.notify_waiters();
    }

    /// Learns from a response's rate-limit headers. `reset_in` is the time until the window
    /// resets (from `X-Rate-Limit-Reset`, relative to the server's `Date`).
    ///
    /// Without `X-Rate-Limit-Limit` the limit stays as it is once announced; before that,
    /// [`UNANNOUNCED_LIMIT_PER_MINUTE`] applies.
    pub fn observe(&self, limit: Option<u64>, remaining: Option<u64>, reset_in: Option<Duration>) {
        let mut state = self.lock();
        let now = Instant::now();
        let mut respace = false;
        let learned = match limit.filter(|l| *l > 0) {
            Some(limit) => Some((limit, LimitOrigin::Announced)),
            None if state.origin == LimitOrigin::Assumed => {
                Some((UNANNOUNCED_LIMIT_PER_MINUTE, LimitOrigin::Unannounced))
            }
            None => None,
        };
        if let Some((limit, origin)) = learned {
            respace = limit != state.limit;
            state.limit = limit;
            state.origin = origin;
        }
        if let (Some(remaining), Some(reset_in)) = (remaining, reset_in) {
            let reset_at = now + reset_in;
            // Keep a tenth of the org's budget for other integrations and for safety.
            let floor = (state.limit / 10).max(1);
            if remaining <= floor {
                respace |= state.hold_until.is_none_or(|hold| hold < reset_at);
                state.hold_until = Some(state.hold_until.map_or(reset_at, |h| h.max(reset_at)));
                state.stretched = None;
            } else {
                let spare = u32::try_from(remaining - floor).unwrap_or(u32::MAX);
                let spread = reset_in / spare;
                state.stretched = Some((spread, reset_at));
            }
        }
        if respace {
            self.respace(state);
        }
    }

    /// Holds every request until `until` (after a 429), the waits already reserved included.
    pub fn hold_until(&self, until: Instant) {
        let mut state = self.lock();
        if state.hold_until.is_some_and(|hold| hold >= until) {
            return;
        }
        state.hold_until = Some(until);
        self.respace(state);
    }

    /// The per-minute limit currently assumed.
    pub fn limit(&self) -> u64 {
        self.lock().limit
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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

    /// Spawns `n` tasks that each acquire one slot; returns their handles (start offsets).
    fn spawn_acquirers(
        pacer: &Arc<Pacer>,
        origin: Instant,
        n: usize,
    ) -> Vec<tokio::task::JoinHandle<Duration>> {
        (0..n)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.acquire().await;
                    Instant::now() - origin
                })
            })
            .collect()
    }

    async fn sorted(handles: Vec<tokio::task::JoinHandle<Duration>>) -> Vec<Duration> {
        let mut times = Vec::new();
        for handle in handles {
            times.push(handle.await.unwrap());
        }
        times.sort();
        times
    }

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
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
        let pacer = Arc::new(Pacer::new(1.0));
        pacer.observe(Some(120), None, None); // 2 per second → 500 ms
        let handles = spawn_acquirers(&pacer, Instant::now(), 4);
        assert_eq!(sorted(handles).await, ms(&[0, 500, 1000, 1500]));
    }

    #[tokio::test(start_paused = true)]
    async fn first_response_respaces_the_reserved_waits() {
        let pacer = Arc::new(Pacer::new(0.5));
        let origin = Instant::now();
        // Four workers before any response: reserved at 0, 2, 4 and 6 s (60/min assumed).
        let handles = spawn_acquirers(&pacer, origin, 4);
        // The first response arrives after 50 ms and announces 600/min → 200 ms apart,
        // counted from the request that already went out at 0.
        tokio::time::sleep(Duration::from_millis(50)).await;
        pacer.observe(Some(600), Some(599), Some(Duration::from_secs(60)));
        assert_eq!(sorted(handles).await, ms(&[0, 200, 400, 600]));
        // Later requests continue the same spacing (the last one started at 600 ms).
        assert_eq!(starts(&pacer, 1).await[0], Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn respacing_after_a_pause_does_not_burst() {
        let pacer = Arc::new(Pacer::new(1.0));
        pacer.observe(Some(60), None, None); // 1 s apart
        pacer.acquire().await; // at 0
        tokio::time::sleep(Duration::from_secs(30)).await;
        let origin = Instant::now();
        let handles = spawn_acquirers(&pacer, origin, 3);
        tokio::time::sleep(Duration::from_millis(10)).await;
        // A higher limit (4 per second) while three waits are reserved 1 s apart: one goes at
        // once (the last request was long ago), the others 250 ms apart, not all together.
        pacer.observe(Some(240), None, None);
        assert_eq!(sorted(handles).await, ms(&[0, 250, 500]));
    }

    #[tokio::test(start_paused = true)]
    async fn steady_state_reaches_the_share_and_never_exceeds_it() {
        // Org limit 600/min, share 0.5 → 300/min; four workers, 50 ms per response, each
        // response announcing the window's remaining budget like Okta does.
        let pacer = Arc::new(Pacer::new(0.5));
        let origin = Instant::now();
        let window = Duration::from_secs(60);
        let sent = Arc::new(Mutex::new(Vec::new()));
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (pacer, sent) = (pacer.clone(), sent.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    pacer.acquire().await;
                    let at = Instant::now() - origin;
                    if at >= window {
                        return;
                    }
                    let used = {
                        let mut sent = sent.lock().unwrap();
                        sent.push(at);
                        sent.len() as u64
                    };
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let reset_in = window.saturating_sub(Instant::now() - origin);
                    pacer.observe(Some(600), Some(600 - used), Some(reset_in));
                }
            }));
        }
        for worker in workers {
            worker.await.unwrap();
        }
        let mut sent = sent.lock().unwrap().clone();
        sent.sort();
        // At most 300 in the minute, evenly spread, and at least 95 % of them.
        assert!(sent.len() <= 300, "{} requests", sent.len());
        assert!(sent.len() >= 285, "{} requests", sent.len());
        for pair in sent.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(200), "{pair:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn responses_without_rate_limit_headers_use_the_unannounced_default() {
        let pacer = Pacer::new(0.5);
        pacer.observe(None, None, None);
        assert_eq!(pacer.limit(), UNANNOUNCED_LIMIT_PER_MINUTE);
        // 1200/min × 0.5 = 600/min → 100 ms apart.
        assert_eq!(pacer.min_interval(), Duration::from_millis(100));
        let times = starts(&pacer, 3).await;
        assert_eq!(times, ms(&[0, 100, 200]));
        // Once a limit was announced, a response without headers (say, from a proxy) keeps it.
        pacer.observe(Some(120), None, None);
        pacer.observe(None, None, None);
        assert_eq!(pacer.limit(), 120);
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

    #[tokio::test(start_paused = true)]
    async fn a_429_also_holds_the_waits_already_reserved() {
        let pacer = Arc::new(Pacer::new(1.0));
        pacer.observe(Some(120), None, None); // 500 ms apart
        let origin = Instant::now();
        let handles = spawn_acquirers(&pacer, origin, 3); // reserved at 0, 0.5, 1 s
        tokio::time::sleep(Duration::from_millis(100)).await;
        pacer.hold_until(Instant::now() + Duration::from_secs(5));
        assert_eq!(sorted(handles).await, ms(&[0, 5100, 5600]));
    }
}
