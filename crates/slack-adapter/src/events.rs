//! Events API events, as jobs: channel renames, archives and id changes keep our records in step;
//! the system message Slack posts when the bot sets a topic is deleted (it clutters the channel).

use std::sync::Arc;

use jobs::JobError;
use serde_json::Value;

use crate::channel::BotIdentity;
use crate::client::SlackClient;
use crate::inbound::SlackEventJob;
use crate::store::SlackStore;

/// Runs [`SlackEventJob`]s.
#[derive(Debug, Clone)]
pub struct EventWorker {
    pub slack: Arc<SlackClient>,
    pub bot: Arc<BotIdentity>,
    pub store: SlackStore,
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
        let storage =
            |error: incidents_core::RepositoryError| JobError::Retryable(format!("storage: {error}"));
        let slack = |error: crate::client::SlackError| {
            if error.is_retryable() {
                JobError::Retryable(error.to_string())
            } else {
                JobError::Permanent(error.to_string())
            }
        };
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
            other => tracing::debug!(event = other, "Slack event without a handler"),
        }
        Ok(())
    }
}
