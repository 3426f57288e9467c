//! The downgrade workflow (the original's "Mark as regular incident"): an incident declared as
//! critical turns out to be a regular one. It is closed at once, whatever its status, and marked
//! ignored, so it leaves the critical incidents (App Home, reminders, the select lists) and the close
//! guard does not apply; it keeps its ticket, if an integration made one, as a regular incident.

use super::update::field_name;
use super::{IncidentLifecycle, LifecycleError, emit, now, optional_text, record_change};
use crate::events::{Actor, DomainEvent, IncidentClosed, IncidentUpdated};
use crate::incident::{ChangedField, IncidentChanges, IncidentId, TimelineEntry, Updated};
use crate::ports::{IncidentStore, PostMortemBackend};
use crate::status::IncidentStatus;

impl<S: IncidentStore, P: PostMortemBackend> IncidentLifecycle<S, P> {
    /// Closes the incident as a regular one and marks it ignored, with `message` on its timeline.
    ///
    /// # Errors
    /// `ALREADY_CLOSED` on `status` when it is closed, the incident does not exist, or a storage
    /// failure.
    pub fn downgrade(
        &self,
        actor: Actor,
        id: IncidentId,
        message: Option<&str>,
    ) -> Result<Updated, LifecycleError> {
        let message = optional_text(message);
        self.store.write(&mut |tx| {
            let current = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            if current.status == IncidentStatus::Closed {
                return Err(LifecycleError::invalid(
                    "status",
                    "ALREADY_CLOSED",
                    "the incident is already closed",
                ));
            }
            let now = now();
            let changes = IncidentChanges {
                status: Some(IncidentStatus::Closed),
                closed_at: Some(Some(now)),
                ignored: Some(true),
                ..IncidentChanges::default()
            };
            tx.update_incident(id, &changes, now)?;
            let entry = TimelineEntry {
                message: message.clone(),
                status: Some(IncidentStatus::Closed),
                event_type: Some("downgraded".to_owned()),
                ..TimelineEntry::default()
            };
            tx.insert_timeline_entry(id, &entry, Some(actor.user), now, now)?;
            let changed = vec![ChangedField::Status, ChangedField::Ignored];
            let updated = IncidentUpdated {
                changed_fields: changed.iter().map(|field| field_name(*field).to_owned()).collect(),
                status: IncidentStatus::Closed.label().to_owned(),
                old_status: current.status.label().to_owned(),
                priority: current.priority.name.clone(),
                old_priority: None,
                message: message.clone(),
                event_type: Some("downgraded".to_owned()),
            };
            record_change(
                tx,
                actor,
                (id, current.version),
                "incident.downgrade",
                ("incident", id.0.to_string()),
                DomainEvent::IncidentUpdated(updated),
                now,
            )?;
            let closed = IncidentClosed { closure_reason: None, closure_reference: None };
            emit(tx, actor, id, current.version, DomainEvent::IncidentClosed(closed), now)?;
            Ok(Updated { changed, status: IncidentStatus::Closed })
        })
    }
}
