//! The port's contract, on memory and on the real Redis (`FF_TEST_REDIS_URL`; skipped when unset),
//! and Redis going away: operations fail fast, then work again once it is back.

#![expect(clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cache::{Cache, CacheError, Lock, MemoryCache};
use firefighter_redis_cache::{RedisCache, RedisSettings};
use test_support::TcpProxy;

fn redis_url() -> Option<String> {
    test_support::service_url("FF_TEST_REDIS_URL")
}

fn redis(url: &str) -> RedisCache {
    let mut settings = RedisSettings::new(url);
    settings.prefix = format!("fftest{:016x}:", rand::random::<u64>());
    RedisCache::new(&settings).expect("cache")
}

fn caches() -> Vec<(&'static str, Arc<dyn Cache>)> {
    let mut caches: Vec<(&'static str, Arc<dyn Cache>)> = vec![("memory", Arc::new(MemoryCache::new()))];
    if let Some(url) = redis_url() {
        caches.push(("redis", Arc::new(redis(&url))));
    }
    caches
}

#[tokio::test]
async fn keys_expire_set_if_absent_is_exclusive_and_counters_count_in_a_window() {
    for (name, cache) in caches() {
        let cache = cache.as_ref();
        cache.ping().await.unwrap();
        assert_eq!(cache.get("missing").await.unwrap(), None, "{name}");
        cache.set("k", b"v1", Duration::from_millis(300)).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap(), Some(b"v1".to_vec()), "{name}");
        assert!(
            !cache.set_if_absent("k", b"v2", Duration::from_secs(5)).await.unwrap(),
            "{name}: already set"
        );
        assert_eq!(cache.get("k").await.unwrap(), Some(b"v1".to_vec()), "{name}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(cache.get("k").await.unwrap(), None, "{name}: expired");
        assert!(cache.set_if_absent("k", b"v2", Duration::from_secs(5)).await.unwrap(), "{name}: free again");
        assert!(!cache.delete_if_equals("k", b"v1").await.unwrap(), "{name}: not the holder");
        assert!(cache.delete_if_equals("k", b"v2").await.unwrap(), "{name}");
        assert_eq!(cache.get("k").await.unwrap(), None, "{name}");
        cache.set("gone", b"x", Duration::from_secs(5)).await.unwrap();
        cache.delete("gone").await.unwrap();
        assert_eq!(cache.get("gone").await.unwrap(), None, "{name}");

        for expected in 1..=5 {
            assert_eq!(
                cache.increment("hits", Duration::from_millis(300)).await.unwrap(),
                expected,
                "{name}"
            );
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            cache.increment("hits", Duration::from_millis(300)).await.unwrap(),
            1,
            "{name}: a new window"
        );
    }
}

#[tokio::test]
async fn a_lock_has_one_holder_until_released_or_expired() {
    for (name, cache) in caches() {
        let cache = cache.as_ref();
        let held = Lock::acquire(cache, "tick", Duration::from_millis(300)).await.unwrap().expect("free");
        assert_eq!(Lock::acquire(cache, "tick", Duration::from_secs(5)).await.unwrap(), None, "{name}");
        assert!(held.release(cache).await.unwrap(), "{name}");
        let again =
            Lock::acquire(cache, "tick", Duration::from_millis(300)).await.unwrap().expect("released");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let other = Lock::acquire(cache, "tick", Duration::from_secs(5)).await.unwrap().expect("expired");
        assert!(
            !again.release(cache).await.unwrap(),
            "{name}: an expired holder cannot release the new one's lock"
        );
        assert!(other.release(cache).await.unwrap(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_gone_operations_fail_fast_then_recover() {
    let Some(url) = redis_url() else { return };
    let upstream =
        url.trim_start_matches("redis://").trim_end_matches('/').split('/').next().unwrap().to_owned();
    let proxy = TcpProxy::start(tokio::net::lookup_host(&upstream).await.unwrap().next().unwrap()).await;
    let cache = redis(&proxy.url("redis://", "/"));
    cache.set("k", b"v", Duration::from_secs(30)).await.unwrap();

    proxy.cut();
    let started = Instant::now();
    assert!(matches!(cache.get("k").await, Err(CacheError::Unavailable(_))));
    for _ in 0..100 {
        assert!(cache.get("k").await.is_err(), "failing at once while Redis rests");
    }
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}: one short wait at most",
        started.elapsed()
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(value) = cache.get("k").await {
            assert_eq!(value, Some(b"v".to_vec()));
            break;
        }
        assert!(Instant::now() < deadline, "Redis never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
