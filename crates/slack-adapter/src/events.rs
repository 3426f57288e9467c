//! Events API events, as jobs: channel renames, archives and id changes keep our records in step;
//! the system message Slack posts when the bot sets a topic is deleted (it clutters the channel);
//! people joining and leaving an incident's channel become and stop being its members; a `:mega:`
//! reaction turns a message of an incident's channel into a timeline entry.

use std::sync::Arc;

use incidents_core::incident::UpdateIncident;
use incidents_core::{Actor, EntryPoint, IncidentId, UserId};
use jobs::JobError;
use serde_json::Value;

use crate::channel::BotIdentity;
use crate::client::{OutgoingMessage, SlackClient, SlackError};
use crate::inbound::SlackEventJob;
use crate::store::SlackStore;

/// The kind recorded for a message turned into a timeline entry.
pub const TIMELINE_ENTRY: &str = "ff_timeline_entry";

/// Runs [`SlackEventJob`]s.
#[derive(Clone)]
pub struct EventWorker {
    pub slack: Arc<SlackClient>,
    pub bot: Arc<BotIdentity>,
    pub store: SlackStore,
    pub lifecycle: platform::Lifecycle,
}

impl std::fmt::Debug for EventWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWorker").finish_non_exhaustive()
    }
}

fn slack_failure(error: &SlackError) -> JobError {
    if error.is_retryable() {
        JobError::Retryable(error.to_string())
    } else {
        JobError::Permanent(error.to_string())
    }
}

fn storage_failure(error: impl std::fmt::Display) -> JobError {
    JobError::Retryable(format!("storage: {error}"))
}

impl EventWorker {
    /// Handles one event.
    ///
    /// # Errors
    /// Retryable when Slack or the database failed for now.
    pub fn handle(&self, job: &SlackEventJob) -> Result<(), JobError> {
        let event = &job.event;
        let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
        let now = incidents_core::clock::now();
        let storage = storage_failure;
        let slack = |error: SlackError| slack_failure(&error);
        match text("/type").unwrap_or_default() {
            "channel_archive" | "group_archive" => {
                if let Some(channel) = text("/channel") {
                    self.store.update_conversation(channel, None, Some("archived"), now).map_err(storage)?;
                }
            }
            "channel_unarchive" | "group_unarchive" => {
                if let Some(channel) = text("/channel")
                    && self.store.update_conversation(channel, None, Some("opened"), now).map_err(storage)?
                {
                    match self.slack.join(channel) {
                        Ok(()) => {}
                        Err(error)
                            if error.is("already_in_channel")
                                || error.is("method_not_supported_for_channel_type") => {}
                        Err(error) => return Err(slack(error)),
                    }
                }
            }
            "channel_rename" | "group_rename" => {
                if let (Some(channel), Some(name)) = (text("/channel/id"), text("/channel/name")) {
                    self.store.update_conversation(channel, Some(name), None, now).map_err(storage)?;
                }
            }
            "channel_id_changed" => {
                if let (Some(old), Some(new)) = (text("/old_channel_id"), text("/new_channel_id")) {
                    self.store.change_channel_id(old, new, now).map_err(storage)?;
                }
            }
            "message" => match text("/subtype") {
                Some("channel_topic") => {
                    let bot = self.bot.get(&self.slack).map_err(slack)?;
                    if let (Some(channel), Some(ts)) = (text("/channel"), text("/ts"))
                        && text("/user") == Some(bot.user_id.as_str())
                    {
                        match self.slack.delete_message(channel, ts) {
                            Ok(()) => {}
                            Err(error) if error.is("message_not_found") => {}
                            Err(error) => return Err(slack(error)),
                        }
                    }
                }
                Some("message_deleted") => {
                    if let (Some(channel), Some(ts)) = (text("/channel"), text("/deleted_ts")) {
                        self.store.forget_message(channel, ts).map_err(storage)?;
                    }
                }
                _ => {}
            },
            "member_joined_channel" | "member_left_channel" => {
                let joined = text("/type") == Some("member_joined_channel");
                if let (Some(channel), Some(user)) = (text("/channel"), text("/user")) {
                    self.membership(channel, user, joined)?;
                }
            }
            "reaction_added" => {
                if text("/reaction") == Some("mega")
                    && text("/item/type") == Some("message")
                    && let (Some(channel), Some(ts), Some(reactor)) =
                        (text("/item/channel"), text("/item/ts"), text("/user"))
                {
                    self.timeline_entry(channel, ts, reactor)?;
                }
            }
            other => tracing::debug!(event = other, "Slack event without a handler"),
        }
        Ok(())
    }

    /// The local user of a Slack user: known, or made from `users.info` on first sight (bots and
    /// people without an e-mail address are not users).
    ///
    /// # Errors
    /// Slack or the database failed.
    pub fn resolve_user(&self, slack_id: &str) -> Result<Option<UserId>, JobError> {
        crate::people::resolve_user(&self.slack, &self.store, &self.lifecycle, slack_id).map_err(|error| {
            match error {
                crate::people::ResolveError::Slack(error) => slack_failure(&error),
                crate::people::ResolveError::Storage(error) => storage_failure(error),
            }
        })
    }

    fn membership(&self, channel: &str, slack_user: &str, joined: bool) -> Result<(), JobError> {
        let Some(conversation) = self.store.conversation(channel).map_err(storage_failure)? else {
            return Ok(());
        };
        if let Some(bot) = self.bot.known()
            && bot.user_id == slack_user
        {
            return Ok(());
        }
        if conversation.incident_id.is_none() {
            return self.store.set_member(channel, slack_user, joined).map(drop).map_err(storage_failure);
        }
        let Some(incident) = conversation.incident_id else { return Ok(()) };
        let Some(user) = self.resolve_user(slack_user)? else { return Ok(()) };
        let actor = Actor { user, entry_point: EntryPoint::Slack };
        let changed = if joined {
            self.lifecycle.add_member(actor, IncidentId(incident))
        } else {
            self.lifecycle.remove_member(actor, IncidentId(incident))
        };
        match changed {
            Ok(_) | Err(incidents_core::LifecycleError::IncidentNotFound(_)) => Ok(()),
            Err(error) => Err(storage_failure(error)),
        }
    }

    /// `:mega:` on a message of an incident's channel: the message becomes a timeline entry,
    /// credited to its author (the original credited whoever reacted).
    fn timeline_entry(&self, channel: &str, ts: &str, reactor: &str) -> Result<(), JobError> {
        let Some(conversation) = self.store.conversation(channel).map_err(storage_failure)? else {
            return Ok(());
        };
        let Some(incident) = conversation.incident_id else { return Ok(()) };
        if self.store.has_message(channel, ts).map_err(storage_failure)? {
            let notice = OutgoingMessage {
                text: format!(
                    "<@{reactor}> :x: An Incident Update has already been created from this message!"
                ),
                ..OutgoingMessage::default()
            };
            return match self.slack.post_ephemeral(channel, reactor, &notice) {
                Ok(()) => Ok(()),
                Err(error) if error.is_retryable() => Err(slack_failure(&error)),
                Err(error) => {
                    tracing::info!(%error, "could not tell a user the message is already on the timeline");
                    Ok(())
                }
            };
        }
        let Some(message) = self.slack.message_at(channel, ts).map_err(|e| slack_failure(&e))? else {
            return Ok(());
        };
        let author = message.user.as_deref().unwrap_or(reactor);
        let Some(user) =
            self.resolve_user(author)?.map_or_else(|| self.resolve_user(reactor), |user| Ok(Some(user)))?
        else {
            return Ok(());
        };
        let text: String = message.text.trim().chars().take(10_000).collect();
        if text.is_empty() {
            return Ok(());
        }
        let update = UpdateIncident { message: Some(text), ..UpdateIncident::default() };
        let actor = Actor { user, entry_point: EntryPoint::Slack };
        match self.lifecycle.update(actor, IncidentId(incident), &update) {
            Ok(_) => {}
            Err(incidents_core::LifecycleError::IncidentNotFound(_)) => return Ok(()),
            Err(error @ incidents_core::LifecycleError::Storage(_)) => return Err(storage_failure(error)),
            Err(error) => {
                return Err(JobError::Permanent(format!("the timeline refused the message: {error}")));
            }
        }
        self.store
            .record_message(Some(incident), channel, ts, TIMELINE_ENTRY, incidents_core::clock::now())
            .map_err(storage_failure)
    }
}
