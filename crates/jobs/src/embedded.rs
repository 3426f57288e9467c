//! The embedded transport: in the single-process mode the server itself turns outbox events into
//! jobs and runs them, until shutdown. One thread drains the outbox (and enqueues the periodic
//! jobs); one thread per queue runs that queue's jobs, so a slow integration (a webhook receiver
//! taking its 10 s) never holds back another's jobs. The outbox thread wakes the queue threads when
//! it has enqueued something.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{JobStore, Registry, RetryPolicy, Runner, Scheduler, TransportStore};

/// How long the outbox thread waits when it found no new event.
const OUTBOX_IDLE: Duration = Duration::from_millis(50);
/// How long a queue thread waits, unless woken, when it found no due job (retries come due by
/// time, not by an event).
const QUEUE_IDLE: Duration = Duration::from_millis(500);
/// How long it waits after a storage error before trying again.
const AFTER_ERROR: Duration = Duration::from_secs(2);

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
    /// Starts the outbox thread and one thread per queue. A running job's `lease` is renewed while
    /// it runs, so a job whose process died (a crash, SIGKILL) runs again once its lease is out.
    ///
    /// # Errors
    /// The registry is inconsistent, or a thread cannot be started.
    pub fn start<S>(
        database: S,
        registry: Registry,
        mut scheduler: Scheduler,
        lease: Duration,
    ) -> Result<Self, EmbeddedError>
    where
        S: JobStore + TransportStore + Clone + Send + Sync + 'static,
    {
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
                    let runner = runner(&queue_db, &queue_registry, Some(queue), 1, lease);
                    let renew = |job: &crate::ClaimedJob| {
                        let until = queue_db.now() + crate::runner::to_chrono(lease);
                        match queue_db.extend_lease(job, until) {
                            Ok(true) => {}
                            Ok(false) => tracing::warn!(queue, job = job.id, "a running job was taken over"),
                            Err(error) => tracing::warn!(queue, %error, "cannot renew a running job's lease"),
                        }
                    };
                    while !queue_stop.load(Ordering::Relaxed) {
                        let seen = queue_wake.current();
                        match runner.run_due_renewing(|| queue_db.now(), renew) {
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
            let runner = runner(&outbox_db, &outbox_registry, None, 100, lease);
            while !outbox_stop.load(Ordering::Relaxed) {
                let now = outbox_db.now();
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

/// Why the embedded runner could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(transparent)]
    Registry(#[from] crate::RegistryError),
    #[error("cannot start a job thread: {0}")]
    Thread(#[from] std::io::Error),
}

fn runner<'a, S: JobStore>(
    database: &'a S,
    registry: &'a Registry,
    queue: Option<&'a str>,
    batch: u32,
    lease: Duration,
) -> Runner<'a, S> {
    Runner { store: database, registry, policy: RetryPolicy::default(), lease, batch, queue }
}

impl Drop for EmbeddedJobs {
    fn drop(&mut self) {
        self.halt();
    }
}
