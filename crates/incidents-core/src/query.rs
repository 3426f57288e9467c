//! The read side: what can be asked about incidents (filters, ordering, pages) and the read models
//! returned. Storage implements [`IncidentQueries`]; the filters are those of the original's incident
//! filter set (web list, statistics and API share them).

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::date_range::DateRange;
use crate::incident::IncidentId;
use crate::money::Amount;
use crate::ports::RepositoryError;
use crate::statistics::{
    CategoryDowntime, CategoryMtbf, PriorityLabel, Statistics, StatisticsCounts, category_mtbf,
};
use crate::status::{ClosureReason, IncidentStatus};
use crate::user::UserId;

/// Which incidents to return. Every set field narrows the result (AND); list fields match any value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Full-text search on title and description; a number also matches that incident id.
    pub search: Option<String>,
    pub created_at: Option<DateRange>,
    pub created_at_gte: Option<NaiveDateTime>,
    pub created_at_gt: Option<NaiveDateTime>,
    pub created_at_lte: Option<NaiveDateTime>,
    pub created_at_lt: Option<NaiveDateTime>,
    pub status: Vec<IncidentStatus>,
    pub status_gte: Option<IncidentStatus>,
    pub status_gt: Option<IncidentStatus>,
    pub status_lte: Option<IncidentStatus>,
    pub status_lt: Option<IncidentStatus>,
    pub environment: Vec<String>,
    pub environment_value: Vec<String>,
    pub priority: Vec<String>,
    pub group: Vec<String>,
    pub category: Vec<String>,
    pub created_by: Vec<UserId>,
    pub id: Vec<IncidentId>,
    pub id_gte: Option<i64>,
    pub id_gt: Option<i64>,
    pub id_lte: Option<i64>,
    pub id_lt: Option<i64>,
    pub ignored: Option<bool>,
    /// Private incidents only when this user is a member or holds a role; unset: every incident (for
    /// staff, and for internal readers). Entry points set it from the principal: see
    /// [`crate::access::Principal::visibility`].
    pub visible_to: Option<UserId>,
}

/// What to sort by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrderField {
    /// By the priority's order (P1 first ascending).
    Priority,
    Title,
    #[default]
    Id,
    CreatedAt,
    /// By the creator's username.
    CreatedBy,
}

/// A sort order; ties are always broken by id, so pages are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderBy {
    pub field: OrderField,
    pub descending: bool,
}

impl Default for OrderBy {
    /// Newest first, as the original lists.
    fn default() -> Self {
        Self { field: OrderField::Id, descending: true }
    }
}

impl OrderBy {
    /// Parses the original's `order_by` values: `priority`, `title`, `id`, `created_at`, `created_by`,
    /// with a leading `-` for descending.
    ///
    /// # Errors
    /// An unknown field, with the accepted ones.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (descending, name) = text.strip_prefix('-').map_or((false, text), |rest| (true, rest));
        let field = match name {
            "priority" => OrderField::Priority,
            "title" => OrderField::Title,
            "id" => OrderField::Id,
            "created_at" => OrderField::CreatedAt,
            "created_by" => OrderField::CreatedBy,
            _ => {
                return Err(format!(
                    "unknown order_by {text:?} (use priority, title, id, created_at or created_by, with - for descending)"
                ));
            }
        };
        Ok(Self { field, descending })
    }
}

/// Which slice of the result to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub offset: u64,
    /// Also count every matching row. Counting costs a scan of all matches (tens of milliseconds on a
    /// large history), so callers ask only when they show it.
    pub with_total: bool,
}

impl PageRequest {
    /// `limit` rows from `offset`, without a total.
    #[must_use]
    pub const fn new(limit: u32, offset: u64) -> Self {
        Self { limit, offset, with_total: false }
    }

    /// The same page, with the total count.
    #[must_use]
    pub const fn counted(self) -> Self {
        Self { with_total: true, ..self }
    }
}

/// A slice of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Whether rows follow this page.
    pub has_more: bool,
    /// Rows matching the filter in all pages, when asked for.
    pub total: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentView {
    pub id: String,
    pub value: String,
    pub name: String,
    pub description: String,
    pub order: i32,
    pub default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityView {
    pub id: String,
    pub name: String,
    pub value: i32,
    pub emoji: String,
    pub description: String,
    pub order: i32,
    pub default: bool,
    pub needs_postmortem: bool,
    pub enabled_create: bool,
    pub enabled_update: bool,
    pub reminder_time_seconds: i64,
    pub sla_seconds: i64,
    pub recommended_response_type: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub order: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub order: i32,
    pub private: bool,
    pub deploy_warning: bool,
    pub group: GroupView,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub username: String,
    /// The display name: the name, else the username.
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleView {
    pub slug: String,
    pub name: String,
    pub user: UserView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricView {
    pub slug: String,
    pub code: String,
    pub name: String,
    pub duration_micros: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostView {
    pub id: i64,
    pub cost_type: String,
    pub amount: Option<Amount>,
    pub currency: String,
    pub details: Option<String>,
}

/// An incident's id and version. The version changes with every change to the incident or to its
/// roles, key events, metrics and costs, so a representation rendered at one version stays valid while
/// the version does (references such as a priority's name can change without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IncidentKey {
    pub id: IncidentId,
    pub version: i64,
}

/// An incident with everything the API and the dashboard show about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentView {
    pub id: IncidentId,
    /// See [`IncidentKey`].
    pub version: i64,
    pub title: String,
    pub description: String,
    pub status: IncidentStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub mitigated_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub closure_reason: Option<ClosureReason>,
    pub closure_reference: String,
    pub dedup_key: Option<String>,
    pub ignored: bool,
    pub private: bool,
    pub custom_fields: serde_json::Value,
    pub environment: EnvironmentView,
    pub priority: PriorityView,
    pub category: CategoryView,
    pub created_by: UserView,
    pub roles: Vec<RoleView>,
    pub metrics: Vec<MetricView>,
    pub costs: Vec<CostView>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostTypeView {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub default: bool,
    pub editable: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentCostView {
    pub id: i64,
    pub incident: IncidentId,
    pub cost_type: CostTypeView,
    pub amount: Option<Amount>,
    pub currency: String,
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 1, "slug": "commander", "name": "Incident Commander",
    "emoji": "🧑‍🚒", "required": true, "order": 1, "summary": "Leads the response and makes the decisions.",
    "description": "Coordinates the responders, decides, and keeps the incident moving.", "aka": "IC"})))]
pub struct RoleTypeView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub emoji: String,
    pub required: bool,
    pub order: i32,
    pub summary: String,
    pub description: String,
    pub aka: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 2, "event_type": "detected", "name": "Detected",
    "summary": "When the incident was detected.", "description": null, "user_editable": true, "required": true,
    "asked_for": true})))]
pub struct KeyEventTypeView {
    pub id: i64,
    pub event_type: String,
    pub name: String,
    pub summary: String,
    pub description: Option<String>,
    pub user_editable: bool,
    pub required: bool,
    pub asked_for: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 1, "code": "TTD", "type": "time_to_detect",
    "name": "Time to detect", "description": "From the start of the impact to its detection.",
    "milestone_lhs": "detected", "milestone_rhs": "started"})))]
pub struct MetricTypeView {
    pub id: i64,
    pub code: String,
    #[serde(rename = "type")]
    pub slug: String,
    pub name: String,
    pub description: String,
    /// The key event that ends the measured span.
    pub milestone_lhs: String,
    /// The key event that starts it.
    pub milestone_rhs: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImpactLevelView {
    pub id: String,
    pub value: String,
    pub name: Option<String>,
    pub emoji: String,
    pub order: i32,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"id": 1, "value": "customers_impact", "name": "Customers impact",
    "emoji": "🧑", "help_text": "Who among our customers cannot do what they came for?", "order": 1,
    "levels": [{"id": "3c2b1a09-8f7e-4d6c-5b4a-392817161514", "value": "HI", "name": "Many customers cannot order",
        "emoji": "🔴", "order": 2, "description": null}]})))]
pub struct ImpactTypeView {
    pub id: i64,
    pub value: String,
    pub name: String,
    pub emoji: String,
    pub help_text: String,
    pub order: i32,
    pub levels: Vec<ImpactLevelView>,
}

/// One business impact of an incident: its type and level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentImpactView {
    /// The impact type's name ("Customers impact").
    pub impact_type: String,
    /// The level's code (HT, HI, MD, LO, LT, NO).
    pub level: String,
    /// The level's wording for this type, or the generic label.
    pub level_name: String,
    pub emoji: String,
    pub details: Option<String>,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineView {
    pub id: String,
    pub event_ts: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub author: Option<UserView>,
    pub message: Option<String>,
    pub status: Option<IncidentStatus>,
    pub priority: Option<String>,
    pub environment: Option<String>,
    pub category: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub event_type: Option<String>,
}

/// Reading incidents. Implemented by storage.
pub trait IncidentQueries {
    /// One incident with its relations.
    ///
    /// # Errors
    /// A storage failure.
    fn incident(&self, id: IncidentId) -> Result<Option<IncidentView>, RepositoryError>;

    /// Whether `user` is a member of the incident.
    ///
    /// # Errors
    /// A storage failure.
    fn is_member(&self, id: IncidentId, user: UserId) -> Result<bool, RepositoryError>;

    /// A page of incidents matching `filter`, in `order`.
    ///
    /// # Errors
    /// A storage failure.
    fn incidents(
        &self,
        filter: &IncidentFilter,
        order: OrderBy,
        page: PageRequest,
    ) -> Result<Page<IncidentView>, RepositoryError>;

    /// The keys of a page of incidents, for callers that keep rendered incidents (see
    /// [`IncidentKey`]); same filters, order and paging as [`IncidentQueries::incidents`].
    ///
    /// # Errors
    /// A storage failure.
    fn incident_keys(
        &self,
        filter: &IncidentFilter,
        order: OrderBy,
        page: PageRequest,
    ) -> Result<Page<IncidentKey>, RepositoryError>;

    /// One incident's key.
    ///
    /// # Errors
    /// A storage failure.
    fn incident_key(&self, id: IncidentId) -> Result<Option<IncidentKey>, RepositoryError>;

    /// Incidents by id, in that order (unknown ids are left out).
    ///
    /// # Errors
    /// A storage failure.
    fn incidents_by_id(&self, ids: &[IncidentId]) -> Result<Vec<IncidentView>, RepositoryError>;

    /// An incident's business impacts (those given when it was declared), in the impact types' order.
    ///
    /// # Errors
    /// A storage failure.
    fn incident_impacts(&self, id: IncidentId) -> Result<Vec<IncidentImpactView>, RepositoryError>;

    /// An incident's timeline, oldest first.
    ///
    /// # Errors
    /// A storage failure.
    fn timeline(&self, id: IncidentId, page: PageRequest) -> Result<Page<TimelineView>, RepositoryError>;

    /// Categories ordered by group then name; with a search term, those whose name, description, group
    /// name or group description contain every word of it (case-insensitive).
    ///
    /// # Errors
    /// A storage failure.
    fn categories(&self, search: Option<&str>) -> Result<Vec<CategoryView>, RepositoryError>;

    /// Every environment, in display order.
    ///
    /// # Errors
    /// A storage failure.
    fn environments(&self) -> Result<Vec<EnvironmentView>, RepositoryError>;

    /// Every priority, in display order.
    ///
    /// # Errors
    /// A storage failure.
    fn priorities(&self) -> Result<Vec<PriorityView>, RepositoryError>;

    /// Every group of categories, in display order.
    ///
    /// # Errors
    /// A storage failure.
    fn groups(&self) -> Result<Vec<GroupView>, RepositoryError>;

    /// Every cost type, by name.
    ///
    /// # Errors
    /// A storage failure.
    fn cost_types(&self) -> Result<Vec<CostTypeView>, RepositoryError>;

    /// Incident costs, newest first.
    ///
    /// # Errors
    /// A storage failure.
    fn incident_costs(&self, page: PageRequest) -> Result<Page<IncidentCostView>, RepositoryError>;

    /// One incident cost.
    ///
    /// # Errors
    /// A storage failure.
    fn incident_cost(&self, id: i64) -> Result<Option<IncidentCostView>, RepositoryError>;

    /// Users, by username.
    ///
    /// # Errors
    /// A storage failure.
    fn users(&self, page: PageRequest) -> Result<Page<UserView>, RepositoryError>;

    /// One user.
    ///
    /// # Errors
    /// A storage failure.
    fn user(&self, id: UserId) -> Result<Option<UserView>, RepositoryError>;

    /// Role types, key-event types, metric types and impact types (with their levels), in display order.
    ///
    /// # Errors
    /// A storage failure.
    fn role_types(&self) -> Result<Vec<RoleTypeView>, RepositoryError>;

    /// See [`IncidentQueries::role_types`].
    ///
    /// # Errors
    /// A storage failure.
    fn key_event_types(&self) -> Result<Vec<KeyEventTypeView>, RepositoryError>;

    /// See [`IncidentQueries::role_types`].
    ///
    /// # Errors
    /// A storage failure.
    fn metric_types(&self) -> Result<Vec<MetricTypeView>, RepositoryError>;

    /// See [`IncidentQueries::role_types`].
    ///
    /// # Errors
    /// A storage failure.
    fn impact_types(&self) -> Result<Vec<ImpactTypeView>, RepositoryError>;

    /// Every priority, in display order.
    ///
    /// # Errors
    /// A storage failure.
    fn priority_labels(&self) -> Result<Vec<PriorityLabel>, RepositoryError>;

    /// The incidents matching `filter`, counted for the statistics (`now` for their ages): grouped
    /// queries, a few rows per priority however many incidents match.
    ///
    /// # Errors
    /// A storage failure.
    fn statistics_counts(
        &self,
        filter: &IncidentFilter,
        now: NaiveDateTime,
    ) -> Result<StatisticsCounts, RepositoryError>;

    /// How many incidents matching `filter` each status holds (statuses with none left out), in one
    /// grouped query.
    ///
    /// # Errors
    /// A storage failure.
    fn status_counts(&self, filter: &IncidentFilter) -> Result<Vec<(IncidentStatus, i64)>, RepositoryError>;

    /// Every category, with its incidents created in `[from, to]` and their summed time to fix.
    ///
    /// # Errors
    /// A storage failure.
    fn category_downtimes(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<CategoryDowntime>, RepositoryError>;

    /// The statistics page for the incidents matching `filter`.
    ///
    /// # Errors
    /// A storage failure.
    fn statistics(&self, filter: &IncidentFilter, now: NaiveDateTime) -> Result<Statistics, RepositoryError> {
        Ok(Statistics::from_counts(&self.statistics_counts(filter, now)?, &self.priority_labels()?))
    }

    /// Mean time between failures per category over `[from, to]` (`to` clamped to `now`).
    ///
    /// # Errors
    /// A storage failure.
    fn category_mtbf(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<Vec<CategoryMtbf>, RepositoryError> {
        Ok(category_mtbf(&self.category_downtimes(from, to.min(now))?, from, to, now))
    }
}
