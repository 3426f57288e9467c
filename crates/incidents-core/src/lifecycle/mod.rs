//! The incident lifecycle: the one service every entry point (REST API, Slack, dashboard, Jira
//! webhooks) calls to declare and change incidents. It applies the rules; the store port does the I/O.
//!
//! Every change runs in one transaction that writes the change, its timeline entry, an audit-log row
//! and its domain events (to the outbox). Nothing here talks to the outside world.
//!
//! One file per use case, each adding its commands to [`IncidentLifecycle`]: `declare`, `update`
//! (with the close guard), `roles`, `key_events` and `costs`. This file holds what they share: the
//! service, its error type and the helpers every command writes through. The decision an update makes
//! is a pure function, [`plan_update`], so its rules are tested without a database.

mod costs;
mod declare;
mod downgrade;
mod key_events;
mod members;
mod roles;
mod update;

use chrono::NaiveDateTime;

use crate::events::{Actor, AuditEntry, DomainEvent, EventEnvelope};
use crate::impact::NoImpactError;
use crate::incident::IncidentId;
use crate::metrics::compute_metrics;
use crate::ports::{IncidentStore, IncidentTransaction, PostMortemBackend, RepositoryError};
use crate::workflow::{CloseBlocker, TransitionError};

pub use update::{UpdatePlan, UpdateReferences, ValidatedUpdate, plan_update};

/// The constraint storage reports when an open incident already holds a dedup key.
pub const DEDUP_CONSTRAINT: &str = "incidents_unique_open_dedup_key";

/// Longest title.
pub const TITLE_MAX_CHARS: usize = 128;
/// Longest dedup key.
pub const DEDUP_KEY_MAX_CHARS: usize = 160;
/// Longest closure reference.
pub const CLOSURE_REFERENCE_MAX_CHARS: usize = 100;

/// Why the lifecycle refused a command. Each variant has a stable code shown alike by every entry point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// An input is invalid; `field` names it.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, code: &'static str, message: String },
    #[error("incident {0} does not exist")]
    IncidentNotFound(IncidentId),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The close guard found reasons the incident may not close yet.
    #[error("the incident cannot be closed yet: {}", blockers.iter().map(|b| b.message.as_str()).collect::<Vec<_>>().join(" "))]
    CannotClose { blockers: Vec<CloseBlocker> },
    #[error("nothing to update: no field changed and no message was given")]
    NothingToUpdate,
    /// Reopening would give a second open incident the same dedup key.
    #[error("another open incident{} holds this incident's dedup key", holder.map(|h| format!(" ({h})")).unwrap_or_default())]
    DedupKeyTaken { holder: Option<IncidentId> },
    #[error(transparent)]
    NoImpact(#[from] NoImpactError),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

impl LifecycleError {
    /// The stable machine code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { code, .. } => code,
            Self::IncidentNotFound(_) => "INCIDENT_NOT_FOUND",
            Self::Transition(error) => error.code(),
            Self::CannotClose { blockers } => blockers.first().map_or("CANNOT_CLOSE", |b| b.code),
            Self::NothingToUpdate => "NO_CHANGE",
            Self::DedupKeyTaken { .. } => "DEDUP_KEY_TAKEN",
            Self::NoImpact(_) => "NO_IMPACT",
            Self::Storage(RepositoryError::Unavailable(_)) => "UNAVAILABLE",
            Self::Storage(_) => "STORAGE_ERROR",
        }
    }

    fn invalid(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, code, message: message.into() }
    }
}

pub use crate::clock::now;

/// The lifecycle service.
#[derive(Clone)]
pub struct IncidentLifecycle<S, P> {
    store: S,
    postmortems: P,
}

impl<S, P> std::fmt::Debug for IncidentLifecycle<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentLifecycle").finish_non_exhaustive()
    }
}

impl<S: IncidentStore, P: PostMortemBackend> IncidentLifecycle<S, P> {
    /// A service over a store and a post-mortem backend.
    pub fn new(store: S, postmortems: P) -> Self {
        Self { store, postmortems }
    }

    /// The store, for read models.
    pub fn store(&self) -> &S {
        &self.store
    }
}

/// Appends `event` to the outbox with its circumstances.
fn emit(
    tx: &mut dyn IncidentTransaction,
    actor: Actor,
    incident_id: IncidentId,
    incident_version: i64,
    event: DomainEvent,
    now: NaiveDateTime,
) -> Result<(), LifecycleError> {
    tx.append_event(&EventEnvelope { incident_id, actor, incident_version, event }, now)?;
    Ok(())
}

/// Records a change to an incident: its audit row (the event's payload as its details) and its
/// outbox event, in the caller's transaction. `object` is what the audit row is about (the incident
/// itself, or one of its costs).
fn record_change(
    tx: &mut dyn IncidentTransaction,
    actor: Actor,
    (incident_id, incident_version): (IncidentId, i64),
    action: &'static str,
    (object_type, object_id): (&'static str, String),
    event: DomainEvent,
    now: NaiveDateTime,
) -> Result<(), LifecycleError> {
    let entry = AuditEntry {
        actor,
        action,
        object_type,
        object_id,
        incident_id: Some(incident_id),
        details: event.payload(),
    };
    tx.append_audit(&entry, now)?;
    emit(tx, actor, incident_id, incident_version, event, now)
}

fn required_text(field: &'static str, value: &str, max_chars: usize) -> Result<String, LifecycleError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(LifecycleError::invalid(field, "REQUIRED", "must not be blank"));
    }
    if value.chars().count() > max_chars {
        return Err(LifecycleError::invalid(field, "TOO_LONG", format!("at most {max_chars} characters")));
    }
    Ok(value.to_owned())
}

fn optional_text(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn unknown(field: &'static str, what: &str, id: &str) -> LifecycleError {
    LifecycleError::invalid(field, "DOES_NOT_EXIST", format!("no {what} with id {id:?}"))
}

fn missing_key_events(
    tx: &mut dyn IncidentTransaction,
    id: IncidentId,
) -> Result<Vec<String>, LifecycleError> {
    let recorded = tx.key_events(id)?;
    Ok(tx
        .key_event_types()?
        .into_iter()
        .filter(|kind| kind.required && !recorded.contains_key(&kind.event_type))
        .map(|kind| kind.event_type)
        .collect())
}

fn recompute_metrics(
    tx: &mut dyn IncidentTransaction,
    id: IncidentId,
    now: NaiveDateTime,
) -> Result<(), LifecycleError> {
    let events = tx.key_events(id)?;
    let metric_types = tx.metric_types()?;
    tx.replace_metrics(id, &compute_metrics(&events, &metric_types), now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(required_text("title", "  Checkout down  ", 128), Ok("Checkout down".to_owned()));
        assert!(matches!(
            required_text("title", "   ", 128),
            Err(LifecycleError::Invalid { code: "REQUIRED", .. })
        ));
        assert!(matches!(
            required_text("title", &"é".repeat(129), 128),
            Err(LifecycleError::Invalid { code: "TOO_LONG", .. })
        ));
        assert_eq!(optional_text(Some("  ")), None);
    }
}
