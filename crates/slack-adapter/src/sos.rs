//! SOS (firefighter-slack.md §7.13, §13.6): where responders ask for help from an incident. A target
//! is a conversation the product knows and, optionally, a user group mentioned there (everyone present
//! with `@here` without one). Operators manage targets through the API and the CLI; the SOS modal
//! lists them and a job posts the request.
//!
//! The original mentioned a group as plain `@handle`, which notifies nobody: the message mentions it
//! as Slack does (`<!subteam^ID>`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::incident::UpdateIncident;
use incidents_core::query::{IncidentQueries as _, IncidentView};
use incidents_core::{Actor, EntryPoint, IncidentId, LifecycleError, RepositoryError, UserId};
use jobs::JobError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use storage::repository_error;

use crate::channel::ChannelWorker;
use crate::client::OutgoingMessage;
use crate::messages::escape;
use crate::schema::{slack_conversations, slack_sos, slack_user_groups};
use crate::store::{SlackStore, TxError};

/// The longest name of a target.
pub const NAME_MAX_CHARS: usize = 255;

/// A place to ask for help.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SosTarget {
    pub id: i64,
    pub name: String,
    pub channel_id: String,
    pub channel_name: String,
    /// The user group mentioned (Slack's `S…` id) and its handle; `@here` without one.
    pub usergroup_id: Option<String>,
    pub handle: Option<String>,
    pub updated_at: NaiveDateTime,
}

impl SosTarget {
    /// How Slack notifies the target's people.
    #[must_use]
    pub fn mention(&self) -> String {
        self.usergroup_id.as_ref().map_or_else(|| "<!here>".to_owned(), |id| format!("<!subteam^{id}>"))
    }

    /// As the modal lists it: `Name  (@handle in #channel)`.
    #[must_use]
    pub fn label(&self) -> String {
        let who = self.handle.as_ref().map_or_else(|| "@here".to_owned(), |handle| format!("@{handle}"));
        format!("{}  ({who} in #{})", self.name, self.channel_name)
    }
}

/// Why a target was refused.
#[derive(Debug, thiserror::Error)]
pub enum SosError {
    #[error("name: {0}")]
    Name(String),
    #[error(
        "channel_id: the conversation {0} is not known: add it first (PUT /api/v2/firefighter/slack/conversations/{0}, or `firefighter-server slack tag`)"
    )]
    UnknownConversation(String),
    #[error(
        "usergroup_id: the user group {0} is not known: add it first (PUT /api/v2/firefighter/slack/user-groups/{0}, or `firefighter-server slack group`)"
    )]
    UnknownUserGroup(String),
    #[error(transparent)]
    Storage(#[from] RepositoryError),
}

type Row = (i64, String, String, String, Option<String>, Option<String>, NaiveDateTime);

fn target((id, name, channel_id, channel_name, usergroup_id, handle, updated_at): Row) -> SosTarget {
    SosTarget { id, name, channel_id, channel_name, usergroup_id, handle, updated_at }
}

impl SlackStore {
    /// Every SOS target, by name.
    ///
    /// # Errors
    /// A storage failure.
    pub fn sos_targets(&self) -> Result<Vec<SosTarget>, RepositoryError> {
        self.sos_query(None)
    }

    /// One SOS target.
    ///
    /// # Errors
    /// A storage failure.
    pub fn sos_target(&self, id: i64) -> Result<Option<SosTarget>, RepositoryError> {
        Ok(self.sos_query(Some(id))?.into_iter().next())
    }

    fn sos_query(&self, id: Option<i64>) -> Result<Vec<SosTarget>, RepositoryError> {
        let mut conn = self.database.connection()?;
        let mut query = slack_sos::table
            .inner_join(slack_conversations::table)
            .left_join(slack_user_groups::table)
            .select((
                slack_sos::id,
                slack_sos::name,
                slack_conversations::channel_id,
                slack_conversations::name,
                slack_user_groups::usergroup_id.nullable(),
                slack_user_groups::handle.nullable(),
                slack_sos::updated_at,
            ))
            .order(slack_sos::name.asc())
            .into_boxed();
        if let Some(id) = id {
            query = query.filter(slack_sos::id.eq(id));
        }
        let rows: Vec<Row> = query.load(&mut *conn).map_err(repository_error)?;
        Ok(rows.into_iter().map(target).collect())
    }

    /// Records the target `name` (or changes where it points).
    ///
    /// # Errors
    /// A bad name, an unknown conversation or user group, a storage failure.
    pub fn put_sos(
        &self,
        name: &str,
        channel_id: &str,
        usergroup_id: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<SosTarget, SosError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.contains('\0') {
            return Err(SosError::Name(format!("1 to {NAME_MAX_CHARS} characters")));
        }
        let id = self.database.transaction(|conn| -> Result<Result<i64, SosError>, TxError> {
            let Some(conversation) = slack_conversations::table
                .filter(slack_conversations::channel_id.eq(channel_id))
                .select(slack_conversations::id)
                .first::<i64>(conn)
                .optional()?
            else {
                return Ok(Err(SosError::UnknownConversation(channel_id.to_owned())));
            };
            let group = match usergroup_id {
                None => None,
                Some(usergroup_id) => match slack_user_groups::table
                    .filter(slack_user_groups::usergroup_id.eq(usergroup_id))
                    .select(slack_user_groups::id)
                    .first::<i64>(conn)
                    .optional()?
                {
                    Some(group) => Some(group),
                    None => return Ok(Err(SosError::UnknownUserGroup(usergroup_id.to_owned()))),
                },
            };
            let existing: Option<i64> = slack_sos::table
                .filter(slack_sos::name.eq(name))
                .select(slack_sos::id)
                .first(conn)
                .optional()?;
            let id = match existing {
                Some(id) => {
                    diesel::update(slack_sos::table.find(id))
                        .set((
                            slack_sos::conversation_id.eq(conversation),
                            slack_sos::user_group_id.eq(group),
                            slack_sos::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    id
                }
                None => diesel::insert_into(slack_sos::table)
                    .values((
                        slack_sos::name.eq(name),
                        slack_sos::conversation_id.eq(conversation),
                        slack_sos::user_group_id.eq(group),
                        slack_sos::created_at.eq(now),
                        slack_sos::updated_at.eq(now),
                    ))
                    .returning(slack_sos::id)
                    .get_result(conn)?,
            };
            Ok(Ok(id))
        })??;
        self.sos_target(id)?.ok_or_else(|| SosError::Storage(RepositoryError::NotFound(format!("SOS {id}"))))
    }

    /// Forgets the target `name`; `false` when there is none.
    ///
    /// # Errors
    /// A storage failure.
    pub fn delete_sos(&self, name: &str) -> Result<bool, RepositoryError> {
        let mut conn = self.database.connection()?;
        let deleted = diesel::delete(slack_sos::table.filter(slack_sos::name.eq(name.trim())))
            .execute(&mut *conn)
            .map_err(repository_error)?;
        Ok(deleted > 0)
    }
}

impl From<TxError> for SosError {
    fn from(error: TxError) -> Self {
        Self::Storage(error.into())
    }
}

/// `ff_sos`: the request for help, in the target's conversation.
#[must_use]
pub fn message(
    app_emoji: &str,
    incident: &IncidentView,
    channel: Option<&str>,
    target: &SosTarget,
) -> OutgoingMessage {
    let place = channel.map_or_else(|| format!("#{}", incident.id.0), |channel| format!("<#{channel}>"));
    let text = format!(
        "Hello {}\nIncident responders have asked for help on a *{}* incident in the *{}/{}* domain: *{}*.\nPlease join {place} to help.",
        target.mention(),
        incident.priority.name,
        escape(&incident.category.group.name),
        escape(&incident.category.name),
        escape(&incident.title),
    );
    OutgoingMessage {
        text: format!("We need help on incident #{}: {}", incident.id.0, incident.title),
        blocks: Some(json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("{app_emoji} *We need help on incident {place}*")}},
            {"type": "section", "text": {"type": "mrkdwn", "text": crate::naming::shorten(&text, 3000)}},
        ])),
        metadata: Some(("ff_sos".to_owned(), json!({"ff_type": "ff_sos", "incident_id": incident.id.0}))),
    }
}

/// An SOS chosen in the modal, to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendSosJob {
    /// The submission (view id and hash): sent once.
    pub submission: String,
    pub incident_id: i64,
    pub sos_id: i64,
    /// The person asking (a product user id).
    pub user_id: String,
}

impl jobs::Job for SendSosJob {
    const NAME: &'static str = "slack.send_sos";
    const QUEUE: &'static str = "slack_events";
    fn idempotency_key(&self) -> String {
        format!("slack-sos:{}", self.submission)
    }
}

impl ChannelWorker {
    /// Posts the SOS (once, looked up before it is posted), then records it on the incident's timeline.
    ///
    /// # Errors
    /// Retryable when Slack or the database failed for now; permanent when Slack refuses.
    pub fn send_sos(&self, job: &SendSosJob) -> Result<(), JobError> {
        let retry = |error: RepositoryError| JobError::Retryable(format!("storage: {error}"));
        let Some(incident) = self.database.incident(IncidentId(job.incident_id)).map_err(retry)? else {
            return Ok(());
        };
        let Some(target) = self.store.sos_target(job.sos_id).map_err(retry)? else {
            return Err(JobError::Permanent(format!("SOS target {} no longer exists", job.sos_id)));
        };
        let channel = self.store.channel_of(job.incident_id).map_err(retry)?;
        let message = message(
            &self.settings.app_emoji,
            &incident,
            channel.as_ref().map(|c| c.channel_id.as_str()),
            &target,
        );
        let key = format!("ff_sos:{}", job.submission);
        self.post_once(&incident, &target.channel_id, &key, message, true).map_err(|error| {
            if error.is_retryable() {
                JobError::Retryable(error.to_string())
            } else {
                JobError::Permanent(error.to_string())
            }
        })?;
        let user = job
            .user_id
            .parse()
            .map(UserId)
            .map_err(|_| JobError::Permanent(format!("not a user id: {}", job.user_id)))?;
        let note = UpdateIncident {
            message: Some(format!("Asked for SRE help in #{}", target.channel_name)),
            event_type: Some("send_sos".to_owned()),
            ..UpdateIncident::default()
        };
        match self.lifecycle.update(Actor { user, entry_point: EntryPoint::Slack }, incident.id, &note) {
            Ok(_) | Err(LifecycleError::IncidentNotFound(_)) => Ok(()),
            Err(LifecycleError::Storage(error)) => Err(retry(error)),
            Err(error) => Err(JobError::Permanent(error.to_string())),
        }
    }
}
