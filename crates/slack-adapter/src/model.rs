//! What Slack answers, as far as the product reads it. Unknown fields are ignored; missing optional
//! ones take their defaults, so a field Slack adds or drops does not break a call.

use serde::Deserialize;
use serde_json::Value;

/// `auth.test`: the workspace and the bot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthTest {
    /// The workspace URL (`https://acme.slack.com/`).
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub team_id: String,
    /// The bot user's handle.
    #[serde(default)]
    pub user: String,
    /// The bot user's id (`U…`): excluded from invites; the creator of the channels we make.
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub bot_id: String,
}

/// A conversation (channel) as Slack describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Channel {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_private: bool,
    #[serde(default)]
    pub is_archived: bool,
    /// The user who created it.
    #[serde(default)]
    pub creator: String,
    #[serde(default)]
    pub is_channel: bool,
    #[serde(default)]
    pub is_group: bool,
    #[serde(default)]
    pub is_im: bool,
    #[serde(default)]
    pub is_mpim: bool,
}

impl Channel {
    /// The stored kind: `public`, `private`, `im`, `mpim` or `unknown`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        if self.is_im {
            "im"
        } else if self.is_mpim {
            "mpim"
        } else if self.is_private {
            "private"
        } else if self.is_channel || !self.id.is_empty() {
            "public"
        } else {
            "unknown"
        }
    }
}

/// A message of `conversations.history`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HistoryMessage {
    pub ts: String,
    #[serde(default)]
    pub text: String,
    /// Its author.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub metadata: Option<MessageMetadata>,
}

/// Message metadata (`event_type`, `event_payload`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageMetadata {
    pub event_type: String,
    #[serde(default)]
    pub event_payload: Value,
}

/// A page of `conversations.history`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub messages: Vec<HistoryMessage>,
    pub next_cursor: Option<String>,
}

/// A Slack user's profile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub image_512: Option<String>,
    #[serde(default)]
    pub image_192: Option<String>,
}

/// `users.info`, `users.lookupByEmail`, `users.list` members.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SlackUserInfo {
    pub id: String,
    /// The handle.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub is_restricted: bool,
    #[serde(default)]
    pub is_ultra_restricted: bool,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub profile: Profile,
}

/// `usergroups.list` with `include_users`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserGroup {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub users: Vec<String>,
}
