//! The FireFighter domain: what an incident is, the fixed vocabularies around it (statuses, closure
//! reasons, impact levels), the default reference data, and the ports that storage and integration
//! adapters implement.
//!
//! This crate must stay free of I/O: no actix, diesel, lapin, redis or reqwest. Adapters depend on it,
//! never the other way round, so the rules written here apply identically to every entry point.

pub mod access;
pub mod backoffice;
pub mod chat;
pub mod clock;
pub mod date_range;
pub mod events;
pub mod facets;
pub mod impact;
pub mod incident;
pub mod lifecycle;
pub mod metrics;
pub mod money;
pub mod paging;
pub mod ports;
pub mod query;
pub mod reference;
pub mod statistics;
pub mod status;
pub mod user;
pub mod workflow;

pub use events::{Actor, DomainEvent, EntryPoint, EventEnvelope, EventType};
pub use impact::{ImpactLevelCode, NoImpactError, priority_value_from_impacts};
pub use incident::IncidentId;
pub use lifecycle::{IncidentLifecycle, LifecycleError};
pub use money::Amount;
pub use ports::{
    IncidentStore, IncidentTransaction, NoPostMortemBackend, PostMortemBackend, PostMortemRecords,
    ReferenceDataRepository, RepositoryError, SeedReport, UserRepository,
};
pub use reference::ReferenceData;
pub use status::{ClosureReason, IncidentStatus, UnknownValue};
pub use user::{Email, InvalidEmail, NewUser, User, UserId};
