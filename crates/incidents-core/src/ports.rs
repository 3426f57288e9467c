//! The ports: what the domain needs from the outside world, as traits adapters implement.
//!
//! Ports are synchronous. Storage is diesel (synchronous); callers on an async executor run a whole
//! use case on a blocking thread rather than hopping between threads for each query.

use crate::reference::ReferenceData;
use crate::user::{Email, NewUser, User};

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
