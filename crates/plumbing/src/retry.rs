//! [`RetryPolicy`] and [`Backoff`]: capped exponential backoff with full jitter, the one
//! retry rule of oktaflow (the Okta client's retries of pages, the pipeline's retries of a
//! sink, a sink's own resends of items).
//!
//! Retry number `n` (0-based) waits a uniformly random time in `[0, min(cap, base × 2^n)]`.
//! "Full jitter" spreads the retries of many clients over the whole window, so they do not
//! come back in lockstep after an outage; the ceiling doubles so a long outage is probed
//! rarely, and the cap bounds the wait.

use std::time::Duration;

use rand::Rng;

/// Retry timing for transient failures (5xx, timeouts, resets, bad bodies):
/// capped exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Ceiling of the first delay.
    pub base: Duration,
    /// Largest ceiling.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 500 ms, doubling up to 60 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
        }
    }
}

/// Delays for successive retries: attempt `n` waits a uniformly random time in
/// `[0, min(cap, base × 2^n)]` ("full jitter"), so many clients do not retry in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff (next delay uses attempt 0).
    pub fn new(policy: RetryPolicy) -> Backoff {
        Backoff { policy, attempt: 0 }
    }

    /// The upper bound of the delay for retry number `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.policy.base.saturating_mul(factor).min(self.policy.cap)
    }

    /// The delay before the next retry, drawn with `rng`; advances the attempt counter.
    pub fn next_delay<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Duration {
        let ceiling = self.ceiling(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.random_range(0..=millis))
    }

    /// The delay before the next retry, drawn from the thread's random generator.
    pub fn next_random_delay(&mut self) -> Duration {
        self.next_delay(&mut rand::rng())
    }

    /// How many delays were handed out.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
        }
    }

    #[test]
    fn ceilings_double_then_cap() {
        let backoff = Backoff::new(policy());
        assert_eq!(backoff.ceiling(0), Duration::from_millis(500));
        assert_eq!(backoff.ceiling(1), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(3), Duration::from_secs(4));
        assert_eq!(backoff.ceiling(7), Duration::from_secs(60));
        assert_eq!(backoff.ceiling(1000), Duration::from_secs(60));
    }

    #[test]
    fn delays_stay_within_bounds_and_spread() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut backoff = Backoff::new(policy());
        let mut seen_small = false;
        for attempt in 0..200 {
            let ceiling = backoff.ceiling(attempt);
            let delay = backoff.next_delay(&mut rng);
            assert!(
                delay <= ceiling,
                "attempt {attempt}: {delay:?} > {ceiling:?}"
            );
            if attempt > 10 && delay < Duration::from_secs(30) {
                seen_small = true;
            }
        }
        assert_eq!(backoff.attempts(), 200);
        assert!(
            seen_small,
            "full jitter should sometimes pick delays well below the cap"
        );
    }

    #[test]
    fn a_short_policy_doubles_within_full_jitter_and_caps() {
        // What the Elasticsearch sink's item resends use: 100 ms doubling to 400 ms.
        let mut backoff = Backoff::new(RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(400),
        });
        let ceilings = [100, 200, 400, 400].map(Duration::from_millis);
        for ceiling in ceilings {
            assert!(backoff.next_random_delay() <= ceiling);
        }
        assert_eq!(backoff.attempts(), 4);
    }
}
