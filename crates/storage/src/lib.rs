//! FireFighter storage: one diesel schema served on SQLite (the embedded default) and PostgreSQL
//! (the scaled mode), the migrations of both, and the repositories that implement the ports of
//! `incidents-core`.
//!
//! This crate depends on `incidents-core` and diesel only: no HTTP, no queue, no other adapter.
//! Queries are written once against [`DbConnection`] (a diesel `MultiConnection`); the few places that
//! need backend-specific SQL match on it explicitly, so the dialect dispatch is visible where it happens.

mod access;
pub mod backoffice;
mod catalog_queries;
mod connection;
mod database_url;
mod error;
mod incident_queries;
mod incidents;
mod job_store;
mod migrations;
mod reference_data;
pub mod schema;
mod users;
pub mod work_signal;

#[cfg(feature = "testing")]
pub mod testing;

pub use connection::{
    Backend, Database, DbConnection, DbConnectionManager, PoolOptions, PooledDbConnection, write_transaction,
};
pub use database_url::{DatabaseUrl, DatabaseUrlError};
pub use error::{StorageError, repository_error};
pub use migrations::{MigrationReport, MigrationSet};
pub use users::Credentials;

/// The one clock (`incidents_core::clock`).
pub(crate) use incidents_core::clock::now;

/// A fresh id for rows keyed by UUID (stored as text). Version 7 keeps inserts index-friendly.
pub(crate) fn uuid_text() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Escapes `\`, `%` and `_` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub(crate) fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// Takes a transaction-scoped advisory lock on PostgreSQL; SQLite already serialises writers.
pub(crate) fn postgres_transaction_lock(conn: &mut DbConnection, key: i64) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConnection::Postgres(pg) => pg.batch_execute(&format!("SELECT pg_advisory_xact_lock({key})")),
        DbConnection::Sqlite(_) => Ok(()),
    }
}
