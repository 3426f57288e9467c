//! Declaring an incident: the creator (found or created by e-mail), its priority (given or derived
//! from impacts), the first timeline entry and key event, and the dedup key that makes a repeated
//! declaration return the incident already open.

use std::collections::HashSet;

use chrono::NaiveDateTime;

use super::{
    DEDUP_CONSTRAINT, DEDUP_KEY_MAX_CHARS, IncidentLifecycle, LifecycleError, TITLE_MAX_CHARS, now,
    record_change, required_text, unknown,
};
use crate::access::Permission;
use crate::events::{Actor, AuditEntry, DomainEvent, IncidentCreated};
use crate::impact::priority_value_from_impacts;
use crate::incident::{
    Creator, DeclareIncident, Declared, NewIncident, PriorityChoice, PriorityRef, TimelineEntry,
};
use crate::ports::{IncidentStore, IncidentTransaction, PostMortemBackend, RepositoryError};
use crate::status::IncidentStatus;
use crate::user::{Email, NewUser, UserId};

impl<S: IncidentStore, P: PostMortemBackend> IncidentLifecycle<S, P> {
    /// Declares an incident: the creator gets the required roles and membership, the timeline gets its
    /// first entry and the `declared` key event. With a `dedup_key` held by an open incident (at or
    /// below Mitigated), that incident is returned as [`Declared::Existing`] and nothing is written.
    ///
    /// # Errors
    /// Invalid input, unknown reference data, all impacts "no impact", or a storage failure.
    pub fn declare(&self, actor: Actor, command: &DeclareIncident) -> Result<Declared, LifecycleError> {
        let title = required_text("title", &command.title, TITLE_MAX_CHARS)?;
        let description = required_text("description", &command.description, usize::MAX)?;
        let dedup_key = match command.dedup_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(key) if key.chars().count() > DEDUP_KEY_MAX_CHARS => {
                return Err(LifecycleError::invalid(
                    "dedup_key",
                    "INVALID",
                    format!("at most {DEDUP_KEY_MAX_CHARS} characters"),
                ));
            }
            Some(key) => Some(key.to_owned()),
        };
        if let Some(key) = &dedup_key
            && let Some(holder) = self.store.read(&mut |tx| Ok(tx.open_incident_with_dedup_key(key)?))?
        {
            return Ok(Declared::Existing(holder));
        }
        let result = self.store.write(&mut |tx| {
            let now = now();
            let creator = match &command.created_by {
                None => actor.user,
                Some(Creator::User(user)) => *user,
                Some(Creator::Email(email)) => creator_by_email(tx, actor, email, now)?,
            };
            let (priority, category, environment) = match &command.priority {
                PriorityChoice::Given(id) => {
                    let (priority, category, environment) =
                        tx.declaration_references(id, &command.category_id, &command.environment_id)?;
                    let priority = priority.ok_or_else(|| unknown("priority_id", "priority", id))?;
                    if !priority.enabled_create {
                        return Err(LifecycleError::invalid(
                            "priority_id",
                            "PRIORITY_NOT_ENABLED",
                            format!("priority {} cannot be used to declare an incident", priority.name),
                        ));
                    }
                    (priority, category, environment)
                }
                PriorityChoice::FromImpacts(level_ids) => {
                    let priority = priority_from_impacts(tx, level_ids)?;
                    (priority, tx.category(&command.category_id)?, tx.environment(&command.environment_id)?)
                }
            };
            let category =
                category.ok_or_else(|| unknown("incident_category_id", "category", &command.category_id))?;
            let environment = environment
                .ok_or_else(|| unknown("environment_id", "environment", &command.environment_id))?;
            let custom_fields = serde_json::Value::Object(command.custom_fields.clone()).to_string();
            let incident = NewIncident {
                title: title.clone(),
                description: description.clone(),
                priority_id: priority.id.clone(),
                category_id: category.id.clone(),
                environment_id: environment.id.clone(),
                created_by: creator,
                private: command.private.unwrap_or(category.private),
                dedup_key: dedup_key.clone(),
                ignored: command.ignored,
                custom_fields,
            };
            let id = tx.insert_incident(&incident, now)?;
            let required_roles: Vec<_> = tx.role_types()?.into_iter().filter(|role| role.required).collect();
            if !tx.user_exists(creator)? {
                return Err(LifecycleError::invalid(
                    "created_by",
                    "DOES_NOT_EXIST",
                    format!("no user {creator}"),
                ));
            }
            for role in &required_roles {
                tx.set_role(id, role.id, creator, now)?;
            }
            let commander = required_roles.iter().any(|role| role.slug == "commander").then_some(creator);
            tx.insert_timeline_entry(
                id,
                &TimelineEntry {
                    status: Some(IncidentStatus::Open),
                    priority_id: Some(priority.id.clone()),
                    environment_id: Some(environment.id.clone()),
                    category_id: Some(category.id.clone()),
                    title: Some(title.clone()),
                    description: Some(description.clone()),
                    commander,
                    ..TimelineEntry::default()
                },
                Some(creator),
                now,
                now,
            )?;
            tx.set_key_event(id, "declared", now, Some(creator), now)?;
            tx.add_member(id, creator, now)?;
            if let PriorityChoice::FromImpacts(level_ids) = &command.priority {
                for level in tx.impact_levels(level_ids)? {
                    tx.link_impact(id, &level, now)?;
                }
            }
            let created = IncidentCreated {
                title: title.clone(),
                priority: priority.name.clone(),
                category_id: category.id.clone(),
                environment: environment.value.clone(),
                private: incident.private,
                dedup_key: dedup_key.clone(),
                created_by: creator.to_string(),
            };
            let event = DomainEvent::IncidentCreated(created);
            // A new incident is at version 0; every later change bumps it (`lock_incident`).
            record_change(
                tx,
                actor,
                (id, 0),
                "incident.declare",
                ("incident", id.0.to_string()),
                event,
                now,
            )?;
            Ok(id)
        });
        match result {
            Ok(id) => Ok(Declared::Created(id)),
            Err(LifecycleError::Storage(RepositoryError::Conflict { constraint }))
                if constraint == DEDUP_CONSTRAINT && dedup_key.is_some() =>
            {
                // Another declaration with this key committed first: return it.
                let key = dedup_key.as_deref().unwrap_or_default();
                match self.store.read(&mut |tx| Ok(tx.open_incident_with_dedup_key(key)?))? {
                    Some(holder) => Ok(Declared::Existing(holder)),
                    None => Err(LifecycleError::Storage(RepositoryError::Conflict { constraint })),
                }
            }
            Err(other) => Err(other),
        }
    }
}

/// The user with `email`, created on first sight with the responder permissions and audited. A
/// concurrent declaration that created them first wins; this one uses theirs.
fn creator_by_email(
    tx: &mut dyn IncidentTransaction,
    actor: Actor,
    email: &Email,
    now: NaiveDateTime,
) -> Result<UserId, LifecycleError> {
    user_by_email_or_create(tx, email, "", Ok(actor), "named as the creator of a declaration", now)
}

/// The user with `email`, or a new one (responder permissions), audited with `actor`, or, when
/// nobody acts for them (`Err(entry point)`), as themselves through that entry point.
pub(super) fn user_by_email_or_create(
    tx: &mut dyn IncidentTransaction,
    email: &Email,
    name: &str,
    actor: Result<Actor, crate::EntryPoint>,
    reason: &str,
    now: NaiveDateTime,
) -> Result<UserId, LifecycleError> {
    if let Some(user) = tx.user_by_email(email)? {
        return Ok(user);
    }
    let permissions = Permission::responder();
    let new = NewUser { email: email.clone(), name: name.to_owned(), is_admin: false, password_hash: None };
    match tx.create_user(&new, &permissions, now) {
        Ok(user) => {
            let granted: Vec<String> = permissions.iter().map(ToString::to_string).collect();
            let actor = actor.unwrap_or_else(|entry_point| Actor { user, entry_point });
            tx.append_audit(
                &AuditEntry {
                    actor,
                    action: "user.create",
                    object_type: "user",
                    object_id: user.to_string(),
                    incident_id: None,
                    details: serde_json::json!({
                        "email": email.as_str(),
                        "reason": reason,
                        "permissions": granted,
                    }),
                },
                now,
            )?;
            Ok(user)
        }
        Err(RepositoryError::Conflict { .. }) => tx.user_by_email(email)?.ok_or_else(|| {
            LifecycleError::Storage(RepositoryError::Conflict { constraint: "users_email_key".to_owned() })
        }),
        Err(other) => Err(other.into()),
    }
}

fn priority_from_impacts(
    tx: &mut dyn IncidentTransaction,
    level_ids: &[String],
) -> Result<PriorityRef, LifecycleError> {
    let levels = tx.impact_levels(level_ids)?;
    let known: HashSet<&str> = levels.iter().map(|level| level.id.as_str()).collect();
    if let Some(missing) = level_ids.iter().find(|id| !known.contains(id.as_str())) {
        return Err(unknown("impacts", "impact level", missing));
    }
    let mut types = HashSet::new();
    if levels.iter().any(|level| !types.insert(level.impact_type_id)) {
        return Err(LifecycleError::invalid("impacts", "INVALID", "at most one level per impact type"));
    }
    let value = priority_value_from_impacts(levels.iter().map(|level| level.code))?;
    tx.priority_by_value(value)?.ok_or_else(|| {
        LifecycleError::invalid(
            "impacts",
            "DOES_NOT_EXIST",
            format!("no priority with value {value} is configured"),
        )
    })
}
