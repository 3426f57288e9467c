//! The in-process cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Cache, CacheFuture, CacheResult};

/// Expired entries are swept when the map reaches this size.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone)]
enum Value {
    Bytes(Vec<u8>),
    Counter(i64),
}

/// A [`Cache`] in this process's memory: what one process does alone (embedded mode), and the
/// fallback when Redis fails.
#[derive(Debug, Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, (Value, Instant)>>,
}

impl MemoryCache {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `work` on the live entries (expired ones are gone).
    fn with<T>(&self, work: impl FnOnce(&mut HashMap<String, (Value, Instant)>, Instant) -> T) -> T {
        let now = Instant::now();
        // A poisoned lock means a panic elsewhere while holding it; the map is still consistent.
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, (_, expires)| *expires > now);
        }
        work(&mut entries, now)
    }

    fn live<'m>(
        entries: &'m HashMap<String, (Value, Instant)>,
        key: &str,
        now: Instant,
    ) -> Option<&'m Value> {
        entries.get(key).filter(|(_, expires)| *expires > now).map(|(value, _)| value)
    }

    fn ready<T: Send + 'static>(value: T) -> CacheFuture<'static, T> {
        Box::pin(std::future::ready(CacheResult::Ok(value)))
    }
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl).unwrap_or(now + Duration::from_secs(86_400 * 365))
}

impl Cache for MemoryCache {
    fn get<'a>(&'a self, key: &'a str) -> CacheFuture<'a, Option<Vec<u8>>> {
        Self::ready(self.with(|entries, now| match Self::live(entries, key, now) {
            Some(Value::Bytes(bytes)) => Some(bytes.clone()),
            Some(Value::Counter(count)) => Some(count.to_string().into_bytes()),
            None => None,
        }))
    }

    fn set<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> CacheFuture<'a, ()> {
        self.with(|entries, now| {
            entries.insert(key.to_owned(), (Value::Bytes(value.to_vec()), deadline(now, ttl)));
        });
        Self::ready(())
    }

    fn set_if_absent<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> CacheFuture<'a, bool> {
        Self::ready(self.with(|entries, now| {
            if Self::live(entries, key, now).is_some() {
                return false;
            }
            entries.insert(key.to_owned(), (Value::Bytes(value.to_vec()), deadline(now, ttl)));
            true
        }))
    }

    fn delete<'a>(&'a self, key: &'a str) -> CacheFuture<'a, ()> {
        self.with(|entries, _| entries.remove(key));
        Self::ready(())
    }

    fn delete_if_equals<'a>(&'a self, key: &'a str, value: &'a [u8]) -> CacheFuture<'a, bool> {
        Self::ready(self.with(|entries, now| {
            let holds = matches!(Self::live(entries, key, now), Some(Value::Bytes(bytes)) if bytes == value);
            if holds {
                entries.remove(key);
            }
            holds
        }))
    }

    fn increment<'a>(&'a self, key: &'a str, ttl: Duration) -> CacheFuture<'a, i64> {
        Self::ready(self.with(|entries, now| {
            let count = match Self::live(entries, key, now) {
                Some(Value::Counter(count)) => count.saturating_add(1),
                Some(Value::Bytes(bytes)) => {
                    std::str::from_utf8(bytes).ok().and_then(|text| text.parse::<i64>().ok()).unwrap_or(0) + 1
                }
                None => {
                    entries.insert(key.to_owned(), (Value::Counter(1), deadline(now, ttl)));
                    return 1;
                }
            };
            if let Some(entry) = entries.get_mut(key) {
                entry.0 = Value::Counter(count);
            }
            count
        }))
    }

    fn ping(&self) -> CacheFuture<'_, ()> {
        Self::ready(())
    }
}
