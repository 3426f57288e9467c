//! `firefighter-worker`: the scaled mode's job process. It reads the same configuration as the
//! server (`AMQP_URL` required) and, by default, both relays the outbox to RabbitMQ and consumes the
//! job queues; `relay` or `consume` runs one half, to scale or place them apart.
//!
//! SIGTERM or SIGINT: the relay finishes its round, the consumers stop taking messages, the jobs in
//! flight finish and are acknowledged, then the process exits.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use firefighter_server::config::Config;
use firefighter_server::{EXIT_CONFIG, SeedEmpty, embedded_jobs, prepare_database, telemetry};
use tokio::sync::watch;

/// FireFighter worker: relays the outbox to RabbitMQ and runs the jobs (AMQP_URL must be set).
#[derive(Debug, Parser)]
#[command(name = "firefighter-worker", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Only these queues (comma-separated, e.g. `webhooks`); default: every queue this build knows.
    #[arg(long, global = true, value_delimiter = ',')]
    queues: Vec<String>,
}

#[derive(Debug, Clone, Copy, Subcommand, PartialEq, Eq)]
enum Command {
    /// Relay and consume (the default).
    Run,
    /// Only relay: outbox events to jobs, jobs to RabbitMQ, and the periodic jobs.
    Relay,
    /// Only consume the job queues.
    Consume,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_environment() {
        Ok(config) => config,
        Err(error) => {
            #[expect(clippy::print_stderr, reason = "configuration errors come before logging is set up")]
            for problem in &error.problems {
                eprintln!("firefighter-worker: configuration error: {problem}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(config.log_format, &config.log_filter);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match run(&cli, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            #[expect(clippy::print_stderr, reason = "the one line an operator reads when the worker fails")]
            {
                eprintln!("firefighter-worker: error: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli, config: &Config) -> anyhow::Result<()> {
    let Some(settings) = firefighter_server::amqp_settings(config, "firefighter-worker") else {
        bail!("AMQP_URL is not set: without a broker the server runs the jobs itself (embedded mode)");
    };
    let command = cli.command.unwrap_or(Command::Run);
    let database = prepare_database(config, SeedEmpty::No)?;
    let secret_key = config
        .resolve_secret_key()
        .with_context(|| format!("cannot read the secret key in {}", config.data_dir.display()))?;
    let registry =
        embedded_jobs::registry(&database, &embedded_jobs::JobSettings::from_config(config, &secret_key))?;
    registry.validate()?;
    let known: Vec<String> = registry.queues().into_iter().map(str::to_owned).collect();
    let queues = if cli.queues.is_empty() {
        known
    } else {
        if let Some(unknown) = cli.queues.iter().find(|queue| !known.contains(queue)) {
            bail!("unknown queue {unknown:?}: this build knows {}", known.join(", "));
        }
        cli.queues.clone()
    };
    let registry = Arc::new(registry);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let (stop, shutdown) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        if command != Command::Consume {
            let scheduler = embedded_jobs::scheduler(config.time_zone, incidents_core::lifecycle::now())?;
            tasks.spawn(amqp_transport::relay::run(
                settings.clone(),
                database.clone(),
                Arc::clone(&registry),
                Some(scheduler),
                shutdown.clone(),
            ));
        }
        if command != Command::Relay {
            tasks.spawn(amqp_transport::worker::run(settings, database, registry, queues.clone(), shutdown));
        }
        tracing::info!(?command, ?queues, "firefighter-worker started");
        let failed = tokio::select! {
            () = firefighter_server::shutdown_signal() => false,
            _ = tasks.join_next() => true,
        };
        let _ = stop.send(true);
        while tasks.join_next().await.is_some() {}
        // A task that ended by itself (it panicked) is a failure: a supervisor restarts the worker.
        if failed {
            bail!("a relay or consumer task ended unexpectedly");
        }
        tracing::info!("firefighter-worker stopped");
        anyhow::Ok(())
    })
}
