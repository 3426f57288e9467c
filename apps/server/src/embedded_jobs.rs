//! The embedded job runner: in the single-process mode the server itself turns outbox events into
//! jobs and runs them, until shutdown. One thread drains the outbox (and enqueues the periodic
//! jobs); one thread per queue runs that queue's jobs, so a slow integration (a webhook receiver
//! taking its 10 s) never holds back another's jobs. The outbox thread wakes the queue threads when
//! it has enqueued something.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::NaiveDateTime;
use jobs::{Enqueue, Job, JobError, JobStore, Registry, RetryPolicy, Runner, Scheduler};
use serde::{Deserialize, Serialize};
use storage::Database;
use webhooks::{Deliver, Deliverer};

/// How long the outbox thread waits when it found no new event.
const OUTBOX_IDLE: Duration = Duration::from_millis(50);
/// How long a queue thread waits, unless woken, when it found no due job (retries come due by
/// time, not by an event).
const QUEUE_IDLE: Duration = Duration::from_millis(500);
/// How long it waits after a storage error before trying again.
const AFTER_ERROR: Duration = Duration::from_secs(2);

/// Deletes outbox events and done jobs older than the retention period (a periodic job).
#[derive(Debug, Serialize, Deserialize)]
pub struct Cleanup {
    /// The tick (UTC) this run belongs to.
    pub tick: NaiveDateTime,
}

impl Job for Cleanup {
    const NAME: &'static str = "maintenance.cleanup";
    const QUEUE: &'static str = "maintenance";
    fn idempotency_key(&self) -> String {
        format!("{}@{}", Self::NAME, self.tick)
    }
}

/// When the cleanup runs: every hour at :17, in `TIME_ZONE`.
pub const CLEANUP_SCHEDULE: &str = "0 17 * * * *";

/// What the jobs need from the configuration.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// How long delivered outbox events and done jobs are kept.
    pub retention: Duration,
    /// For links in webhook bodies.
    pub base_url: String,
    pub time_zone: chrono_tz::Tz,
    /// `FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS`.
    pub allow_private_webhook_targets: bool,
    /// Opens the webhook endpoints' secrets (keyed by `SECRET_KEY`).
    pub webhook_secrets: webhooks::SecretBox,
}

impl JobSettings {
    /// The job settings of a configuration, with its resolved secret key.
    #[must_use]
    pub fn from_config(config: &crate::config::Config, secret_key: &crate::config::Secret) -> Self {
        Self {
            retention: config.outbox_retention,
            base_url: config.base_url.to_string(),
            time_zone: config.time_zone,
            allow_private_webhook_targets: config.webhooks_allow_private_targets,
            webhook_secrets: webhooks::SecretBox::new(secret_key.expose()),
        }
    }
}

/// The jobs this build knows: the cleanup, and webhook deliveries. Integrations register theirs here.
///
/// # Errors
/// Two handlers for one job (a bug).
pub fn registry(database: &Database, settings: &JobSettings) -> anyhow::Result<Registry> {
    let mut registry = Registry::new();
    let retention = settings.retention;
    let store = database.clone();
    let retention = chrono::Duration::from_std(retention)?;
    registry.register(move |job: Cleanup, _attempt| {
        let (events, jobs) =
            store.purge_before(job.tick - retention).map_err(|e| JobError::Retryable(e.to_string()))?;
        tracing::info!(events, jobs, "cleaned up delivered outbox events and done jobs");
        Ok(())
    })?;

    // Outgoing webhooks: one delivery per subscribed endpoint and event.
    let renderer = database.clone();
    let (base_url, time_zone) = (settings.base_url.clone(), settings.time_zone);
    let deliverer = Deliverer {
        store: database.clone(),
        render: Arc::new(move |id| http_api::render_incident(&renderer, id, &base_url, time_zone)),
        allow_private: settings.allow_private_webhook_targets,
        timeout: Duration::from_secs(10),
        secrets: settings.webhook_secrets.clone(),
    };
    registry.register(move |job: Deliver, attempt| deliverer.deliver(&job, attempt))?;
    let subscriptions = database.clone();
    registry
        .on_events_try(move |events: &[jobs::OutboxEvent]| webhooks::jobs_for_batch(&subscriptions, events));
    Ok(registry)
}

/// The periodic jobs, ticking from `now`.
///
/// # Errors
/// A schedule that does not parse (a bug).
pub fn scheduler(tz: chrono_tz::Tz, now: NaiveDateTime) -> anyhow::Result<Scheduler> {
    let mut scheduler = Scheduler::new(tz, now);
    scheduler.every("cleanup", CLEANUP_SCHEDULE, |tick| Enqueue::new(&Cleanup { tick }))?;
    Ok(scheduler)
}

/// Wakes the queue threads: a generation number bumped by the outbox thread.
#[derive(Debug, Default)]
struct Wake {
    generation: Mutex<u64>,
    bumped: Condvar,
}

impl Wake {
    fn bump(&self) {
        if let Ok(mut generation) = self.generation.lock() {
            *generation += 1;
            self.bumped.notify_all();
        }
    }

    fn current(&self) -> u64 {
        self.generation.lock().map(|generation| *generation).unwrap_or_default()
    }

    /// Waits until the generation moves past `seen`, or `timeout`.
    fn wait(&self, seen: u64, timeout: Duration) {
        if let Ok(generation) = self.generation.lock() {
            let _ = self.bumped.wait_timeout_while(generation, timeout, |generation| *generation == seen);
        }
    }
}

/// A running embedded runner.
#[derive(Debug)]
pub struct EmbeddedJobs {
    stop: Arc<AtomicBool>,
    wake: Arc<Wake>,
    threads: Vec<JoinHandle<()>>,
}

impl EmbeddedJobs {
    /// Starts the outbox thread and one thread per queue.
    ///
    /// # Errors
    /// The registry is inconsistent, or a thread cannot be started.
    pub fn start(database: Database, registry: Registry, mut scheduler: Scheduler) -> anyhow::Result<Self> {
        registry.validate()?;
        let registry = Arc::new(registry);
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(Wake::default());
        let mut jobs = Self { stop: Arc::clone(&stop), wake: Arc::clone(&wake), threads: Vec::new() };

        for queue in registry.queues() {
            let (queue_db, queue_registry, queue_stop, queue_wake) =
                (database.clone(), Arc::clone(&registry), Arc::clone(&stop), Arc::clone(&wake));
            jobs.threads.push(std::thread::Builder::new().name(format!("ff-jobs-{queue}")).spawn(
                move || {
                    // One job per claim: on shutdown no claimed job waits behind the one in flight.
                    let runner = runner(&queue_db, &queue_registry, Some(queue), 1);
                    while !queue_stop.load(Ordering::Relaxed) {
                        let seen = queue_wake.current();
                        match runner.run_due(incidents_core::lifecycle::now) {
                            Ok(report) if report.busy() => tracing::debug!(queue, ?report, "jobs run"),
                            Ok(_) => queue_wake.wait(seen, QUEUE_IDLE),
                            Err(error) => {
                                tracing::warn!(queue, %error, "running jobs failed; retrying");
                                std::thread::sleep(AFTER_ERROR);
                            }
                        }
                    }
                },
            )?);
        }
        let (outbox_db, outbox_registry, outbox_stop, outbox_wake) =
            (database, Arc::clone(&registry), Arc::clone(&stop), Arc::clone(&wake));
        jobs.threads.push(std::thread::Builder::new().name("ff-outbox".into()).spawn(move || {
            let runner = runner(&outbox_db, &outbox_registry, None, 100);
            while !outbox_stop.load(Ordering::Relaxed) {
                let now = incidents_core::lifecycle::now();
                let mut enqueued = false;
                for (job, run_at) in scheduler.due(now) {
                    // Every server enqueues the same tick under the same key: one gets in.
                    match outbox_db.enqueue(&job, run_at, now) {
                        Ok(inserted) => enqueued |= inserted,
                        Err(error) => tracing::warn!(%error, job = job.name, "cannot enqueue a periodic job"),
                    }
                }
                match runner.drain_outbox(now) {
                    Ok(drained) => {
                        // Queue threads are woken only when there is something new for them.
                        if drained.jobs > 0 || enqueued {
                            outbox_wake.bump();
                        }
                        if drained.events > 0 {
                            continue;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "outbox drain failed; retrying");
                        std::thread::sleep(AFTER_ERROR);
                        continue;
                    }
                }
                std::thread::sleep(OUTBOX_IDLE);
            }
        })?);

        Ok(jobs)
    }

    /// Stops after the jobs in flight, if any.
    pub fn stop(mut self) {
        self.halt();
        for thread in std::mem::take(&mut self.threads) {
            if thread.join().is_err() {
                tracing::error!("a job runner thread panicked");
            }
        }
    }

    fn halt(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.bump();
    }
}

fn runner<'a>(
    database: &'a Database,
    registry: &'a Registry,
    queue: Option<&'a str>,
    batch: u32,
) -> Runner<'a, Database> {
    Runner {
        store: database,
        registry,
        policy: RetryPolicy::default(),
        lease: Duration::from_secs(300),
        batch,
        queue,
    }
}

impl Drop for EmbeddedJobs {
    fn drop(&mut self) {
        self.halt();
    }
}
