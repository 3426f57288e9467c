//! The embedded job runner: in the single-process mode the server itself turns outbox events into
//! jobs and runs them, on one background thread, until shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use jobs::{Registry, RetryPolicy, Runner};
use storage::Database;

/// How long the runner sleeps when a pass found nothing to do.
const IDLE: Duration = Duration::from_millis(200);
/// How long it waits after a storage error before trying again.
const AFTER_ERROR: Duration = Duration::from_secs(2);

/// The jobs this build knows. Integrations register theirs here as they arrive (webhooks next).
#[must_use]
pub fn registry() -> Registry {
    Registry::new()
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
    pub fn start(database: Database, registry: Registry) -> anyhow::Result<Self> {
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
