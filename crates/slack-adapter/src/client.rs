//! The Slack Web API client: one blocking client over the workspace's reqwest, used from job threads.
//!
//! Every call goes through [`SlackClient::call`], which paces calls per method by Slack's rate-limit
//! tiers, waits `Retry-After` on a 429 and tries again, and retries transient failures (a timeout,
//! a 5xx, Slack's own `internal_error`) a few times. What is left is a [`SlackError`] carrying Slack's
//! error code, which jobs turn into a retry or a dead job.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use platform::Secret;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::{AuthTest, Channel, HistoryPage, SlackUserInfo, UserGroup};

/// Why a Slack call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `ok: false` with this error code (`name_taken`, `channel_not_found`, …).
    #[error("Slack refused {method}: {code}")]
    Api { method: &'static str, code: String },
    /// Slack asked to wait longer than a call waits by itself.
    #[error("Slack rate-limits {method}; retry after {retry_after:?}")]
    RateLimited { method: &'static str, retry_after: Duration },
    /// No answer, or an HTTP error status.
    #[error("Slack is unreachable for {method}: {message}")]
    Transport { method: &'static str, message: String },
    /// An answer this client cannot read.
    #[error("unexpected answer from Slack to {method}: {message}")]
    Decode { method: &'static str, message: String },
}

/// Slack error codes that say "try again later".
const TRANSIENT_CODES: &[&str] =
    &["internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"];

impl SlackError {
    /// Slack's error code, for an `ok: false` answer.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether Slack answered this code.
    #[must_use]
    pub fn is(&self, code: &str) -> bool {
        self.code() == Some(code)
    }

    /// Whether trying again later may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Transport { .. } => true,
            Self::Api { code, .. } => TRANSIENT_CODES.contains(&code.as_str()),
            Self::Decode { .. } => false,
        }
    }
}

/// Slack's rate-limit tiers: calls per minute per method (per workspace).
fn per_minute(method: &str) -> usize {
    match method {
        "conversations.create"
        | "conversations.setTopic"
        | "conversations.rename"
        | "conversations.archive"
        | "conversations.unarchive"
        | "conversations.list"
        | "pins.add"
        | "bookmarks.add"
        | "users.list"
        | "usergroups.list" => 20,
        "users.info"
        | "conversations.members"
        | "chat.postEphemeral"
        | "views.open"
        | "views.push"
        | "views.update"
        | "views.publish"
        | "auth.test" => 100,
        // "About one per second per channel", with bursts, and no workspace-wide tier: what
        // Slack refuses is answered with 429 and its Retry-After. Paced only against runaway loops.
        "chat.postMessage" => 600,
        // Tier 3 elsewhere.
        _ => 50,
    }
}

/// Settings of a [`SlackClient`].
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `SLACK_API_URL`, ending with `/` (`https://slack.com/api/`).
    pub api_url: url::Url,
    /// `SLACK_BOT_TOKEN`.
    pub token: Secret,
    /// How long one HTTP request may take.
    pub timeout: Duration,
    /// The longest `Retry-After` a call waits out itself; longer, it returns
    /// [`SlackError::RateLimited`] for the job to be retried later.
    pub max_wait: Duration,
    /// Attempts for a transient failure, the first included.
    pub attempts: u32,
}

impl ClientSettings {
    /// Defaults for `token` at `api_url`.
    #[must_use]
    pub fn new(api_url: url::Url, token: Secret) -> Self {
        Self {
            api_url,
            token,
            timeout: Duration::from_secs(10),
            max_wait: Duration::from_secs(30),
            attempts: 3,
        }
    }
}

/// The Slack Web API, as the bot.
#[derive(Debug)]
pub struct SlackClient {
    /// Made on first use, on the thread that calls (a blocking client must not be made or used on
    /// an async runtime's threads, where the application is assembled).
    http: OnceLock<reqwest::blocking::Client>,
    settings: ClientSettings,
    /// When each method was last called, within the last minute.
    recent: Mutex<HashMap<&'static str, VecDeque<Instant>>>,
}

impl SlackClient {
    /// A client with these settings.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS backend).
    pub fn new(settings: ClientSettings) -> Result<Self, SlackError> {
        Ok(Self { http: OnceLock::new(), settings, recent: Mutex::default() })
    }

    fn http(&self, method: &'static str) -> Result<&reqwest::blocking::Client, SlackError> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(self.settings.timeout)
            .user_agent(concat!("firefighter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| SlackError::Transport { method, message: error.to_string() })?;
        Ok(self.http.get_or_init(|| http))
    }

    /// Calls `method` with form `arguments` (structured values JSON-encoded, as Slack accepts them
    /// for every method) and returns Slack's answer when `ok` is true.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn call(&self, method: &'static str, arguments: &[(&str, String)]) -> Result<Value, SlackError> {
        let url = self
            .settings
            .api_url
            .join(method)
            .map_err(|error| SlackError::Transport { method, message: error.to_string() })?;
        let mut transient_failures = 0;
        let mut waited = Duration::ZERO;
        loop {
            self.pace(method);
            let outcome = self.once(method, url.clone(), arguments);
            match outcome {
                Ok(value) => return Ok(value),
                Err(SlackError::RateLimited { retry_after, .. })
                    if waited + retry_after <= self.settings.max_wait =>
                {
                    tracing::info!(method, ?retry_after, "Slack rate limit: waiting as asked");
                    std::thread::sleep(retry_after);
                    waited += retry_after;
                }
                Err(error @ SlackError::RateLimited { .. }) => return Err(error),
                Err(error) if error.is_retryable() && transient_failures + 1 < self.settings.attempts => {
                    transient_failures += 1;
                    tracing::warn!(method, %error, attempt = transient_failures, "Slack call failed; retrying");
                    std::thread::sleep(Duration::from_millis(200 * 2u64.pow(transient_failures)));
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn once(
        &self,
        method: &'static str,
        url: url::Url,
        arguments: &[(&str, String)],
    ) -> Result<Value, SlackError> {
        let response = self
            .http(method)?
            .post(url)
            .bearer_auth(self.settings.token.expose())
            .form(arguments)
            .send()
            .map_err(|error| SlackError::Transport { method, message: without_url(&error) })?;
        let status = response.status();
        if status.as_u16() == 429 {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .unwrap_or(1);
            return Err(SlackError::RateLimited { method, retry_after: Duration::from_secs(retry_after) });
        }
        if !status.is_success() {
            return Err(SlackError::Transport { method, message: format!("HTTP {}", status.as_u16()) });
        }
        let body: Value =
            response.json().map_err(|error| SlackError::Decode { method, message: without_url(&error) })?;
        if body.get("ok").and_then(Value::as_bool) == Some(true) {
            Ok(body)
        } else {
            let code = body.get("error").and_then(Value::as_str).unwrap_or("unknown_error").to_owned();
            Err(SlackError::Api { method, code })
        }
    }

    /// Waits until calling `method` keeps within its tier's calls per minute.
    fn pace(&self, method: &'static str) {
        let limit = per_minute(method);
        let wait = {
            let Ok(mut recent) = self.recent.lock() else { return };
            let calls = recent.entry(method).or_default();
            let now = Instant::now();
            while calls.front().is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(60)) {
                calls.pop_front();
            }
            let wait = if calls.len() >= limit {
                calls.front().map_or(Duration::ZERO, |oldest| {
                    Duration::from_secs(60).saturating_sub(now.duration_since(*oldest))
                })
            } else {
                Duration::ZERO
            };
            calls.push_back(now + wait);
            wait
        };
        if !wait.is_zero() {
            tracing::debug!(method, ?wait, "pacing Slack calls to the method's tier");
            std::thread::sleep(wait);
        }
    }

    fn typed<T: DeserializeOwned>(method: &'static str, value: &Value, field: &str) -> Result<T, SlackError> {
        serde_json::from_value(value.get(field).cloned().unwrap_or(Value::Null))
            .map_err(|error| SlackError::Decode { method, message: format!("{field}: {error}") })
    }

    /// `auth.test`: who the bot is.
    ///
    /// # Errors
    /// See [`SlackError`]; `invalid_auth` for a wrong token.
    pub fn auth_test(&self) -> Result<AuthTest, SlackError> {
        let value = self.call("auth.test", &[])?;
        serde_json::from_value(value)
            .map_err(|error| SlackError::Decode { method: "auth.test", message: error.to_string() })
    }

    /// `conversations.create`.
    ///
    /// # Errors
    /// See [`SlackError`]; `name_taken` when a channel has the name.
    pub fn create_conversation(&self, name: &str, private: bool) -> Result<Channel, SlackError> {
        let value = self.call(
            "conversations.create",
            &[("name", name.to_owned()), ("is_private", private.to_string())],
        )?;
        Self::typed("conversations.create", &value, "channel")
    }

    /// `conversations.info`.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn conversation_info(&self, channel: &str) -> Result<Channel, SlackError> {
        let value = self.call("conversations.info", &[("channel", channel.to_owned())])?;
        Self::typed("conversations.info", &value, "channel")
    }

    /// `conversations.list`, every page: public and private channels, archived ones included.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn list_conversations(&self) -> Result<Vec<Channel>, SlackError> {
        let mut channels = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut arguments = vec![
                ("types", "public_channel,private_channel".to_owned()),
                ("exclude_archived", "false".to_owned()),
                ("limit", "1000".to_owned()),
            ];
            if !cursor.is_empty() {
                arguments.push(("cursor", cursor.clone()));
            }
            let value = self.call("conversations.list", &arguments)?;
            channels.extend(Self::typed::<Vec<Channel>>("conversations.list", &value, "channels")?);
            cursor = next_cursor(&value);
            if cursor.is_empty() {
                return Ok(channels);
            }
        }
    }

    /// `conversations.open` of the direct conversation with a user: its id (`D…`).
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn open_direct(&self, user: &str) -> Result<String, SlackError> {
        let value = self.call("conversations.open", &[("users", user.to_owned())])?;
        value.pointer("/channel/id").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
            SlackError::Decode { method: "conversations.open", message: "no channel id".into() }
        })
    }

    /// `conversations.join`.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn join(&self, channel: &str) -> Result<(), SlackError> {
        self.call("conversations.join", &[("channel", channel.to_owned())]).map(drop)
    }

    /// `conversations.setTopic`.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn set_topic(&self, channel: &str, topic: &str) -> Result<(), SlackError> {
        self.call("conversations.setTopic", &[("channel", channel.to_owned()), ("topic", topic.to_owned())])
            .map(drop)
    }

    /// `conversations.invite` of several users at once.
    ///
    /// # Errors
    /// See [`SlackError`]; `already_in_channel` when every user is a member.
    pub fn invite(&self, channel: &str, users: &[String]) -> Result<(), SlackError> {
        self.call("conversations.invite", &[("channel", channel.to_owned()), ("users", users.join(","))])
            .map(drop)
    }

    /// `conversations.rename`; returns the channel as renamed.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn rename(&self, channel: &str, name: &str) -> Result<Channel, SlackError> {
        let value =
            self.call("conversations.rename", &[("channel", channel.to_owned()), ("name", name.to_owned())])?;
        Self::typed("conversations.rename", &value, "channel")
    }

    /// `conversations.archive`.
    ///
    /// # Errors
    /// See [`SlackError`]; `already_archived`.
    pub fn archive(&self, channel: &str) -> Result<(), SlackError> {
        self.call("conversations.archive", &[("channel", channel.to_owned())]).map(drop)
    }

    /// `conversations.unarchive`.
    ///
    /// # Errors
    /// See [`SlackError`]; `not_archived`.
    pub fn unarchive(&self, channel: &str) -> Result<(), SlackError> {
        self.call("conversations.unarchive", &[("channel", channel.to_owned())]).map(drop)
    }

    /// `conversations.history`, newest first, with message metadata.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn history(
        &self,
        channel: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, SlackError> {
        let mut arguments = vec![
            ("channel", channel.to_owned()),
            ("limit", limit.to_string()),
            ("include_all_metadata", "true".to_owned()),
        ];
        if let Some(cursor) = cursor {
            arguments.push(("cursor", cursor.to_owned()));
        }
        let value = self.call("conversations.history", &arguments)?;
        Ok(HistoryPage {
            messages: Self::typed("conversations.history", &value, "messages")?,
            next_cursor: Some(next_cursor(&value)).filter(|cursor| !cursor.is_empty()),
        })
    }

    /// The message at `ts` in a channel (`conversations.history` from `ts`, inclusive, one message).
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn message_at(
        &self,
        channel: &str,
        ts: &str,
    ) -> Result<Option<crate::model::HistoryMessage>, SlackError> {
        let value = self.call(
            "conversations.history",
            &[
                ("channel", channel.to_owned()),
                ("oldest", ts.to_owned()),
                ("latest", ts.to_owned()),
                ("inclusive", "true".to_owned()),
                ("limit", "1".to_owned()),
            ],
        )?;
        let messages: Vec<crate::model::HistoryMessage> =
            Self::typed("conversations.history", &value, "messages")?;
        Ok(messages.into_iter().find(|message| message.ts == ts))
    }

    /// `conversations.members`, every page.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn members(&self, channel: &str) -> Result<Vec<String>, SlackError> {
        let mut members = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut arguments = vec![("channel", channel.to_owned()), ("limit", "1000".to_owned())];
            if !cursor.is_empty() {
                arguments.push(("cursor", cursor.clone()));
            }
            let value = self.call("conversations.members", &arguments)?;
            members.extend(Self::typed::<Vec<String>>("conversations.members", &value, "members")?);
            cursor = next_cursor(&value);
            if cursor.is_empty() {
                return Ok(members);
            }
        }
    }

    /// `chat.postMessage`; returns the message's `ts`.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn post_message(&self, channel: &str, message: &OutgoingMessage) -> Result<String, SlackError> {
        let mut arguments = message.arguments();
        arguments.push(("channel", channel.to_owned()));
        let value = self.call("chat.postMessage", &arguments)?;
        Self::typed("chat.postMessage", &value, "ts")
    }

    /// `chat.update`.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn update_message(
        &self,
        channel: &str,
        ts: &str,
        message: &OutgoingMessage,
    ) -> Result<(), SlackError> {
        let mut arguments = message.arguments();
        arguments.push(("channel", channel.to_owned()));
        arguments.push(("ts", ts.to_owned()));
        self.call("chat.update", &arguments).map(drop)
    }

    /// `chat.delete`.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn delete_message(&self, channel: &str, ts: &str) -> Result<(), SlackError> {
        self.call("chat.delete", &[("channel", channel.to_owned()), ("ts", ts.to_owned())]).map(drop)
    }

    /// `chat.postEphemeral`.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        message: &OutgoingMessage,
    ) -> Result<(), SlackError> {
        let mut arguments = message.arguments();
        arguments.push(("channel", channel.to_owned()));
        arguments.push(("user", user.to_owned()));
        self.call("chat.postEphemeral", &arguments).map(drop)
    }

    /// `pins.add`.
    ///
    /// # Errors
    /// See [`SlackError`]; `already_pinned`.
    pub fn pin(&self, channel: &str, ts: &str) -> Result<(), SlackError> {
        self.call("pins.add", &[("channel", channel.to_owned()), ("timestamp", ts.to_owned())]).map(drop)
    }

    /// `bookmarks.list`: the titles and links of a channel's bookmarks.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn bookmarks(&self, channel: &str) -> Result<Vec<(String, String)>, SlackError> {
        let value = self.call("bookmarks.list", &[("channel_id", channel.to_owned())])?;
        let bookmarks = value.get("bookmarks").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(bookmarks
            .iter()
            .map(|bookmark| {
                let field =
                    |name: &str| bookmark.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
                (field("title"), field("link"))
            })
            .collect())
    }

    /// `bookmarks.add` of a link.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn add_bookmark(
        &self,
        channel: &str,
        title: &str,
        link: &str,
        emoji: &str,
    ) -> Result<(), SlackError> {
        self.call(
            "bookmarks.add",
            &[
                ("channel_id", channel.to_owned()),
                ("title", title.to_owned()),
                ("type", "link".to_owned()),
                ("link", link.to_owned()),
                ("emoji", emoji.to_owned()),
            ],
        )
        .map(drop)
    }

    /// `users.info`.
    ///
    /// # Errors
    /// See [`SlackError`]; `user_not_found`.
    pub fn user_info(&self, user: &str) -> Result<SlackUserInfo, SlackError> {
        let value = self.call("users.info", &[("user", user.to_owned())])?;
        Self::typed("users.info", &value, "user")
    }

    /// `users.lookupByEmail`.
    ///
    /// # Errors
    /// See [`SlackError`]; `users_not_found`.
    pub fn user_by_email(&self, email: &str) -> Result<SlackUserInfo, SlackError> {
        let value = self.call("users.lookupByEmail", &[("email", email.to_owned())])?;
        Self::typed("users.lookupByEmail", &value, "user")
    }

    /// `users.list`, every page.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn users(&self) -> Result<Vec<SlackUserInfo>, SlackError> {
        let mut users = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut arguments = vec![("limit", "200".to_owned())];
            if !cursor.is_empty() {
                arguments.push(("cursor", cursor.clone()));
            }
            let value = self.call("users.list", &arguments)?;
            users.extend(Self::typed::<Vec<SlackUserInfo>>("users.list", &value, "members")?);
            cursor = next_cursor(&value);
            if cursor.is_empty() {
                return Ok(users);
            }
        }
    }

    /// `usergroups.list` with members.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn user_groups(&self) -> Result<Vec<UserGroup>, SlackError> {
        let value = self.call("usergroups.list", &[("include_users", "true".to_owned())])?;
        Self::typed("usergroups.list", &value, "usergroups")
    }

    /// `views.open`, `views.push`, `views.update` or `views.publish` with these arguments.
    ///
    /// # Errors
    /// See [`SlackError`].
    pub fn view(&self, method: &'static str, arguments: &[(&str, String)]) -> Result<Value, SlackError> {
        self.call(method, arguments)
    }
}

/// A message to post or update: fallback text, Block Kit blocks, and metadata naming the incident
/// and the message kind, so that a retried job finds it again.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutgoingMessage {
    pub text: String,
    pub blocks: Option<Value>,
    /// `(event_type, event_payload)`.
    pub metadata: Option<(String, Value)>,
}

impl OutgoingMessage {
    fn arguments(&self) -> Vec<(&'static str, String)> {
        let mut arguments = vec![("text", self.text.clone()), ("unfurl_links", "false".to_owned())];
        if let Some(blocks) = &self.blocks {
            arguments.push(("blocks", blocks.to_string()));
        }
        if let Some((event_type, payload)) = &self.metadata {
            arguments.push((
                "metadata",
                serde_json::json!({"event_type": event_type, "event_payload": payload}).to_string(),
            ));
        }
        arguments
    }
}

fn next_cursor(value: &Value) -> String {
    value.pointer("/response_metadata/next_cursor").and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// A reqwest error without its URL (which is harmless, but keeps logs short).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_error_codes_split_into_retry_and_give_up() {
        let api = |code: &str| SlackError::Api { method: "chat.postMessage", code: code.into() };
        assert!(api("internal_error").is_retryable());
        assert!(!api("channel_not_found").is_retryable());
        assert!(api("name_taken").is("name_taken"));
        assert!(SlackError::RateLimited { method: "x", retry_after: Duration::from_secs(3) }.is_retryable());
        assert!(!SlackError::Decode { method: "x", message: "bad".into() }.is_retryable());
    }

    #[test]
    fn messages_carry_blocks_and_metadata_as_json_fields() {
        let message = OutgoingMessage {
            text: "hello".into(),
            blocks: Some(serde_json::json!([{"type": "divider"}])),
            metadata: Some(("ff_incident_declared".into(), serde_json::json!({"incident_id": 4}))),
        };
        let arguments: HashMap<_, _> = message.arguments().into_iter().collect();
        assert_eq!(arguments["blocks"], r#"[{"type":"divider"}]"#);
        assert_eq!(
            serde_json::from_str::<Value>(&arguments["metadata"]).ok(),
            Some(
                serde_json::json!({"event_type": "ff_incident_declared", "event_payload": {"incident_id": 4}})
            )
        );
        assert_eq!(arguments["unfurl_links"], "false");
    }
}
