//! The composition root: [`AppBuilder`] assembles the platform and its integrations into the two
//! programs, `firefighter-server` (HTTP API, embedded jobs, operator commands) and
//! `firefighter-worker` (the scaled mode's relay and queue consumers). Their `main`s are a line each.
//!
//! Only this crate and `apps/*` know which adapter implements which port. A private deployment (this
//! workspace pulled in as a git submodule) builds its own binaries the same way, adding its own
//! integrations: `AppBuilder::standard().integration(MyRouting::default()).server_main()`.

pub mod cli;
mod commands;
pub mod http;
pub mod telemetry;
pub mod worker;

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use incidents_core::facets::Facets;
use incidents_core::ports::SharedPostMortems;
use incidents_core::{IncidentLifecycle, NoPostMortemBackend, ReferenceData, ReferenceDataRepository};
use jobs::{EmbeddedJobs, Registry, Scheduler};
use platform::{Config, ConfigError, ConfigReader, Context, Integration, NoChat};
use storage::{Backend, Database, MigrationSet, PoolOptions};

pub use platform;

use http::{AppState, ServerOptions};

/// Exit code for a configuration problem (as for a usage error).
pub const EXIT_CONFIG: u8 = 2;

/// Whether [`App::prepare_database`] loads the default reference data into an empty database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedEmpty {
    Yes,
    No,
}

/// Collects the integrations of a program.
#[derive(Default)]
pub struct AppBuilder {
    integrations: Vec<Box<dyn Integration>>,
}

impl std::fmt::Debug for AppBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.integrations.iter().map(|i| i.name()).collect();
        f.debug_struct("AppBuilder").field("integrations", &names).finish()
    }
}

impl AppBuilder {
    /// The platform alone: incidents, the REST API, jobs, no integration.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The product as shipped: the platform with its integrations (webhooks, Slack, each off until
    /// configured) and the web dashboard.
    #[must_use]
    pub fn standard() -> Self {
        Self::new()
            .integration(webhooks::Webhooks::default())
            .integration(slack_adapter::Slack::default())
            .integration(raid_jira::Jira::default())
            .integration(dashboard::Dashboard::default())
    }

    /// Adds an integration. Order matters where it shows: migrations run, routes mount and facets
    /// list in registration order.
    #[must_use]
    pub fn integration(mut self, integration: impl Integration) -> Self {
        self.integrations.push(Box::new(integration));
        self
    }

    /// Reads the platform's configuration and every integration's section from `vars`.
    ///
    /// # Errors
    /// Every problem of every section, together; or two integrations with one name or one HTTP scope.
    pub fn configure(mut self, vars: &HashMap<String, String>) -> Result<App, ConfigError> {
        let mut reader = ConfigReader::new(vars);
        let config = Config::read(&mut reader);
        for integration in &mut self.integrations {
            integration.read_config(&mut reader);
        }
        let mut names = BTreeSet::new();
        let mut scopes = BTreeSet::new();
        for integration in &self.integrations {
            if !names.insert(integration.name()) {
                reader.problem("integrations", format!("two integrations are named {}", integration.name()));
            }
            if let Some(scope) = integration.http_scope()
                && !scopes.insert(scope)
            {
                reader.problem("integrations", format!("two integrations claim the HTTP scope {scope}"));
            }
        }
        let warnings = reader.finish()?;
        let config = Config { warnings, ..config };
        Ok(App {
            config: Arc::new(config),
            integrations: self.integrations.into_iter().map(Arc::from).collect(),
        })
    }

    /// The OpenAPI document of the REST API and every integration's routes.
    #[must_use]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        merged_openapi(self.integrations.iter().map(AsRef::as_ref))
    }

    /// `firefighter-server`'s `main`: the command line and the process environment (with `.env`).
    #[must_use]
    pub fn server_main(self) -> ExitCode {
        match platform::config::environment() {
            Ok(vars) => self.run_server(std::env::args_os(), &vars),
            Err(error) => config_failure("firefighter-server", &error),
        }
    }

    /// Runs a `firefighter-server` command line against `vars`, to completion.
    #[must_use]
    pub fn run_server(
        self,
        args: impl IntoIterator<Item = OsString>,
        vars: &HashMap<String, String>,
    ) -> ExitCode {
        commands::run(self, args, vars)
    }

    /// `firefighter-worker`'s `main`.
    #[must_use]
    pub fn worker_main(self) -> ExitCode {
        match platform::config::environment() {
            Ok(vars) => worker::run(self, std::env::args_os(), &vars),
            Err(error) => config_failure("firefighter-worker", &error),
        }
    }
}

/// A configured application: the platform's configuration and its integrations.
#[derive(Clone)]
pub struct App {
    config: Arc<Config>,
    integrations: Vec<Arc<dyn Integration>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.integrations.iter().map(|i| i.name()).collect();
        f.debug_struct("App").field("config", &self.config).field("integrations", &names).finish()
    }
}

impl App {
    /// The platform's configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The integrations' own migrations, in registration order.
    #[must_use]
    pub fn migration_sets(&self) -> Vec<MigrationSet> {
        self.integrations.iter().filter_map(|integration| integration.migrations()).collect()
    }

    /// Opens the database and brings it to the state the programs need: the core's and every
    /// integration's migrations applied (when automatic migration is on, the default; otherwise a
    /// schema that is behind is refused) and, with [`SeedEmpty::Yes`], seeded when it has no
    /// reference data.
    ///
    /// # Errors
    /// The database is unreachable, a migration fails, or the schema is behind.
    pub fn prepare_database(&self, seed_empty: SeedEmpty) -> anyhow::Result<Database> {
        let database = self.open_database()?;
        if self.config.database_auto_migrate {
            database.run_migrations()?;
            if seed_empty == SeedEmpty::Yes && database.reference_data_is_empty()? {
                let report = database.seed(&ReferenceData::defaults())?;
                tracing::info!(
                    rows = report.total(),
                    "empty database seeded with the default reference data"
                );
            }
            self.migrate_integrations(&database)?;
        } else {
            // Every migration the operator must run, the core's and the integrations' together.
            let pending = database.pending_migrations()?
                + database.pending_integration_migrations(&self.migration_sets())?;
            if pending > 0 {
                return Err(storage::StorageError::PendingMigrations { pending }.into());
            }
        }
        Ok(database)
    }

    /// Applies the integrations' migrations (or, with automatic migration off, refuses a schema
    /// that is behind).
    ///
    /// # Errors
    /// A set breaking the naming rule, a failing migration, or pending migrations.
    pub fn migrate_integrations(&self, database: &Database) -> anyhow::Result<()> {
        let sets = self.migration_sets();
        if self.config.database_auto_migrate {
            database.run_integration_migrations(&sets)?;
        } else {
            let pending = database.pending_integration_migrations(&sets)?;
            if pending > 0 {
                return Err(storage::StorageError::PendingMigrations { pending }.into());
            }
        }
        Ok(())
    }

    /// Opens the pool, with one checked connection.
    ///
    /// # Errors
    /// The database is unreachable.
    pub fn open_database(&self) -> anyhow::Result<Database> {
        let options = PoolOptions {
            max_size: match self.config.database_url {
                // SQLite has one writer at a time; a few connections serve readers beside it.
                storage::DatabaseUrl::Sqlite { .. } => self.config.database_pool_size.min(8),
                storage::DatabaseUrl::Postgres { .. } => self.config.database_pool_size,
            },
            ..PoolOptions::default()
        };
        Ok(Database::connect(&self.config.database_url, options)?)
    }

    /// Every table of the back-office: the core's, then each integration's.
    #[must_use]
    pub fn catalog(&self) -> incidents_core::backoffice::Catalog {
        incidents_core::backoffice::Catalog::new(
            self.integrations.iter().flat_map(|integration| integration.backoffice_models()),
        )
    }

    /// What every integration is given: the database, the configuration, the secret key, the one
    /// lifecycle service, the chat and paging ports and every integration's facets.
    ///
    /// # Errors
    /// The secret key cannot be read or kept.
    pub fn context(&self, database: Database) -> anyhow::Result<Context> {
        let secret_key = self
            .config
            .resolve_secret_key()
            .with_context(|| format!("cannot keep the secret key in {}", self.config.data_dir.display()))?;
        let postmortems: SharedPostMortems = self
            .integrations
            .iter()
            .find_map(|integration| integration.postmortem_backend())
            .unwrap_or_else(|| Arc::new(NoPostMortemBackend));
        let cache: Arc<dyn cache::Cache> = match shared_cache(&self.config)? {
            Some(shared) => shared,
            None => Arc::new(cache::MemoryCache::new()),
        };
        let mut context = Context {
            lifecycle: IncidentLifecycle::new(database.clone(), postmortems),
            database,
            config: Arc::clone(&self.config),
            secret_key,
            chat: Arc::new(NoChat::default()),
            paging: Arc::new(incidents_core::paging::NoPaging),
            facets: Facets::default(),
            actions: platform::actions::IncidentActions::default(),
            catalog: self.catalog(),
            table_actions: platform::actions::TableActions::default(),
            cache,
        };
        if let Some(chat) = self.integrations.iter().find_map(|integration| integration.chat(&context)) {
            context.chat = chat;
        }
        if let Some(paging) = self.integrations.iter().find_map(|integration| integration.paging(&context)) {
            context.paging = paging;
        }
        let sources =
            self.integrations.iter().filter_map(|integration| integration.facets(&context)).collect();
        context.facets = Facets::new(sources);
        let actions =
            self.integrations.iter().flat_map(|integration| integration.incident_actions(&context)).collect();
        context.actions = platform::actions::IncidentActions::new(actions);
        let table_actions = self
            .integrations
            .iter()
            .flat_map(|integration| integration.backoffice_actions(&context))
            .collect();
        context.table_actions = platform::actions::TableActions::new(table_actions);
        Ok(context)
    }

    /// Runs every integration's start-up check ([`Integration::start`]).
    ///
    /// # Errors
    /// The first integration that refuses to start.
    pub fn start_integrations(&self, context: &Context) -> anyhow::Result<()> {
        for integration in &self.integrations {
            integration.start(context).with_context(|| format!("integration {}", integration.name()))?;
        }
        Ok(())
    }

    /// The job handlers, subscriptions and schedules of the platform and every integration.
    ///
    /// # Errors
    /// A registration conflict or a schedule that does not parse (bugs).
    pub fn jobs(&self, context: &Context) -> anyhow::Result<(Registry, Scheduler)> {
        let mut registry = Registry::new();
        let mut scheduler = Scheduler::new(self.config.time_zone, incidents_core::clock::now());
        jobs::maintenance::register(
            &mut registry,
            &mut scheduler,
            context.database.clone(),
            self.config.outbox_retention,
        )?;
        for integration in &self.integrations {
            integration
                .register_jobs(context, &mut registry)
                .with_context(|| format!("integration {}", integration.name()))?;
            integration
                .schedule(context, &mut scheduler)
                .with_context(|| format!("integration {}", integration.name()))?;
        }
        registry.validate()?;
        Ok((registry, scheduler))
    }

    /// The OpenAPI document of the REST API and every integration's routes.
    #[must_use]
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        merged_openapi(self.integrations.iter().map(AsRef::as_ref))
    }

    pub(crate) fn integrations(&self) -> &[Arc<dyn Integration>] {
        &self.integrations
    }
}

fn merged_openapi<'a>(integrations: impl Iterator<Item = &'a dyn Integration>) -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi as _;
    let mut document = http_api::openapi::document();
    document.merge(http::health::MonitoringDoc::openapi());
    for integration in integrations {
        if let Some(paths) = integration.openapi() {
            document.merge(paths);
        }
    }
    document
}

/// A running HTTP server.
pub struct Application {
    address: SocketAddr,
    server: actix_web::dev::Server,
    jobs: Option<EmbeddedJobs>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Application {
    /// Binds the configured address (port 0 picks a free one) and builds the server on `database`
    /// (its integrations' migrations are applied first); call [`Application::run_until_stopped`] to
    /// serve.
    ///
    /// # Errors
    /// The address cannot be bound, or the integrations cannot be set up.
    pub fn build(app: &App, database: Database) -> anyhow::Result<Self> {
        let config = app.config();
        app.migrate_integrations(&database)?;
        let bind = SocketAddr::new(config.http_bind, config.http_port);
        let listener = TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
        let address = listener.local_addr()?;
        let context = app.context(database.clone())?;
        app.start_integrations(&context)?;
        let mut api = http_api::ApiState::new(
            database.clone(),
            context.lifecycle.clone(),
            config.base_url.as_str(),
            config.time_zone,
            config.api_rate_limit_per_minute,
        )
        .with_facets(context.facets.clone());
        let cache = config.redis_url.is_some().then(|| Arc::clone(&context.cache));
        if let Some(cache) = &cache {
            api = api.with_shared_rate_limit(config.api_rate_limit_per_minute, Arc::clone(cache));
        }
        let jobs = if config.amqp_url.is_some() {
            tracing::info!("scaled mode (AMQP_URL set): firefighter-worker relays and runs the jobs");
            None
        } else if config.embedded_jobs {
            let (registry, scheduler) = app.jobs(&context)?;
            Some(EmbeddedJobs::start(database.clone(), registry, scheduler, config.job_lease)?)
        } else {
            None
        };
        let checks =
            app.integrations().iter().flat_map(|integration| integration.readiness(&context)).collect();
        let state = AppState {
            database,
            health_timeout: config.health_timeout,
            queue: amqp_settings(config, "firefighter-server readiness"),
            cache,
            checks,
        };
        let options = ServerOptions {
            shutdown_timeout: config.shutdown_timeout,
            workers: None,
            cors_allowed_origins: config.cors_allowed_origins.clone(),
        };
        let mounted = http::Mounted {
            context,
            integrations: app.integrations().to_vec(),
            document: http_api::openapi::ApiDocument::new(&app.openapi()),
        };
        let server = http::build_server(state, api, mounted, listener, options)?;
        Ok(Self { address, server, jobs })
    }

    /// The bound address.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A handle to stop the server gracefully.
    #[must_use]
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting connections and lets in-flight requests
    /// finish within the shutdown timeout.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes (or the server is stopped through its handle), then stops
    /// gracefully.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let mut server = std::pin::pin!(self.server);
        let result = tokio::select! {
            result = &mut server => result,
            () = shutdown => {
                tracing::info!("shutdown requested: finishing in-flight requests");
                // The stop completes only while the server future is polled: drive both.
                let (result, ()) = tokio::join!(server, handle.stop(true));
                result
            }
        };
        // Let the job in flight finish (off the async threads).
        if let Some(jobs) = self.jobs {
            if let Err(error) = tokio::task::spawn_blocking(move || jobs.stop()).await {
                tracing::error!(%error, "stopping the job runner failed");
            }
            tracing::info!("job runner stopped");
        }
        result
    }
}

/// The shared cache, when `REDIS_URL` is set.
///
/// # Errors
/// The URL cannot be used.
pub fn shared_cache(config: &Config) -> anyhow::Result<Option<Arc<dyn cache::Cache>>> {
    let Some(url) = &config.redis_url else { return Ok(None) };
    let cache = redis_cache::RedisCache::new(&redis_cache::RedisSettings::new(url.expose()))?;
    Ok(Some(Arc::new(cache)))
}

/// The broker settings, when `AMQP_URL` is set.
#[must_use]
pub fn amqp_settings(config: &Config, connection_name: &str) -> Option<amqp_transport::Settings> {
    let url = config.amqp_url.as_ref()?;
    let mut settings = amqp_transport::Settings::new(url.expose());
    settings.prefix.clone_from(&config.amqp_prefix);
    settings.prefetch = config.worker_prefetch;
    settings.lease = config.job_lease;
    connection_name.clone_into(&mut settings.connection_name);
    Some(settings)
}

/// Completes on the first SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut terminate), Ok(mut interrupt)) => {
            tokio::select! {
                _ = terminate.recv() => tracing::info!("SIGTERM received"),
                _ = interrupt.recv() => tracing::info!("SIGINT received"),
            }
        }
        _ => {
            tracing::error!("cannot listen for shutdown signals; stop the server with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

fn backend_name(database: &Database) -> &'static str {
    match database.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// Turns an error chain into one line for the terminal.
fn one_line(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn exit_failure(program: &str, error: &anyhow::Error) -> ExitCode {
    #[expect(clippy::print_stderr, reason = "the one line an operator reads when a command fails")]
    {
        eprintln!("{program}: error: {}", one_line(error));
    }
    ExitCode::FAILURE
}

fn config_failure(program: &str, error: &ConfigError) -> ExitCode {
    #[expect(clippy::print_stderr, reason = "configuration errors come before logging is set up")]
    for problem in &error.problems {
        eprintln!("{program}: configuration error: {problem}");
    }
    ExitCode::from(EXIT_CONFIG)
}
