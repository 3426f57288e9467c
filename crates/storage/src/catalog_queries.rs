//! The smaller read models: cost types and costs, users, and the vocabularies (role, key-event,
//! metric and impact types).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::query::{
    CostTypeView, ImpactLevelView, ImpactTypeView, IncidentCostView, KeyEventTypeView, MetricTypeView, Page,
    PageRequest, RoleTypeView, UserView,
};
use incidents_core::{Amount, IncidentId, RepositoryError, UserId};

use crate::connection::{Database, DbConnection};
use crate::error::repository_error;
use crate::schema::{
    impact_levels, impact_types, incident_cost_types, incident_costs, incident_role_types, key_event_types,
    metric_types, users,
};

type QueryResult<T> = Result<T, RepositoryError>;

#[derive(Queryable, Selectable)]
#[diesel(table_name = incident_cost_types)]
struct CostTypeColumns {
    id: i64,
    name: String,
    description: Option<String>,
    category: Option<String>,
    is_default: bool,
    editable: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<CostTypeColumns> for CostTypeView {
    fn from(row: CostTypeColumns) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            category: row.category,
            default: row.is_default,
            editable: row.editable,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = incident_costs)]
struct CostColumns {
    id: i64,
    incident_id: i64,
    amount_cents: Option<i64>,
    currency: String,
    details: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable)]
struct RoleTypeRow {
    id: i64,
    slug: String,
    name: String,
    emoji: String,
    required: bool,
    order: i32,
    summary: String,
    description: String,
    aka: String,
}

#[derive(Queryable)]
struct KeyEventTypeRow {
    id: i64,
    event_type: String,
    name: String,
    summary: String,
    description: Option<String>,
    user_editable: bool,
    required: bool,
    asked_for: bool,
}

#[derive(Queryable)]
struct ImpactLevelRow {
    impact_type_id: i64,
    id: String,
    value: String,
    name: Option<String>,
    emoji: String,
    order: i32,
    description: Option<String>,
}

pub(crate) fn limit_offset(page: PageRequest) -> (i64, i64) {
    (i64::from(page.limit) + 1, i64::try_from(page.offset).unwrap_or(i64::MAX))
}

pub(crate) fn paged<T>(mut items: Vec<T>, page: PageRequest, total: Option<u64>) -> Page<T> {
    let has_more = items.len() > page.limit as usize;
    items.truncate(page.limit as usize);
    Page { items, has_more, total }
}

pub(crate) fn count(
    conn: &mut DbConnection,
    page: PageRequest,
    query: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<i64>,
) -> QueryResult<Option<u64>> {
    if !page.with_total {
        return Ok(None);
    }
    query(conn).map(|n| Some(u64::try_from(n).unwrap_or_default())).map_err(repository_error)
}

impl Database {
    /// Cost types, by name.
    pub(crate) fn load_cost_types(&self) -> QueryResult<Vec<CostTypeView>> {
        let mut conn = self.connection()?;
        let rows: Vec<CostTypeColumns> = incident_cost_types::table
            .order(incident_cost_types::name)
            .select(CostTypeColumns::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().map(CostTypeView::from).collect())
    }

    /// Costs, newest first; only cost `only` when given.
    pub(crate) fn load_incident_costs(
        &self,
        page: PageRequest,
        only: Option<i64>,
    ) -> QueryResult<Page<IncidentCostView>> {
        let mut conn = self.connection()?;
        let total = count(&mut conn, page, |c| incident_costs::table.count().get_result(c))?;
        let (limit, offset) = limit_offset(page);
        let mut query = incident_costs::table.inner_join(incident_cost_types::table).into_boxed();
        if let Some(id) = only {
            query = query.filter(incident_costs::id.eq(id));
        }
        let rows: Vec<(CostColumns, CostTypeColumns)> = query
            .order(incident_costs::id.desc())
            .limit(limit)
            .offset(offset)
            .select((CostColumns::as_select(), CostTypeColumns::as_select()))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let items = rows
            .into_iter()
            .map(|(cost, cost_type)| {
                Ok(IncidentCostView {
                    id: cost.id,
                    incident: IncidentId(cost.incident_id),
                    cost_type: cost_type.into(),
                    amount: cost
                        .amount_cents
                        .map(Amount::from_cents)
                        .transpose()
                        .map_err(|e| RepositoryError::Internal(e.to_string()))?,
                    currency: cost.currency,
                    details: cost.details,
                    created_at: cost.created_at,
                    updated_at: cost.updated_at,
                })
            })
            .collect::<QueryResult<Vec<_>>>()?;
        Ok(paged(items, page, total))
    }

    pub(crate) fn load_users(&self, page: PageRequest) -> QueryResult<Page<UserView>> {
        let mut conn = self.connection()?;
        let total = count(&mut conn, page, |c| users::table.count().get_result(c))?;
        let (limit, offset) = limit_offset(page);
        let rows: Vec<(String, String, String, String)> = users::table
            .order((users::username, users::id))
            .limit(limit)
            .offset(offset)
            .select((users::id, users::username, users::name, users::email))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let items = rows
            .into_iter()
            .map(|(id, username, name, email)| {
                let id = id
                    .parse()
                    .map(UserId)
                    .map_err(|_| RepositoryError::Internal(format!("not a user id: {id:?}")))?;
                let name = if name.is_empty() { username.clone() } else { name };
                Ok(UserView { id, username, name, email })
            })
            .collect::<QueryResult<Vec<_>>>()?;
        Ok(paged(items, page, total))
    }

    pub(crate) fn load_role_types(&self) -> QueryResult<Vec<RoleTypeView>> {
        let mut conn = self.connection()?;
        let rows: Vec<RoleTypeRow> = incident_role_types::table
            .order((incident_role_types::sort_order, incident_role_types::id))
            .select((
                incident_role_types::id,
                incident_role_types::slug,
                incident_role_types::name,
                incident_role_types::emoji,
                incident_role_types::required,
                incident_role_types::sort_order,
                incident_role_types::summary,
                incident_role_types::description,
                incident_role_types::aka,
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows
            .into_iter()
            .map(|RoleTypeRow { id, slug, name, emoji, required, order, summary, description, aka }| {
                RoleTypeView { id, slug, name, emoji, required, order, summary, description, aka }
            })
            .collect())
    }

    pub(crate) fn load_key_event_types(&self) -> QueryResult<Vec<KeyEventTypeView>> {
        let mut conn = self.connection()?;
        let rows: Vec<KeyEventTypeRow> = key_event_types::table
            .order(key_event_types::id)
            .select((
                key_event_types::id,
                key_event_types::event_type,
                key_event_types::name,
                key_event_types::summary,
                key_event_types::description,
                key_event_types::user_editable,
                key_event_types::required,
                key_event_types::asked_for,
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows
            .into_iter()
            .map(
                |KeyEventTypeRow {
                     id,
                     event_type,
                     name,
                     summary,
                     description,
                     user_editable,
                     required,
                     asked_for,
                 }| {
                    KeyEventTypeView {
                        id,
                        event_type,
                        name,
                        summary,
                        description,
                        user_editable,
                        required,
                        asked_for,
                    }
                },
            )
            .collect())
    }

    pub(crate) fn load_metric_types(&self) -> QueryResult<Vec<MetricTypeView>> {
        let mut conn = self.connection()?;
        let (end, start) = diesel::alias!(key_event_types as end_event, key_event_types as start_event);
        let rows: Vec<(i64, String, String, String, String, String, String)> = metric_types::table
            .inner_join(end.on(end.field(key_event_types::id).eq(metric_types::end_event_type_id)))
            .inner_join(start.on(start.field(key_event_types::id).eq(metric_types::start_event_type_id)))
            .order(metric_types::id)
            .select((
                metric_types::id,
                metric_types::code,
                metric_types::slug,
                metric_types::name,
                metric_types::description,
                end.field(key_event_types::event_type),
                start.field(key_event_types::event_type),
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, code, slug, name, description, milestone_lhs, milestone_rhs)| MetricTypeView {
                id,
                code,
                slug,
                name,
                description,
                milestone_lhs,
                milestone_rhs,
            })
            .collect())
    }

    pub(crate) fn load_impact_types(&self) -> QueryResult<Vec<ImpactTypeView>> {
        let mut conn = self.connection()?;
        let types: Vec<(i64, String, String, String, String, i32)> = impact_types::table
            .order((impact_types::sort_order, impact_types::id))
            .select((
                impact_types::id,
                impact_types::value,
                impact_types::name,
                impact_types::emoji,
                impact_types::help_text,
                impact_types::sort_order,
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let levels: Vec<ImpactLevelRow> = impact_levels::table
            .order(impact_levels::sort_order.desc())
            .select((
                impact_levels::impact_type_id,
                impact_levels::id,
                impact_levels::value,
                impact_levels::name,
                impact_levels::emoji,
                impact_levels::sort_order,
                impact_levels::description,
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let mut by_type: HashMap<i64, Vec<ImpactLevelView>> = HashMap::new();
        for ImpactLevelRow { impact_type_id, id, value, name, emoji, order, description } in levels {
            by_type.entry(impact_type_id).or_default().push(ImpactLevelView {
                id,
                value,
                name,
                emoji,
                order,
                description,
            });
        }
        Ok(types
            .into_iter()
            .map(|(id, value, name, emoji, help_text, order)| ImpactTypeView {
                levels: by_type.remove(&id).unwrap_or_default(),
                id,
                value,
                name,
                emoji,
                help_text,
                order,
            })
            .collect())
    }
}
