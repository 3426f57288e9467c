//! Slack: every incident, from any entry point, lives in a channel of its own.
//!
//! - [`client`]: a typed Slack Web API client over the workspace's reqwest, paced per method tier,
//!   waiting `Retry-After` on 429s and retrying transient failures;
//! - [`verify`] and [`inbound`]: the endpoint Slack calls (signature first, then an immediate
//!   acknowledgement and a job);
//! - [`interact`] and [`blockkit`]: the commands, shortcuts, buttons and modals, on one form ↔ Block
//!   Kit layer;
//! - [`channel`]: the channel lifecycle as idempotent jobs reacting to the lifecycle's events;
//! - [`messages`], [`naming`], [`rules`]: what is posted, how channels are named, who hears what;
//! - [`Slack`]: the integration the composition root adds.
//!
//! It depends on the core, the job machinery, storage and the platform seam; never on another
//! integration (Jira and the others reach Slack through the chat port and outbox events).

mod api;
pub mod backoffice;
pub mod blockkit;
pub mod channel;
pub mod chat;
pub mod client;
pub mod config;
pub mod directory;
pub mod events;
pub mod facets;
pub mod inbound;
mod integration;
pub mod interact;
pub mod manifest;
pub mod messages;
pub mod model;
pub mod naming;
pub mod people;
pub mod reminders;
pub mod rules;
mod schema;
pub mod socket;
pub mod sos;
pub mod store;
pub mod sync;
pub mod verify;

#[cfg(test)]
mod testing;

pub use integration::{Slack, validate_tag};
