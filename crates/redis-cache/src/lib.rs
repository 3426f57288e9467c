//! The Redis cache, through deadpool-redis.
//!
//! Commands run on a small runtime of the cache's own, whatever runtime the caller is on (actix
//! runs one per worker thread; a connection must not depend on one of them). Each command has a
//! deadline; after a failure Redis rests for a moment and operations fail at once, so a Redis that
//! is down costs requests nothing but their cache hits.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, AsyncCommands};
use deadpool_redis::{Pool, PoolConfig, Runtime, Timeouts};

use cache::{Cache, CacheError, CacheFuture};

/// Adds one and starts the window on the first increment, atomically.
const INCREMENT: &str = "local n = redis.call('INCR', KEYS[1]) \
     if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";
/// Deletes the key only while it holds the caller's value.
const DELETE_IF_EQUALS: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
     return redis.call('DEL', KEYS[1]) else return 0 end";

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisSettings {
    /// `REDIS_URL`; may hold a password, so it is never logged.
    pub url: String,
    /// Prepended to every key (`firefighter:`), so deployments can share a Redis.
    pub prefix: String,
    /// Deadline of one command, connection included.
    pub timeout: Duration,
    /// After a failure, how long operations fail at once without trying Redis.
    pub rest: Duration,
    pub max_connections: usize,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &"<secret>")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("rest", &self.rest)
            .finish_non_exhaustive()
    }
}

impl RedisSettings {
    /// Defaults: prefix `firefighter:`, 250 ms per command, 1 s rest after a failure, 16 connections.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "firefighter:".into(),
            timeout: Duration::from_millis(250),
            rest: Duration::from_secs(1),
            max_connections: 16,
        }
    }
}

/// Health, shared with the commands in flight.
#[derive(Debug)]
struct Health {
    started: Instant,
    /// Milliseconds since `started` before which operations fail at once.
    resting_until: AtomicU64,
    down: AtomicBool,
    rest: Duration,
}

impl Health {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn resting(&self) -> bool {
        self.now_ms() < self.resting_until.load(Ordering::Relaxed)
    }

    fn failed(&self, error: &str) {
        let rest = u64::try_from(self.rest.as_millis()).unwrap_or(u64::MAX);
        self.resting_until.store(self.now_ms().saturating_add(rest), Ordering::Relaxed);
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "Redis is unavailable: serving without the shared cache");
        }
    }

    fn succeeded(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis is back");
        }
    }
}

/// A runtime dropped from inside another one must not block: it is shut down in the background.
#[derive(Debug)]
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A [`Cache`] in Redis, shared by every process of a deployment.
#[derive(Debug, Clone)]
pub struct RedisCache {
    pool: Pool,
    prefix: Arc<str>,
    timeout: Duration,
    health: Arc<Health>,
    runtime: Arc<OwnRuntime>,
    handle: tokio::runtime::Handle,
}

impl RedisCache {
    /// Sets up the pool. Connections open on first use: a Redis that is down now is no error here.
    ///
    /// # Errors
    /// The URL is not a Redis URL, or the cache's runtime cannot start.
    pub fn new(settings: &RedisSettings) -> Result<Self, CacheError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ff-redis")
            .enable_all()
            .build()
            .map_err(|error| CacheError::Unavailable(format!("cannot start the cache runtime: {error}")))?;
        let mut config = deadpool_redis::Config::from_url(settings.url.clone());
        let mut pool = PoolConfig::new(settings.max_connections);
        pool.timeouts = Timeouts {
            wait: Some(settings.timeout),
            create: Some(settings.timeout),
            recycle: Some(settings.timeout),
        };
        config.pool = Some(pool);
        let pool = {
            let _entered = runtime.enter();
            config.create_pool(Some(Runtime::Tokio1))
        }
        .map_err(|_| CacheError::Unavailable("REDIS_URL is not a Redis URL".into()))?;
        Ok(Self {
            pool,
            prefix: settings.prefix.as_str().into(),
            timeout: settings.timeout,
            health: Arc::new(Health {
                started: Instant::now(),
                resting_until: AtomicU64::new(0),
                down: AtomicBool::new(false),
                rest: settings.rest,
            }),
            handle: runtime.handle().clone(),
            runtime: Arc::new(OwnRuntime(Some(runtime))),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs `command` on a pooled connection, on the cache's runtime, within the deadline.
    fn run<T, F>(
        &self,
        command: impl FnOnce(deadpool_redis::Connection) -> F + Send + 'static,
    ) -> CacheFuture<'static, T>
    where
        T: Send + 'static,
        F: Future<Output = redis::RedisResult<T>> + Send + 'static,
    {
        if self.health.resting() {
            return Box::pin(std::future::ready(Err(CacheError::Unavailable(
                "Redis failed a moment ago".into(),
            ))));
        }
        let (pool, timeout, health) = (self.pool.clone(), self.timeout, Arc::clone(&self.health));
        let task = self.handle.spawn(async move {
            tokio::time::timeout(timeout, async move {
                let connection = pool.get().await.map_err(|error| error.to_string())?;
                command(connection).await.map_err(|error| error.to_string())
            })
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
        });
        let _keep_runtime = Arc::clone(&self.runtime);
        Box::pin(async move {
            let _keep_runtime = _keep_runtime;
            match task.await {
                Ok(Ok(value)) => {
                    health.succeeded();
                    Ok(value)
                }
                Ok(Err(error)) => {
                    health.failed(&error);
                    Err(CacheError::Unavailable(error))
                }
                Err(error) => {
                    health.failed(&error.to_string());
                    Err(CacheError::Unavailable(error.to_string()))
                }
            }
        })
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Cache for RedisCache {
    fn get<'a>(&'a self, key: &'a str) -> CacheFuture<'a, Option<Vec<u8>>> {
        let key = self.key(key);
        self.run(move |mut connection| async move { connection.get::<_, Option<Vec<u8>>>(key).await })
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> CacheFuture<'a, ()> {
        let (key, value) = (self.key(key), value.to_vec());
        self.run(move |mut connection| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(millis(ttl))
                .query_async::<()>(&mut connection)
                .await
        })
    }

    fn set_if_absent<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> CacheFuture<'a, bool> {
        let (key, value) = (self.key(key), value.to_vec());
        self.run(move |mut connection| async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl))
                .query_async(&mut connection)
                .await?;
            Ok(set.is_some())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()> {
        let key = self.key(key);
        self.run(move |mut connection| async move { connection.del::<_, ()>(key).await })
    }

    fn delete_if_equals<'a>(&'a self, key: &'a str, value: &'a [u8]) -> CacheFuture<'a, bool> {
        let (key, value) = (self.key(key), value.to_vec());
        self.run(move |mut connection| async move {
            let removed: i64 = redis::cmd("EVAL")
                .arg(DELETE_IF_EQUALS)
                .arg(1)
                .arg(key)
                .arg(value)
                .query_async(&mut connection)
                .await?;
            Ok(removed == 1)
        })
    }

    fn increment<'a>(&'a self, key: &'a str, ttl: Duration) -> CacheFuture<'a, i64> {
        let key = self.key(key);
        self.run(move |mut connection| async move {
            redis::cmd("EVAL")
                .arg(INCREMENT)
                .arg(1)
                .arg(key)
                .arg(millis(ttl))
                .query_async(&mut connection)
                .await
        })
    }

    fn ping(&self) -> CacheFuture<'_, ()> {
        self.run(|mut connection| async move { redis::cmd("PING").query_async::<()>(&mut connection).await })
    }
}
