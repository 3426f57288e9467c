//! The embedded transport: in the single-process mode the server itself turns outbox events into
//! jobs and runs them, until shutdown. One thread drains the outbox (and enqueues the periodic
//! jobs); one thread per queue runs that queue's jobs, so a slow integration (a webhook receiver
//! taking its 10 s) never holds back another's jobs. The outbox thread waits on the store's signal of
//! committed work ([`JobStore::work_signal`]; it polls if the store keeps none) and wakes the queue
//! threads when it has enqueued something.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{JobStore, Registry, RetryPolicy, Runner, Scheduler, TransportStore, WorkSignal};

/// How long the runner's threads wait for work before looking anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// The outbox thread, on a store that signals committed work ([`JobStore::work_signal`]): the
    /// signal wakes it at once, this bounds the lateness of the periodic jobs. (On a store that does
    /// not signal it polls, at most every 50 ms.)
    pub outbox: Duration,
    /// A queue thread, unless the outbox thread wakes it: retries come due by time, not by an event.
    pub queue: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Self { outbox: Duration::from_secs(1), queue: Duration::from_millis(500) }
    }
}

/// How long the outbox thread waits at most on a store that does not signal: it polls.
const OUTBOX_POLL: Duration = Duration::from_millis(50);
/// How long it waits after a storage error before trying again.
const AFTER_ERROR: Duration = Duration::from_secs(2);

/// A running embedded runner.
#[derive(Debug)]
pub struct EmbeddedJobs {
    stop: Arc<AtomicBool>,
    /// Wakes the queue threads: bumped by the outbox thread when there are jobs for them, and by
    /// stopping.
    wake: Arc<WorkSignal>,
    /// What the outbox thread waits on: the store's signal of committed work, or `wake` if the
    /// store keeps none (then it polls).
    work: Arc<WorkSignal>,
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
        scheduler: Scheduler,
        lease: Duration,
    ) -> Result<Self, EmbeddedError>
    where
        S: JobStore + TransportStore + Clone + Send + Sync + 'static,
    {
        Self::start_waiting(database, registry, scheduler, lease, Waits::default())
    }

    /// [`EmbeddedJobs::start`], with the idle waits given.
    ///
    /// # Errors
    /// The registry is inconsistent, or a thread cannot be started.
    pub fn start_waiting<S>(
        database: S,
        registry: Registry,
        mut scheduler: Scheduler,
        lease: Duration,
        waits: Waits,
    ) -> Result<Self, EmbeddedError>
    where
        S: JobStore + TransportStore + Clone + Send + Sync + 'static,
    {
        registry.validate()?;
        let registry = Arc::new(registry);
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(WorkSignal::default());
        let (work, signalled) = match database.work_signal() {
            Some(signal) => (signal, true),
            None => (Arc::clone(&wake), false),
        };
        let outbox_idle = if signalled { waits.outbox } else { waits.outbox.min(OUTBOX_POLL) };
        let mut jobs = Self {
            stop: Arc::clone(&stop),
            wake: Arc::clone(&wake),
            work: Arc::clone(&work),
            threads: Vec::new(),
        };

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
                            Ok(_) => queue_wake.wait(seen, waits.queue),
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
            // Whether the last wait ended on work committed through the store rather than on its
            // timeout (never when polling: then `work` is the queue threads' own signal).
            let mut woken = false;
            while !outbox_stop.load(Ordering::Relaxed) {
                let seen = work.current();
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
                        // Queue threads are woken only when there may be something new for them:
                        // jobs from events or periodic ones, or work committed through the store
                        // since the last look (a job enqueued directly).
                        let committed = signalled && work.current() != seen;
                        if drained.jobs > 0 || enqueued || woken || committed {
                            outbox_wake.bump();
                        }
                        woken = false;
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
                work.wait(seen, outbox_idle);
                woken = signalled && work.current() != seen;
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
        self.work.bump();
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
