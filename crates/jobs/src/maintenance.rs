//! The platform's own periodic job: deleting outbox events already delivered and jobs done, once
//! they are older than the retention period.

use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::{Enqueue, Job, JobError, JobStore, Registry, RegistryError, ScheduleError, Scheduler};

/// Deletes outbox events and done jobs older than the retention period.
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

/// Why the maintenance jobs could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("retention out of range")]
    Retention,
}

/// Registers the cleanup handler and its schedule.
///
/// # Errors
/// A second registration, or a retention beyond what a date can hold.
pub fn register<S>(
    registry: &mut Registry,
    scheduler: &mut Scheduler,
    store: S,
    retention: Duration,
) -> Result<(), MaintenanceError>
where
    S: JobStore + Send + Sync + 'static,
{
    let retention = chrono::Duration::from_std(retention).map_err(|_| MaintenanceError::Retention)?;
    registry.register(move |job: Cleanup, _attempt| {
        let (events, jobs) =
            store.purge_before(job.tick - retention).map_err(|e| JobError::Retryable(e.to_string()))?;
        tracing::info!(events, jobs, "cleaned up delivered outbox events and done jobs");
        Ok(())
    })?;
    scheduler.every("cleanup", CLEANUP_SCHEDULE, |tick| Enqueue::new(&Cleanup { tick }))?;
    Ok(())
}
