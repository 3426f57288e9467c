//! Jira, and the RAID module: a ticket for every incident, its status and priority mirrored both ways.
//!
//! - [`config`]: the original's variables (`ENABLE_JIRA`, `ENABLE_RAID`, `RAID_JIRA_*`), the
//!   custom-field ids with the original's defaults.
//! - [`client`]: a typed Jira REST v2 client (Basic auth; 429/503 `Retry-After` and transient
//!   failures retried; errors carrying Jira's status and messages; search through `/search/jql`).
//! - [`workflow`]: the workflow graph and the shortest path to a status by name, `Closed` never an
//!   intermediate hop.
//! - [`mapping`]: status and priority as the sync engine's field maps.

pub mod client;
pub mod config;
pub mod mapping;
pub mod wiki;
pub mod workflow;

pub use client::{JiraClient, JiraError};
pub use config::{Config, JiraConfig, RaidConfig};
pub mod api;
mod integration;
pub mod landbot;
pub mod raid;
pub mod schema;
pub mod store;
pub mod sync;
pub mod watchers;

pub use integration::Jira;
