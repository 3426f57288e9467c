//! Connections and the pool: one [`Database`] handle, whichever backend sits behind it.

use std::fmt;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel::{PgConnection, SqliteConnection};
use incidents_core::RepositoryError;

use crate::database_url::DatabaseUrl;
use crate::error::{StorageError, one_line, pool_error, repository_error};

/// A connection to either backend. Queries written against it run on both; code that needs one
/// dialect matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

impl fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postgres(_) => f.write_str("DbConnection::Postgres"),
            Self::Sqlite(_) => f.write_str("DbConnection::Sqlite"),
        }
    }
}

/// Which backend a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A short name for logs and readiness output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a caller waits for a free connection (and a new connection for its server).
    pub connect_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_size: 10, connect_timeout: Duration::from_secs(5) }
    }
}

/// Opens connections of the configured backend (never guessing from the URL, so a PostgreSQL URL
/// can never turn into a stray SQLite file).
#[derive(Debug)]
pub struct DbConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for DbConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres { url } => {
                let mut conn = PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?;
                // A runaway query must not hold a connection forever (the original used 30 s too).
                // Statements this connection prepares (diesel caches every query whose text is fixed)
                // run with one plan made once: PostgreSQL would otherwise re-plan them per execution
                // while it weighs a generic plan, and planning the incident view costs more than
                // running it. Queries built per request (filters) are not prepared and still get a
                // plan for their values.
                conn.batch_execute("SET statement_timeout = 30000; SET plan_cache_mode = force_generic_plan")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite { path } => {
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; busy_timeout makes writers queue instead of
                // failing; foreign keys are off by default in SQLite. No connection of the pool
                // checkpoints the WAL when it commits (a commit that crosses the threshold would copy
                // the log into the database while holding this process's write gate, and every
                // writer would wait behind it): the pool's checkpointer thread does it beside them.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        r2d2::R2D2Connection::is_broken(conn)
    }
}

/// A pooled connection.
pub type PooledDbConnection = PooledConnection<DbConnectionManager>;

/// The handle every repository method goes through: a pool of connections to one database.
#[derive(Clone)]
pub struct Database {
    pool: Pool<DbConnectionManager>,
    backend: Backend,
    url: DatabaseUrl,
    references: std::sync::Arc<crate::incident_queries::ReferenceCache>,
    counts: std::sync::Arc<crate::incident_queries::CountCache>,
    statistics: std::sync::Arc<crate::incident_queries::StatisticsCache>,
    downtimes: std::sync::Arc<crate::incident_queries::DowntimeCache>,
    /// PostgreSQL's clock, as an offset from this process's.
    clock: std::sync::Arc<DbClock>,
    /// Bumped when a transaction writing outbox events or jobs commits ([`crate::work_signal`]).
    work: std::sync::Arc<jobs::WorkSignal>,
    /// SQLite: the thread that checkpoints the WAL, stopped when the last handle is dropped.
    #[expect(dead_code, reason = "held for its Drop")]
    checkpointer: Option<std::sync::Arc<Checkpointer>>,
}

/// What identifies a database within this process, for its work signal: a SQLite file's canonical
/// path, a PostgreSQL URL (without its password).
fn signal_key(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite { path } => std::fs::canonicalize(path)
            .map_or_else(|_| path.display().to_string(), |path| path.display().to_string()),
        DatabaseUrl::Postgres { .. } => url.redacted(),
    }
}

/// How long a measured offset between this process's clock and PostgreSQL's is used.
const CLOCK_OFFSET_FOR: Duration = Duration::from_secs(60);

/// The offset between this process's clock and the database's, measured at most once a
/// [`CLOCK_OFFSET_FOR`] (a failed measure keeps the last offset until then).
#[derive(Debug, Default)]
pub(crate) struct DbClock {
    measured: std::sync::Mutex<Option<(std::time::Instant, chrono::TimeDelta)>>,
}

impl DbClock {
    /// The offset, measured again with `measure` when the last one is too old.
    pub(crate) fn offset(&self, measure: impl FnOnce() -> Option<chrono::TimeDelta>) -> chrono::TimeDelta {
        let mut measured = self.measured.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *measured {
            Some((at, offset)) if at.elapsed() < CLOCK_OFFSET_FOR => offset,
            last => {
                let offset = measure().unwrap_or_else(|| last.map(|(_, offset)| offset).unwrap_or_default());
                *measured = Some((std::time::Instant::now(), offset));
                offset
            }
        }
    }
}

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// A thread that checkpoints a SQLite database's WAL on a connection of its own (PASSIVE: it never
/// waits for, nor blocks, readers or the writer), in place of the commits that would otherwise do
/// it inside their write transaction. It stops when dropped.
struct Checkpointer {
    _stop: std::sync::mpsc::Sender<()>,
}

impl Checkpointer {
    fn start(conn: DbConnection) -> Result<Self, StorageError> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let DbConnection::Sqlite(mut conn) = conn else {
            return Ok(Self { _stop: stop });
        };
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(error) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        tracing::warn!(%error, "the SQLite WAL could not be checkpointed");
                    }
                }
                // The last handle is gone: fold the log back in before the file is left alone.
                let _ = conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)");
            })
            .map_err(|error| StorageError::Connect {
                url: "sqlite".into(),
                reason: format!("cannot start the checkpoint thread: {error}"),
            })?;
        Ok(Self { _stop: stop })
    }
}

impl fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Checkpointer")
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens a pool and checks that one connection works, so an unreachable database is reported
    /// at once, in one line, instead of on the first request.
    ///
    /// # Errors
    /// [`StorageError::Connect`] when the database cannot be reached or its directory created.
    pub fn connect(url: &DatabaseUrl, options: PoolOptions) -> Result<Self, StorageError> {
        // Initialise OpenSSL (used by libpq for TLS) before libpq does, without its exit handler: at
        // process exit that handler freed OpenSSL's state while server threads were still closing
        // TLS connections, and the process died with "double free or corruption" or SIGSEGV instead
        // of exiting 0 (seen under load in bench/api-load.sh).
        openssl_sys::init();
        let backend = match url {
            DatabaseUrl::Sqlite { path } => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| StorageError::Connect {
                        url: url.redacted(),
                        reason: format!("cannot create directory {}: {e}", parent.display()),
                    })?;
                }
                Backend::Sqlite
            }
            DatabaseUrl::Postgres { .. } => Backend::Postgres,
        };
        let manager = DbConnectionManager { url: url.clone() };
        // Establish the first connection ourselves: r2d2 would retry silently until its timeout and
        // then report only "timed out waiting for connection".
        let first = manager.connect().map_err(|error| StorageError::Connect {
            url: url.redacted(),
            reason: one_line(&error.to_string()),
        })?;
        let pool = Pool::builder()
            .max_size(options.max_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            .test_on_check_out(false)
            .error_handler(Box::new(LogPoolErrors))
            .build_unchecked(manager);
        let checkpointer = match backend {
            Backend::Sqlite => Some(std::sync::Arc::new(Checkpointer::start(first)?)),
            Backend::Postgres => {
                drop(first);
                None
            }
        };
        Ok(Self {
            pool,
            backend,
            url: url.clone(),
            references: std::sync::Arc::default(),
            counts: std::sync::Arc::new(crate::incident_queries::CountCache::new(
                crate::incident_queries::COUNTS_FOR,
            )),
            statistics: std::sync::Arc::new(crate::incident_queries::StatisticsCache::new(
                crate::incident_queries::REPORTS_FOR,
            )),
            downtimes: std::sync::Arc::new(crate::incident_queries::DowntimeCache::new(
                crate::incident_queries::REPORTS_FOR,
            )),
            clock: std::sync::Arc::default(),
            work: crate::work_signal::for_database(&signal_key(url)),
            checkpointer,
        })
    }

    /// The signal bumped when outbox events or jobs written through this process commit.
    pub(crate) fn work(&self) -> &std::sync::Arc<jobs::WorkSignal> {
        &self.work
    }

    /// The database's clock (naive UTC, microseconds): what job leases and due dates are computed
    /// from, so that processes whose clocks disagree agree on them. On SQLite (a file on this
    /// machine) it is this process's clock; on PostgreSQL this process's clock corrected by the
    /// offset to the server's, measured once a minute.
    #[must_use]
    pub fn now(&self) -> chrono::NaiveDateTime {
        let local = incidents_core::clock::now();
        match self.backend {
            Backend::Sqlite => local,
            Backend::Postgres => local + self.clock.offset(|| self.measure_clock_offset()),
        }
    }

    fn measure_clock_offset(&self) -> Option<chrono::TimeDelta> {
        use diesel::sql_types::Timestamp;
        let mut conn = self.connection_within(Duration::from_secs(1)).ok()?;
        let before = incidents_core::clock::now();
        let server: chrono::NaiveDateTime =
            diesel::select(diesel::dsl::sql::<Timestamp>("clock_timestamp() AT TIME ZONE 'UTC'"))
                .get_result(&mut *conn)
                .map_err(|error| tracing::warn!(%error, "the database's clock could not be read"))
                .ok()?;
        let after = incidents_core::clock::now();
        let offset = server - (before + (after - before) / 2);
        if offset.num_seconds().abs() >= 2 {
            tracing::warn!(
                offset_ms = offset.num_milliseconds(),
                "this machine's clock and the database's disagree; job leases follow the database's"
            );
        }
        Some(offset)
    }

    /// The backend behind this handle.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database location, password redacted.
    #[must_use]
    pub fn redacted_url(&self) -> String {
        self.url.redacted()
    }

    /// Statistics per filter, while no incident changes.
    pub(crate) fn statistics_cache(&self) -> &crate::incident_queries::StatisticsCache {
        &self.statistics
    }

    /// Category downtimes per period, while no incident changes.
    pub(crate) fn downtime_cache(&self) -> &crate::incident_queries::DowntimeCache {
        &self.downtimes
    }

    /// The open incidents' counts per viewer, while no incident changes.
    pub(crate) fn counts(&self) -> &crate::incident_queries::CountCache {
        &self.counts
    }

    /// The cached reference tables the read models point to.
    pub(crate) fn references(&self) -> &crate::incident_queries::ReferenceCache {
        &self.references
    }

    /// A connection from the pool.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when none frees up (or can be opened) in time.
    pub fn connection(&self) -> Result<PooledDbConnection, RepositoryError> {
        self.pool.get().map_err(|error| pool_error(&error))
    }

    /// A connection from the pool, waiting at most `timeout` for it.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] when none frees up (or can be opened) in time.
    pub fn connection_within(&self, timeout: Duration) -> Result<PooledDbConnection, RepositoryError> {
        self.pool.get_timeout(timeout).map_err(|error| pool_error(&error))
    }

    /// Runs `SELECT 1`, waiting at most `timeout` for a connection: the health check.
    ///
    /// # Errors
    /// [`RepositoryError::Unavailable`] or the query's failure.
    pub fn ping(&self, timeout: Duration) -> Result<(), RepositoryError> {
        let mut conn = self.connection_within(timeout)?;
        conn.batch_execute("SELECT 1").map_err(repository_error)
    }

    /// Runs `work` in one write transaction on a pooled connection; see [`write_transaction`].
    ///
    /// # Errors
    /// The pool's, the database's, or `work`'s error.
    pub fn transaction<T, E>(&self, work: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<RepositoryError> + From<diesel::result::Error>,
    {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, work)
    }
}

/// This process's SQLite write transactions, one at a time. SQLite has one writer; without this,
/// concurrent writers of one process wait for its lock in SQLite's busy handler, which sleeps in
/// growing steps (up to 100 ms) and starves short transactions under load (acknowledging a webhook
/// took seconds while the embedded job runner wrote). A mutex hands the lock over at once, in order.
/// Other processes (the CLI) still queue on `busy_timeout`.
static SQLITE_WRITES: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    /// Whether this thread holds [`SQLITE_WRITES`] (a write transaction opened inside another, on
    /// another connection, must not wait for itself).
    static HOLDING_SQLITE_WRITES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Held for the length of a SQLite write transaction.
struct SqliteWriteGate(Option<std::sync::MutexGuard<'static, ()>>);

impl SqliteWriteGate {
    fn enter() -> Self {
        if HOLDING_SQLITE_WRITES.get() {
            return Self(None);
        }
        let guard = SQLITE_WRITES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        HOLDING_SQLITE_WRITES.set(true);
        Self(Some(guard))
    }
}

impl Drop for SqliteWriteGate {
    fn drop(&mut self) {
        if self.0.is_some() {
            HOLDING_SQLITE_WRITES.set(false);
        }
    }
}

/// Runs `work` in one transaction; any error rolls everything back. Nested calls become savepoints.
///
/// On SQLite the transaction starts with `BEGIN IMMEDIATE`: it takes the write lock up front, so
/// concurrent writers queue (this process's on a mutex, others on `busy_timeout`). A plain
/// (deferred) `BEGIN` would let two transactions read, then both try to upgrade to writing, and
/// SQLite would fail one at once with "database is locked".
///
/// # Errors
/// The database's or `work`'s error.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};

    let nested = match conn {
        DbConnection::Postgres(pg) => {
            AnsiTransactionManager::transaction_manager_status_mut(pg).transaction_depth()?.is_some()
        }
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth()?.is_some()
        }
    };
    if nested {
        // Already inside a transaction: a savepoint, as diesel does (the outermost one tells).
        return conn.transaction(work);
    }
    let enclosing = crate::work_signal::begin();
    let result = outermost_transaction(conn, work);
    crate::work_signal::end(enclosing, result.is_ok());
    result
}

fn outermost_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};

    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(work);
    };
    let _gate = SqliteWriteGate::enter();
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match work(conn) {
        Ok(value) => match <DbConnection as Connection>::TransactionManager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
                Err(commit_error.into())
            }
        },
        Err(error) => {
            if let Err(rollback_error) =
                <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
            {
                // The pool discards the connection: its transaction manager is now marked broken.
                tracing::error!(error = %rollback_error, "rollback failed");
            }
            Err(error)
        }
    }
}

/// Pool errors (a connection that failed to open in the background) go to the log, once each.
#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<r2d2::Error> for LogPoolErrors {
    fn handle_error(&self, error: r2d2::Error) {
        tracing::warn!(error = %one_line(&error.to_string()), "database connection failed");
    }
}

#[cfg(test)]
mod tests {
    use super::DbClock;
    use chrono::TimeDelta;

    #[test]
    fn the_clock_offset_is_measured_once_a_minute_and_a_failed_measure_keeps_the_last() {
        let clock = DbClock::default();
        assert_eq!(clock.offset(|| Some(TimeDelta::seconds(7))), TimeDelta::seconds(7));
        assert_eq!(clock.offset(|| panic!("measured again within the minute")), TimeDelta::seconds(7));
        // An old measure is replaced; a failed one keeps the last offset.
        let aged = std::time::Instant::now().checked_sub(super::CLOCK_OFFSET_FOR).expect("instant");
        *clock.measured.lock().expect("lock") = Some((aged, TimeDelta::seconds(7)));
        assert_eq!(clock.offset(|| None), TimeDelta::seconds(7));
        *clock.measured.lock().expect("lock") = Some((aged, TimeDelta::seconds(7)));
        assert_eq!(clock.offset(|| Some(TimeDelta::milliseconds(-3))), TimeDelta::milliseconds(-3));
        assert_eq!(DbClock::default().offset(|| None), TimeDelta::zero(), "never measured: none");
    }
}
