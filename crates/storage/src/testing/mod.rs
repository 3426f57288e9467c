//! Test databases: a temporary SQLite file, or a fresh PostgreSQL database per test.
//!
//! PostgreSQL is used when `FF_TEST_DATABASE_URL` names a server (any database on it; each test
//! creates and drops its own `ff_test_<uuid>` database, so tests run in parallel). When the variable is
//! unset the PostgreSQL variant is skipped; when it is set and the server is unreachable, tests fail.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use incidents_core::{ReferenceData, ReferenceDataRepository};

use crate::{Backend, Database, DatabaseUrl, MigrationSet, PoolOptions};

pub mod parity;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const TEST_DATABASE_URL_VAR: &str = "FF_TEST_DATABASE_URL";

/// A migrated database that disappears when dropped.
#[derive(Debug)]
pub struct TestDatabase {
    pub database: Database,
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Sqlite(#[expect(dead_code, reason = "held for its Drop, which removes the directory")] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A migrated SQLite database in a temporary directory.
    ///
    /// # Panics
    /// When the temporary directory or the database cannot be created: the test cannot run.
    #[must_use]
    #[expect(clippy::expect_used, reason = "test setup: failing loudly is the point")]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = DatabaseUrl::sqlite(dir.path().join("firefighter.db"));
        let database =
            Database::connect(&url, PoolOptions::default()).expect("open the SQLite test database");
        database.run_migrations().expect("migrate the SQLite test database");
        Self { database, url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A migrated, empty PostgreSQL database of its own, or `None` when `FF_TEST_DATABASE_URL` is unset.
    ///
    /// # Panics
    /// When `FF_TEST_DATABASE_URL` is set but the server cannot be used: CI must fail, not skip.
    #[must_use]
    #[expect(clippy::expect_used, reason = "test setup: failing loudly is the point")]
    pub fn postgres() -> Option<Self> {
        let test = Self::postgres_unmigrated()?;
        test.database.run_migrations().expect("migrate the PostgreSQL test database");
        Some(test)
    }

    /// An empty PostgreSQL database of its own (not even migrated), or `None` when
    /// `FF_TEST_DATABASE_URL` is unset: for tests of the migrate command itself.
    ///
    /// # Panics
    /// When `FF_TEST_DATABASE_URL` is set but the server cannot be used: CI must fail, not skip.
    #[must_use]
    #[expect(clippy::expect_used, reason = "test setup: failing loudly is the point")]
    pub fn postgres_unmigrated() -> Option<Self> {
        let admin_url = std::env::var(TEST_DATABASE_URL_VAR).ok().filter(|url| !url.trim().is_empty());
        // In CI (`CI=true`) a test that needs PostgreSQL fails without it rather than passing unrun.
        let in_ci = matches!(std::env::var("CI").as_deref(), Ok("true" | "1"));
        assert!(
            admin_url.is_some() || !in_ci,
            "{TEST_DATABASE_URL_VAR} is unset under CI=true: this test needs PostgreSQL"
        );
        let admin_url = admin_url?;
        let name = format!("ff_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|error| {
            panic!("{TEST_DATABASE_URL_VAR} is set but PostgreSQL is unreachable: {error}")
        });
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create the test database");
        let url = DatabaseUrl::Postgres { url: with_database_name(&admin_url, &name) };
        let database =
            Database::connect(&url, PoolOptions::default()).expect("open the PostgreSQL test database");
        Some(Self { database, url, cleanup: Cleanup::Postgres { admin_url, name } })
    }

    /// SQLite, then PostgreSQL when configured: run a test body on each.
    #[must_use]
    pub fn each_backend() -> Vec<Self> {
        let mut databases = vec![Self::sqlite()];
        match Self::postgres() {
            Some(postgres) => databases.push(postgres),
            None => skipped_postgres_notice(),
        }
        databases
    }

    /// Loads the default reference data.
    ///
    /// # Panics
    /// When seeding fails.
    #[must_use]
    #[expect(clippy::expect_used, reason = "test setup: failing loudly is the point")]
    pub fn seeded(self) -> Self {
        self.database.seed(&ReferenceData::defaults()).expect("seed the test database");
        self
    }

    /// Applies an integration's migrations too (after the core's, as the application does).
    ///
    /// # Panics
    /// When a migration fails.
    #[must_use]
    #[expect(clippy::expect_used, reason = "test setup: failing loudly is the point")]
    pub fn with_migrations(self, sets: &[MigrationSet]) -> Self {
        self.database.run_integration_migrations(sets).expect("apply the integration migrations");
        self
    }

    /// The backend under test, for assertion messages.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.database.backend()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            // FORCE ends the pool's connections, which the field drop would close a moment later.
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

fn skipped_postgres_notice() {
    use std::sync::Once;
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        tracing::warn!("{TEST_DATABASE_URL_VAR} is unset: PostgreSQL variants of storage tests are skipped");
    });
}

/// `postgres://u@h:5432/anything?x=y` with its database replaced by `name`.
#[must_use]
pub fn with_database_name(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    format!("{scheme}://{authority}/{name}{query}")
}

macro_rules! on_each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            crate::DbConnection::Postgres($c) => $body,
            crate::DbConnection::Sqlite($c) => $body,
        }
    };
}

const WORDS: [&str; 8] =
    ["checkout", "payments", "search", "database", "latency", "errors", "login", "network"];

/// Bulk-inserts `count` incidents created by `created_by`, spread over the past (10 minutes apart),
/// priorities P1–P5, environments, categories and statuses (most closed, as in a real history), each
/// with a commander. For benchmarks: it bypasses the lifecycle service (no timeline, no audit).
///
/// # Errors
/// A storage failure, or a database without reference data.
pub fn populate_history(
    database: &Database,
    created_by: incidents_core::UserId,
    count: usize,
) -> Result<(), incidents_core::RepositoryError> {
    use diesel::prelude::*;

    use crate::error::repository_error;
    use crate::schema::{
        environments, incident_categories, incident_metrics, incident_role_types, incident_roles, incidents,
        metric_types, priorities,
    };

    let mut conn = database.connection()?;
    let priorities: Vec<String> = priorities::table
        .filter(priorities::value.le(5))
        .order(priorities::value)
        .select(priorities::id)
        .load(&mut conn)
        .map_err(repository_error)?;
    let environments: Vec<String> = environments::table
        .order(environments::sort_order)
        .select(environments::id)
        .load(&mut conn)
        .map_err(repository_error)?;
    let categories: Vec<String> = incident_categories::table
        .order(incident_categories::id)
        .select(incident_categories::id)
        .load(&mut conn)
        .map_err(repository_error)?;
    let commander: i64 = incident_role_types::table
        .filter(incident_role_types::slug.eq("commander"))
        .select(incident_role_types::id)
        .first(&mut conn)
        .map_err(repository_error)?;
    let time_to_fix: i64 = metric_types::table
        .filter(metric_types::slug.eq("time_to_fix"))
        .select(metric_types::id)
        .first(&mut conn)
        .map_err(repository_error)?;
    if priorities.is_empty() || environments.is_empty() || categories.is_empty() {
        return Err(incidents_core::RepositoryError::Internal("seed the reference data first".into()));
    }
    let now = incidents_core::clock::now();
    let statuses = [10, 20, 30, 40, 50, 60, 60, 60, 60, 60];
    let user = created_by.to_string();
    for chunk_start in (0..count).step_by(1000) {
        let rows: Vec<_> = (chunk_start..count.min(chunk_start + 1000))
            .map(|n| {
                let age = chrono::Duration::minutes(i64::try_from(count - n).unwrap_or(0) * 10);
                let created = now - age;
                (
                    incidents::title.eq(format!("{} {} incident {n}", WORDS[n % 8], WORDS[(n / 8) % 8])),
                    incidents::description.eq(format!(
                        "Customers see {} on {} since the deploy {n}.",
                        WORDS[(n / 3) % 8],
                        WORDS[(n / 5) % 8]
                    )),
                    incidents::status.eq(statuses[n % statuses.len()]),
                    incidents::priority_id.eq(priorities[n % priorities.len()].clone()),
                    incidents::incident_category_id.eq(categories[n % categories.len()].clone()),
                    incidents::environment_id.eq(environments[(n / 7) % environments.len()].clone()),
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
        .map_err(repository_error)?;
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
        .map_err(repository_error)?;
        // Mitigated and later incidents have a time to fix, from a minute to two days.
        let fixes: Vec<_> = ids
            .iter()
            .zip(chunk_start..)
            .filter(|(_, n)| statuses[n % statuses.len()] >= 40)
            .map(|(id, n)| {
                let seconds = 60 + i64::try_from(n * 7919 % 172_800).unwrap_or(0);
                (
                    incident_metrics::incident_id.eq(*id),
                    incident_metrics::metric_type_id.eq(time_to_fix),
                    incident_metrics::duration_micros.eq(seconds * 1_000_000),
                    incident_metrics::created_at.eq(now),
                    incident_metrics::updated_at.eq(now),
                )
            })
            .collect();
        on_each_backend!(&mut *conn, |c| diesel::insert_into(incident_metrics::table)
            .values(&fixes)
            .execute(c))
        .map_err(repository_error)?;
    }
    if let crate::DbConnection::Postgres(pg) = &mut *conn {
        pg.batch_execute("ANALYZE").map_err(repository_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::with_database_name;

    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            with_database_name("postgres://p@127.0.0.1:5432/postgres", "x"),
            "postgres://p@127.0.0.1:5432/x"
        );
        assert_eq!(with_database_name("postgres://p@h", "x"), "postgres://p@h/x");
        assert_eq!(
            with_database_name("postgres://p@h/db?sslmode=disable", "x"),
            "postgres://p@h/x?sslmode=disable"
        );
    }
}
