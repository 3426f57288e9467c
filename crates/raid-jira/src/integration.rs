//! Jira (RAID), as an integration: its configuration, tables, jobs and outbox subscription, the
//! webhook and feature-team routes under `/api/v2/firefighter/raid`, the `jira_ticket` facet, and
//! the `jira` CLI subcommand.

use std::sync::{Arc, OnceLock};

use anyhow::bail;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use incidents_core::facets::{Facet, FacetMap, FacetSource, JIRA_TICKET};
use incidents_core::{IncidentId, RepositoryError};
use jobs::{EnqueueWriter, Registry};
use platform::{ConfigReader, Context, Integration};
use storage::MigrationSet;

use crate::api::{Webhooks, valid_project_key};
use crate::client::JiraClient;
use crate::config::Config;
use crate::raid::{CreateTicket, JiraWebhook, LinkConversation, LinkIssue, PostComment, PushChange, Raid};
use crate::store::RaidStore;

static SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
static POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Jira, as an integration. Off unless `ENABLE_JIRA` and `ENABLE_RAID` are on.
#[derive(Debug, Default)]
pub struct Jira {
    config: Config,
    writer: OnceLock<Arc<EnqueueWriter>>,
}

/// `firefighter-server jira …`
#[derive(Debug, Parser)]
#[command(
    name = "jira",
    about = "Jira (RAID): `jira teams`, `jira team --name N --project KEY`, `jira team-remove KEY`, `jira check`, `jira link INCIDENT KEY`, `jira unlink INCIDENT`, `jira resync [--incident N]`"
)]
struct JiraCli {
    #[command(subcommand)]
    command: JiraCommand,
}

#[derive(Debug, Subcommand)]
enum JiraCommand {
    /// The feature teams and their projects.
    Teams,
    /// Route a team's tickets to a project (or rename the project's team).
    Team {
        #[arg(long)]
        name: String,
        #[arg(long)]
        project: String,
    },
    /// Stop routing to a project.
    TeamRemove { project: String },
    /// Call Jira with the configured account: the default project and the workflow.
    Check,
    /// Make an existing Jira issue the incident's ticket, then bring both in step (a difference is
    /// settled by the conflict policy).
    Link { incident: i64, issue_key: String },
    /// Forget the incident's ticket (the issue is left as it is).
    Unlink { incident: i64 },
    /// Bring incidents and their tickets back in step: one incident, or every open one.
    Resync {
        #[arg(long)]
        incident: Option<i64>,
    },
}

struct TicketFacets {
    store: RaidStore,
    client: JiraClient,
}

impl FacetSource for TicketFacets {
    fn facets(&self, incidents: &[IncidentId]) -> Result<FacetMap, RepositoryError> {
        let ids: Vec<i64> = incidents.iter().map(|id| id.0).collect();
        let mut map = FacetMap::new();
        for ticket in self.store.tickets_of(&ids)? {
            let Some((issue_id, key)) = ticket.issue() else { continue };
            map.entry(IncidentId(ticket.incident_id)).or_default().push(Facet {
                integration: "jira".into(),
                kind: JIRA_TICKET.into(),
                label: key.to_owned(),
                url: Some(self.client.browse_url(key)),
                value: Some(issue_id.to_owned()),
            });
        }
        Ok(map)
    }
}

impl Jira {
    fn client(&self) -> Option<JiraClient> {
        self.config.jira.as_ref().map(JiraClient::new)
    }

    fn raid(&self, context: &Context) -> Option<Raid> {
        let config = self.config.raid.clone()?;
        Some(Raid {
            context: context.clone(),
            client: self.client()?,
            config: Arc::new(config),
            store: RaidStore { database: context.database.clone() },
        })
    }
}

impl Integration for Jira {
    fn name(&self) -> &'static str {
        "raid"
    }

    fn read_config(&mut self, env: &mut ConfigReader<'_>) {
        self.config = Config::read(env);
    }

    fn migrations(&self) -> Option<MigrationSet> {
        Some(MigrationSet { name: "raid", sqlite: &SQLITE, postgres: &POSTGRES })
    }

    fn register_jobs(&self, context: &Context, registry: &mut Registry) -> anyhow::Result<()> {
        let Some(raid) = self.raid(context) else { return Ok(()) };
        let create = raid.clone();
        registry.register(move |job: CreateTicket, _attempt| create.create_ticket(&job))?;
        let push = raid.clone();
        registry.register(move |job: PushChange, _attempt| push.push(&job))?;
        let webhook = raid.clone();
        registry.register(move |job: JiraWebhook, _attempt| webhook.apply_webhook(&job))?;
        let watchers = raid.clone();
        registry
            .register(move |job: crate::watchers::NotifyWatchers, _attempt| watchers.notify_watchers(&job))?;
        let upload = raid.clone();
        registry.register(move |job: crate::landbot::UploadAttachments, _attempt| {
            upload.upload_attachments(&job)
        })?;
        let announce = raid.clone();
        registry.register(move |job: crate::landbot::AnnounceTicket, _attempt| {
            announce.announce_bot_ticket(&job)
        })?;
        let link = raid.clone();
        registry
            .register(move |job: LinkIssue, _attempt| link.link(job.incident_id, &job.issue_key).map(drop))?;
        let comment = raid.clone();
        registry.register(move |job: PostComment, _attempt| comment.post_comment(&job))?;
        registry.register(move |job: LinkConversation, _attempt| raid.link_conversation(&job))?;
        registry.on_event(crate::raid::create_jobs);
        registry.on_event(crate::raid::push_jobs);
        registry.on_event(crate::raid::comment_jobs);
        Ok(())
    }

    fn http_scope(&self) -> Option<&'static str> {
        Some("/api/v2/firefighter/raid")
    }

    fn routes(&self, context: &Context, routes: &mut actix_web::web::ServiceConfig) {
        let store = RaidStore { database: context.database.clone() };
        let webhooks = self.config.raid.as_ref().and_then(|raid| {
            let writer = match self.writer.get() {
                Some(writer) => Arc::clone(writer),
                None => match EnqueueWriter::start(context.database.clone(), "ff-jira-webhooks") {
                    Ok(started) => Arc::clone(self.writer.get_or_init(|| Arc::new(started))),
                    Err(error) => {
                        tracing::error!(%error, "the Jira webhooks are off: their writer cannot start");
                        return None;
                    }
                },
            };
            Some(Webhooks { secret: raid.webhook_secret.clone(), writer })
        });
        crate::api::configure(routes, webhooks, store, self.raid(context));
    }

    fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        use utoipa::OpenApi;
        Some(crate::api::RaidDoc::openapi())
    }

    fn facets(&self, context: &Context) -> Option<Arc<dyn FacetSource>> {
        self.config.raid.as_ref()?;
        Some(Arc::new(TicketFacets {
            store: RaidStore { database: context.database.clone() },
            client: self.client()?,
        }))
    }

    fn incident_actions(&self, context: &Context) -> Vec<platform::actions::IncidentAction> {
        use platform::actions::{ActionError, ActionField, IncidentAction};
        if self.config.raid.is_none() {
            return Vec::new();
        }
        let store = RaidStore { database: context.database.clone() };
        let (linker, database) = (store.clone(), context.database.clone());
        let link = IncidentAction {
            integration: "raid",
            name: "link",
            title: "Link a Jira issue".into(),
            help: "Make an existing issue this incident's ticket; both are then brought in step (a difference is settled by the conflict policy).".into(),
            submit: "Link the issue".into(),
            fields: vec![ActionField { name: "issue_key", label: "Issue key".into(), placeholder: "INCIDENT-42".into(), secret: false }],
            run: Arc::new(move |incident, fields, _actor| {
                use jobs::JobStore as _;
                let key = fields.get("issue_key").map(|k| k.trim().to_uppercase()).unwrap_or_default();
                if !crate::api::valid_issue_key(&key) {
                    return Err(ActionError::Invalid("An issue key, such as INCIDENT-42.".into()));
                }
                if linker.ticket(incident.0).map_err(|e| ActionError::Failed(e.to_string()))?.and_then(|t| t.issue_key).as_deref() == Some(key.as_str()) {
                    return Err(ActionError::Invalid(format!("{key} is this incident's ticket already.")));
                }
                let now = incidents_core::clock::now();
                let job = LinkIssue { incident_id: incident.0, issue_key: key.clone(), requested_at: now.to_string() };
                let job = jobs::Enqueue::new(&job).map_err(|e| ActionError::Failed(e.to_string()))?;
                database.enqueue(&job, now, now).map_err(|e| ActionError::Failed(e.to_string()))?;
                Ok(format!("{key} is being linked: a failure would show under Failed side effects."))
            }),
        };
        let lifecycle = context.lifecycle.clone();
        let unlink = IncidentAction {
            integration: "raid",
            name: "unlink",
            title: "Unlink the Jira ticket".into(),
            help: "Forget this incident's ticket; the issue is left as it is in Jira.".into(),
            submit: "Unlink".into(),
            fields: Vec::new(),
            run: Arc::new(move |incident, _fields, actor| {
                let key = store
                    .ticket(incident.0)
                    .map_err(|e| ActionError::Failed(e.to_string()))?
                    .and_then(|t| t.issue_key);
                if !store.unlink(incident.0).map_err(|e| ActionError::Failed(e.to_string()))? {
                    return Err(ActionError::Invalid("This incident has no Jira ticket.".into()));
                }
                let key = key.unwrap_or_default();
                let command = incidents_core::incident::UpdateIncident {
                    message: Some(format!("Unlinked from Jira issue {key}")),
                    event_type: Some("jira_unlinked".into()),
                    ..Default::default()
                };
                lifecycle
                    .update(actor, incident, &command)
                    .map_err(|e| ActionError::Failed(e.to_string()))?;
                Ok(format!("Unlinked from {key}."))
            }),
        };
        vec![link, unlink]
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![JiraCli::command()]
    }

    #[expect(clippy::print_stdout, reason = "command output")]
    fn run_command(&self, context: &Context, _name: &str, matches: &clap::ArgMatches) -> anyhow::Result<()> {
        let store = RaidStore { database: context.database.clone() };
        match JiraCli::from_arg_matches(matches)?.command {
            JiraCommand::Teams => {
                for team in store.feature_teams()? {
                    println!("{}\t{}", team.name, team.jira_project_key);
                }
            }
            JiraCommand::Team { name, project } => {
                let name = name.trim();
                if name.is_empty() || name.chars().count() > 80 {
                    bail!("--name: 1 to 80 characters");
                }
                if !valid_project_key(&project) {
                    bail!("--project: a Jira project key (A-Z, 0-9 and _, at most 10)");
                }
                let added = store.put_feature_team(name, &project)?;
                println!("{} {name}\t{project}", if added { "added" } else { "renamed" });
            }
            JiraCommand::TeamRemove { project } => {
                if !store.delete_feature_team(&project)? {
                    bail!("no feature team routes to {project}");
                }
                println!("removed {project}");
            }
            JiraCommand::Check => {
                let Some(client) = self.client() else {
                    bail!("Jira is off: set ENABLE_JIRA=true and its variables")
                };
                if let Some(raid) = &self.config.raid {
                    let id = client.project_id(&raid.project)?;
                    println!("project {} (id {id})", raid.project);
                }
                let workflow = client.workflow()?;
                println!("workflow with {} statuses", workflow.statuses.len());
            }
            JiraCommand::Link { incident, issue_key } => {
                let Some(raid) = self.raid(context) else { bail!("RAID is off: set ENABLE_RAID=true") };
                let outcomes = raid.link(incident, &issue_key).map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("incident {incident} is linked to {issue_key}");
                for outcome in outcomes {
                    println!(
                        "  {}: {}{}",
                        outcome.field,
                        outcome.outcome,
                        if outcome.conflict { " (conflict)" } else { "" }
                    );
                }
            }
            JiraCommand::Unlink { incident } => {
                let Some(raid) = self.raid(context) else { bail!("RAID is off: set ENABLE_RAID=true") };
                if !raid.unlink(incident, "the command line").map_err(|e| anyhow::anyhow!("{e}"))? {
                    bail!("incident {incident} has no Jira ticket");
                }
                println!("incident {incident} has no Jira ticket any more");
            }
            JiraCommand::Resync { incident } => {
                let Some(raid) = self.raid(context) else { bail!("RAID is off: set ENABLE_RAID=true") };
                let ids = match incident {
                    Some(id) => vec![id],
                    None => raid.store.to_resync()?,
                };
                let report = crate::sync::resync(&raid, &ids, &mut std::io::stderr());
                println!(
                    "{} incidents: {} in step already, {} brought in step, {} failed",
                    ids.len(),
                    report.in_step,
                    report.changed,
                    report.failed.len()
                );
                for (id, error) in &report.failed {
                    println!("  incident {id}: {error}");
                }
                if !report.failed.is_empty() {
                    bail!("{} incidents could not be brought in step", report.failed.len());
                }
            }
        }
        Ok(())
    }
}
