//! Incidents as the lifecycle sees them: their state, the reference rows rules look at, and the
//! commands entry points send.

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::money::Amount;
use crate::status::{ClosureReason, IncidentStatus};
use crate::user::UserId;

/// An incident's id: the `#123` people say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(pub i64);

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The parts of a priority the rules use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityRef {
    pub id: String,
    pub name: String,
    pub value: i32,
    pub needs_postmortem: bool,
    pub enabled_create: bool,
    pub enabled_update: bool,
}

/// The parts of an environment the rules use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentRef {
    pub id: String,
    /// `PRD` is production.
    pub value: String,
}

impl EnvironmentRef {
    /// Whether this is production, where P1/P2 incidents need a post-mortem.
    #[must_use]
    pub fn is_production(&self) -> bool {
        self.value == "PRD"
    }
}

/// The parts of a category the rules use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRef {
    pub id: String,
    pub private: bool,
}

/// An impact level, with its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactLevelRef {
    pub id: String,
    pub impact_type_id: i64,
    pub code: crate::impact::ImpactLevelCode,
}

/// A role type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTypeRef {
    pub id: i64,
    pub slug: String,
    pub required: bool,
}

/// A key-event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEventTypeRef {
    pub event_type: String,
    pub user_editable: bool,
    pub required: bool,
}

/// A metric type: `end_event − start_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricTypeRef {
    pub id: i64,
    pub slug: String,
    pub end_event: String,
    pub start_event: String,
}

/// An incident's state, as the rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentState {
    pub id: IncidentId,
    pub title: String,
    pub description: String,
    pub status: IncidentStatus,
    pub priority: PriorityRef,
    pub environment: EnvironmentRef,
    pub category_id: String,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub mitigated_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub closure_reason: Option<ClosureReason>,
    pub closure_reference: String,
    pub dedup_key: Option<String>,
    pub ignored: bool,
    pub private: bool,
    /// Bumped by every change (`IncidentTransaction::lock_incident`); 0 for a new incident.
    pub version: i64,
}

/// How a declaration picks its priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriorityChoice {
    /// This priority.
    Given(String),
    /// Derived from these impact levels (one per impact type): the most severe level wins.
    FromImpacts(Vec<String>),
}

/// Declaring an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclareIncident {
    pub title: String,
    pub description: String,
    pub priority: PriorityChoice,
    pub category_id: String,
    pub environment_id: String,
    /// Defaults to the category's privacy.
    pub private: Option<bool>,
    /// While an incident with this key is at or below Mitigated, declaring again returns it.
    pub dedup_key: Option<String>,
    pub ignored: bool,
    /// Extra fields from the entry point (platforms, ticket ids …), a JSON object.
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// Who the incident is declared for, when the actor declares on someone's behalf (the API's
    /// `created_by_email`): they become creator, commander and member. `None`: the actor.
    pub created_by: Option<Creator>,
}

/// Whom an incident is declared for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creator {
    /// An existing user.
    User(UserId),
    /// The user with this e-mail address, created on first sight (with the responder permissions,
    /// `access::Permission::responder`) inside the declaration's transaction, and audited.
    Email(crate::user::Email),
}

/// What a declaration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// A new incident.
    Created(IncidentId),
    /// An open incident already held the dedup key: nothing was written.
    Existing(IncidentId),
}

impl Declared {
    /// The incident, new or existing.
    #[must_use]
    pub const fn id(self) -> IncidentId {
        match self {
            Self::Created(id) | Self::Existing(id) => id,
        }
    }

    /// Whether this was an idempotent hit on an existing incident.
    #[must_use]
    pub const fn is_existing(self) -> bool {
        matches!(self, Self::Existing(_))
    }
}

/// Updating an incident: every field is optional; only real changes are recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateIncident {
    pub message: Option<String>,
    pub status: Option<IncidentStatus>,
    pub priority_id: Option<String>,
    pub category_id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub environment_id: Option<String>,
    /// Required when closing from Open or Investigating.
    pub closure_reason: Option<ClosureReason>,
    /// Free text such as `#1234` or a URL, kept with the closure reason.
    pub closure_reference: Option<String>,
    /// A marker for the timeline entry, set by an entry point for what it did (`send_sos`,
    /// `trigger_oncall`): lower-case letters, digits and `_`, at most 64.
    pub event_type: Option<String>,
}

/// A field an update changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedField {
    Status,
    Priority,
    Category,
    Title,
    Description,
    Environment,
    ClosureReason,
    Costs,
    /// Marked ignored (the downgrade workflow): left out of the critical incidents.
    Ignored,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    pub changed: Vec<ChangedField>,
    pub status: IncidentStatus,
}

/// Setting or clearing key events: event type → timestamp (UTC) or `None` to clear.
pub type KeyEventChanges = Vec<(String, Option<NaiveDateTime>)>;

/// Assigning or removing roles: role slug → user or `None` to remove.
pub type RoleChanges = Vec<(String, Option<UserId>)>;

/// A cost on an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostInput {
    pub cost_type_id: i64,
    pub amount: Option<Amount>,
    /// ISO 4217 code; `EUR` when unset.
    pub currency: Option<String>,
    pub details: Option<String>,
}

/// A cost as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostRecord {
    pub id: i64,
    pub incident_id: IncidentId,
    pub cost_type_id: i64,
    pub cost_type_name: String,
    pub amount: Option<Amount>,
    pub currency: String,
    pub details: Option<String>,
}

/// A timeline entry to write: only the fields that changed are set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineEntry {
    pub message: Option<String>,
    pub status: Option<IncidentStatus>,
    pub priority_id: Option<String>,
    pub environment_id: Option<String>,
    pub category_id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub commander: Option<UserId>,
    pub communication_lead: Option<UserId>,
    /// A key event (`declared`, `recovered` …) or a system marker (`closure_reason`, `cost_added` …).
    pub event_type: Option<String>,
}

/// The incident columns an update writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentChanges {
    pub status: Option<IncidentStatus>,
    pub priority_id: Option<String>,
    pub category_id: Option<String>,
    pub environment_id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub mitigated_at: Option<NaiveDateTime>,
    /// `Some(None)` clears it (reopening).
    pub closed_at: Option<Option<NaiveDateTime>>,
    /// `Some(None)` clears it (reopening).
    pub closure_reason: Option<Option<ClosureReason>>,
    pub closure_reference: Option<String>,
    pub ignored: Option<bool>,
}

/// A new incident row.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub title: String,
    pub description: String,
    pub priority_id: String,
    pub category_id: String,
    pub environment_id: String,
    pub created_by: UserId,
    pub private: bool,
    pub dedup_key: Option<String>,
    pub ignored: bool,
    pub custom_fields: String,
}
