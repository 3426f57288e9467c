//! The relay and the worker against the real RabbitMQ and databases: jobs run once, retries wait in
//! the delay queues, dead jobs reach the dead-letter queue, duplicates are dropped, and a worker
//! drains its jobs in flight before stopping. Skipped when `FF_TEST_AMQP_URL` is unset.

#![expect(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use firefighter_amqp_transport as amqp_transport;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amqp_transport::{Settings, Topology};
use jobs::{Enqueue, Job, JobAdmin, JobError, JobStore, Registry, RetryPolicy};
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use serde::{Deserialize, Serialize};
use storage::testing::TestDatabase;
use tokio::sync::watch;

/// Succeeds after `failures` retryable failures; `permanent` fails for good.
#[derive(Debug, Serialize, Deserialize)]
struct Flaky {
    id: u32,
    failures: u32,
    permanent: bool,
    /// How long each attempt takes.
    millis: u64,
}

impl Job for Flaky {
    const NAME: &'static str = "test.flaky";
    const QUEUE: &'static str = "testing";
    fn idempotency_key(&self) -> String {
        format!("flaky-{}", self.id)
    }
}

type Attempts = Arc<Mutex<HashMap<u32, u32>>>;

fn registry(attempts: &Attempts) -> Registry {
    let mut registry = Registry::new();
    let seen = Arc::clone(attempts);
    registry
        .register(move |job: Flaky, _attempt| {
            std::thread::sleep(Duration::from_millis(job.millis));
            let count = {
                let mut seen = seen.lock().unwrap();
                let count = seen.entry(job.id).or_default();
                *count += 1;
                *count
            };
            if job.id == 200 {
                panic!("a handler bug");
            }
            if job.permanent {
                Err(JobError::Permanent("cannot ever work".into()))
            } else if count <= job.failures {
                Err(JobError::Retryable(format!("failure {count}")))
            } else {
                Ok(())
            }
        })
        .unwrap();
    registry
}

fn amqp_url() -> Option<String> {
    test_support::service_url("FF_TEST_AMQP_URL")
}

fn settings(url: &str) -> Settings {
    let mut settings = Settings::new(url);
    settings.prefix = format!("fft{:016x}", rand::random::<u64>());
    settings.policy =
        RetryPolicy { base: Duration::from_millis(200), max_delay: Duration::from_secs(1), max_attempts: 3 };
    settings.lease = Duration::from_secs(30);
    // Shorter than in production (2 h), so a job left queued 20 minutes ago counts as lost.
    settings.requeue_after = Duration::from_secs(600);
    settings
}

/// Deletes every queue and exchange a test's prefix may have made.
async fn delete_topology(settings: &Settings) {
    let topology = Topology { prefix: settings.prefix.clone() };
    let connection = amqp_transport::connect(settings).await.expect("connect");
    let mut queues = vec![topology.queue(Flaky::QUEUE), topology.dead()];
    for shift in 10..=22 {
        queues.push(topology.delay_queue(Flaky::QUEUE, 1 << shift));
    }
    for queue in queues {
        let channel = connection.create_channel().await.expect("channel");
        let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    }
    for exchange in [topology.exchange(), topology.dead()] {
        let channel = connection.create_channel().await.expect("channel");
        let _ = channel
            .exchange_delete(exchange.as_str().into(), lapin::options::ExchangeDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "test done".into()).await;
}

async fn message_count(settings: &Settings, queue: &str) -> u32 {
    let connection = amqp_transport::connect(settings).await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() },
            FieldTable::default(),
        )
        .await
        .expect("queue exists");
    let _ = connection.close(200, "counted".into()).await;
    declared.message_count()
}

fn enqueue(database: &storage::Database, job: &Flaky) {
    let now = incidents_core::clock::now();
    assert!(database.enqueue(&Enqueue::new(job).unwrap(), now, now).expect("enqueue"));
}

fn states(database: &storage::Database) -> HashMap<String, usize> {
    let page = database
        .jobs(None, incidents_core::query::PageRequest { limit: 1000, offset: 0, with_total: false })
        .expect("jobs");
    let mut states = HashMap::new();
    for job in page.items {
        *states.entry(job.state).or_default() += 1;
    }
    states
}

async fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Running {
    stop: watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Running {
    fn start(settings: &Settings, database: &storage::Database, registry: &Arc<Registry>) -> Self {
        Self::start_on(settings, database, registry, &[Flaky::QUEUE])
    }

    /// Also a LISTEN connection to `url` waking the relay.
    fn start_listening(
        settings: &Settings,
        database: &storage::Database,
        registry: &Arc<Registry>,
        url: &str,
    ) -> (Self, Arc<amqp_transport::listen::Wakeup>) {
        let wakeup = Arc::new(amqp_transport::listen::Wakeup::default());
        let mut running =
            Self::start_with(settings, database, registry, &[Flaky::QUEUE], Some(Arc::clone(&wakeup)));
        let shutdown = running.stop.subscribe();
        running.tasks.spawn(amqp_transport::listen::listen(
            url.to_owned(),
            storage::work_signal::CHANNEL,
            Arc::clone(&wakeup),
            shutdown,
        ));
        (running, wakeup)
    }

    /// The relay, and a worker consuming `queues`.
    fn start_on(
        settings: &Settings,
        database: &storage::Database,
        registry: &Arc<Registry>,
        queues: &[&str],
    ) -> Self {
        Self::start_with(settings, database, registry, queues, None)
    }

    fn start_with(
        settings: &Settings,
        database: &storage::Database,
        registry: &Arc<Registry>,
        queues: &[&str],
        wakeup: Option<Arc<amqp_transport::listen::Wakeup>>,
    ) -> Self {
        let (stop, shutdown) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(amqp_transport::relay::run(
            settings.clone(),
            database.clone(),
            Arc::clone(registry),
            None,
            wakeup,
            shutdown.clone(),
        ));
        tasks.spawn(amqp_transport::worker::run(
            settings.clone(),
            database.clone(),
            Arc::clone(registry),
            queues.iter().map(|queue| (*queue).to_owned()).collect(),
            shutdown,
        ));
        Self { stop, tasks }
    }

    async fn stop(mut self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(20), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .expect("the relay and the worker stop");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_once_retry_through_delay_queues_and_dead_letter() {
    let Some(url) = amqp_url() else { return };
    for test in TestDatabase::each_backend() {
        let settings = settings(&url);
        let attempts = Attempts::default();
        let registry = Arc::new(registry(&attempts));
        let database = test.database.clone();
        for id in 0..20 {
            enqueue(&database, &Flaky { id, failures: 0, permanent: false, millis: 0 });
        }
        enqueue(&database, &Flaky { id: 100, failures: 2, permanent: false, millis: 0 });
        enqueue(&database, &Flaky { id: 101, failures: 99, permanent: false, millis: 0 });
        enqueue(&database, &Flaky { id: 102, failures: 0, permanent: true, millis: 0 });
        enqueue(&database, &Flaky { id: 200, failures: 0, permanent: false, millis: 0 });
        let running = Running::start(&settings, &database, &registry);

        wait_until("every job settled", 30, || {
            let states = states(&database);
            states.get("done") == Some(&21) && states.get("dead") == Some(&3)
        })
        .await;
        running.stop().await;

        let attempts = attempts.lock().unwrap().clone();
        assert!((0..20).all(|id| attempts[&id] == 1), "each job ran once: {attempts:?}");
        assert_eq!(attempts[&100], 3, "two retries through the delay queue, then success");
        assert_eq!(attempts[&101], 3, "dead after the policy's three attempts");
        assert_eq!(attempts[&102], 1, "a permanent failure is dead at once");
        let page = database
            .jobs(
                Some("dead"),
                incidents_core::query::PageRequest { limit: 10, offset: 0, with_total: false },
            )
            .unwrap();
        let errors: Vec<_> = page.items.iter().map(|job| (job.attempts, job.last_error.clone())).collect();
        assert!(errors.contains(&(3, Some("failure 3".into()))), "{errors:?}");
        assert!(errors.contains(&(1, Some("cannot ever work".into()))), "{errors:?}");
        assert!(
            errors.contains(&(3, Some("the job panicked: a handler bug".into()))),
            "a panicking handler is retried, then dead: {errors:?}"
        );
        let topology = Topology { prefix: settings.prefix.clone() };
        assert_eq!(
            message_count(&settings, &topology.dead()).await,
            3,
            "the dead jobs are in the dead-letter queue"
        );
        assert_eq!(message_count(&settings, &topology.queue(Flaky::QUEUE)).await, 0);
        delete_topology(&settings).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_messages_do_not_run_a_job_twice_and_operators_can_retry_the_dead() {
    let Some(url) = amqp_url() else { return };
    let Some(test) = TestDatabase::postgres() else { return };
    let settings = settings(&url);
    let attempts = Attempts::default();
    let registry = Arc::new(registry(&attempts));
    let database = test.database.clone();
    enqueue(&database, &Flaky { id: 1, failures: 0, permanent: false, millis: 0 });
    let running = Running::start(&settings, &database, &registry);
    wait_until("the job ran", 20, || states(&database).get("done") == Some(&1)).await;

    // A second relay publishing the same job (say it died before its commit): the worker drops it.
    let connection = amqp_transport::connect(&settings).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let job_id = database
        .jobs(None, incidents_core::query::PageRequest { limit: 1, offset: 0, with_total: false })
        .unwrap()
        .items[0]
        .id;
    for _ in 0..3 {
        channel
            .basic_publish(
                Topology { prefix: settings.prefix.clone() }.exchange().into(),
                Flaky::QUEUE.into(),
                lapin::options::BasicPublishOptions::default(),
                // The generation it was first published at: the job has moved on since.
                format!("{{\"job_id\":{job_id},\"attempts\":0}}").as_bytes(),
                lapin::BasicProperties::default(),
            )
            .await
            .unwrap();
    }
    // And a message that is not a job at all: dead-lettered, nothing else.
    channel
        .basic_publish(
            Topology { prefix: settings.prefix.clone() }.exchange().into(),
            Flaky::QUEUE.into(),
            lapin::options::BasicPublishOptions::default(),
            b"not json",
            lapin::BasicProperties::default(),
        )
        .await
        .unwrap();
    let topology = Topology { prefix: settings.prefix.clone() };
    let deadline = Instant::now() + Duration::from_secs(10);
    while message_count(&settings, &topology.dead()).await < 1 {
        assert!(Instant::now() < deadline, "the poison message reaches the dead-letter queue");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while message_count(&settings, &topology.queue(Flaky::QUEUE)).await > 0 {
        assert!(Instant::now() < deadline, "the duplicates are consumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(attempts.lock().unwrap()[&1], 1, "duplicates did not run the job again");

    // A queued job whose message was lost (a purged queue, say) is published again once stale.
    let lost = {
        use diesel::prelude::*;
        use storage::schema::jobs as job_table;
        let job = Enqueue::new(&Flaky { id: 3, failures: 0, permanent: false, millis: 0 }).unwrap();
        let mut conn = database.connection().unwrap();
        let long_ago = incidents_core::clock::now() - chrono::Duration::minutes(20);
        diesel::insert_into(job_table::table)
            .values((
                job_table::name.eq(job.name),
                job_table::queue.eq(job.queue),
                job_table::payload.eq(&job.payload),
                job_table::idempotency_key.eq(&job.idempotency_key),
                job_table::state.eq("queued"),
                job_table::run_at.eq(long_ago),
                job_table::created_at.eq(long_ago),
                job_table::updated_at.eq(long_ago),
            ))
            .execute(&mut *conn)
            .unwrap()
    };
    assert_eq!(lost, 1);
    wait_until("the lost job ran", 20, || attempts.lock().unwrap().get(&3) == Some(&1)).await;

    // A dead job retried by an operator goes back through the relay.
    enqueue(&database, &Flaky { id: 2, failures: 0, permanent: true, millis: 0 });
    wait_until("the job died", 20, || states(&database).get("dead") == Some(&1)).await;
    let dead = database
        .jobs(Some("dead"), incidents_core::query::PageRequest { limit: 1, offset: 0, with_total: false })
        .unwrap()
        .items[0]
        .id;
    assert!(database.retry_dead(dead, incidents_core::clock::now()).unwrap());
    wait_until("the retried job ran again", 20, || attempts.lock().unwrap().get(&2) == Some(&2)).await;
    running.stop().await;
    let _ = connection.close(200, "done".into()).await;
    delete_topology(&settings).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_finishes_its_jobs_in_flight() {
    let Some(url) = amqp_url() else { return };
    let Some(test) = TestDatabase::postgres() else { return };
    let mut settings = settings(&url);
    settings.prefetch = 4;
    let attempts = Attempts::default();
    let registry = Arc::new(registry(&attempts));
    let database = test.database.clone();
    for id in 0..12 {
        enqueue(&database, &Flaky { id, failures: 0, permanent: false, millis: 700 });
    }
    let running = Running::start(&settings, &database, &registry);
    wait_until("jobs in flight", 20, || {
        !attempts.lock().unwrap().is_empty() || states(&database).contains_key("running")
    })
    .await;
    running.stop().await;
    let states = states(&database);
    assert_eq!(states.get("running"), None, "no job left half-done: {states:?}");
    let done = states.get("done").copied().unwrap_or_default();
    assert!((1..12).contains(&done), "stopped part-way: {states:?}");
    assert_eq!(done + states.get("queued").copied().unwrap_or_default(), 12, "{states:?}");
    // The rest is still in the queue for the next worker.
    let topology = Topology { prefix: settings.prefix.clone() };
    assert_eq!(message_count(&settings, &topology.queue(Flaky::QUEUE)).await as usize, 12 - done);
    delete_topology(&settings).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_keeps_its_lease_while_it_runs() {
    let Some(url) = amqp_url() else { return };
    let Some(test) = TestDatabase::postgres() else { return };
    let mut settings = settings(&url);
    // A job three times longer than its lease: without the heartbeat the relay would publish it
    // again after a second and a second worker slot would run it meanwhile.
    settings.lease = Duration::from_secs(1);
    let attempts = Attempts::default();
    let registry = Arc::new(registry(&attempts));
    let database = test.database.clone();
    enqueue(&database, &Flaky { id: 300, failures: 0, permanent: false, millis: 3000 });
    let running = Running::start(&settings, &database, &registry);
    wait_until("the long job finished", 20, || states(&database).get("done") == Some(&1)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop().await;
    assert_eq!(attempts.lock().unwrap()[&300], 1, "one run, its lease renewed throughout");
    let job = &database
        .jobs(None, incidents_core::query::PageRequest { limit: 1, offset: 0, with_total: false })
        .unwrap()
        .items[0];
    assert_eq!(job.attempts, 1);
    delete_topology(&settings).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_deleted_under_the_worker_and_the_relay_is_declared_again() {
    let Some(url) = amqp_url() else { return };
    let Some(test) = TestDatabase::postgres() else { return };
    let settings = settings(&url);
    let attempts = Attempts::default();
    let registry = Arc::new(registry(&attempts));
    let database = test.database.clone();
    enqueue(&database, &Flaky { id: 1, failures: 0, permanent: false, millis: 0 });
    // The worker consumes a second queue too: a cancelled consumer must end the session even while
    // another consumer is still alive.
    let running = Running::start_on(&settings, &database, &registry, &[Flaky::QUEUE, "other"]);
    wait_until("the first job ran", 20, || states(&database).get("done") == Some(&1)).await;

    // An operator deletes the queue: the broker cancels the worker's consumer, and the relay's next
    // messages come back unroutable. Both must notice, reconnect and declare it again.
    let topology = Topology { prefix: settings.prefix.clone() };
    let connection = amqp_transport::connect(&settings).await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_delete(topology.queue(Flaky::QUEUE).as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("delete the queue");
    let _ = connection.close(200, "deleted".into()).await;
    for id in 2..7 {
        enqueue(&database, &Flaky { id, failures: 0, permanent: false, millis: 0 });
    }
    wait_until("the later jobs ran", 30, || states(&database).get("done") == Some(&6)).await;
    running.stop().await;
    assert!((1..7).all(|id| attempts.lock().unwrap().get(&id) == Some(&1)), "{:?}", attempts.lock().unwrap());
    delete_topology(&settings).await;
    let connection = amqp_transport::connect(&settings).await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let _ =
        channel.queue_delete(topology.queue("other").as_str().into(), QueueDeleteOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_the_relay_is_woken_by_notifications_not_by_polling() {
    let Some(url) = amqp_url() else { return };
    let Some(test) =
        TestDatabase::each_backend().into_iter().find(|test| test.backend() == storage::Backend::Postgres)
    else {
        return;
    };
    let storage::DatabaseUrl::Postgres { url: database_url } = test.url.clone() else { return };
    let mut settings = settings(&url);
    // The relay never looks by itself during this test: only a notification can wake it.
    settings.idle = Duration::from_secs(3600);
    settings.idle_listening = Duration::from_secs(3600);
    let attempts = Attempts::default();
    let registry = Arc::new(registry(&attempts));
    let database = test.database.clone();
    let (running, wakeup) = Running::start_listening(&settings, &database, &registry, &database_url);
    wait_until("the relay listens", 20, || wakeup.listening()).await;
    // Let the relay finish its first rounds and go to sleep on the notifications.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in 0..5 {
        enqueue(&database, &Flaky { id, failures: 0, permanent: false, millis: 0 });
        let done = Arc::clone(&attempts);
        wait_until("the job, announced by its NOTIFY, runs", 20, move || {
            done.lock().unwrap().get(&id).copied() == Some(1)
        })
        .await;
    }
    running.stop().await;
    delete_topology(&settings).await;
}
