//! Storage errors and their translation into the domain's [`RepositoryError`].

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use incidents_core::RepositoryError;

/// Failures of the storage layer itself (connecting, migrating), as opposed to a repository call.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// Migrations failed; the schema may be partly migrated (each migration runs in a transaction).
    #[error("migration failed: {0}")]
    Migration(String),
    /// Automatic migration is off and the schema is behind the code.
    #[error(
        "the database schema is behind this version: {pending} pending migration(s); run `firefighter-server migrate`"
    )]
    PendingMigrations { pending: usize },
    /// A query failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Collapses libpq's multi-line messages into one line.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn repository_error(error: DieselError) -> RepositoryError {
    match error {
        DieselError::NotFound => RepositoryError::NotFound("no such row".to_owned()),
        DieselError::DatabaseError(kind, info) => {
            let constraint = info.constraint_name().map_or_else(|| one_line(info.message()), str::to_owned);
            match kind {
                DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::NotNullViolation => RepositoryError::Conflict { constraint },
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    RepositoryError::Unavailable(one_line(info.message()))
                }
                _ => RepositoryError::Internal(one_line(info.message())),
            }
        }
        other => RepositoryError::Internal(one_line(&other.to_string())),
    }
}

pub(crate) fn pool_error(error: &diesel::r2d2::PoolError) -> RepositoryError {
    RepositoryError::Unavailable(one_line(&error.to_string()))
}
