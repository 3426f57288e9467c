//! Domain events and audit entries: what the lifecycle writes beside every change, in the same
//! transaction. Events go to the outbox for the jobs to act on; audit entries are the permanent record.

use serde::Serialize;
use serde_json::Value;

use crate::incident::IncidentId;
use crate::user::UserId;

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryPoint {
    Api,
    Slack,
    Web,
    Jira,
    Cli,
    System,
}

impl EntryPoint {
    /// The stored value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Slack => "slack",
            Self::Web => "web",
            Self::Jira => "jira",
            Self::Cli => "cli",
            Self::System => "system",
        }
    }
}

/// Who is acting, and through which entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    pub entry_point: EntryPoint,
}

/// The kinds of domain event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    IncidentCreated,
    IncidentUpdated,
    IncidentClosed,
    RolesUpdated,
    KeyEventsUpdated,
}

impl EventType {
    /// The stored name, also the name subscribers (webhooks, jobs) see.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::IncidentCreated => "incident_created",
            Self::IncidentUpdated => "incident_updated",
            Self::IncidentClosed => "incident_closed",
            Self::RolesUpdated => "roles_updated",
            Self::KeyEventsUpdated => "key_events_updated",
        }
    }
}

/// A domain event, for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub event_type: EventType,
    pub incident_id: IncidentId,
    /// Event-specific data (changed fields, old priority, …), as JSON.
    pub payload: Value,
}

/// An audit-log entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub actor: Actor,
    /// What was done, e.g. `incident.declare`, `incident.update`, `incident.roles`.
    pub action: &'static str,
    pub object_type: &'static str,
    pub object_id: String,
    pub incident_id: Option<IncidentId>,
    /// What changed, as JSON.
    pub details: Value,
}
