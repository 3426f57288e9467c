//! The lifecycle's store: `IncidentStore` and `IncidentTransaction` on diesel, for both backends.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;
use incidents_core::events::{AuditEntry, EVENT_SCHEMA_VERSION, EventEnvelope};
use incidents_core::incident::{
    CategoryRef, CostInput, CostRecord, EnvironmentRef, ImpactLevelRef, IncidentChanges, IncidentId,
    IncidentState, KeyEventTypeRef, MetricTypeRef, NewIncident, PriorityRef, RoleTypeRef, TimelineEntry,
};
use incidents_core::lifecycle::DEDUP_CONSTRAINT;
use incidents_core::metrics::ComputedMetric;
use incidents_core::workflow::PostMortemState;
use incidents_core::{
    Amount, ClosureReason, ImpactLevelCode, IncidentStatus, IncidentStore, IncidentTransaction,
    LifecycleError, PostMortemRecords, RepositoryError, UserId,
};

use crate::connection::{Database, DbConnection, write_transaction};
use crate::error::repository_error;
use crate::schema::{
    audit_log, environments, impact_levels, impacts, incident_categories, incident_cost_types,
    incident_costs, incident_impacts, incident_memberships, incident_metrics, incident_role_types,
    incident_roles, incident_updates, incidents, key_event_types, metric_types, outbox_events, priorities,
    users,
};

/// Either the lifecycle refused, or the database failed: diesel's transaction needs one error type.
enum TxError {
    Lifecycle(LifecycleError),
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(error)
    }
}

impl From<TxError> for LifecycleError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Lifecycle(error) => error,
            TxError::Database(error) => Self::Storage(storage_error(error)),
        }
    }
}

impl IncidentStore for Database {
    fn write<T>(
        &self,
        work: &mut dyn FnMut(&mut dyn IncidentTransaction) -> Result<T, LifecycleError>,
    ) -> Result<T, LifecycleError> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            work(&mut DieselIncidentTransaction {
                conn,
                work: self.work(),
                inserted: Vec::new(),
                written: Default::default(),
            })
            .map_err(TxError::Lifecycle)
        })
        .map_err(LifecycleError::from)
    }

    fn read<T>(
        &self,
        work: &mut dyn FnMut(&mut dyn IncidentTransaction) -> Result<T, LifecycleError>,
    ) -> Result<T, LifecycleError> {
        let mut conn = self.connection()?;
        work(&mut DieselIncidentTransaction {
            conn: &mut conn,
            work: self.work(),
            inserted: Vec::new(),
            written: Default::default(),
        })
    }
}

/// The dedup index has a different error text on each backend; name it the same way for the domain.
fn storage_error(error: diesel::result::Error) -> RepositoryError {
    match repository_error(error) {
        RepositoryError::Conflict { constraint } if constraint.contains("dedup_key") => {
            RepositoryError::Conflict { constraint: DEDUP_CONSTRAINT.to_owned() }
        }
        other => other,
    }
}

struct DieselIncidentTransaction<'a> {
    conn: &'a mut DbConnection,
    /// The database's work signal: bumped at the commit when an event was appended.
    work: &'a std::sync::Arc<jobs::WorkSignal>,
    /// Incidents inserted by this transaction: they have no roles, key events or members yet, so
    /// setting one is a plain insert, without the probe for an existing row (three round trips less
    /// per declaration). Each (incident, kind, key) written once since is remembered, so a second write
    /// of the same row takes the probing path.
    inserted: Vec<i64>,
    written: std::collections::HashSet<(i64, &'static str, String)>,
}

impl DieselIncidentTransaction<'_> {
    /// Whether no row of `kind` with `key` can exist yet for the incident (and remember that one is
    /// about to be written).
    fn first_write(&mut self, id: IncidentId, kind: &'static str, key: String) -> bool {
        self.inserted.contains(&id.0) && self.written.insert((id.0, kind, key))
    }
}

type RepoResult<T> = Result<T, RepositoryError>;

fn user_id(text: &str) -> RepoResult<UserId> {
    text.parse().map(UserId).map_err(|_| RepositoryError::Internal(format!("not a user id: {text:?}")))
}

#[derive(Queryable)]
struct PriorityRow {
    id: String,
    name: String,
    value: i32,
    needs_postmortem: bool,
    enabled_create: bool,
    enabled_update: bool,
}

impl From<PriorityRow> for PriorityRef {
    fn from(row: PriorityRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            value: row.value,
            needs_postmortem: row.needs_postmortem,
            enabled_create: row.enabled_create,
            enabled_update: row.enabled_update,
        }
    }
}

type PriorityColumns = (
    priorities::id,
    priorities::name,
    priorities::value,
    priorities::needs_postmortem,
    priorities::enabled_create,
    priorities::enabled_update,
);
const PRIORITY_COLUMNS: PriorityColumns = (
    priorities::id,
    priorities::name,
    priorities::value,
    priorities::needs_postmortem,
    priorities::enabled_create,
    priorities::enabled_update,
);

#[derive(Queryable)]
struct CostRow {
    id: i64,
    incident_id: i64,
    cost_type_id: i64,
    cost_type_name: String,
    cents: Option<i64>,
    currency: String,
    details: Option<String>,
}

#[derive(Queryable)]
struct IncidentRow {
    id: i64,
    title: String,
    description: String,
    status: i32,
    category_id: String,
    created_by_id: String,
    created_at: NaiveDateTime,
    mitigated_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    closure_reason: Option<String>,
    closure_reference: String,
    dedup_key: Option<String>,
    ignored: bool,
    private: bool,
    version: i64,
    priority: PriorityRow,
    environment_id: String,
    environment_value: String,
}

impl DieselIncidentTransaction<'_> {
    fn load(&mut self, id: IncidentId) -> RepoResult<Option<IncidentState>> {
        let row: Option<IncidentRow> = incidents::table
            .inner_join(priorities::table)
            .inner_join(environments::table)
            .filter(incidents::id.eq(id.0))
            .select((
                incidents::id,
                incidents::title,
                incidents::description,
                incidents::status,
                incidents::incident_category_id,
                incidents::created_by_id,
                incidents::created_at,
                incidents::mitigated_at,
                incidents::closed_at,
                incidents::closure_reason,
                incidents::closure_reference,
                incidents::dedup_key,
                incidents::ignored,
                incidents::private,
                incidents::version,
                PRIORITY_COLUMNS,
                environments::id,
                environments::value,
            ))
            .first(self.conn)
            .optional()
            .map_err(storage_error)?;
        let Some(row) = row else { return Ok(None) };
        let status =
            IncidentStatus::from_value(row.status).map_err(|e| RepositoryError::Internal(e.to_string()))?;
        let closure_reason = row
            .closure_reason
            .as_deref()
            .map(ClosureReason::parse)
            .transpose()
            .map_err(|e| RepositoryError::Internal(e.to_string()))?;
        Ok(Some(IncidentState {
            id: IncidentId(row.id),
            title: row.title,
            description: row.description,
            status,
            priority: row.priority.into(),
            environment: EnvironmentRef { id: row.environment_id, value: row.environment_value },
            category_id: row.category_id,
            created_by: user_id(&row.created_by_id)?,
            created_at: row.created_at,
            mitigated_at: row.mitigated_at,
            closed_at: row.closed_at,
            closure_reason,
            closure_reference: row.closure_reference,
            dedup_key: row.dedup_key,
            ignored: row.ignored,
            private: row.private,
            version: row.version,
        }))
    }

    fn cost_record(&mut self, cost_id: i64) -> RepoResult<Option<CostRecord>> {
        let row: Option<CostRow> = incident_costs::table
            .inner_join(incident_cost_types::table)
            .filter(incident_costs::id.eq(cost_id))
            .select((
                incident_costs::id,
                incident_costs::incident_id,
                incident_costs::cost_type_id,
                incident_cost_types::name,
                incident_costs::amount_cents,
                incident_costs::currency,
                incident_costs::details,
            ))
            .first(self.conn)
            .optional()
            .map_err(storage_error)?;
        row.map(|CostRow { id, incident_id, cost_type_id, cost_type_name, cents, currency, details }| {
            Ok(CostRecord {
                id,
                incident_id: IncidentId(incident_id),
                cost_type_id,
                cost_type_name,
                amount: cents
                    .map(Amount::from_cents)
                    .transpose()
                    .map_err(|e| RepositoryError::Internal(e.to_string()))?,
                currency,
                details,
            })
        })
        .transpose()
    }
}

impl IncidentTransaction for DieselIncidentTransaction<'_> {
    fn priority(&mut self, id: &str) -> RepoResult<Option<PriorityRef>> {
        priorities::table
            .find(id)
            .select(PRIORITY_COLUMNS)
            .first::<PriorityRow>(self.conn)
            .optional()
            .map(|row| row.map(PriorityRef::from))
            .map_err(storage_error)
    }

    fn priority_by_value(&mut self, value: i32) -> RepoResult<Option<PriorityRef>> {
        priorities::table
            .filter(priorities::value.eq(value))
            .select(PRIORITY_COLUMNS)
            .first::<PriorityRow>(self.conn)
            .optional()
            .map(|row| row.map(PriorityRef::from))
            .map_err(storage_error)
    }

    fn environment(&mut self, id: &str) -> RepoResult<Option<EnvironmentRef>> {
        environments::table
            .find(id)
            .select((environments::id, environments::value))
            .first::<(String, String)>(self.conn)
            .optional()
            .map(|row| row.map(|(id, value)| EnvironmentRef { id, value }))
            .map_err(storage_error)
    }

    fn category(&mut self, id: &str) -> RepoResult<Option<CategoryRef>> {
        incident_categories::table
            .find(id)
            .select((incident_categories::id, incident_categories::private))
            .first::<(String, bool)>(self.conn)
            .optional()
            .map(|row| row.map(|(id, private)| CategoryRef { id, private }))
            .map_err(storage_error)
    }

    fn declaration_references(
        &mut self,
        priority: &str,
        category: &str,
        environment: &str,
    ) -> RepoResult<incidents_core::ports::DeclarationReferences> {
        // One row when the environment exists, the others joined on their ids (a round trip instead
        // of three on every declaration).
        type Row = (String, String, Option<(String, bool)>, Option<PriorityRow>);
        let row: Option<Row> = environments::table
            .filter(environments::id.eq(environment))
            .left_join(incident_categories::table.on(incident_categories::id.eq(category.to_owned())))
            .left_join(priorities::table.on(priorities::id.eq(priority.to_owned())))
            .select((
                environments::id,
                environments::value,
                (incident_categories::id, incident_categories::private).nullable(),
                PRIORITY_COLUMNS.nullable(),
            ))
            .first(self.conn)
            .optional()
            .map_err(storage_error)?;
        match row {
            Some((id, value, category, priority)) => Ok((
                priority.map(PriorityRef::from),
                category.map(|(id, private)| CategoryRef { id, private }),
                Some(EnvironmentRef { id, value }),
            )),
            None => Ok((self.priority(priority)?, self.category(category)?, None)),
        }
    }

    fn impact_levels(&mut self, ids: &[String]) -> RepoResult<Vec<ImpactLevelRef>> {
        let rows: Vec<(String, i64, String)> = impact_levels::table
            .filter(impact_levels::id.eq_any(ids))
            .select((impact_levels::id, impact_levels::impact_type_id, impact_levels::value))
            .load(self.conn)
            .map_err(storage_error)?;
        rows.into_iter()
            .map(|(id, impact_type_id, code)| {
                let code =
                    ImpactLevelCode::parse(&code).map_err(|e| RepositoryError::Internal(e.to_string()))?;
                Ok(ImpactLevelRef { id, impact_type_id, code })
            })
            .collect()
    }

    fn role_types(&mut self) -> RepoResult<Vec<RoleTypeRef>> {
        let rows: Vec<(i64, String, bool)> = incident_role_types::table
            .order((incident_role_types::sort_order, incident_role_types::id))
            .select((incident_role_types::id, incident_role_types::slug, incident_role_types::required))
            .load(self.conn)
            .map_err(storage_error)?;
        Ok(rows.into_iter().map(|(id, slug, required)| RoleTypeRef { id, slug, required }).collect())
    }

    fn key_event_types(&mut self) -> RepoResult<Vec<KeyEventTypeRef>> {
        let rows: Vec<(String, bool, bool)> = key_event_types::table
            .order(key_event_types::id)
            .select((key_event_types::event_type, key_event_types::user_editable, key_event_types::required))
            .load(self.conn)
            .map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|(event_type, user_editable, required)| KeyEventTypeRef {
                event_type,
                user_editable,
                required,
            })
            .collect())
    }

    fn metric_types(&mut self) -> RepoResult<Vec<MetricTypeRef>> {
        let (end, start) = diesel::alias!(key_event_types as end_event, key_event_types as start_event);
        let rows: Vec<(i64, String, String, String)> = metric_types::table
            .inner_join(end.on(end.field(key_event_types::id).eq(metric_types::end_event_type_id)))
            .inner_join(start.on(start.field(key_event_types::id).eq(metric_types::start_event_type_id)))
            .order(metric_types::id)
            .select((
                metric_types::id,
                metric_types::slug,
                end.field(key_event_types::event_type),
                start.field(key_event_types::event_type),
            ))
            .load(self.conn)
            .map_err(storage_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, slug, end_event, start_event)| MetricTypeRef { id, slug, end_event, start_event })
            .collect())
    }

    fn user_exists(&mut self, user: UserId) -> RepoResult<bool> {
        diesel::select(exists(users::table.find(user.to_string())))
            .get_result(self.conn)
            .map_err(storage_error)
    }

    fn user_by_email(&mut self, email: &incidents_core::Email) -> RepoResult<Option<UserId>> {
        let id: Option<String> = users::table
            .filter(users::email.eq(email.as_str()))
            .select(users::id)
            .first(self.conn)
            .optional()
            .map_err(storage_error)?;
        id.as_deref().map(user_id).transpose()
    }

    fn create_user(
        &mut self,
        user: &incidents_core::NewUser,
        permissions: &[incidents_core::access::Permission],
        now: NaiveDateTime,
    ) -> RepoResult<UserId> {
        let created = crate::users::insert_user(self.conn, user, now)?;
        crate::access::grant(self.conn, created.id, permissions).map_err(storage_error)?;
        Ok(created.id)
    }

    fn open_incident_with_dedup_key(&mut self, key: &str) -> RepoResult<Option<IncidentId>> {
        incidents::table
            .filter(incidents::dedup_key.eq(key))
            .filter(incidents::status.le(IncidentStatus::Mitigated.value()))
            .order((incidents::created_at, incidents::id))
            .select(incidents::id)
            .first::<i64>(self.conn)
            .optional()
            .map(|id| id.map(IncidentId))
            .map_err(storage_error)
    }

    fn insert_incident(&mut self, incident: &NewIncident, now: NaiveDateTime) -> RepoResult<IncidentId> {
        diesel::insert_into(incidents::table)
            .values((
                incidents::title.eq(&incident.title),
                incidents::description.eq(&incident.description),
                incidents::status.eq(IncidentStatus::Open.value()),
                incidents::priority_id.eq(&incident.priority_id),
                incidents::incident_category_id.eq(&incident.category_id),
                incidents::environment_id.eq(&incident.environment_id),
                incidents::created_by_id.eq(incident.created_by.to_string()),
                incidents::created_at.eq(now),
                incidents::updated_at.eq(now),
                incidents::custom_fields.eq(&incident.custom_fields),
                incidents::dedup_key.eq(&incident.dedup_key),
                incidents::ignored.eq(incident.ignored),
                incidents::private.eq(incident.private),
            ))
            .returning(incidents::id)
            .get_result::<i64>(self.conn)
            .map(|id| {
                self.inserted.push(id);
                IncidentId(id)
            })
            .map_err(storage_error)
    }

    fn lock_incident(&mut self, id: IncidentId) -> RepoResult<Option<IncidentState>> {
        // Bumping the version takes the row lock on PostgreSQL, which serialises writers of one
        // incident (SQLite: the transaction began with BEGIN IMMEDIATE and holds the write lock), and
        // tells read caches the incident changed. A refused change rolls the bump back.
        let locked = diesel::update(incidents::table.find(id.0))
            .set(incidents::version.eq(incidents::version + 1))
            .execute(&mut *self.conn)
            .map_err(storage_error)?;
        if locked == 0 {
            return Ok(None);
        }
        self.load(id)
    }

    fn load_incident(&mut self, id: IncidentId) -> RepoResult<Option<IncidentState>> {
        self.load(id)
    }

    fn update_incident(
        &mut self,
        id: IncidentId,
        changes: &IncidentChanges,
        now: NaiveDateTime,
    ) -> RepoResult<()> {
        #[derive(AsChangeset)]
        #[diesel(table_name = incidents)]
        struct Changes<'a> {
            status: Option<i32>,
            priority_id: Option<&'a str>,
            incident_category_id: Option<&'a str>,
            environment_id: Option<&'a str>,
            title: Option<&'a str>,
            description: Option<&'a str>,
            mitigated_at: Option<NaiveDateTime>,
            closed_at: Option<Option<NaiveDateTime>>,
            closure_reason: Option<Option<&'a str>>,
            closure_reference: Option<&'a str>,
            ignored: Option<bool>,
            updated_at: NaiveDateTime,
        }
        diesel::update(incidents::table.find(id.0))
            .set(Changes {
                status: changes.status.map(IncidentStatus::value),
                priority_id: changes.priority_id.as_deref(),
                incident_category_id: changes.category_id.as_deref(),
                environment_id: changes.environment_id.as_deref(),
                title: changes.title.as_deref(),
                description: changes.description.as_deref(),
                mitigated_at: changes.mitigated_at,
                closed_at: changes.closed_at,
                closure_reason: changes.closure_reason.map(|reason| reason.map(ClosureReason::as_str)),
                closure_reference: changes.closure_reference.as_deref(),
                ignored: changes.ignored,
                updated_at: now,
            })
            .execute(self.conn)
            .map(drop)
            .map_err(storage_error)
    }

    fn insert_timeline_entry(
        &mut self,
        id: IncidentId,
        entry: &TimelineEntry,
        author: Option<UserId>,
        event_ts: NaiveDateTime,
        now: NaiveDateTime,
    ) -> RepoResult<String> {
        let entry_id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(incident_updates::table)
            .values((
                incident_updates::id.eq(&entry_id),
                incident_updates::incident_id.eq(id.0),
                incident_updates::message.eq(&entry.message),
                incident_updates::status.eq(entry.status.map(IncidentStatus::value)),
                incident_updates::priority_id.eq(&entry.priority_id),
                incident_updates::environment_id.eq(&entry.environment_id),
                incident_updates::incident_category_id.eq(&entry.category_id),
                incident_updates::title.eq(&entry.title),
                incident_updates::description.eq(&entry.description),
                incident_updates::created_by_id.eq(author.map(|u| u.to_string())),
                incident_updates::commander_id.eq(entry.commander.map(|u| u.to_string())),
                incident_updates::communication_lead_id.eq(entry.communication_lead.map(|u| u.to_string())),
                incident_updates::event_type.eq(&entry.event_type),
                incident_updates::event_ts.eq(event_ts),
                incident_updates::created_at.eq(now),
                incident_updates::updated_at.eq(now),
            ))
            .execute(self.conn)
            .map_err(storage_error)?;
        Ok(entry_id)
    }

    fn key_events(&mut self, id: IncidentId) -> RepoResult<HashMap<String, NaiveDateTime>> {
        let rows: Vec<(Option<String>, NaiveDateTime)> = incident_updates::table
            .filter(incident_updates::incident_id.eq(id.0))
            .filter(
                incident_updates::event_type
                    .eq_any(key_event_types::table.select(key_event_types::event_type.nullable())),
            )
            .select((incident_updates::event_type, incident_updates::event_ts))
            .load(self.conn)
            .map_err(storage_error)?;
        let mut latest: HashMap<String, NaiveDateTime> = HashMap::new();
        for (event_type, ts) in rows {
            if let Some(event_type) = event_type {
                let slot = latest.entry(event_type).or_insert(ts);
                *slot = (*slot).max(ts);
            }
        }
        Ok(latest)
    }

    fn set_key_event(
        &mut self,
        id: IncidentId,
        event_type: &str,
        at: NaiveDateTime,
        author: Option<UserId>,
        now: NaiveDateTime,
    ) -> RepoResult<()> {
        let author = author.map(|u| u.to_string());
        let moved = if self.first_write(id, "key_event", event_type.to_owned()) {
            0
        } else {
            diesel::update(
                incident_updates::table
                    .filter(incident_updates::incident_id.eq(id.0))
                    .filter(incident_updates::event_type.eq(event_type)),
            )
            .set((
                incident_updates::event_ts.eq(at),
                incident_updates::created_by_id.eq(&author),
                incident_updates::updated_at.eq(now),
            ))
            .execute(self.conn)
            .map_err(storage_error)?
        };
        if moved == 0 {
            diesel::insert_into(incident_updates::table)
                .values((
                    incident_updates::id.eq(uuid::Uuid::now_v7().to_string()),
                    incident_updates::incident_id.eq(id.0),
                    incident_updates::created_by_id.eq(&author),
                    incident_updates::event_type.eq(event_type),
                    incident_updates::event_ts.eq(at),
                    incident_updates::created_at.eq(now),
                    incident_updates::updated_at.eq(now),
                ))
                .execute(self.conn)
                .map_err(storage_error)?;
        }
        Ok(())
    }

    fn clear_key_event(&mut self, id: IncidentId, event_type: &str) -> RepoResult<()> {
        diesel::delete(
            incident_updates::table
                .filter(incident_updates::incident_id.eq(id.0))
                .filter(incident_updates::event_type.eq(event_type)),
        )
        .execute(self.conn)
        .map(drop)
        .map_err(storage_error)
    }

    fn replace_metrics(
        &mut self,
        id: IncidentId,
        metrics: &[ComputedMetric],
        now: NaiveDateTime,
    ) -> RepoResult<()> {
        diesel::delete(incident_metrics::table.filter(incident_metrics::incident_id.eq(id.0)))
            .execute(self.conn)
            .map_err(storage_error)?;
        for metric in metrics {
            diesel::insert_into(incident_metrics::table)
                .values((
                    incident_metrics::incident_id.eq(id.0),
                    incident_metrics::metric_type_id.eq(metric.metric_type_id),
                    incident_metrics::duration_micros.eq(metric.duration_micros),
                    incident_metrics::created_at.eq(now),
                    incident_metrics::updated_at.eq(now),
                ))
                .execute(self.conn)
                .map_err(storage_error)?;
        }
        Ok(())
    }

    fn roles(&mut self, id: IncidentId) -> RepoResult<Vec<(i64, UserId)>> {
        let rows: Vec<(i64, String)> = incident_roles::table
            .filter(incident_roles::incident_id.eq(id.0))
            .select((incident_roles::role_type_id, incident_roles::user_id))
            .load(self.conn)
            .map_err(storage_error)?;
        rows.into_iter().map(|(role, user)| Ok((role, user_id(&user)?))).collect()
    }

    fn set_role(
        &mut self,
        id: IncidentId,
        role_type_id: i64,
        user: UserId,
        now: NaiveDateTime,
    ) -> RepoResult<()> {
        let replaced = if self.first_write(id, "role", role_type_id.to_string()) {
            0
        } else {
            diesel::update(
                incident_roles::table
                    .filter(incident_roles::incident_id.eq(id.0))
                    .filter(incident_roles::role_type_id.eq(role_type_id)),
            )
            .set((incident_roles::user_id.eq(user.to_string()), incident_roles::updated_at.eq(now)))
            .execute(self.conn)
            .map_err(storage_error)?
        };
        if replaced == 0 {
            diesel::insert_into(incident_roles::table)
                .values((
                    incident_roles::incident_id.eq(id.0),
                    incident_roles::role_type_id.eq(role_type_id),
                    incident_roles::user_id.eq(user.to_string()),
                    incident_roles::created_at.eq(now),
                    incident_roles::updated_at.eq(now),
                ))
                .execute(self.conn)
                .map_err(storage_error)?;
        }
        Ok(())
    }

    fn remove_role(&mut self, id: IncidentId, role_type_id: i64) -> RepoResult<()> {
        diesel::delete(
            incident_roles::table
                .filter(incident_roles::incident_id.eq(id.0))
                .filter(incident_roles::role_type_id.eq(role_type_id)),
        )
        .execute(self.conn)
        .map(drop)
        .map_err(storage_error)
    }

    fn add_member(&mut self, id: IncidentId, user: UserId, now: NaiveDateTime) -> RepoResult<()> {
        let member = incident_memberships::table
            .filter(incident_memberships::incident_id.eq(id.0))
            .filter(incident_memberships::user_id.eq(user.to_string()));
        if !self.first_write(id, "member", user.to_string())
            && diesel::select(exists(member)).get_result::<bool>(self.conn).map_err(storage_error)?
        {
            return Ok(());
        }
        diesel::insert_into(incident_memberships::table)
            .values((
                incident_memberships::incident_id.eq(id.0),
                incident_memberships::user_id.eq(user.to_string()),
                incident_memberships::created_at.eq(now),
            ))
            .execute(self.conn)
            .map(drop)
            .map_err(storage_error)
    }

    fn is_member(&mut self, id: IncidentId, user: UserId) -> RepoResult<bool> {
        let member = incident_memberships::table
            .filter(incident_memberships::incident_id.eq(id.0))
            .filter(incident_memberships::user_id.eq(user.to_string()));
        diesel::select(exists(member)).get_result::<bool>(self.conn).map_err(storage_error)
    }

    fn remove_member(&mut self, id: IncidentId, user: UserId) -> RepoResult<bool> {
        let removed = diesel::delete(
            incident_memberships::table
                .filter(incident_memberships::incident_id.eq(id.0))
                .filter(incident_memberships::user_id.eq(user.to_string())),
        )
        .execute(self.conn)
        .map_err(storage_error)?;
        Ok(removed > 0)
    }

    fn link_impact(&mut self, id: IncidentId, level: &ImpactLevelRef, now: NaiveDateTime) -> RepoResult<()> {
        let impact_id: i64 = diesel::insert_into(impacts::table)
            .values((
                impacts::impact_type_id.eq(level.impact_type_id),
                impacts::impact_level_id.eq(&level.id),
                impacts::created_at.eq(now),
                impacts::updated_at.eq(now),
            ))
            .returning(impacts::id)
            .get_result(self.conn)
            .map_err(storage_error)?;
        diesel::insert_into(incident_impacts::table)
            .values((incident_impacts::incident_id.eq(id.0), incident_impacts::impact_id.eq(impact_id)))
            .execute(self.conn)
            .map(drop)
            .map_err(storage_error)
    }

    fn insert_cost(
        &mut self,
        id: IncidentId,
        cost: &CostInput,
        now: NaiveDateTime,
    ) -> RepoResult<CostRecord> {
        let cost_id: i64 = diesel::insert_into(incident_costs::table)
            .values((
                incident_costs::incident_id.eq(id.0),
                incident_costs::cost_type_id.eq(cost.cost_type_id),
                incident_costs::amount_cents.eq(cost.amount.map(Amount::cents)),
                incident_costs::currency.eq(cost.currency.as_deref().unwrap_or("EUR")),
                incident_costs::details.eq(&cost.details),
                incident_costs::created_at.eq(now),
                incident_costs::updated_at.eq(now),
            ))
            .returning(incident_costs::id)
            .get_result(self.conn)
            .map_err(storage_error)?;
        self.cost_record(cost_id)?
            .ok_or_else(|| RepositoryError::Internal("inserted cost vanished".to_owned()))
    }

    fn cost(&mut self, id: IncidentId, cost_id: i64) -> RepoResult<Option<CostRecord>> {
        Ok(self.cost_record(cost_id)?.filter(|cost| cost.incident_id == id))
    }

    fn update_cost(&mut self, cost_id: i64, cost: &CostInput, now: NaiveDateTime) -> RepoResult<CostRecord> {
        diesel::update(incident_costs::table.find(cost_id))
            .set((
                incident_costs::cost_type_id.eq(cost.cost_type_id),
                incident_costs::amount_cents.eq(cost.amount.map(Amount::cents)),
                incident_costs::currency.eq(cost.currency.as_deref().unwrap_or("EUR")),
                incident_costs::details.eq(&cost.details),
                incident_costs::updated_at.eq(now),
            ))
            .execute(self.conn)
            .map_err(storage_error)?;
        self.cost_record(cost_id)?.ok_or_else(|| RepositoryError::NotFound(format!("cost {cost_id}")))
    }

    fn delete_cost(&mut self, cost_id: i64) -> RepoResult<()> {
        diesel::delete(incident_costs::table.find(cost_id))
            .execute(self.conn)
            .map(drop)
            .map_err(storage_error)
    }

    fn append_audit(&mut self, entry: &AuditEntry, now: NaiveDateTime) -> RepoResult<()> {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::occurred_at.eq(now),
                audit_log::actor_user_id.eq(entry.actor.user.to_string()),
                audit_log::entry_point.eq(entry.actor.entry_point.as_str()),
                audit_log::action.eq(entry.action),
                audit_log::object_type.eq(entry.object_type),
                audit_log::object_id.eq(&entry.object_id),
                audit_log::incident_id.eq(entry.incident_id.map(|id| id.0)),
                audit_log::details.eq(entry.details.to_string()),
            ))
            .execute(self.conn)
            .map(drop)
            .map_err(storage_error)
    }

    fn postmortem_state(&mut self, id: IncidentId) -> RepoResult<PostMortemState> {
        use crate::schema::incident_postmortems as pm;
        let row: Option<(String, String, String)> = pm::table
            .find(id.0)
            .select((pm::state, pm::reference, pm::detail))
            .first(self.conn)
            .optional()
            .map_err(storage_error)?;
        Ok(match row {
            None => PostMortemState::NotLinked,
            Some((state, reference, detail)) => match state.as_str() {
                "ready" => PostMortemState::Ready { key: reference },
                "not_ready" => PostMortemState::NotReady { key: reference, status: detail },
                "unknown" => PostMortemState::Unknown { error: detail },
                _ => PostMortemState::NotLinked,
            },
        })
    }

    fn append_event(&mut self, envelope: &EventEnvelope, now: NaiveDateTime) -> RepoResult<()> {
        diesel::insert_into(outbox_events::table)
            .values((
                outbox_events::event_id.eq(uuid::Uuid::now_v7().to_string()),
                outbox_events::event_type.eq(envelope.event.event_type().as_str()),
                outbox_events::incident_id.eq(Some(envelope.incident_id.0)),
                outbox_events::payload.eq(envelope.event.payload().to_string()),
                outbox_events::occurred_at.eq(now),
                outbox_events::actor_user_id.eq(Some(envelope.actor.user.to_string())),
                outbox_events::entry_point.eq(Some(envelope.actor.entry_point.as_str())),
                outbox_events::incident_version.eq(Some(envelope.incident_version)),
                outbox_events::schema_version.eq(EVENT_SCHEMA_VERSION),
            ))
            .execute(self.conn)
            .map_err(storage_error)?;
        crate::work_signal::wrote(self.work);
        Ok(())
    }
}

impl PostMortemRecords for Database {
    fn record_postmortem_state(
        &self,
        id: IncidentId,
        state: &PostMortemState,
        now: NaiveDateTime,
    ) -> RepoResult<()> {
        use crate::schema::incident_postmortems as pm;
        let (name, reference, detail) = match state {
            PostMortemState::NotLinked => ("not_linked", "", ""),
            PostMortemState::Ready { key } => ("ready", key.as_str(), ""),
            PostMortemState::NotReady { key, status } => ("not_ready", key.as_str(), status.as_str()),
            PostMortemState::Unknown { error } => ("unknown", "", error.as_str()),
        };
        // Bounded like the columns: a backend's long error must not make the record fail.
        let reference: String = reference.chars().take(255).collect();
        let detail: String = detail.chars().take(1000).collect();
        let mut conn = self.connection()?;
        let values = (
            pm::incident_id.eq(id.0),
            pm::state.eq(name),
            pm::reference.eq(&reference),
            pm::detail.eq(&detail),
            pm::updated_at.eq(now),
        );
        let changes = (
            pm::state.eq(name),
            pm::reference.eq(&reference),
            pm::detail.eq(&detail),
            pm::updated_at.eq(now),
        );
        // An upsert: both dialects spell it alike, but diesel builds it per backend.
        let upsert = diesel::insert_into(pm::table)
            .values(values)
            .on_conflict(pm::incident_id)
            .do_update()
            .set(changes);
        match &mut *conn {
            DbConnection::Postgres(pg) => upsert.execute(pg),
            DbConnection::Sqlite(sqlite) => upsert.execute(sqlite),
        }
        .map(drop)
        .map_err(repository_error)
    }
}
