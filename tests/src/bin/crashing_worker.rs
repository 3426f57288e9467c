//! `firefighter-worker` as a private deployment would build it, with one integration of the tests'
//! own: for an incident whose title starts with `CRASH`, its job aborts the whole process, as a
//! handler that runs out of memory or trips a native library would. The end-to-end tests use it to
//! check that such a job ends dead after its attempts and holds no other job back.

use std::process::ExitCode;

use incidents_core::DomainEvent;
use jobs::{Job, OutboxEvent, Registry};
use platform::{Context, Integration};
use serde::{Deserialize, Serialize};

/// Aborts the process running it.
#[derive(Debug, Serialize, Deserialize)]
struct Crash {
    incident_id: i64,
}

impl Job for Crash {
    const NAME: &'static str = "e2e.crash";
    const QUEUE: &'static str = "e2e";
    fn idempotency_key(&self) -> String {
        format!("e2e-crash:{}", self.incident_id)
    }
}

struct CrashProbe;

impl Integration for CrashProbe {
    fn name(&self) -> &'static str {
        "e2e_crash_probe"
    }

    fn register_jobs(&self, _context: &Context, registry: &mut Registry) -> anyhow::Result<()> {
        registry.register(|job: Crash, attempt| -> Result<(), jobs::JobError> {
            tracing::error!(incident = job.incident_id, attempt, "the crash probe aborts its worker");
            std::process::abort()
        })?;
        registry.on_event(|event: &OutboxEvent| match (event.decode(), event.incident_id) {
            (Ok(DomainEvent::IncidentCreated(created)), Some(incident_id))
                if created.title.starts_with("CRASH") =>
            {
                vec![Crash { incident_id }]
            }
            _ => Vec::new(),
        });
        Ok(())
    }
}

fn main() -> ExitCode {
    app::AppBuilder::standard().integration(CrashProbe).worker_main()
}
