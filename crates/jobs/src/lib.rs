//! Background jobs: everything FireFighter does to the outside world (webhooks, later Slack, Jira,
//! PagerDuty, Confluence) runs as a job that follows a committed database change.
//!
//! - [`Job`]: a typed job (its name, queue, payload and idempotency key).
//! - [`Registry`]: the handlers by job name, and which jobs each outbox event starts.
//! - [`RetryPolicy`]: exponential backoff with jitter, then the job is dead with its last error.
//!
//! The crate holds no I/O: the transports (the embedded drain and the RabbitMQ worker) and the job
//! table live with the binaries and storage. Delivery is at least once; handlers are idempotent on the
//! job's idempotency key, so effects happen once.

mod registry;
mod retry;
mod runner;
mod schedule;

pub use registry::{Enqueue, Handler, Job, JobError, OutboxEvent, Registry, RegistryError};
pub use retry::{AfterFailure, RetryPolicy};
pub use runner::{
    ClaimedJob, Drained, JOB_STATES, JobAdmin, JobRecord, JobStore, JobsFor, Outcome, PassReport, QueuedJob,
    Runner, TransportStore, attempt, to_chrono,
};
pub use schedule::{ScheduleError, Scheduler};
