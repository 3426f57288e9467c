//! The job table (`jobs::JobStore`): outbox events become jobs; runners claim due jobs with a lease.
//! On PostgreSQL, rows are taken with `FOR UPDATE SKIP LOCKED`, so several runners never take the
//! same outbox event or job; on SQLite the `BEGIN IMMEDIATE` transaction serialises them.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;
use incidents_core::RepositoryError;
use incidents_core::query::{Page, PageRequest};
use jobs::{
    AfterAbandoned, ClaimedJob, Drained, Enqueue, JobAdmin, JobRecord, JobStore, JobsFor, OutboxEvent,
    QueuedJob, RegistryError, RetryPolicy, TransportStore,
};

use crate::connection::{Database, DbConnection, write_transaction};
use crate::error::repository_error;
use crate::schema::{jobs as job_table, outbox_events};

/// Errors inside a job transaction: storage, or the registry refusing an event.
enum TxError {
    Storage(diesel::result::Error),
    Registry(RegistryError),
}

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Storage(error)
    }
}

impl From<TxError> for RepositoryError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Storage(error) => repository_error(error),
            TxError::Registry(error) => Self::Internal(error.to_string()),
        }
    }
}

type OutboxRow = (
    i64,
    String,
    String,
    Option<i64>,
    String,
    NaiveDateTime,
    (Option<String>, Option<String>, Option<i64>, i32),
);

/// The values of a new job's row.
type NewJobRow<'a> = (
    diesel::dsl::Eq<job_table::name, &'static str>,
    diesel::dsl::Eq<job_table::queue, &'static str>,
    diesel::dsl::Eq<job_table::payload, &'a String>,
    diesel::dsl::Eq<job_table::idempotency_key, &'a String>,
    diesel::dsl::Eq<job_table::run_at, NaiveDateTime>,
    diesel::dsl::Eq<job_table::created_at, NaiveDateTime>,
    diesel::dsl::Eq<job_table::updated_at, NaiveDateTime>,
);

/// The row of a job to enqueue (one or a batch).
fn job_row(job: &Enqueue, run_at: NaiveDateTime, now: NaiveDateTime) -> NewJobRow<'_> {
    (
        job_table::name.eq(job.name),
        job_table::queue.eq(job.queue),
        job_table::payload.eq(&job.payload),
        job_table::idempotency_key.eq(&job.idempotency_key),
        job_table::run_at.eq(run_at),
        job_table::created_at.eq(now),
        job_table::updated_at.eq(now),
    )
}

fn lease_end(now: NaiveDateTime, lease: Duration) -> NaiveDateTime {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

impl JobStore for Database {
    fn now(&self) -> NaiveDateTime {
        Database::now(self)
    }

    fn work_signal(&self) -> Option<std::sync::Arc<jobs::WorkSignal>> {
        Some(std::sync::Arc::clone(self.work()))
    }

    fn enqueue_outbox(
        &self,
        limit: u32,
        now: NaiveDateTime,
        jobs_for: JobsFor<'_>,
    ) -> Result<Drained, RepositoryError> {
        // The pending events are read, and their jobs computed, before the write transaction: a
        // subscriber may read the database itself (the webhooks' endpoints), and must not wait for a
        // connection while this holds the write lock — on SQLite the connections it waits for would be
        // held by writers queued behind that lock, and nothing would move until the pool timed out.
        let pending = outbox_events::table
            .filter(outbox_events::published_at.is_null())
            .order(outbox_events::id)
            .limit(i64::from(limit))
            .select((
                outbox_events::id,
                outbox_events::event_id,
                outbox_events::event_type,
                outbox_events::incident_id,
                outbox_events::payload,
                outbox_events::occurred_at,
                (
                    outbox_events::actor_user_id,
                    outbox_events::entry_point,
                    outbox_events::incident_version,
                    outbox_events::schema_version,
                ),
            ));
        let rows: Vec<OutboxRow> = {
            let mut conn = self.connection()?;
            match &mut *conn {
                DbConnection::Postgres(pg) => pending.load(pg),
                DbConnection::Sqlite(sqlite) => pending.load(sqlite),
            }
            .map_err(|error| RepositoryError::from(TxError::from(error)))?
        };
        if rows.is_empty() {
            return Ok(Drained::default());
        }
        let events: Vec<OutboxEvent> = rows
            .iter()
            .map(|(_, event_id, event_type, incident_id, payload, occurred_at, circumstances)| {
                let (actor_user_id, entry_point, incident_version, schema_version) = circumstances;
                OutboxEvent {
                    event_id: event_id.clone(),
                    event_type: event_type.clone(),
                    incident_id: *incident_id,
                    payload: serde_json::from_str(payload).unwrap_or(serde_json::Value::Null),
                    occurred_at: *occurred_at,
                    actor_user_id: actor_user_id.clone(),
                    entry_point: entry_point.clone(),
                    incident_version: *incident_version,
                    schema_version: *schema_version,
                }
            })
            .collect();
        let per_event = jobs_for(&events).map_err(|error| RepositoryError::from(TxError::Registry(error)))?;
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| -> Result<Drained, TxError> {
            // Another drainer may have taken some of them meanwhile: only those still pending (and, on
            // PostgreSQL, not being taken right now) are this transaction's.
            let ids: Vec<i64> = rows.iter().map(|(id, ..)| *id).collect();
            let still = outbox_events::table
                .filter(outbox_events::id.eq_any(&ids))
                .filter(outbox_events::published_at.is_null())
                .select(outbox_events::id);
            let still: Vec<i64> = match conn {
                DbConnection::Postgres(pg) => still.for_update().skip_locked().load(pg)?,
                DbConnection::Sqlite(sqlite) => still.load(sqlite)?,
            };
            let mut inserted = 0;
            for ((id, ..), (event, jobs)) in rows.iter().zip(events.iter().zip(&per_event)) {
                if !still.contains(id) {
                    continue;
                }
                for job in jobs {
                    let known = diesel::select(exists(
                        job_table::table.filter(job_table::idempotency_key.eq(&job.idempotency_key)),
                    ))
                    .get_result::<bool>(conn)?;
                    if known {
                        continue;
                    }
                    diesel::insert_into(job_table::table)
                        .values((
                            job_table::name.eq(job.name),
                            job_table::queue.eq(job.queue),
                            job_table::payload.eq(&job.payload),
                            job_table::idempotency_key.eq(&job.idempotency_key),
                            job_table::event_id.eq(Some(&event.event_id)),
                            job_table::run_at.eq(now),
                            job_table::created_at.eq(now),
                            job_table::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    inserted += 1;
                }
            }
            // One statement marks the whole batch.
            diesel::update(outbox_events::table.filter(outbox_events::id.eq_any(&still)))
                .set(outbox_events::published_at.eq(now))
                .execute(conn)?;
            Ok(Drained { events: still.len(), jobs: inserted })
        })
        .map_err(RepositoryError::from)
    }

    fn enqueue(
        &self,
        job: &Enqueue,
        run_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        let inserted = write_transaction(&mut conn, |conn| {
            diesel::insert_into(job_table::table).values(job_row(job, run_at, now)).execute(conn)?;
            crate::work_signal::wrote(self.work());
            Ok(())
        })
        .map_err(repository_error);
        match inserted {
            Ok(_) => Ok(true),
            // Another runner enqueued the same work first.
            Err(RepositoryError::Conflict { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    fn enqueue_many(
        &self,
        jobs: &[Enqueue],
        run_at: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<usize, RepositoryError> {
        let mut conn = self.connection()?;
        // One commit for the batch; a job already enqueued is skipped in place. PostgreSQL takes the
        // batch in one statement (one round trip); SQLite, in-process, row by row.
        let rows: Vec<_> = jobs.iter().map(|job| job_row(job, run_at, now)).collect();
        write_transaction(&mut conn, |conn| -> Result<usize, diesel::result::Error> {
            crate::work_signal::wrote(self.work());
            match conn {
                DbConnection::Postgres(pg) => {
                    diesel::insert_into(job_table::table).values(&rows).on_conflict_do_nothing().execute(pg)
                }
                DbConnection::Sqlite(sqlite) => {
                    let mut inserted = 0;
                    for row in &rows {
                        inserted += diesel::insert_into(job_table::table)
                            .values(*row)
                            .on_conflict_do_nothing()
                            .execute(sqlite)?;
                    }
                    Ok(inserted)
                }
            }
        })
        .map_err(repository_error)
    }

    fn purge_before(&self, before: NaiveDateTime) -> Result<(usize, usize), RepositoryError> {
        let mut conn = self.connection()?;
        let events = diesel::delete(outbox_events::table.filter(outbox_events::published_at.lt(before)))
            .execute(&mut *conn)
            .map_err(repository_error)?;
        let jobs = diesel::delete(
            job_table::table.filter(job_table::state.eq("done")).filter(job_table::updated_at.lt(before)),
        )
        .execute(&mut *conn)
        .map_err(repository_error)?;
        Ok((events, jobs))
    }

    fn claim(
        &self,
        limit: u32,
        now: NaiveDateTime,
        lease: Duration,
        queue: Option<&str>,
    ) -> Result<Vec<ClaimedJob>, RepositoryError> {
        let mut conn = self.connection()?;
        let limit = i64::from(limit);
        write_transaction(&mut conn, |conn| -> Result<Vec<ClaimedJob>, diesel::result::Error> {
            let rows = claimable(conn, queue, now, limit)?;
            let ids: Vec<i64> = rows.iter().map(|(id, ..)| *id).collect();
            diesel::update(job_table::table.filter(job_table::id.eq_any(&ids)))
                .set((
                    job_table::state.eq("running"),
                    job_table::attempts.eq(job_table::attempts + 1),
                    job_table::locked_until.eq(Some(lease_end(now, lease))),
                    job_table::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(rows
                .into_iter()
                .map(|(id, name, payload, attempts, base)| ClaimedJob {
                    id,
                    name,
                    payload,
                    attempt: u32::try_from(attempts).unwrap_or(0) + 1,
                    base: u32::try_from(base).unwrap_or(0),
                })
                .collect())
        })
        .map_err(repository_error)
    }

    fn complete(&self, job: &ClaimedJob, now: NaiveDateTime) -> Result<bool, RepositoryError> {
        self.finish(job, "done", None, None, now)
    }

    fn retry_at(
        &self,
        job: &ClaimedJob,
        run_at: NaiveDateTime,
        error: &str,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        self.finish(job, "pending", Some(run_at), Some(error), now)
    }

    fn bury(&self, job: &ClaimedJob, error: &str, now: NaiveDateTime) -> Result<bool, RepositoryError> {
        self.finish(job, "dead", None, Some(error), now)
    }

    fn reap_abandoned(
        &self,
        now: NaiveDateTime,
        policy: RetryPolicy,
        limit: u32,
    ) -> Result<usize, RepositoryError> {
        use diesel::dsl::sql;
        use diesel::sql_types::Bool;
        let mut conn = self.connection()?;
        let abandoned = || {
            job_table::table
                .filter(sql::<Bool>("jobs.state = 'running'"))
                .filter(job_table::locked_until.lt(now))
                .order((job_table::locked_until, job_table::id))
                .limit(i64::from(limit))
                .select((job_table::id, job_table::attempts, job_table::attempt_base))
        };
        // Looked for first without the write lock: almost always there is none.
        if abandoned()
            .select(job_table::id)
            .first::<i64>(&mut *conn)
            .optional()
            .map_err(repository_error)?
            .is_none()
        {
            return Ok(0);
        }
        write_transaction(&mut conn, |conn| -> Result<usize, diesel::result::Error> {
            let rows: Vec<(i64, i32, i32)> = match conn {
                DbConnection::Postgres(pg) => abandoned().for_update().skip_locked().load(pg)?,
                DbConnection::Sqlite(sqlite) => abandoned().load(sqlite)?,
            };
            let mut reaped = 0;
            for (id, attempts, base) in rows {
                let died = u32::try_from(attempts - base).unwrap_or(0);
                let (state, run_at, error) = match policy.after_abandoned(died, rand::random()) {
                    AfterAbandoned::Now => {
                        ("pending", now, format!("its runner died during attempt {died} (a crash, a kill?)"))
                    }
                    AfterAbandoned::RetryIn(delay) => (
                        "pending",
                        now + jobs::to_chrono(delay),
                        format!("its runner died during attempt {died} (a crash, a kill?); tried again later"),
                    ),
                    AfterAbandoned::Dead => (
                        "dead",
                        now,
                        format!(
                            "its runner died during the last of {} attempts (crash, out of memory?); not tried again",
                            policy.max_attempts
                        ),
                    ),
                };
                // Still the attempt that died: a runner that was only slow and renewed meanwhile keeps it.
                reaped += diesel::update(
                    job_table::table
                        .find(id)
                        .filter(job_table::state.eq("running"))
                        .filter(job_table::attempts.eq(attempts))
                        .filter(job_table::locked_until.lt(now)),
                )
                .set((
                    job_table::state.eq(state),
                    job_table::run_at.eq(run_at),
                    job_table::locked_until.eq(None::<NaiveDateTime>),
                    job_table::last_error.eq(Some(error)),
                    job_table::updated_at.eq(now),
                ))
                .execute(conn)?;
            }
            Ok(reaped)
        })
        .map_err(repository_error)
    }
}

/// A claimed row: id, name, payload, attempts so far, attempts before this series.
type ClaimRow = (i64, String, String, i32, i32);

/// The jobs a claim takes, at most `limit`: the due ones in `run_at` order through `jobs_ready`,
/// whose WHERE clause the lookup repeats word for word so that SQLite uses it too. A claim reads its
/// batch, not the backlog: with thousands of jobs waiting, scanning them on every claim was what
/// capped the embedded runner. (Running jobs whose runner died are made pending first, by
/// `reap_abandoned`.)
fn claimable(
    conn: &mut DbConnection,
    queue: Option<&str>,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<ClaimRow>, diesel::result::Error> {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    let columns =
        (job_table::id, job_table::name, job_table::payload, job_table::attempts, job_table::attempt_base);
    let ready = || {
        job_table::table
            .filter(sql::<Bool>("jobs.state IN ('pending', 'queued')"))
            .filter(job_table::run_at.le(now))
            .order((job_table::run_at, job_table::id))
            .select(columns)
    };
    match conn {
        DbConnection::Postgres(pg) => {
            // `queue = $1 OR TRUE` for every queue: a literal the planner folds away (a boxed query
            // cannot be locked).
            let in_queue = || {
                job_table::queue
                    .eq(queue.unwrap_or_default().to_owned())
                    .or(sql::<Bool>(if queue.is_some() { "FALSE" } else { "TRUE" }))
            };
            ready().filter(in_queue()).limit(limit).for_update().skip_locked().load(pg)
        }
        DbConnection::Sqlite(sqlite) => {
            let mut due = ready().into_boxed();
            if let Some(queue) = queue {
                due = due.filter(job_table::queue.eq(queue.to_owned()));
            }
            due.limit(limit).load(sqlite)
        }
    }
}

impl TransportStore for Database {
    fn publish_due(
        &self,
        limit: u32,
        now: NaiveDateTime,
        stale_after: Duration,
        publish: &mut dyn FnMut(&[QueuedJob]) -> Vec<i64>,
    ) -> Result<usize, RepositoryError> {
        let mut conn = self.connection()?;
        let stale = now - chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
        write_transaction(&mut conn, |conn| -> Result<usize, diesel::result::Error> {
            let due = job_table::table
                .filter(
                    job_table::state
                        .eq("pending")
                        .and(job_table::run_at.le(now))
                        .or(job_table::state.eq("queued").and(job_table::run_at.lt(stale))),
                )
                .order((job_table::run_at, job_table::id))
                .limit(i64::from(limit))
                .select((
                    job_table::id,
                    job_table::name,
                    job_table::queue,
                    job_table::idempotency_key,
                    job_table::event_id,
                    job_table::attempts,
                ));
            type Row = (i64, String, String, String, Option<String>, i32);
            let rows: Vec<Row> = match conn {
                DbConnection::Postgres(pg) => due.for_update().skip_locked().load(pg)?,
                DbConnection::Sqlite(sqlite) => due.load(sqlite)?,
            };
            if rows.is_empty() {
                return Ok(0);
            }
            let batch: Vec<QueuedJob> = rows
                .into_iter()
                .map(|(id, name, queue, idempotency_key, event_id, attempts)| QueuedJob {
                    id,
                    name,
                    queue,
                    idempotency_key,
                    event_id,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                })
                .collect();
            // The rows stay locked while the broker confirms: another relay skips them.
            let confirmed = publish(&batch);
            if confirmed.is_empty() {
                return Ok(0);
            }
            diesel::update(job_table::table.filter(job_table::id.eq_any(&confirmed)))
                .set((
                    job_table::state.eq("queued"),
                    job_table::run_at.eq(now),
                    job_table::locked_until.eq(None::<NaiveDateTime>),
                    job_table::updated_at.eq(now),
                ))
                .execute(conn)
        })
        .map_err(repository_error)
    }

    fn start(
        &self,
        id: i64,
        generation: u32,
        now: NaiveDateTime,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>, RepositoryError> {
        let mut conn = self.connection()?;
        // Never a running job, even one whose lease ran out: `reap_abandoned` decides what follows
        // a dead runner (a message of an older relay is then left to it).
        let target = job_table::table
            .find(id)
            .filter(job_table::attempts.eq(i32::try_from(generation).unwrap_or(i32::MAX)))
            .filter(job_table::state.eq_any(["pending", "queued"]));
        let changes = (
            job_table::state.eq("running"),
            job_table::attempts.eq(job_table::attempts + 1),
            job_table::locked_until.eq(Some(lease_end(now, lease))),
            job_table::updated_at.eq(now),
        );
        let returning = (job_table::name, job_table::payload, job_table::attempts, job_table::attempt_base);
        // One statement: of two messages of one generation, exactly one matches.
        let row: Option<(String, String, i32, i32)> = match &mut *conn {
            DbConnection::Postgres(pg) => {
                diesel::update(target).set(changes).returning(returning).get_result(pg).optional()
            }
            DbConnection::Sqlite(sqlite) => {
                diesel::update(target).set(changes).returning(returning).get_result(sqlite).optional()
            }
        }
        .map_err(repository_error)?;
        Ok(row.map(|(name, payload, attempts, base)| ClaimedJob {
            id,
            name,
            payload,
            attempt: u32::try_from(attempts).unwrap_or(1),
            base: u32::try_from(base).unwrap_or(0),
        }))
    }

    fn extend_lease(&self, job: &ClaimedJob, until: NaiveDateTime) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        diesel::update(
            job_table::table
                .find(job.id)
                .filter(job_table::state.eq("running"))
                .filter(job_table::attempts.eq(i32::try_from(job.attempt).unwrap_or(i32::MAX))),
        )
        .set(job_table::locked_until.eq(Some(until)))
        .execute(&mut *conn)
        .map(|changed| changed == 1)
        .map_err(repository_error)
    }

    fn mark_queued(&self, job: &ClaimedJob, now: NaiveDateTime) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        diesel::update(
            job_table::table
                .find(job.id)
                .filter(job_table::state.eq("pending"))
                .filter(job_table::attempts.eq(i32::try_from(job.attempt).unwrap_or(i32::MAX))),
        )
        .set((job_table::state.eq("queued"), job_table::updated_at.eq(now)))
        .execute(&mut *conn)
        .map(|changed| changed == 1)
        .map_err(repository_error)
    }
}

impl Database {
    /// Records an attempt's outcome, only while the attempt still owns the job (running, at this
    /// attempt): `Ok(false)` when another runner has taken it over since.
    fn finish(
        &self,
        job: &ClaimedJob,
        state: &str,
        run_at: Option<NaiveDateTime>,
        error: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        let target = job_table::table
            .find(job.id)
            .filter(job_table::state.eq("running"))
            .filter(job_table::attempts.eq(i32::try_from(job.attempt).unwrap_or(i32::MAX)));
        let changes = (
            job_table::state.eq(state),
            job_table::locked_until.eq(None::<NaiveDateTime>),
            job_table::updated_at.eq(now),
        );
        // Errors are cut to 2,000 characters: a receiver's whole error page is not worth keeping.
        let error: Option<String> = error.map(|e| e.chars().take(2000).collect());
        // In a write transaction: on SQLite it then waits its turn with this process's other writers.
        write_transaction(&mut conn, |conn| match (run_at, error) {
            (Some(run_at), error) => diesel::update(target)
                .set((changes, job_table::run_at.eq(run_at), job_table::last_error.eq(error)))
                .execute(conn),
            (None, Some(error)) => {
                diesel::update(target).set((changes, job_table::last_error.eq(Some(error)))).execute(conn)
            }
            (None, None) => diesel::update(target).set(changes).execute(conn),
        })
        .map(|changed| {
            if changed == 0 {
                tracing::warn!(
                    job = job.id,
                    attempt = job.attempt,
                    state,
                    "the job was taken over meanwhile; outcome not recorded"
                );
            }
            changed == 1
        })
        .map_err(repository_error)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = job_table)]
struct JobRow {
    id: i64,
    name: String,
    queue: String,
    idempotency_key: String,
    event_id: Option<String>,
    state: String,
    attempts: i32,
    attempt_base: i32,
    run_at: NaiveDateTime,
    last_error: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<JobRow> for JobRecord {
    fn from(row: JobRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            queue: row.queue,
            idempotency_key: row.idempotency_key,
            event_id: row.event_id,
            state: row.state,
            attempts: u32::try_from(row.attempts - row.attempt_base).unwrap_or_default(),
            run_at: row.run_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl JobAdmin for Database {
    fn jobs(&self, state: Option<&str>, page: PageRequest) -> Result<Page<JobRecord>, RepositoryError> {
        use crate::catalog_queries::{count, limit_offset, paged};
        let mut conn = self.connection()?;
        let filtered = || {
            let mut query = job_table::table.into_boxed();
            if let Some(state) = state {
                query = query.filter(job_table::state.eq(state.to_owned()));
            }
            query
        };
        let total = count(&mut conn, page, |c| filtered().count().get_result(c))?;
        let (limit, offset) = limit_offset(page);
        let rows: Vec<JobRow> = filtered()
            .order(job_table::id.desc())
            .limit(limit)
            .offset(offset)
            .select(JobRow::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(paged(rows.into_iter().map(JobRecord::from).collect(), page, total))
    }

    fn job(&self, id: i64) -> Result<Option<JobRecord>, RepositoryError> {
        let mut conn = self.connection()?;
        job_table::table
            .find(id)
            .select(JobRow::as_select())
            .first(&mut *conn)
            .optional()
            .map(|row| row.map(JobRecord::from))
            .map_err(repository_error)
    }

    fn retry_dead(&self, id: i64, now: NaiveDateTime) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        diesel::update(job_table::table.find(id).filter(job_table::state.eq("dead")))
            .set((
                job_table::state.eq("pending"),
                job_table::attempt_base.eq(job_table::attempts),
                job_table::run_at.eq(now),
                job_table::updated_at.eq(now),
            ))
            .execute(&mut *conn)
            .map(|changed| changed == 1)
            .map_err(repository_error)
    }

    fn failed_for_incident(&self, incident: i64, limit: i64) -> Result<Vec<JobRecord>, RepositoryError> {
        let mut conn = self.connection()?;
        // The partial index `jobs_failing` finds the few failing jobs; each event by its unique id.
        let rows: Vec<JobRow> = job_table::table
            .inner_join(outbox_events::table.on(job_table::event_id.eq(outbox_events::event_id.nullable())))
            .filter(job_table::last_error.is_not_null())
            .filter(job_table::state.ne("done"))
            .filter(outbox_events::incident_id.eq(incident))
            .order(job_table::id.desc())
            .limit(limit)
            .select(JobRow::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().map(JobRecord::from).collect())
    }
}
