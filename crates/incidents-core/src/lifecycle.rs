//! The incident lifecycle: the one service every entry point (REST API, Slack, dashboard, Jira
//! webhooks) calls to declare and change incidents. It applies the rules; the store port does the I/O.
//!
//! Every change runs in one transaction that writes the change, its timeline entry, an audit-log row
//! and its domain events (to the outbox). Nothing here talks to the outside world.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use crate::access::Permission;
use crate::events::{
    Actor, AuditEntry, CostChange, CostsUpdated, DomainEvent, EventEnvelope, IncidentClosed, IncidentCreated,
    IncidentUpdated, KeyEventChange, KeyEventsUpdated, PriorityBefore, RoleChange, RolesUpdated,
};
use crate::impact::{NoImpactError, priority_value_from_impacts};
use crate::incident::{
    ChangedField, CostInput, CostRecord, Creator, DeclareIncident, Declared, IncidentChanges, IncidentId,
    IncidentState, NewIncident, PriorityChoice, PriorityRef, TimelineEntry, UpdateIncident, Updated,
};
use crate::metrics::compute_metrics;
use crate::ports::{IncidentStore, IncidentTransaction, PostMortemBackend, RepositoryError};
use crate::status::IncidentStatus;
use crate::user::{Email, NewUser, UserId};
use crate::workflow::{
    CloseBlocker, CloseCheck, TransitionError, TransitionRequirement, check_transition, close_blockers,
};

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
            tx.append_audit(
                &AuditEntry {
                    actor,
                    action: "incident.declare",
                    object_type: "incident",
                    object_id: id.0.to_string(),
                    incident_id: Some(id),
                    details: event.payload(),
                },
                now,
            )?;
            // A new incident is at version 0; every later change bumps it (`lock_incident`).
            emit(tx, actor, id, 0, event, now)?;
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

    /// Updates an incident. Only fields that really change are recorded; an update with no change
    /// and no message is refused. Status changes follow the workflow (`crate::workflow`).
    ///
    /// # Errors
    /// Invalid input, a refused transition, close blockers, or a storage failure.
    pub fn update(
        &self,
        actor: Actor,
        id: IncidentId,
        command: &UpdateIncident,
    ) -> Result<Updated, LifecycleError> {
        let message = optional_text(command.message.as_deref());
        let title =
            command.title.as_deref().map(|t| required_text("title", t, TITLE_MAX_CHARS)).transpose()?;
        let description = command
            .description
            .as_deref()
            .map(|d| required_text("description", d, usize::MAX))
            .transpose()?;
        let closure_reference = match command.closure_reference.as_deref().map(str::trim) {
            Some(reference) if reference.chars().count() > CLOSURE_REFERENCE_MAX_CHARS => {
                return Err(LifecycleError::invalid(
                    "closure_reference",
                    "INVALID",
                    format!("at most {CLOSURE_REFERENCE_MAX_CHARS} characters"),
                ));
            }
            other => other.map(str::to_owned),
        };
        // The post-mortem backend may be remote: ask it before taking any lock.
        let postmortem = if command.status == Some(IncidentStatus::Closed) && self.postmortems.is_configured()
        {
            let state = self
                .store
                .read(&mut |tx| tx.load_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id)))?;
            (state.status == IncidentStatus::PostMortem).then(|| self.postmortems.state(id))
        } else {
            None
        };
        self.store.write(&mut |tx| {
            let current = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            // Read the clock once the lock is held, so timestamps follow the order of the writes.
            let now = now();
            let mut changes = IncidentChanges::default();
            let mut entry = TimelineEntry { message: message.clone(), ..TimelineEntry::default() };
            let mut changed = Vec::new();

            let mut priority = current.priority.clone();
            if let Some(priority_id) = command.priority_id.as_deref().filter(|p| *p != current.priority.id) {
                let new = tx
                    .priority(priority_id)?
                    .ok_or_else(|| unknown("priority_id", "priority", priority_id))?;
                if !new.enabled_update {
                    return Err(LifecycleError::invalid(
                        "priority_id",
                        "PRIORITY_NOT_ENABLED",
                        format!("an incident cannot be moved to priority {}", new.name),
                    ));
                }
                changes.priority_id = Some(new.id.clone());
                entry.priority_id = Some(new.id.clone());
                changed.push(ChangedField::Priority);
                priority = new;
            }
            let mut environment = current.environment.clone();
            if let Some(environment_id) =
                command.environment_id.as_deref().filter(|e| *e != current.environment.id)
            {
                let new = tx
                    .environment(environment_id)?
                    .ok_or_else(|| unknown("environment_id", "environment", environment_id))?;
                changes.environment_id = Some(new.id.clone());
                entry.environment_id = Some(new.id.clone());
                changed.push(ChangedField::Environment);
                environment = new;
            }
            if let Some(category_id) = command.category_id.as_deref().filter(|c| *c != current.category_id) {
                let new = tx
                    .category(category_id)?
                    .ok_or_else(|| unknown("incident_category_id", "category", category_id))?;
                changes.category_id = Some(new.id.clone());
                entry.category_id = Some(new.id);
                changed.push(ChangedField::Category);
            }
            if let Some(title) = title.as_ref().filter(|t| **t != current.title) {
                changes.title = Some(title.clone());
                entry.title = Some(title.clone());
                changed.push(ChangedField::Title);
            }
            if let Some(description) = description.as_ref().filter(|d| **d != current.description) {
                changes.description = Some(description.clone());
                entry.description = Some(description.clone());
                changed.push(ChangedField::Description);
            }

            let target = command.status.filter(|status| *status != current.status);
            if command.closure_reason.is_some() && target != Some(IncidentStatus::Closed) {
                return Err(LifecycleError::invalid(
                    "closure_reason",
                    "INVALID",
                    "a closure reason is only accepted when closing the incident",
                ));
            }
            let mut recovered_now = false;
            if let Some(target) = target {
                let needs_postmortem = priority.needs_postmortem
                    && environment.is_production()
                    && self.postmortems.is_configured();
                let requirement = check_transition(
                    current.status,
                    target,
                    needs_postmortem,
                    command.closure_reason.is_some(),
                    message.as_deref(),
                )?;
                if requirement == TransitionRequirement::ClosureReason
                    && command.closure_reason == Some(crate::status::ClosureReason::Resolved)
                {
                    return Err(LifecycleError::invalid(
                        "closure_reason",
                        "INVALID",
                        "an incident closed early cannot be \"resolved\": use duplicate, false_positive, superseded, external or cancelled",
                    ));
                }
                if target == IncidentStatus::Closed {
                    let missing = missing_key_events(tx, id)?;
                    let blockers = close_blockers(&CloseCheck {
                        status: current.status,
                        priority_value: priority.value,
                        has_closure_reason: requirement == TransitionRequirement::ClosureReason,
                        ignored: current.ignored,
                        needs_postmortem,
                        postmortem: postmortem.as_ref(),
                        missing_key_events: &missing,
                    });
                    if !blockers.is_empty() {
                        return Err(LifecycleError::CannotClose { blockers });
                    }
                    changes.closed_at = Some(Some(now));
                    if let Some(reason) = command.closure_reason {
                        changes.closure_reason = Some(Some(reason));
                        changes.closure_reference = Some(closure_reference.clone().unwrap_or_default());
                        changed.push(ChangedField::ClosureReason);
                    }
                    if requirement == TransitionRequirement::ClosureReason {
                        entry.event_type = Some("closure_reason".to_owned());
                    }
                }
                if current.status == IncidentStatus::Closed {
                    // Reopening: the incident is no longer closed, for any reason.
                    changes.closed_at = Some(None);
                    changes.closure_reason = Some(None);
                    changes.closure_reference = Some(String::new());
                }
                if target == IncidentStatus::Mitigated {
                    if current.mitigated_at.is_none() {
                        changes.mitigated_at = Some(now);
                    }
                    recovered_now = true;
                }
                changes.status = Some(target);
                entry.status = Some(target);
                changed.insert(0, ChangedField::Status);
            }
            if changed.is_empty() && message.is_none() {
                return Err(LifecycleError::NothingToUpdate);
            }
            if let (Some(key), Some(target)) = (&current.dedup_key, target)
                && !current.status.holds_dedup_key()
                && target.holds_dedup_key()
                && let Some(holder) = tx.open_incident_with_dedup_key(key)?
            {
                return Err(LifecycleError::DedupKeyTaken { holder: Some(holder) });
            }
            if changes != IncidentChanges::default() {
                match tx.update_incident(id, &changes, now) {
                    // A declaration took the key between the check and the write.
                    Err(RepositoryError::Conflict { constraint }) if constraint == DEDUP_CONSTRAINT => {
                        return Err(LifecycleError::DedupKeyTaken { holder: None });
                    }
                    other => other?,
                }
            }
            tx.insert_timeline_entry(id, &entry, Some(actor.user), now, now)?;
            if recovered_now {
                // Recovery defaults to the moment of mitigation; a recovery someone recorded stays.
                let key_events = tx.key_events(id)?;
                if !key_events.contains_key("recovered") {
                    tx.set_key_event(id, "recovered", now, Some(actor.user), now)?;
                    recompute_metrics(tx, id, now)?;
                }
            }
            let status = target.unwrap_or(current.status);
                        let event = DomainEvent::IncidentUpdated(IncidentUpdated {
                changed_fields: changed.iter().map(|field| field_name(*field).to_owned()).collect(),
                status: status.label().to_owned(),
                old_status: current.status.label().to_owned(),
                priority: priority.name.clone(),
                old_priority: changes.priority_id.is_some().then(|| PriorityBefore {
                    id: current.priority.id.clone(),
                    name: current.priority.name.clone(),
                    value: current.priority.value,
                }),
                message: message.clone(),
            });
            tx.append_audit(
                &AuditEntry {
                    actor,
                    action: "incident.update",
                    object_type: "incident",
                    object_id: id.0.to_string(),
                    incident_id: Some(id),
                    details: event.payload(),
                },
                now,
            )?;
            emit(tx, actor, id, current.version, event, now)?;
            if target == Some(IncidentStatus::Closed) {
                let closed = IncidentClosed {
                    closure_reason: command.closure_reason.map(|reason| reason.as_str().to_owned()),
                    closure_reference: closure_reference.clone(),
                };
                emit(tx, actor, id, current.version, DomainEvent::IncidentClosed(closed), now)?;
            }
            Ok(Updated { changed: changed.clone(), status })
        })
    }

    /// Why the incident may not close now (empty when it may), as a close would report it.
    ///
    /// # Errors
    /// The incident does not exist, or a storage failure.
    pub fn close_blockers(&self, id: IncidentId) -> Result<Vec<CloseBlocker>, LifecycleError> {
        let (state, missing) = self.store.read(&mut |tx| {
            let state = tx.load_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            let missing = missing_key_events(tx, id)?;
            Ok((state, missing))
        })?;
        let needs_postmortem = self.needs_postmortem(&state);
        let postmortem = (needs_postmortem && state.status == IncidentStatus::PostMortem)
            .then(|| self.postmortems.state(id));
        Ok(close_blockers(&CloseCheck {
            status: state.status,
            priority_value: state.priority.value,
            has_closure_reason: false,
            ignored: state.ignored,
            needs_postmortem,
            postmortem: postmortem.as_ref(),
            missing_key_events: &missing,
        }))
    }

    /// Whether the incident needs a post-mortem: its priority asks for one, it is in production, and a
    /// post-mortem backend is configured.
    pub fn needs_postmortem(&self, state: &IncidentState) -> bool {
        state.priority.needs_postmortem
            && state.environment.is_production()
            && self.postmortems.is_configured()
    }

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
            tx.append_audit(
                &AuditEntry {
                    actor,
                    action: "incident.roles",
                    object_type: "incident",
                    object_id: id.0.to_string(),
                    incident_id: Some(id),
                    details: event.payload(),
                },
                now,
            )?;
            emit(tx, actor, id, current.version, event, now)?;
            Ok(())
        })
    }

    /// Sets or clears user-editable key events, then recomputes every metric.
    ///
    /// Ordering rule: every key event is at or after `started`, and `recovered` is at or after
    /// `detected`. (Other pairs may legitimately be inverted: an incident can be declared after it
    /// recovered; such metrics are simply not computed.)
    ///
    /// # Errors
    /// Unknown or system key event, an ordering violation, nothing changed, or a storage failure.
    pub fn set_key_events(
        &self,
        actor: Actor,
        id: IncidentId,
        changes: &[(String, Option<NaiveDateTime>)],
    ) -> Result<(), LifecycleError> {
        self.store.write(&mut |tx| {
            let current = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            let now = now();
            let types = tx.key_event_types()?;
            let mut events = tx.key_events(id)?;
            let mut applied = Vec::new();
            for (event_type, timestamp) in changes {
                let kind = types.iter().find(|kind| kind.event_type == *event_type).ok_or_else(|| {
                    LifecycleError::invalid(
                        "key_events",
                        "UNKNOWN_KEY_EVENT",
                        format!("no key event {event_type:?}"),
                    )
                })?;
                if !kind.user_editable {
                    return Err(LifecycleError::invalid(
                        "key_events",
                        "KEY_EVENT_NOT_EDITABLE",
                        format!("key event {event_type} is recorded by the system and cannot be edited"),
                    ));
                }
                if events.get(event_type) == timestamp.as_ref() {
                    continue;
                }
                match timestamp {
                    Some(ts) => {
                        events.insert(event_type.clone(), *ts);
                    }
                    None => {
                        events.remove(event_type);
                    }
                }
                applied.push((event_type.clone(), *timestamp));
            }
            if applied.is_empty() {
                return Err(LifecycleError::NothingToUpdate);
            }
            check_key_event_order(&events)?;
            for (event_type, timestamp) in &applied {
                match timestamp {
                    Some(ts) => tx.set_key_event(id, event_type, *ts, Some(actor.user), now)?,
                    None => tx.clear_key_event(id, event_type)?,
                }
            }
            recompute_metrics(tx, id, now)?;
            let event = DomainEvent::KeyEventsUpdated(KeyEventsUpdated {
                changes: applied
                    .iter()
                    .map(|(event_type, ts)| KeyEventChange {
                        event_type: event_type.clone(),
                        timestamp: ts.map(|t| t.and_utc().to_rfc3339()),
                    })
                    .collect(),
            });
            tx.append_audit(
                &AuditEntry {
                    actor,
                    action: "incident.key_events",
                    object_type: "incident",
                    object_id: id.0.to_string(),
                    incident_id: Some(id),
                    details: event.payload(),
                },
                now,
            )?;
            emit(tx, actor, id, current.version, event, now)?;
            Ok(())
        })
    }

    /// Adds a cost to an incident.
    ///
    /// # Errors
    /// Unknown incident or cost type, invalid currency, or a storage failure.
    pub fn add_cost(
        &self,
        actor: Actor,
        id: IncidentId,
        input: CostInput,
    ) -> Result<CostRecord, LifecycleError> {
        let input = validate_cost(input)?;
        self.store.write(&mut |tx| {
            let version = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?.version;
            let now = now();
            let record = tx
                .insert_cost(id, &input, now)
                .map_err(|error| cost_type_error(error, input.cost_type_id))?;
            record_cost_change(tx, actor, (id, version), "added", &record, now)?;
            Ok(record)
        })
    }

    /// Changes a cost of an incident.
    ///
    /// # Errors
    /// Unknown incident, cost or cost type, invalid currency, or a storage failure.
    pub fn update_cost(
        &self,
        actor: Actor,
        id: IncidentId,
        cost_id: i64,
        input: CostInput,
    ) -> Result<CostRecord, LifecycleError> {
        let input = validate_cost(input)?;
        self.store.write(&mut |tx| {
            let version = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?.version;
            let now = now();
            tx.cost(id, cost_id)?.ok_or_else(|| unknown_cost(cost_id))?;
            let record = tx
                .update_cost(cost_id, &input, now)
                .map_err(|error| cost_type_error(error, input.cost_type_id))?;
            record_cost_change(tx, actor, (id, version), "changed", &record, now)?;
            Ok(record)
        })
    }

    /// Removes a cost from an incident.
    ///
    /// # Errors
    /// Unknown incident or cost, or a storage failure.
    pub fn remove_cost(&self, actor: Actor, id: IncidentId, cost_id: i64) -> Result<(), LifecycleError> {
        self.store.write(&mut |tx| {
            let version = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?.version;
            let now = now();
            let record = tx.cost(id, cost_id)?.ok_or_else(|| unknown_cost(cost_id))?;
            tx.delete_cost(cost_id)?;
            record_cost_change(tx, actor, (id, version), "removed", &record, now)
        })
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

fn field_name(field: ChangedField) -> &'static str {
    match field {
        ChangedField::Status => "status",
        ChangedField::Priority => "priority",
        ChangedField::Category => "incident_category",
        ChangedField::Title => "title",
        ChangedField::Description => "description",
        ChangedField::Environment => "environment",
        ChangedField::ClosureReason => "closure_reason",
        ChangedField::Costs => "costs",
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
    if let Some(user) = tx.user_by_email(email)? {
        return Ok(user);
    }
    let permissions = Permission::responder();
    let new = NewUser { email: email.clone(), name: String::new(), is_admin: false, password_hash: None };
    match tx.create_user(&new, &permissions, now) {
        Ok(user) => {
            let granted: Vec<String> = permissions.iter().map(ToString::to_string).collect();
            tx.append_audit(
                &AuditEntry {
                    actor,
                    action: "user.create",
                    object_type: "user",
                    object_id: user.to_string(),
                    incident_id: None,
                    details: serde_json::json!({
                        "email": email.as_str(),
                        "reason": "named as the creator of a declaration",
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

fn unknown_cost(cost_id: i64) -> LifecycleError {
    LifecycleError::invalid("cost_id", "DOES_NOT_EXIST", format!("this incident has no cost {cost_id}"))
}

fn cost_type_error(error: RepositoryError, cost_type_id: i64) -> LifecycleError {
    match error {
        RepositoryError::Conflict { .. } => LifecycleError::invalid(
            "cost_type_id",
            "DOES_NOT_EXIST",
            format!("no cost type with id {cost_type_id}"),
        ),
        other => other.into(),
    }
}

fn validate_cost(mut input: CostInput) -> Result<CostInput, LifecycleError> {
    if let Some(currency) = &input.currency {
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(LifecycleError::invalid("currency", "INVALID", "an ISO 4217 code such as EUR"));
        }
        input.currency = Some(currency);
    }
    input.details = optional_text(input.details.as_deref());
    Ok(input)
}

fn record_cost_change(
    tx: &mut dyn IncidentTransaction,
    actor: Actor,
    (id, version): (IncidentId, i64),
    verb: &str,
    record: &CostRecord,
    now: NaiveDateTime,
) -> Result<(), LifecycleError> {
    let amount = record.amount.map_or_else(|| "no amount".to_owned(), |a| format!("{a} {}", record.currency));
    tx.insert_timeline_entry(
        id,
        &TimelineEntry {
            message: Some(format!("Cost {verb}: {} ({amount})", record.cost_type_name)),
            event_type: Some(format!("cost_{verb}")),
            ..TimelineEntry::default()
        },
        Some(actor.user),
        now,
        now,
    )?;
    let event = DomainEvent::CostsUpdated(CostsUpdated {
        changed_fields: vec!["costs".to_owned()],
        cost: CostChange {
            id: record.id,
            change: verb.to_owned(),
            cost_type: record.cost_type_name.clone(),
            amount: record.amount.map(|a| a.to_string()),
            currency: record.currency.clone(),
        },
    });
    tx.append_audit(
        &AuditEntry {
            actor,
            action: "incident.cost",
            object_type: "incident_cost",
            object_id: record.id.to_string(),
            incident_id: Some(id),
            details: event.payload(),
        },
        now,
    )?;
    emit(tx, actor, id, version, event, now)?;
    Ok(())
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

fn check_key_event_order(events: &HashMap<String, NaiveDateTime>) -> Result<(), LifecycleError> {
    let out_of_order =
        |message: String| LifecycleError::invalid("key_events", "KEY_EVENTS_OUT_OF_ORDER", message);
    if let Some(started) = events.get("started") {
        let mut before: Vec<&String> =
            events.iter().filter(|(_, ts)| *ts < started).map(|(kind, _)| kind).collect();
        before.sort();
        if let Some(first) = before.first() {
            return Err(out_of_order(format!("{first} cannot be before started")));
        }
    }
    if let (Some(detected), Some(recovered)) = (events.get("detected"), events.get("recovered"))
        && recovered < detected
    {
        return Err(out_of_order("recovered cannot be before detected".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
            + Duration::minutes(minutes)
    }

    #[test]
    fn key_event_order_rule() {
        let events = |pairs: &[(&str, i64)]| pairs.iter().map(|(k, m)| ((*k).to_owned(), at(*m))).collect();
        assert!(check_key_event_order(&events(&[("started", 0), ("detected", 5), ("recovered", 9)])).is_ok());
        assert!(check_key_event_order(&events(&[("started", 10), ("declared", 5)])).is_err());
        assert!(check_key_event_order(&events(&[("detected", 10), ("recovered", 5)])).is_err());
        // Declared after recovery (a retroactive declaration) is fine.
        assert!(
            check_key_event_order(&events(&[("started", 0), ("recovered", 5), ("declared", 60)])).is_ok()
        );
    }

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
