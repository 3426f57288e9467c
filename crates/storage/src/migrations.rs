//! Schema migrations: one embedded tree per dialect, same logical schema.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::{Database, DbConnection};
use crate::error::{StorageError, one_line};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises migrations when several servers start at once on one PostgreSQL database.
const MIGRATION_LOCK_KEY: i64 = 0x4646_4d49_4752; // "FFMIGR"

/// What a migration run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run, oldest first; empty when the schema was already current.
    pub applied: Vec<String>,
}

impl Database {
    /// Applies every pending migration. Safe to run concurrently from several processes on
    /// PostgreSQL (an advisory lock serialises them) and to run again (it then does nothing).
    ///
    /// # Errors
    /// [`StorageError::Migration`] with the failing migration's message.
    pub fn run_migrations(&self) -> Result<MigrationReport, StorageError> {
        let mut conn = self.connection()?;
        let applied = match &mut *conn {
            DbConnection::Postgres(pg) => {
                pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                    .map_err(migration_error)?;
                let result = pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(versions);
                let unlock = pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
                let applied = result.map_err(|e| StorageError::Migration(one_line(&e.to_string())))?;
                unlock.map_err(migration_error)?;
                applied
            }
            DbConnection::Sqlite(sqlite) => sqlite
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(versions)
                .map_err(|e| StorageError::Migration(one_line(&e.to_string())))?,
        };
        for version in &applied {
            tracing::info!(%version, "migration applied");
        }
        Ok(MigrationReport { applied })
    }

    /// How many migrations this version of the code would apply.
    ///
    /// # Errors
    /// [`StorageError::Migration`] when the migration table cannot be read.
    pub fn pending_migrations(&self) -> Result<usize, StorageError> {
        let mut conn = self.connection()?;
        let pending = match &mut *conn {
            DbConnection::Postgres(pg) => pg.pending_migrations(POSTGRES_MIGRATIONS).map(|m| m.len()),
            DbConnection::Sqlite(sqlite) => sqlite.pending_migrations(SQLITE_MIGRATIONS).map(|m| m.len()),
        };
        pending.map_err(|e| StorageError::Migration(one_line(&e.to_string())))
    }

    /// Fails when migrations are pending (used when automatic migration is off).
    ///
    /// # Errors
    /// [`StorageError::PendingMigrations`].
    pub fn ensure_migrated(&self) -> Result<(), StorageError> {
        match self.pending_migrations()? {
            0 => Ok(()),
            pending => Err(StorageError::PendingMigrations { pending }),
        }
    }
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.into_iter().map(|version| version.to_string()).collect()
}

#[expect(clippy::needless_pass_by_value, reason = "used as a map_err adapter")]
fn migration_error(error: diesel::result::Error) -> StorageError {
    StorageError::Migration(one_line(&error.to_string()))
}
