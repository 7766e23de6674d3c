//! Capped exponential backoff with full jitter, for transient failures.

use std::time::Duration;

use rand::Rng;

use crate::config::RetryPolicy;

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
}
