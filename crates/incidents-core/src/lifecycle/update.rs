//! Updating an incident's fields and status along the workflow, and the close guard that says why it
//! may not close yet.
//!
//! The decision an update makes is [`plan_update`], a pure function of the incident's state and of
//! what was looked up for it, so the rules can be tested without a database.
//! [`IncidentLifecycle::update`] only reads what the decision needs, asks it, and writes its plan.

use chrono::NaiveDateTime;

use super::{
    CLOSURE_REFERENCE_MAX_CHARS, DEDUP_CONSTRAINT, IncidentLifecycle, LifecycleError, TITLE_MAX_CHARS, emit,
    missing_key_events, now, optional_text, recompute_metrics, record_change, required_text, unknown,
};
use crate::events::{Actor, DomainEvent, IncidentClosed, IncidentUpdated, PriorityBefore};
use crate::incident::{
    CategoryRef, ChangedField, EnvironmentRef, IncidentChanges, IncidentId, IncidentState, PriorityRef,
    TimelineEntry, UpdateIncident, Updated,
};
use crate::ports::{IncidentStore, IncidentTransaction, PostMortemBackend, RepositoryError};
use crate::status::{ClosureReason, IncidentStatus};
use crate::workflow::{
    CloseBlocker, CloseCheck, PostMortemState, TransitionRequirement, allowed_transitions, check_transition,
    close_blockers,
};

/// An update's inputs once checked on their own: texts trimmed and bounded. What they mean for a
/// given incident is for [`plan_update`] to decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidatedUpdate {
    /// `None` when blank.
    pub message: Option<String>,
    pub status: Option<IncidentStatus>,
    pub priority_id: Option<String>,
    pub category_id: Option<String>,
    pub environment_id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub closure_reason: Option<ClosureReason>,
    pub closure_reference: Option<String>,
    pub event_type: Option<String>,
}

impl ValidatedUpdate {
    /// Checks what needs no incident: blank or overlong texts.
    ///
    /// # Errors
    /// [`LifecycleError::Invalid`] for the first bad field, checked in the order title, description,
    /// closure reference.
    pub fn parse(command: &UpdateIncident) -> Result<Self, LifecycleError> {
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
        let event_type = command.event_type.as_deref().map(str::trim).filter(|e| !e.is_empty());
        if let Some(event_type) = event_type
            && (event_type.len() > 64
                || !event_type.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        {
            return Err(LifecycleError::invalid(
                "event_type",
                "INVALID",
                "lower-case letters, digits and _, at most 64",
            ));
        }
        Ok(Self {
            message,
            status: command.status,
            priority_id: command.priority_id.clone(),
            category_id: command.category_id.clone(),
            environment_id: command.environment_id.clone(),
            title,
            description,
            closure_reason: command.closure_reason,
            closure_reference,
            event_type: event_type.map(str::to_owned),
        })
    }

    /// The priority to look up: the one named, unless `current` already has it.
    #[must_use]
    pub fn new_priority_id(&self, current: &IncidentState) -> Option<&str> {
        self.priority_id.as_deref().filter(|p| *p != current.priority.id)
    }

    /// The environment to look up: the one named, unless `current` is already in it.
    #[must_use]
    pub fn new_environment_id(&self, current: &IncidentState) -> Option<&str> {
        self.environment_id.as_deref().filter(|e| *e != current.environment.id)
    }

    /// The category to look up: the one named, unless `current` already has it.
    #[must_use]
    pub fn new_category_id(&self, current: &IncidentState) -> Option<&str> {
        self.category_id.as_deref().filter(|c| *c != current.category_id)
    }

    /// The status `current` moves to: the one named, unless it is already there.
    #[must_use]
    pub fn target(&self, current: &IncidentState) -> Option<IncidentStatus> {
        self.status.filter(|status| *status != current.status)
    }
}

/// The reference rows named by [`ValidatedUpdate::new_priority_id`] and its siblings, as looked up:
/// `None` when the id names no row, or when nothing was to be looked up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateReferences {
    pub priority: Option<PriorityRef>,
    pub environment: Option<EnvironmentRef>,
    pub category: Option<CategoryRef>,
}

/// Everything an accepted update writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatePlan {
    /// The incident's columns; the default when the update only adds a message.
    pub changes: IncidentChanges,
    pub entry: TimelineEntry,
    /// In the order events and callers report them: status first.
    pub changed: Vec<ChangedField>,
    /// The status moved to; `None` when it does not change.
    pub target: Option<IncidentStatus>,
    /// The status after the update.
    pub status: IncidentStatus,
    /// Mitigation marks recovery too, unless one was recorded already: only the store knows that.
    pub record_recovery: bool,
    /// The dedup key a reopened incident takes back. Another open incident may hold it meanwhile:
    /// only the store knows that.
    pub reclaimed_dedup_key: Option<String>,
    /// The `incident_updated` event, whose payload is also the audit row's details.
    pub updated: IncidentUpdated,
    /// The `incident_closed` event that follows it when the update closes the incident.
    pub closed: Option<IncidentClosed>,
}

/// Decides what `update` does to `current`, without reading or writing anything.
///
/// `references` holds the rows looked up for the ids the update changes, `missing_key_events` the
/// required key events not recorded yet (looked at only when closing), and `postmortem` what the
/// post-mortem backend said, when it was asked (closing from Post-mortem with a backend configured).
/// Checks run in a fixed order, the first failure wins: priority, environment, category, closure
/// reason, transition, close guard, then "nothing to update".
///
/// # Errors
/// An unknown or disabled reference, a closure reason without closing, a refused transition,
/// [`LifecycleError::CannotClose`], or [`LifecycleError::NothingToUpdate`].
pub fn plan_update(
    current: &IncidentState,
    update: &ValidatedUpdate,
    references: UpdateReferences,
    missing_key_events: &[String],
    postmortem: Option<&PostMortemState>,
    postmortems_configured: bool,
    now: NaiveDateTime,
) -> Result<UpdatePlan, LifecycleError> {
    let mut changes = IncidentChanges::default();
    let mut entry = TimelineEntry {
        message: update.message.clone(),
        event_type: update.event_type.clone(),
        ..TimelineEntry::default()
    };
    let mut changed = Vec::new();

    let mut priority = current.priority.clone();
    if let Some(priority_id) = update.new_priority_id(current) {
        let new = references.priority.ok_or_else(|| unknown("priority_id", "priority", priority_id))?;
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
    if let Some(environment_id) = update.new_environment_id(current) {
        let new =
            references.environment.ok_or_else(|| unknown("environment_id", "environment", environment_id))?;
        changes.environment_id = Some(new.id.clone());
        entry.environment_id = Some(new.id.clone());
        changed.push(ChangedField::Environment);
        environment = new;
    }
    if let Some(category_id) = update.new_category_id(current) {
        let new =
            references.category.ok_or_else(|| unknown("incident_category_id", "category", category_id))?;
        changes.category_id = Some(new.id.clone());
        entry.category_id = Some(new.id);
        changed.push(ChangedField::Category);
    }
    if let Some(title) = update.title.as_ref().filter(|t| **t != current.title) {
        changes.title = Some(title.clone());
        entry.title = Some(title.clone());
        changed.push(ChangedField::Title);
    }
    if let Some(description) = update.description.as_ref().filter(|d| **d != current.description) {
        changes.description = Some(description.clone());
        entry.description = Some(description.clone());
        changed.push(ChangedField::Description);
    }

    let target = update.target(current);
    if update.closure_reason.is_some() && target != Some(IncidentStatus::Closed) {
        return Err(LifecycleError::invalid(
            "closure_reason",
            "INVALID",
            "a closure reason is only accepted when closing the incident",
        ));
    }
    let mut record_recovery = false;
    if let Some(target) = target {
        let needs_postmortem = requires_postmortem(&priority, &environment, postmortems_configured);
        let requirement = check_transition(
            current.status,
            target,
            needs_postmortem,
            update.closure_reason.is_some(),
            update.message.as_deref(),
        )?;
        if requirement == TransitionRequirement::ClosureReason
            && update.closure_reason == Some(ClosureReason::Resolved)
        {
            return Err(LifecycleError::invalid(
                "closure_reason",
                "INVALID",
                "an incident closed early cannot be \"resolved\": use duplicate, false_positive, superseded, external or cancelled",
            ));
        }
        if target == IncidentStatus::Closed {
            let blockers = close_blockers(&CloseCheck {
                status: current.status,
                priority_value: priority.value,
                has_closure_reason: requirement == TransitionRequirement::ClosureReason,
                ignored: current.ignored,
                needs_postmortem,
                postmortem,
                missing_key_events,
            });
            if !blockers.is_empty() {
                return Err(LifecycleError::CannotClose { blockers });
            }
            changes.closed_at = Some(Some(now));
            if let Some(reason) = update.closure_reason {
                changes.closure_reason = Some(Some(reason));
                changes.closure_reference = Some(update.closure_reference.clone().unwrap_or_default());
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
            record_recovery = true;
        }
        changes.status = Some(target);
        entry.status = Some(target);
        changed.insert(0, ChangedField::Status);
    }
    if changed.is_empty() && update.message.is_none() {
        return Err(LifecycleError::NothingToUpdate);
    }

    let reclaimed_dedup_key = match (&current.dedup_key, target) {
        (Some(key), Some(target)) if !current.status.holds_dedup_key() && target.holds_dedup_key() => {
            Some(key.clone())
        }
        _ => None,
    };
    let status = target.unwrap_or(current.status);
    let updated = IncidentUpdated {
        changed_fields: changed.iter().map(|field| field_name(*field).to_owned()).collect(),
        status: status.label().to_owned(),
        old_status: current.status.label().to_owned(),
        priority: priority.name.clone(),
        old_priority: changes.priority_id.is_some().then(|| PriorityBefore {
            id: current.priority.id.clone(),
            name: current.priority.name.clone(),
            value: current.priority.value,
        }),
        message: update.message.clone(),
        event_type: update.event_type.clone(),
    };
    let closed = (target == Some(IncidentStatus::Closed)).then(|| IncidentClosed {
        closure_reason: update.closure_reason.map(|reason| reason.as_str().to_owned()),
        closure_reference: update.closure_reference.clone(),
    });
    Ok(UpdatePlan {
        changes,
        entry,
        changed,
        target,
        status,
        record_recovery,
        reclaimed_dedup_key,
        updated,
        closed,
    })
}

impl<S: IncidentStore, P: PostMortemBackend> IncidentLifecycle<S, P> {
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
        let update = ValidatedUpdate::parse(command)?;
        self.store.write(&mut |tx| {
            let current = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            // Read the clock once the lock is held, so timestamps follow the order of the writes.
            let now = now();
            let plan = self.plan(tx, &current, &update, now)?;
            if let Some(key) = &plan.reclaimed_dedup_key
                && let Some(holder) = tx.open_incident_with_dedup_key(key)?
            {
                return Err(LifecycleError::DedupKeyTaken { holder: Some(holder) });
            }
            if plan.changes != IncidentChanges::default() {
                match tx.update_incident(id, &plan.changes, now) {
                    // A declaration took the key between the check and the write.
                    Err(RepositoryError::Conflict { constraint }) if constraint == DEDUP_CONSTRAINT => {
                        return Err(LifecycleError::DedupKeyTaken { holder: None });
                    }
                    other => other?,
                }
            }
            tx.insert_timeline_entry(id, &plan.entry, Some(actor.user), now, now)?;
            if plan.record_recovery {
                // Recovery defaults to the moment of mitigation; a recovery someone recorded stays.
                let key_events = tx.key_events(id)?;
                if !key_events.contains_key("recovered") {
                    tx.set_key_event(id, "recovered", now, Some(actor.user), now)?;
                    recompute_metrics(tx, id, now)?;
                }
            }
            let event = DomainEvent::IncidentUpdated(plan.updated);
            record_change(
                tx,
                actor,
                (id, current.version),
                "incident.update",
                ("incident", id.0.to_string()),
                event,
                now,
            )?;
            if let Some(closed) = plan.closed {
                emit(tx, actor, id, current.version, DomainEvent::IncidentClosed(closed), now)?;
            }
            Ok(Updated { changed: plan.changed, status: plan.status })
        })
    }

    /// Checks an update without making it: what [`IncidentLifecycle::update`] would refuse now, read
    /// without the incident's lock (an entry point that answers first and applies the update right
    /// after, durably, tells people at once what the workflow refuses).
    ///
    /// # Errors
    /// What `update` would answer, but [`LifecycleError::NothingToUpdate`] included.
    pub fn check_update(&self, id: IncidentId, command: &UpdateIncident) -> Result<(), LifecycleError> {
        let update = ValidatedUpdate::parse(command)?;
        self.store.read(&mut |tx| {
            let current = tx.load_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            let plan = self.plan(tx, &current, &update, now())?;
            if let Some(key) = &plan.reclaimed_dedup_key
                && let Some(holder) = tx.open_incident_with_dedup_key(key)?
            {
                return Err(LifecycleError::DedupKeyTaken { holder: Some(holder) });
            }
            Ok(())
        })
    }

    /// What an update of `current` does, from what the rules need to know.
    fn plan(
        &self,
        tx: &mut dyn IncidentTransaction,
        current: &IncidentState,
        update: &ValidatedUpdate,
        now: NaiveDateTime,
    ) -> Result<UpdatePlan, LifecycleError> {
        let id = current.id;
        // The post-mortem's state as the post-mortem integration's jobs last recorded it: never a
        // remote call during a request.
        let postmortem = if update.target(current) == Some(IncidentStatus::Closed)
            && current.status == IncidentStatus::PostMortem
            && self.postmortems.is_configured()
        {
            Some(tx.postmortem_state(id)?)
        } else {
            None
        };
        let references = UpdateReferences {
            priority: match update.new_priority_id(current) {
                Some(priority_id) => tx.priority(priority_id)?,
                None => None,
            },
            environment: match update.new_environment_id(current) {
                Some(environment_id) => tx.environment(environment_id)?,
                None => None,
            },
            category: match update.new_category_id(current) {
                Some(category_id) => tx.category(category_id)?,
                None => None,
            },
        };
        let missing = if update.target(current) == Some(IncidentStatus::Closed) {
            missing_key_events(tx, id)?
        } else {
            Vec::new()
        };
        plan_update(
            current,
            update,
            references,
            &missing,
            postmortem.as_ref(),
            self.postmortems.is_configured(),
            now,
        )
    }

    /// Why the incident may not close now (empty when it may), as a close would report it.
    ///
    /// # Errors
    /// The incident does not exist, or a storage failure.
    pub fn close_blockers(&self, id: IncidentId) -> Result<Vec<CloseBlocker>, LifecycleError> {
        let (state, missing, postmortem) = self.store.read(&mut |tx| {
            let state = tx.load_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            let missing = missing_key_events(tx, id)?;
            let postmortem = (self.needs_postmortem(&state) && state.status == IncidentStatus::PostMortem)
                .then(|| tx.postmortem_state(id))
                .transpose()?;
            Ok((state, missing, postmortem))
        })?;
        let needs_postmortem = self.needs_postmortem(&state);
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

    /// The incident's status and the statuses it may move to now, with what each demands (the
    /// choices a form offers).
    ///
    /// # Errors
    /// The incident does not exist, or a storage failure.
    pub fn transitions(
        &self,
        id: IncidentId,
    ) -> Result<(IncidentStatus, Vec<(IncidentStatus, TransitionRequirement)>), LifecycleError> {
        let state =
            self.store.read(&mut |tx| tx.load_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id)))?;
        let needs_postmortem = self.needs_postmortem(&state);
        Ok((state.status, allowed_transitions(state.status, needs_postmortem)))
    }

    /// Whether a post-mortem backend (Confluence, Jira) is configured: without one, no incident
    /// needs a post-mortem.
    pub fn postmortems_configured(&self) -> bool {
        self.postmortems.is_configured()
    }

    /// Whether the incident needs a post-mortem: its priority asks for one, it is in production, and a
    /// post-mortem backend is configured.
    pub fn needs_postmortem(&self, state: &IncidentState) -> bool {
        requires_postmortem(&state.priority, &state.environment, self.postmortems.is_configured())
    }

    /// Whether the incident needs a post-mortem, and its post-mortem as the post-mortem integration
    /// last recorded it.
    ///
    /// # Errors
    /// The incident does not exist, or a storage failure.
    pub fn postmortem(&self, id: IncidentId) -> Result<(bool, PostMortemState), LifecycleError> {
        let (state, postmortem) = self.store.read(&mut |tx| {
            let state = tx.load_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            Ok((state, tx.postmortem_state(id)?))
        })?;
        Ok((self.needs_postmortem(&state), postmortem))
    }
}

/// The one post-mortem predicate, shared by the close guard and the update decision so they cannot
/// disagree (the original had two that did).
fn requires_postmortem(priority: &PriorityRef, environment: &EnvironmentRef, configured: bool) -> bool {
    priority.needs_postmortem && environment.is_production() && configured
}

pub(super) fn field_name(field: ChangedField) -> &'static str {
    match field {
        ChangedField::Status => "status",
        ChangedField::Priority => "priority",
        ChangedField::Category => "incident_category",
        ChangedField::Title => "title",
        ChangedField::Description => "description",
        ChangedField::Environment => "environment",
        ChangedField::ClosureReason => "closure_reason",
        ChangedField::Costs => "costs",
        ChangedField::Ignored => "ignored",
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use uuid::Uuid;

    use super::*;
    use crate::user::UserId;
    use crate::workflow::TransitionError;

    fn at(hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(hour, 0, 0).unwrap()
    }

    const NOW: u32 = 12;

    fn priority(value: i32) -> PriorityRef {
        PriorityRef {
            id: format!("p{value}"),
            name: format!("P{value}"),
            value,
            needs_postmortem: value <= 2,
            enabled_create: true,
            enabled_update: true,
        }
    }

    fn environment(value: &str) -> EnvironmentRef {
        EnvironmentRef { id: format!("env-{value}"), value: value.to_owned() }
    }

    /// A P3 incident in staging: no post-mortem, and its key events are required before closing.
    fn incident(status: IncidentStatus) -> IncidentState {
        IncidentState {
            id: IncidentId(42),
            title: "Checkout down".to_owned(),
            description: "Payments fail".to_owned(),
            status,
            priority: priority(3),
            environment: environment("STG"),
            category_id: "cat-payments".to_owned(),
            created_by: UserId(Uuid::nil()),
            created_at: at(1),
            mitigated_at: None,
            closed_at: None,
            closure_reason: None,
            closure_reference: String::new(),
            dedup_key: None,
            ignored: false,
            private: false,
            version: 7,
        }
    }

    fn plan(current: &IncidentState, update: &ValidatedUpdate) -> Result<UpdatePlan, LifecycleError> {
        plan_update(current, update, UpdateReferences::default(), &[], None, false, at(NOW))
    }

    fn message(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn parse_trims_and_bounds_like_the_command_checks() {
        let parsed = ValidatedUpdate::parse(&UpdateIncident {
            message: Some("   ".to_owned()),
            title: Some("  New title ".to_owned()),
            closure_reference: Some(" #12 ".to_owned()),
            ..UpdateIncident::default()
        })
        .unwrap();
        assert_eq!(parsed.message, None);
        assert_eq!(parsed.title.as_deref(), Some("New title"));
        assert_eq!(parsed.closure_reference.as_deref(), Some("#12"));
        // The title is checked before the closure reference.
        let error = ValidatedUpdate::parse(&UpdateIncident {
            title: Some(" ".to_owned()),
            closure_reference: Some("x".repeat(CLOSURE_REFERENCE_MAX_CHARS + 1)),
            ..UpdateIncident::default()
        })
        .unwrap_err();
        assert!(matches!(error, LifecycleError::Invalid { field: "title", code: "REQUIRED", .. }));
    }

    #[test]
    fn a_title_change_records_only_the_title() {
        let current = incident(IncidentStatus::Investigating);
        let update = ValidatedUpdate {
            title: Some("Checkout slow".to_owned()),
            description: Some(current.description.clone()),
            priority_id: Some(current.priority.id.clone()),
            ..ValidatedUpdate::default()
        };
        let plan = plan(&current, &update).unwrap();
        assert_eq!(plan.changed, vec![ChangedField::Title]);
        assert_eq!(
            plan.changes,
            IncidentChanges { title: Some("Checkout slow".to_owned()), ..IncidentChanges::default() }
        );
        assert_eq!(
            plan.entry,
            TimelineEntry { title: Some("Checkout slow".to_owned()), ..TimelineEntry::default() }
        );
        assert_eq!(plan.target, None);
        assert_eq!(plan.status, IncidentStatus::Investigating);
        assert!(!plan.record_recovery);
        assert_eq!(plan.closed, None);
        assert_eq!(
            plan.updated,
            IncidentUpdated {
                changed_fields: vec!["title".to_owned()],
                status: "Investigating".to_owned(),
                old_status: "Investigating".to_owned(),
                priority: "P3".to_owned(),
                old_priority: None,
                message: None,
                event_type: None,
            }
        );
    }

    #[test]
    fn an_unchanged_field_is_not_recorded() {
        let current = incident(IncidentStatus::Investigating);
        // The references are left empty: an id the incident already has must not need a look-up.
        let update = ValidatedUpdate {
            message: message("still looking"),
            status: Some(current.status),
            title: Some(current.title.clone()),
            priority_id: Some(current.priority.id.clone()),
            environment_id: Some(current.environment.id.clone()),
            category_id: Some(current.category_id.clone()),
            ..ValidatedUpdate::default()
        };
        let plan = plan(&current, &update).unwrap();
        assert_eq!(plan.changed, Vec::new());
        assert_eq!(plan.changes, IncidentChanges::default());
        assert_eq!(
            plan.entry,
            TimelineEntry { message: message("still looking"), ..TimelineEntry::default() }
        );
        assert_eq!(plan.target, None);
        assert!(plan.updated.changed_fields.is_empty());
        assert_eq!(plan.updated.message, message("still looking"));
    }

    #[test]
    fn nothing_to_update_without_a_change_or_a_message() {
        let current = incident(IncidentStatus::Investigating);
        let update = ValidatedUpdate {
            title: Some(current.title.clone()),
            status: Some(current.status),
            ..ValidatedUpdate::default()
        };
        let error = plan(&current, &update).unwrap_err();
        assert_eq!(error, LifecycleError::NothingToUpdate);
        assert_eq!(error.code(), "NO_CHANGE");
    }

    #[test]
    fn a_closure_reason_without_closing_is_refused() {
        let current = incident(IncidentStatus::Investigating);
        for status in [None, Some(IncidentStatus::Mitigating), Some(IncidentStatus::Investigating)] {
            let update = ValidatedUpdate {
                status,
                closure_reason: Some(ClosureReason::Duplicate),
                message: message("same as #41"),
                ..ValidatedUpdate::default()
            };
            let error = plan(&current, &update).unwrap_err();
            assert!(
                matches!(error, LifecycleError::Invalid { field: "closure_reason", code: "INVALID", .. }),
                "{status:?}: {error:?}"
            );
        }
    }

    #[test]
    fn closing_early_records_the_reason_and_announces_the_closure() {
        let current = incident(IncidentStatus::Investigating);
        let update = ValidatedUpdate {
            status: Some(IncidentStatus::Closed),
            closure_reason: Some(ClosureReason::Duplicate),
            closure_reference: Some("#41".to_owned()),
            message: message("same as #41"),
            ..ValidatedUpdate::default()
        };
        let plan = plan(&current, &update).unwrap();
        assert_eq!(plan.changed, vec![ChangedField::Status, ChangedField::ClosureReason]);
        assert_eq!(plan.changes.closed_at, Some(Some(at(NOW))));
        assert_eq!(plan.changes.closure_reason, Some(Some(ClosureReason::Duplicate)));
        assert_eq!(plan.changes.closure_reference.as_deref(), Some("#41"));
        assert_eq!(plan.entry.event_type.as_deref(), Some("closure_reason"));
        assert_eq!(plan.updated.changed_fields, vec!["status", "closure_reason"]);
        assert_eq!(
            plan.closed,
            Some(IncidentClosed {
                closure_reason: Some("duplicate".to_owned()),
                closure_reference: Some("#41".to_owned()),
            })
        );
        // Early closure cannot pretend the incident was resolved.
        let resolved = ValidatedUpdate { closure_reason: Some(ClosureReason::Resolved), ..update };
        assert!(matches!(
            plan_update(&current, &resolved, UpdateReferences::default(), &[], None, false, at(NOW)),
            Err(LifecycleError::Invalid { field: "closure_reason", code: "INVALID", .. })
        ));
    }

    #[test]
    fn a_forbidden_transition_is_refused_with_its_code() {
        let update = |status| ValidatedUpdate { status: Some(status), ..ValidatedUpdate::default() };
        let error = plan(&incident(IncidentStatus::Open), &update(IncidentStatus::Mitigated)).unwrap_err();
        assert!(matches!(error, LifecycleError::Transition(TransitionError::NotAllowed { .. })), "{error:?}");
        assert_eq!(error.code(), "TRANSITION_NOT_ALLOWED");
        let error = plan(&incident(IncidentStatus::Mitigating), &update(IncidentStatus::Closed)).unwrap_err();
        assert_eq!(error.code(), "TRANSITION_NOT_ALLOWED");
        // Reopening without a justification.
        let short = ValidatedUpdate { message: message("oops"), ..update(IncidentStatus::Investigating) };
        let error = plan(&incident(IncidentStatus::Closed), &short).unwrap_err();
        assert_eq!(error.code(), "REOPEN_JUSTIFICATION_REQUIRED");
    }

    #[test]
    fn closing_with_missing_required_key_events_is_refused() {
        let current = incident(IncidentStatus::Mitigated);
        let update = ValidatedUpdate { status: Some(IncidentStatus::Closed), ..ValidatedUpdate::default() };
        let missing = vec!["detected".to_owned()];
        let error =
            plan_update(&current, &update, UpdateReferences::default(), &missing, None, false, at(NOW))
                .unwrap_err();
        let LifecycleError::CannotClose { blockers } = &error else {
            panic!("expected CannotClose, got {error:?}");
        };
        assert_eq!(blockers.len(), 1);
        assert_eq!(blockers[0].code, "MISSING_REQUIRED_KEY_EVENTS");
        assert!(blockers[0].message.contains("detected"), "{}", blockers[0].message);
        assert_eq!(error.code(), "MISSING_REQUIRED_KEY_EVENTS");

        // With every key event recorded it closes, now.
        let plan = plan(&current, &update).unwrap();
        assert_eq!(plan.changes.closed_at, Some(Some(at(NOW))));
        assert_eq!(plan.changes.closure_reason, None);
        assert_eq!(plan.target, Some(IncidentStatus::Closed));
        assert_eq!(plan.closed, Some(IncidentClosed { closure_reason: None, closure_reference: None }));
        // P4 and below may close without them.
        let p4 = IncidentState { priority: priority(4), ..current };
        assert!(
            plan_update(&p4, &update, UpdateReferences::default(), &missing, None, false, at(NOW)).is_ok()
        );
    }

    #[test]
    fn closing_from_post_mortem_asks_for_a_ready_post_mortem() {
        let current = IncidentState {
            priority: priority(1),
            environment: environment("PRD"),
            ..incident(IncidentStatus::PostMortem)
        };
        let update = ValidatedUpdate { status: Some(IncidentStatus::Closed), ..ValidatedUpdate::default() };
        let not_ready = PostMortemState::NotReady { key: "PM-1".to_owned(), status: "Draft".to_owned() };
        let error =
            plan_update(&current, &update, UpdateReferences::default(), &[], Some(&not_ready), true, at(NOW))
                .unwrap_err();
        assert_eq!(error.code(), "POSTMORTEM_NOT_READY");
        let ready = PostMortemState::Ready { key: "PM-1".to_owned() };
        assert!(
            plan_update(&current, &update, UpdateReferences::default(), &[], Some(&ready), true, at(NOW))
                .is_ok()
        );
    }

    #[test]
    fn moving_to_mitigated_stamps_mitigated_at_once_and_asks_for_recovery() {
        let update =
            ValidatedUpdate { status: Some(IncidentStatus::Mitigated), ..ValidatedUpdate::default() };
        let first = plan(&incident(IncidentStatus::Mitigating), &update).unwrap();
        assert_eq!(first.changes.mitigated_at, Some(at(NOW)));
        assert!(first.record_recovery);
        assert_eq!(first.changed, vec![ChangedField::Status]);
        assert_eq!(first.entry.status, Some(IncidentStatus::Mitigated));

        // Mitigated again after a reopening: the first mitigation time stays.
        let again = IncidentState { mitigated_at: Some(at(3)), ..incident(IncidentStatus::Mitigating) };
        let second = plan(&again, &update).unwrap();
        assert_eq!(second.changes.mitigated_at, None);
        assert_eq!(second.changes.status, Some(IncidentStatus::Mitigated));
        assert!(second.record_recovery);

        let other =
            ValidatedUpdate { status: Some(IncidentStatus::Mitigating), ..ValidatedUpdate::default() };
        assert!(!plan(&incident(IncidentStatus::Investigating), &other).unwrap().record_recovery);
    }

    #[test]
    fn reopening_a_closed_incident_clears_its_closure() {
        let current = IncidentState {
            closed_at: Some(at(5)),
            closure_reason: Some(ClosureReason::Duplicate),
            closure_reference: "#41".to_owned(),
            dedup_key: Some("checkout-5xx".to_owned()),
            ..incident(IncidentStatus::Closed)
        };
        let update = ValidatedUpdate {
            status: Some(IncidentStatus::Investigating),
            message: message("it was not a duplicate after all"),
            ..ValidatedUpdate::default()
        };
        let plan = plan(&current, &update).unwrap();
        assert_eq!(
            plan.changes,
            IncidentChanges {
                status: Some(IncidentStatus::Investigating),
                closed_at: Some(None),
                closure_reason: Some(None),
                closure_reference: Some(String::new()),
                ..IncidentChanges::default()
            }
        );
        assert_eq!(plan.changed, vec![ChangedField::Status]);
        assert_eq!(plan.reclaimed_dedup_key.as_deref(), Some("checkout-5xx"));
        assert_eq!(plan.updated.old_status, "Closed");
        assert_eq!(plan.updated.status, "Investigating");
        assert_eq!(plan.closed, None);
        // An incident that still holds its key takes nothing back.
        let open =
            IncidentState { dedup_key: Some("checkout-5xx".to_owned()), ..incident(IncidentStatus::Open) };
        let investigate =
            ValidatedUpdate { status: Some(IncidentStatus::Investigating), ..ValidatedUpdate::default() };
        assert_eq!(
            plan_update(&open, &investigate, UpdateReferences::default(), &[], None, false, at(NOW))
                .unwrap()
                .reclaimed_dedup_key,
            None
        );
    }

    #[test]
    fn references_are_checked_in_order_and_the_old_priority_is_kept() {
        let current = incident(IncidentStatus::Investigating);
        let update = ValidatedUpdate {
            priority_id: Some("p1".to_owned()),
            environment_id: Some("env-unknown".to_owned()),
            ..ValidatedUpdate::default()
        };
        let error = plan(&current, &update).unwrap_err();
        assert!(matches!(
            error,
            LifecycleError::Invalid { field: "priority_id", code: "DOES_NOT_EXIST", .. }
        ));
        // A disabled priority is refused before the unknown environment is noticed.
        let disabled = UpdateReferences {
            priority: Some(PriorityRef { enabled_update: false, ..priority(1) }),
            ..UpdateReferences::default()
        };
        let error = plan_update(&current, &update, disabled, &[], None, false, at(NOW)).unwrap_err();
        assert!(matches!(
            error,
            LifecycleError::Invalid { field: "priority_id", code: "PRIORITY_NOT_ENABLED", .. }
        ));

        let found = UpdateReferences {
            priority: Some(priority(1)),
            environment: Some(environment("PRD")),
            ..UpdateReferences::default()
        };
        let plan = plan_update(&current, &update, found, &[], None, false, at(NOW)).unwrap();
        assert_eq!(plan.changed, vec![ChangedField::Priority, ChangedField::Environment]);
        assert_eq!(plan.changes.priority_id.as_deref(), Some("p1"));
        assert_eq!(plan.changes.environment_id.as_deref(), Some("env-PRD"));
        assert_eq!(plan.updated.priority, "P1");
        assert_eq!(
            plan.updated.old_priority,
            Some(PriorityBefore { id: "p3".to_owned(), name: "P3".to_owned(), value: 3 })
        );
    }
}
