//! The webhooks integration: what it contributes to the application.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use jobs::Registry;
use platform::config::parse_bool;
use platform::{ConfigReader, Context, Integration};
use storage::{Database, MigrationSet};

use crate::{Deliver, Deliverer, SecretBox, WebhookStore, validate_endpoint};

static SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Outgoing webhooks, as an integration.
#[derive(Debug, Default)]
pub struct Webhooks {
    /// `FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS`: whether deliveries may reach loopback, private and
    /// link-local addresses (off by default: SSRF).
    allow_private_targets: bool,
}

/// `firefighter-server webhook …`
#[derive(Debug, Parser)]
#[command(
    name = "webhook",
    about = "Outgoing webhooks: `webhook add --url U --secret S --event incident_created [--event …]`, `webhook list`, `webhook remove ID`"
)]
struct WebhookCli {
    #[command(subcommand)]
    command: WebhookCommand,
}

/// What to do with webhook endpoints.
#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Register an endpoint; prints its id.
    Add {
        #[arg(long)]
        url: String,
        /// Shared with the receiver to check signatures (16 to 200 characters).
        #[arg(long)]
        secret: String,
        /// An event type to deliver (repeatable).
        #[arg(long = "event", required = true)]
        events: Vec<String>,
    },
    /// List endpoints: id, URL, event types.
    List,
    /// Remove an endpoint and its delivery log.
    Remove { id: i64 },
}

fn api_state(context: &Context) -> http_api::ApiState<Database> {
    let config = &context.config;
    http_api::ApiState::new(
        context.database.clone(),
        context.lifecycle.clone(),
        config.base_url.as_str(),
        config.time_zone,
        0,
    )
    .with_facets(context.facets.clone())
}

impl Integration for Webhooks {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn read_config(&mut self, env: &mut ConfigReader<'_>) {
        self.allow_private_targets = env.parse("FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS", false, parse_bool);
    }

    fn backoffice_models(&self) -> Vec<&'static incidents_core::backoffice::Model> {
        crate::backoffice::MODELS.iter().collect()
    }

    fn backoffice_actions(&self, context: &Context) -> Vec<platform::actions::TableAction> {
        vec![crate::backoffice::register(context)]
    }

    fn migrations(&self) -> Option<MigrationSet> {
        Some(MigrationSet { name: "webhooks", sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn register_jobs(&self, context: &Context, registry: &mut Registry) -> anyhow::Result<()> {
        // The incident in a body is rendered as the API shows it.
        let renderer = api_state(context);
        let deliverer = Deliverer {
            store: context.database.clone(),
            render: Arc::new(move |id| http_api::render_incident(&renderer, id)),
            allow_private: self.allow_private_targets,
            timeout: Duration::from_secs(10),
            secrets: SecretBox::new(context.secret_key.expose()),
        };
        registry.register(move |job: Deliver, attempt| deliverer.deliver(&job, attempt))?;
        let subscriptions = context.database.clone();
        registry
            .on_events_try(move |events: &[jobs::OutboxEvent]| crate::jobs_for_batch(&subscriptions, events));
        Ok(())
    }

    fn http_scope(&self) -> Option<&'static str> {
        Some("/api/v2/firefighter/webhooks")
    }

    fn routes(&self, context: &Context, routes: &mut actix_web::web::ServiceConfig) {
        crate::api::configure(
            routes,
            crate::api::Routes { secrets: SecretBox::new(context.secret_key.expose()) },
        );
    }

    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        use utoipa::OpenApi;
        Some(crate::api::WebhookDoc::openapi())
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![WebhookCli::command()]
    }

    #[expect(clippy::print_stdout, reason = "command output")]
    fn run_command(&self, context: &Context, _name: &str, matches: &clap::ArgMatches) -> anyhow::Result<()> {
        let database = &context.database;
        match WebhookCli::from_arg_matches(matches)?.command {
            WebhookCommand::Add { url, secret, events } => {
                if let Err(invalid) = validate_endpoint(&url, &secret, &events) {
                    bail!(
                        "--{}: {}",
                        if invalid.field == "events" { "event" } else { invalid.field },
                        invalid.message
                    );
                }
                let sealed = SecretBox::new(context.secret_key.expose()).seal(&secret);
                let endpoint =
                    database.create_endpoint(&url, &sealed, &events, incidents_core::clock::now())?;
                println!("{}", endpoint.id);
            }
            WebhookCommand::List => {
                for endpoint in database.endpoints()? {
                    println!("{}\t{}\t{}", endpoint.id, endpoint.url, endpoint.events.join(","));
                }
            }
            WebhookCommand::Remove { id } => {
                if !database.delete_endpoint(id)? {
                    bail!("no webhook endpoint {id}");
                }
                println!("removed webhook endpoint {id}");
            }
        }
        Ok(())
    }
}
