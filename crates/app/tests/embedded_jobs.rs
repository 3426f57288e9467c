//! The embedded runner: one thread per queue, so a slow queue never holds back another's jobs, and a
//! stop waits for the jobs in flight.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jobs::EmbeddedJobs;
use jobs::{Enqueue, Job, JobStore, Registry, Scheduler};
use serde::{Deserialize, Serialize};
use storage::testing::TestDatabase;

#[derive(Debug, Serialize, Deserialize)]
struct Slow {
    id: u32,
}

impl Job for Slow {
    const NAME: &'static str = "test.slow";
    const QUEUE: &'static str = "slow";
    fn idempotency_key(&self) -> String {
        format!("slow-{}", self.id)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Quick {
    id: u32,
}

impl Job for Quick {
    const NAME: &'static str = "test.quick";
    const QUEUE: &'static str = "quick";
    fn idempotency_key(&self) -> String {
        format!("quick-{}", self.id)
    }
}

#[test]
fn a_slow_queue_does_not_hold_back_another_and_stopping_waits_for_jobs_in_flight() {
    for test in TestDatabase::each_backend() {
        let finished: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let mut registry = Registry::new();
        let (slow_done, quick_done) = (Arc::clone(&finished), Arc::clone(&finished));
        registry
            .register(move |job: Slow, _| {
                std::thread::sleep(Duration::from_millis(1500));
                slow_done.lock().expect("lock").push((format!("slow-{}", job.id), Instant::now()));
                Ok(())
            })
            .expect("register");
        registry
            .register(move |job: Quick, _| {
                quick_done.lock().expect("lock").push((format!("quick-{}", job.id), Instant::now()));
                Ok(())
            })
            .expect("register");
        let now = incidents_core::clock::now();
        let started = Instant::now();
        for id in 0..2 {
            test.database.enqueue(&Enqueue::new(&Slow { id }).expect("job"), now, now).expect("enqueue");
        }
        for id in 0..5 {
            test.database.enqueue(&Enqueue::new(&Quick { id }).expect("job"), now, now).expect("enqueue");
        }
        let scheduler = Scheduler::new(chrono_tz::Tz::UTC, now);
        let runner = EmbeddedJobs::start(test.database.clone(), registry, scheduler, Duration::from_secs(30))
            .expect("start");

        let deadline = Instant::now() + Duration::from_secs(10);
        while finished.lock().expect("lock").iter().filter(|(name, _)| name.starts_with("quick")).count() < 5
        {
            assert!(Instant::now() < deadline, "the quick jobs never ran");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            started.elapsed() < Duration::from_millis(1400),
            "the quick queue ran while the slow one was busy: {:?}",
            started.elapsed()
        );
        // The first slow job is in flight: stopping waits for it.
        runner.stop();
        let names: Vec<String> =
            finished.lock().expect("lock").iter().map(|(name, _)| name.clone()).collect();
        assert!(names.contains(&"slow-0".to_owned()) || names.contains(&"slow-1".to_owned()), "{names:?}");
        let page = jobs::JobAdmin::jobs(
            &test.database,
            Some("running"),
            incidents_core::query::PageRequest { limit: 10, offset: 0, with_total: false },
        )
        .expect("jobs");
        assert!(page.items.is_empty(), "nothing left running after the stop");
        let pending = jobs::JobAdmin::jobs(
            &test.database,
            Some("pending"),
            incidents_core::query::PageRequest { limit: 10, offset: 0, with_total: false },
        )
        .expect("jobs");
        assert_eq!(pending.items.len(), 1, "the other slow job waits for the next start");
    }
}
