//! The job table and the runner on real databases: outbox events become jobs once, jobs run once,
//! failures are retried with backoff and end dead with their last error, and a job whose runner died
//! is taken again after its lease. SQLite and PostgreSQL.
#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]

use firefighter_storage as storage;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::incident::{DeclareIncident, PriorityChoice};
use incidents_core::{
    Actor, Email, EntryPoint, IncidentLifecycle, NewUser, NoPostMortemBackend, UserRepository,
};
use jobs::{Job, JobError, JobStore, OutboxEvent, Registry, RetryPolicy, Runner};
use serde::{Deserialize, Serialize};
use storage::Database;
use storage::schema::{environments, incident_categories, jobs as job_table, outbox_events, priorities};
use storage::testing::TestDatabase;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Notify {
    event_id: String,
    incident_id: Option<i64>,
}

impl Job for Notify {
    const NAME: &'static str = "test.notify";
    const QUEUE: &'static str = "test";
    fn idempotency_key(&self) -> String {
        format!("notify:{}", self.event_id)
    }
}

fn declare(database: &Database, n: usize) {
    let user = database
        .create_user(&NewUser {
            email: Email::parse(&format!("jobs{n}@example.com")).expect("email"),
            name: String::new(),
            is_admin: false,
            password_hash: None,
        })
        .expect("user");
    let mut conn = database.connection().expect("connection");
    let priority: String = priorities::table
        .filter(priorities::name.eq("P3"))
        .select(priorities::id)
        .first(&mut conn)
        .expect("p");
    let environment: String = environments::table.select(environments::id).first(&mut conn).expect("e");
    let category: String =
        incident_categories::table.select(incident_categories::id).first(&mut conn).expect("c");
    drop(conn);
    IncidentLifecycle::new(database.clone(), NoPostMortemBackend)
        .declare(
            Actor { user: user.id, entry_point: EntryPoint::Api },
            &DeclareIncident {
                title: format!("Jobs {n}"),
                description: "Declared by the jobs test.".into(),
                priority: PriorityChoice::Given(priority),
                category_id: category,
                environment_id: environment,
                private: None,
                dedup_key: None,
                ignored: false,
                custom_fields: serde_json::Map::new(),
                created_by: None,
            },
        )
        .expect("declare");
}

/// A registry whose handler records what it ran and fails while `failures` is above zero.
fn make_registry(
    ran: Arc<Mutex<Vec<(Notify, u32)>>>,
    failures: Arc<Mutex<u32>>,
    permanent: bool,
) -> Registry {
    let mut registry = Registry::new();
    registry
        .register(move |job: Notify, attempt| {
            let mut left = failures.lock().expect("lock");
            if *left > 0 {
                *left -= 1;
                return Err(if permanent {
                    JobError::Permanent("receiver refuses".into())
                } else {
                    JobError::Retryable(format!("receiver down (attempt {attempt})"))
                });
            }
            ran.lock().expect("lock").push((job, attempt));
            Ok(())
        })
        .expect("register");
    registry.on_event(|event: &OutboxEvent| {
        vec![Notify { event_id: event.event_id.clone(), incident_id: event.incident_id }]
    });
    registry
}

fn make_runner<'a>(
    database: &'a Database,
    registry: &'a Registry,
    max_attempts: u32,
) -> Runner<'a, Database> {
    Runner {
        store: database,
        registry,
        policy: RetryPolicy {
            base: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
            max_attempts,
        },
        lease: Duration::from_secs(30),
        batch: 100,
        queue: None,
    }
}

fn at(seconds: i64) -> NaiveDateTime {
    incidents_core::clock::now() + chrono::Duration::seconds(seconds)
}

fn states(database: &Database) -> Vec<(String, i32, Option<String>)> {
    job_table::table
        .order(job_table::id)
        .select((job_table::state, job_table::attempts, job_table::last_error))
        .load(&mut database.connection().expect("connection"))
        .expect("jobs")
}

#[test]
fn every_outbox_event_becomes_one_job_that_runs_once() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        for n in 0..3 {
            declare(&test.database, n);
        }
        let ran = Arc::new(Mutex::new(Vec::new()));
        let registry = make_registry(Arc::clone(&ran), Arc::default(), false);
        let runner = make_runner(&test.database, &registry, 5);
        let report = runner.pass(|| at(0)).expect("pass");
        assert_eq!((report.events, report.succeeded), (3, 3), "{:?}", test.backend());
        let again = runner.pass(|| at(1)).expect("pass");
        assert!(!again.busy(), "nothing is enqueued or run twice: {again:?}");
        let ran = ran.lock().expect("lock").clone();
        assert_eq!(ran.len(), 3);
        assert!(ran.iter().all(|(job, attempt)| *attempt == 1 && job.incident_id.is_some()));
        let event_ids: Vec<String> = outbox_events::table
            .order(outbox_events::id)
            .select(outbox_events::event_id)
            .load(&mut test.database.connection().expect("c"))
            .expect("events");
        assert_eq!(ran.iter().map(|(job, _)| job.event_id.clone()).collect::<Vec<_>>(), event_ids);
        assert!(states(&test.database).iter().all(|(state, attempts, _)| state == "done" && *attempts == 1));
    }
}

#[test]
fn failures_back_off_then_succeed_or_end_dead_with_the_last_error() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        declare(&test.database, 0);
        let ran = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(2));
        let registry = make_registry(Arc::clone(&ran), failures, false);
        let runner = make_runner(&test.database, &registry, 5);
        assert_eq!(runner.pass(|| at(0)).expect("pass").retried, 1);
        assert!(!runner.pass(|| at(1)).expect("pass").busy(), "not due before its backoff");
        assert_eq!(runner.pass(|| at(11)).expect("pass").retried, 1, "due after at most 10 s");
        assert_eq!(runner.pass(|| at(40)).expect("pass").succeeded, 1, "the third attempt succeeds");
        assert_eq!(ran.lock().expect("lock").first().map(|(_, attempt)| *attempt), Some(3));
        assert_eq!(states(&test.database)[0].0, "done");

        // A job failing every attempt ends dead, keeping its last error.
        declare(&test.database, 1);
        let always = registry_failing_forever();
        let runner = make_runner(&test.database, &always, 3);
        for second in [100, 200, 300, 400] {
            runner.pass(|| at(second)).expect("pass");
        }
        let (state, attempts, error) = states(&test.database)[1].clone();
        assert_eq!((state.as_str(), attempts), ("dead", 3), "{:?}", test.backend());
        assert_eq!(error.as_deref(), Some("receiver down (attempt 3)"));

        // A permanent failure is dead at once.
        declare(&test.database, 2);
        let refusing = make_registry(Arc::default(), Arc::new(Mutex::new(1)), true);
        let report = runner_with(&test.database, &refusing).pass(|| at(500)).expect("pass");
        assert_eq!(report.dead, 1);
        assert_eq!(states(&test.database)[2].2.as_deref(), Some("receiver refuses"));
    }
}

fn registry_failing_forever() -> Registry {
    make_registry(Arc::default(), Arc::new(Mutex::new(u32::MAX)), false)
}

fn runner_with<'a>(database: &'a Database, registry: &'a Registry) -> Runner<'a, Database> {
    make_runner(database, registry, 5)
}

#[test]
fn a_job_whose_runner_died_is_taken_again_after_its_lease() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        declare(&test.database, 0);
        let registry = make_registry(Arc::default(), Arc::default(), false);
        test.database.enqueue_outbox(10, at(0), &|events| registry.jobs_for_batch(events)).expect("enqueue");
        // A runner claims the job and dies without recording anything.
        let claimed = test.database.claim(10, at(0), Duration::from_secs(30), None).expect("claim");
        assert_eq!(claimed.len(), 1);
        assert!(
            test.database.claim(10, at(10), Duration::from_secs(30), None).expect("claim").is_empty(),
            "leased"
        );
        assert!(test.database.claim(10, at(31), Duration::from_secs(30), None).expect("claim").is_empty());
        // Its lease is out: it is made pending again, at once after a first death.
        let policy = RetryPolicy::default();
        assert_eq!(test.database.reap_abandoned(at(31), policy, 10).expect("reap"), 1);
        assert_eq!(test.database.reap_abandoned(at(31), policy, 10).expect("reap"), 0, "once");
        let again = test.database.claim(10, at(31), Duration::from_secs(30), None).expect("claim");
        assert_eq!(again.iter().map(|job| job.attempt).collect::<Vec<_>>(), [2], "{:?}", test.backend());
        // The first runner was only slow: its late outcome must not overwrite the second's.
        assert!(
            !test.database.complete(&claimed[0], at(40)).expect("complete"),
            "the lost attempt records nothing"
        );
        assert!(!test.database.bury(&claimed[0], "late", at(40)).expect("bury"));
        assert_eq!(states(&test.database)[0].0, "running");
        assert!(test.database.complete(&again[0], at(41)).expect("complete"));
        assert_eq!(states(&test.database)[0].0, "done");
        assert!(
            !test.database.retry_at(&claimed[0], at(50), "late", at(42)).expect("retry"),
            "done stays done"
        );
        assert_eq!(states(&test.database)[0].0, "done");
    }
}

#[test]
fn only_a_message_of_the_current_generation_starts_a_job() {
    use jobs::TransportStore;
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        declare(&test.database, 0);
        let registry = make_registry(Arc::default(), Arc::default(), false);
        test.database.enqueue_outbox(10, at(0), &|events| registry.jobs_for_batch(events)).expect("enqueue");
        let mut published = Vec::new();
        test.database
            .publish_due(10, at(0), Duration::from_secs(7200), &mut |jobs| {
                published.extend(jobs.iter().cloned());
                jobs.iter().map(|job| job.id).collect()
            })
            .expect("publish");
        assert_eq!(published.iter().map(|job| job.attempts).collect::<Vec<_>>(), [0]);
        let id = published[0].id;
        let lease = Duration::from_secs(30);
        let first =
            test.database.start(id, 0, at(1), lease).expect("start").expect("the first message starts it");
        assert_eq!(test.database.start(id, 0, at(2), lease).expect("start"), None, "a duplicate does not");
        assert_eq!(
            test.database.start(id, 5, at(2), lease).expect("start"),
            None,
            "nor a message of another generation"
        );
        // The heartbeat keeps it: even after the first lease would have run out, no one takes it.
        assert!(test.database.extend_lease(&first, at(60)).expect("extend"));
        assert_eq!(test.database.start(id, 1, at(45), lease).expect("start"), None, "leased");
        // A retry: recorded pending, then queued once its delayed message (generation 1) is out.
        assert!(test.database.retry_at(&first, at(70), "failed", at(50)).expect("retry"));
        assert!(test.database.mark_queued(&first, at(50)).expect("queued"));
        assert_eq!(states(&test.database)[0].0, "queued");
        assert_eq!(
            test.database.start(id, 0, at(71), lease).expect("start"),
            None,
            "the old generation is stale"
        );
        let second = test.database.start(id, 1, at(71), lease).expect("start").expect("the retry starts it");
        assert_eq!(second.attempt, 2);
        assert!(!test.database.extend_lease(&first, at(80)).expect("extend"), "the old attempt lost the job");
        assert!(
            !test.database.mark_queued(&second, at(80)).expect("queued"),
            "a running job is not marked queued"
        );

        // Crash recovery: the worker of attempt 2 dies; once its lease runs out the relay makes it
        // pending again, after the retry delay (a second attempt died), then publishes it at its
        // current generation (2), and that message starts attempt 3.
        assert_eq!(test.database.reap_abandoned(at(200), RetryPolicy::default(), 10).expect("reap"), 1);
        let mut republished = Vec::new();
        test.database
            .publish_due(10, at(200), Duration::from_secs(7200), &mut |jobs| {
                republished.extend(jobs.iter().map(|job| (job.id, job.attempts)));
                jobs.iter().map(|job| job.id).collect()
            })
            .expect("publish");
        assert_eq!(republished, [], "it waits its retry delay (5 to 10 s)");
        test.database
            .publish_due(10, at(211), Duration::from_secs(7200), &mut |jobs| {
                republished.extend(jobs.iter().map(|job| (job.id, job.attempts)));
                jobs.iter().map(|job| job.id).collect()
            })
            .expect("publish");
        assert_eq!(republished, [(id, 2)]);
        assert_eq!(
            test.database.start(id, 1, at(212), lease).expect("start"),
            None,
            "the dead worker's generation"
        );
        let third = test.database.start(id, 2, at(212), lease).expect("start").expect("recovered");
        assert_eq!(third.attempt, 3);
        assert!(
            !test.database.complete(&second, at(213)).expect("complete"),
            "the dead worker's late outcome"
        );
        assert!(test.database.complete(&third, at(214)).expect("complete"));
    }
}

#[test]
fn a_revived_dead_job_keeps_counting_so_messages_of_its_old_series_stay_stale() {
    use jobs::{JobAdmin, TransportStore};
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        declare(&test.database, 0);
        let registry = make_registry(Arc::default(), Arc::default(), false);
        test.database.enqueue_outbox(10, at(0), &|events| registry.jobs_for_batch(events)).expect("enqueue");
        let publish = |now| {
            let mut published = Vec::new();
            test.database
                .publish_due(10, now, Duration::from_secs(7200), &mut |jobs| {
                    published.extend(jobs.iter().map(|job| (job.id, job.attempts)));
                    jobs.iter().map(|job| job.id).collect()
                })
                .expect("publish");
            published
        };
        let (id, generation) = publish(at(0))[0];
        assert_eq!(generation, 0);
        let lease = Duration::from_secs(30);
        let first = test.database.start(id, 0, at(1), lease).expect("start").expect("started");
        assert_eq!(first.try_in_series(), 1);
        assert!(test.database.bury(&first, "boom", at(2)).expect("bury"));
        assert!(test.database.retry_dead(id, at(3)).expect("revive"));
        // The first message, redelivered by the broker after the revival, is of the old series.
        assert_eq!(test.database.start(id, 0, at(4), lease).expect("start"), None, "a stale message");
        assert_eq!(publish(at(5)), [(id, 1)], "published again at its current generation");
        let revived =
            test.database.start(id, 1, at(6), lease).expect("start").expect("the revival starts it");
        assert_eq!((revived.attempt, revived.try_in_series()), (2, 1), "a new series, still counting");
        let shown = test.database.job(id).expect("job").expect("there");
        assert_eq!((shown.state.as_str(), shown.attempts), ("running", 1), "attempts shown per series");
        assert!(test.database.complete(&revived, at(7)).expect("complete"));
    }
}

#[test]
fn a_periodic_tick_is_enqueued_once_however_many_schedulers_see_it() {
    use jobs::{Enqueue, Scheduler};
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let start = at(-3600);
        let schedulers: Vec<Scheduler> = (0..3)
            .map(|_| {
                let mut scheduler = Scheduler::new(chrono_tz::Tz::UTC, start);
                scheduler
                    .every("cleanup", "0 0 * * * *", |_| {
                        Ok(Enqueue {
                            name: "maintenance.cleanup",
                            queue: "maintenance",
                            payload: "{}".into(),
                            idempotency_key: String::new(),
                        })
                    })
                    .expect("schedule");
                scheduler
            })
            .collect();
        let mut inserted = 0;
        for mut scheduler in schedulers {
            for (job, run_at) in scheduler.due(at(0)) {
                inserted += usize::from(test.database.enqueue(&job, run_at, at(0)).expect("enqueue"));
            }
        }
        assert_eq!(inserted, 1, "one tick in the last hour, enqueued once ({:?})", test.backend());
        assert_eq!(states(&test.database).len(), 1);
    }
}

#[test]
fn purging_removes_old_published_events_and_done_jobs_only() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        declare(&test.database, 0);
        declare(&test.database, 1);
        let registry = make_registry(Arc::default(), Arc::default(), false);
        // Both events published and their jobs done an hour ago; then a third event, unpublished.
        make_runner(&test.database, &registry, 5).pass(|| at(-3600)).expect("pass");
        declare(&test.database, 2);
        let (events, jobs) = test.database.purge_before(at(-60)).expect("purge");
        assert_eq!((events, jobs), (2, 2), "{:?}", test.backend());
        let left: i64 = outbox_events::table
            .count()
            .get_result(&mut test.database.connection().expect("c"))
            .expect("count");
        assert_eq!(left, 1, "the unpublished event stays");
        assert_eq!(test.database.purge_before(at(-60)).expect("purge"), (0, 0));
    }
}

#[test]
fn a_batch_is_enqueued_in_one_go_and_keys_already_taken_are_skipped() {
    for test in TestDatabase::each_backend() {
        let job = |n: i64| {
            jobs::Enqueue::new(&Notify { event_id: n.to_string(), incident_id: None }).expect("serializes")
        };
        let first: Vec<jobs::Enqueue> = (0..300).map(job).collect();
        assert_eq!(
            test.database.enqueue_many(&first, at(0), at(0)).expect("batch"),
            300,
            "{:?}",
            test.backend()
        );
        // Half of the next batch is already there: only the new half goes in, nothing fails.
        let second: Vec<jobs::Enqueue> = (150..450).map(job).collect();
        assert_eq!(test.database.enqueue_many(&second, at(0), at(0)).expect("batch"), 150);
        assert_eq!(test.database.enqueue_many(&[], at(0), at(0)).expect("empty"), 0);
        let mut conn = test.database.connection().expect("connection");
        let count: i64 = job_table::table.count().get_result(&mut conn).expect("count");
        assert_eq!(count, 450);
    }
}

#[test]
fn the_job_store_clock_is_the_databases() {
    use diesel::sql_types::Timestamp;
    for test in TestDatabase::each_backend() {
        let store: &dyn JobStore = &test.database;
        let ours = store.now();
        let mut conn = test.database.connection().expect("connection");
        let theirs: NaiveDateTime = match test.backend() {
            storage::Backend::Postgres => {
                diesel::select(diesel::dsl::sql::<Timestamp>("clock_timestamp() AT TIME ZONE 'UTC'"))
                    .get_result(&mut conn)
                    .expect("server clock")
            }
            storage::Backend::Sqlite => incidents_core::clock::now(),
        };
        assert!((theirs - ours).num_milliseconds().abs() < 1000, "{ours} vs the database's {theirs}");
    }
}

/// Waits until `ran` holds `count` jobs, or fails after `within`.
fn wait_for_runs(ran: &Mutex<Vec<(Notify, u32)>>, count: usize, within: Duration, what: &str) {
    let deadline = std::time::Instant::now() + within;
    while ran.lock().expect("lock").len() < count {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// With both of the embedded runner's idle waits an hour long, only the database's signal of
/// committed work can wake it: an incident's outbox event, then a job enqueued directly (no event),
/// both run, and a stop is prompt.
#[test]
fn the_embedded_runner_is_woken_by_committed_work_not_by_polling() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let ran: Arc<Mutex<Vec<(Notify, u32)>>> = Arc::default();
        let registry = make_registry(Arc::clone(&ran), Arc::new(Mutex::new(0)), false);
        let now = incidents_core::clock::now();
        let hour = Duration::from_secs(3600);
        let runner = jobs::EmbeddedJobs::start_waiting(
            test.database.clone(),
            registry,
            jobs::Scheduler::new(chrono_tz::Tz::UTC, now),
            Duration::from_secs(30),
            jobs::Waits { outbox: hour, queue: hour },
        )
        .expect("start");
        // Let the threads find nothing and start waiting.
        std::thread::sleep(Duration::from_millis(300));

        declare(&test.database, 0);
        wait_for_runs(&ran, 1, Duration::from_secs(30), "the incident's event never woke the runner");

        let direct = Notify { event_id: "direct".into(), incident_id: None };
        let now = incidents_core::clock::now();
        test.database.enqueue(&jobs::Enqueue::new(&direct).expect("job"), now, now).expect("enqueue");
        wait_for_runs(&ran, 2, Duration::from_secs(30), "a job enqueued directly never woke the runner");
        assert_eq!(ran.lock().expect("lock")[1].0, direct);

        let stopping = std::time::Instant::now();
        runner.stop();
        assert!(stopping.elapsed() < Duration::from_secs(60), "the stop waited for an idle timeout");
    }
}

/// A job whose runner keeps dying: at once again after the first death, then after the retry
/// delays, and dead after its last attempt with the reason; a runner that renewed its lease in time
/// keeps its job.
#[test]
fn a_job_that_keeps_killing_its_runner_backs_off_then_is_dead() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        declare(&test.database, 0);
        let registry = make_registry(Arc::default(), Arc::default(), false);
        test.database.enqueue_outbox(10, at(0), &|events| registry.jobs_for_batch(events)).expect("enqueue");
        let policy = RetryPolicy { max_attempts: 4, ..RetryPolicy::default() };
        let lease = Duration::from_secs(30);
        let mut now = 0;
        for died in 1..=4 {
            let claimed = test.database.claim(10, at(now), lease, None).expect("claim");
            assert_eq!(claimed.len(), 1, "attempt {died} at {now}");
            now += 31;
            assert_eq!(test.database.reap_abandoned(at(now), policy, 10).expect("reap"), 1);
            let (state, error): (String, Option<String>) = {
                let mut conn = test.database.connection().expect("connection");
                job_table::table
                    .select((job_table::state, job_table::last_error))
                    .first(&mut conn)
                    .expect("job")
            };
            let error = error.expect("the death is the last error");
            if died == 4 {
                assert_eq!(state, "dead");
                assert!(error.contains("last of 4 attempts"), "{error}");
                break;
            }
            assert_eq!(state, "pending");
            assert!(error.contains(&format!("attempt {died}")), "{error}");
            if died > 1 {
                // Backed off: not claimable now, but within the policy's delay.
                assert!(
                    test.database.claim(10, at(now), lease, None).expect("claim").is_empty(),
                    "attempt {died}"
                );
                now += 10 << (died - 2);
            }
        }
        // A runner that renews in time keeps its job.
        let mut conn = test.database.connection().expect("connection");
        diesel::update(job_table::table)
            .set(job_table::state.eq("pending"))
            .execute(&mut conn)
            .expect("revive");
        drop(conn);
        let claimed = test.database.claim(10, at(1000), lease, None).expect("claim");
        assert!(jobs::TransportStore::extend_lease(&test.database, &claimed[0], at(1060)).expect("renew"));
        assert_eq!(test.database.reap_abandoned(at(1045), policy, 10).expect("reap"), 0);
    }
}
