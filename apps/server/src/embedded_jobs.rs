//! The embedded job runner: in the single-process mode the server itself turns outbox events into
//! jobs and runs them, on one background thread, until shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::NaiveDateTime;
use jobs::{Enqueue, Job, JobError, JobStore, Registry, RetryPolicy, Runner, Scheduler};
use serde::{Deserialize, Serialize};
use storage::Database;
use webhooks::{Deliver, Deliverer};

/// How long the runner sleeps when a pass found nothing to do.
const IDLE: Duration = Duration::from_millis(200);
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
}

impl JobSettings {
    /// The job settings of a configuration.
    #[must_use]
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            retention: config.outbox_retention,
            base_url: config.base_url.to_string(),
            time_zone: config.time_zone,
            allow_private_webhook_targets: config.webhooks_allow_private_targets,
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

/// A running embedded runner.
#[derive(Debug)]
pub struct EmbeddedJobs {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedJobs {
    /// Starts the runner thread.
    ///
    /// # Errors
    /// The registry is inconsistent, or the thread cannot be started.
    pub fn start(database: Database, registry: Registry, mut scheduler: Scheduler) -> anyhow::Result<Self> {
        registry.validate()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("ff-jobs".into()).spawn(move || {
            let runner = Runner {
                store: &database,
                registry: &registry,
                policy: RetryPolicy::default(),
                lease: Duration::from_secs(300),
                batch: 100,
            };
            while !stopping.load(Ordering::Relaxed) {
                let now = incidents_core::lifecycle::now();
                for (job, run_at) in scheduler.due(now) {
                    // Every server enqueues the same tick under the same key: one gets in.
                    if let Err(error) = database.enqueue(&job, run_at, now) {
                        tracing::warn!(%error, job = job.name, "cannot enqueue a periodic job");
                    }
                }
                match runner.pass(incidents_core::lifecycle::now) {
                    Ok(report) if report.busy() => {
                        tracing::debug!(?report, "jobs pass");
                    }
                    Ok(_) => std::thread::sleep(IDLE),
                    Err(error) => {
                        tracing::warn!(%error, "jobs pass failed; retrying");
                        std::thread::sleep(AFTER_ERROR);
                    }
                }
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Stops after the job in flight, if any.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the job runner panicked");
        }
    }
}

impl Drop for EmbeddedJobs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
