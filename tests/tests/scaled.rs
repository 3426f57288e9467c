//! The scaled mode end to end, every part a process: `firefighter-server` takes incidents over HTTP
//! and writes the outbox to PostgreSQL; `firefighter-worker` processes relay it to RabbitMQ and
//! deliver webhooks to a loopback receiver. Needs `FF_TEST_DATABASE_URL` and `FF_TEST_AMQP_URL`
//! (skipped without them, failed without them under `CI=true`).
//!
//! - the crash test: 500 incidents declared while the worker and the relay are killed with SIGKILL
//!   at random moments and restarted; every event arrives, exactly once after deduplication by
//!   event id, no two deliveries of one event are ever in flight together, and no job is left
//!   behind;
//! - the broker cut off: the API keeps taking incidents, readiness says degraded, and everything is
//!   delivered once the broker is back;
//! - the broker restarted for real (`rabbitmqctl stop_app` / `start_app`): the relay and the worker
//!   reconnect by themselves and deliver what waited;
//! - SIGTERM: the worker finishes its deliveries in flight, then exits;
//! - a job that aborts its worker (`firefighter-e2e-crashing-worker`, restarted whenever it dies as
//!   systemd would): it backs off, and every other job (they died with it) is done meanwhile.
//!
//! The tests of this file run one at a time ([`SERIAL`]): one of them stops the broker.

#![expect(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use firefighter_e2e::{Deployment, Process, declaration};
use serde_json::{Value, json};
use storage::schema::{jobs as job_table, outbox_events};
use storage::testing::TestDatabase;
use test_support::{Receiver, Span, TcpProxy};

const EVENT_ID: &str = "x-firefighter-event-id";

/// Taken by every test here, so that the broker restart never hits another test's processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn amqp_url() -> Option<String> {
    test_support::service_url("FF_TEST_AMQP_URL")
}

/// A scaled deployment on a database of its own: the server and the workers are processes.
struct Scaled {
    test: TestDatabase,
    deployment: Deployment,
    _server: Process,
    base: String,
    client: reqwest::Client,
    token: String,
    body: Value,
}

impl Scaled {
    /// `amqp_url` is what the server and the workers use (the broker itself, or a proxy to it).
    async fn start(test: TestDatabase, amqp_url: &str, prefix: &str, receiver: &Receiver) -> Self {
        let storage::DatabaseUrl::Postgres { url: database_url } = test.url.clone() else {
            panic!("the scaled tests run on PostgreSQL")
        };
        let mut deployment = Deployment::new(&[
            ("DATABASE_URL", &database_url),
            ("DATABASE_AUTO_MIGRATE", "false"),
            ("AMQP_URL", amqp_url),
            ("AMQP_PREFIX", prefix),
            ("JOB_LEASE_SECONDS", "3"),
            ("FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
            ("HTTP_PORT", "0"),
            ("BASE_URL", "https://ff.example.com"),
            ("HEALTHCHECK_TIMEOUT_MS", "1000"),
        ]);
        let data = deployment.dir().display().to_string();
        deployment.set("FF_DATA_DIR", &data);
        // As an operator would: migrate and seed with the CLI, then serve with migration off.
        let _ = deployment.cli_ok(&["migrate"]);
        let _ = deployment.cli_ok(&["seed"]);
        let token = deployment.admin_token("admin@example.com");
        let (server, base) = deployment.serve();
        let client = reqwest::Client::new();
        let response = client
            .post(format!("{base}/webhooks"))
            .bearer_auth(&token)
            .json(&json!({"url": receiver.url, "secret": "a-secret-for-the-test", "events": ["incident_created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        let body = declaration(&client, &base, &token, "Checkout is down").await;
        Self { test, deployment, _server: server, base, client, token, body }
    }

    fn worker(&self, command: &str) -> Process {
        self.deployment.worker(command)
    }

    async fn declare(&self, title: &str) {
        let mut body = self.body.clone();
        body["title"] = json!(title);
        let response = self
            .client
            .post(format!("{}/incidents", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("the API answers");
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
    }

    fn created_event_ids(&self) -> HashSet<String> {
        let mut conn = self.test.database.connection().unwrap();
        outbox_events::table
            .filter(outbox_events::event_type.eq("incident_created"))
            .select(outbox_events::event_id)
            .load::<String>(&mut conn)
            .unwrap()
            .into_iter()
            .collect()
    }

    fn job_states(&self) -> HashMap<String, i64> {
        let mut conn = self.test.database.connection().unwrap();
        job_table::table
            .group_by(job_table::state)
            .select((job_table::state, diesel::dsl::count_star()))
            .load::<(String, i64)>(&mut conn)
            .unwrap()
            .into_iter()
            .collect()
    }

    async fn readiness(&self) -> (u16, Value) {
        let response = self.client.get(format!("{}/monitoring/readiness", self.base)).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

/// Waits until the receiver holds every event of `expected` and the job table has nothing left to do.
async fn wait_for_delivery(
    deployment: &Scaled,
    receiver: &Receiver,
    expected: &HashSet<String>,
    seconds: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let got: HashSet<String> = receiver.header_values(EVENT_ID).into_iter().collect();
        let states = deployment.job_states();
        let settled = states.keys().all(|state| state == "done");
        if expected.is_subset(&got) && settled {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {} of {} events received, jobs {states:?}",
            expected.intersection(&got).count(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The deliveries of one event that were in flight at the same time, if any: a second attempt must
/// start only once the first has ended (answered, or abandoned by a killed worker).
fn overlapping(spans: &[Span]) -> Vec<(String, Duration)> {
    let mut by_event: HashMap<&str, Vec<&Span>> = HashMap::new();
    for span in spans {
        if let Some(event) = span.headers.get(EVENT_ID) {
            by_event.entry(event).or_default().push(span);
        }
    }
    let mut overlaps = Vec::new();
    for (event, mut spans) in by_event {
        spans.sort_by_key(|span| span.started);
        for pair in spans.windows(2) {
            if pair[1].started < pair[0].finished {
                overlaps.push((event.to_owned(), pair[0].finished - pair[1].started));
            }
        }
    }
    overlaps
}

#[test]
fn overlapping_finds_two_deliveries_of_one_event_in_flight_together() {
    let at = Instant::now();
    let span = |event: &str, from: u64, to: u64| Span {
        headers: HashMap::from([(EVENT_ID.to_owned(), event.to_owned())]),
        started: at + Duration::from_millis(from),
        finished: at + Duration::from_millis(to),
        answered: true,
    };
    assert!(overlapping(&[span("a", 0, 10), span("a", 10, 20), span("b", 5, 15)]).is_empty());
    assert_eq!(
        overlapping(&[span("a", 0, 10), span("a", 4, 20)]),
        vec![("a".to_owned(), Duration::from_millis(6))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_worker_and_the_relay_loses_no_event_and_runs_none_twice_or_concurrently() {
    let Some(amqp) = amqp_url() else { return };
    let Some(test) = TestDatabase::postgres_unmigrated() else { return };
    let _serial = SERIAL.lock().await;
    let receiver = Receiver::start();
    // Each delivery takes a little while, so that two attempts of one event would overlap visibly.
    receiver.delay(Duration::from_millis(20));
    let prefix = format!("ffcrash{:08x}", rand::random::<u32>());
    let deployment = Arc::new(Scaled::start(test, &amqp, &prefix, &receiver).await);
    let mut worker = deployment.worker("consume");
    let mut relay = deployment.worker("relay");

    // Declare 500 incidents from 8 clients while a chaos task kills the worker and the relay.
    let declaring = Arc::new(AtomicBool::new(true));
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (deployment, next) = (Arc::clone(&deployment), Arc::clone(&next));
        clients.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= 500 {
                    break;
                }
                deployment.declare(&format!("Incident {n}")).await;
            }
        });
    }
    let chaos = {
        let declaring = Arc::clone(&declaring);
        let deployment = Arc::clone(&deployment);
        tokio::spawn(async move {
            let (mut worker_kills, mut relay_kills) = (0, 0);
            let mut now_worker = rand::random::<bool>();
            while declaring.load(Ordering::SeqCst) || worker_kills < 3 || relay_kills < 3 {
                tokio::time::sleep(Duration::from_millis(150 + rand::random::<u64>() % 600)).await;
                if now_worker {
                    worker.kill();
                    worker = deployment.worker("consume");
                    worker_kills += 1;
                } else {
                    relay.kill();
                    relay = deployment.worker("relay");
                    relay_kills += 1;
                }
                now_worker = rand::random::<bool>();
            }
            (worker, relay, worker_kills, relay_kills)
        })
    };
    while let Some(result) = clients.join_next().await {
        result.expect("a client task failed");
    }
    declaring.store(false, Ordering::SeqCst);
    let (worker, relay, worker_kills, relay_kills) = chaos.await.unwrap();

    let expected = deployment.created_event_ids();
    assert_eq!(expected.len(), 500, "one incident_created event per incident");
    wait_for_delivery(&deployment, &receiver, &expected, 120).await;
    let received = receiver.header_values(EVENT_ID);
    let distinct: HashSet<&String> = received.iter().collect();
    let spans = receiver.spans();
    eprintln!(
        "crash test: worker killed {worker_kills} times, relay {relay_kills} times; {} deliveries answered, \
         {} attempts seen, {} distinct events",
        received.len(),
        spans.len(),
        distinct.len()
    );
    assert_eq!(distinct.len(), 500, "exactly once after deduplication by event id");
    assert!(distinct.iter().all(|id| expected.contains(*id)), "only the subscribed events");
    assert_eq!(overlapping(&spans), vec![], "two deliveries of one event were in flight together");
    assert_eq!(
        deployment.job_states(),
        HashMap::from([("done".to_owned(), 500)]),
        "no job lost, stuck or dead"
    );
    drop((worker, relay));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_down_incidents_are_taken_and_delivered_once_it_is_back() {
    let Some(amqp) = amqp_url() else { return };
    let Some(test) = TestDatabase::postgres_unmigrated() else { return };
    let _serial = SERIAL.lock().await;
    let receiver = Receiver::start();
    let broker = amqp.split('@').next_back().and_then(|rest| rest.split('/').next()).unwrap().to_owned();
    let proxy = TcpProxy::start(tokio::net::lookup_host(&broker).await.unwrap().next().unwrap()).await;
    let credentials = amqp.split('@').next().unwrap().to_owned() + "@";
    let through_proxy = proxy.url(&credentials, "/%2f");
    let prefix = format!("ffdown{:08x}", rand::random::<u32>());
    let deployment = Scaled::start(test, &through_proxy, &prefix, &receiver).await;
    let _worker = deployment.worker("run");

    for n in 0..10 {
        deployment.declare(&format!("Before {n}")).await;
    }
    wait_for_delivery(&deployment, &receiver, &deployment.created_event_ids(), 30).await;
    let (status, body) = deployment.readiness().await;
    assert_eq!(
        (status, &body["status"], &body["checks"]["queue"]),
        (200, &json!("ok"), &json!(true)),
        "{body}"
    );

    proxy.cut();
    for n in 0..30 {
        deployment.declare(&format!("During {n}")).await;
    }
    let (status, body) = deployment.readiness().await;
    assert_eq!(
        (status, &body["status"], &body["checks"]["queue"], &body["checks"]["db"]),
        (200, &json!("degraded"), &json!(false), &json!(true)),
        "{body}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.header_values(EVENT_ID).len(), 10, "nothing goes out without the broker");

    proxy.restore();
    let expected = deployment.created_event_ids();
    assert_eq!(expected.len(), 40);
    wait_for_delivery(&deployment, &receiver, &expected, 60).await;
    let distinct: HashSet<String> = receiver.header_values(EVENT_ID).into_iter().collect();
    assert_eq!(distinct, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_the_worker_finishes_the_deliveries_in_flight_then_exits() {
    let Some(amqp) = amqp_url() else { return };
    let Some(test) = TestDatabase::postgres_unmigrated() else { return };
    let _serial = SERIAL.lock().await;
    let receiver = Receiver::start();
    receiver.delay(Duration::from_millis(1500));
    let prefix = format!("ffterm{:08x}", rand::random::<u32>());
    let deployment = Scaled::start(test, &amqp, &prefix, &receiver).await;
    let worker = deployment.worker("run");
    for n in 0..3 {
        deployment.declare(&format!("Slow {n}")).await;
    }
    // Wait until the deliveries are in flight (started, not answered), then ask the worker to stop.
    let deadline = Instant::now() + Duration::from_secs(20);
    while deployment.job_states().get("running").copied().unwrap_or_default() == 0 {
        assert!(Instant::now() < deadline, "the deliveries never started: {:?}", deployment.job_states());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let running = deployment.job_states()["running"];
    worker.signal("-TERM");
    let (code, _log) =
        tokio::task::spawn_blocking(move || worker.wait_exit(Duration::from_secs(60))).await.unwrap();
    assert_eq!(code, Some(0), "the worker exits cleanly");
    let states = deployment.job_states();
    assert_eq!(states.get("running"), None, "nothing left half-done: {states:?}");
    assert!(
        states.get("done").copied().unwrap_or_default() >= running,
        "the jobs in flight finished: {states:?}"
    );
    assert_eq!(
        receiver.header_values(EVENT_ID).len() as i64,
        states.get("done").copied().unwrap_or_default()
    );
}

/// Starts the broker's application again when dropped, even if the test failed half-way.
struct StoppedBroker;

impl StoppedBroker {
    fn stop() -> Self {
        let status = Command::new("rabbitmqctl").args(["-q", "stop_app"]).status().expect("rabbitmqctl");
        assert!(status.success(), "rabbitmqctl stop_app: {status:?}");
        Self
    }
}

impl Drop for StoppedBroker {
    fn drop(&mut self) {
        let status = Command::new("rabbitmqctl").args(["-q", "start_app"]).status();
        assert!(
            status.is_ok_and(|status| status.success()),
            "rabbitmqctl start_app failed: start RabbitMQ by hand"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_real_broker_restart_the_relay_and_the_worker_reconnect_and_deliver() {
    let Some(amqp) = amqp_url() else { return };
    if !amqp.contains("127.0.0.1") && !amqp.contains("localhost") {
        eprintln!("the broker is not local: restart test skipped");
        return;
    }
    if Command::new("rabbitmqctl")
        .arg("-q")
        .arg("status")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("rabbitmqctl is not available: restart test skipped");
        return;
    }
    let Some(test) = TestDatabase::postgres_unmigrated() else { return };
    let _serial = SERIAL.lock().await;
    let receiver = Receiver::start();
    let prefix = format!("ffrestart{:08x}", rand::random::<u32>());
    let deployment = Scaled::start(test, &amqp, &prefix, &receiver).await;
    let mut worker = deployment.worker("run");
    for n in 0..5 {
        deployment.declare(&format!("Before {n}")).await;
    }
    wait_for_delivery(&deployment, &receiver, &deployment.created_event_ids(), 30).await;

    let stopped = tokio::task::spawn_blocking(StoppedBroker::stop).await.unwrap();
    for n in 0..5 {
        deployment.declare(&format!("While stopped {n}")).await;
    }
    tokio::task::spawn_blocking(move || drop(stopped)).await.unwrap();
    let expected = deployment.created_event_ids();
    assert_eq!(expected.len(), 10);
    wait_for_delivery(&deployment, &receiver, &expected, 90).await;
    assert!(worker.running(), "the worker kept running through the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_crashes_its_worker_backs_off_and_holds_nothing_back() {
    let Some(amqp) = amqp_url() else { return };
    let Some(test) = TestDatabase::postgres_unmigrated() else { return };
    let _serial = SERIAL.lock().await;
    let receiver = Receiver::start();
    let prefix = format!("ffabort{:08x}", rand::random::<u32>());
    let deployment = Scaled::start(test, &amqp, &prefix, &receiver).await;
    let binary = "firefighter-e2e-crashing-worker";
    let mut worker = deployment.deployment.worker_from(binary, "run");
    deployment.declare("CRASH: the probe aborts whoever runs it").await;
    for n in 0..5 {
        deployment.declare(&format!("Healthy {n}")).await;
    }
    let crash_job = || -> Option<(String, Option<String>)> {
        let mut conn = deployment.test.database.connection().unwrap();
        job_table::table
            .filter(job_table::name.eq("e2e.crash"))
            .select((job_table::state, job_table::last_error))
            .first(&mut conn)
            .optional()
            .unwrap()
    };
    // The supervisor: a worker that died is started again, as systemd's `Restart=always` would.
    // The probe kills its worker on every attempt, and the jobs running beside it die with it; past
    // the first death each comes back after its own random retry delay, so the healthy ones run
    // while the probe waits (it is dead after its last attempt, hours later: the storage tests
    // check that part).
    let mut crashes = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if !worker.running() {
            crashes += 1;
            worker = deployment.deployment.worker_from(binary, "run");
        }
        let states = deployment.job_states();
        let backing_off = crash_job().is_some_and(|(state, error)| {
            state == "pending"
                && error.is_some_and(|error| error.contains("runner died") && error.contains("later"))
        });
        if backing_off && states.get("done").copied().unwrap_or_default() == 6 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {crashes} crashes: jobs {states:?}, the probe {:?}",
            crash_job()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("the crash probe aborted its worker {crashes} times; the healthy jobs are done");
    assert!(crashes >= 2, "the probe ran {crashes} times");
    let delivered: HashSet<String> = receiver.header_values(EVENT_ID).into_iter().collect();
    assert_eq!(delivered, deployment.created_event_ids(), "every incident's webhook, the probe's included");
    assert!(worker.running(), "the worker runs while the probe waits");
}
