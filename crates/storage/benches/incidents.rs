//! Declaring an incident, and listing 50 incidents out of many with filters, on SQLite and (when
//! `FF_TEST_DATABASE_URL` is set) PostgreSQL. `FF_BENCH_INCIDENTS` sets the data set size (100,000);
//! `FF_BENCH_BACKENDS=sqlite` or `=postgres` runs one backend.
//!
//! `cargo bench -p storage --bench incidents`; results and how to read them: docs/benchmarks.md.
#![expect(clippy::expect_used, reason = "a benchmark aborts on setup failure")]

use std::hint::black_box;

use chrono::Duration;
use criterion::{Criterion, criterion_group, criterion_main};
use diesel::prelude::*;
use incidents_core::incident::{DeclareIncident, PriorityChoice};
use incidents_core::query::{IncidentFilter, IncidentQueries, OrderBy, PageRequest};
use incidents_core::{
    Actor, Email, EntryPoint, IncidentLifecycle, IncidentStatus, NewUser, NoPostMortemBackend, UserRepository,
};
use storage::Database;
use storage::schema::{
    environments, incident_categories, incident_role_types, incident_roles, incidents, priorities,
};
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

macro_rules! on_each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            storage::DbConnection::Postgres($c) => $body,
            storage::DbConnection::Sqlite($c) => $body,
        }
    };
}

const WORDS: [&str; 8] =
    ["checkout", "payments", "search", "database", "latency", "errors", "login", "network"];

/// Bulk-inserts `count` incidents spread over two years, priorities, environments, categories and
/// statuses (most closed, as in a real history), each with a commander.
fn populate(database: &Database, data: &Data, count: usize) {
    let mut conn = database.connection().expect("connection");
    let commander: i64 = incident_role_types::table
        .filter(incident_role_types::slug.eq("commander"))
        .select(incident_role_types::id)
        .first(&mut conn)
        .expect("commander");
    let now = incidents_core::lifecycle::now();
    let statuses = [10, 20, 30, 40, 50, 60, 60, 60, 60, 60];
    let user = data.actor.user.to_string();
    for chunk_start in (0..count).step_by(1000) {
        let rows: Vec<_> = (chunk_start..count.min(chunk_start + 1000))
            .map(|n| {
                let created = now - Duration::minutes(i64::try_from(count - n).unwrap_or(0) * 10);
                (
                    incidents::title.eq(format!("{} {} incident {n}", WORDS[n % 8], WORDS[(n / 8) % 8])),
                    incidents::description.eq(format!(
                        "Customers see {} on {} since the deploy {n}.",
                        WORDS[(n / 3) % 8],
                        WORDS[(n / 5) % 8]
                    )),
                    incidents::status.eq(statuses[n % statuses.len()]),
                    incidents::priority_id.eq(data.priorities[n % data.priorities.len()].clone()),
                    incidents::incident_category_id.eq(data.categories[n % data.categories.len()].clone()),
                    incidents::environment_id
                        .eq(data.environments[(n / 7) % data.environments.len()].clone()),
                    incidents::created_by_id.eq(user.clone()),
                    incidents::created_at.eq(created),
                    incidents::updated_at.eq(created),
                )
            })
            .collect();
        // Multi-row inserts are not part of the backends' common subset: run them on each concretely.
        let ids: Vec<i64> = on_each_backend!(&mut *conn, |c| diesel::insert_into(incidents::table)
            .values(&rows)
            .returning(incidents::id)
            .get_results(c))
        .expect("insert incidents");
        let roles: Vec<_> = ids
            .iter()
            .map(|id| {
                (
                    incident_roles::incident_id.eq(*id),
                    incident_roles::role_type_id.eq(commander),
                    incident_roles::user_id.eq(user.clone()),
                    incident_roles::created_at.eq(now),
                    incident_roles::updated_at.eq(now),
                )
            })
            .collect();
        on_each_backend!(&mut *conn, |c| diesel::insert_into(incident_roles::table)
            .values(&roles)
            .execute(c))
        .expect("insert roles");
    }
    if let storage::DbConnection::Postgres(pg) = &mut *conn {
        use diesel::connection::SimpleConnection;
        pg.batch_execute("ANALYZE").expect("analyze");
    }
}

fn bench_backend(c: &mut Criterion, name: &str, test: &TestDatabase, count: usize) {
    let database = &test.database;
    let data = reference(database);
    populate(database, &data, count);
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
