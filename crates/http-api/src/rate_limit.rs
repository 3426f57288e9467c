//! Rate limiting per API token: a token bucket refilled continuously, in memory (per server process).
//! Over the limit a request gets 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets idle this long are forgotten (they would be full again anyway).
const IDLE: Duration = Duration::from_secs(600);
/// Pruning runs when the map holds this many buckets.
const PRUNE_AT: usize = 10_000;

/// Per-token request budget.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `per_minute` requests a minute per token, in bursts of up to that many; 0 disables the limit.
    #[must_use]
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `key`'s budget: `Ok` when allowed, `Err(wait)` with how long until the
    /// next request would be.
    ///
    /// # Errors
    /// The wait before the next allowed request.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let Ok(mut buckets) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; do not turn it into refusals.
            return Ok(());
        };
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, bucket| now.duration_since(bucket.updated) < IDLE);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: capacity, updated: now });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_up_to_the_budget_then_waits() {
        let limiter = RateLimiter::new(60);
        let start = Instant::now();
        for _ in 0..60 {
            assert!(limiter.check("a", start).is_ok());
        }
        let wait = limiter.check("a", start).err();
        assert!(
            wait.is_some_and(|w| w > Duration::from_millis(900) && w <= Duration::from_secs(1)),
            "{wait:?}"
        );
        assert!(limiter.check("b", start).is_ok(), "each token has its own budget");
        assert!(limiter.check("a", start + Duration::from_secs(1)).is_ok(), "one request a second refills");
        assert!(RateLimiter::new(0).check("a", start).is_ok(), "0 disables the limit");
    }
}
