//! Assigning and removing an incident's roles (commander, communication lead …): a required role
//! always has a holder, and whoever holds a role is a member of the incident.

use std::collections::HashMap;

use super::{IncidentLifecycle, LifecycleError, now, record_change};
use crate::events::{Actor, DomainEvent, RoleChange, RolesUpdated};
use crate::incident::{IncidentId, TimelineEntry};
use crate::ports::{IncidentStore, PostMortemBackend};
use crate::user::UserId;

impl<S: IncidentStore, P: PostMortemBackend> IncidentLifecycle<S, P> {
    /// Assigns or removes roles. A required role cannot be removed; assigning a role also makes the
    /// user a member of the incident.
    ///
    /// # Errors
    /// Unknown role or user, removal of a required role, nothing changed, or a storage failure.
    pub fn set_roles(
        &self,
        actor: Actor,
        id: IncidentId,
        changes: &[(String, Option<UserId>)],
    ) -> Result<(), LifecycleError> {
        self.store.write(&mut |tx| {
            let current = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            let now = now();
            let role_types = tx.role_types()?;
            let mut holders: HashMap<i64, UserId> = tx.roles(id)?.into_iter().collect();
            let mut applied = Vec::new();
            for (slug, user) in changes {
                let role = role_types.iter().find(|role| role.slug == *slug).ok_or_else(|| {
                    LifecycleError::invalid("roles", "UNKNOWN_ROLE", format!("no role type {slug:?}"))
                })?;
                match user {
                    Some(user) => {
                        if holders.get(&role.id) == Some(user) {
                            continue;
                        }
                        if !tx.user_exists(*user)? {
                            return Err(LifecycleError::invalid(
                                "roles",
                                "UNKNOWN_USER",
                                format!("no user {user}"),
                            ));
                        }
                        tx.set_role(id, role.id, *user, now)?;
                        tx.add_member(id, *user, now)?;
                        holders.insert(role.id, *user);
                        applied.push(RoleChange { role: slug.clone(), user_id: Some(user.to_string()) });
                    }
                    None => {
                        if role.required {
                            return Err(LifecycleError::invalid(
                                "roles",
                                "REQUIRED_ROLE",
                                format!("role {slug} is required and cannot be removed"),
                            ));
                        }
                        if holders.remove(&role.id).is_some() {
                            tx.remove_role(id, role.id)?;
                            applied.push(RoleChange { role: slug.clone(), user_id: None });
                        }
                    }
                }
            }
            if applied.is_empty() {
                return Err(LifecycleError::NothingToUpdate);
            }
            let holder_of = |slug: &str| {
                role_types
                    .iter()
                    .find(|role| role.slug == slug)
                    .and_then(|role| holders.get(&role.id).copied())
            };
            tx.insert_timeline_entry(
                id,
                &TimelineEntry {
                    commander: holder_of("commander"),
                    communication_lead: holder_of("communication_lead"),
                    event_type: Some("roles_updated".to_owned()),
                    ..TimelineEntry::default()
                },
                Some(actor.user),
                now,
                now,
            )?;
            let event = DomainEvent::RolesUpdated(RolesUpdated { changes: applied });
            record_change(
                tx,
                actor,
                (id, current.version),
                "incident.roles",
                ("incident", id.0.to_string()),
                event,
                now,
            )?;
            Ok(())
        })
    }
}
