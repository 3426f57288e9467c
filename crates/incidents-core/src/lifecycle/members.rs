//! Who takes part in an incident: people join and leave its conversation (a chat platform reports
//! it), and people first seen through an integration become users.

use super::declare::user_by_email_or_create;
use super::{IncidentLifecycle, LifecycleError, now};
use crate::events::{Actor, AuditEntry, EntryPoint};
use crate::incident::IncidentId;
use crate::ports::{IncidentStore, PostMortemBackend};
use crate::user::{Email, UserId};

impl<S: IncidentStore, P: PostMortemBackend> IncidentLifecycle<S, P> {
    /// The user with `email`; created on first sight (with the responder permissions, audited) when
    /// an integration meets someone the product does not know yet.
    ///
    /// # Errors
    /// A storage failure.
    pub fn provision_user(
        &self,
        email: &Email,
        name: &str,
        entry_point: EntryPoint,
        reason: &str,
    ) -> Result<UserId, LifecycleError> {
        // Audited as themselves, through the integration that met them.
        self.store.write(&mut |tx| user_by_email_or_create(tx, email, name, Err(entry_point), reason, now()))
    }

    /// `actor.user` joined the incident (its conversation): they become a member. `Ok(false)` when
    /// they already were one.
    ///
    /// # Errors
    /// No such incident, or a storage failure.
    pub fn add_member(&self, actor: Actor, id: IncidentId) -> Result<bool, LifecycleError> {
        self.store.write(&mut |tx| {
            tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            if tx.is_member(id, actor.user)? {
                return Ok(false);
            }
            let now = now();
            tx.add_member(id, actor.user, now)?;
            tx.append_audit(&membership_entry(actor, id, "incident.member_add"), now)?;
            Ok(true)
        })
    }

    /// `actor.user` left the incident (its conversation): they are no longer a member, unless they
    /// hold one of its roles. `Ok(false)` when nothing changed.
    ///
    /// # Errors
    /// No such incident, or a storage failure.
    pub fn remove_member(&self, actor: Actor, id: IncidentId) -> Result<bool, LifecycleError> {
        self.store.write(&mut |tx| {
            tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            if tx.roles(id)?.iter().any(|(_, holder)| *holder == actor.user) {
                return Ok(false);
            }
            if !tx.remove_member(id, actor.user)? {
                return Ok(false);
            }
            tx.append_audit(&membership_entry(actor, id, "incident.member_remove"), now())?;
            Ok(true)
        })
    }
}

fn membership_entry(actor: Actor, id: IncidentId, action: &'static str) -> AuditEntry {
    AuditEntry {
        actor,
        action,
        object_type: "incident",
        object_id: id.0.to_string(),
        incident_id: Some(id),
        details: serde_json::json!({"user_id": actor.user.to_string()}),
    }
}
