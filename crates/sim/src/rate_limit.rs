//! Okta-style per-minute rate limiting of `/api/v1/logs`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// A fixed one-minute window that starts with the first request after the previous one ended.
pub(crate) struct RateLimiter {
    limit: u32,
    others_per_minute: u32,
    window: Option<(Instant, u64)>,
    used: u32,
}

impl RateLimiter {
    /// `limit` requests per minute, of which `others_per_minute` are spent by other integrations.
    pub(crate) fn new(limit: u32, others_per_minute: u32) -> Self {
        RateLimiter {
            limit,
            others_per_minute,
            window: None,
            used: 0,
        }
    }

    /// Counts one request (unless refused) and reports the budget left.
    pub(crate) fn check(&mut self, now: Instant) -> RateStatus {
        let (start, start_epoch) = match self.window {
            Some((start, epoch)) if now.duration_since(start) < WINDOW => (start, epoch),
            _ => {
                let epoch = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                self.window = Some((now, epoch));
                self.used = 0;
                (now, epoch)
            }
        };
        let elapsed = now.duration_since(start).as_secs_f64() / WINDOW.as_secs_f64();
        let others = (f64::from(self.others_per_minute) * elapsed.min(1.0)) as u32;
        let available = self.limit.saturating_sub(others).saturating_sub(self.used);
        let exceeded = available == 0;
        if !exceeded {
            self.used += 1;
        }
        RateStatus {
            limit: self.limit,
            remaining: available.saturating_sub(1),
            reset_epoch: start_epoch + WINDOW.as_secs(),
            exceeded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_limit_until_the_window_resets() {
        let mut limiter = RateLimiter::new(3, 0);
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
        let mut limiter = RateLimiter::new(10, 6);
        let t0 = Instant::now();
        assert_eq!(limiter.check(t0).remaining, 9);
        // Half-way through the window the others have spent 3.
        let status = limiter.check(t0 + WINDOW / 2);
        assert_eq!(status.remaining, 10 - 3 - 2);
    }
}
