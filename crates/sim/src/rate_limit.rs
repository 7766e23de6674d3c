//! Okta-style per-minute rate limiting of `/api/v1/logs`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Okta's rate-limit window.
#[cfg(test)]
const WINDOW: Duration = Duration::from_secs(60);

/// What the `X-Rate-Limit-*` headers of one response say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateStatus {
    /// `X-Rate-Limit-Limit`
    pub(crate) limit: u32,
    /// `X-Rate-Limit-Remaining`
    pub(crate) remaining: u32,
    /// `X-Rate-Limit-Reset`: UTC epoch seconds when the window resets.
    pub(crate) reset_epoch: u64,
    /// Whether this request is refused (429).
    pub(crate) exceeded: bool,
}

/// A fixed window (Okta: one minute) that starts with the first request after the previous
/// one ended.
pub(crate) struct RateLimiter {
    limit: u32,
    others_per_minute: u32,
    length: Duration,
    /// Start of the current window and its `X-Rate-Limit-Reset` (epoch seconds, rounded up so
    /// a client waiting for it never comes back before the window really ended).
    window: Option<(Instant, u64)>,
    used: u32,
}

impl RateLimiter {
    /// `limit` requests per window of `length`, of which `others_per_minute` (per window) are
    /// spent by other integrations.
    pub(crate) fn new(limit: u32, others_per_minute: u32, length: Duration) -> Self {
        RateLimiter {
            limit,
            others_per_minute,
            length,
            window: None,
            used: 0,
        }
    }

    /// Requests counted in the current window.
    pub(crate) fn used(&self) -> u32 {
        self.used
    }

    /// Counts one request (unless refused) and reports the budget left.
    pub(crate) fn check(&mut self, now: Instant) -> RateStatus {
        let (start, reset_epoch) = match self.window {
            Some((start, reset)) if now.duration_since(start) < self.length => (start, reset),
            _ => {
                let end = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    + self.length;
                let reset = end.as_secs() + u64::from(end.subsec_nanos() > 0);
                self.window = Some((now, reset));
                self.used = 0;
                (now, reset)
            }
        };
        let elapsed = now.duration_since(start).as_secs_f64() / self.length.as_secs_f64();
        let others = (f64::from(self.others_per_minute) * elapsed.min(1.0)) as u32;
        let available = self.limit.saturating_sub(others).saturating_sub(self.used);
        let exceeded = available == 0;
        if !exceeded {
            self.used += 1;
        }
        RateStatus {
            limit: self.limit,
            remaining: available.saturating_sub(1),
            reset_epoch,
            exceeded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_limit_until_the_window_resets() {
        let mut limiter = RateLimiter::new(3, 0, WINDOW);
        let t0 = Instant::now();
        let statuses: Vec<_> = (0..4).map(|_| limiter.check(t0)).collect();
        assert_eq!(
            statuses.iter().map(|s| s.remaining).collect::<Vec<_>>(),
            [2, 1, 0, 0]
        );
        assert_eq!(
            statuses.iter().map(|s| s.exceeded).collect::<Vec<_>>(),
            [false, false, false, true]
        );
        assert!(statuses
            .iter()
            .all(|s| s.reset_epoch == statuses[0].reset_epoch && s.limit == 3));
        let later = limiter.check(t0 + WINDOW);
        assert!(!later.exceeded);
        assert_eq!(later.remaining, 2);
    }

    #[test]
    fn other_integrations_consume_budget_over_the_window() {
        let mut limiter = RateLimiter::new(10, 6, WINDOW);
        let t0 = Instant::now();
        assert_eq!(limiter.check(t0).remaining, 9);
        // Half-way through the window the others have spent 3.
        let status = limiter.check(t0 + WINDOW / 2);
        assert_eq!(status.remaining, 10 - 3 - 2);
    }

    #[test]
    fn short_window_resets_sooner_and_never_announces_an_early_reset() {
        let length = Duration::from_secs(2);
        let mut limiter = RateLimiter::new(1, 0, length);
        let t0 = Instant::now();
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let first = limiter.check(t0);
        assert!(!first.exceeded);
        assert!(limiter.check(t0 + Duration::from_secs(1)).exceeded);
        // The reset is the window's end rounded up to a whole second.
        assert!(Duration::from_secs(first.reset_epoch) >= before + length);
        assert!(first.reset_epoch <= (before + length).as_secs() + 2);
        assert!(!limiter.check(t0 + length).exceeded);
    }
}
