//! The RAID jobs: a ticket for every incident, incident changes pushed to it, and Jira's changes
//! applied to the incident, every one of them an idempotent job.
//!
//! - `raid.create_ticket` (on `incident_created`): never two tickets for one incident. Each issue
//!   carries the label `firefighter-incident-<id>`, and the job searches for it before creating.
//!   Jira's search lags behind its writes by a few seconds: an attempt is recorded (committed)
//!   before Jira is called, and while an earlier attempt is younger than [`SEARCH_LAG`] and the
//!   search finds nothing, the job waits (retries) instead of creating a second issue.
//! - `raid.push` (on `incident_updated` changing status or priority, unless Jira made the change):
//!   the sync engine decides, per field, under a lease so one push per incident and field runs at a
//!   time; a status is reached along the workflow's shortest path (one write, however many hops).
//! - `raid.webhook` (a Jira webhook, acknowledged at once): a change of status or priority applied
//!   through the lifecycle with entry point Jira, unless it is our own echo or already known; a
//!   refusal is commented on the issue and told in the incident's channel; a comment becomes a note
//!   on the incident's timeline.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use incidents_core::chat::ChatMessage;
use incidents_core::facets::SLACK_CHANNEL;
use incidents_core::incident::UpdateIncident;
use incidents_core::query::{IncidentQueries as _, IncidentView};
use incidents_core::{Actor, EntryPoint, IncidentId, IncidentStatus, LifecycleError, RepositoryError};
use jobs::{Enqueue, Job, JobError, JobStore as _, OutboxEvent};
use platform::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sync_engine::FieldMap;

use crate::client::{JiraClient, JiraError};
use crate::config::RaidConfig;
use crate::mapping::{PriorityMap, StatusMap};
use crate::store::{RaidStore, Ticket};

/// How long Jira's search may not show an issue just created.
pub const SEARCH_LAG: Duration = Duration::from_secs(30);
/// The user Jira's changes are made as (the original's `jira-webhook` user).
pub const JIRA_USER_EMAIL: &str = "jira-webhook@firefighter.invalid";

/// The label that ties an issue to its incident.
#[must_use]
pub fn label(incident: i64) -> String {
    format!("firefighter-incident-{incident}")
}

/// Create the ticket of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTicket {
    pub incident_id: i64,
    /// Where the incident was declared (whether a conversation is coming depends on it); absent
    /// from jobs queued before it was recorded.
    #[serde(default)]
    pub entry_point: Option<String>,
}

impl Job for CreateTicket {
    const NAME: &'static str = "raid.create_ticket";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-ticket:{}", self.incident_id)
    }
}

/// Push an incident change (status, priority) to its ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushChange {
    pub event_id: String,
    pub incident_id: i64,
    /// The incident's version after the change.
    pub version: i64,
    /// The status label, when it changed.
    pub status: Option<String>,
    /// The priority's name, when it changed.
    pub priority: Option<String>,
    /// The mirrored fields the change touched (`status`, `priority`, `title`, `description`,
    /// `commander`); absent from jobs queued before it was recorded (then status and priority, as
    /// given above).
    #[serde(default)]
    pub fields: Vec<String>,
}

impl PushChange {
    /// The fields to sync.
    #[must_use]
    pub fn fields(&self) -> Vec<&str> {
        if self.fields.is_empty() {
            let mut fields = Vec::new();
            if self.status.is_some() {
                fields.push("status");
            }
            if self.priority.is_some() {
                fields.push("priority");
            }
            fields
        } else {
            self.fields.iter().map(String::as_str).collect()
        }
    }
}

impl Job for PushChange {
    const NAME: &'static str = "raid.push";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-push:{}", self.event_id)
    }
}

/// A Jira webhook delivery, to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JiraWebhook {
    /// `X-Atlassian-Webhook-Identifier` (stable across Jira's retries).
    pub identifier: String,
    /// `update` or `comment`.
    pub kind: String,
    pub body: Value,
}

impl Job for JiraWebhook {
    const NAME: &'static str = "raid.webhook";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-webhook:{}", self.identifier)
    }
}

/// Link the incident's chat conversation and its ticket both ways (once both exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkConversation {
    pub incident_id: i64,
}

impl Job for LinkConversation {
    const NAME: &'static str = "raid.link_conversation";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-link:{}", self.incident_id)
    }
}

/// The ticket an outbox event calls for.
#[must_use]
pub fn create_jobs(event: &OutboxEvent) -> Vec<CreateTicket> {
    match (event.incident_id, event.event_type.as_str()) {
        (Some(incident_id), "incident_created") => {
            vec![CreateTicket { incident_id, entry_point: event.entry_point.clone() }]
        }
        _ => Vec::new(),
    }
}

/// The sync an outbox event calls for: a change of a mirrored field, unless Jira made it.
#[must_use]
pub fn push_jobs(event: &OutboxEvent) -> Vec<PushChange> {
    let Some(incident_id) = event.incident_id else { return Vec::new() };
    if event.entry_point.as_deref() == Some(EntryPoint::Jira.as_str()) {
        return Vec::new();
    }
    let text = |key: &str| event.payload[key].as_str().map(str::to_owned);
    let mut fields = Vec::new();
    match event.event_type.as_str() {
        "incident_updated" => {
            for field in event.payload["changed_fields"].as_array().into_iter().flatten() {
                if let Some(field) = field.as_str()
                    && ["status", "priority", "title", "description"].contains(&field)
                {
                    fields.push(field.to_owned());
                }
            }
        }
        "roles_updated" => {
            let commander = event.payload["changes"]
                .as_array()
                .is_some_and(|changes| changes.iter().any(|c| c["role"] == "commander"));
            if commander {
                fields.push("commander".to_owned());
            }
        }
        _ => {}
    }
    if fields.is_empty() {
        return Vec::new();
    }
    let changed = |name: &str| fields.iter().any(|f| f == name);
    vec![PushChange {
        event_id: event.event_id.clone(),
        incident_id,
        version: event.incident_version.unwrap_or_default(),
        status: changed("status").then(|| text("status")).flatten(),
        priority: changed("priority").then(|| text("priority")).flatten(),
        fields,
    }]
}

/// A timeline message marked for Jira (`event_type` [`COMMENT_TO_JIRA`]) becomes a comment.
#[must_use]
pub fn comment_jobs(event: &OutboxEvent) -> Vec<PostComment> {
    let Some(incident_id) = event.incident_id else { return Vec::new() };
    if event.event_type != "incident_updated"
        || event.entry_point.as_deref() == Some(EntryPoint::Jira.as_str())
        || event.payload["event_type"].as_str() != Some(COMMENT_TO_JIRA)
    {
        return Vec::new();
    }
    let Some(message) = event.payload["message"].as_str().filter(|m| !m.trim().is_empty()) else {
        return Vec::new();
    };
    vec![PostComment {
        event_id: event.event_id.clone(),
        incident_id,
        message: message.to_owned(),
        author: event.actor_user_id.clone(),
    }]
}

/// Link an existing issue to an incident (an operator asked, through the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkIssue {
    pub incident_id: i64,
    pub issue_key: String,
    /// When it was asked (a later request to link the same issue again is another job).
    pub requested_at: String,
}

impl Job for LinkIssue {
    const NAME: &'static str = "raid.link_issue";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-link-issue:{}:{}:{}", self.incident_id, self.issue_key, self.requested_at)
    }
}

/// The marker of a timeline message to copy to the ticket as a comment.
pub const COMMENT_TO_JIRA: &str = "comment_to_jira";

/// Post a timeline message on the incident's ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostComment {
    pub event_id: String,
    pub incident_id: i64,
    pub message: String,
    /// Who wrote it (their user id).
    #[serde(default)]
    pub author: Option<String>,
}

impl Job for PostComment {
    const NAME: &'static str = "raid.comment";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-comment:{}", self.event_id)
    }
}

/// What the jobs work with.
#[derive(Clone)]
pub struct Raid {
    pub context: Context,
    pub client: JiraClient,
    pub config: Arc<RaidConfig>,
    pub store: RaidStore,
}

impl std::fmt::Debug for Raid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Raid").field("project", &self.config.project).finish_non_exhaustive()
    }
}

#[expect(clippy::needless_pass_by_value, reason = "a map_err function")]
pub(crate) fn storage(error: RepositoryError) -> JobError {
    JobError::Retryable(error.to_string())
}

/// A chat platform's failure, as a job's: retried when it may pass.
#[expect(clippy::needless_pass_by_value, reason = "a map_err function")]
pub(crate) fn chat(error: incidents_core::chat::ChatError) -> JobError {
    if error.is_retryable() {
        JobError::Retryable(error.to_string())
    } else {
        JobError::Permanent(error.to_string())
    }
}

#[expect(clippy::needless_pass_by_value, reason = "a map_err function")]
pub(crate) fn jira(error: JiraError) -> JobError {
    if error.is_retryable() {
        JobError::Retryable(error.to_string())
    } else {
        JobError::Permanent(error.to_string())
    }
}

impl Raid {
    pub(crate) fn now() -> chrono::NaiveDateTime {
        incidents_core::clock::now()
    }

    pub(crate) fn incident(&self, id: i64) -> Result<IncidentView, JobError> {
        self.context
            .database
            .incident(IncidentId(id))
            .map_err(storage)?
            .ok_or_else(|| JobError::Permanent(format!("incident {id} does not exist")))
    }

    /// `raid.create_ticket`.
    ///
    /// # Errors
    /// Jira or the database failed (retried), or Jira refused the issue (dead).
    pub fn create_ticket(&self, job: &CreateTicket) -> Result<(), JobError> {
        let id = job.incident_id;
        let incident = self.incident(id)?;
        let ticket = self.store.ticket(id).map_err(storage)?;
        if ticket.as_ref().is_some_and(|t| t.state == "created") {
            // Made by an earlier attempt, whose sync may not have finished: (only) that again.
            return self.sync(id, &crate::config::MIRRORED, &crate::sync::Trigger::Creation).map(drop);
        }
        // Look first: an earlier attempt may have created it before dying.
        let found = self.client.search(&format!("labels = \"{}\"", label(id)), "status").map_err(jira)?;
        let (issue_id, issue_key, project, impact, fresh) = if let Some(issue) = found.into_iter().next() {
            let project = issue.key.split('-').next().unwrap_or_default().to_owned();
            (issue.id, issue.key, project, String::new(), false)
        } else {
            if let Some(started) = ticket.as_ref().and_then(|t| t.attempt_started_at)
                && Self::now() - started < TimeDelta::from_std(SEARCH_LAG).unwrap_or_default()
            {
                return Err(JobError::Retryable(format!(
                    "an earlier attempt at {started} may have created the ticket and Jira's search may not show it yet"
                )));
            }
            let (project, fields, impact) = self.ticket_fields(&incident)?;
            self.store.begin_attempt(id, Self::now()).map_err(storage)?;
            let created = self.client.create_issue(&fields).map_err(jira)?;
            (created.id, created.key, project, impact, true)
        };
        self.store
            .record_created(id, (&issue_id, &issue_key), &project, &impact, Self::now())
            .map_err(storage)?;
        tracing::info!(incident = id, key = %issue_key, "Jira ticket created");
        // The follow-ups first (each only logged when it fails), then the sync, which a retry of
        // this job does again: what the issue holds is the baseline of every field, and whatever
        // the incident changed since its fields were read is pushed now.
        let entry_point = job.entry_point.as_deref().and_then(EntryPoint::parse);
        self.follow_up(&incident, entry_point, (&issue_id, &issue_key), &project, &impact, fresh);
        self.sync(id, &crate::config::MIRRORED, &crate::sync::Trigger::Creation).map(drop)
    }

    /// The project, the fields of a new issue, and the business impact label sent.
    fn ticket_fields(&self, incident: &IncidentView) -> Result<(String, Value, String), JobError> {
        let config = &self.config;
        let custom = &incident.custom_fields;
        let text =
            |key: &str| custom.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
        let team = text("suggested_team_routing");
        let project = match (text("jira_project"), team) {
            (Some(explicit), _) => explicit.to_owned(),
            (None, Some(team)) => {
                self.store.team_project(team).map_err(storage)?.unwrap_or_else(|| config.project.clone())
            }
            (None, None) => config.project.clone(),
        };
        let impacts = self.context.database.incident_impacts(incident.id).map_err(storage)?;
        let impact = impacts
            .iter()
            .find(|i| i.impact_type == "Business Impact")
            .and_then(|i| incidents_core::ImpactLevelCode::parse(&i.level).ok())
            .and_then(crate::mapping::business_impact)
            .unwrap_or_default()
            .to_owned();
        let mut addendum = Vec::new();
        if let (Some(seller), Some(toolbox)) = (text("seller_contract_id"), &config.toolbox_url) {
            addendum.push(format!("Seller link to TOOLBOX: {toolbox}?seller_id={seller}"));
        }
        if let Some(team) = team.filter(|team| *team != "SBI") {
            addendum.push(format!("Suggested team to be routed: *{team}*"));
        }
        let critical = incident.priority.value <= 3;
        let mut footer = String::new();
        if critical {
            footer.push_str(&format!(
                "🧯 This incident has been created for a critical incident.\n📦 Incident category: {}\n{} Priority: {}\n",
                incident.category.name, incident.priority.emoji, incident.priority.name
            ));
        }
        if !addendum.is_empty() {
            footer.push_str("*Additional Information*\n");
            footer.push_str(&addendum.join("\n"));
        }
        let body = crate::mapping::DescriptionMap.to_external(&incident.description).unwrap_or_default();
        let description = crate::wiki::description(&body, &footer);
        let summary: String = incident.title.chars().take(255).collect();
        let mut labels = vec![json!(label(incident.id.0))];
        if custom.get("is_seller_in_golden_list").and_then(Value::as_bool) == Some(true) {
            labels.push(json!("goldenList"));
        }
        if custom.get("is_key_account").and_then(Value::as_bool) == Some(true) {
            labels.push(json!("keyAccount"));
        }
        let fields_config = &config.fields;
        let mut fields = serde_json::Map::new();
        fields.insert("project".into(), json!({"key": project}));
        fields.insert("summary".into(), json!(summary));
        fields.insert("description".into(), json!(description));
        fields.insert("issuetype".into(), json!({"name": config.issue_type}));
        fields.insert("reporter".into(), json!({"id": config.service_account}));
        fields.insert("labels".into(), Value::Array(labels));
        let priority = PriorityMap.to_external(&incident.priority.value).unwrap_or_else(|| "-".into());
        fields.insert(fields_config.priority.clone(), json!({"value": priority}));
        if !impact.is_empty() {
            fields.insert(fields_config.business_impact.clone(), json!({"value": impact}));
        }
        let environments: Vec<Value> = match custom.get("environments").and_then(Value::as_array) {
            Some(list) if !list.is_empty() => {
                list.iter().filter_map(Value::as_str).map(|e| json!({"value": e})).collect()
            }
            _ => vec![json!({"value": incident.environment.value})],
        };
        fields.insert(fields_config.environments.clone(), Value::Array(environments));
        let platform = custom
            .get("platforms")
            .and_then(Value::as_array)
            .and_then(|list| list.first())
            .and_then(Value::as_str)
            .unwrap_or("platform-All")
            .trim_start_matches("platform-")
            .to_owned();
        fields.insert(fields_config.platform.clone(), json!({"value": platform}));
        if let Some(field) = &fields_config.category {
            fields.insert(field.clone(), json!({"value": incident.category.name}));
        }
        for (key, field) in [
            ("zendesk_ticket_id", &fields_config.zendesk),
            ("zoho_desk_ticket_id", &fields_config.zoho),
            ("seller_contract_id", &fields_config.seller_contract),
        ] {
            if let Some(value) = custom.get(key).filter(|v| !v.is_null()) {
                let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                if !value.is_empty() {
                    fields.insert(field.clone(), json!(value));
                }
            }
        }
        Ok((project, Value::Object(fields), impact))
    }

    /// What follows a ticket's creation; each step is idempotent and only logged when it fails
    /// (the ticket stands).
    fn follow_up(
        &self,
        incident: &IncidentView,
        entry_point: Option<EntryPoint>,
        (issue_id, issue_key): (&str, &str),
        project: &str,
        impact: &str,
        fresh: bool,
    ) {
        let id = incident.id.0;
        let base = self.context.config.base_url.as_str().trim_end_matches('/');
        let page = format!("{base}/incident/{id}/");
        if let Err(error) = self.client.remote_link(
            issue_id,
            &format!("firefighter-incident-{id}"),
            &page,
            &format!("FireFighter incident #{id}"),
        ) {
            tracing::warn!(%error, incident = id, "the link to the incident page could not be added to its ticket");
        }
        // The declarer watches the ticket, when Jira knows them by e-mail address.
        match self.client.search_users(&incident.created_by.email) {
            Ok(users) => {
                if let Some(user) = users.iter().find(|u| {
                    u.email_address
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(&incident.created_by.email))
                }) && let Err(error) = self.client.add_watcher(issue_id, &user.account_id)
                {
                    tracing::warn!(%error, incident = id, "the declarer could not be made a watcher");
                }
            }
            Err(error) => tracing::warn!(%error, incident = id, "Jira's users could not be searched"),
        }
        if self.context.chat.platform() == "none" {
            return;
        }
        if self.context.chat.opens_conversation(incident, entry_point) {
            let link = LinkConversation { incident_id: id };
            let enqueued = Enqueue::new(&link).map_err(|e| e.to_string()).and_then(|job| {
                self.context.database.enqueue(&job, Self::now(), Self::now()).map_err(|e| e.to_string())
            });
            if let Err(error) = enqueued {
                tracing::warn!(%error, incident = id, "the conversation link could not be queued");
            }
        }
        if fresh && incident.priority.value > 3 {
            // P4–P5: the original's `raid_created_issue` in the alert channels (once: only by the
            // attempt that created the issue), with or without a conversation of their own.
            let kind = if project == "SBI" { "sbi" } else { "incidents" };
            let level = if impact == "High" { "high" } else { "normal" };
            let url = self.client.browse_url(issue_key);
            let description: String = incident.description.chars().take(1997).collect();
            let text =
                format!("New {}: {issue_key} '{}' was created.", self.config.issue_type, incident.title);
            let message = ChatMessage {
                text: text.clone(),
                rich: Some(json!([
                    {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                    {"type": "divider"},
                    {"type": "section", "fields": [
                        {"type": "mrkdwn", "text": format!("*Title:*\n{}", incident.title)},
                        {"type": "mrkdwn", "text": format!("*Description:*\n{description}")},
                        {"type": "mrkdwn", "text": format!("*Reporter:*\n{}", incident.created_by.name)},
                        {"type": "mrkdwn", "text": format!("*Jira:*\n<{url}|{issue_key}>")},
                        {"type": "mrkdwn", "text": format!("*Business impact:* {}", if impact.is_empty() { "N/A" } else { impact })},
                    ]},
                ])),
                metadata: Some((
                    "raid_created_issue".into(),
                    json!({"incident_id": id, "issue_key": issue_key}),
                )),
            };
            if let Err(error) =
                self.context.chat.post_to_tagged(&format!("raid_alert__{kind}_{level}"), &message)
            {
                tracing::warn!(%error, incident = id, "the new ticket could not be announced");
            }
            // And the declarer, by direct message, as the original.
            match self.context.chat.user_by_email(&incident.created_by.email) {
                Ok(Some(user)) => {
                    if let Err(error) = self.context.chat.direct_message(&user, &message) {
                        tracing::warn!(%error, incident = id, "the declarer could not be told of the ticket");
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, incident = id, "the declarer could not be looked up"),
            }
        }
    }

    /// `raid.link_conversation`: a bookmark to the ticket in the incident's conversation, and a link
    /// to the conversation on the ticket; waits (retries) until the conversation exists.
    ///
    /// # Errors
    /// Not there yet (retried), or a failure.
    pub fn link_conversation(&self, job: &LinkConversation) -> Result<(), JobError> {
        let id = job.incident_id;
        let ticket = self.store.ticket(id).map_err(storage)?;
        let Some((issue_id, issue_key)) = ticket.as_ref().and_then(Ticket::issue) else {
            return Err(JobError::Retryable("the ticket is not created yet".into()));
        };
        let facets = self.context.facets.of(&[IncidentId(id)]).map_err(storage)?;
        let Some(channel) =
            facets.get(&IncidentId(id)).into_iter().flatten().find(|f| f.kind == SLACK_CHANNEL).cloned()
        else {
            return Err(JobError::Retryable("the incident's conversation does not exist yet".into()));
        };
        let url = self.client.browse_url(issue_key);
        if let Some(conversation) = &channel.value {
            self.context
                .chat
                .bookmark(conversation, "Jira ticket", &url)
                .map_err(|e| JobError::Retryable(e.to_string()))?;
        }
        if let Some(link) = &channel.url {
            self.client
                .remote_link(
                    issue_id,
                    &format!("firefighter-conversation-{id}"),
                    link,
                    &format!("Slack conversation #{}", channel.label),
                )
                .map_err(jira)?;
        }
        Ok(())
    }

    /// `raid.push`: syncs the fields an incident change touched.
    ///
    /// # Errors
    /// See [`Raid::sync`].
    pub fn push(&self, job: &PushChange) -> Result<(), JobError> {
        self.sync(job.incident_id, &job.fields(), &crate::sync::Trigger::Incident).map(drop)
    }

    /// `raid.webhook`.
    ///
    /// # Errors
    /// The database or Jira failed (retried).
    pub fn apply_webhook(&self, job: &JiraWebhook) -> Result<(), JobError> {
        let body = &job.body;
        // The watchers are told first (by a job of their own: a failure here or there is retried
        // apart), for every issue, linked or not.
        if let Some(notify) = crate::watchers::for_webhook(self, &job.identifier, &job.kind, body) {
            let enqueued = Enqueue::new(&notify).map_err(|e| JobError::Permanent(e.to_string()))?;
            self.context
                .database
                .enqueue(&enqueued, Self::now(), Self::now())
                .map_err(|e| JobError::Retryable(e.to_string()))?;
        }
        let Some(key) = body.pointer("/issue/key").and_then(Value::as_str) else { return Ok(()) };
        let account = body.pointer("/user/accountId").and_then(Value::as_str).unwrap_or_default();
        let by_service = !account.is_empty() && account == self.config.service_account;
        let who = body.pointer("/user/displayName").and_then(Value::as_str).unwrap_or("someone").to_owned();
        let ticket = self.store.ticket_by_key(key).map_err(storage)?;
        if job.kind == "comment" {
            return match ticket {
                Some(ticket) => self.apply_comment(ticket.incident_id, key, body),
                None => Ok(()),
            };
        }
        if body["webhookEvent"].as_str() == Some("jira:issue_deleted") {
            return match ticket {
                Some(ticket) => self.issue_deleted(ticket.incident_id, key, &who),
                None => Ok(()),
            };
        }
        let items: Vec<&Value> =
            body.pointer("/changelog/items").and_then(Value::as_array).into_iter().flatten().collect();
        let fields = self.mirrored_fields(&items);
        let Some(ticket) = ticket else {
            tracing::info!(%key, "a Jira webhook about an issue of no incident: not mirrored");
            return Ok(());
        };
        // Our own writes come back as webhooks: never applied (they hold nothing new).
        if by_service || fields.is_empty() {
            return Ok(());
        }
        self.sync(ticket.incident_id, &fields, &crate::sync::Trigger::Jira(who)).map(drop)
    }

    /// The mirrored fields a changelog's items touch.
    pub(crate) fn mirrored_fields(&self, items: &[&Value]) -> Vec<&'static str> {
        let mut fields = Vec::new();
        for item in items {
            let field = item["field"].as_str().unwrap_or_default().to_lowercase();
            let field_id = item["fieldId"].as_str();
            let priority_field = &self.config.fields.priority;
            // The priority is the custom field, by id; Jira's own `priority` never syncs.
            let is_priority = field_id.map_or_else(
                || field.eq_ignore_ascii_case(priority_field),
                |f| f.eq_ignore_ascii_case(priority_field),
            );
            let named = |name: &str| field_id.map_or(field == name, |f| f.eq_ignore_ascii_case(name));
            let mirrored = if field == "status" {
                "status"
            } else if is_priority {
                "priority"
            } else if named("summary") {
                "title"
            } else if named("description") {
                "description"
            } else if named("assignee") {
                "commander"
            } else {
                continue;
            };
            if !fields.contains(&mirrored) {
                fields.push(mirrored);
            }
        }
        fields
    }

    /// `jira:issue_deleted`: the incident loses its ticket, and its timeline says so.
    fn issue_deleted(&self, id: i64, key: &str, who: &str) -> Result<(), JobError> {
        if !self.store.unlink(id).map_err(storage)? {
            return Ok(());
        }
        tracing::info!(incident = id, %key, "the incident's Jira issue was deleted: unlinked");
        self.note(
            id,
            &format!("Jira issue {key} was deleted by {who}: the incident has no ticket any more"),
            "jira_unlinked",
        )
    }

    /// A timeline entry made as Jira.
    pub(crate) fn note(&self, id: i64, message: &str, event_type: &str) -> Result<(), JobError> {
        let command = UpdateIncident {
            message: Some(message.to_owned()),
            event_type: Some(event_type.to_owned()),
            ..UpdateIncident::default()
        };
        let actor = self.jira_actor()?;
        match self.context.lifecycle.update(actor, IncidentId(id), &command) {
            Ok(_) => Ok(()),
            Err(LifecycleError::Storage(error)) => Err(storage(error)),
            Err(error) => Err(JobError::Permanent(error.to_string())),
        }
    }

    /// A Jira change the lifecycle refused: the incident stays as it is; the issue and the incident's
    /// channel are told why.
    pub(crate) fn refused(
        &self,
        id: i64,
        issue_id: &str,
        key: &str,
        field: &str,
        to: &str,
        refusal: &LifecycleError,
    ) {
        let reasons: Vec<String> = match refusal {
            LifecycleError::CannotClose { blockers } => blockers.iter().map(|b| b.message.clone()).collect(),
            other => vec![other.to_string()],
        };
        let closing = field == "status" && StatusMap.to_local(to) == Some(IncidentStatus::Closed);
        let target = match (field, StatusMap.to_local(to)) {
            ("status", Some(status)) => status.label().to_owned(),
            _ => format!("{field} {to:?}"),
        };
        let comment = format!(
            "FireFighter did not move incident #{id} to {target} ({}):\n{}",
            refusal.code(),
            reasons.iter().map(|r| format!("* {r}")).collect::<Vec<_>>().join("\n")
        );
        if let Err(error) = self.client.comment(issue_id, &comment) {
            tracing::warn!(%error, incident = id, "the refusal could not be commented on the ticket");
        }
        if self.context.chat.platform() == "none" {
            return;
        }
        let facets = self.context.facets.of(&[IncidentId(id)]).unwrap_or_default();
        let Some(conversation) = facets
            .get(&IncidentId(id))
            .into_iter()
            .flatten()
            .find(|f| f.kind == SLACK_CHANNEL)
            .and_then(|f| f.value.clone())
        else {
            return;
        };
        let bullets = reasons.iter().map(|r| format!("• {r}")).collect::<Vec<_>>().join("\n");
        let text = if closing {
            format!(
                "Jira ticket *{key}* was closed, but the incident was *not* automatically closed:\n{bullets}\nClose the incident using the _Close incident_ action once these are done."
            )
        } else {
            format!(
                "Jira ticket *{key}* changed its {field} to *{to}*, but the incident could not follow:\n{bullets}"
            )
        };
        let message = ChatMessage {
            text,
            rich: None,
            metadata: Some((
                if closing { "raid_jira_closed_blocked" } else { "raid_jira_status_refused" }.into(),
                json!({"incident_id": id, "issue_key": key}),
            )),
        };
        if let Err(error) = self.context.chat.post(&conversation, &message) {
            tracing::warn!(%error, incident = id, "the refusal could not be posted in the incident's conversation");
        }
    }

    /// A comment made in Jira by a person becomes a timeline entry credited to its author (a user
    /// found or made from their Jira account; Jira's own user when the account shares no e-mail
    /// address).
    fn apply_comment(&self, id: i64, key: &str, body: &Value) -> Result<(), JobError> {
        let account = body.pointer("/comment/author/accountId").and_then(Value::as_str).unwrap_or_default();
        let by_service = !account.is_empty() && account == self.config.service_account;
        if by_service || body["webhookEvent"].as_str() != Some("comment_created") {
            return Ok(());
        }
        let author = body.pointer("/comment/author/displayName").and_then(Value::as_str).unwrap_or("someone");
        let text: String = body
            .pointer("/comment/body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(4000)
            .collect();
        if text.trim().is_empty() {
            return Ok(());
        }
        let user = if account.is_empty() { None } else { self.user_for(account)? };
        let (actor, message) = match user {
            Some(user) => (
                Actor { user, entry_point: EntryPoint::Jira },
                format!("Commented on {key}: {}", crate::wiki::from_wiki(&text)),
            ),
            None => (
                self.jira_actor()?,
                format!("{author} commented on {key}: {}", crate::wiki::from_wiki(&text)),
            ),
        };
        let command = UpdateIncident {
            message: Some(message),
            event_type: Some("jira_comment".into()),
            ..UpdateIncident::default()
        };
        match self.context.lifecycle.update(actor, IncidentId(id), &command) {
            Ok(_) => Ok(()),
            Err(LifecycleError::Storage(error)) => Err(storage(error)),
            Err(error) => Err(JobError::Permanent(error.to_string())),
        }
    }

    /// `raid.comment`: a timeline message marked for Jira, posted on the ticket once (a retried job
    /// looks for its marker among the issue's comments first).
    ///
    /// # Errors
    /// No ticket yet, Jira or the database failed (retried).
    pub fn post_comment(&self, job: &PostComment) -> Result<(), JobError> {
        let ticket = self.store.ticket(job.incident_id).map_err(storage)?;
        let Some((issue_id, _)) = ticket.as_ref().and_then(Ticket::issue) else {
            if ticket.is_none() && !self.store.creation_pending(job.incident_id).map_err(storage)? {
                return Ok(());
            }
            return Err(JobError::Retryable("the incident's ticket is not created yet".into()));
        };
        let marker = format!(
            "ff-{}",
            job.event_id.chars().filter(char::is_ascii_alphanumeric).take(32).collect::<String>()
        );
        if self.client.comments(issue_id).map_err(jira)?.iter().any(|c| c.contains(&marker)) {
            return Ok(());
        }
        let author = match job.author.as_deref() {
            Some(id) => self.store.user_name(id).map_err(storage)?.unwrap_or_else(|| "Someone".to_owned()),
            None => "Someone".to_owned(),
        };
        let body = format!(
            "{}\n\n_{author}, on FireFighter incident #{}_ {{color:#97a0af}}{marker}{{color}}",
            crate::mapping::DescriptionMap.to_external(&job.message).unwrap_or_default(),
            job.incident_id
        );
        self.client.comment(issue_id, &body).map_err(jira)
    }
}
