//! Declaring an incident, and listing 50 incidents out of many with filters, on SQLite and (when
//! `FF_TEST_DATABASE_URL` is set) PostgreSQL. `FF_BENCH_INCIDENTS` sets the data set size (100,000);
//! `FF_BENCH_BACKENDS=sqlite` or `=postgres` runs one backend.
//!
//! `cargo bench -p storage --bench incidents`; results and how to read them: docs/benchmarks.md.
#![expect(clippy::expect_used, reason = "a benchmark aborts on setup failure")]

use firefighter_storage as storage;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use diesel::prelude::*;
use incidents_core::incident::{DeclareIncident, PriorityChoice};
use incidents_core::query::{IncidentFilter, IncidentQueries, OrderBy, PageRequest};
use incidents_core::{
    Actor, Email, EntryPoint, IncidentLifecycle, IncidentStatus, NewUser, NoPostMortemBackend, UserRepository,
};
use storage::Database;
use storage::schema::{environments, incident_categories, priorities};
use storage::testing::TestDatabase;

struct Data {
    priorities: Vec<String>,
    environments: Vec<String>,
    categories: Vec<String>,
    actor: Actor,
}

fn reference(database: &Database) -> Data {
    let user = database
        .create_user(&NewUser {
            email: Email::parse("bench@example.com").expect("email"),
            name: String::new(),
            is_admin: false,
            password_hash: None,
        })
        .expect("user");
    let mut conn = database.connection().expect("connection");
    Data {
        priorities: priorities::table
            .filter(priorities::value.le(5))
            .order(priorities::value)
            .select(priorities::id)
            .load(&mut conn)
            .expect("priorities"),
        environments: environments::table
            .order(environments::sort_order)
            .select(environments::id)
            .load(&mut conn)
            .expect("environments"),
        categories: incident_categories::table
            .order(incident_categories::id)
            .select(incident_categories::id)
            .load(&mut conn)
            .expect("categories"),
        actor: Actor { user: user.id, entry_point: EntryPoint::Api },
    }
}

fn bench_backend(c: &mut Criterion, name: &str, test: &TestDatabase, count: usize) {
    let database = &test.database;
    let data = reference(database);
    storage::testing::populate_history(database, data.actor.user, count).expect("populate");
    let service = IncidentLifecycle::new(database.clone(), NoPostMortemBackend);

    let mut group = c.benchmark_group(format!("{name}/{count}"));
    let mut n = 0_u64;
    group.bench_function("declare", |b| {
        b.iter(|| {
            n += 1;
            let declared = service
                .declare(
                    data.actor,
                    &DeclareIncident {
                        title: format!("Benchmark incident {n}"),
                        description: "Declared by the benchmark.".into(),
                        priority: PriorityChoice::Given(data.priorities[1].clone()),
                        category_id: data.categories[0].clone(),
                        environment_id: data.environments[0].clone(),
                        private: None,
                        dedup_key: None,
                        ignored: false,
                        custom_fields: serde_json::Map::new(),
                        created_by: None,
                    },
                )
                .expect("declare");
            black_box(declared);
        });
    });
    let page = PageRequest::new(50, 0);
    let filtered = IncidentFilter {
        status_lt: Some(IncidentStatus::Closed),
        environment: vec![data.environments[0].clone()],
        priority: vec![data.priorities[0].clone(), data.priorities[1].clone(), data.priorities[2].clone()],
        ..IncidentFilter::default()
    };
    group.bench_function("list 50 (open, PRD, P1-P3)", |b| {
        b.iter(|| black_box(database.incidents(&filtered, OrderBy::default(), page).expect("list")));
    });
    group.bench_function("list 50 (open, PRD, P1-P3) + total count", |b| {
        b.iter(|| {
            black_box(database.incidents(&filtered, OrderBy::default(), page.counted()).expect("list"))
        });
    });
    group.bench_function("list 50 (no filter)", |b| {
        b.iter(|| {
            black_box(database.incidents(&IncidentFilter::default(), OrderBy::default(), page).expect("list"))
        });
    });
    let search = IncidentFilter { search: Some("checkout latency".into()), ..IncidentFilter::default() };
    group.bench_function("list 50 (full-text search)", |b| {
        b.iter(|| black_box(database.incidents(&search, OrderBy::default(), page).expect("search")));
    });
    let one = incidents_core::IncidentId(i64::try_from(count / 2).unwrap_or(1));
    group.bench_function("get one", |b| {
        b.iter(|| black_box(database.incident(one).expect("get")));
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let count = std::env::var("FF_BENCH_INCIDENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    // FF_BENCH_BACKENDS=sqlite or =postgres runs one backend only.
    let wanted = std::env::var("FF_BENCH_BACKENDS").unwrap_or_default();
    let runs = |backend: &str| wanted.is_empty() || wanted.split(',').any(|w| w.trim() == backend);
    if runs("sqlite") {
        let sqlite = TestDatabase::sqlite().seeded();
        bench_backend(c, "sqlite", &sqlite, count);
    }
    if !runs("postgres") {
        return;
    }
    if let Some(postgres) = TestDatabase::postgres() {
        let postgres = postgres.seeded();
        bench_backend(c, "postgres", &postgres, count);
    }
}

criterion_group! {
    name = incidents;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(5));
    targets = benches
}
criterion_main!(incidents);
