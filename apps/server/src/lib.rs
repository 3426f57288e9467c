//! `firefighter-server`: wires configuration, storage and the HTTP shell together, and runs the
//! operator commands. Kept thin: rules live in `incidents-core`, queries in `storage`.
//!
//! A private deployment builds its own binary from these pieces: [`config::Config`], [`Application`]
//! and [`http::configure`].

pub mod cli;
pub mod config;
pub mod embedded_jobs;
pub mod http;
pub mod telemetry;

mod commands;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use anyhow::Context;
use incidents_core::{ReferenceData, ReferenceDataRepository};
use storage::{Backend, Database, PoolOptions};

pub use commands::run;
use config::Config;
use http::{AppState, ServerOptions};

/// Exit code for a configuration problem (as for a usage error).
pub const EXIT_CONFIG: u8 = 2;

/// Whether [`prepare_database`] loads the default reference data into an empty database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedEmpty {
    Yes,
    No,
}

/// Opens the database and brings it to the state the server needs: migrated (when automatic
/// migration is on, the default) and, with [`SeedEmpty::Yes`], seeded when it has no reference data.
///
/// # Errors
/// The database is unreachable, a migration fails, or the schema is behind and auto-migration is off.
pub fn prepare_database(config: &Config, seed_empty: SeedEmpty) -> anyhow::Result<Database> {
    let database = open_database(config)?;
    if config.database_auto_migrate {
        database.run_migrations()?;
        if seed_empty == SeedEmpty::Yes && database.reference_data_is_empty()? {
            let report = database.seed(&ReferenceData::defaults())?;
            tracing::info!(rows = report.total(), "empty database seeded with the default reference data");
        }
    } else {
        database.ensure_migrated()?;
    }
    Ok(database)
}

/// Opens the pool, with one checked connection.
///
/// # Errors
/// The database is unreachable.
pub fn open_database(config: &Config) -> anyhow::Result<Database> {
    let options = PoolOptions {
        max_size: match config.database_url {
            // SQLite has one writer at a time; a few connections serve readers beside it.
            storage::DatabaseUrl::Sqlite { .. } => config.database_pool_size.min(8),
            storage::DatabaseUrl::Postgres { .. } => config.database_pool_size,
        },
        ..PoolOptions::default()
    };
    Ok(Database::connect(&config.database_url, options)?)
}

/// A running HTTP server.
pub struct Application {
    address: SocketAddr,
    server: actix_web::dev::Server,
    jobs: Option<embedded_jobs::EmbeddedJobs>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Application {
    /// Binds the configured address (port 0 picks a free one) and builds the server; call
    /// [`Application::run_until_stopped`] to serve.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub fn build(config: &Config, database: Database) -> anyhow::Result<Self> {
        let bind = SocketAddr::new(config.http_bind, config.http_port);
        let listener = TcpListener::bind(bind).with_context(|| format!("cannot listen on {bind}"))?;
        let address = listener.local_addr()?;
        let secret_key = config
            .resolve_secret_key()
            .with_context(|| format!("cannot keep the secret key in {}", config.data_dir.display()))?;
        let mut api = http_api::ApiState::new(
            database.clone(),
            config.base_url.as_str(),
            config.time_zone,
            config.api_rate_limit_per_minute,
            secret_key.expose(),
        );
        let cache = shared_cache(config)?;
        if let Some(cache) = &cache {
            api = api.with_shared_rate_limit(config.api_rate_limit_per_minute, std::sync::Arc::clone(cache));
        }
        let jobs = if config.amqp_url.is_some() {
            tracing::info!("scaled mode (AMQP_URL set): firefighter-worker relays and runs the jobs");
            None
        } else if config.embedded_jobs {
            let settings = embedded_jobs::JobSettings::from_config(config, &secret_key);
            let registry = embedded_jobs::registry(&database, &settings)?;
            let scheduler = embedded_jobs::scheduler(config.time_zone, incidents_core::lifecycle::now())?;
            Some(embedded_jobs::EmbeddedJobs::start(database.clone(), registry, scheduler)?)
        } else {
            None
        };
        let state = AppState {
            database,
            health_timeout: config.health_timeout,
            queue: amqp_settings(config, "firefighter-server readiness"),
            cache,
        };
        let options = ServerOptions {
            shutdown_timeout: config.shutdown_timeout,
            workers: None,
            cors_allowed_origins: config.cors_allowed_origins.clone(),
        };
        let server = http::build_server(state, api, listener, options)?;
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
pub fn shared_cache(config: &Config) -> anyhow::Result<Option<std::sync::Arc<dyn cache::Cache>>> {
    let Some(url) = &config.redis_url else { return Ok(None) };
    let cache = cache::RedisCache::new(&cache::RedisSettings::new(url.expose()))?;
    Ok(Some(std::sync::Arc::new(cache)))
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

fn exit_failure(error: &anyhow::Error) -> ExitCode {
    #[expect(clippy::print_stderr, reason = "the one line an operator reads when a command fails")]
    {
        eprintln!("firefighter-server: error: {}", one_line(error));
    }
    ExitCode::FAILURE
}
