//! Cache and coordination behind one port, [`Cache`]: keys with a time to live, set-if-absent,
//! counters, and locks built on them ([`Lock`]).
//!
//! - [`MemoryCache`]: in this process; for what a process does alone (`REDIS_URL` unset) and for
//!   tests. Callers keep their own fallback for when Redis fails (the rate limiter: its buckets).
//! - `RedisCache` (crate `redis-cache`): shared by every server and worker (`REDIS_URL` set).
//!
//! This crate has no I/O (the port and the in-memory cache only), so users of the port (the REST
//! API's shared rate limit) do not link a Redis client.

mod memory;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use memory::MemoryCache;

/// Why a cache operation failed. Callers degrade: a failure is a miss, never a refused request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The cache is unreachable, slow, or recently failed.
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

/// The result of a cache operation.
pub type CacheResult<T> = Result<T, CacheError>;
/// A cache operation in flight.
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = CacheResult<T>> + Send + 'a>>;

/// The port. Keys are plain strings; implementations add their own namespace.
pub trait Cache: Send + Sync + std::fmt::Debug {
    /// The value of `key`, if set and not expired.
    fn get<'a>(&'a self, key: &'a str) -> CacheFuture<'a, Option<Vec<u8>>>;

    /// Sets `key` to `value` for `ttl`.
    fn set<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> CacheFuture<'a, ()>;

    /// Sets `key` to `value` for `ttl` only if it is not set: `true` when this call set it.
    fn set_if_absent<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> CacheFuture<'a, bool>;

    /// Removes `key`.
    fn delete<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()>;

    /// Removes `key` only if it holds `value` (releasing a lock one still owns): `true` when removed.
    fn delete_if_equals<'a>(&'a self, key: &'a str, value: &'a [u8]) -> CacheFuture<'a, bool>;

    /// Adds one to the counter `key` and returns the new count. A new counter starts at 1 and lives
    /// `ttl` (a fixed window: later increments do not extend it).
    fn increment<'a>(&'a self, key: &'a str, ttl: Duration) -> CacheFuture<'a, i64>;

    /// Whether the cache answers (readiness).
    fn ping(&self) -> CacheFuture<'_, ()>;
}

/// A lock held until released or until its time to live runs out (its holder died).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    key: String,
    token: Vec<u8>,
}

impl Lock {
    /// Takes the lock `name` for `ttl` if nobody holds it.
    ///
    /// # Errors
    /// The cache failed: nobody can tell who holds the lock.
    pub async fn acquire(cache: &dyn Cache, name: &str, ttl: Duration) -> CacheResult<Option<Self>> {
        let key = format!("lock:{name}");
        let token = hex::encode(rand::random::<[u8; 16]>()).into_bytes();
        Ok(cache.set_if_absent(&key, &token, ttl).await?.then_some(Self { key, token }))
    }

    /// Releases the lock if this holder still has it (not if it expired and someone else took it).
    ///
    /// # Errors
    /// The cache failed; the lock then expires by itself.
    pub async fn release(self, cache: &dyn Cache) -> CacheResult<bool> {
        cache.delete_if_equals(&self.key, &self.token).await
    }
}
