//! Typed jobs, their handlers, and which jobs each outbox event starts.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// An outbox row as the transports hand it over: a committed domain event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// Stable across retries and redeliveries (receivers deduplicate on it).
    pub event_id: String,
    /// `incident_created`, `incident_updated`, … (`incidents_core::EventType::as_str`).
    pub event_type: String,
    pub incident_id: Option<i64>,
    pub payload: serde_json::Value,
    pub occurred_at: NaiveDateTime,
    /// The user who caused it (`None` for events written before the envelope existed).
    pub actor_user_id: Option<String>,
    /// `api`, `cli`, `slack`, `web`, `jira`, `pagerduty` or `system` (`incidents_core::EntryPoint`).
    pub entry_point: Option<String>,
    /// The incident's version after the change.
    pub incident_version: Option<i64>,
    /// The version of the payload's shape (`incidents_core::events::EVENT_SCHEMA_VERSION`).
    pub schema_version: i32,
}

impl OutboxEvent {
    /// The typed event.
    ///
    /// # Errors
    /// An unknown type, a newer schema, or a payload that does not fit its type.
    pub fn decode(&self) -> Result<incidents_core::DomainEvent, incidents_core::events::EventDecodeError> {
        incidents_core::DomainEvent::decode(&self.event_type, self.schema_version, &self.payload)
    }

    /// The entry point the change came through, when recorded.
    #[must_use]
    pub fn entry_point(&self) -> Option<incidents_core::EntryPoint> {
        self.entry_point.as_deref().and_then(incidents_core::EntryPoint::parse)
    }
}

/// A typed job: its payload is the implementing type, stored as JSON.
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// Stable name, stored with every job (`webhook.deliver`).
    const NAME: &'static str;
    /// The queue it runs on: one per integration, so a slow one never delays another.
    const QUEUE: &'static str;
    /// The longest an attempt may run. Past it the attempt counts as failed (retried or dead by the
    /// retry policy) and its runner moves on: a hung handler never holds its slot for ever.
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
    /// Jobs with the same key are the same piece of work: enqueued once, and a handler may use the
    /// key to make its effect happen once (for example as an event id the receiver deduplicates on).
    fn idempotency_key(&self) -> String;
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (a timeout, a 5xx, a closed connection).
    #[error("{0}")]
    Retryable(String),
    /// Retrying cannot help (a payload this version cannot read, a target that is forbidden): the job
    /// is dead at once.
    #[error("{0}")]
    Permanent(String),
}

/// Runs jobs of type `J`. Any `Fn(J, attempt) -> Result<(), JobError>` is one.
pub trait Handler<J: Job>: Send + Sync + 'static {
    /// Runs one attempt (`attempt` is 1 for the first).
    ///
    /// # Errors
    /// Why the attempt failed.
    fn handle(&self, job: J, attempt: u32) -> Result<(), JobError>;
}

impl<J: Job, F> Handler<J> for F
where
    F: Fn(J, u32) -> Result<(), JobError> + Send + Sync + 'static,
{
    fn handle(&self, job: J, attempt: u32) -> Result<(), JobError> {
        self(job, attempt)
    }
}

/// A job ready to be stored or published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue {
    pub name: &'static str,
    pub queue: &'static str,
    /// The job as JSON.
    pub payload: String,
    pub idempotency_key: String,
}

impl Enqueue {
    /// # Errors
    /// The job does not serialize (a bug in its type).
    pub fn new<J: Job>(job: &J) -> Result<Self, serde_json::Error> {
        Ok(Self {
            name: J::NAME,
            queue: J::QUEUE,
            payload: serde_json::to_string(job)?,
            idempotency_key: job.idempotency_key(),
        })
    }
}

/// What can be wrong with a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("two handlers for job {0}")]
    DuplicateJob(&'static str),
    #[error("events start job {0}, which has no handler")]
    NoHandler(&'static str),
    #[error("job {name} does not serialize: {error}")]
    Serialize { name: &'static str, error: String },
    #[error("the subscriber of job {name} failed: {error}")]
    Subscriber { name: &'static str, error: String },
}

type RunFn = std::sync::Arc<dyn Fn(&str, u32) -> Result<(), JobError> + Send + Sync>;

/// A registered handler: its queue, its run-time cap, and how to run a stored payload.
struct Registered {
    queue: &'static str,
    timeout: std::time::Duration,
    run: RunFn,
}
/// Takes a batch of events; returns the jobs of each, in the same order.
type SubscriberFn = Box<dyn Fn(&[OutboxEvent]) -> Result<Vec<Vec<Enqueue>>, RegistryError> + Send + Sync>;

/// The handlers by job name, and the subscribers that turn outbox events into jobs.
#[derive(Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Registered>,
    subscribers: Vec<(&'static str, SubscriberFn)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut jobs: Vec<&str> = self.handlers.keys().copied().collect();
        jobs.sort_unstable();
        f.debug_struct("Registry").field("jobs", &jobs).field("subscribers", &self.subscribers.len()).finish()
    }
}

impl Registry {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the handler of jobs `J`.
    ///
    /// # Errors
    /// [`RegistryError::DuplicateJob`] when `J` already has one.
    pub fn register<J: Job>(&mut self, handler: impl Handler<J>) -> Result<&mut Self, RegistryError> {
        if self.handlers.contains_key(J::NAME) {
            return Err(RegistryError::DuplicateJob(J::NAME));
        }
        let run: RunFn = std::sync::Arc::new(move |payload, attempt| {
            let job: J = serde_json::from_str(payload).map_err(|error| {
                JobError::Permanent(format!(
                    "job {} has a payload this version cannot read: {error}",
                    J::NAME
                ))
            })?;
            handler.handle(job, attempt)
        });
        self.handlers.insert(J::NAME, Registered { queue: J::QUEUE, timeout: J::TIMEOUT, run });
        Ok(self)
    }

    /// Starts jobs `J` for outbox events: `subscriber` returns the jobs an event calls for (often none).
    pub fn on_event<J: Job>(
        &mut self,
        subscriber: impl Fn(&OutboxEvent) -> Vec<J> + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_events_try(move |events: &[OutboxEvent]| {
            Ok::<_, std::convert::Infallible>(events.iter().map(&subscriber).collect())
        })
    }

    /// Like [`Registry::on_event`], for a subscriber that can fail (it reads the database, say): the
    /// event then stays in the outbox and is offered again on the next pass.
    pub fn on_event_try<J: Job, E: std::fmt::Display>(
        &mut self,
        subscriber: impl Fn(&OutboxEvent) -> Result<Vec<J>, E> + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_events_try(move |events: &[OutboxEvent]| events.iter().map(&subscriber).collect())
    }

    /// Like [`Registry::on_event_try`], for a subscriber that takes a whole batch of events at once
    /// (to read what it needs once per batch rather than once per event). It returns the jobs of each
    /// event, in the order of `events`.
    pub fn on_events_try<J: Job, E: std::fmt::Display>(
        &mut self,
        subscriber: impl Fn(&[OutboxEvent]) -> Result<Vec<Vec<J>>, E> + Send + Sync + 'static,
    ) -> &mut Self {
        let subscriber: SubscriberFn = Box::new(move |events| {
            let per_event = subscriber(events)
                .map_err(|error| RegistryError::Subscriber { name: J::NAME, error: error.to_string() })?;
            if per_event.len() != events.len() {
                return Err(RegistryError::Subscriber {
                    name: J::NAME,
                    error: format!("returned jobs for {} events out of {}", per_event.len(), events.len()),
                });
            }
            per_event
                .iter()
                .map(|jobs| {
                    jobs.iter()
                        .map(|job| {
                            Enqueue::new(job).map_err(|error| RegistryError::Serialize {
                                name: J::NAME,
                                error: error.to_string(),
                            })
                        })
                        .collect()
                })
                .collect()
        });
        self.subscribers.push((J::NAME, subscriber));
        self
    }

    /// Checks that every job events can start has a handler (call it at start-up).
    ///
    /// # Errors
    /// [`RegistryError::NoHandler`] naming the first one without.
    pub fn validate(&self) -> Result<(), RegistryError> {
        match self.subscribers.iter().find(|(name, _)| !self.handlers.contains_key(name)) {
            Some((name, _)) => Err(RegistryError::NoHandler(name)),
            None => Ok(()),
        }
    }

    /// The jobs an outbox event starts, in subscription order.
    ///
    /// # Errors
    /// A job that does not serialize.
    pub fn jobs_for(&self, event: &OutboxEvent) -> Result<Vec<Enqueue>, RegistryError> {
        Ok(self.jobs_for_batch(std::slice::from_ref(event))?.pop().unwrap_or_default())
    }

    /// The jobs of each event of a batch, in the order of `events`; each subscriber sees the whole
    /// batch once.
    ///
    /// # Errors
    /// A subscriber failed, or a job does not serialize.
    pub fn jobs_for_batch(&self, events: &[OutboxEvent]) -> Result<Vec<Vec<Enqueue>>, RegistryError> {
        let mut jobs: Vec<Vec<Enqueue>> = vec![Vec::new(); events.len()];
        for (_, subscriber) in &self.subscribers {
            for (event_jobs, more) in jobs.iter_mut().zip(subscriber(events)?) {
                event_jobs.extend(more);
            }
        }
        Ok(jobs)
    }

    /// Runs one attempt of the job `name` with its stored `payload`.
    ///
    /// # Errors
    /// The handler's error; [`JobError::Permanent`] for an unknown job or an unreadable payload.
    pub fn run(&self, name: &str, payload: &str, attempt: u32) -> Result<(), JobError> {
        match self.handlers.get(name) {
            Some(registered) => (registered.run)(payload, attempt),
            None => Err(JobError::Permanent(format!("no handler for job {name}"))),
        }
    }

    /// The handler of job `name` and its run-time cap, to run it on a thread of its own.
    pub(crate) fn handler(&self, name: &str) -> Option<(RunFn, std::time::Duration)> {
        self.handlers.get(name).map(|registered| (std::sync::Arc::clone(&registered.run), registered.timeout))
    }

    /// The queue of job `name`.
    #[must_use]
    pub fn queue_of(&self, name: &str) -> Option<&'static str> {
        self.handlers.get(name).map(|registered| registered.queue)
    }

    /// Every queue a registered job runs on.
    #[must_use]
    pub fn queues(&self) -> BTreeSet<&'static str> {
        self.handlers.values().map(|registered| registered.queue).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    struct Deliver {
        endpoint: i64,
        event_id: String,
    }

    impl Job for Deliver {
        const NAME: &'static str = "webhook.deliver";
        const QUEUE: &'static str = "webhooks";
        fn idempotency_key(&self) -> String {
            format!("{}:{}", self.endpoint, self.event_id)
        }
    }

    fn event(event_type: &str) -> OutboxEvent {
        OutboxEvent {
            event_id: "0190f5b2-6c1e-7a3b-9d4e-5f6a7b8c9d0e".into(),
            event_type: event_type.into(),
            incident_id: Some(42),
            payload: serde_json::json!({"title": "Checkout is down"}),
            occurred_at: NaiveDateTime::default(),
            actor_user_id: None,
            entry_point: Some("api".into()),
            incident_version: Some(0),
            schema_version: 1,
        }
    }

    fn registry(ran: Arc<Mutex<Vec<(Deliver, u32)>>>) -> Registry {
        let mut registry = Registry::new();
        registry
            .register(move |job: Deliver, attempt| {
                if job.endpoint == 13 {
                    return Err(JobError::Retryable("connection refused".into()));
                }
                ran.lock().map_err(|_| JobError::Permanent("poisoned".into()))?.push((job, attempt));
                Ok(())
            })
            .map(drop)
            .unwrap_or_else(|e| panic!("{e}"));
        registry.on_event(|event: &OutboxEvent| {
            if event.event_type == "incident_created" {
                [1, 2].map(|endpoint| Deliver { endpoint, event_id: event.event_id.clone() }).into()
            } else {
                Vec::new()
            }
        });
        registry
    }

    #[test]
    fn events_become_typed_jobs_with_stable_keys_and_run_through_their_handler() {
        let ran = Arc::new(Mutex::new(Vec::new()));
        let registry = registry(Arc::clone(&ran));
        assert_eq!(registry.validate(), Ok(()));
        assert!(registry.jobs_for(&event("incident_updated")).unwrap_or_default().is_empty());
        let jobs = registry.jobs_for(&event("incident_created")).unwrap_or_default();
        assert_eq!(jobs.len(), 2);
        assert_eq!((jobs[0].name, jobs[0].queue), ("webhook.deliver", "webhooks"));
        assert_eq!(jobs[1].idempotency_key, "2:0190f5b2-6c1e-7a3b-9d4e-5f6a7b8c9d0e");
        assert_eq!(jobs, registry.jobs_for(&event("incident_created")).unwrap_or_default(), "deterministic");

        assert_eq!(registry.run(jobs[0].name, &jobs[0].payload, 3), Ok(()));
        let ran = ran.lock().map(|ran| ran.clone()).unwrap_or_default();
        assert_eq!(ran, vec![(Deliver { endpoint: 1, event_id: event("x").event_id }, 3)]);
        assert_eq!(registry.queues().into_iter().collect::<Vec<_>>(), ["webhooks"]);
    }

    #[test]
    fn a_batch_subscriber_sees_the_batch_once_and_jobs_stay_with_their_event() {
        let calls = Arc::new(Mutex::new(0));
        let mut registry = registry(Arc::default());
        let counted = Arc::clone(&calls);
        registry.on_events_try(move |events: &[OutboxEvent]| {
            *counted.lock().map_err(|_| "poisoned")? += 1;
            Ok::<_, &str>(
                events
                    .iter()
                    .map(|event| {
                        vec![Deliver { endpoint: 7, event_id: format!("{}-batch", event.event_type) }]
                    })
                    .collect(),
            )
        });
        let events = [event("incident_created"), event("incident_updated"), event("incident_created")];
        let jobs = registry.jobs_for_batch(&events).unwrap_or_default();
        assert_eq!(calls.lock().map(|calls| *calls).unwrap_or_default(), 1, "one call for the batch");
        assert_eq!(jobs.iter().map(Vec::len).collect::<Vec<_>>(), [3, 1, 3]);
        assert_eq!(jobs[1][0].idempotency_key, "7:incident_updated-batch");

        let mut broken = Registry::new();
        broken.on_events_try(|_: &[OutboxEvent]| Ok::<Vec<Vec<Deliver>>, &str>(Vec::new()));
        assert!(
            matches!(broken.jobs_for_batch(&events), Err(RegistryError::Subscriber { .. })),
            "one list per event"
        );
    }

    #[test]
    fn failures_are_retryable_or_permanent() {
        let registry = registry(Arc::default());
        let failing = r#"{"endpoint": 13, "event_id": "e"}"#;
        assert_eq!(
            registry.run("webhook.deliver", failing, 1),
            Err(JobError::Retryable("connection refused".into()))
        );
        assert!(matches!(registry.run("webhook.deliver", "{not json", 1), Err(JobError::Permanent(_))));
        assert!(matches!(registry.run("slack.post", "{}", 1), Err(JobError::Permanent(_))));
    }

    #[test]
    fn a_job_has_one_handler_and_every_subscribed_job_needs_one() {
        let mut registry = registry(Arc::default());
        let again = registry.register(|_: Deliver, _| Ok(()));
        assert_eq!(again.err(), Some(RegistryError::DuplicateJob("webhook.deliver")));

        let mut orphan = Registry::new();
        orphan.on_event(|_: &OutboxEvent| Vec::<Deliver>::new());
        assert_eq!(orphan.validate(), Err(RegistryError::NoHandler("webhook.deliver")));
    }
}
