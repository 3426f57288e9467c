//! The chat port: what the product needs from a chat platform (Slack today) to run an incident in a
//! conversation of its own. Slack implements it; Jira's notifications, the dashboard and private
//! integrations use it without depending on Slack. With no chat platform configured, the composition
//! root installs a no-op that says so in the logs once.
//!
//! Calls are synchronous and made from jobs (never inside a request or a database transaction), so an
//! implementation may block on the network and return [`ChatError::RateLimited`] for the job to be
//! retried after the delay the platform asked for.

use std::time::Duration;

use serde_json::Value;

/// A conversation (a Slack channel): its platform id and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: String,
    pub name: String,
}

/// A posted message: where, and its platform id (Slack's `ts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    pub conversation_id: String,
    pub message_id: String,
}

/// A message to post. `text` is always set (notifications and screen readers use it); `rich` is
/// the platform's own rich layout (Slack Block Kit blocks), built by the adapter that knows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatMessage {
    pub text: String,
    pub rich: Option<Value>,
    /// Machine-readable metadata attached to the message (`event_type`, payload), so a job can find
    /// the message it already posted before posting again.
    pub metadata: Option<(String, Value)>,
}

impl ChatMessage {
    /// A plain-text message.
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), ..Self::default() }
    }
}

/// Why a chat call failed, in terms a job can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The platform asked to slow down: retry after `retry_after`.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// The conversation, message or user does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// Retrying may succeed (a timeout, a 5xx).
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying cannot help (a missing scope, a refused name).
    #[error("{0}")]
    Permanent(String),
    /// No chat platform is configured.
    #[error("no chat platform is configured")]
    NotConfigured,
}

/// The chat platform, as the product uses it for incidents.
pub trait ChatPort: Send + Sync {
    /// The platform's name (`slack`, or `none`).
    fn platform(&self) -> &'static str;

    /// Whether this platform opens a conversation of its own for `incident`, declared through
    /// `entry_point` (Slack: always for a declaration through the API, the web or the CLI; for one
    /// from Slack, Jira or PagerDuty when the response is critical). An integration that links the
    /// conversation waits for it only when one is coming.
    fn opens_conversation(
        &self,
        incident: &crate::query::IncidentView,
        entry_point: Option<crate::EntryPoint>,
    ) -> bool {
        let _ = (incident, entry_point);
        false
    }

    /// Creates the incident's conversation, or returns the one this bot already made under `name`
    /// (look before you write: a job retried after a crash must not make a second one).
    ///
    /// # Errors
    /// See [`ChatError`].
    fn create_incident_conversation(&self, name: &str, private: bool) -> Result<Conversation, ChatError>;
    /// Invites users (platform user ids) to a conversation; already-members are not an error.
    ///
    /// # Errors
    /// See [`ChatError`].
    fn invite(&self, conversation_id: &str, user_ids: &[String]) -> Result<(), ChatError>;
    /// Posts a message.
    ///
    /// # Errors
    /// See [`ChatError`].
    fn post(&self, conversation_id: &str, message: &ChatMessage) -> Result<PostedMessage, ChatError>;
    /// Replaces a posted message.
    ///
    /// # Errors
    /// See [`ChatError`].
    fn update(&self, message: &PostedMessage, content: &ChatMessage) -> Result<(), ChatError>;
    /// Pins a posted message; pinning it again is not an error.
    ///
    /// # Errors
    /// See [`ChatError`].
    fn pin(&self, message: &PostedMessage) -> Result<(), ChatError>;
    /// Adds a link to the conversation's bookmarks (replacing one with the same title).
    ///
    /// # Errors
    /// See [`ChatError`].
    fn bookmark(&self, conversation_id: &str, title: &str, url: &str) -> Result<(), ChatError>;
    /// Sets the conversation's topic.
    ///
    /// # Errors
    /// See [`ChatError`].
    fn set_topic(&self, conversation_id: &str, topic: &str) -> Result<(), ChatError>;
    /// Renames the conversation.
    ///
    /// # Errors
    /// See [`ChatError`].
    fn rename(&self, conversation_id: &str, name: &str) -> Result<(), ChatError>;
    /// Archives the conversation; archiving it again is not an error.
    ///
    /// # Errors
    /// See [`ChatError`].
    fn archive(&self, conversation_id: &str) -> Result<(), ChatError>;
    /// Brings an archived conversation back.
    ///
    /// # Errors
    /// See [`ChatError`].
    fn unarchive(&self, conversation_id: &str) -> Result<(), ChatError>;
    /// Sends a direct message to a user (platform user id).
    ///
    /// # Errors
    /// See [`ChatError`].
    fn direct_message(&self, user_id: &str, message: &ChatMessage) -> Result<PostedMessage, ChatError>;
    /// Posts to every conversation the operators tagged with `tag` (e.g. `tech_incidents`); returns
    /// what was posted (nothing when no conversation has the tag).
    ///
    /// # Errors
    /// See [`ChatError`].
    fn post_to_tagged(&self, tag: &str, message: &ChatMessage) -> Result<Vec<PostedMessage>, ChatError>;
    /// The platform user id of the person with this e-mail address, for a direct message; `None`
    /// when the platform knows nobody by it (or cannot look people up).
    ///
    /// # Errors
    /// See [`ChatError`].
    fn user_by_email(&self, email: &str) -> Result<Option<String>, ChatError> {
        let _ = email;
        Ok(None)
    }
}

impl ChatError {
    /// Whether a job should try again later.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient(_))
    }
}
