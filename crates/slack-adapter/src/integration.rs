//! Slack, as an integration: its configuration section, tables, jobs, endpoint, facets, chat port,
//! start-up check and CLI.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use incidents_core::chat::ChatPort;
use incidents_core::facets::FacetSource;
use jobs::Registry;
use platform::{ConfigReader, Context, Integration, ReadinessCheck};
use storage::MigrationSet;

use crate::channel::{BotIdentity, ChannelSettings, ChannelWorker, IncidentChannelJob};
use crate::chat::SlackChat;
use crate::client::{ClientSettings, SlackClient};
use crate::config::SlackConfig;
use crate::events::EventWorker;
use crate::facets::SlackFacets;
use crate::inbound::{EventWriter, Handlers, Inbound, SlackEventJob};
use crate::interact::apply::ApplyUpdateJob;
use crate::interact::escalate::TriggerOncallJob;
use crate::interact::home::RefreshHomeJob;
use crate::interact::{InteractionSettings, Interactions};
use crate::reminders::{PostmortemReminders, UpdateReminders};
use crate::sos::SendSosJob;
use crate::store::SlackStore;
use crate::sync::{DirectorySync, SyncDirectory};
use jobs::Job as _;

static SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Slack codes that mean the token itself is refused: the program must not start.
const REFUSED_TOKEN: &[&str] =
    &["invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"];

/// The Slack integration. Off (no routes, no jobs, the chat port stays a no-op) until
/// `SLACK_BOT_TOKEN` is set.
#[derive(Debug, Default)]
pub struct Slack {
    config: Option<SlackConfig>,
    /// The slash commands, known even without a token (for the manifest).
    commands: Vec<String>,
    client: OnceLock<Arc<SlackClient>>,
    bot: Arc<BotIdentity>,
    /// One writer for every HTTP worker thread.
    events: OnceLock<Arc<EventWriter>>,
}

/// `firefighter-server slack …`
#[derive(Debug, Parser)]
#[command(
    name = "slack",
    about = "Slack: the conversations the product posts to (`slack tag --channel C0123 --name tech-incidents --tag tech_incidents`, `slack conversations`, `slack untag C0123`), user groups and SOS targets (`slack sos --name SRE --channel C0123 --group S0123`)"
)]
struct SlackCli {
    #[command(subcommand)]
    command: SlackCommand,
}

/// `firefighter-server slack-manifest …`
#[derive(Debug, Parser)]
#[command(
    name = "slack-manifest",
    about = "Prints the Slack app manifest to paste into Slack's app settings (`slack-manifest --public-url https://ff.example.com`)"
)]
struct ManifestCli {
    /// The URL Slack reaches this server at (default: BASE_URL).
    #[arg(long)]
    public_url: Option<String>,
    /// No public URL: Slack talks to the app over Socket Mode.
    #[arg(long)]
    socket_mode: bool,
    /// YAML instead of JSON.
    #[arg(long)]
    yaml: bool,
}

#[derive(Debug, Subcommand)]
enum SlackCommand {
    /// Records a conversation with a tag (`tech_incidents`, `it_deploy`, `dev_firefighter`, `raid_alert__…`).
    Tag {
        /// Its Slack id (`C…`).
        #[arg(long)]
        channel: String,
        /// Its name, without `#`.
        #[arg(long)]
        name: String,
        #[arg(long)]
        tag: String,
        /// `public` or `private`.
        #[arg(long, default_value = "public")]
        kind: String,
        /// An incident category whose channels its members are invited to (repeatable).
        #[arg(long = "category")]
        categories: Vec<String>,
    },
    /// Lists the known conversations: Slack id, name, tag, categories.
    Conversations,
    /// Forgets a conversation.
    Untag { channel: String },
    /// Records a user group (`--tag invited_for_all_public_p1`, `--category ID`…).
    Group {
        /// Its Slack id (`S…`).
        #[arg(long)]
        id: String,
        /// Its handle, without `@`.
        #[arg(long)]
        handle: String,
        #[arg(long, default_value = "")]
        tag: String,
        /// An incident category whose channels its members are invited to (repeatable).
        #[arg(long = "category")]
        categories: Vec<String>,
    },
    /// Lists the known user groups: Slack id, handle, tag, members, categories.
    Groups,
    /// Forgets a user group.
    Ungroup { id: String },
    /// Syncs the directory from Slack now (users, user groups, conversations).
    Sync,
    /// Records an SOS target (or changes where it points): a known conversation and, optionally, a
    /// known user group mentioned there (`@here` without one).
    Sos {
        /// The name people choose in the SOS modal.
        #[arg(long)]
        name: String,
        /// A known conversation's Slack id (`C…`; `slack tag` first).
        #[arg(long)]
        channel: String,
        /// A known user group's Slack id (`S…`; `slack group` first).
        #[arg(long)]
        group: Option<String>,
    },
    /// Lists the SOS targets: name, conversation, user group.
    SosTargets,
    /// Forgets an SOS target.
    SosRemove { name: String },
}

/// A tag as the original allows them: lower-case letters, digits and `_`.
pub fn validate_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty()
        || tag.len() > 80
        || !tag.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(format!("'{tag}' is not a tag (1 to 80 lower-case letters, digits or _)"));
    }
    Ok(())
}

impl Slack {
    fn client(&self, config: &SlackConfig) -> anyhow::Result<Arc<SlackClient>> {
        if let Some(client) = self.client.get() {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(SlackClient::new(ClientSettings::new(
            config.api_url.clone(),
            config.bot_token.clone(),
        ))?);
        Ok(Arc::clone(self.client.get_or_init(|| client)))
    }

    fn channel_worker(&self, config: &SlackConfig, context: &Context) -> anyhow::Result<ChannelWorker> {
        Ok(ChannelWorker {
            slack: self.client(config)?,
            bot: Arc::clone(&self.bot),
            database: context.database.clone(),
            store: SlackStore::new(context.database.clone()),
            settings: Arc::new(ChannelSettings {
                base_url: context.config.base_url.as_str().trim_end_matches('/').to_owned(),
                app_name: context.config.app_display_name.clone(),
                app_emoji: config.app_emoji.clone(),
                time_zone: context.config.time_zone,
                emergency_communication_guide_url: config.emergency_communication_guide_url.clone(),
                emergency_usergroup_id: config.emergency_usergroup_id.clone(),
                postmortems_configured: context.lifecycle.postmortems_configured(),
                postmortem_help_url: config.postmortem_help_url.clone(),
                role_reminder_min_days_interval: config.role_reminder_min_days_interval,
            }),
            lifecycle: context.lifecycle.clone(),
        })
    }
}

impl Slack {
    /// What answers Slack, shared by the endpoint and Socket Mode (one event writer per process).
    fn handlers(&self, config: &SlackConfig, context: &Context) -> anyhow::Result<Handlers> {
        let events = match self.events.get() {
            Some(events) => Arc::clone(events),
            None => {
                let started = EventWriter::start(context.database.clone(), "ff-slack-events")?;
                Arc::clone(self.events.get_or_init(|| Arc::new(started)))
            }
        };
        Ok(Handlers {
            cache: Arc::clone(&context.cache),
            events,
            interactions: Arc::new(self.interactions(config, context)?),
        })
    }

    fn interactions(&self, config: &SlackConfig, context: &Context) -> anyhow::Result<Interactions> {
        Ok(Interactions {
            slack: self.client(config)?,
            bot: Arc::clone(&self.bot),
            store: SlackStore::new(context.database.clone()),
            database: context.database.clone(),
            lifecycle: context.lifecycle.clone(),
            paging: Arc::clone(&context.paging),
            settings: Arc::new(InteractionSettings {
                app_name: context.config.app_display_name.clone(),
                app_emoji: config.app_emoji.clone(),
                base_url: context.config.base_url.as_str().trim_end_matches('/').to_owned(),
                time_zone: context.config.time_zone,
                commands: config.commands().into_iter().map(str::to_owned).collect(),
                incident_help_guide_url: config.incident_help_guide_url.clone(),
                severity_help_guide_url: config.severity_help_guide_url.clone(),
                update_allowed: config.update_allowed,
                close_allowed: config.close_allowed,
            }),
        })
    }
}

impl Integration for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn read_config(&mut self, env: &mut ConfigReader<'_>) {
        self.config = SlackConfig::read(env);
        self.commands = crate::config::configured_commands(env);
    }

    fn backoffice_models(&self) -> Vec<&'static incidents_core::backoffice::Model> {
        // The tables exist whether Slack is on or not, so staff can prepare them before turning it on.
        crate::backoffice::MODELS.iter().collect()
    }

    fn migrations(&self) -> Option<MigrationSet> {
        // The tables exist whether Slack is on or not: turning it on later needs no migration step.
        Some(MigrationSet { name: "slack", sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn register_jobs(&self, context: &Context, registry: &mut Registry) -> anyhow::Result<()> {
        let Some(config) = &self.config else { return Ok(()) };
        let worker = self.channel_worker(config, context)?;
        let reminders = worker.clone();
        registry.register(move |job: IncidentChannelJob, attempt| worker.handle(&job, attempt))?;
        let postmortem = reminders.clone();
        registry.register(move |_: UpdateReminders, _attempt| {
            reminders.update_reminders(incidents_core::clock::now()).map(drop)
        })?;
        registry.register(move |_: PostmortemReminders, _attempt| {
            postmortem.postmortem_reminders(incidents_core::clock::now()).map(drop)
        })?;
        registry
            .on_event(|event: &jobs::OutboxEvent| IncidentChannelJob::for_event(event).into_iter().collect());
        let events = EventWorker {
            slack: self.client(config)?,
            bot: Arc::clone(&self.bot),
            store: SlackStore::new(context.database.clone()),
            lifecycle: context.lifecycle.clone(),
        };
        let interactions = self.interactions(config, context)?;
        let home = interactions.clone();
        registry.register(move |job: SlackEventJob, _attempt| {
            let event = &job.event;
            if event.get("type").and_then(serde_json::Value::as_str) == Some("app_home_opened") {
                // The messages tab opens this event too: only the home tab is published.
                let tab = event.get("tab").and_then(serde_json::Value::as_str).unwrap_or("home");
                let user = event.get("user").and_then(serde_json::Value::as_str).unwrap_or_default();
                return if tab == "home" && !user.is_empty() { home.home_opened(user) } else { Ok(()) };
            }
            events.handle(&job)
        })?;
        let refresh = interactions.clone();
        registry.register(move |_: RefreshHomeJob, _attempt| refresh.refresh_homes())?;
        registry.on_event(|event: &jobs::OutboxEvent| RefreshHomeJob::for_event(event).into_iter().collect());
        let oncall = interactions.clone();
        registry.register(move |job: TriggerOncallJob, _attempt| oncall.trigger_oncall(&job))?;
        registry.register(move |job: ApplyUpdateJob, _attempt| interactions.apply_update(&job))?;
        let sos = self.channel_worker(config, context)?;
        registry.register(move |job: SendSosJob, _attempt| sos.send_sos(&job))?;
        let sync =
            DirectorySync { slack: self.client(config)?, store: SlackStore::new(context.database.clone()) };
        registry.register(move |_: SyncDirectory, _attempt| sync.run().map(drop))?;
        Ok(())
    }

    fn http_scope(&self) -> Option<&'static str> {
        self.config.as_ref().map(|_| "/api/v2/firefighter/slack")
    }

    fn routes(&self, context: &Context, routes: &mut actix_web::web::ServiceConfig) {
        let Some(config) = &self.config else { return };
        crate::api::configure(routes);
        // Without a signing secret nothing proves a request comes from Slack: no endpoint.
        let Some(secret) = &config.signing_secret else { return };
        match self.handlers(config, context) {
            Ok(handlers) => {
                crate::inbound::configure(routes, Inbound { signing_secret: secret.clone(), handlers });
            }
            Err(error) => tracing::error!(%error, "the Slack endpoint cannot be served"),
        }
    }

    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        use utoipa::OpenApi;
        Some(crate::api::SlackDoc::openapi())
    }

    fn schedule(&self, _context: &Context, scheduler: &mut jobs::Scheduler) -> anyhow::Result<()> {
        if self.config.is_none() {
            return Ok(());
        }
        // Hourly, at a minute nothing else uses.
        let tick = |at: chrono::NaiveDateTime| at.format("%Y-%m-%dT%H:%M").to_string();
        scheduler.every(SyncDirectory::NAME, "0 23 * * * *", move |at| {
            jobs::Enqueue::new(&SyncDirectory { tick: tick(at) })
        })?;
        // Every five minutes (a reminder is due within five minutes of its time), in office hours.
        scheduler.every(UpdateReminders::NAME, "0 */5 * * * *", move |at| {
            jobs::Enqueue::new(&UpdateReminders { tick: tick(at) })
        })?;
        // At 10:00 and 15:00, as the original.
        scheduler.every(PostmortemReminders::NAME, "0 0 10,15 * * *", move |at| {
            jobs::Enqueue::new(&PostmortemReminders { tick: tick(at) })
        })?;
        Ok(())
    }

    fn readiness(&self, _context: &Context) -> Vec<ReadinessCheck> {
        if self.config.is_none() {
            return Vec::new();
        }
        let bot = Arc::clone(&self.bot);
        vec![ReadinessCheck {
            name: "slack".into(),
            // Slack is not called on every probe: the check reports whether it was reached.
            check: Arc::new(move || {
                let known = bot.known().is_some();
                Box::pin(async move {
                    if known { Ok(()) } else { Err("Slack has not answered auth.test yet".to_owned()) }
                })
            }),
        }]
    }

    fn facets(&self, context: &Context) -> Option<Arc<dyn FacetSource>> {
        Some(Arc::new(SlackFacets { store: SlackStore::new(context.database.clone()) }))
    }

    fn chat(&self, context: &Context) -> Option<Arc<dyn ChatPort>> {
        let config = self.config.as_ref()?;
        let slack = self.client(config).ok()?;
        Some(Arc::new(SlackChat {
            slack,
            bot: Arc::clone(&self.bot),
            store: SlackStore::new(context.database.clone()),
        }))
    }

    fn start(&self, context: &Context) -> anyhow::Result<()> {
        let Some(config) = &self.config else { return Ok(()) };
        if let Some(app_token) = &config.app_token {
            crate::socket::SocketMode {
                api_url: config.api_url.clone(),
                app_token: app_token.clone(),
                handlers: self.handlers(config, context)?,
                silence: config.socket_silence,
            }
            .spawn()?;
            tracing::info!("Slack Socket Mode: connecting (SLACK_APP_TOKEN)");
        }
        if config.skip_checks {
            tracing::info!("FF_SLACK_SKIP_CHECKS: Slack's auth.test is skipped at start-up");
            return Ok(());
        }
        let slack = self.client(config)?;
        // On a thread of its own: the blocking client must not run on the async runtime's threads.
        let answer = std::thread::scope(|scope| scope.spawn(|| self.bot.get(&slack).cloned()).join());
        let answer = answer.map_err(|_| anyhow::anyhow!("the Slack start-up check panicked"))?;
        match answer {
            Ok(bot) => {
                tracing::info!(team = %bot.team, bot = %bot.user, "Slack answered: connected to the workspace");
                Ok(())
            }
            Err(error) if error.code().is_some_and(|code| REFUSED_TOKEN.contains(&code)) => {
                anyhow::bail!("SLACK_BOT_TOKEN is refused by Slack ({})", error.code().unwrap_or_default())
            }
            Err(error) => {
                tracing::warn!(%error, "Slack cannot be reached at start-up; starting anyway and trying again in the background");
                let bot = Arc::clone(&self.bot);
                std::thread::Builder::new().name("ff-slack-auth".into()).spawn(move || {
                    let mut wait = Duration::from_secs(5);
                    while bot.get(&slack).is_err() {
                        std::thread::sleep(wait);
                        wait = (wait * 2).min(Duration::from_secs(300));
                    }
                    tracing::info!("Slack answered auth.test");
                })?;
                Ok(())
            }
        }
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![SlackCli::command(), ManifestCli::command()]
    }

    #[expect(clippy::print_stdout, clippy::print_stderr, reason = "command output")]
    fn run_command(&self, context: &Context, name: &str, matches: &clap::ArgMatches) -> anyhow::Result<()> {
        if name == "slack-manifest" {
            let cli = ManifestCli::from_arg_matches(matches)?;
            let public_url = cli.public_url.unwrap_or_else(|| context.config.base_url.to_string());
            if !cli.socket_mode && !public_url.starts_with("https://") {
                eprintln!(
                    "warning: Slack only calls https URLs; {public_url} will be refused (use --public-url, or --socket-mode)"
                );
            }
            let manifest = crate::manifest::manifest(&crate::manifest::ManifestOptions {
                app_name: &context.config.app_display_name,
                public_url: &public_url,
                socket_mode: cli.socket_mode,
                commands: &self.commands,
            });
            if cli.yaml {
                print!("{}", crate::manifest::to_yaml(&manifest));
            } else {
                println!("{}", serde_json::to_string_pretty(&manifest)?);
            }
            return Ok(());
        }
        let store = SlackStore::new(context.database.clone());
        let now = incidents_core::clock::now();
        match SlackCli::from_arg_matches(matches)?.command {
            SlackCommand::Tag { channel, name, tag, kind, categories } => {
                if !tag.is_empty() {
                    validate_tag(&tag).map_err(|message| anyhow::anyhow!("--tag: {message}"))?;
                }
                if !matches!(kind.as_str(), "public" | "private") {
                    anyhow::bail!("--kind: '{kind}' is neither public nor private");
                }
                let name = name.trim_start_matches('#');
                let categories = (!categories.is_empty()).then_some(categories.as_slice());
                match store.put_conversation(&channel, name, &kind, &tag, categories, now) {
                    Ok(row) => println!("{}\t{}\t{}", row.channel_id, row.name, row.tag),
                    Err(incidents_core::RepositoryError::Conflict { constraint })
                        if constraint.contains("tag") =>
                    {
                        anyhow::bail!("--tag: another conversation has the tag {tag}")
                    }
                    Err(incidents_core::RepositoryError::Conflict { .. }) => {
                        anyhow::bail!("--category: an incident category does not exist")
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            SlackCommand::Conversations => {
                for row in store.conversations()? {
                    let item = &row.item;
                    println!(
                        "{}\t{}\t{}\t{}",
                        item.channel_id,
                        item.name,
                        item.tag,
                        row.categories.join(",")
                    );
                }
            }
            SlackCommand::Group { id, handle, tag, categories } => {
                if !tag.is_empty() {
                    validate_tag(&tag).map_err(|message| anyhow::anyhow!("--tag: {message}"))?;
                }
                let handle = handle.trim_start_matches('@');
                let categories = (!categories.is_empty()).then_some(categories.as_slice());
                let row = store
                    .upsert_user_group(&id, handle, handle, &tag, categories, now)
                    .map_err(|_| anyhow::anyhow!("--category: an incident category does not exist"))?;
                println!("{}\t{}\t{}", row.usergroup_id, row.handle, row.tag);
            }
            SlackCommand::Groups => {
                for row in store.user_groups()? {
                    let item = &row.item;
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        item.usergroup_id,
                        item.handle,
                        item.tag,
                        row.members,
                        row.categories.join(",")
                    );
                }
            }
            SlackCommand::Ungroup { id } => {
                if !store.delete_user_group(&id)? {
                    anyhow::bail!("no user group {id}");
                }
                println!("forgot user group {id}");
            }
            SlackCommand::Sync => {
                let Some(config) = &self.config else {
                    anyhow::bail!("Slack is not configured (SLACK_BOT_TOKEN)")
                };
                let sync = DirectorySync { slack: self.client(config)?, store };
                let report = sync.run().map_err(|error| anyhow::anyhow!("{error}"))?;
                println!(
                    "linked {} user(s); refreshed {} user group(s) and {} conversation(s)",
                    report.users_linked, report.user_groups, report.conversations
                );
            }
            SlackCommand::Sos { name, channel, group } => {
                let target = store.put_sos(&name, &channel, group.as_deref(), now)?;
                println!(
                    "{}\t#{}\t{}",
                    target.name,
                    target.channel_name,
                    target.handle.map_or_else(|| "@here".to_owned(), |h| format!("@{h}"))
                );
            }
            SlackCommand::SosTargets => {
                for target in store.sos_targets()? {
                    println!(
                        "{}\t{}\t#{}\t{}",
                        target.name,
                        target.channel_id,
                        target.channel_name,
                        target.usergroup_id.unwrap_or_else(|| "@here".to_owned())
                    );
                }
            }
            SlackCommand::SosRemove { name } => {
                if !store.delete_sos(&name)? {
                    anyhow::bail!("no SOS target {name}");
                }
                println!("forgot SOS target {name}");
            }
            SlackCommand::Untag { channel } => {
                if !store.delete_tagged(&channel)? {
                    anyhow::bail!("no tagged conversation {channel}");
                }
                println!("forgot conversation {channel}");
            }
        }
        Ok(())
    }
}
