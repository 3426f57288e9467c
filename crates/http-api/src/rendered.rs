//! Incidents as the API last rendered them, kept per id with the version they were rendered at.
//!
//! Every change to an incident bumps its version (see `IncidentKey`), so a list or a retrieve first
//! reads the keys (one cheap query), answers the incidents whose version is unchanged from here, and
//! loads and renders only the others. What can change without a version bump — a priority's or a
//! user's name — shows late by at most [`FRESH_FOR`]. Each server process has its own; nothing needs
//! invalidating across processes because the version is read from the database on every request.
//! Facets (what integrations know) can also change without a version bump: they too show late by at
//! most [`FRESH_FOR`].

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use incidents_core::IncidentId;
use incidents_core::facets::Facets;
use incidents_core::query::{IncidentKey, IncidentView};

use crate::errors::ApiError;
use crate::json;

/// How long a rendering is used while its incident's version is unchanged.
pub const FRESH_FOR: Duration = Duration::from_secs(5);

/// How long others keep using an expired rendering (of an unchanged version) while one request
/// renders it again.
const REFRESH_GRACE: Duration = Duration::from_secs(1);

/// Renderings kept at most (about 3 KB each); past it the cache starts over.
const CAPACITY: usize = 10_000;

struct Entry {
    version: i64,
    /// When this rendering stops being used: between half of [`FRESH_FOR`] and all of it after it was
    /// made, at random, so that incidents rendered together (a page) are not all re-read at once.
    fresh_until: Instant,
    json: Bytes,
}

/// See the module documentation.
#[derive(Default)]
pub struct RenderedIncidents {
    entries: RwLock<HashMap<i64, Entry>>,
}

impl std::fmt::Debug for RenderedIncidents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = self.entries.read().map(|entries| entries.len()).unwrap_or_default();
        f.debug_struct("RenderedIncidents").field("entries", &size).finish()
    }
}

impl RenderedIncidents {
    /// The kept rendering of `key`, if its version matches and it is fresh. When it has just expired,
    /// the first caller gets `None` and re-renders it, while the others keep getting the old rendering
    /// for up to [`REFRESH_GRACE`]: no herd of requests re-reading the same incident at once.
    fn get(&self, key: IncidentKey, now: Instant) -> Option<Bytes> {
        {
            let entries = self.entries.read().ok()?;
            let entry = entries.get(&key.id.0)?;
            if entry.version != key.version {
                return None;
            }
            if now < entry.fresh_until {
                return Some(entry.json.clone());
            }
        }
        let mut entries = self.entries.write().ok()?;
        let entry = entries.get_mut(&key.id.0)?;
        if entry.version == key.version && now < entry.fresh_until {
            // Another request claimed the refresh meanwhile.
            return Some(entry.json.clone());
        }
        entry.fresh_until = now + REFRESH_GRACE;
        None
    }

    fn put(&self, view: &IncidentView, json: Bytes, now: Instant) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CAPACITY && !entries.contains_key(&view.id.0) {
                entries.clear();
            }
            let fresh_for = FRESH_FOR / 2 + FRESH_FOR.mul_f64(rand::random::<f64>() / 2.0);
            entries.insert(view.id.0, Entry { version: view.version, fresh_until: now + fresh_for, json });
        }
    }

    /// The JSON of each incident in `keys`, in order: kept renderings where the version matches, the
    /// others loaded with `load` and rendered (incidents deleted meanwhile are left out).
    ///
    /// # Errors
    /// What `load` returns.
    pub fn render(
        &self,
        keys: &[IncidentKey],
        load: impl FnOnce(&[IncidentId]) -> Result<Vec<IncidentView>, ApiError>,
        facets: &Facets,
        base_url: &str,
        tz: chrono_tz::Tz,
    ) -> Result<Vec<Bytes>, ApiError> {
        let now = Instant::now();
        let mut found: HashMap<i64, Bytes> = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        for key in keys {
            match self.get(*key, now) {
                Some(json) => {
                    found.insert(key.id.0, json);
                }
                None => missing.push(key.id),
            }
        }
        if !missing.is_empty() {
            let views = load(&missing)?;
            let facets = facets.of(&missing)?;
            for view in views {
                let incident = json::Incident::new(&view, base_url, tz).with_facets(facets.get(&view.id));
                let json = serde_json::to_vec(&incident).map_err(|_| ApiError::internal())?;
                let json = Bytes::from(json);
                self.put(&view, json.clone(), now);
                found.insert(view.id.0, json);
            }
        }
        Ok(keys.iter().filter_map(|key| found.remove(&key.id.0)).collect())
    }
}

/// A JSON array of already serialized elements.
#[must_use]
pub fn array(items: &[Bytes]) -> Bytes {
    let mut body = Vec::with_capacity(items.iter().map(Bytes::len).sum::<usize>() + items.len() + 2);
    body.push(b'[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.push(b']');
    Bytes::from(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i64, version: i64) -> IncidentKey {
        IncidentKey { id: IncidentId(id), version }
    }

    fn keep(cache: &RenderedIncidents, id: i64, version: i64, fresh_until: Instant) {
        if let Ok(mut entries) = cache.entries.write() {
            entries.insert(id, Entry { version, fresh_until, json: Bytes::from_static(b"{}") });
        }
    }

    #[test]
    fn a_rendering_serves_only_its_version_while_fresh() {
        let cache = RenderedIncidents::default();
        let now = Instant::now();
        keep(&cache, 1, 3, now + Duration::from_secs(2));
        assert!(cache.get(key(1, 3), now).is_some());
        assert!(cache.get(key(1, 4), now).is_none(), "a changed incident is rendered again");
        assert!(cache.get(key(2, 0), now).is_none());
    }

    #[test]
    fn an_expired_rendering_is_refreshed_by_one_caller_while_others_keep_it() {
        let cache = RenderedIncidents::default();
        let now = Instant::now();
        keep(&cache, 1, 3, now);
        assert!(cache.get(key(1, 3), now).is_none(), "the first caller re-renders");
        assert!(cache.get(key(1, 3), now).is_some(), "the others keep the old rendering meanwhile");
        assert!(cache.get(key(1, 3), now + REFRESH_GRACE).is_none(), "until the grace runs out");
    }

    #[test]
    fn arrays_are_joined_with_commas() {
        let items = [Bytes::from_static(b"{\"id\":1}"), Bytes::from_static(b"{\"id\":2}")];
        assert_eq!(array(&items), Bytes::from_static(b"[{\"id\":1},{\"id\":2}]"));
        assert_eq!(array(&[]), Bytes::from_static(b"[]"));
    }
}
