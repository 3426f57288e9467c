//! `firefighter-worker`: the scaled mode's job process. It reads the same configuration as the
//! server (`AMQP_URL` required) and, by default, both relays the outbox to RabbitMQ and consumes the
//! job queues; `relay` or `consume` runs one half, to scale or place them apart.
//!
//! SIGTERM or SIGINT: the relay finishes its round, the consumers stop taking messages, the jobs in
//! flight finish and are acknowledged, then the process exits.

use std::collections::HashMap;
use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::{
    App, AppBuilder, SeedEmpty, amqp_settings, config_failure, exit_failure, shutdown_signal, telemetry,
};

/// FireFighter worker: relays the outbox to RabbitMQ and runs the jobs (AMQP_URL must be set).
#[derive(Debug, Parser)]
#[command(name = "firefighter-worker", version)]
pub struct Cli {
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

/// Runs a `firefighter-worker` command line to completion.
pub(crate) fn run(
    builder: AppBuilder,
    args: impl IntoIterator<Item = OsString>,
    vars: &HashMap<String, String>,
) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(crate::EXIT_CONFIG));
        }
    };
    let app = match builder.configure(vars) {
        Ok(app) => app,
        Err(error) => return config_failure("firefighter-worker", &error),
    };
    let config = app.config();
    telemetry::init(config.log_format, &config.log_filter);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match work(&cli, &app) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_failure("firefighter-worker", &error),
    }
}

fn work(cli: &Cli, app: &App) -> anyhow::Result<()> {
    let Some(settings) = amqp_settings(app.config(), "firefighter-worker") else {
        bail!("AMQP_URL is not set: without a broker the server runs the jobs itself (embedded mode)");
    };
    let command = cli.command.unwrap_or(Command::Run);
    let database = app.prepare_database(SeedEmpty::No)?;
    let context = app.context(database.clone())?;
    app.start_integrations(&context)?;
    let (registry, scheduler) = app.jobs(&context)?;
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
            // On PostgreSQL the relay is woken by the notifications of the transactions that write
            // work, instead of polling.
            let wakeup = match &app.config().database_url {
                storage::DatabaseUrl::Postgres { url } => {
                    let wakeup = Arc::new(amqp_transport::listen::Wakeup::default());
                    tasks.spawn(amqp_transport::listen::listen(
                        url.clone(),
                        storage::work_signal::CHANNEL,
                        Arc::clone(&wakeup),
                        shutdown.clone(),
                    ));
                    Some(wakeup)
                }
                storage::DatabaseUrl::Sqlite { .. } => None,
            };
            tasks.spawn(amqp_transport::relay::run(
                settings.clone(),
                database.clone(),
                Arc::clone(&registry),
                Some(scheduler),
                wakeup,
                shutdown.clone(),
            ));
        }
        if command != Command::Relay {
            tasks.spawn(amqp_transport::worker::run(settings, database, registry, queues.clone(), shutdown));
        }
        tracing::info!(?command, ?queues, "firefighter-worker started");
        let failed = tokio::select! {
            () = shutdown_signal() => false,
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
