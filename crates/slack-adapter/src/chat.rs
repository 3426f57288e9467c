//! Slack as the product's chat port (`incidents_core::chat::ChatPort`), for integrations that talk to
//! incident channels without knowing Slack (Jira's notifications, private crates).

use std::sync::Arc;

use incidents_core::EntryPoint;
use incidents_core::chat::{ChatError, ChatMessage, ChatPort, Conversation, PostedMessage};
use incidents_core::query::IncidentView;

use crate::channel::BotIdentity;
use crate::client::{OutgoingMessage, SlackClient, SlackError};
use crate::store::SlackStore;

/// The chat port on Slack.
#[derive(Debug, Clone)]
pub struct SlackChat {
    pub slack: Arc<SlackClient>,
    pub bot: Arc<BotIdentity>,
    pub store: SlackStore,
}

fn chat_error(error: SlackError) -> ChatError {
    match error {
        SlackError::RateLimited { retry_after, .. } => ChatError::RateLimited { retry_after },
        SlackError::Transport { .. } => ChatError::Transient(error.to_string()),
        SlackError::Api { ref code, .. }
            if matches!(
                code.as_str(),
                "channel_not_found" | "message_not_found" | "user_not_found" | "users_not_found"
            ) =>
        {
            ChatError::NotFound(error.to_string())
        }
        error if error.is_retryable() => ChatError::Transient(error.to_string()),
        error => ChatError::Permanent(error.to_string()),
    }
}

fn outgoing(message: &ChatMessage) -> OutgoingMessage {
    OutgoingMessage {
        text: message.text.clone(),
        blocks: message.rich.clone(),
        metadata: message.metadata.clone(),
    }
}

fn already(result: Result<(), SlackError>, codes: &[&str]) -> Result<(), ChatError> {
    match result {
        Err(error) if codes.iter().any(|code| error.is(code)) => Ok(()),
        other => other.map_err(chat_error),
    }
}

impl ChatPort for SlackChat {
    fn platform(&self) -> &'static str {
        "slack"
    }

    fn opens_conversation(&self, incident: &IncidentView, entry_point: Option<EntryPoint>) -> bool {
        crate::rules::channel_at_declaration(incident, entry_point)
    }

    fn create_incident_conversation(&self, name: &str, private: bool) -> Result<Conversation, ChatError> {
        match self.slack.create_conversation(name, private) {
            Ok(channel) => Ok(Conversation { id: channel.id, name: channel.name }),
            Err(error) if error.is("name_taken") => {
                let bot = self.bot.get(&self.slack).map_err(chat_error)?.user_id.clone();
                let channels = self.slack.list_conversations().map_err(chat_error)?;
                channels
                    .into_iter()
                    .find(|channel| channel.name == name && channel.creator == bot)
                    .map(|channel| Conversation { id: channel.id, name: channel.name })
                    .ok_or_else(|| chat_error(error))
            }
            Err(error) => Err(chat_error(error)),
        }
    }

    fn invite(&self, conversation_id: &str, user_ids: &[String]) -> Result<(), ChatError> {
        already(self.slack.invite(conversation_id, user_ids), &["already_in_channel"])
    }

    fn post(&self, conversation_id: &str, message: &ChatMessage) -> Result<PostedMessage, ChatError> {
        let ts = self.slack.post_message(conversation_id, &outgoing(message)).map_err(chat_error)?;
        Ok(PostedMessage { conversation_id: conversation_id.to_owned(), message_id: ts })
    }

    fn update(&self, message: &PostedMessage, content: &ChatMessage) -> Result<(), ChatError> {
        self.slack
            .update_message(&message.conversation_id, &message.message_id, &outgoing(content))
            .map_err(chat_error)
    }

    fn pin(&self, message: &PostedMessage) -> Result<(), ChatError> {
        already(self.slack.pin(&message.conversation_id, &message.message_id), &["already_pinned"])
    }

    fn bookmark(&self, conversation_id: &str, title: &str, url: &str) -> Result<(), ChatError> {
        let existing = self.slack.bookmarks(conversation_id).map_err(chat_error)?;
        if existing.iter().any(|(existing, _)| existing == title) {
            return Ok(());
        }
        self.slack.add_bookmark(conversation_id, title, url, "").map_err(chat_error)
    }

    fn set_topic(&self, conversation_id: &str, topic: &str) -> Result<(), ChatError> {
        self.slack.set_topic(conversation_id, topic).map_err(chat_error)
    }

    fn rename(&self, conversation_id: &str, name: &str) -> Result<(), ChatError> {
        self.slack.rename(conversation_id, name).map(drop).map_err(chat_error)
    }

    fn archive(&self, conversation_id: &str) -> Result<(), ChatError> {
        already(self.slack.archive(conversation_id), &["already_archived"])
    }

    fn unarchive(&self, conversation_id: &str) -> Result<(), ChatError> {
        already(self.slack.unarchive(conversation_id), &["not_archived"])
    }

    fn direct_message(&self, user_id: &str, message: &ChatMessage) -> Result<PostedMessage, ChatError> {
        self.post(user_id, message)
    }

    fn post_to_tagged(&self, tag: &str, message: &ChatMessage) -> Result<Vec<PostedMessage>, ChatError> {
        let conversations =
            self.store.tagged(tag).map_err(|error| ChatError::Transient(error.to_string()))?;
        conversations.iter().map(|conversation| self.post(&conversation.channel_id, message)).collect()
    }

    fn user_by_email(&self, email: &str) -> Result<Option<String>, ChatError> {
        match self.slack.user_by_email(email) {
            Ok(user) => Ok(Some(user.id)),
            Err(error) if error.is("users_not_found") => Ok(None),
            Err(error) => Err(chat_error(error)),
        }
    }
}
