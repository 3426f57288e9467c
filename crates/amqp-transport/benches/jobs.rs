//! End-to-end job throughput and latency of the scaled transport: outbox row → relay → RabbitMQ →
//! worker → a no-op handler, on PostgreSQL (`FF_TEST_DATABASE_URL`) and RabbitMQ
//! (`FF_TEST_AMQP_URL`), relay and worker in this process as `firefighter-worker run` has them.
//!
//! - throughput: a backlog of `FF_BENCH_JOBS` (default 20,000) outbox events, drained; jobs/s;
//! - latency: events committed at a steady `FF_BENCH_RATE` per second (default 500) for 10 s;
//!   enqueue-to-start is from the event's commit to its handler starting, p50/p99/max.
//!
//! Run with `cargo bench -p amqp-transport --bench jobs` (see docs/benchmarks.md).

#![expect(clippy::expect_used, clippy::print_stdout, reason = "a benchmark program")]

use firefighter_amqp_transport as amqp_transport;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amqp_transport::{Settings, Topology};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use jobs::{Job, JobError, OutboxEvent, Registry};
use serde::{Deserialize, Serialize};
use storage::schema::{jobs as job_table, outbox_events};
use storage::testing::TestDatabase;
use tokio::sync::watch;

#[derive(Debug, Serialize, Deserialize)]
struct Noop {
    event_id: String,
    occurred_at: NaiveDateTime,
}

impl Job for Noop {
    const NAME: &'static str = "bench.noop";
    const QUEUE: &'static str = "bench";
    fn idempotency_key(&self) -> String {
        format!("noop-{}", self.event_id)
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// Commits `count` outbox events in one transaction.
fn insert_events(database: &storage::Database, count: usize) {
    let mut conn = database.connection().expect("connection");
    let now = incidents_core::clock::now();
    let rows: Vec<_> = (0..count)
        .map(|_| {
            (
                outbox_events::event_id.eq(uuid_like()),
                outbox_events::event_type.eq("bench"),
                outbox_events::payload.eq("{}"),
                outbox_events::occurred_at.eq(now),
            )
        })
        .collect();
    let storage::DbConnection::Postgres(pg) = &mut *conn else { panic!("the benchmark runs on PostgreSQL") };
    diesel::insert_into(outbox_events::table).values(&rows).execute(pg).expect("insert events");
}

fn uuid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn done_count(database: &storage::Database) -> i64 {
    let mut conn = database.connection().expect("connection");
    job_table::table.filter(job_table::state.eq("done")).count().get_result(&mut *conn).expect("count")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() {
    let (Some(amqp), Some(test)) = (std::env::var("FF_TEST_AMQP_URL").ok(), TestDatabase::postgres()) else {
        println!("set FF_TEST_DATABASE_URL and FF_TEST_AMQP_URL to run this benchmark");
        return;
    };
    let jobs = env_number("FF_BENCH_JOBS", 20_000);
    let rate = env_number("FF_BENCH_RATE", 500);
    let database = test.database.clone();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut registry = Registry::new();
    let seen = Arc::clone(&latencies);
    registry
        .register(move |job: Noop, _attempt| {
            let waited = incidents_core::clock::now() - job.occurred_at;
            seen.lock()
                .map_err(|_| JobError::Permanent("poisoned".into()))?
                .push(waited.as_seconds_f64() * 1000.0);
            Ok(())
        })
        .expect("register");
    registry.on_event(|event: &OutboxEvent| {
        vec![Noop { event_id: event.event_id.clone(), occurred_at: event.occurred_at }]
    });
    let registry = Arc::new(registry);
    let mut settings = Settings::new(amqp);
    settings.prefix = format!("ffbench{:08x}", rand::random::<u32>());
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");

    // The relay is woken by PostgreSQL's notifications, as firefighter-worker runs it
    // (FF_BENCH_POLL=1: it polls, as without a LISTEN connection).
    let storage::DatabaseUrl::Postgres { url: database_url } = test.url.clone() else { return };
    let start = |settings: &Settings| {
        let (stop, shutdown) = watch::channel(false);
        let wakeup = std::env::var("FF_BENCH_POLL")
            .is_err()
            .then(|| Arc::new(amqp_transport::listen::Wakeup::default()));
        if let Some(wakeup) = &wakeup {
            runtime.spawn(amqp_transport::listen::listen(
                database_url.clone(),
                storage::work_signal::CHANNEL,
                Arc::clone(wakeup),
                shutdown.clone(),
            ));
        }
        let relay = runtime.spawn(amqp_transport::relay::run(
            settings.clone(),
            database.clone(),
            Arc::clone(&registry),
            None,
            wakeup.clone(),
            shutdown.clone(),
        ));
        let worker = runtime.spawn(amqp_transport::worker::run(
            settings.clone(),
            database.clone(),
            Arc::clone(&registry),
            vec![Noop::QUEUE.to_owned()],
            shutdown,
        ));
        (stop, relay, worker)
    };

    // Throughput: drain a backlog.
    for _ in 0..jobs / 1000 {
        insert_events(&database, 1000);
    }
    let began = Instant::now();
    let (stop, relay, worker) = start(&settings);
    while done_count(&database) < i64::try_from(jobs).unwrap_or(i64::MAX) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = began.elapsed();
    println!(
        "throughput: {jobs} jobs in {:.2} s = {:.0} jobs/s (outbox → RabbitMQ → worker → no-op, prefetch {})",
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64(),
        settings.prefetch
    );
    latencies.lock().expect("lock").clear();

    // Latency: a steady rate, committed every 10 ms.
    let per_tick = (rate / 100).max(1);
    let ticks = 1000;
    let began = Instant::now();
    for tick in 0..ticks {
        insert_events(&database, per_tick);
        let next = began + Duration::from_millis(10 * (tick + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let expected = jobs + per_tick * usize::try_from(ticks).unwrap_or(0);
    while done_count(&database) < i64::try_from(expected).unwrap_or(i64::MAX) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut sorted = latencies.lock().expect("lock").clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "latency at {} jobs/s for 10 s ({} jobs): enqueue-to-start p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        per_tick * 100,
        sorted.len(),
        percentile(&sorted, 50.0),
        percentile(&sorted, 99.0),
        sorted.last().copied().unwrap_or(f64::NAN)
    );

    stop.send(true).expect("stop");
    runtime.block_on(async {
        let _ = relay.await;
        let _ = worker.await;
    });
    runtime.block_on(async {
        let connection = amqp_transport::connect(&settings).await.expect("connect");
        let topology = Topology { prefix: settings.prefix.clone() };
        for queue in [topology.queue(Noop::QUEUE), topology.dead()] {
            let channel = connection.create_channel().await.expect("channel");
            let _ = channel
                .queue_delete(queue.as_str().into(), lapin::options::QueueDeleteOptions::default())
                .await;
        }
        for exchange in [topology.exchange(), topology.dead()] {
            let channel = connection.create_channel().await.expect("channel");
            let _ = channel
                .exchange_delete(exchange.as_str().into(), lapin::options::ExchangeDeleteOptions::default())
                .await;
        }
    });
}
