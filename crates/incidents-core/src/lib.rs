//! The FireFighter domain: what an incident is, the fixed vocabularies around it (statuses, closure
//! reasons, impact levels), the default reference data, and the ports that storage and integration
//! adapters implement.
//!
//! This crate must stay free of I/O: no actix, diesel, lapin, redis or reqwest. Adapters depend on it,
//! never the other way round, so the rules written here apply identically to every entry point.

pub mod impact;
pub mod ports;
pub mod reference;
pub mod status;
pub mod user;
pub mod workflow;

pub use impact::{ImpactLevelCode, NoImpactError, priority_value_from_impacts};
pub use ports::{ReferenceDataRepository, RepositoryError, SeedReport, UserRepository};
pub use reference::ReferenceData;
pub use status::{ClosureReason, IncidentStatus, UnknownValue};
pub use user::{Email, InvalidEmail, NewUser, User, UserId};
