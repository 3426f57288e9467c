//! The ports: what the domain needs from the outside world, as traits adapters implement.
//!
//! Ports are synchronous. Storage is diesel (synchronous); callers on an async executor run a whole
//! use case on a blocking thread rather than hopping between threads for each query.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::events::{AuditEntry, EventEnvelope};
use crate::incident::{
    CategoryRef, CostInput, CostRecord, EnvironmentRef, ImpactLevelRef, IncidentChanges, IncidentId,
    IncidentState, KeyEventTypeRef, MetricTypeRef, NewIncident, PriorityRef, RoleTypeRef, TimelineEntry,
};
use crate::lifecycle::LifecycleError;
use crate::metrics::ComputedMetric;
use crate::reference::ReferenceData;
use crate::user::{Email, NewUser, User, UserId};
use crate::workflow::PostMortemState;

/// A storage failure, in terms the domain and the entry points can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    /// A uniqueness or integrity rule refused the change; `constraint` names the rule.
    #[error("conflict: {constraint}")]
    Conflict { constraint: String },
    /// The object does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The database could not be reached in time; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the message is for operators, never for end users.
    #[error("storage error: {0}")]
    Internal(String),
}

/// How many rows a seed inserted, per kind; all zero when everything already existed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub priorities: usize,
    pub environments: usize,
    pub role_types: usize,
    pub key_event_types: usize,
    pub metric_types: usize,
    pub impact_types: usize,
    pub impact_levels: usize,
    pub groups: usize,
    pub categories: usize,
    pub cost_types: usize,
}

impl SeedReport {
    /// Rows inserted in all.
    #[must_use]
    pub fn total(&self) -> usize {
        self.priorities
            + self.environments
            + self.role_types
            + self.key_event_types
            + self.metric_types
            + self.impact_types
            + self.impact_levels
            + self.groups
            + self.categories
            + self.cost_types
    }
}

/// Loads and reads the reference data.
pub trait ReferenceDataRepository {
    /// Inserts every definition that does not exist yet, matched by its natural key; never updates an
    /// existing row, so a second run changes nothing and an operator's edits survive.
    ///
    /// # Errors
    /// A storage failure; nothing is written then.
    fn seed(&self, data: &ReferenceData) -> Result<SeedReport, RepositoryError>;

    /// Whether no priority exists yet (a database that was never seeded).
    ///
    /// # Errors
    /// A storage failure.
    fn reference_data_is_empty(&self) -> Result<bool, RepositoryError>;
}

/// Creates and finds users.
pub trait UserRepository {
    /// Creates a user; the username derives from the e-mail address, made unique with a suffix.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when the e-mail address is taken.
    fn create_user(&self, user: &NewUser) -> Result<User, RepositoryError>;

    /// Finds a user by e-mail address.
    ///
    /// # Errors
    /// A storage failure.
    fn find_user_by_email(&self, email: &Email) -> Result<Option<User>, RepositoryError>;
}

/// Runs lifecycle work in transactions. Implemented by storage.
pub trait IncidentStore {
    /// Runs `work` in one write transaction: everything it writes commits together or not at all.
    /// Concurrent writers to one incident are serialised by [`IncidentTransaction::lock_incident`].
    ///
    /// # Errors
    /// `work`'s error (the transaction is rolled back), or a storage failure.
    fn write<T>(
        &self,
        work: &mut dyn FnMut(&mut dyn IncidentTransaction) -> Result<T, LifecycleError>,
    ) -> Result<T, LifecycleError>;

    /// Runs `work` for reading (no lock is taken).
    ///
    /// # Errors
    /// `work`'s error, or a storage failure.
    fn read<T>(
        &self,
        work: &mut dyn FnMut(&mut dyn IncidentTransaction) -> Result<T, LifecycleError>,
    ) -> Result<T, LifecycleError>;
}

/// A declaration's priority, category and environment, each `None` when it does not exist.
pub type DeclarationReferences = (Option<PriorityRef>, Option<CategoryRef>, Option<EnvironmentRef>);

/// What the lifecycle reads and writes inside one transaction.
pub trait IncidentTransaction {
    /// A priority by id.
    fn priority(&mut self, id: &str) -> Result<Option<PriorityRef>, RepositoryError>;
    /// The priority with this value (1 = P1 …).
    fn priority_by_value(&mut self, value: i32) -> Result<Option<PriorityRef>, RepositoryError>;
    fn environment(&mut self, id: &str) -> Result<Option<EnvironmentRef>, RepositoryError>;
    fn category(&mut self, id: &str) -> Result<Option<CategoryRef>, RepositoryError>;
    /// A declaration's priority, category and environment at once; stores override it to read them
    /// in one round trip.
    fn declaration_references(
        &mut self,
        priority: &str,
        category: &str,
        environment: &str,
    ) -> Result<DeclarationReferences, RepositoryError> {
        Ok((self.priority(priority)?, self.category(category)?, self.environment(environment)?))
    }
    /// The impact levels among `ids` that exist.
    fn impact_levels(&mut self, ids: &[String]) -> Result<Vec<ImpactLevelRef>, RepositoryError>;
    fn role_types(&mut self) -> Result<Vec<RoleTypeRef>, RepositoryError>;
    fn key_event_types(&mut self) -> Result<Vec<KeyEventTypeRef>, RepositoryError>;
    fn metric_types(&mut self) -> Result<Vec<MetricTypeRef>, RepositoryError>;
    fn user_exists(&mut self, user: UserId) -> Result<bool, RepositoryError>;
    /// The user with this e-mail address.
    fn user_by_email(&mut self, email: &Email) -> Result<Option<UserId>, RepositoryError>;
    /// Creates a user with these permissions, in the transaction (the username derives from the
    /// e-mail address, made unique with a suffix).
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when the e-mail address is taken (by a concurrent transaction);
    /// the transaction stays usable.
    fn create_user(
        &mut self,
        user: &NewUser,
        permissions: &[crate::access::Permission],
        now: NaiveDateTime,
    ) -> Result<UserId, RepositoryError>;

    /// The open incident (at or below Mitigated) holding `key`, oldest first.
    fn open_incident_with_dedup_key(&mut self, key: &str) -> Result<Option<IncidentId>, RepositoryError>;
    /// Inserts an incident in status Open.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] with constraint `incidents_unique_open_dedup_key` when an open
    /// incident holds the dedup key.
    fn insert_incident(
        &mut self,
        incident: &NewIncident,
        now: NaiveDateTime,
    ) -> Result<IncidentId, RepositoryError>;
    /// Reads an incident and locks it until the transaction ends.
    fn lock_incident(&mut self, id: IncidentId) -> Result<Option<IncidentState>, RepositoryError>;
    /// Reads an incident without locking it.
    fn load_incident(&mut self, id: IncidentId) -> Result<Option<IncidentState>, RepositoryError>;
    /// Writes the given columns and `updated_at`.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] with constraint `incidents_unique_open_dedup_key` when reopening
    /// would give two open incidents the same dedup key.
    fn update_incident(
        &mut self,
        id: IncidentId,
        changes: &IncidentChanges,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError>;

    /// Appends a timeline entry; returns its id.
    fn insert_timeline_entry(
        &mut self,
        id: IncidentId,
        entry: &TimelineEntry,
        author: Option<UserId>,
        event_ts: NaiveDateTime,
        now: NaiveDateTime,
    ) -> Result<String, RepositoryError>;
    /// The latest timestamp of each key event the incident has recorded.
    fn key_events(&mut self, id: IncidentId) -> Result<HashMap<String, NaiveDateTime>, RepositoryError>;
    /// Records (or moves) a key event.
    fn set_key_event(
        &mut self,
        id: IncidentId,
        event_type: &str,
        at: NaiveDateTime,
        author: Option<UserId>,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError>;
    /// Removes a key event.
    fn clear_key_event(&mut self, id: IncidentId, event_type: &str) -> Result<(), RepositoryError>;
    /// Replaces all of the incident's metrics.
    fn replace_metrics(
        &mut self,
        id: IncidentId,
        metrics: &[ComputedMetric],
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError>;

    /// Role type id → holder.
    fn roles(&mut self, id: IncidentId) -> Result<Vec<(i64, UserId)>, RepositoryError>;
    fn set_role(
        &mut self,
        id: IncidentId,
        role_type_id: i64,
        user: UserId,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError>;
    fn remove_role(&mut self, id: IncidentId, role_type_id: i64) -> Result<(), RepositoryError>;
    /// Adds a member (no-op when already one).
    fn add_member(&mut self, id: IncidentId, user: UserId, now: NaiveDateTime)
    -> Result<(), RepositoryError>;
    /// Whether the user is a member.
    fn is_member(&mut self, id: IncidentId, user: UserId) -> Result<bool, RepositoryError>;
    /// Removes a member; `Ok(false)` when they were not one.
    fn remove_member(&mut self, id: IncidentId, user: UserId) -> Result<bool, RepositoryError>;
    fn link_impact(
        &mut self,
        id: IncidentId,
        level: &ImpactLevelRef,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError>;

    fn insert_cost(
        &mut self,
        id: IncidentId,
        cost: &CostInput,
        now: NaiveDateTime,
    ) -> Result<CostRecord, RepositoryError>;
    /// A cost of this incident.
    fn cost(&mut self, id: IncidentId, cost_id: i64) -> Result<Option<CostRecord>, RepositoryError>;
    fn update_cost(
        &mut self,
        cost_id: i64,
        cost: &CostInput,
        now: NaiveDateTime,
    ) -> Result<CostRecord, RepositoryError>;
    fn delete_cost(&mut self, cost_id: i64) -> Result<(), RepositoryError>;

    /// The incident's post-mortem as last recorded ([`PostMortemRecords`]); `NotLinked` when nothing
    /// was.
    fn postmortem_state(&mut self, id: IncidentId) -> Result<PostMortemState, RepositoryError>;

    fn append_audit(&mut self, entry: &AuditEntry, now: NaiveDateTime) -> Result<(), RepositoryError>;
    /// Appends an event to the outbox, with its actor, entry point, incident version and schema version.
    fn append_event(&mut self, event: &EventEnvelope, now: NaiveDateTime) -> Result<(), RepositoryError>;
}

/// Whether post-mortems are required at all: true once a post-mortem integration (Confluence, Jira)
/// is configured. The state of each incident's post-mortem is not asked here: the integration's jobs
/// record it ([`PostMortemRecords`]) and the close guard reads the record inside its transaction, so
/// closing an incident never waits for a remote service.
pub trait PostMortemBackend {
    /// Whether a backend is configured at all; without one, no incident needs a post-mortem.
    fn is_configured(&self) -> bool;
}

/// Where the post-mortem integration records what it found (implemented by storage). A job calls it
/// whenever it created, checked or lost sight of a post-mortem.
pub trait PostMortemRecords {
    /// Records the state of the incident's post-mortem, replacing the previous record.
    ///
    /// # Errors
    /// The incident does not exist, or a storage failure.
    fn record_postmortem_state(
        &self,
        id: IncidentId,
        state: &PostMortemState,
        now: NaiveDateTime,
    ) -> Result<(), RepositoryError>;
}

/// The post-mortem backend as the composition root wires it: one, shared by every entry point.
pub type SharedPostMortems = std::sync::Arc<dyn PostMortemBackend + Send + Sync>;

impl<T: PostMortemBackend + ?Sized> PostMortemBackend for std::sync::Arc<T> {
    fn is_configured(&self) -> bool {
        (**self).is_configured()
    }
}

/// No post-mortem backend: post-mortems are never required.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPostMortemBackend;

impl PostMortemBackend for NoPostMortemBackend {
    fn is_configured(&self) -> bool {
        false
    }
}
