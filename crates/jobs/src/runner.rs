//! Running jobs from the job table: turn new outbox events into jobs, claim the due ones, run them,
//! and record the outcome (done, retry later, or dead). [`Runner`] is the embedded mode's loop; the
//! queue worker shares [`attempt`] and records outcomes through the same [`JobStore`], fenced by the
//! attempt number so that an attempt that lost its job never overwrites the job's state.

use std::time::Duration;

use chrono::NaiveDateTime;
use incidents_core::RepositoryError;

use crate::{AfterFailure, Enqueue, JobError, OutboxEvent, Registry, RegistryError, RetryPolicy};

/// Abandoned jobs handled per pass, at most.
const REAP_BATCH: u32 = 100;

/// A job claimed for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: i64,
    pub name: String,
    pub payload: String,
    /// The job's attempt number, counting every series: what fences an attempt's writes and the
    /// broker's messages (it only grows).
    pub attempt: u32,
    /// Attempts made before this series (a dead job given another series by
    /// [`JobAdmin::retry_dead`] keeps counting).
    pub base: u32,
}

impl ClaimedJob {
    /// The attempt within the current series: 1 for the first. What the retry policy and the
    /// handler see.
    #[must_use]
    pub fn try_in_series(&self) -> u32 {
        self.attempt.saturating_sub(self.base)
    }
}

/// Turns a batch of outbox events into the jobs of each, in order ([`Registry::jobs_for_batch`]).
pub type JobsFor<'a> = &'a dyn Fn(&[OutboxEvent]) -> Result<Vec<Vec<Enqueue>>, RegistryError>;

/// What draining the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Outbox events taken (and marked published).
    pub events: usize,
    /// Jobs they started.
    pub jobs: usize,
}

/// The job table. Implemented by storage.
pub trait JobStore {
    /// The time leases and due dates are computed from: the database's clock, so that processes on
    /// machines whose clocks disagree still agree on when a lease ran out. Defaults to this
    /// process's clock (right for a database on this machine).
    fn now(&self) -> NaiveDateTime {
        incidents_core::clock::now()
    }

    /// The signal moved whenever outbox events or jobs are committed through this store in this
    /// process, if the store keeps one: the embedded runner waits on it instead of polling. `None`
    /// (the default) makes it poll.
    fn work_signal(&self) -> Option<std::sync::Arc<crate::WorkSignal>> {
        None
    }

    /// Turns up to `limit` unpublished outbox events into jobs with `jobs_for` (given the batch, it
    /// returns the jobs of each event in order) and marks them published. `jobs_for` runs before the
    /// write transaction (it may read the database); the jobs of the events still unpublished then are
    /// enqueued and those events marked, in one transaction (a job already enqueued under the same
    /// idempotency key is not enqueued again).
    ///
    /// # Errors
    /// A storage failure, or `jobs_for`'s error (nothing is then marked published).
    fn enqueue_outbox(
        &self,
        limit: u32,
        now: NaiveDateTime,
        jobs_for: JobsFor<'_>,
    ) -> Result<Drained, RepositoryError>;

    /// Enqueues one job to run at `run_at`; `Ok(false)` when a job with its idempotency key exists
    /// (enqueued by another runner, for example).
    ///
    /// # Errors
    /// A storage failure.
    fn enqueue(
        &self,
        job: &Enqueue,
        run_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError>;

    /// Enqueues several jobs to run at `run_at`, together (one transaction where the store can);
    /// jobs whose idempotency key exists are skipped. Returns how many were inserted.
    ///
    /// # Errors
    /// A storage failure: then none of them is enqueued.
    fn enqueue_many(
        &self,
        jobs: &[Enqueue],
        run_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<usize, RepositoryError> {
        let mut inserted = 0;
        for job in jobs {
            inserted += usize::from(self.enqueue(job, run_at, now)?);
        }
        Ok(inserted)
    }

    /// Deletes outbox events published before `before` and jobs done before it; returns how many of
    /// each. Pending, running and dead jobs are kept.
    ///
    /// # Errors
    /// A storage failure.
    fn purge_before(&self, before: NaiveDateTime) -> Result<(usize, usize), RepositoryError>;

    /// Running jobs whose lease ran out before `now` (their runner died), up to `limit`, made
    /// pending again or dead by [`RetryPolicy::after_abandoned`], with the death as their last error.
    /// Every runner calls it before it claims (the scaled relay, before it publishes). Returns how
    /// many.
    ///
    /// # Errors
    /// A storage failure.
    fn reap_abandoned(
        &self,
        now: NaiveDateTime,
        policy: RetryPolicy,
        limit: u32,
    ) -> Result<usize, RepositoryError>;

    /// Claims up to `limit` due jobs for `lease`, of `queue` only or of every queue: pending (or
    /// queued, left by the scaled mode) ones whose time has come. Each claim counts an attempt.
    ///
    /// # Errors
    /// A storage failure.
    fn claim(
        &self,
        limit: u32,
        now: NaiveDateTime,
        lease: Duration,
        queue: Option<&str>,
    ) -> Result<Vec<ClaimedJob>, RepositoryError>;

    /// The attempt succeeded. Like every outcome, it is recorded only while the attempt still owns
    /// the job (the row is running at this attempt): `Ok(false)` when another runner took the job
    /// over meanwhile (this attempt outlived its lease), and nothing is written.
    ///
    /// # Errors
    /// A storage failure.
    fn complete(&self, job: &ClaimedJob, now: NaiveDateTime) -> Result<bool, RepositoryError>;

    /// The attempt failed: run again at `run_at`, keeping `error`.
    ///
    /// # Errors
    /// A storage failure.
    fn retry_at(
        &self,
        job: &ClaimedJob,
        run_at: NaiveDateTime,
        error: &str,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError>;

    /// The job is dead: no more attempts; `error` is kept for the operator.
    ///
    /// # Errors
    /// A storage failure.
    fn bury(&self, job: &ClaimedJob, error: &str, now: NaiveDateTime) -> Result<bool, RepositoryError>;
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    pub events: usize,
    pub succeeded: usize,
    pub retried: usize,
    pub dead: usize,
}

impl PassReport {
    /// Whether the pass found anything to do.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.events + self.succeeded + self.retried + self.dead > 0
    }
}

/// Drains the outbox and runs due jobs.
#[derive(Debug)]
pub struct Runner<'a, S> {
    pub store: &'a S,
    pub registry: &'a Registry,
    pub policy: RetryPolicy,
    /// How long a claimed job is protected from other runners.
    pub lease: Duration,
    /// Events and jobs taken per pass.
    pub batch: u32,
    /// The queue this runner runs jobs of; `None`: every queue.
    pub queue: Option<&'a str>,
}

impl<S: JobStore> Runner<'_, S> {
    /// One pass: enqueue new outbox events, then claim and run the due jobs, one at a time.
    ///
    /// # Errors
    /// A storage failure (jobs already run keep their recorded outcome).
    pub fn pass(&self, now: impl Fn() -> NaiveDateTime) -> Result<PassReport, RepositoryError> {
        let events = self.drain_outbox(now())?.events;
        Ok(PassReport { events, ..self.run_due(now)? })
    }

    /// Turns up to a batch of new outbox events into jobs.
    ///
    /// # Errors
    /// A storage failure, or a subscriber's.
    pub fn drain_outbox(&self, now: NaiveDateTime) -> Result<Drained, RepositoryError> {
        self.store.enqueue_outbox(self.batch, now, &|events| self.registry.jobs_for_batch(events))
    }

    /// Claims up to a batch of due jobs (of this runner's queue) and runs them, one at a time.
    ///
    /// # Errors
    /// A storage failure (jobs already run keep their recorded outcome).
    pub fn run_due(&self, now: impl Fn() -> NaiveDateTime) -> Result<PassReport, RepositoryError> {
        self.run_due_renewing(now, |_| {})
    }

    /// Like [`Runner::run_due`], with `renew` called every third of the lease while a job runs (to
    /// extend its lease: a short lease then protects a long job, and a job whose runner died is
    /// taken over soon).
    ///
    /// # Errors
    /// A storage failure (jobs already run keep their recorded outcome).
    pub fn run_due_renewing(
        &self,
        now: impl Fn() -> NaiveDateTime,
        renew: impl Fn(&ClaimedJob) + Sync,
    ) -> Result<PassReport, RepositoryError> {
        let mut report = PassReport::default();
        self.store.reap_abandoned(now(), self.policy, REAP_BATCH)?;
        for job in self.store.claim(self.batch, now(), self.lease, self.queue)? {
            let outcome =
                with_heartbeat(self.lease / 3, || renew(&job), || attempt(self.registry, self.policy, &job));
            match outcome {
                Outcome::Done => {
                    self.store.complete(&job, now())?;
                    report.succeeded += 1;
                }
                Outcome::RetryIn(delay, error) => {
                    let at = now();
                    self.store.retry_at(&job, at + to_chrono(delay), &error, at)?;
                    report.retried += 1;
                }
                Outcome::Dead(error) => {
                    self.store.bury(&job, &error, now())?;
                    report.dead += 1;
                }
            }
        }
        Ok(report)
    }
}

/// Runs one attempt on a thread of its own, waiting at most the job's run-time cap. A panicking
/// handler is a failed attempt like any other (retried, then dead); so is one that runs past its cap,
/// whose thread is then left to finish on its own while the runner moves on.
fn run_capped(registry: &Registry, job: &ClaimedJob) -> Result<(), JobError> {
    let Some((run, timeout)) = registry.handler(&job.name) else {
        return Err(JobError::Permanent(format!("no handler for job {}", job.name)));
    };
    let (done, result) = std::sync::mpsc::sync_channel(1);
    let (payload, attempt) = (job.payload.clone(), job.try_in_series());
    let spawned = std::thread::Builder::new().name(format!("ff-job-{}", job.id)).spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&payload, attempt)))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_owned());
                Err(JobError::Retryable(format!("the job panicked: {message}")))
            });
        let _ = done.send(outcome);
    });
    if let Err(error) = spawned {
        return Err(JobError::Retryable(format!("cannot start the job's thread: {error}")));
    }
    match result.recv_timeout(timeout) {
        Ok(outcome) => outcome,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            tracing::error!(job = job.id, name = %job.name, ?timeout, "job ran past its run-time cap; its runner moves on");
            Err(JobError::Retryable(format!("ran past its run-time cap of {} s", timeout.as_secs())))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(JobError::Retryable("the job's thread ended without an outcome".to_owned()))
        }
    }
}

/// Runs `work`, calling `beat` every `every` until it is done.
fn with_heartbeat<T>(every: Duration, beat: impl Fn() + Sync, work: impl FnOnce() -> T) -> T {
    let done = (std::sync::Mutex::new(false), std::sync::Condvar::new());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let (lock, wake) = &done;
            let Ok(mut finished) = lock.lock() else { return };
            loop {
                let Ok((guard, timeout)) = wake.wait_timeout_while(finished, every, |finished| !*finished)
                else {
                    return;
                };
                finished = guard;
                if *finished || !timeout.timed_out() {
                    return;
                }
                beat();
            }
        });
        let result = work();
        let (lock, wake) = &done;
        if let Ok(mut finished) = lock.lock() {
            *finished = true;
        }
        wake.notify_all();
        result
    })
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Failed; try again after the delay. Carries the error.
    RetryIn(Duration, String),
    /// Failed for good (last attempt, or a permanent error). Carries the error.
    Dead(String),
}

/// Runs one attempt of `job` and decides what follows, by the job's error and `policy`. Shared by the
/// embedded runner and the queue worker, so both retry alike.
#[must_use]
pub fn attempt(registry: &Registry, policy: RetryPolicy, job: &ClaimedJob) -> Outcome {
    // Attempts past the last one come from runners that died mid-attempt (a takeover counts an
    // attempt): a job that kills its runner must not be tried for ever.
    let attempt = job.try_in_series();
    if attempt > policy.max_attempts {
        tracing::error!(job = job.id, name = %job.name, attempt, "job's runner died during its last attempt");
        return Outcome::Dead(format!(
            "its runner died during the last of {} attempts (crash, out of memory?); not tried again",
            policy.max_attempts
        ));
    }
    let result = run_capped(registry, job);
    match result {
        Ok(()) => Outcome::Done,
        Err(JobError::Retryable(error)) => match policy.after_failure(attempt, rand::random()) {
            AfterFailure::RetryIn(delay) => {
                tracing::warn!(job = job.id, name = %job.name, attempt, %error, "job failed; will retry");
                Outcome::RetryIn(delay, error)
            }
            AfterFailure::Dead => {
                tracing::error!(job = job.id, name = %job.name, attempt, %error, "job failed its last attempt");
                Outcome::Dead(error)
            }
        },
        Err(JobError::Permanent(error)) => {
            tracing::error!(job = job.id, name = %job.name, %error, "job cannot succeed");
            Outcome::Dead(error)
        }
    }
}

/// A [`std::time::Duration`] as a chrono one, saturating.
#[must_use]
pub fn to_chrono(delay: Duration) -> chrono::Duration {
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
}

/// A job on its way to a message queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    pub id: i64,
    pub name: String,
    /// The queue (one per integration) it is routed to.
    pub queue: String,
    pub idempotency_key: String,
    pub event_id: Option<String>,
    /// The job's attempts so far: the generation its message carries. Only a message of the job's
    /// current generation can start it, so a duplicate or a stale message never runs it twice.
    pub attempts: u32,
}

/// What the queue transport (scaled mode) needs from the job table, beside [`JobStore`]. The table
/// stays the truth about every job; the queue only carries job ids.
pub trait TransportStore: JobStore {
    /// Takes up to `limit` jobs that need a message — pending ones whose time has come, running ones
    /// whose lease ran out (their worker died), and queued ones due for longer than `stale_after`
    /// (their message was lost: a purged queue, say) — and hands them to `publish` while they stay
    /// locked; the ids `publish` returns (the broker confirmed them) are marked queued as of `now`,
    /// in the same transaction. Returns how many were marked.
    ///
    /// # Errors
    /// A storage failure (nothing is then marked, and the jobs will be published again).
    fn publish_due(
        &self,
        limit: u32,
        now: NaiveDateTime,
        stale_after: Duration,
        publish: &mut dyn FnMut(&[QueuedJob]) -> Vec<i64>,
    ) -> Result<usize, RepositoryError>;

    /// Starts an attempt of job `id`, delivered by a message of `generation` (the job's attempts
    /// when it was published), for `lease`. `None` when there is nothing to run: the job is unknown,
    /// done or dead, the message is of another generation (a duplicate, or stale), or the job is
    /// running (under a live lease, or left by a dead runner: [`JobStore::reap_abandoned`] decides
    /// what follows, and the relay publishes it again).
    ///
    /// # Errors
    /// A storage failure.
    fn start(
        &self,
        id: i64,
        generation: u32,
        now: NaiveDateTime,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>, RepositoryError>;

    /// Extends the lease of a running attempt (its worker's heartbeat); `Ok(false)` when the attempt
    /// no longer owns the job.
    ///
    /// # Errors
    /// A storage failure.
    fn extend_lease(&self, job: &ClaimedJob, until: NaiveDateTime) -> Result<bool, RepositoryError>;

    /// A retry recorded pending ([`JobStore::retry_at`]) now has its delayed message: the job is
    /// marked queued, unless that message already started it (or the attempt lost the job).
    /// `Ok(false)` when nothing changed.
    ///
    /// # Errors
    /// A storage failure.
    fn mark_queued(&self, job: &ClaimedJob, now: NaiveDateTime) -> Result<bool, RepositoryError>;
}

/// A job as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: i64,
    pub name: String,
    pub queue: String,
    pub idempotency_key: String,
    pub event_id: Option<String>,
    /// One of [`JOB_STATES`].
    pub state: String,
    /// Attempts in the current series (a job revived by `retry_dead` starts again at 0).
    pub attempts: u32,
    pub run_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The job states. `queued` only in scaled mode: handed to RabbitMQ, not started yet.
pub const JOB_STATES: [&str; 5] = ["pending", "queued", "running", "done", "dead"];

/// What operators do with jobs. Implemented by storage.
pub trait JobAdmin {
    /// Jobs, newest first, in one state or all.
    ///
    /// # Errors
    /// A storage failure.
    fn jobs(
        &self,
        state: Option<&str>,
        page: incidents_core::query::PageRequest,
    ) -> Result<incidents_core::query::Page<JobRecord>, RepositoryError>;

    /// One job.
    ///
    /// # Errors
    /// A storage failure.
    fn job(&self, id: i64) -> Result<Option<JobRecord>, RepositoryError>;

    /// Gives a dead job a new series of attempts, now. Its last error stays until the next attempt.
    /// `Ok(false)` when the job does not exist or is not dead.
    ///
    /// # Errors
    /// A storage failure.
    fn retry_dead(&self, id: i64, now: NaiveDateTime) -> Result<bool, RepositoryError>;

    /// The failed side effects of one incident: the jobs of its events that failed and are not done
    /// (dead, or waiting for their next attempt), newest first, at most `limit`. Jobs enqueued without
    /// an event, and those whose event the outbox cleanup has deleted, are not found.
    ///
    /// # Errors
    /// A storage failure.
    fn failed_for_incident(&self, incident: i64, limit: i64) -> Result<Vec<JobRecord>, RepositoryError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Job;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Boom;

    impl Job for Boom {
        const NAME: &'static str = "test.boom";
        const QUEUE: &'static str = "test";
        fn idempotency_key(&self) -> String {
            "boom".into()
        }
    }

    fn job(attempt: u32) -> ClaimedJob {
        ClaimedJob { id: 1, name: "test.boom".into(), payload: "null".into(), attempt, base: 0 }
    }

    #[test]
    fn a_panic_is_a_failed_attempt_and_a_job_past_its_last_attempt_is_dead() {
        let mut registry = Registry::new();
        registry
            .register(|_: Boom, _| -> Result<(), JobError> { panic!("handler bug") })
            .map(drop)
            .unwrap_or_else(|e| panic!("{e}"));
        let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
        assert!(
            matches!(attempt(&registry, policy, &job(1)), Outcome::RetryIn(_, ref error) if error == "the job panicked: handler bug")
        );
        assert!(
            matches!(attempt(&registry, policy, &job(3)), Outcome::Dead(ref error) if error.contains("panicked"))
        );
        // A fourth attempt only happens after runners died mid-attempt: it is not run.
        assert!(
            matches!(attempt(&registry, policy, &job(4)), Outcome::Dead(ref error) if error.contains("died"))
        );
    }

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Hang;

    impl Job for Hang {
        const NAME: &'static str = "test.hang";
        const QUEUE: &'static str = "test";
        const TIMEOUT: Duration = Duration::from_millis(200);
        fn idempotency_key(&self) -> String {
            "hang".into()
        }
    }

    #[test]
    fn a_handler_past_its_run_time_cap_is_a_failed_attempt_and_its_runner_moves_on() {
        let mut registry = Registry::new();
        registry
            .register(|_: Hang, _| -> Result<(), JobError> {
                std::thread::sleep(Duration::from_secs(3600));
                Ok(())
            })
            .map(drop)
            .unwrap_or_else(|e| panic!("{e}"));
        let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
        let hung =
            ClaimedJob { id: 2, name: "test.hang".into(), payload: "null".into(), attempt: 1, base: 0 };
        let started = std::time::Instant::now();
        let outcome = attempt(&registry, policy, &hung);
        assert!(
            matches!(outcome, Outcome::RetryIn(_, ref error) if error.contains("run-time cap")),
            "{outcome:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "the runner did not wait for the hung handler");
        let last = ClaimedJob { attempt: 2, ..hung };
        assert!(
            matches!(attempt(&registry, policy, &last), Outcome::Dead(ref error) if error.contains("run-time cap"))
        );
    }
}
