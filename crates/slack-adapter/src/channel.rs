//! The incident channel lifecycle, as jobs reacting to the lifecycle's events whatever the entry
//! point: create and set up the channel, follow updates (rename, topic, status messages,
//! announcements), archive on close and unarchive on reopen.
//!
//! **Look before you write.** A job may be killed between a Slack call and recording its result, and
//! then runs again. Every step is written so that running it again repeats no effect:
//! - a channel is recorded as soon as Slack made it; a `name_taken` channel that our bot created is
//!   this incident's (the name carries the incident id) and is adopted instead of a second one;
//! - every message carries metadata with its identity (its kind, and the event or version it is
//!   about); before posting, the job looks for that identity in what it recorded and, unless the
//!   channel was created by this very attempt, in the channel's recent history;
//! - joins, invites, pins, archives and topics are idempotent in Slack (`already_*` answers are
//!   success), bookmarks are looked up by title first.
//!
//! One incident's Slack work never runs twice at once: a job takes the incident's lease first.
//! A step Slack refuses for good does not stop the others; the job then ends dead with every reason,
//! shown on the incident, and an operator's retry runs all steps again (each one looking first).

use std::sync::{Arc, OnceLock};

use incidents_core::events::{IncidentUpdated, RoleChange};
use incidents_core::query::{IncidentQueries, IncidentView, RoleView};
use incidents_core::{DomainEvent, EntryPoint, IncidentId, IncidentStatus, RepositoryError};
use jobs::{Job, JobError, OutboxEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use storage::Database;

use crate::client::{OutgoingMessage, SlackClient, SlackError};
use crate::messages::{self, RoleLine, Style, UpdateSummary, kind};
use crate::model::{AuthTest, Channel};
use crate::naming::{self, MAX_CHANNEL_NAME};
use crate::rules;
use crate::store::{ConversationRow, Failure, SlackStore};

/// The tag of the general incidents channel.
pub const TECH_INCIDENTS: &str = "tech_incidents";
/// The tag of the deployments channel.
pub const IT_DEPLOY: &str = "it_deploy";
/// How long a job holds an incident's lease (longer than any job runs). A holder that crashed is
/// retried under the same token (its event id) and takes its lease back at once; others wait for it.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// The Slack work one outbox event calls for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentChannelJob {
    pub incident_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub entry_point: Option<String>,
    pub actor_user_id: Option<String>,
    pub schema_version: i32,
    pub payload: Value,
}

impl Job for IncidentChannelJob {
    const NAME: &'static str = "slack.incident_channel";
    const QUEUE: &'static str = "slack";
    fn idempotency_key(&self) -> String {
        format!("slack:{}", self.event_id)
    }
}

impl IncidentChannelJob {
    /// The job of an outbox event, when Slack has something to do about it.
    #[must_use]
    pub fn for_event(event: &OutboxEvent) -> Option<Self> {
        let incident_id = event.incident_id?;
        let relevant = matches!(
            event.event_type.as_str(),
            "incident_created"
                | "incident_updated"
                | "incident_closed"
                | "roles_updated"
                | "key_events_updated"
        );
        let costs_only = event.payload.get("changed_fields") == Some(&json!(["costs"]));
        (relevant && !costs_only).then(|| Self {
            incident_id,
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            entry_point: event.entry_point.clone(),
            actor_user_id: event.actor_user_id.clone(),
            schema_version: event.schema_version,
            payload: event.payload.clone(),
        })
    }

    fn event(&self) -> Result<DomainEvent, JobError> {
        DomainEvent::decode(&self.event_type, self.schema_version, &self.payload)
            .map_err(|error| JobError::Permanent(format!("event {} cannot be read: {error}", self.event_id)))
    }
}

/// Who the bot is, learned from `auth.test` once.
#[derive(Debug, Default)]
pub struct BotIdentity {
    known: OnceLock<AuthTest>,
}

impl BotIdentity {
    /// The identity, asking Slack the first time.
    ///
    /// # Errors
    /// `auth.test` failed.
    pub fn get(&self, slack: &SlackClient) -> Result<&AuthTest, SlackError> {
        if let Some(known) = self.known.get() {
            return Ok(known);
        }
        let learned = slack.auth_test()?;
        Ok(self.known.get_or_init(|| learned))
    }

    /// The identity, if already learned.
    #[must_use]
    pub fn known(&self) -> Option<&AuthTest> {
        self.known.get()
    }
}

/// What the channel jobs need besides Slack and the database.
#[derive(Debug, Clone)]
pub struct ChannelSettings {
    pub base_url: String,
    pub app_name: String,
    pub app_emoji: String,
    pub time_zone: chrono_tz::Tz,
    pub emergency_communication_guide_url: Option<String>,
    pub emergency_usergroup_id: Option<String>,
    /// Whether a post-mortem backend is configured (the 5-day reminder is about post-mortems).
    pub postmortems_configured: bool,
    /// `SLACK_POSTMORTEM_HELP_URL`.
    pub postmortem_help_url: Option<String>,
    /// `FF_ROLE_REMINDER_MIN_DAYS_INTERVAL`: -1, no role messages; 0, always; N, not when the person
    /// was told about the same role within N days.
    pub role_reminder_min_days_interval: i64,
}

/// Runs [`IncidentChannelJob`]s.
#[derive(Debug, Clone)]
pub struct ChannelWorker {
    pub slack: Arc<SlackClient>,
    pub bot: Arc<BotIdentity>,
    pub database: Database,
    pub store: SlackStore,
    pub settings: Arc<ChannelSettings>,
    /// For what the workflow says (the key events an incident still misses).
    pub lifecycle: platform::Lifecycle,
}

/// Why a step failed: Slack, or our own database (always worth a retry).
#[derive(Debug)]
pub(crate) enum StepError {
    Slack(SlackError),
    Storage(RepositoryError),
}

impl From<SlackError> for StepError {
    fn from(error: SlackError) -> Self {
        Self::Slack(error)
    }
}

impl From<RepositoryError> for StepError {
    fn from(error: RepositoryError) -> Self {
        Self::Storage(error)
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Slack(error) => error.fmt(f),
            Self::Storage(error) => write!(f, "storage: {error}"),
        }
    }
}

impl StepError {
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Self::Slack(error) => error.is_retryable(),
            Self::Storage(_) => true,
        }
    }
}

/// The outcome of one job's steps: stops at the first retryable failure, collects the permanent ones.
#[derive(Debug, Default)]
struct Steps {
    failures: Vec<(String, String)>,
}

impl Steps {
    /// Runs a step that may fail for good without stopping the others.
    fn run<T>(
        &mut self,
        name: &str,
        step: impl FnOnce() -> Result<T, StepError>,
    ) -> Result<Option<T>, JobError> {
        match step() {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.is_retryable() => Err(JobError::Retryable(format!("{name}: {error}"))),
            Err(error) => {
                tracing::warn!(step = name, %error, "Slack refused a step of an incident's channel");
                self.failures.push((name.to_owned(), error.to_string()));
                Ok(None)
            }
        }
    }
}

fn now() -> chrono::NaiveDateTime {
    incidents_core::clock::now()
}

impl ChannelWorker {
    pub(crate) fn style(&self) -> Style<'_> {
        Style {
            base_url: &self.settings.base_url,
            app_name: &self.settings.app_name,
            app_emoji: &self.settings.app_emoji,
            time_zone: self.settings.time_zone,
        }
    }

    /// Runs one job.
    ///
    /// # Errors
    /// Retryable: Slack or the database failed for now, or another job holds the incident. Permanent:
    /// Slack refused a step for good (recorded on the incident).
    pub fn handle(&self, job: &IncidentChannelJob, attempt: u32) -> Result<(), JobError> {
        let id = job.incident_id;
        let retry = |error: RepositoryError| JobError::Retryable(format!("storage: {error}"));
        let Some(incident) = self.database.incident(IncidentId(id)).map_err(retry)? else {
            return Ok(());
        };
        let token = job.event_id.clone();
        if !self.store.lock_incident(id, &token, now() + LEASE, now()).map_err(retry)? {
            return Err(JobError::Retryable(format!(
                "another job is working on incident #{id}'s Slack channel"
            )));
        }
        let mut steps = Steps::default();
        let outcome = self.run(job, &incident, attempt, &mut steps);
        let recorded = match (&outcome, steps.failures.is_empty()) {
            (Ok(()), true) => self.store.record_failure(id, None),
            (Ok(()), false) => {
                let reason =
                    steps.failures.iter().map(|(step, error)| format!("{step}: {error}")).collect::<Vec<_>>();
                let failure = Failure {
                    step: steps.failures.iter().map(|(step, _)| step.as_str()).collect::<Vec<_>>().join(", "),
                    reason: reason.join("; "),
                    at: now(),
                };
                self.store.record_failure(id, Some(&failure))
            }
            (Err(_), _) => Ok(()),
        };
        if let Err(error) = self.store.unlock_incident(id, &token).and(recorded) {
            tracing::warn!(incident = id, %error, "could not record the Slack work of an incident");
        }
        outcome?;
        if steps.failures.is_empty() {
            Ok(())
        } else {
            let reasons: Vec<String> =
                steps.failures.iter().map(|(step, error)| format!("{step}: {error}")).collect();
            Err(JobError::Permanent(format!("Slack refused: {}", reasons.join("; "))))
        }
    }

    fn run(
        &self,
        job: &IncidentChannelJob,
        incident: &IncidentView,
        attempt: u32,
        steps: &mut Steps,
    ) -> Result<(), JobError> {
        let existing =
            self.store.channel_of(incident.id.0).map_err(|e| JobError::Retryable(e.to_string()))?;
        match job.event()? {
            DomainEvent::IncidentCreated(_) => {
                let entry_point = job.entry_point.as_deref().and_then(EntryPoint::parse);
                if existing.is_some() || rules::channel_at_declaration(incident, entry_point) {
                    self.set_up(incident, existing, attempt, steps)?;
                }
            }
            DomainEvent::IncidentUpdated(update) => match existing {
                Some(channel) => self.follow_update(job, incident, &channel, &update, steps)?,
                None => {
                    // Raised into the critical range: the incident gets its channel now.
                    let was_critical = update.old_priority.as_ref().is_some_and(|old| old.value <= 3);
                    if update.old_priority.is_some() && !was_critical && rules::is_critical(incident) {
                        self.set_up(incident, None, attempt, steps)?;
                    }
                }
            },
            DomainEvent::IncidentClosed(_) => {
                if let Some(channel) = existing {
                    steps.run("archive the channel", || self.archive(&channel))?;
                }
            }
            DomainEvent::RolesUpdated(roles) => {
                if let Some(channel) = existing {
                    self.follow_roles(job, incident, &channel, &roles.changes, steps)?;
                }
            }
            DomainEvent::KeyEventsUpdated(_) => {
                if let Some(channel) = existing
                    && incident.closure_reason.is_none()
                {
                    steps.run("update the key events", || {
                        self.key_events_message(incident, &channel.channel_id, true)
                    })?;
                }
            }
            DomainEvent::CostsUpdated(_) => {}
        }
        Ok(())
    }

    /// Creates (or adopts) the channel and runs every creation step.
    fn set_up(
        &self,
        incident: &IncidentView,
        existing: Option<ConversationRow>,
        attempt: u32,
        steps: &mut Steps,
    ) -> Result<(), JobError> {
        let bot_user = match self.bot.get(&self.slack) {
            Ok(bot) => bot.user_id.clone(),
            Err(error) if error.is_retryable() => {
                return Err(JobError::Retryable(format!("auth.test: {error}")));
            }
            Err(error) => return Err(JobError::Permanent(format!("auth.test: {error}"))),
        };
        let (channel, fresh) = match existing {
            Some(channel) => (channel, false),
            None => match self.create_channel(incident, &bot_user) {
                Ok(created) => created,
                Err(error) if error.is_retryable() => {
                    return Err(JobError::Retryable(format!("create the channel: {error}")));
                }
                Err(error) => {
                    steps.failures.push(("create the channel".into(), error.to_string()));
                    return Ok(());
                }
            },
        };
        // A retry (or an adopted channel) may find what an earlier attempt did.
        let look = !fresh || attempt > 1;
        let id = channel.channel_id.as_str();
        if channel.kind == "public" {
            steps.run("join the channel", || {
                ignore(self.slack.join(id), &["already_in_channel"]).map_err(Into::into)
            })?;
        }
        let topic = naming::topic(
            incident,
            &self.settings.base_url,
            &self.settings.app_name,
            &self.settings.app_emoji,
        );
        steps.run("set the topic", || self.slack.set_topic(id, &topic).map_err(Into::into))?;
        let creator =
            steps.run("find the reporter in Slack", || self.slack_id(&incident.created_by))?.flatten();
        if let Some(creator) = &creator {
            steps.run("invite the reporter", || self.invite(id, std::slice::from_ref(creator), &bot_user))?;
        }
        let declared = messages::declared(&self.style(), incident, creator.as_deref());
        if let Some(ts) = steps
            .run("post the announcement", || self.post_once(incident, id, kind::DECLARED, declared, look))?
        {
            steps.run("pin the announcement", || {
                ignore(self.slack.pin(id, &ts), &["already_pinned"]).map_err(Into::into)
            })?;
        }
        if rules::general_at_declaration(incident) {
            let general = messages::general_declared(&self.style(), incident, id, creator.as_deref());
            steps.run("announce in tech_incidents", || {
                self.post_tagged(incident, TECH_INCIDENTS, kind::GENERAL_DECLARED, &general)
            })?;
        }
        let responders =
            steps.run("find the responders in Slack", || self.responders(incident))?.unwrap_or_default();
        if !responders.is_empty() {
            steps.run("invite the responders", || self.invite(id, &responders, &bot_user))?;
        }
        if rules::deploy_warning(incident) {
            steps.run("warn in it_deploy", || self.replace_deploy_warning(incident, id))?;
        }
        steps.run("bookmark the incident page", || self.bookmark(incident, id, look))?;
        let lines = self.role_lines(incident)?;
        let roles = messages::roles(incident, &lines, true, None);
        steps.run("post the roles", || self.post_once(incident, id, kind::ROLES, roles, look).map(drop))?;
        let holders: Vec<&RoleView> = incident.roles.iter().collect();
        steps.run("tell the role holders", || self.role_messages(incident, &holders, "declared", true))?;
        if rules::com_process(incident) {
            let com = messages::com_process(
                incident,
                self.settings.emergency_communication_guide_url.as_deref(),
                self.settings.emergency_usergroup_id.as_deref(),
            );
            steps.run("post the communication process", || {
                self.post_once(incident, id, kind::COM_PROCESS, com, look).map(drop)
            })?;
        }
        steps.run("post the key events", || self.key_events_message(incident, id, false))?;
        // The home tabs show the incident with its channel now: no outbox event says so (the channel
        // is Slack's own record), so the refresh is asked for here, once per channel.
        let refresh = crate::interact::home::RefreshHomeJob { event_id: format!("channel:{id}") };
        let at = now();
        jobs::Enqueue::new(&refresh)
            .map_err(|error| JobError::Permanent(format!("encode a home refresh: {error}")))
            .and_then(|job| {
                jobs::JobStore::enqueue(&self.database, &job, at, at)
                    .map_err(|error| JobError::Retryable(format!("storage: {error}")))
            })?;
        Ok(())
    }

    /// `conversations.create` under the incident's name; `name_taken` by a channel our bot made is
    /// adopted, by another one gets a suffix; a private channel Slack refuses becomes public.
    fn create_channel(
        &self,
        incident: &IncidentView,
        bot_user: &str,
    ) -> Result<(ConversationRow, bool), StepError> {
        let mut base = naming::channel_name(incident, self.settings.time_zone);
        let mut private = incident.private;
        let mut suffix = 1;
        loop {
            let name = if suffix == 1 {
                base.clone()
            } else {
                let tail = format!("-{suffix}");
                let head: String = base.chars().take(MAX_CHANNEL_NAME - tail.len()).collect();
                format!("{}{tail}", head.trim_end_matches('-'))
            };
            match self.slack.create_conversation(&name, private) {
                Ok(channel) => return Ok((self.record(incident, &channel)?, true)),
                Err(error) if error.is("name_taken") => {
                    let mine = self
                        .slack
                        .list_conversations()?
                        .into_iter()
                        .find(|channel| channel.name == name && channel.creator == bot_user);
                    if let Some(channel) = mine {
                        tracing::info!(incident = incident.id.0, channel = %channel.id, "adopting the channel an earlier attempt made");
                        if channel.is_archived {
                            ignore(self.slack.unarchive(&channel.id), &["not_archived"])?;
                        }
                        return Ok((self.record(incident, &channel)?, false));
                    }
                    if suffix >= 9 {
                        return Err(error.into());
                    }
                    suffix += 1;
                }
                Err(error)
                    if (error.is("invalid_name_specials")
                        || error.is("invalid_name")
                        || error.is("invalid_name_punctuation"))
                        && base != naming::fallback_channel_name(incident, self.settings.time_zone) =>
                {
                    tracing::warn!(incident = incident.id.0, %error, name, "Slack refused the channel name; using the short one");
                    base = naming::fallback_channel_name(incident, self.settings.time_zone);
                    suffix = 1;
                }
                Err(error) if private && !error.is_retryable() => {
                    tracing::warn!(incident = incident.id.0, %error, "a private channel was refused; creating a public one");
                    private = false;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    fn record(&self, incident: &IncidentView, channel: &Channel) -> Result<ConversationRow, RepositoryError> {
        self.store.record_incident_channel(incident.id.0, &channel.id, &channel.name, channel.kind(), now())
    }

    /// Posts `message` once: its identity (`key`) is looked up in what was recorded and, when `look`,
    /// in the channel's recent history, before it is posted. Returns its `ts`.
    pub(crate) fn post_once(
        &self,
        incident: &IncidentView,
        channel: &str,
        key: &str,
        mut message: OutgoingMessage,
        look: bool,
    ) -> Result<String, StepError> {
        if let Some(ts) = self.store.message(incident.id.0, channel, key)? {
            return Ok(ts);
        }
        if look && let Some(ts) = self.find_in_history(channel, incident.id.0, key)? {
            self.store.record_message(Some(incident.id.0), channel, &ts, key, now())?;
            return Ok(ts);
        }
        if let Some((_, payload)) = &mut message.metadata {
            payload["key"] = json!(key);
        }
        let ts = self.slack.post_message(channel, &message)?;
        self.store.record_message(Some(incident.id.0), channel, &ts, key, now())?;
        Ok(ts)
    }

    /// The `ts` of the message with identity `key` about `incident` among the channel's last 200.
    fn find_in_history(&self, channel: &str, incident: i64, key: &str) -> Result<Option<String>, SlackError> {
        let mut cursor: Option<String> = None;
        for _ in 0..2 {
            let page = self.slack.history(channel, 100, cursor.as_deref())?;
            let found = page.messages.iter().find(|message| {
                message.metadata.as_ref().is_some_and(|metadata| {
                    metadata.event_payload.get("key").and_then(Value::as_str) == Some(key)
                        && metadata.event_payload.get("incident_id").and_then(Value::as_i64) == Some(incident)
                })
            });
            if let Some(message) = found {
                return Ok(Some(message.ts.clone()));
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(None)
    }

    /// Posts once in every conversation tagged `tag` (nothing when none is).
    pub(crate) fn post_tagged(
        &self,
        incident: &IncidentView,
        tag: &str,
        key: &str,
        message: &OutgoingMessage,
    ) -> Result<(), StepError> {
        let conversations = self.store.tagged(tag)?;
        if conversations.is_empty() {
            tracing::debug!(tag, "no conversation has this tag: nothing announced");
        }
        for conversation in conversations {
            self.post_once(incident, &conversation.channel_id, key, message.clone(), true)?;
        }
        Ok(())
    }

    /// REPLACE: posts the deploy warning of the incident's current version, then deletes the older ones.
    fn replace_deploy_warning(&self, incident: &IncidentView, channel: &str) -> Result<(), StepError> {
        let message = messages::deploy_warning(&self.style(), incident, channel);
        let prefix = format!("{}@v", kind::deploy_warning(incident.id.0));
        let key = format!("{prefix}{}", incident.version);
        for conversation in self.store.tagged(IT_DEPLOY)? {
            let target = conversation.channel_id.as_str();
            let current = self.post_once(incident, target, &key, message.clone(), true)?;
            for (older_key, ts) in self.store.messages_with_prefix(incident.id.0, target, &prefix)? {
                if ts != current && older_key != key {
                    ignore(self.slack.delete_message(target, &ts), &["message_not_found"])?;
                    self.store.forget_message(target, &ts)?;
                }
            }
        }
        Ok(())
    }

    fn bookmark(&self, incident: &IncidentView, channel: &str, look: bool) -> Result<(), StepError> {
        const TITLE: &str = "Incident Page";
        if look && self.slack.bookmarks(channel)?.iter().any(|(title, _)| title == TITLE) {
            return Ok(());
        }
        let link = format!(
            "{}?utm_medium=FireFighter+Slack&utm_source=Slack+Bookmark&utm_campaign=Bookmark+In+Channel",
            naming::status_page(&self.settings.base_url, incident)
        );
        self.slack.add_bookmark(channel, TITLE, &link, &self.settings.app_emoji).map_err(Into::into)
    }

    /// The Slack id of a local user: recorded, or found by e-mail (and recorded).
    fn slack_id(&self, user: &incidents_core::query::UserView) -> Result<Option<String>, StepError> {
        let user_id = user.id.0.to_string();
        if let Some(known) = self.store.slack_id_of(&user_id)? {
            return Ok(Some(known));
        }
        match self.slack.user_by_email(&user.email) {
            Ok(found) if !found.deleted => {
                self.store.link_user(&user_id, &found.id, Some(&found.name), now())?;
                Ok(Some(found.id))
            }
            Ok(_) => Ok(None),
            Err(error) if error.is("users_not_found") => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The responders to invite (§14.2): the role holders, the members of the conversations and
    /// user groups linked to the incident's category and, for a public P1, the members of the user
    /// groups tagged `invited_for_all_public_p1`.
    fn responders(&self, incident: &IncidentView) -> Result<Vec<String>, StepError> {
        let mut ids = Vec::new();
        for role in &incident.roles {
            if let Some(id) = self.slack_id(&role.user)?
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        let public_p1 = incident.priority.value <= 1 && !incident.private;
        for id in self.store.responders(&incident.category.id, public_p1)? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Invites in one call, then one by one when that fails (a user Slack refuses does not keep
    /// the others out).
    fn invite(&self, channel: &str, users: &[String], bot_user: &str) -> Result<(), StepError> {
        let users: Vec<String> = users.iter().filter(|user| *user != bot_user).cloned().collect();
        if users.is_empty() {
            return Ok(());
        }
        match self.slack.invite(channel, &users) {
            Ok(()) => Ok(()),
            Err(error) if error.is_retryable() => Err(error.into()),
            Err(_) if users.len() == 1 => Ok(()),
            Err(_) => {
                for user in &users {
                    match self.slack.invite(channel, std::slice::from_ref(user)) {
                        Ok(()) => {}
                        Err(error) if error.is_retryable() => return Err(error.into()),
                        Err(error) if error.is("already_in_channel") => {}
                        Err(error) => {
                            tracing::info!(%user, %error, "a user could not be invited to an incident channel");
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn role_lines(&self, incident: &IncidentView) -> Result<Vec<RoleLine>, JobError> {
        incident
            .roles
            .iter()
            .map(|role| {
                let slack_id = self
                    .store
                    .slack_id_of(&role.user.id.0.to_string())
                    .map_err(|e| JobError::Retryable(e.to_string()))?;
                Ok(RoleLine {
                    emoji: String::new(),
                    name: role.name.clone(),
                    holder: Some((role.user.name.clone(), slack_id)),
                })
            })
            .collect()
    }

    fn follow_update(
        &self,
        job: &IncidentChannelJob,
        incident: &IncidentView,
        channel: &ConversationRow,
        update: &IncidentUpdated,
        steps: &mut Steps,
    ) -> Result<(), JobError> {
        let id = channel.channel_id.as_str();
        let changed = |field: &str| update.changed_fields.iter().any(|f| f == field);
        let status_changed = changed("status");
        if status_changed
            && update.old_status == IncidentStatus::Closed.label()
            && incident.status != IncidentStatus::Closed
        {
            steps.run("unarchive the channel", || self.unarchive(channel))?;
        }
        let expected = naming::channel_name(incident, self.settings.time_zone);
        if expected != channel.name {
            steps.run("rename the channel", || {
                let renamed = self.slack.rename(id, &expected)?;
                self.store.update_conversation(id, Some(&renamed.name), None, now())?;
                Ok(())
            })?;
        }
        if changed("priority") || changed("incident_category") || status_changed {
            let topic = naming::topic(
                incident,
                &self.settings.base_url,
                &self.settings.app_name,
                &self.settings.app_emoji,
            );
            steps.run("set the topic", || self.slack.set_topic(id, &topic).map_err(Into::into))?;
        }
        // What this update did, as the event recorded it (the incident may have moved on since).
        let status_after = status_changed.then(|| IncidentStatus::from_label(&update.status).ok()).flatten();
        let summary = UpdateSummary {
            message: update.message.clone(),
            changed: update.changed_fields.clone(),
            status: status_after,
            priority: Some(update.priority.clone()),
            old_priority: update.old_priority.as_ref().map(|old| (old.name.clone(), old.value)),
            by: None,
        };
        let key = format!("{}@{}", kind::STATUS, job.event_id);
        let message = messages::status_update(incident, &summary);
        steps
            .run("post the status update", || self.post_once(incident, id, &key, message, true).map(drop))?;
        if rules::general_on_update(incident, status_after, update.old_priority.as_ref().map(|old| old.value))
        {
            let key = format!("{}@{}", kind::GENERAL_STATUS, job.event_id);
            let message = messages::general_status_update(incident, id, &summary);
            steps.run("announce in tech_incidents", || {
                self.post_tagged(incident, TECH_INCIDENTS, &key, &message)
            })?;
        }
        if rules::deploy_warning(incident) {
            steps.run("warn in it_deploy", || self.replace_deploy_warning(incident, id))?;
        }
        if changed("incident_category") || changed("priority") {
            let bot_user = self.bot.known().map(|bot| bot.user_id.clone()).unwrap_or_default();
            let responders =
                steps.run("find the responders in Slack", || self.responders(incident))?.unwrap_or_default();
            steps.run("invite the responders", || self.invite(id, &responders, &bot_user))?;
        }
        let closing_with_reason = changed("closure_reason");
        if incident.status != IncidentStatus::Closed {
            // Posted once mitigated (if it was not yet), refreshed on every update: what may close changes.
            let post = status_after.is_some_and(|status| status >= IncidentStatus::Mitigated)
                && !closing_with_reason;
            steps.run("ask for the key events", || self.key_events_message(incident, id, !post))?;
        }
        let downgraded = update.old_priority.as_ref().is_some_and(|old| old.value <= 3)
            && changed("priority")
            && incident.priority.value >= 4;
        if downgraded {
            steps.run("hint the commander", || self.downgrade_hint(incident, id))?;
        }
        Ok(())
    }

    /// `ff_incident_key_events_form`: which required key events the incident still misses, posted
    /// once and kept current (UPDATE). With `refresh_only`, nothing is posted where there was none.
    pub(crate) fn key_events_message(
        &self,
        incident: &IncidentView,
        channel: &str,
        refresh_only: bool,
    ) -> Result<(), StepError> {
        let message = crate::interact::keyevents::message(
            &self.database,
            &self.lifecycle,
            incident,
            self.settings.time_zone,
        )
        .map_err(|error| StepError::Storage(RepositoryError::Internal(format!("key events: {error}"))))?;
        let existing = self.store.message(incident.id.0, channel, kind::KEY_EVENTS)?;
        match existing {
            Some(ts) => self.slack.update_message(channel, &ts, &message).map_err(Into::into),
            None if refresh_only => Ok(()),
            None => self.post_once(incident, channel, kind::KEY_EVENTS, message, true).map(drop),
        }
    }

    /// The ephemeral hint to the commander when an incident leaves the critical range.
    fn downgrade_hint(&self, incident: &IncidentView, channel: &str) -> Result<(), StepError> {
        let Some(commander) = incident.roles.iter().find(|role| role.slug == "commander") else {
            return Ok(());
        };
        let Some(slack_id) = self.slack_id(&commander.user)? else { return Ok(()) };
        let hint = messages::downgrade_hint(incident);
        match self.slack.post_ephemeral(channel, &slack_id, &hint) {
            Err(error) if error.is_retryable() => Err(error.into()),
            Err(error) => {
                tracing::info!(%error, "the downgrade hint could not be shown");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }

    /// `ff_role_assigned_to_you`: a direct message to each new role holder, unless they were told
    /// about the same role within `FF_ROLE_REMINDER_MIN_DAYS_INTERVAL` days (the role just given does
    /// not count, unlike the original's throttle, which always matched it).
    fn role_messages(
        &self,
        incident: &IncidentView,
        holders: &[&RoleView],
        event: &str,
        at_declaration: bool,
    ) -> Result<(), StepError> {
        let interval = self.settings.role_reminder_min_days_interval;
        if interval < 0 {
            return Ok(());
        }
        for role in holders {
            let Some(slack_id) = self.slack_id(&role.user)? else { continue };
            // One job at a time tells a person about their roles (two incidents' jobs could both
            // find "not told yet" and both tell).
            let lock = format!("role-message:{slack_id}");
            let token = format!("{}:{event}", incident.id.0);
            if !self.store.lock(&lock, &token, now() + LEASE, now())? {
                return Err(StepError::Storage(RepositoryError::Unavailable(format!(
                    "another job is telling {slack_id} about a role"
                ))));
            }
            let told = self.role_message(incident, role, &slack_id, event, at_declaration, interval);
            self.store.unlock(&lock, &token)?;
            told?;
        }
        Ok(())
    }

    /// Tells one role holder, unless already told (recorded, or found in the direct conversation).
    fn role_message(
        &self,
        incident: &IncidentView,
        role: &RoleView,
        slack_id: &str,
        event: &str,
        at_declaration: bool,
        interval: i64,
    ) -> Result<(), StepError> {
        let prefix = format!("{}:{}@", kind::ROLE_ASSIGNED, role.slug);
        let key = format!("{prefix}{}:{event}", incident.id.0);
        if self.store.has_message_key(slack_id, &key)? {
            return Ok(());
        }
        let since = now() - chrono::Duration::days(interval);
        if interval > 0 && self.store.told_since(slack_id, &prefix, since)? {
            return Ok(());
        }
        let direct = self.slack.open_direct(slack_id)?;
        // Look in the conversation too: a job that died after telling did not record it.
        if interval > 0 && self.told_in(&direct, &prefix, since)? {
            return Ok(());
        }
        let message = messages::role_assigned(&self.style(), incident, role, at_declaration);
        match self.post_once(incident, &direct, &key, message, true) {
            Ok(_) => {
                // Recorded under the person too, for the throttle.
                self.store.record_message(
                    Some(incident.id.0),
                    slack_id,
                    &format!("{key}#sent"),
                    &key,
                    now(),
                )?;
                Ok(())
            }
            Err(StepError::Slack(error)) if !error.is_retryable() => {
                // `messages_tab_disabled` and the like: the person just does not get it.
                tracing::info!(%error, user = %slack_id, "a role message could not be sent");
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Whether the direct conversation holds a message whose identity starts with `prefix`, sent
    /// since `since` (among its last 100).
    fn told_in(&self, direct: &str, prefix: &str, since: chrono::NaiveDateTime) -> Result<bool, SlackError> {
        let page = self.slack.history(direct, 100, None)?;
        Ok(page.messages.iter().any(|message| {
            let sent =
                message.ts.split('.').next().and_then(|secs| secs.parse::<i64>().ok()).unwrap_or_default();
            let recent = chrono::DateTime::from_timestamp(sent, 0).is_some_and(|at| at.naive_utc() >= since);
            recent
                && message.metadata.as_ref().is_some_and(|metadata| {
                    metadata
                        .event_payload
                        .get("key")
                        .and_then(Value::as_str)
                        .is_some_and(|key| key.starts_with(prefix))
                })
        }))
    }

    fn follow_roles(
        &self,
        job: &IncidentChannelJob,
        incident: &IncidentView,
        channel: &ConversationRow,
        changes: &[RoleChange],
        steps: &mut Steps,
    ) -> Result<(), JobError> {
        let id = channel.channel_id.as_str();
        let bot_user = self.bot.known().map(|bot| bot.user_id.clone()).unwrap_or_default();
        let mut lines = Vec::new();
        let mut invitees = Vec::new();
        for change in changes {
            let holder = incident.roles.iter().find(|role| role.slug == change.role);
            let name = holder.map_or_else(|| change.role.clone(), |role| role.name.clone());
            let slack_id = match holder {
                Some(role) => {
                    steps.run("find the role holder in Slack", || self.slack_id(&role.user))?.flatten()
                }
                None => None,
            };
            if let Some(slack_id) = &slack_id {
                invitees.push(slack_id.clone());
            }
            lines.push(RoleLine {
                emoji: String::new(),
                name,
                holder: holder.map(|role| (role.user.name.clone(), slack_id)),
            });
        }
        let key = format!("{}@{}", kind::ROLES, job.event_id);
        let message = messages::roles(incident, &lines, false, None);
        steps.run("post the roles", || self.post_once(incident, id, &key, message, true).map(drop))?;
        if !invitees.is_empty() {
            steps.run("invite the role holders", || self.invite(id, &invitees, &bot_user))?;
        }
        let holders: Vec<&RoleView> = changes
            .iter()
            .filter(|change| change.user_id.is_some())
            .filter_map(|change| incident.roles.iter().find(|role| role.slug == change.role))
            .collect();
        steps
            .run("tell the role holders", || self.role_messages(incident, &holders, &job.event_id, false))?;
        Ok(())
    }

    fn archive(&self, channel: &ConversationRow) -> Result<(), StepError> {
        ignore(self.slack.archive(&channel.channel_id), &["already_archived"])?;
        self.store.update_conversation(&channel.channel_id, None, Some("archived"), now())?;
        Ok(())
    }

    fn unarchive(&self, channel: &ConversationRow) -> Result<(), StepError> {
        ignore(self.slack.unarchive(&channel.channel_id), &["not_archived"])?;
        if channel.kind == "public" {
            ignore(self.slack.join(&channel.channel_id), &["already_in_channel"])?;
        }
        self.store.update_conversation(&channel.channel_id, None, Some("opened"), now())?;
        Ok(())
    }
}

/// `Ok` for the Slack error codes that mean "already done".
fn ignore(result: Result<(), SlackError>, codes: &[&str]) -> Result<(), SlackError> {
    match result {
        Err(error) if codes.iter().any(|code| error.is(code)) => Ok(()),
        other => other,
    }
}
