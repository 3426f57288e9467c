//! Outgoing webhooks, the first job type that reaches outside: operators register endpoints (a URL,
//! a secret and the event types they want); each matching outbox event becomes one `webhook.deliver`
//! job per endpoint, which POSTs a signed JSON body and keeps a delivery log.
//!
//! Receivers check `X-FireFighter-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with
//! their secret, and deduplicate on `X-FireFighter-Event-Id` (stable across retries). Deliveries to
//! loopback, private and link-local addresses are refused unless explicitly allowed (SSRF).
//!
//! It plugs into the application like any integration ([`Webhooks`]): its own tables and migrations,
//! its configuration (`FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS`), its job and outbox subscription, its
//! routes under `/api/v2/firefighter/webhooks` and its `webhook` CLI subcommand.

mod api;
pub mod backoffice;
mod integration;
pub mod schema;
mod sealed;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use incidents_core::RepositoryError;
use jobs::{Job, JobError, OutboxEvent};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use integration::Webhooks;
pub use sealed::{SecretBox, SecretError};

/// The event types an endpoint can subscribe to: every `incidents_core::EventType`.
pub const EVENT_TYPES: [&str; incidents_core::EventType::ALL.len()] = {
    let mut names = [""; incidents_core::EventType::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = incidents_core::EventType::ALL[i].as_str();
        i += 1;
    }
    names
};

/// Why an endpoint cannot be registered: the field, a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEndpoint {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

/// Checks what an operator registers (API and CLI alike): an http(s) URL of at most 2,000
/// characters, a secret of 16 to 200 characters, and at least one known event type.
///
/// # Errors
/// The first field that is wrong.
pub fn validate_endpoint(url: &str, secret: &str, events: &[String]) -> Result<(), InvalidEndpoint> {
    let invalid = |field, code, message: String| Err(InvalidEndpoint { field, code, message });
    match url::Url::parse(url) {
        Ok(parsed)
            if matches!(parsed.scheme(), "http" | "https")
                && parsed.host().is_some()
                && url.len() <= 2000 => {}
        _ => return invalid("url", "invalid", "An http or https URL.".to_owned()),
    }
    if !(16..=200).contains(&secret.chars().count()) {
        return invalid("secret", "invalid", "Between 16 and 200 characters.".to_owned());
    }
    if events.is_empty() {
        return invalid("events", "required", "At least one event type.".to_owned());
    }
    if let Some(unknown) = events.iter().find(|event| !EVENT_TYPES.contains(&event.as_str())) {
        return invalid(
            "events",
            "invalid_choice",
            format!("{unknown:?} is not one of {}.", EVENT_TYPES.join(", ")),
        );
    }
    Ok(())
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    /// Signs deliveries; never shown back.
    pub secret: String,
    pub events: Vec<String>,
    pub created_at: NaiveDateTime,
}

/// One endpoint's record of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered`, `failing` (will retry) or `dead`.
    pub state: String,
    pub attempts: u32,
    /// The receiver's last HTTP status.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An attempt's outcome, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt<'a> {
    pub endpoint_id: i64,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub state: &'a str,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<&'a str>,
}

/// Endpoints and deliveries: the integration's own tables (`store`, on `storage::Database`).
pub trait WebhookStore {
    /// # Errors
    /// A storage failure.
    fn create_endpoint(
        &self,
        url: &str,
        secret: &str,
        events: &[String],
        now: NaiveDateTime,
    ) -> Result<Endpoint, RepositoryError>;
    /// # Errors
    /// A storage failure.
    fn endpoints(&self) -> Result<Vec<Endpoint>, RepositoryError>;
    /// # Errors
    /// A storage failure.
    fn endpoint(&self, id: i64) -> Result<Option<Endpoint>, RepositoryError>;
    /// `Ok(false)` when there was no such endpoint. Its deliveries go with it.
    ///
    /// # Errors
    /// A storage failure.
    fn delete_endpoint(&self, id: i64) -> Result<bool, RepositoryError>;
    /// Records an attempt (creating the delivery row on the first).
    ///
    /// # Errors
    /// A storage failure.
    fn record_attempt(&self, attempt: &Attempt<'_>, now: NaiveDateTime) -> Result<(), RepositoryError>;
    /// A page of an endpoint's deliveries, newest first.
    ///
    /// # Errors
    /// A storage failure.
    fn deliveries(
        &self,
        endpoint_id: i64,
        page: incidents_core::query::PageRequest,
    ) -> Result<incidents_core::query::Page<Delivery>, RepositoryError>;
}

/// The job: deliver one event to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deliver {
    pub endpoint_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub incident_id: Option<i64>,
    pub occurred_at: NaiveDateTime,
    /// What changed, as the outbox event recorded it.
    pub changes: serde_json::Value,
    /// Who caused the event (absent from jobs enqueued before the envelope existed).
    #[serde(default)]
    pub actor_user_id: Option<String>,
    #[serde(default)]
    pub entry_point: Option<String>,
    #[serde(default)]
    pub incident_version: Option<i64>,
    #[serde(default = "first_schema")]
    pub schema_version: i32,
}

const fn first_schema() -> i32 {
    1
}

impl Job for Deliver {
    const NAME: &'static str = "webhook.deliver";
    const QUEUE: &'static str = "webhooks";
    fn idempotency_key(&self) -> String {
        format!("webhook:{}:{}", self.endpoint_id, self.event_id)
    }
}

/// The jobs an event starts: one per endpoint subscribed to its type.
///
/// # Errors
/// A storage failure.
pub fn jobs_for(store: &impl WebhookStore, event: &OutboxEvent) -> Result<Vec<Deliver>, RepositoryError> {
    Ok(jobs_for_batch(store, std::slice::from_ref(event))?.pop().unwrap_or_default())
}

/// [`jobs_for`] for a batch of events, reading the endpoints once: the deliveries of each event, in
/// the order of `events`.
///
/// # Errors
/// A storage failure reading the endpoints.
pub fn jobs_for_batch(
    store: &impl WebhookStore,
    events: &[OutboxEvent],
) -> Result<Vec<Vec<Deliver>>, RepositoryError> {
    let endpoints = store.endpoints()?;
    Ok(events
        .iter()
        .map(|event| {
            endpoints
                .iter()
                .filter(|endpoint| endpoint.events.contains(&event.event_type))
                .map(|endpoint| Deliver {
                    endpoint_id: endpoint.id,
                    event_id: event.event_id.clone(),
                    event_type: event.event_type.clone(),
                    incident_id: event.incident_id,
                    occurred_at: event.occurred_at,
                    changes: event.payload.clone(),
                    actor_user_id: event.actor_user_id.clone(),
                    entry_point: event.entry_point.clone(),
                    incident_version: event.incident_version,
                    schema_version: event.schema_version,
                })
                .collect()
        })
        .collect())
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>`.
#[must_use]
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub use platform::net::is_private;

/// Checks a URL an endpoint may use: http(s), a host, and (resolved now) only public addresses unless
/// `allow_private`. Returns the host and the addresses to connect to, so a DNS answer that changes
/// between the check and the connection cannot redirect the delivery.
///
/// # Errors
/// Why the target is refused.
pub fn check_target(url: &str, allow_private: bool) -> Result<(String, Vec<SocketAddr>), String> {
    platform::net::check_target(url, allow_private).map_err(|error| match error {
        platform::net::TargetError::Private { .. } => {
            format!("{error} (FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true allows it)")
        }
        platform::net::TargetError::Invalid(_) => error.to_string(),
    })
}

/// Renders an incident as the API shows it (`None` when it no longer exists).
pub type RenderIncident =
    Arc<dyn Fn(i64) -> Result<Option<serde_json::Value>, RepositoryError> + Send + Sync>;

/// Delivers `Deliver` jobs.
pub struct Deliverer<S> {
    pub store: S,
    pub render: RenderIncident,
    pub allow_private: bool,
    pub timeout: Duration,
    /// Opens the endpoints' stored secrets.
    pub secrets: SecretBox,
}

impl<S> std::fmt::Debug for Deliverer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer").field("allow_private", &self.allow_private).finish_non_exhaustive()
    }
}

impl<S: WebhookStore> Deliverer<S> {
    /// One attempt of a delivery, recorded in the delivery log.
    ///
    /// # Errors
    /// Retryable for network errors and 5xx/429 answers; permanent for a refused target or a 4xx.
    pub fn deliver(&self, job: &Deliver, attempt: u32) -> Result<(), JobError> {
        let retryable = |e: RepositoryError| JobError::Retryable(e.to_string());
        let Some(endpoint) = self.store.endpoint(job.endpoint_id).map_err(retryable)? else {
            // Deleted since: nothing to deliver.
            return Ok(());
        };
        let outcome = self.post(&endpoint, job);
        let now = incidents_core::clock::now();
        let (state, status, error) = match &outcome {
            Ok(status) => ("delivered", Some(*status), None),
            Err((status, JobError::Retryable(error))) => ("failing", *status, Some(error.as_str())),
            Err((status, JobError::Permanent(error))) => ("dead", *status, Some(error.as_str())),
        };
        self.store
            .record_attempt(
                &Attempt {
                    endpoint_id: endpoint.id,
                    event_id: &job.event_id,
                    event_type: &job.event_type,
                    state,
                    attempt,
                    status,
                    error,
                },
                now,
            )
            .map_err(retryable)?;
        outcome.map(drop).map_err(|(_, error)| error)
    }

    fn post(&self, endpoint: &Endpoint, job: &Deliver) -> Result<u16, (Option<u16>, JobError)> {
        let secret =
            self.secrets.open(&endpoint.secret).map_err(|e| (None, JobError::Permanent(e.to_string())))?;
        let (host, addresses) =
            check_target(&endpoint.url, self.allow_private).map_err(|e| (None, JobError::Permanent(e)))?;
        let incident = match job.incident_id {
            Some(id) => (self.render)(id).map_err(|e| (None, JobError::Retryable(e.to_string())))?,
            None => None,
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "event_id": job.event_id,
            "event_type": job.event_type,
            "occurred_at": job.occurred_at.and_utc().to_rfc3339(),
            "incident": incident,
            "changes": job.changes,
            "actor": {"user_id": job.actor_user_id, "entry_point": job.entry_point},
            "incident_version": job.incident_version,
            "schema_version": job.schema_version,
        }))
        .map_err(|e| (None, JobError::Permanent(e.to_string())))?;
        let timestamp = incidents_core::clock::now().and_utc().timestamp();
        let client = reqwest::blocking::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addresses)
            .build()
            .map_err(|e| (None, JobError::Retryable(e.to_string())))?;
        let response = client
            .post(&endpoint.url)
            .header("Content-Type", "application/json")
            .header("User-Agent", "FireFighter-Webhooks/2")
            .header("X-FireFighter-Event-Id", &job.event_id)
            .header("X-FireFighter-Event", &job.event_type)
            .header("X-FireFighter-Timestamp", timestamp.to_string())
            .header("X-FireFighter-Signature", signature(&secret, timestamp, &body))
            .body(body)
            .send()
            .map_err(|e| (None, JobError::Retryable(format!("POST {}: {e}", endpoint.url))))?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let error = format!("POST {}: {status}", endpoint.url);
        let code = Some(status.as_u16());
        // Redirects are not followed; 4xx other than 408/429 will not change by retrying.
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err((code, JobError::Retryable(error)))
        } else {
            Err((code, JobError::Permanent(error)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Independent check: HMAC-SHA256("secret-key-of-16+", "1700000000.{}") computed by hand below.
        let expected = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"a-secret-of-16-chars").map_err(|_| ()).ok();
            if let Some(mac) = mac.as_mut() {
                mac.update(b"1700000000.{\"a\":1}");
            }
            mac.map(|mac| format!("sha256={}", hex::encode(mac.finalize().into_bytes()))).unwrap_or_default()
        };
        assert_eq!(signature("a-secret-of-16-chars", 1_700_000_000, br#"{"a":1}"#), expected);
        assert_ne!(signature("another-secret-16ch", 1_700_000_000, br#"{"a":1}"#), expected);
        assert_ne!(signature("a-secret-of-16-chars", 1_700_000_001, br#"{"a":1}"#), expected);
        assert_eq!(expected.len(), "sha256=".len() + 64);
    }

    #[test]
    fn private_loopback_and_link_local_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://localhost/hook",
            "http://10.1.2.3/hook",
            "http://192.168.0.10/hook",
            "http://172.16.5.5/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/hook",
            "http://[::1]/hook",
            "http://[fd00::1]/hook",
            "http://[fe80::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://0.0.0.0/hook",
        ] {
            let refused = check_target(url, false);
            assert!(refused.as_ref().is_err_and(|e| e.starts_with("refused")), "{url}: {refused:?}");
            assert!(check_target(url, true).is_ok(), "{url} is allowed when private targets are");
        }
        assert!(check_target("http://93.184.215.14/hook", false).is_ok(), "a public address");
        assert!(check_target("ftp://93.184.215.14/hook", false).is_err());
        assert!(check_target("not a url", false).is_err());
    }
}
