//! Background jobs: everything FireFighter does to the outside world (webhooks, later Slack, Jira,
//! PagerDuty, Confluence) runs as a job that follows a committed database change.
//!
//! - [`Job`]: a typed job (its name, queue, payload and idempotency key).
//! - [`Registry`]: the handlers by job name, and which jobs each outbox event starts.
//! - [`RetryPolicy`]: exponential backoff with jitter, then the job is dead with its last error.
//!
//! The crate holds no I/O: the job table is a port ([`JobStore`], implemented by storage), and the
//! RabbitMQ transport lives in `amqp-transport`. [`embedded`] is the in-process transport (threads
//! over the store), [`maintenance`] the platform's own periodic cleanup. Delivery is at least once; handlers are idempotent on the
//! job's idempotency key, so effects happen once.

pub mod embedded;
pub mod maintenance;
mod registry;
mod retry;
mod runner;
mod schedule;
mod signal;
mod writer;

pub use embedded::{EmbeddedJobs, Waits};
pub use registry::{Enqueue, Handler, Job, JobError, OutboxEvent, Registry, RegistryError};
pub use retry::{AfterAbandoned, AfterFailure, RetryPolicy};
pub use runner::{
    ClaimedJob, Drained, JOB_STATES, JobAdmin, JobRecord, JobStore, JobsFor, Outcome, PassReport, QueuedJob,
    Runner, TransportStore, attempt, to_chrono,
};
pub use schedule::{ScheduleError, Scheduler};
pub use signal::WorkSignal;
pub use writer::EnqueueWriter;
