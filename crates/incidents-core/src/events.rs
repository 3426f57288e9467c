//! Domain events and audit entries: what the lifecycle writes beside every change, in the same
//! transaction. Events go to the outbox for the jobs to act on; audit entries are the permanent record.
//!
//! An event is a [`DomainEvent`] (one payload type per kind) inside an [`EventEnvelope`] that says
//! who caused it ([`Actor`]: a user and an [`EntryPoint`]), which incident it concerns and the
//! incident version the change produced. Integrations use the entry point and the version to avoid
//! echoing a change back to where it came from (a Jira edit must not be sent back to Jira).
//!
//! The payloads are the JSON shapes outgoing webhooks carry as `changes`: adding a field is
//! compatible; renaming or removing one needs a new [`EVENT_SCHEMA_VERSION`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::incident::IncidentId;
use crate::user::UserId;

/// The version of the event payloads' shapes, stored with every outbox row and sent with every
/// webhook. Bumped when a payload changes incompatibly.
pub const EVENT_SCHEMA_VERSION: i32 = 1;

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryPoint {
    Api,
    Cli,
    Slack,
    Web,
    Jira,
    #[serde(rename = "pagerduty")]
    PagerDuty,
    System,
}

impl EntryPoint {
    /// Every entry point.
    pub const ALL: [Self; 7] =
        [Self::Api, Self::Cli, Self::Slack, Self::Web, Self::Jira, Self::PagerDuty, Self::System];

    /// The stored value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Cli => "cli",
            Self::Slack => "slack",
            Self::Web => "web",
            Self::Jira => "jira",
            Self::PagerDuty => "pagerduty",
            Self::System => "system",
        }
    }

    /// The entry point stored as `value`.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|entry_point| entry_point.as_str() == value)
    }
}

/// Who is acting, and through which entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    pub entry_point: EntryPoint,
}

/// The kinds of domain event: the names subscribers (webhook endpoints, jobs) know them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    IncidentCreated,
    IncidentUpdated,
    IncidentClosed,
    RolesUpdated,
    KeyEventsUpdated,
}

impl EventType {
    /// Every kind, in the order documentation lists them.
    pub const ALL: [Self; 5] = [
        Self::IncidentCreated,
        Self::IncidentUpdated,
        Self::IncidentClosed,
        Self::RolesUpdated,
        Self::KeyEventsUpdated,
    ];

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

    /// The kind named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// `incident_created`: what the declaration recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentCreated {
    pub title: String,
    /// The priority's name (`P1` …).
    pub priority: String,
    pub category_id: String,
    /// The environment's value (`PRD` …).
    pub environment: String,
    pub private: bool,
    pub dedup_key: Option<String>,
    /// The creator's user id.
    pub created_by: String,
}

/// A priority as it was before a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityBefore {
    pub id: String,
    pub name: String,
    pub value: i32,
}

/// `incident_updated` after an update of the incident's fields or status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentUpdated {
    /// `status`, `priority`, `incident_category`, `title`, `description`, `environment`, `closure_reason`.
    pub changed_fields: Vec<String>,
    /// The status label after the change.
    pub status: String,
    pub old_status: String,
    /// The priority's name after the change.
    pub priority: String,
    /// Set when the priority changed.
    pub old_priority: Option<PriorityBefore>,
    pub message: Option<String>,
    /// What an entry point did, when it says (`send_sos`, `trigger_oncall`, `postmortem_requested`,
    /// `downgraded`): integrations react to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
}

/// A cost added, changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostChange {
    pub id: i64,
    /// `added`, `changed` or `removed`.
    pub change: String,
    pub cost_type: String,
    /// Decimal, e.g. `"1200.50"`.
    pub amount: Option<String>,
    pub currency: String,
}

/// `incident_updated` after a change of costs (`changed_fields` is `["costs"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostsUpdated {
    pub changed_fields: Vec<String>,
    pub cost: CostChange,
}

/// `incident_closed`: sent after the `incident_updated` of the closing update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentClosed {
    pub closure_reason: Option<String>,
    pub closure_reference: Option<String>,
}

/// One role given or taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChange {
    /// The role type's slug (`commander` …).
    pub role: String,
    /// The new holder; `None` when the role was removed.
    pub user_id: Option<String>,
}

/// `roles_updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesUpdated {
    pub changes: Vec<RoleChange>,
}

/// One key event set or cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEventChange {
    pub event_type: String,
    /// RFC 3339; `None` when the key event was cleared.
    pub timestamp: Option<String>,
}

/// `key_events_updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEventsUpdated {
    pub changes: Vec<KeyEventChange>,
}

/// A domain event: one payload type per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    IncidentCreated(IncidentCreated),
    IncidentUpdated(IncidentUpdated),
    /// Also an `incident_updated` (its `changed_fields` is `["costs"]`).
    CostsUpdated(CostsUpdated),
    IncidentClosed(IncidentClosed),
    RolesUpdated(RolesUpdated),
    KeyEventsUpdated(KeyEventsUpdated),
}

/// Why a stored event could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventDecodeError {
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("event schema version {0} is newer than this build's ({EVENT_SCHEMA_VERSION})")]
    NewerSchema(i32),
    #[error("{event_type} payload: {message}")]
    Payload { event_type: &'static str, message: String },
}

impl DomainEvent {
    /// The kind, as subscribers know it.
    #[must_use]
    pub const fn event_type(&self) -> EventType {
        match self {
            Self::IncidentCreated(_) => EventType::IncidentCreated,
            Self::IncidentUpdated(_) | Self::CostsUpdated(_) => EventType::IncidentUpdated,
            Self::IncidentClosed(_) => EventType::IncidentClosed,
            Self::RolesUpdated(_) => EventType::RolesUpdated,
            Self::KeyEventsUpdated(_) => EventType::KeyEventsUpdated,
        }
    }

    /// The payload as stored and as webhooks send it (`changes`).
    #[must_use]
    pub fn payload(&self) -> Value {
        let value = match self {
            Self::IncidentCreated(payload) => serde_json::to_value(payload),
            Self::IncidentUpdated(payload) => serde_json::to_value(payload),
            Self::CostsUpdated(payload) => serde_json::to_value(payload),
            Self::IncidentClosed(payload) => serde_json::to_value(payload),
            Self::RolesUpdated(payload) => serde_json::to_value(payload),
            Self::KeyEventsUpdated(payload) => serde_json::to_value(payload),
        };
        // Plain structs of strings, numbers and options always serialize.
        value.unwrap_or(Value::Null)
    }

    /// Reads a stored event back.
    ///
    /// # Errors
    /// An unknown type, a newer schema, or a payload that does not fit its type.
    pub fn decode(event_type: &str, schema_version: i32, payload: &Value) -> Result<Self, EventDecodeError> {
        if schema_version > EVENT_SCHEMA_VERSION {
            return Err(EventDecodeError::NewerSchema(schema_version));
        }
        let kind = EventType::parse(event_type)
            .ok_or_else(|| EventDecodeError::UnknownType(event_type.to_owned()))?;
        fn read<T: serde::de::DeserializeOwned>(
            kind: EventType,
            payload: &Value,
        ) -> Result<T, EventDecodeError> {
            T::deserialize(payload).map_err(|error| EventDecodeError::Payload {
                event_type: kind.as_str(),
                message: error.to_string(),
            })
        }
        Ok(match kind {
            EventType::IncidentCreated => Self::IncidentCreated(read(kind, payload)?),
            EventType::IncidentUpdated if payload.get("cost").is_some() => {
                Self::CostsUpdated(read(kind, payload)?)
            }
            EventType::IncidentUpdated => Self::IncidentUpdated(read(kind, payload)?),
            EventType::IncidentClosed => Self::IncidentClosed(read(kind, payload)?),
            EventType::RolesUpdated => Self::RolesUpdated(read(kind, payload)?),
            EventType::KeyEventsUpdated => Self::KeyEventsUpdated(read(kind, payload)?),
        })
    }
}

/// An event with its circumstances: what the lifecycle appends to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEnvelope {
    pub incident_id: IncidentId,
    pub actor: Actor,
    /// The incident's version after the change (`incidents.version`; 0 for a new incident).
    pub incident_version: i64,
    pub event: DomainEvent,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back_as_itself() {
        let events = [
            DomainEvent::IncidentCreated(IncidentCreated {
                title: "Checkout down".into(),
                priority: "P1".into(),
                category_id: "c".into(),
                environment: "PRD".into(),
                private: false,
                dedup_key: None,
                created_by: "u".into(),
            }),
            DomainEvent::IncidentUpdated(IncidentUpdated {
                changed_fields: vec!["status".into()],
                status: "Mitigated".into(),
                old_status: "Open".into(),
                priority: "P2".into(),
                old_priority: None,
                message: Some("fixed".into()),
                event_type: Some("send_sos".into()),
            }),
            DomainEvent::CostsUpdated(CostsUpdated {
                changed_fields: vec!["costs".into()],
                cost: CostChange {
                    id: 3,
                    change: "added".into(),
                    cost_type: "Lost revenue".into(),
                    amount: Some("10.00".into()),
                    currency: "EUR".into(),
                },
            }),
            DomainEvent::IncidentClosed(IncidentClosed { closure_reason: None, closure_reference: None }),
            DomainEvent::RolesUpdated(RolesUpdated {
                changes: vec![RoleChange { role: "commander".into(), user_id: None }],
            }),
            DomainEvent::KeyEventsUpdated(KeyEventsUpdated {
                changes: vec![KeyEventChange { event_type: "detected".into(), timestamp: None }],
            }),
        ];
        for event in events {
            let decoded =
                DomainEvent::decode(event.event_type().as_str(), EVENT_SCHEMA_VERSION, &event.payload());
            assert_eq!(decoded.as_ref(), Ok(&event));
        }
        assert!(matches!(
            DomainEvent::decode("incident_created", EVENT_SCHEMA_VERSION + 1, &Value::Null),
            Err(EventDecodeError::NewerSchema(_))
        ));
        assert!(matches!(
            DomainEvent::decode("nope", 1, &Value::Null),
            Err(EventDecodeError::UnknownType(_))
        ));
    }

    #[test]
    fn names_parse_back() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
        for entry_point in EntryPoint::ALL {
            assert_eq!(EntryPoint::parse(entry_point.as_str()), Some(entry_point));
            assert_eq!(serde_json::to_value(entry_point).ok(), Some(Value::from(entry_point.as_str())));
        }
    }
}
