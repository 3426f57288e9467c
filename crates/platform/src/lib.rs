//! The seam every integration plugs into: the [`Integration`] trait, the [`Context`] it is given, and
//! the configuration reader its section uses.
//!
//! An integration (webhooks, Slack, Jira, PagerDuty, Confluence, the dashboard, or a private crate)
//! implements [`Integration`] and is added to the composition root's `AppBuilder`. Through it, in one
//! place, it contributes: a typed configuration section read from the environment (its problems are
//! reported with every other section's), its own tables ([`storage::MigrationSet`]), job handlers and
//! outbox subscriptions, schedules, HTTP routes under a scope of its own with their OpenAPI paths,
//! readiness checks, CLI subcommands, and incident facets.
//!
//! Integrations never depend on each other: one reacts to another through events on the outbox.
//! This crate depends on the core, the I/O-free job machinery and storage (integrations keep their
//! tables in the same database), never on an adapter.

pub mod actions;
pub mod config;
pub mod net;
pub mod password;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Once};

use actix_web::web;
use incidents_core::IncidentLifecycle;
use incidents_core::chat::{ChatError, ChatMessage, ChatPort, Conversation, PostedMessage};
use incidents_core::facets::{FacetSource, Facets};
use incidents_core::paging::PagingPort;
use incidents_core::ports::SharedPostMortems;
use jobs::{Registry, Scheduler};
use storage::{Database, MigrationSet};

pub use config::{Config, ConfigError, ConfigProblem, ConfigReader, Secret};
/// The versions the seam's signatures use (routes, subcommands), so that an integration names the
/// same types whatever versions its own workspace pulls in.
pub use {actix_web, clap};

/// The one lifecycle service of an application: every entry point uses this one.
pub type Lifecycle = IncidentLifecycle<Database, SharedPostMortems>;

/// What an integration is given once the application is assembled.
#[derive(Clone)]
pub struct Context {
    pub database: Database,
    /// The platform's configuration section.
    pub config: Arc<Config>,
    /// `SECRET_KEY`, resolved (integrations derive their own keys from it, e.g. to seal secrets).
    pub secret_key: Secret,
    /// The lifecycle service: the only way to change an incident.
    pub lifecycle: Lifecycle,
    /// The chat platform (a no-op when none is configured).
    pub chat: Arc<dyn ChatPort>,
    /// The on-call paging service ([`incidents_core::paging::NoPaging`] when none is configured).
    pub paging: Arc<dyn PagingPort>,
    /// Every integration's facets (empty while the integrations are being asked for theirs).
    pub facets: Facets,
    /// Every integration's incident actions (empty while the integrations are being asked).
    pub actions: actions::IncidentActions,
    /// Every table staff administer in the back-office: the core's, then the integrations'
    /// ([`Integration::backoffice_models`]).
    pub catalog: incidents_core::backoffice::Catalog,
    /// Every integration's operations on its back-office tables ([`Integration::backoffice_actions`]).
    pub table_actions: actions::TableActions,
    /// The cache: shared through Redis when `REDIS_URL` is set, this process's memory otherwise (for
    /// what must happen once across servers, such as deduplicating a delivery).
    pub cache: Arc<dyn cache::Cache>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("chat", &self.chat.platform())
            .field("paging", &self.paging.platform())
            .finish_non_exhaustive()
    }
}

/// A readiness probe's answer: `Err` carries what an operator should read.
pub type ReadinessFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A named readiness check, reported by `/monitoring/readiness` beside the database's. A failing
/// integration check makes the server `degraded`, not down.
#[derive(Clone)]
pub struct ReadinessCheck {
    pub name: String,
    pub check: Arc<dyn Fn() -> ReadinessFuture + Send + Sync>,
}

impl std::fmt::Debug for ReadinessCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessCheck").field("name", &self.name).finish_non_exhaustive()
    }
}

/// A part of the product that plugs into the application. Every method has a default that
/// contributes nothing, so an integration implements only what it has.
///
/// Call order when an application starts: [`Integration::read_config`] (all integrations, then
/// every problem is reported at once), [`Integration::migrations`] (applied after the core's, in
/// registration order), then, with a [`Context`], jobs, schedules, facets, readiness, routes. CLI
/// subcommands run with a context too.
pub trait Integration: Send + Sync + 'static {
    /// A unique, stable name (`webhooks`, `slack`): prefixes its migration versions and names it in logs.
    fn name(&self) -> &'static str;

    /// Reads its configuration section. Report problems with [`ConfigReader::problem`]; they are shown
    /// with every other section's, and the application does not start.
    fn read_config(&mut self, _env: &mut ConfigReader<'_>) {}

    /// Its own tables.
    fn migrations(&self) -> Option<MigrationSet> {
        None
    }

    /// Registers job handlers and the subscriptions that turn outbox events into its jobs.
    ///
    /// # Errors
    /// A registration conflict (a bug).
    fn register_jobs(&self, _context: &Context, _registry: &mut Registry) -> anyhow::Result<()> {
        Ok(())
    }

    /// Adds its periodic jobs (their handlers are registered by [`Integration::register_jobs`]).
    ///
    /// # Errors
    /// A schedule that does not parse (a bug).
    fn schedule(&self, _context: &Context, _scheduler: &mut Scheduler) -> anyhow::Result<()> {
        Ok(())
    }

    /// The path its routes live under (e.g. `/api/v2/firefighter/webhooks`); `None`: no routes. Two
    /// integrations cannot claim the same scope.
    fn http_scope(&self) -> Option<&'static str> {
        None
    }

    /// Registers its routes, relative to [`Integration::http_scope`]. Called once per server worker
    /// thread. The REST API's state (`web::Data<http_api::ApiState<Database>>`) is registered, so
    /// routes can authenticate API tokens as the API does.
    fn routes(&self, _context: &Context, _routes: &mut web::ServiceConfig) {}

    /// Routes at the site's root, outside any scope (the dashboard's pages: `/`, `/incident/…`),
    /// registered after the REST API's so they never shadow it. Called once per server worker thread.
    fn site_routes(&self, _context: &Context, _routes: &mut web::ServiceConfig) {}

    /// The OpenAPI paths of its routes, merged into the served document.
    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        None
    }

    /// Readiness checks of what it depends on (a SaaS it calls, say).
    fn readiness(&self, _context: &Context) -> Vec<ReadinessCheck> {
        Vec::new()
    }

    /// Its CLI subcommands (`firefighter-server <name> …`).
    fn commands(&self) -> Vec<clap::Command> {
        Vec::new()
    }

    /// Runs one of its subcommands, on a migrated database.
    ///
    /// # Errors
    /// What the command reports (one line on standard error, exit code 1).
    fn run_command(&self, _context: &Context, name: &str, _matches: &clap::ArgMatches) -> anyhow::Result<()> {
        anyhow::bail!("{} has no command {name}", self.name())
    }

    /// Whether incidents need a post-mortem to close, when this integration keeps post-mortems
    /// (Confluence, Jira). The first integration that answers is the application's backend; its jobs
    /// record each incident's post-mortem state (`incidents_core::PostMortemRecords`).
    fn postmortem_backend(&self) -> Option<SharedPostMortems> {
        None
    }

    /// What it knows about incidents, shown by the API, exports and pages.
    fn facets(&self, _context: &Context) -> Option<Arc<dyn FacetSource>> {
        None
    }

    /// Operations it offers staff on an incident's page (the dashboard shows them as forms).
    fn incident_actions(&self, _context: &Context) -> Vec<actions::IncidentAction> {
        Vec::new()
    }

    /// Its own tables staff administer in the back-office and with `firefighter-server admin`
    /// (Slack's user groups, conversations, SOS targets), described for the core's back-office
    /// service; their table names must be this integration's.
    fn backoffice_models(&self) -> Vec<&'static incidents_core::backoffice::Model> {
        Vec::new()
    }

    /// Operations on its back-office tables that the generic forms cannot do (registering a webhook,
    /// whose secret it seals). `context.table_actions` is empty here.
    fn backoffice_actions(&self, _context: &Context) -> Vec<actions::TableAction> {
        Vec::new()
    }

    /// The chat platform it provides, if it is one (Slack). The first integration that answers is the
    /// application's chat port; without one, [`NoChat`]. `context.chat` is still [`NoChat`] here.
    fn chat(&self, _context: &Context) -> Option<Arc<dyn ChatPort>> {
        None
    }

    /// The on-call paging service it provides, if it is one (PagerDuty). The first integration that
    /// answers is the application's paging port; without one, `NoPaging`. Asked after the chat port.
    fn paging(&self, _context: &Context) -> Option<Arc<dyn PagingPort>> {
        None
    }

    /// Runs once when a program that serves or runs jobs starts, after the database is ready and
    /// before anything is served: checks what the integration depends on (a SaaS token, say).
    ///
    /// # Errors
    /// A problem that must stop the start-up (a token the SaaS refuses), as one line.
    fn start(&self, _context: &Context) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The chat port when no chat platform is configured: every call answers
/// [`ChatError::NotConfigured`], and the first says so in the logs, once.
#[derive(Debug)]
pub struct NoChat {
    said: Once,
}

impl Default for NoChat {
    fn default() -> Self {
        Self { said: Once::new() }
    }
}

impl NoChat {
    fn refuse<T>(&self) -> Result<T, ChatError> {
        self.said.call_once(|| {
            tracing::info!(
                "no chat platform is configured (SLACK_BOT_TOKEN unset): chat messages are skipped"
            );
        });
        Err(ChatError::NotConfigured)
    }
}

impl ChatPort for NoChat {
    fn platform(&self) -> &'static str {
        "none"
    }
    fn create_incident_conversation(&self, _name: &str, _private: bool) -> Result<Conversation, ChatError> {
        self.refuse()
    }
    fn invite(&self, _conversation_id: &str, _user_ids: &[String]) -> Result<(), ChatError> {
        self.refuse()
    }
    fn post(&self, _conversation_id: &str, _message: &ChatMessage) -> Result<PostedMessage, ChatError> {
        self.refuse()
    }
    fn update(&self, _message: &PostedMessage, _content: &ChatMessage) -> Result<(), ChatError> {
        self.refuse()
    }
    fn pin(&self, _message: &PostedMessage) -> Result<(), ChatError> {
        self.refuse()
    }
    fn bookmark(&self, _conversation_id: &str, _title: &str, _url: &str) -> Result<(), ChatError> {
        self.refuse()
    }
    fn set_topic(&self, _conversation_id: &str, _topic: &str) -> Result<(), ChatError> {
        self.refuse()
    }
    fn rename(&self, _conversation_id: &str, _name: &str) -> Result<(), ChatError> {
        self.refuse()
    }
    fn archive(&self, _conversation_id: &str) -> Result<(), ChatError> {
        self.refuse()
    }
    fn unarchive(&self, _conversation_id: &str) -> Result<(), ChatError> {
        self.refuse()
    }
    fn direct_message(&self, _user_id: &str, _message: &ChatMessage) -> Result<PostedMessage, ChatError> {
        self.refuse()
    }
    fn post_to_tagged(&self, _tag: &str, _message: &ChatMessage) -> Result<Vec<PostedMessage>, ChatError> {
        self.refuse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_chat_platform_every_call_says_so() {
        let chat = NoChat::default();
        assert_eq!(chat.platform(), "none");
        assert_eq!(chat.create_incident_conversation("inc-1", false), Err(ChatError::NotConfigured));
        assert_eq!(chat.post("C1", &ChatMessage::text("hello")), Err(ChatError::NotConfigured));
        assert_eq!(
            chat.post_to_tagged("tech_incidents", &ChatMessage::text("hi")),
            Err(ChatError::NotConfigured)
        );
        assert!(!ChatError::NotConfigured.is_retryable(), "a job does not retry what cannot work");
    }
}
