//! The subcommands.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, bail};
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use incidents_core::{
    Email, NewUser, ReferenceData, ReferenceDataRepository, RepositoryError, UserRepository,
};

use crate::cli::{Cli, Command, JobsCommand, WebhookCommand};
use crate::config::Config;
use crate::{
    Application, EXIT_CONFIG, SeedEmpty, backend_name, exit_failure, open_database, prepare_database,
    telemetry,
};

/// Shortest password `create-user` accepts.
const MIN_PASSWORD_LEN: usize = 12;

/// Runs a command line to completion and returns the process exit code.
#[must_use]
pub fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Openapi { yaml }) = cli.command {
        let document = if yaml { http_api::openapi::yaml() } else { http_api::openapi::json() };
        #[expect(clippy::print_stdout, reason = "the document is the command's output")]
        {
            print!("{document}");
        }
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_environment() {
        Ok(config) => config,
        Err(error) => {
            #[expect(clippy::print_stderr, reason = "configuration errors come before logging is set up")]
            for problem in &error.problems {
                eprintln!("firefighter-server: configuration error: {problem}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(config.log_format, &config.log_filter);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&config),
        Command::Migrate => migrate(&config),
        Command::Seed => seed(&config),
        Command::CreateUser { email, name, admin, password_stdin } => {
            create_user(&config, &email, name, admin, password_stdin)
        }
        Command::CreateToken { email, name, expires_in_days } => {
            create_token(&config, &email, &name, expires_in_days)
        }
        Command::Grant { email, permissions, all_view } => grant(&config, &email, &permissions, all_view),
        Command::Jobs { command } => jobs(&config, command),
        Command::Webhook { command } => webhook(&config, command),
        Command::Openapi { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_failure(&error),
    }
}

fn serve(config: &Config) -> anyhow::Result<()> {
    // Resolve the key before serving: a dev key is generated once and kept for the next start.
    config
        .resolve_secret_key()
        .with_context(|| format!("cannot keep the secret key in {}", config.data_dir.display()))?;
    let database = prepare_database(config, SeedEmpty::Yes)?;
    let backend = backend_name(&database);
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(config, database)?;
        tracing::info!(
            address = %application.address(),
            base_url = %config.base_url,
            database = backend,
            env = config.env.as_str(),
            "FireFighter is listening"
        );
        application.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

#[expect(clippy::print_stdout, reason = "command output")]
fn migrate(config: &Config) -> anyhow::Result<()> {
    let database = open_database(config)?;
    let report = database.run_migrations()?;
    if report.applied.is_empty() {
        println!("database schema is up to date");
    } else {
        println!("applied {} migration(s): {}", report.applied.len(), report.applied.join(", "));
    }
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn seed(config: &Config) -> anyhow::Result<()> {
    let database = prepare_database(config, SeedEmpty::No)?;
    let report = database.seed(&ReferenceData::defaults())?;
    if report.total() == 0 {
        println!("reference data already present: nothing to do");
    } else {
        println!(
            "seeded {} priorities, {} environments, {} role types, {} key event types, {} metric types, \
             {} impact types with {} levels, {} groups with {} categories, {} cost types",
            report.priorities,
            report.environments,
            report.role_types,
            report.key_event_types,
            report.metric_types,
            report.impact_types,
            report.impact_levels,
            report.groups,
            report.categories,
            report.cost_types
        );
    }
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn create_user(
    config: &Config,
    email: &str,
    name: String,
    admin: bool,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let email = Email::parse(email)?;
    let password_hash = if password_stdin { Some(hash_password(&read_password()?)?) } else { None };
    let database = prepare_database(config, SeedEmpty::Yes)?;
    let user =
        match database.create_user(&NewUser { email: email.clone(), name, is_admin: admin, password_hash }) {
            Ok(user) => user,
            Err(RepositoryError::Conflict { constraint }) if constraint.contains("email") => {
                bail!("a user with e-mail {email} already exists")
            }
            Err(other) => return Err(other.into()),
        };
    println!(
        "created {}user {} (username {}, id {})",
        if user.is_superuser { "admin " } else { "" },
        user.email,
        user.username,
        user.id
    );
    Ok(())
}

fn existing_user(database: &storage::Database, email: &str) -> anyhow::Result<incidents_core::User> {
    let email = Email::parse(email)?;
    database
        .find_user_by_email(&email)?
        .ok_or_else(|| anyhow::anyhow!("no user with e-mail {email} (create it with create-user)"))
}

#[expect(clippy::print_stdout, reason = "the token is the command's output, for scripts to capture")]
fn create_token(
    config: &Config,
    email: &str,
    name: &str,
    expires_in_days: Option<u32>,
) -> anyhow::Result<()> {
    use incidents_core::access::AccessRepository;
    let database = prepare_database(config, SeedEmpty::Yes)?;
    let user = existing_user(&database, email)?;
    let token = http_api::new_token();
    let expires_at = expires_in_days
        .map(|days| incidents_core::lifecycle::now() + chrono::TimeDelta::days(i64::from(days)));
    let record = database.create_api_token(user.id, name, &http_api::hash_token(&token), expires_at)?;
    tracing::info!(token_id = record.id, user = %user.email, "API token created");
    println!("{token}");
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn grant(config: &Config, email: &str, permissions: &[String], all_view: bool) -> anyhow::Result<()> {
    use incidents_core::access::{AccessRepository, Action, Permission};
    let mut wanted = permissions
        .iter()
        .map(|p| Permission::parse(p).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if all_view {
        wanted.extend(Permission::all().into_iter().filter(|p| p.action == Action::View));
    }
    if wanted.is_empty() {
        bail!("nothing to grant: give --permission or --all-view");
    }
    let database = prepare_database(config, SeedEmpty::Yes)?;
    let user = existing_user(&database, email)?;
    database.grant_permissions(user.id, &wanted)?;
    let names: Vec<String> = wanted.iter().map(ToString::to_string).collect();
    println!("granted {} to {}", names.join(", "), user.email);
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn jobs(config: &Config, command: JobsCommand) -> anyhow::Result<()> {
    use jobs::JobAdmin;
    let database = prepare_database(config, SeedEmpty::Yes)?;
    match command {
        JobsCommand::List { state } => {
            if let Some(state) = state.as_deref().filter(|s| !jobs::JOB_STATES.contains(s)) {
                bail!("unknown state {state:?}: use one of {}", jobs::JOB_STATES.join(", "));
            }
            let page = database.jobs(state.as_deref(), incidents_core::query::PageRequest::new(100, 0))?;
            for job in &page.items {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    job.id,
                    job.state,
                    job.attempts,
                    job.name,
                    job.last_error.as_deref().unwrap_or("").replace(['\n', '\t'], " ")
                );
            }
            if page.has_more {
                println!("(more: use the API's paging, GET /api/v2/firefighter/jobs)");
            }
        }
        JobsCommand::Retry { id } => {
            let Some(job) = database.job(id)? else { bail!("no job {id}") };
            if !database.retry_dead(id, incidents_core::lifecycle::now())? {
                bail!("job {id} is {}, not dead: only dead jobs can be retried", job.state);
            }
            println!("job {id} is pending again");
        }
    }
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn webhook(config: &Config, command: WebhookCommand) -> anyhow::Result<()> {
    use webhooks::WebhookStore;
    let database = prepare_database(config, SeedEmpty::Yes)?;
    match command {
        WebhookCommand::Add { url, secret, events } => {
            match url::Url::parse(&url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {}
                _ => bail!("--url must be an http or https URL"),
            }
            if !(16..=200).contains(&secret.chars().count()) {
                bail!("--secret must be 16 to 200 characters long");
            }
            if let Some(unknown) = events.iter().find(|e| !webhooks::EVENT_TYPES.contains(&e.as_str())) {
                bail!("unknown event type {unknown:?}: use {}", webhooks::EVENT_TYPES.join(", "));
            }
            let secret_key = config
                .resolve_secret_key()
                .with_context(|| format!("cannot keep the secret key in {}", config.data_dir.display()))?;
            let sealed = webhooks::SecretBox::new(secret_key.expose()).seal(&secret);
            let endpoint =
                database.create_endpoint(&url, &sealed, &events, incidents_core::lifecycle::now())?;
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

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.chars().count() < MIN_PASSWORD_LEN {
        bail!("the password must be at least {MIN_PASSWORD_LEN} characters long");
    }
    Ok(password)
}

fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| anyhow::anyhow!("cannot hash the password: {error}"))
}
