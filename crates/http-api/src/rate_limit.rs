//! Rate limiting per API token. Over the limit a request gets 429 with `Retry-After`.
//!
//! - Alone (no `REDIS_URL`): a token bucket per process, refilled continuously.
//! - With the shared cache: a counter per token and minute, shared by every server, so the limit
//!   holds for the deployment however many servers a load balancer spreads a client over. When the
//!   cache fails, each process falls back to its own bucket: requests are still limited, never
//!   refused for the cache's sake.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cache::Cache;

/// Buckets idle this long are forgotten (they would be full again anyway).
const IDLE: Duration = Duration::from_secs(600);
/// Pruning runs when the map holds this many buckets.
const PRUNE_AT: usize = 10_000;

/// Per-token request budget.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
    shared: Option<Arc<dyn Cache>>,
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
        Self { per_minute, buckets: Mutex::new(HashMap::new()), shared: None }
    }

    /// The same budget, counted in `cache` for every process that shares it.
    #[must_use]
    pub fn shared(per_minute: u32, cache: Arc<dyn Cache>) -> Self {
        Self { shared: Some(cache), ..Self::new(per_minute) }
    }

    /// Takes one request from `key`'s budget, in the shared cache if there is one and it answers,
    /// else in this process.
    ///
    /// # Errors
    /// The wait before the next allowed request.
    pub async fn take(&self, key: &str) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        if let Some(cache) = &self.shared {
            let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let window = since_epoch.as_secs() / 60;
            let counter = format!("ratelimit:{}:{window}", key.get(..32).unwrap_or(key));
            if let Ok(count) = cache.increment(&counter, Duration::from_secs(61)).await {
                return if count <= i64::from(self.per_minute) {
                    Ok(())
                } else {
                    let into_window = since_epoch.as_secs_f64() % 60.0;
                    Err(Duration::from_secs_f64((60.0 - into_window).max(0.001)))
                };
            }
        }
        self.check(key, Instant::now())
    }

    /// Takes one request from `key`'s budget in this process: `Ok` when allowed, `Err(wait)` with
    /// how long until the next request would be.
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

    #[tokio::test]
    async fn a_shared_budget_counts_per_minute_window() {
        let cache: Arc<dyn Cache> = Arc::new(cache::MemoryCache::new());
        let first = RateLimiter::shared(3, Arc::clone(&cache));
        let second = RateLimiter::shared(3, Arc::clone(&cache));
        let mut allowed = 0;
        for limiter in [&first, &second, &first, &second] {
            match limiter.take("token").await {
                Ok(()) => allowed += 1,
                Err(wait) => assert!(wait <= Duration::from_secs(60), "{wait:?}"),
            }
        }
        // Three in the window, whichever process counted them (unless the minute turned meanwhile).
        assert!((3..=4).contains(&allowed), "{allowed}");
        assert!(first.take("another").await.is_ok(), "each token has its own budget");
    }
}
