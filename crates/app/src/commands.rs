//! The subcommands.

use std::io::BufRead;
use std::process::ExitCode;

use std::collections::HashMap;
use std::ffi::OsString;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches};
use incidents_core::{
    Email, NewUser, ReferenceData, ReferenceDataRepository, RepositoryError, UserRepository,
};

use crate::cli::{AdminCommand, Cli, Command, GroupsCommand, JobsCommand};
use crate::{
    App, AppBuilder, Application, EXIT_CONFIG, SeedEmpty, backend_name, config_failure, exit_failure,
    telemetry,
};

/// Shortest password `create-user` accepts.
const MIN_PASSWORD_LEN: usize = 12;

/// Runs a command line to completion and returns the process exit code.
pub(crate) fn run(
    builder: AppBuilder,
    args: impl IntoIterator<Item = OsString>,
    vars: &HashMap<String, String>,
) -> ExitCode {
    let mut command = Cli::command();
    for integration in &builder.integrations {
        for subcommand in integration.commands() {
            command = command.subcommand(subcommand);
        }
    }
    let matches = match command.try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(EXIT_CONFIG));
        }
    };
    let integration_command = matches.subcommand().and_then(|(name, sub)| {
        builder
            .integrations
            .iter()
            .position(|integration| integration.commands().iter().any(|c| c.get_name() == name))
            .map(|index| (index, name.to_owned(), sub.clone()))
    });
    let cli = if integration_command.is_some() {
        None
    } else {
        match Cli::from_arg_matches(&matches) {
            Ok(cli) => Some(cli),
            Err(error) => {
                let _ = error.print();
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    };
    if let Some(Cli { command: Some(Command::Openapi { yaml }) }) = &cli {
        let document = builder.openapi();
        let text = if *yaml {
            document.to_yaml().unwrap_or_default()
        } else {
            http_api::openapi::ApiDocument::new(&document).json().to_owned()
        };
        #[expect(clippy::print_stdout, reason = "the document is the command's output")]
        {
            print!("{text}");
        }
        return ExitCode::SUCCESS;
    }
    let app = match builder.configure(vars) {
        Ok(app) => app,
        Err(error) => return config_failure("firefighter-server", &error),
    };
    let config = app.config();
    telemetry::init(config.log_format, &config.log_filter);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let result = match (integration_command, cli) {
        (Some((index, name, matches)), _) => integration(&app, index, &name, &matches),
        (None, Some(cli)) => match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(&app),
            Command::Migrate => migrate(&app),
            Command::Seed => seed(&app),
            Command::CreateUser { email, name, admin, password_stdin } => {
                create_user(&app, &email, name, admin, password_stdin)
            }
            Command::CreateToken { email, name, expires_in_days } => {
                create_token(&app, &email, &name, expires_in_days)
            }
            Command::Grant { email, permissions, all_view } => grant(&app, &email, &permissions, all_view),
            Command::Jobs { command } => jobs(&app, command),
            Command::Admin { command } => admin(&app, command),
            Command::Groups { command } => groups(&app, command),
            Command::Openapi { .. } => Ok(()),
        },
        (None, None) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_failure("firefighter-server", &error),
    }
}

/// An integration's subcommand, on a migrated and seeded database.
fn integration(app: &App, index: usize, name: &str, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let database = app.prepare_database(SeedEmpty::Yes)?;
    let context = app.context(database)?;
    let integration = &app.integrations()[index];
    integration.run_command(&context, name, matches)
}

fn serve(app: &App) -> anyhow::Result<()> {
    let config = app.config();
    // Resolve the key before serving: a dev key is generated once and kept for the next start.
    config
        .resolve_secret_key()
        .with_context(|| format!("cannot keep the secret key in {}", config.data_dir.display()))?;
    let database = app.prepare_database(SeedEmpty::Yes)?;
    let backend = backend_name(&database);
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(app, database)?;
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
fn migrate(app: &App) -> anyhow::Result<()> {
    let database = app.open_database()?;
    let mut report = database.run_migrations()?;
    report.applied.extend(database.run_integration_migrations(&app.migration_sets())?.applied);
    if report.applied.is_empty() {
        println!("database schema is up to date");
    } else {
        println!("applied {} migration(s): {}", report.applied.len(), report.applied.join(", "));
    }
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn seed(app: &App) -> anyhow::Result<()> {
    let database = app.prepare_database(SeedEmpty::No)?;
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
    app: &App,
    email: &str,
    name: String,
    admin: bool,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let email = Email::parse(email)?;
    let password_hash =
        if password_stdin { Some(platform::password::hash_password(&read_password()?)?) } else { None };
    let database = app.prepare_database(SeedEmpty::Yes)?;
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
fn create_token(app: &App, email: &str, name: &str, expires_in_days: Option<u32>) -> anyhow::Result<()> {
    use incidents_core::access::AccessRepository;
    let database = app.prepare_database(SeedEmpty::Yes)?;
    let user = existing_user(&database, email)?;
    let token = incidents_core::access::new_token();
    let expires_at =
        expires_in_days.map(|days| incidents_core::clock::now() + chrono::TimeDelta::days(i64::from(days)));
    let record =
        database.create_api_token(user.id, name, &incidents_core::access::hash_token(&token), expires_at)?;
    database.record_audit(
        None,
        incidents_core::EntryPoint::Cli,
        ("api_token.create", "api_token", &record.id.to_string()),
        &serde_json::json!({"user": user.email, "name": name, "expires_at": expires_at}),
    )?;
    tracing::info!(token_id = record.id, user = %user.email, "API token created");
    println!("{token}");
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn grant(app: &App, email: &str, permissions: &[String], all_view: bool) -> anyhow::Result<()> {
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
    let database = app.prepare_database(SeedEmpty::Yes)?;
    let user = existing_user(&database, email)?;
    database.grant_permissions(user.id, &wanted)?;
    let names: Vec<String> = wanted.iter().map(ToString::to_string).collect();
    database.record_audit(
        None,
        incidents_core::EntryPoint::Cli,
        ("user.grant", "user", &user.id.to_string()),
        &serde_json::json!({"permissions": names}),
    )?;
    println!("granted {} to {}", names.join(", "), user.email);
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn groups(app: &App, command: GroupsCommand) -> anyhow::Result<()> {
    use incidents_core::access::{AccessRepository, Permission, group_name};
    let database = app.prepare_database(SeedEmpty::Yes)?;
    match command {
        GroupsCommand::List => {
            for group in database.permission_groups()? {
                println!(
                    "{}\tpermissions: {}\tmembers: {}",
                    group.name,
                    group.permissions.join(", "),
                    group.members.join(", ")
                );
            }
        }
        GroupsCommand::Put { name, permissions } => {
            let name = group_name(&name).map_err(anyhow::Error::msg)?;
            let permissions = permissions
                .iter()
                .map(|p| Permission::parse(p).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (group, created) = database.put_permission_group(name, &permissions)?;
            database.record_audit(
                None,
                incidents_core::EntryPoint::Cli,
                ("permission_group.put", "permission_group", &group.name),
                &serde_json::json!({"created": created, "permissions": group.permissions}),
            )?;
            println!(
                "{} group {} with {} permission(s)",
                if created { "created" } else { "updated" },
                group.name,
                group.permissions.len()
            );
        }
        GroupsCommand::Delete { name } => {
            if !database.delete_permission_group(name.trim())? {
                bail!("no group named {name:?}");
            }
            database.record_audit(
                None,
                incidents_core::EntryPoint::Cli,
                ("permission_group.delete", "permission_group", name.trim()),
                &serde_json::json!({}),
            )?;
            println!("deleted group {}", name.trim());
        }
        GroupsCommand::Add { name, email } => membership(&database, &name, &email, true)?,
        GroupsCommand::Remove { name, email } => membership(&database, &name, &email, false)?,
    }
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn membership(database: &storage::Database, name: &str, email: &str, member: bool) -> anyhow::Result<()> {
    use incidents_core::access::AccessRepository;
    let user = existing_user(database, email)?;
    let Some(changed) = database.set_group_member(name.trim(), user.id, member)? else {
        bail!("no group named {name:?}");
    };
    if changed {
        database.record_audit(
            None,
            incidents_core::EntryPoint::Cli,
            (
                if member { "permission_group.add_member" } else { "permission_group.remove_member" },
                "permission_group",
                name.trim(),
            ),
            &serde_json::json!({"user": user.email}),
        )?;
    }
    let what = if member { "a member of" } else { "not a member of" };
    println!("{} is {what} {}{}", user.email, name.trim(), if changed { "" } else { " (already)" });
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn jobs(app: &App, command: JobsCommand) -> anyhow::Result<()> {
    use jobs::JobAdmin;
    let database = app.prepare_database(SeedEmpty::Yes)?;
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
            if !database.retry_dead(id, incidents_core::clock::now())? {
                bail!("job {id} is {}, not dead: only dead jobs can be retried", job.state);
            }
            database.record_audit(
                None,
                incidents_core::EntryPoint::Cli,
                ("job.retry", "job", &id.to_string()),
                &serde_json::json!({"name": job.name}),
            )?;
            println!("job {id} is pending again");
        }
    }
    Ok(())
}

#[expect(clippy::print_stdout, reason = "command output")]
fn admin(app: &App, command: AdminCommand) -> anyhow::Result<()> {
    use incidents_core::backoffice::{Input, Value};
    use storage::backoffice::{BackofficeError, Change};
    let catalog = app.catalog();
    let model_named = |slug: &str| {
        catalog.get(slug).ok_or_else(|| {
            let known: Vec<&str> = catalog.models().iter().map(|model| model.slug).collect();
            anyhow::anyhow!("no table {slug:?}: use one of {}", known.join(", "))
        })
    };
    let pairs = |set: &[String]| -> anyhow::Result<std::collections::BTreeMap<String, String>> {
        set.iter()
            .map(|pair| {
                pair.split_once('=')
                    .map(|(field, value)| (field.trim().to_owned(), value.to_owned()))
                    .ok_or_else(|| anyhow::anyhow!("--set {pair:?}: write FIELD=VALUE"))
            })
            .collect()
    };
    let refused = |error: BackofficeError| -> anyhow::Error {
        match error {
            BackofficeError::Invalid(invalid) => anyhow::anyhow!("refused: {invalid}"),
            other => other.into(),
        }
    };
    let change = Change { actor: None, entry_point: incidents_core::EntryPoint::Cli };
    if let AdminCommand::Models = command {
        for model in catalog.models() {
            println!(
                "{}\t{}\t{}",
                model.slug,
                model.section,
                model.help.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
        return Ok(());
    }
    let database = app.prepare_database(SeedEmpty::Yes)?;
    match command {
        AdminCommand::Models => {}
        AdminCommand::List { model, search, page } => {
            let model = model_named(&model)?;
            let found = database.backoffice_rows(model, search.as_deref(), page)?;
            println!("id\t{}", model.columns.join("\t"));
            for row in &found.rows {
                let cells: Vec<String> = std::iter::once("id")
                    .chain(model.columns.iter().copied())
                    .map(|name| {
                        row.get(name).map(Value::to_form).unwrap_or_default().replace(['\n', '\t'], " ")
                    })
                    .collect();
                println!("{}", cells.join("\t"));
            }
            if found.has_more {
                println!("(more: --page {})", page + 1);
            }
        }
        AdminCommand::Show { model, id } => {
            let model = model_named(&model)?;
            let Some(row) = database.backoffice_row(model, &id)? else { bail!("no {} {id}", model.label) };
            for (name, value) in &row {
                println!("{name}\t{}", value.to_form());
            }
        }
        AdminCommand::Add { model, set } => {
            let model = model_named(&model)?;
            let row = database
                .backoffice_create(&catalog, model, &pairs(&set)?, Input::Command, change)
                .map_err(refused)?;
            println!("{}", row.get("id").map(Value::to_form).unwrap_or_default());
        }
        AdminCommand::Set { model, id, set } => {
            let model = model_named(&model)?;
            if set.is_empty() {
                bail!("nothing to change: give --set FIELD=VALUE");
            }
            database
                .backoffice_update(&catalog, model, &id, &pairs(&set)?, Input::Command, change)
                .map_err(refused)?;
            println!("updated {} {id}", model.label);
        }
        AdminCommand::Delete { model, id } => {
            let model = model_named(&model)?;
            database.backoffice_delete(model, &id, change).map_err(refused)?;
            println!("deleted {} {id}", model.label);
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
