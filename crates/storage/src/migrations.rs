//! Schema migrations: one embedded tree per dialect, same logical schema; the core's, then each
//! integration's [`MigrationSet`] in the order the application registers them.
//!
//! Naming rule: the core's versions are bare timestamps (`2026-11-28-000001_…`); an integration's are
//! prefixed with its name and a dot (`webhooks.2026-11-28-000008_…`, version `webhooks.20261128000008`).
//! Integration names are unique in an application, so two crates (or a private one) can never claim
//! the same row in diesel's migrations table. [`Database::run_integration_migrations`] refuses a set
//! that breaks the rule.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::{Database, DbConnection};
use crate::error::{StorageError, one_line};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Serialises migrations when several servers start at once on one PostgreSQL database.
const MIGRATION_LOCK_KEY: i64 = 0x4646_4d49_4752; // "FFMIGR"

/// An integration's own tables: its migration trees, one per dialect, embedded with
/// `diesel_migrations::embed_migrations!`.
#[derive(Clone, Copy)]
pub struct MigrationSet {
    /// The prefix of its versions, usually the integration's name: lower-case letters and digits
    /// only (diesel reads a version up to the first `_` of the directory name and drops `-`). Every
    /// version in both trees starts with `<name>.`.
    pub name: &'static str,
    pub sqlite: &'static EmbeddedMigrations,
    pub postgres: &'static EmbeddedMigrations,
}

impl std::fmt::Debug for MigrationSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationSet").field("name", &self.name).finish_non_exhaustive()
    }
}

impl MigrationSet {
    /// Checks the naming rule on both trees.
    ///
    /// # Errors
    /// [`StorageError::Migration`] naming the first version that breaks it.
    pub fn check_names(&self) -> Result<(), StorageError> {
        // diesel reads a migration's version up to the first `_` of its directory and drops `-`:
        // a set name with either could never be matched.
        if self.name.is_empty() || !self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(StorageError::Migration(format!(
                "migration set {:?}: its name must be lower-case letters and digits only (it prefixes \
                 directory names, and diesel reads a version up to the first `_` and drops `-`)",
                self.name
            )));
        }
        let prefix = format!("{}.", self.name);
        let sqlite = MigrationSource::<diesel::sqlite::Sqlite>::migrations(self.sqlite);
        let postgres = MigrationSource::<diesel::pg::Pg>::migrations(self.postgres);
        let mut versions: Vec<String> = Vec::new();
        for migrations in [
            sqlite.map(|m| m.iter().map(|m| m.name().version().to_string()).collect::<Vec<_>>()),
            postgres.map(|m| m.iter().map(|m| m.name().version().to_string()).collect::<Vec<_>>()),
        ] {
            versions.extend(migrations.map_err(|e| StorageError::Migration(one_line(&e.to_string())))?);
        }
        match versions.iter().find(|version| !version.starts_with(&prefix) || version.len() == prefix.len()) {
            Some(version) => Err(StorageError::Migration(format!(
                "integration {}: migration version {version:?} must start with {prefix:?} (name its directory \
                 {prefix}YYYY-MM-DD-NNNNNN_what)",
                self.name
            ))),
            None => Ok(()),
        }
    }
}

/// A `'static` embedded tree as a migration source (diesel takes sources by value).
struct Source(&'static EmbeddedMigrations);

impl<DB: diesel::backend::Backend> MigrationSource<DB> for Source {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn diesel::migration::Migration<DB>>>> {
        MigrationSource::<DB>::migrations(self.0)
    }
}

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

    /// Applies the pending migrations of each integration set, in order, after checking their names.
    /// Safe to run concurrently and again, like [`Database::run_migrations`].
    ///
    /// # Errors
    /// [`StorageError::Migration`] for a set breaking the naming rule or a failing migration.
    pub fn run_integration_migrations(&self, sets: &[MigrationSet]) -> Result<MigrationReport, StorageError> {
        for set in sets {
            set.check_names()?;
        }
        let mut conn = self.connection()?;
        let mut applied = Vec::new();
        match &mut *conn {
            DbConnection::Postgres(pg) => {
                pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                    .map_err(migration_error)?;
                let mut result = Ok(());
                for set in sets {
                    match pg.run_pending_migrations(Source(set.postgres)) {
                        Ok(versions_applied) => applied.extend(versions(versions_applied)),
                        Err(error) => {
                            result = Err(StorageError::Migration(format!(
                                "{}: {}",
                                set.name,
                                one_line(&error.to_string())
                            )));
                            break;
                        }
                    }
                }
                let unlock = pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
                result?;
                unlock.map_err(migration_error)?;
            }
            DbConnection::Sqlite(sqlite) => {
                for set in sets {
                    let versions_applied =
                        sqlite.run_pending_migrations(Source(set.sqlite)).map_err(|error| {
                            StorageError::Migration(format!("{}: {}", set.name, one_line(&error.to_string())))
                        })?;
                    applied.extend(versions(versions_applied));
                }
            }
        }
        for version in &applied {
            tracing::info!(%version, "migration applied");
        }
        Ok(MigrationReport { applied })
    }

    /// How many migrations of the integration sets are pending.
    ///
    /// # Errors
    /// [`StorageError::Migration`] when the migration table cannot be read.
    pub fn pending_integration_migrations(&self, sets: &[MigrationSet]) -> Result<usize, StorageError> {
        let mut conn = self.connection()?;
        let mut pending = 0;
        for set in sets {
            pending += match &mut *conn {
                DbConnection::Postgres(pg) => pg.pending_migrations(Source(set.postgres)).map(|m| m.len()),
                DbConnection::Sqlite(sqlite) => {
                    sqlite.pending_migrations(Source(set.sqlite)).map(|m| m.len())
                }
            }
            .map_err(|e| StorageError::Migration(one_line(&e.to_string())))?;
        }
        Ok(pending)
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
