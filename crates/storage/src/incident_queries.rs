//! The read side: incidents with their relations, filtered, ordered and paged, on both backends.
//!
//! A page is read in two steps: the ids matching the filter in the requested order (one query over
//! the joined tables, so every filter and sort can use an index), then the rows and their relations
//! for just those ids (a handful of `IN (…)` queries, never one per incident).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};
use incidents_core::query::{
    CategoryView, CostView, EnvironmentView, GroupView, IncidentFilter, IncidentKey, IncidentQueries,
    IncidentView, MetricView, OrderBy, OrderField, Page, PageRequest, PriorityView, RoleView, TimelineView,
    UserView,
};
use incidents_core::statistics::{
    AGE_BUCKETS, CategoryDowntime, PriorityLabel, StatisticsCounts, TTR_BUCKETS,
};
use incidents_core::{Amount, ClosureReason, IncidentId, IncidentStatus, RepositoryError, UserId};

use crate::connection::{Backend, Database, DbConnection};
use crate::error::repository_error;
use crate::escape_like;
use crate::schema::{
    category_groups, environments, incident_categories, incident_memberships, incident_metrics,
    incident_roles, incident_updates, incidents, metric_types, priorities, users,
};

type QueryResult<T> = Result<T, RepositoryError>;

fn internal(message: impl Into<String>) -> RepositoryError {
    RepositoryError::Internal(message.into())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = incidents)]
struct IncidentColumns {
    id: i64,
    title: String,
    description: String,
    status: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    mitigated_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    closure_reason: Option<String>,
    closure_reference: String,
    dedup_key: Option<String>,
    ignored: bool,
    private: bool,
    custom_fields: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = priorities)]
struct PriorityColumns {
    id: String,
    name: String,
    value: i32,
    emoji: String,
    description: String,
    sort_order: i32,
    is_default: bool,
    needs_postmortem: bool,
    enabled_create: bool,
    enabled_update: bool,
    reminder_time_seconds: i64,
    sla_seconds: i64,
    recommended_response_type: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = environments)]
struct EnvironmentColumns {
    id: String,
    value: String,
    name: String,
    description: String,
    sort_order: i32,
    is_default: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = incident_categories)]
struct CategoryColumns {
    id: String,
    name: String,
    description: String,
    sort_order: i32,
    private: bool,
    deploy_warning: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = category_groups)]
struct GroupColumns {
    id: String,
    name: String,
    description: String,
    sort_order: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserColumns {
    id: String,
    username: String,
    name: String,
    email: String,
}

impl TryFrom<UserColumns> for UserView {
    type Error = RepositoryError;

    fn try_from(user: UserColumns) -> QueryResult<Self> {
        let id =
            user.id.parse().map(UserId).map_err(|_| internal(format!("not a user id: {:?}", user.id)))?;
        let name = if user.name.is_empty() { user.username.clone() } else { user.name };
        Ok(Self { id, username: user.username, name, email: user.email })
    }
}

/// An incident row with the ids of its reference rows, which are looked up separately: a join of
/// six tables costs PostgreSQL more to plan than to run.
type IncidentRow = (IncidentColumns, UserColumns, String, String, String);

/// The small reference tables an incident points to, read whole once per request.
struct References {
    priorities: HashMap<String, PriorityView>,
    environments: HashMap<String, EnvironmentView>,
    categories: HashMap<String, CategoryView>,
}

impl References {
    fn load(conn: &mut DbConnection) -> QueryResult<Self> {
        let priorities: Vec<PriorityColumns> =
            priorities::table.select(PriorityColumns::as_select()).load(conn).map_err(repository_error)?;
        let environments: Vec<EnvironmentColumns> = environments::table
            .select(EnvironmentColumns::as_select())
            .load(conn)
            .map_err(repository_error)?;
        let categories: Vec<(CategoryColumns, GroupColumns)> = incident_categories::table
            .inner_join(category_groups::table)
            .select((CategoryColumns::as_select(), GroupColumns::as_select()))
            .load(conn)
            .map_err(repository_error)?;
        Ok(Self {
            priorities: priorities.into_iter().map(|p| (p.id.clone(), priority_view(p))).collect(),
            environments: environments.into_iter().map(|e| (e.id.clone(), environment_view(e))).collect(),
            categories: categories.into_iter().map(|(c, g)| (c.id.clone(), category_view(c, g))).collect(),
        })
    }
}

fn priority_view(priority: PriorityColumns) -> PriorityView {
    PriorityView {
        id: priority.id,
        name: priority.name,
        value: priority.value,
        emoji: priority.emoji,
        description: priority.description,
        order: priority.sort_order,
        default: priority.is_default,
        needs_postmortem: priority.needs_postmortem,
        enabled_create: priority.enabled_create,
        enabled_update: priority.enabled_update,
        reminder_time_seconds: priority.reminder_time_seconds,
        sla_seconds: priority.sla_seconds,
        recommended_response_type: priority.recommended_response_type,
        created_at: priority.created_at,
        updated_at: priority.updated_at,
    }
}

fn environment_view(environment: EnvironmentColumns) -> EnvironmentView {
    EnvironmentView {
        id: environment.id,
        value: environment.value,
        name: environment.name,
        description: environment.description,
        order: environment.sort_order,
        default: environment.is_default,
    }
}

fn category_view(category: CategoryColumns, group: GroupColumns) -> CategoryView {
    CategoryView {
        id: category.id,
        name: category.name,
        description: category.description,
        order: category.sort_order,
        private: category.private,
        deploy_warning: category.deploy_warning,
        group: group_view(group),
        created_at: category.created_at,
        updated_at: category.updated_at,
    }
}

fn group_view(group: GroupColumns) -> GroupView {
    GroupView {
        id: group.id,
        name: group.name,
        description: group.description,
        order: group.sort_order,
        created_at: group.created_at,
        updated_at: group.updated_at,
    }
}

fn view(row: IncidentRow, references: &References) -> QueryResult<IncidentView> {
    let (incident, user, priority_id, environment_id, category_id) = row;
    let missing =
        |what: &str, id: &str| internal(format!("incident #{} points to a missing {what} {id}", incident.id));
    Ok(IncidentView {
        id: IncidentId(incident.id),
        version: 0,
        title: incident.title,
        description: incident.description,
        status: IncidentStatus::from_value(incident.status).map_err(|e| internal(e.to_string()))?,
        created_at: incident.created_at,
        updated_at: incident.updated_at,
        mitigated_at: incident.mitigated_at,
        closed_at: incident.closed_at,
        closure_reason: incident
            .closure_reason
            .as_deref()
            .map(ClosureReason::parse)
            .transpose()
            .map_err(|e| internal(e.to_string()))?,
        closure_reference: incident.closure_reference,
        dedup_key: incident.dedup_key,
        ignored: incident.ignored,
        private: incident.private,
        custom_fields: serde_json::from_str(&incident.custom_fields)
            .unwrap_or_else(|_| serde_json::json!({})),
        environment: references
            .environments
            .get(&environment_id)
            .cloned()
            .ok_or_else(|| missing("environment", &environment_id))?,
        priority: references
            .priorities
            .get(&priority_id)
            .cloned()
            .ok_or_else(|| missing("priority", &priority_id))?,
        category: references
            .categories
            .get(&category_id)
            .cloned()
            .ok_or_else(|| missing("category", &category_id))?,
        created_by: UserView::try_from(user)?,
        roles: Vec::new(),
        metrics: Vec::new(),
        costs: Vec::new(),
        tags: Vec::new(),
    })
}

/// How long the reference tables are kept in memory. They change rarely (an operator's edit); a row the
/// cache does not know is read at once, so only an edit to an existing row shows late, by at most this.
const REFERENCE_TTL: Duration = Duration::from_secs(5);

/// How long counts stamped with the newest outbox event are reused at most (see [`CountCache`]).
pub(crate) const COUNTS_FOR: Duration = Duration::from_secs(5);
/// Viewers whose counts are kept (past it, the cache starts again empty).
const COUNTS_KEPT: usize = 1024;

/// Results computed from many incidents, each kept with the id of the newest outbox event when it was
/// computed. Every change to an incident appends an outbox event in its transaction, so while that id
/// has not moved (one primary-key lookup) the result still holds; it is used at most `ttl`, which
/// bounds the one case the id cannot see (on PostgreSQL a transaction holding a smaller id committing
/// after the computation) and how far a result that depends on the clock (an incident's age) drifts.
#[derive(Debug)]
pub(crate) struct StampedCache<K, V> {
    entries: std::sync::Mutex<HashMap<K, Stamped<V>>>,
    ttl: Duration,
}

/// When a value was computed, the newest outbox event then, the value.
type Stamped<V> = (Instant, Option<i64>, V);

impl<K: std::hash::Hash + Eq, V: Clone> StampedCache<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { entries: std::sync::Mutex::new(HashMap::new()), ttl }
    }

    fn get(&self, key: &K, stamp: Option<i64>) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (at, at_stamp, value) = entries.get(key)?;
        (*at_stamp == stamp && at.elapsed() < self.ttl).then(|| value.clone())
    }

    fn put(&self, key: K, stamp: Option<i64>, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= COUNTS_KEPT {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), stamp, value));
        }
    }
}

/// The open incidents counted per status for each viewer (the dashboard's home), reused for
/// [`COUNTS_FOR`].
pub(crate) type CountCache = StampedCache<CountKey, Vec<(IncidentStatus, i64)>>;

/// Whose counts (`None`: staff, who see everything), of which statuses.
type CountKey = (Option<String>, Vec<i32>);

/// How long statistics (per filter) and category downtimes (per period) are reused at most while no
/// incident changes: their scans of the whole history cost a hundred milliseconds and more at
/// 100,000 incidents; ages in the statistics drift by at most this.
pub(crate) const REPORTS_FOR: Duration = Duration::from_secs(30);

/// Statistics per filter (its `Debug` form, which holds every criterion and the viewer).
pub(crate) type StatisticsCache = StampedCache<String, StatisticsCounts>;

/// Category downtimes per period.
pub(crate) type DowntimeCache = StampedCache<(NaiveDateTime, NaiveDateTime), Vec<CategoryDowntime>>;

/// The id of the newest outbox event: what a [`StampedCache`] entry is checked against.
fn outbox_stamp(conn: &mut DbConnection) -> QueryResult<Option<i64>> {
    crate::schema::outbox_events::table
        .select(diesel::dsl::max(crate::schema::outbox_events::id))
        .first(conn)
        .map_err(repository_error)
}

/// The reference tables as last read, shared by every connection of a [`Database`]: reading three
/// tables on every request cost more than the incident itself.
#[derive(Default)]
pub(crate) struct ReferenceCache {
    current: RwLock<Option<(Instant, Arc<References>)>>,
}

impl std::fmt::Debug for ReferenceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceCache").finish_non_exhaustive()
    }
}

impl ReferenceCache {
    /// The cached references when fresh and `covers` accepts them, else freshly read ones.
    fn get(
        &self,
        conn: &mut DbConnection,
        covers: impl Fn(&References) -> bool,
    ) -> QueryResult<Arc<References>> {
        let cached = self.current.read().ok().and_then(|current| current.clone());
        if let Some((read_at, references)) = cached
            && read_at.elapsed() < REFERENCE_TTL
            && covers(&references)
        {
            return Ok(references);
        }
        let fresh = Arc::new(References::load(conn)?);
        if let Ok(mut current) = self.current.write() {
            *current = Some((Instant::now(), Arc::clone(&fresh)));
        }
        Ok(fresh)
    }

    /// Forgets the cached tables (after this process changed them).
    pub(crate) fn invalidate(&self) {
        if let Ok(mut current) = self.current.write() {
            *current = None;
        }
    }
}

/// An incident with its creator, the ids of its reference rows (resolved through the
/// [`ReferenceCache`]), and its roles, metrics, costs and tags aggregated as JSON arrays: one statement
/// per page instead of one per relation, which is what the API's throughput depends on.
#[derive(QueryableByName)]
struct ViewRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    description: String,
    #[diesel(sql_type = Integer)]
    status: i32,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    updated_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    mitigated_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    closed_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Text>)]
    closure_reason: Option<String>,
    #[diesel(sql_type = Text)]
    closure_reference: String,
    #[diesel(sql_type = Nullable<Text>)]
    dedup_key: Option<String>,
    #[diesel(sql_type = Bool)]
    ignored: bool,
    #[diesel(sql_type = Bool)]
    private: bool,
    #[diesel(sql_type = Text)]
    custom_fields: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    priority_id: String,
    #[diesel(sql_type = Text)]
    environment_id: String,
    #[diesel(sql_type = Text)]
    incident_category_id: String,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    user_username: String,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = Text)]
    user_email: String,
    /// `[[slug, name, user id, username, name, email], …]` by role order.
    #[diesel(sql_type = Text)]
    roles: String,
    /// `[[slug, code, name, duration_micros], …]` by metric type.
    #[diesel(sql_type = Text)]
    metrics: String,
    /// `[[id, cost type name, amount_cents, currency, details], …]` by id.
    #[diesel(sql_type = Text)]
    costs: String,
    /// `[name, …]` by name.
    #[diesel(sql_type = Text)]
    tags: String,
}

/// The statement behind [`ViewRow`]; `{agg}` and `{array}` are the backend's JSON aggregate and array
/// constructors, `{ids}` the id filter.
const VIEW_SQL: &str = "SELECT i.id, i.title, i.description, i.status, i.created_at, i.updated_at, \
    i.mitigated_at, i.closed_at, i.closure_reason, i.closure_reference, i.dedup_key, i.ignored, i.private, \
    i.custom_fields, i.version, i.priority_id, i.environment_id, i.incident_category_id, \
    u.id AS user_id, u.username AS user_username, u.name AS user_name, u.email AS user_email, \
    COALESCE((SELECT {agg}({array}(rt.slug, rt.name, ru.id, ru.username, ru.name, ru.email) \
        ORDER BY rt.sort_order, rt.id) FROM incident_roles r \
        JOIN incident_role_types rt ON rt.id = r.role_type_id JOIN users ru ON ru.id = r.user_id \
        WHERE r.incident_id = i.id), '[]') AS roles, \
    COALESCE((SELECT {agg}({array}(mt.slug, mt.code, mt.name, m.duration_micros) ORDER BY mt.id) \
        FROM incident_metrics m JOIN metric_types mt ON mt.id = m.metric_type_id \
        WHERE m.incident_id = i.id), '[]') AS metrics, \
    COALESCE((SELECT {agg}({array}(c.id, ct.name, c.amount_cents, c.currency, c.details) ORDER BY c.id) \
        FROM incident_costs c JOIN incident_cost_types ct ON ct.id = c.cost_type_id \
        WHERE c.incident_id = i.id), '[]') AS costs, \
    COALESCE((SELECT {agg}(t.name ORDER BY t.name) FROM incident_tags it JOIN tags t ON t.id = it.tag_id \
        WHERE it.incident_id = i.id), '[]') AS tags \
    FROM incidents i JOIN users u ON u.id = i.created_by_id WHERE {ids}";

static POSTGRES_VIEW_SQL: LazyLock<String> = LazyLock::new(|| {
    VIEW_SQL
        .replace("{agg}", "json_agg")
        .replace("{array}", "json_build_array")
        .replace("'[]') AS", "'[]')::text AS")
        .replace("{ids}", "i.id = ANY(")
});

static SQLITE_VIEW_SQL: LazyLock<String> = LazyLock::new(|| {
    VIEW_SQL
        .replace("{agg}", "json_group_array")
        .replace("{array}", "json_array")
        .replace("{ids}", "i.id IN (SELECT value FROM json_each(")
});

/// [`VIEW_SQL`] with its one bind, as a prepared statement the connection caches (diesel never caches
/// `sql_query`, and planning this statement on every call cost more than running it).
struct ViewsQuery<ST, T> {
    sql: &'static str,
    ids: T,
    closing: &'static str,
    sql_type: std::marker::PhantomData<ST>,
}

impl<ST, T> ViewsQuery<ST, T> {
    const fn new(sql: &'static str, ids: T, closing: &'static str) -> Self {
        Self { sql, ids, closing, sql_type: std::marker::PhantomData }
    }
}

impl<ST, T> diesel::query_builder::QueryId for ViewsQuery<ST, T> {
    type QueryId = ();
    // Cached by its SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB, ST, T> diesel::query_builder::QueryFragment<DB> for ViewsQuery<ST, T>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<ST>,
    ST: diesel::sql_types::SqlType,
    T: diesel::serialize::ToSql<ST, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(self.sql);
        out.push_bind_param::<ST, T>(&self.ids)?;
        out.push_sql(self.closing);
        Ok(())
    }
}

impl<ST, T> diesel::query_builder::Query for ViewsQuery<ST, T> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<ST, T, Conn> RunQueryDsl<Conn> for ViewsQuery<ST, T> {}

type RoleJson = (String, String, String, String, String, String);
type MetricJson = (String, String, String, i64);
type CostJson = (i64, String, Option<i64>, String, Option<String>);

fn decode<T: serde::de::DeserializeOwned>(incident: i64, what: &str, json: &str) -> QueryResult<T> {
    serde_json::from_str(json)
        .map_err(|e| internal(format!("incident #{incident}: bad {what} aggregate: {e}")))
}

fn user_view(id: String, username: String, name: String, email: String) -> QueryResult<UserView> {
    UserView::try_from(UserColumns { id, username, name, email })
}

/// Loads full incidents for `ids`, in that order, with their roles, metrics, costs and tags.
fn load_views(database: &Database, conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<IncidentView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<ViewRow> = match conn {
        DbConnection::Postgres(pg) => {
            ViewsQuery::<Array<BigInt>, _>::new(POSTGRES_VIEW_SQL.as_str(), ids.to_vec(), ")").load(pg)
        }
        DbConnection::Sqlite(sqlite) => {
            let ids = serde_json::to_string(ids).map_err(|e| internal(e.to_string()))?;
            ViewsQuery::<Text, _>::new(SQLITE_VIEW_SQL.as_str(), ids, "))").load(sqlite)
        }
    }
    .map_err(repository_error)?;
    let references = database.references().get(conn, |references| {
        rows.iter().all(|row| {
            references.priorities.contains_key(&row.priority_id)
                && references.environments.contains_key(&row.environment_id)
                && references.categories.contains_key(&row.incident_category_id)
        })
    })?;
    let mut by_id: HashMap<i64, IncidentView> = HashMap::with_capacity(rows.len());
    for row in rows {
        let (id, version) = (row.id, row.version);
        let roles: Vec<RoleJson> = decode(id, "roles", &row.roles)?;
        let metrics: Vec<MetricJson> = decode(id, "metrics", &row.metrics)?;
        let costs: Vec<CostJson> = decode(id, "costs", &row.costs)?;
        let tags: Vec<String> = decode(id, "tags", &row.tags)?;
        let incident = IncidentColumns {
            id,
            title: row.title,
            description: row.description,
            status: row.status,
            created_at: row.created_at,
            updated_at: row.updated_at,
            mitigated_at: row.mitigated_at,
            closed_at: row.closed_at,
            closure_reason: row.closure_reason,
            closure_reference: row.closure_reference,
            dedup_key: row.dedup_key,
            ignored: row.ignored,
            private: row.private,
            custom_fields: row.custom_fields,
        };
        let creator = UserColumns {
            id: row.user_id,
            username: row.user_username,
            name: row.user_name,
            email: row.user_email,
        };
        let mut view = view(
            (incident, creator, row.priority_id, row.environment_id, row.incident_category_id),
            &references,
        )?;
        view.version = version;
        for (slug, name, user_id, username, user_name, email) in roles {
            view.roles.push(RoleView { slug, name, user: user_view(user_id, username, user_name, email)? });
        }
        view.metrics = metrics
            .into_iter()
            .map(|(slug, code, name, duration_micros)| MetricView { slug, code, name, duration_micros })
            .collect();
        for (cost_id, cost_type, cents, currency, details) in costs {
            let amount = cents.map(Amount::from_cents).transpose().map_err(|e| internal(e.to_string()))?;
            view.costs.push(CostView { id: cost_id, cost_type, amount, currency, details });
        }
        view.tags = tags;
        by_id.insert(id, view);
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

diesel::define_sql_function! {
    /// SQL `lower()`, the same on both backends.
    fn lower(text: Text) -> Text;
}

/// The search words of a free-text term, for FTS5: each quoted, all required.
fn fts5_query(term: &str) -> Option<String> {
    let words: Vec<String> = term
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{word}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A priority's non-closed incidents in each age bucket.
type AgeSums = (i64, i64, i64, i64, i64, i64, i64);
/// A priority's fixes under each time-to-fix threshold, then those of a day or more.
type FixSums = (i64, i64, i64, i64, i64, i64);

/// Narrows a boxed query over `incidents` (alone or joined) to `filter`. Every condition is on
/// `incidents` columns or a subquery, so the count and the id query need no join; a join is added only
/// to sort by a joined column. `$backend` picks the full-text search dialect.
macro_rules! apply_filters {
    ($query:expr, $filter:expr, $backend:expr) => {{
        let filter: &IncidentFilter = $filter;
        let mut query = $query;
        if let Some(term) = filter.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let by_id = term.trim_start_matches('#').parse::<i64>().ok().unwrap_or(-1);
            let matches = match $backend {
                // The subquery is fenced (OFFSET 0) so PostgreSQL evaluates it once through the GIN
                // index, instead of recomputing each row's tsvector while walking the id index.
                Backend::Postgres => sql::<Bool>(
                    "(incidents.id IN (SELECT search.id FROM incidents AS search WHERE \
                     (setweight(to_tsvector('english', search.title), 'A') || \
                     setweight(to_tsvector('english', search.description), 'B')) \
                     @@ websearch_to_tsquery('english', ",
                )
                .bind::<Text, _>(term.to_owned())
                .sql(") OFFSET 0))"),
                Backend::Sqlite => sql::<Bool>(
                    "(incidents.id IN (SELECT rowid FROM incidents_search WHERE incidents_search MATCH ",
                )
                .bind::<Text, _>(fts5_query(term).unwrap_or_else(|| "\"\"".to_owned()))
                .sql("))"),
            };
            query = query.filter(matches.or(incidents::id.eq(by_id)));
        }
        if let Some(range) = filter.created_at {
            query = query.filter(incidents::created_at.between(range.start, range.end));
        }
        if let Some(at) = filter.created_at_gte {
            query = query.filter(incidents::created_at.ge(at));
        }
        if let Some(at) = filter.created_at_gt {
            query = query.filter(incidents::created_at.gt(at));
        }
        if let Some(at) = filter.created_at_lte {
            query = query.filter(incidents::created_at.le(at));
        }
        if let Some(at) = filter.created_at_lt {
            query = query.filter(incidents::created_at.lt(at));
        }
        if !filter.status.is_empty() {
            query = query.filter(
                incidents::status.eq_any(filter.status.iter().map(|s| s.value()).collect::<Vec<_>>()),
            );
        }
        if let Some(status) = filter.status_gte {
            query = query.filter(incidents::status.ge(status.value()));
        }
        if let Some(status) = filter.status_gt {
            query = query.filter(incidents::status.gt(status.value()));
        }
        if let Some(status) = filter.status_lte {
            query = query.filter(incidents::status.le(status.value()));
        }
        if let Some(status) = filter.status_lt {
            query = query.filter(incidents::status.lt(status.value()));
        }
        if !filter.environment.is_empty() {
            query = query.filter(incidents::environment_id.eq_any(filter.environment.clone()));
        }
        if !filter.environment_value.is_empty() {
            query = query.filter(
                incidents::environment_id.eq_any(
                    environments::table
                        .filter(environments::value.eq_any(filter.environment_value.clone()))
                        .select(environments::id),
                ),
            );
        }
        if !filter.priority.is_empty() {
            query = query.filter(incidents::priority_id.eq_any(filter.priority.clone()));
        }
        if !filter.group.is_empty() {
            query = query.filter(
                incidents::incident_category_id.eq_any(
                    incident_categories::table
                        .filter(incident_categories::group_id.eq_any(filter.group.clone()))
                        .select(incident_categories::id),
                ),
            );
        }
        if !filter.category.is_empty() {
            query = query.filter(incidents::incident_category_id.eq_any(filter.category.clone()));
        }
        if !filter.created_by.is_empty() {
            query = query.filter(
                incidents::created_by_id
                    .eq_any(filter.created_by.iter().map(ToString::to_string).collect::<Vec<_>>()),
            );
        }
        if !filter.id.is_empty() {
            query = query.filter(incidents::id.eq_any(filter.id.iter().map(|id| id.0).collect::<Vec<_>>()));
        }
        if let Some(id) = filter.id_gte {
            query = query.filter(incidents::id.ge(id));
        }
        if let Some(id) = filter.id_gt {
            query = query.filter(incidents::id.gt(id));
        }
        if let Some(id) = filter.id_lte {
            query = query.filter(incidents::id.le(id));
        }
        if let Some(id) = filter.id_lt {
            query = query.filter(incidents::id.lt(id));
        }
        if let Some(ignored) = filter.ignored {
            query = query.filter(incidents::ignored.eq(ignored));
        }
        if let Some(user) = filter.visible_to {
            // Private incidents only for their members and role holders.
            let user = user.to_string();
            query = query.filter(
                incidents::private
                    .eq(false)
                    .or(incidents::id.eq_any(
                        incident_memberships::table
                            .filter(incident_memberships::user_id.eq(user.clone()))
                            .select(incident_memberships::incident_id),
                    ))
                    .or(incidents::id.eq_any(
                        incident_roles::table
                            .filter(incident_roles::user_id.eq(user))
                            .select(incident_roles::incident_id),
                    )),
            );
        }
        query
    }};
}

/// The incidents of `statuses` that `viewer` may see (`None`: everything), counted per status in
/// grouped queries (a boxed query cannot be grouped on the multi-backend connection).
fn count_by_status(
    conn: &mut DbConnection,
    viewer: Option<UserId>,
    statuses: &[i32],
) -> QueryResult<Vec<(IncidentStatus, i64)>> {
    use diesel::dsl::{count_star, sql};
    use diesel::sql_types::Bool;
    let mut counts: HashMap<IncidentStatus, i64> = HashMap::new();
    let mut add = |rows: Vec<(i32, i64)>| {
        for (status, count) in rows {
            if let Ok(status) = IncidentStatus::from_value(status) {
                *counts.entry(status).or_default() += count;
            }
        }
    };
    // Each query below, grouped by status and counted.
    macro_rules! counted {
        ($query:expr) => {
            $query
                .filter(incidents::status.eq_any(statuses))
                .group_by(incidents::status)
                .select((incidents::status, count_star()))
                .load(conn)
                .map_err(repository_error)?
        };
    }
    let Some(user) = viewer else {
        add(counted!(incidents::table));
        return Ok(counts.into_iter().collect());
    };
    // Someone who is not staff: the public incidents, counted from the partial index
    // `incidents_public_status`, plus the private ones they are part of, found through
    // `incidents_private_status` (few). Each query repeats its index's WHERE clause word for word
    // (SQLite's planner needs it; PostgreSQL's cannot match a bound parameter to it).
    add(counted!(incidents::table.filter(sql::<Bool>("NOT incidents.private"))));
    let user = user.to_string();
    add(counted!(
        incidents::table.filter(sql::<Bool>("incidents.private")).filter(
            incidents::id
                .eq_any(
                    incident_memberships::table
                        .filter(incident_memberships::user_id.eq(user.clone()))
                        .select(incident_memberships::incident_id),
                )
                .or(incidents::id.eq_any(
                    incident_roles::table
                        .filter(incident_roles::user_id.eq(user))
                        .select(incident_roles::incident_id),
                )),
        )
    ));
    Ok(counts.into_iter().collect())
}

impl IncidentQueries for Database {
    fn incident(&self, id: IncidentId) -> QueryResult<Option<IncidentView>> {
        Ok(self.incidents_by_id(&[id])?.pop())
    }

    fn is_member(&self, id: IncidentId, user: UserId) -> QueryResult<bool> {
        let mut conn = self.connection()?;
        let found: Option<i64> = incident_memberships::table
            .filter(incident_memberships::incident_id.eq(id.0))
            .filter(incident_memberships::user_id.eq(user.to_string()))
            .select(incident_memberships::id)
            .first(&mut conn)
            .optional()
            .map_err(repository_error)?;
        Ok(found.is_some())
    }

    fn incidents(
        &self,
        filter: &IncidentFilter,
        order: OrderBy,
        page: PageRequest,
    ) -> QueryResult<Page<IncidentView>> {
        let keys = self.incident_keys(filter, order, page)?;
        let ids: Vec<IncidentId> = keys.items.iter().map(|key| key.id).collect();
        Ok(Page { items: self.incidents_by_id(&ids)?, has_more: keys.has_more, total: keys.total })
    }

    fn incident_key(&self, id: IncidentId) -> QueryResult<Option<IncidentKey>> {
        let mut conn = self.connection()?;
        incidents::table
            .find(id.0)
            .select(incidents::version)
            .first::<i64>(&mut *conn)
            .optional()
            .map(|version| version.map(|version| IncidentKey { id, version }))
            .map_err(repository_error)
    }

    fn incidents_by_id(&self, ids: &[IncidentId]) -> QueryResult<Vec<IncidentView>> {
        let mut conn = self.connection()?;
        let ids: Vec<i64> = ids.iter().map(|id| id.0).collect();
        load_views(self, &mut conn, &ids)
    }

    fn incident_keys(
        &self,
        filter: &IncidentFilter,
        order: OrderBy,
        page: PageRequest,
    ) -> QueryResult<Page<IncidentKey>> {
        let mut conn = self.connection()?;
        let backend = self.backend();
        let total = if page.with_total {
            let total: i64 = apply_filters!(incidents::table.into_boxed(), filter, backend)
                .count()
                .get_result(&mut *conn)
                .map_err(repository_error)?;
            Some(u64::try_from(total).unwrap_or_default())
        } else {
            None
        };
        // One row more than asked tells whether another page follows.
        let limit = i64::from(page.limit) + 1;
        let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
        let plain = || {
            apply_filters!(incidents::table.into_boxed(), filter, backend)
                .select((incidents::id, incidents::version))
        };
        let keys: Vec<(i64, i64)> = match (order.field, order.descending) {
            (OrderField::Id, false) => {
                plain().order(incidents::id.asc()).limit(limit).offset(offset).load(&mut *conn)
            }
            (OrderField::Id, true) => {
                plain().order(incidents::id.desc()).limit(limit).offset(offset).load(&mut *conn)
            }
            (OrderField::Title, false) => plain()
                .order((incidents::title.asc(), incidents::id.asc()))
                .limit(limit)
                .offset(offset)
                .load(&mut *conn),
            (OrderField::Title, true) => plain()
                .order((incidents::title.desc(), incidents::id.desc()))
                .limit(limit)
                .offset(offset)
                .load(&mut *conn),
            (OrderField::CreatedAt, false) => plain()
                .order((incidents::created_at.asc(), incidents::id.asc()))
                .limit(limit)
                .offset(offset)
                .load(&mut *conn),
            (OrderField::CreatedAt, true) => plain()
                .order((incidents::created_at.desc(), incidents::id.desc()))
                .limit(limit)
                .offset(offset)
                .load(&mut *conn),
            (OrderField::Priority, descending) => {
                let query = apply_filters!(
                    incidents::table.inner_join(priorities::table).into_boxed(),
                    filter,
                    backend
                )
                .select((incidents::id, incidents::version));
                let query = if descending {
                    query.order((priorities::sort_order.desc(), incidents::id.desc()))
                } else {
                    query.order((priorities::sort_order.asc(), incidents::id.asc()))
                };
                query.limit(limit).offset(offset).load(&mut *conn)
            }
            (OrderField::CreatedBy, descending) => {
                let query =
                    apply_filters!(incidents::table.inner_join(users::table).into_boxed(), filter, backend)
                        .select((incidents::id, incidents::version));
                let query = if descending {
                    query.order((users::username.desc(), incidents::id.desc()))
                } else {
                    query.order((users::username.asc(), incidents::id.asc()))
                };
                query.limit(limit).offset(offset).load(&mut *conn)
            }
        }
        .map_err(repository_error)?;
        let has_more = keys.len() > page.limit as usize;
        let items = keys
            .into_iter()
            .take(page.limit as usize)
            .map(|(id, version)| IncidentKey { id: IncidentId(id), version })
            .collect();
        Ok(Page { items, has_more, total })
    }

    fn timeline(&self, id: IncidentId, page: PageRequest) -> QueryResult<Page<TimelineView>> {
        let mut conn = self.connection()?;
        let total = if page.with_total {
            let total: i64 = incident_updates::table
                .filter(incident_updates::incident_id.eq(id.0))
                .count()
                .get_result(&mut *conn)
                .map_err(repository_error)?;
            Some(u64::try_from(total).unwrap_or_default())
        } else {
            None
        };
        type Row = (
            (String, NaiveDateTime, NaiveDateTime, Option<String>, Option<i32>),
            (Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>),
            Option<UserColumns>,
        );
        let rows: Vec<Row> = incident_updates::table
            .left_join(users::table.on(users::id.nullable().eq(incident_updates::created_by_id)))
            .filter(incident_updates::incident_id.eq(id.0))
            .order((
                incident_updates::event_ts.asc(),
                incident_updates::created_at.asc(),
                incident_updates::id.asc(),
            ))
            .limit(i64::from(page.limit) + 1)
            .offset(i64::try_from(page.offset).unwrap_or(i64::MAX))
            .select((
                (
                    incident_updates::id,
                    incident_updates::event_ts,
                    incident_updates::created_at,
                    incident_updates::message,
                    incident_updates::status,
                ),
                (
                    incident_updates::priority_id,
                    incident_updates::environment_id,
                    incident_updates::incident_category_id,
                    incident_updates::title,
                    incident_updates::description,
                    incident_updates::event_type,
                ),
                Option::<UserColumns>::as_select(),
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let has_more = rows.len() > page.limit as usize;
        let items = rows
            .into_iter()
            .take(page.limit as usize)
            .map(
                |(
                    (entry_id, event_ts, created_at, message, status),
                    (priority, environment, category, title, description, event_type),
                    author,
                )| {
                    Ok(TimelineView {
                        id: entry_id,
                        event_ts,
                        created_at,
                        author: author.map(UserView::try_from).transpose()?,
                        message,
                        status: status
                            .map(IncidentStatus::from_value)
                            .transpose()
                            .map_err(|e| internal(e.to_string()))?,
                        priority,
                        environment,
                        category,
                        title,
                        description,
                        event_type,
                    })
                },
            )
            .collect::<QueryResult<Vec<_>>>()?;
        Ok(Page { items, has_more, total })
    }

    fn categories(&self, search: Option<&str>) -> QueryResult<Vec<CategoryView>> {
        let mut conn = self.connection()?;
        let mut query = incident_categories::table.inner_join(category_groups::table).into_boxed();
        let words = search
            .unwrap_or_default()
            .split_whitespace()
            .map(|word| format!("%{}%", escape_like(&word.to_lowercase())));
        for pattern in words {
            query = query.filter(
                lower(incident_categories::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(incident_categories::description).like(pattern.clone()).escape('\\'))
                    .or(lower(category_groups::name).like(pattern.clone()).escape('\\'))
                    .or(lower(category_groups::description).like(pattern).escape('\\')),
            );
        }
        let rows: Vec<(CategoryColumns, GroupColumns)> = query
            .order((category_groups::sort_order, incident_categories::name, incident_categories::id))
            .select((CategoryColumns::as_select(), GroupColumns::as_select()))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().map(|(category, group)| category_view(category, group)).collect())
    }

    fn environments(&self) -> QueryResult<Vec<EnvironmentView>> {
        let mut conn = self.connection()?;
        let rows: Vec<EnvironmentColumns> = environments::table
            .order((environments::sort_order, environments::value))
            .select(EnvironmentColumns::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().map(environment_view).collect())
    }

    fn priorities(&self) -> QueryResult<Vec<PriorityView>> {
        let mut conn = self.connection()?;
        let rows: Vec<PriorityColumns> = priorities::table
            .order(priorities::sort_order)
            .select(PriorityColumns::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().map(priority_view).collect())
    }

    fn groups(&self) -> QueryResult<Vec<GroupView>> {
        let mut conn = self.connection()?;
        let rows: Vec<GroupColumns> = category_groups::table
            .order(category_groups::sort_order)
            .select(GroupColumns::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().map(group_view).collect())
    }

    fn cost_types(&self) -> QueryResult<Vec<incidents_core::query::CostTypeView>> {
        self.load_cost_types()
    }

    fn incident_costs(
        &self,
        page: PageRequest,
    ) -> QueryResult<Page<incidents_core::query::IncidentCostView>> {
        self.load_incident_costs(page, None)
    }

    fn incident_cost(&self, id: i64) -> QueryResult<Option<incidents_core::query::IncidentCostView>> {
        Ok(self.load_incident_costs(PageRequest::new(1, 0), Some(id))?.items.pop())
    }

    fn users(&self, page: PageRequest) -> QueryResult<Page<UserView>> {
        self.load_users(page)
    }

    fn user(&self, id: UserId) -> QueryResult<Option<UserView>> {
        let mut conn = self.connection()?;
        users::table
            .find(id.to_string())
            .select(UserColumns::as_select())
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?
            .map(UserView::try_from)
            .transpose()
    }

    fn role_types(&self) -> QueryResult<Vec<incidents_core::query::RoleTypeView>> {
        self.load_role_types()
    }

    fn key_event_types(&self) -> QueryResult<Vec<incidents_core::query::KeyEventTypeView>> {
        self.load_key_event_types()
    }

    fn metric_types(&self) -> QueryResult<Vec<incidents_core::query::MetricTypeView>> {
        self.load_metric_types()
    }

    fn impact_types(&self) -> QueryResult<Vec<incidents_core::query::ImpactTypeView>> {
        self.load_impact_types()
    }

    fn incident_impacts(
        &self,
        id: IncidentId,
    ) -> QueryResult<Vec<incidents_core::query::IncidentImpactView>> {
        use crate::schema::{impact_levels, impact_types, impacts, incident_impacts};
        let mut conn = self.connection()?;
        // (type name, level code, level name, emoji, details)
        type Row = (String, String, Option<String>, String, Option<String>);
        let rows: Vec<Row> = incident_impacts::table
            .inner_join(impacts::table.on(impacts::id.eq(incident_impacts::impact_id)))
            .inner_join(impact_types::table.on(impact_types::id.eq(impacts::impact_type_id)))
            .inner_join(impact_levels::table.on(impact_levels::id.eq(impacts::impact_level_id)))
            .filter(incident_impacts::incident_id.eq(id.0))
            .order((impact_types::sort_order, impact_types::id))
            .select((
                impact_types::name,
                impact_levels::value,
                impact_levels::name,
                impact_levels::emoji,
                impacts::details,
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows
            .into_iter()
            .map(|(impact_type, level, name, emoji, details)| incidents_core::query::IncidentImpactView {
                level_name: name.filter(|name| !name.is_empty()).unwrap_or_else(|| {
                    incidents_core::ImpactLevelCode::parse(&level)
                        .map_or_else(|_| level.clone(), |code| code.label().to_owned())
                }),
                impact_type,
                level,
                emoji,
                details,
            })
            .collect())
    }

    fn priority_labels(&self) -> QueryResult<Vec<PriorityLabel>> {
        let mut conn = self.connection()?;
        let rows: Vec<(String, String)> = priorities::table
            .order(priorities::sort_order)
            .select((priorities::id, priorities::name))
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().map(|(id, name)| PriorityLabel { id, name }).collect())
    }

    fn status_counts(&self, filter: &IncidentFilter) -> QueryResult<Vec<(IncidentStatus, i64)>> {
        let mut conn = self.connection()?;
        let backend = self.backend();
        let statuses: Vec<IncidentStatus> =
            if filter.status.is_empty() { IncidentStatus::ALL.to_vec() } else { filter.status.clone() };
        let values: Vec<i32> = statuses.iter().map(|status| status.value()).collect();
        let only_statuses = IncidentFilter {
            status: filter.status.clone(),
            visible_to: filter.visible_to,
            ..IncidentFilter::default()
        };
        if *filter == only_statuses {
            // The dashboard's home: counted again only once an incident changed (see CountCache).
            let stamp = outbox_stamp(&mut conn)?;
            let key = (filter.visible_to.map(|user| user.to_string()), values.clone());
            if let Some(counts) = self.counts().get(&key, stamp) {
                return Ok(counts);
            }
            let counts = count_by_status(&mut conn, filter.visible_to, &values)?;
            self.counts().put(key, stamp, counts.clone());
            return Ok(counts);
        }
        // Other filters: one count per status.
        let mut counts = Vec::new();
        for status in statuses {
            let one = IncidentFilter { status: vec![status], ..filter.clone() };
            let count: i64 = apply_filters!(incidents::table.into_boxed(), &one, backend)
                .count()
                .get_result(&mut *conn)
                .map_err(repository_error)?;
            if count > 0 {
                counts.push((status, count));
            }
        }
        Ok(counts)
    }

    fn statistics_counts(
        &self,
        filter: &IncidentFilter,
        now: NaiveDateTime,
    ) -> QueryResult<StatisticsCounts> {
        let mut conn = self.connection()?;
        let stamp = outbox_stamp(&mut conn)?;
        let key = format!("{filter:?}");
        if let Some(counts) = self.statistics_cache().get(&key, stamp) {
            return Ok(counts);
        }
        let counts = self.count_statistics(&mut conn, filter, now)?;
        self.statistics_cache().put(key, stamp, counts.clone());
        Ok(counts)
    }

    fn category_downtimes(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> QueryResult<Vec<CategoryDowntime>> {
        let mut conn = self.connection()?;
        let stamp = outbox_stamp(&mut conn)?;
        if let Some(downtimes) = self.downtime_cache().get(&(from, to), stamp) {
            return Ok(downtimes);
        }
        let downtimes = Self::count_downtimes(&mut conn, from, to)?;
        self.downtime_cache().put((from, to), stamp, downtimes.clone());
        Ok(downtimes)
    }
}

impl Database {
    /// The statistics' three grouped queries (see [`IncidentQueries::statistics_counts`]).
    fn count_statistics(
        &self,
        conn: &mut DbConnection,
        filter: &IncidentFilter,
        now: NaiveDateTime,
    ) -> QueryResult<StatisticsCounts> {
        use diesel::dsl::count_star;
        let backend = self.backend();
        let group_of: HashMap<String, String> = incident_categories::table
            .inner_join(category_groups::table)
            .select((incident_categories::id, category_groups::name))
            .load::<(String, String)>(&mut *conn)
            .map_err(repository_error)?
            .into_iter()
            .collect();
        // Diesel groups before boxing: each query is grouped, then boxed, then filtered.
        let grouped = incidents::table
            .group_by((incidents::priority_id, incidents::status, incidents::incident_category_id))
            .select((
                incidents::priority_id,
                incidents::status,
                incidents::incident_category_id,
                count_star(),
            ))
            .into_boxed();
        let rows: Vec<(String, i32, String, i64)> =
            apply_filters!(grouped, filter, backend).load(&mut *conn).map_err(repository_error)?;
        let mut incidents: HashMap<(String, IncidentStatus, String), u64> = HashMap::new();
        for (priority, status, category, count) in rows {
            let status = IncidentStatus::from_value(status).map_err(|e| internal(e.to_string()))?;
            let group = group_of.get(&category).cloned().unwrap_or_default();
            *incidents.entry((priority, status, group)).or_insert(0) +=
                u64::try_from(count).unwrap_or_default();
        }
        let mut counts = StatisticsCounts {
            incidents: incidents.into_iter().map(|((p, s, g), n)| (p, s, g, n)).collect(),
            ..StatisticsCounts::default()
        };
        counts.incidents.sort();

        // Non-closed incidents by age: one sum per bucket, its bounds bound as parameters (an age of
        // `from` to `to` days is a creation in `(now - to, now - from]`).
        let bound = |days: i64| now - chrono::TimeDelta::days(days);
        // Older than any incident, and within both backends' range.
        let far_past =
            chrono::NaiveDate::from_ymd_opt(1, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or(now);
        macro_rules! aged {
            ($bucket:expr) => {{
                let (_, from, to) = AGE_BUCKETS[$bucket];
                sql::<BigInt>("CAST(SUM(CASE WHEN incidents.created_at <= ")
                    .bind::<Timestamp, _>(bound(from))
                    .sql(" AND incidents.created_at > ")
                    .bind::<Timestamp, _>(to.map_or(far_past, bound))
                    .sql(" THEN 1 ELSE 0 END) AS BIGINT)")
            }};
        }
        let grouped = incidents::table
            .filter(incidents::status.lt(IncidentStatus::Closed.value()))
            .group_by(incidents::priority_id)
            .select((
                incidents::priority_id,
                (aged!(0), aged!(1), aged!(2), aged!(3), aged!(4), aged!(5), aged!(6)),
            ))
            .into_boxed();
        let ages: Vec<(String, AgeSums)> =
            apply_filters!(grouped, filter, backend).load(&mut *conn).map_err(repository_error)?;
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        for (priority, (a, b, c, d, e, f, g)) in ages {
            counts.ages.insert(priority, [a, b, c, d, e, f, g].into_iter().map(count).collect());
        }

        // Times to fix of the mitigated ones: under each threshold, and a day or more.
        macro_rules! under {
            ($micros:expr) => {
                sql::<BigInt>(&format!(
                    "CAST(SUM(CASE WHEN incident_metrics.duration_micros < {} THEN 1 ELSE 0 END) AS BIGINT)",
                    $micros
                ))
            };
        }
        let micros = |index: usize| TTR_BUCKETS[index].1 * 1_000_000;
        // The metric type by its id, not a join: PostgreSQL then estimates the metrics it keeps and
        // hashes them, instead of an index lookup per metric (170 ms → 100 ms at 100,000 incidents).
        let Some(time_to_fix) = metric_types::table
            .filter(metric_types::slug.eq("time_to_fix"))
            .select(metric_types::id)
            .first::<i64>(&mut *conn)
            .optional()
            .map_err(repository_error)?
        else {
            return Ok(counts);
        };
        let grouped = incidents::table
            .inner_join(incident_metrics::table)
            .filter(incident_metrics::metric_type_id.eq(time_to_fix))
            .filter(incidents::status.ge(IncidentStatus::Mitigated.value()))
            .filter(incident_metrics::duration_micros.ge(1_000_000))
            .group_by(incidents::priority_id)
            .select((
                incidents::priority_id,
                count_star(),
                (
                    under!(micros(0)),
                    under!(micros(1)),
                    under!(micros(2)),
                    under!(micros(3)),
                    under!(micros(4)),
                    sql::<BigInt>(&format!(
                        "CAST(SUM(CASE WHEN incident_metrics.duration_micros >= {} THEN 1 ELSE 0 END) AS BIGINT)",
                        86_400_i64 * 1_000_000
                    )),
                ),
            ))
            .into_boxed();
        let fixes: Vec<(String, i64, FixSums)> =
            apply_filters!(grouped, filter, backend).load(&mut *conn).map_err(repository_error)?;
        for (priority, total, (a, b, c, d, e, day)) in fixes {
            counts
                .fixes
                .insert(priority, (count(total), [a, b, c, d, e, day].into_iter().map(count).collect()));
        }
        Ok(counts)
    }

    /// Every category's incidents in `[from, to]` and their summed time to fix.
    fn count_downtimes(
        conn: &mut DbConnection,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> QueryResult<Vec<CategoryDowntime>> {
        let categories: Vec<(String, String, String)> = incident_categories::table
            .inner_join(category_groups::table)
            .order((category_groups::sort_order, incident_categories::name))
            .select((incident_categories::id, incident_categories::name, category_groups::name))
            .load(&mut *conn)
            .map_err(repository_error)?;
        // Two grouped queries, whatever the number of incidents: their count per category, and the
        // sum of their time to fix (SUM of a BIGINT is NUMERIC on PostgreSQL: cast back, on both
        // backends alike).
        let counts: Vec<(String, i64)> = incidents::table
            .filter(incidents::created_at.between(from, to))
            .group_by(incidents::incident_category_id)
            .select((incidents::incident_category_id, diesel::dsl::count_star()))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let downtimes: Vec<(String, Option<i64>)> = incident_metrics::table
            .inner_join(incidents::table)
            .inner_join(metric_types::table)
            .filter(metric_types::slug.eq("time_to_fix"))
            .filter(incidents::created_at.between(from, to))
            .group_by(incidents::incident_category_id)
            .select((
                incidents::incident_category_id,
                sql::<Nullable<BigInt>>("CAST(SUM(incident_metrics.duration_micros) AS BIGINT)"),
            ))
            .load(&mut *conn)
            .map_err(repository_error)?;
        let mut per_category: HashMap<String, (u64, Option<i64>)> = counts
            .into_iter()
            .map(|(category, count)| (category, (u64::try_from(count).unwrap_or_default(), None)))
            .collect();
        for (category, downtime) in downtimes {
            if let Some(entry) = per_category.get_mut(&category) {
                entry.1 = downtime;
            }
        }
        Ok(categories
            .into_iter()
            .map(|(category_id, category_name, group_name)| {
                let (incident_count, downtime_micros) =
                    per_category.get(&category_id).copied().unwrap_or((0, None));
                CategoryDowntime { category_id, category_name, group_name, incident_count, downtime_micros }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::fts5_query;

    #[test]
    fn fts5_queries_are_quoted_words() {
        assert_eq!(fts5_query("checkout down"), Some("\"checkout\" \"down\"".into()));
        assert_eq!(fts5_query("\" OR 1=1 --"), Some("\"OR\" \"1\" \"1\"".into()));
        assert_eq!(fts5_query("  ***  "), None);
    }
}
