//! Watcher messages (firefighter-integrations.md §4.7): a person's change of status or priority
//! (`raid_modify_issue`) or comment (`raid_comment`) on a Jira issue, sent as a direct message to
//! the issue's watchers through the chat port — for every issue, linked to an incident or not (the
//! original's unlinked mode). Never for FireFighter's own changes, never to the person who made the
//! change, never to an address in `RAID_WATCHER_EMAIL_EXCLUSIONS`, and once per delivery and
//! watcher (a retried job skips those already sent).

use incidents_core::chat::ChatMessage;
use jobs::{Job, JobError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::raid::{Raid, jira, storage};

/// One change to tell the watchers of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub from: String,
    pub to: String,
}

/// Tell an issue's watchers about a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyWatchers {
    /// The Jira delivery (its webhook identifier).
    pub delivery: String,
    pub issue_key: String,
    /// `modify`, `comment_created`, `comment_updated` or `comment_deleted`.
    pub kind: String,
    pub author: String,
    pub author_account: String,
    #[serde(default)]
    pub changes: Vec<Change>,
    #[serde(default)]
    pub comment: String,
}

impl Job for NotifyWatchers {
    const NAME: &'static str = "raid.notify_watchers";
    const QUEUE: &'static str = "jira";
    fn idempotency_key(&self) -> String {
        format!("raid-watchers:{}", self.delivery)
    }
}

impl NotifyWatchers {
    /// The message, as the original words it.
    #[must_use]
    pub fn message(&self, url: &str) -> ChatMessage {
        let key = &self.issue_key;
        let (text, fields) = if self.kind == "modify" {
            let mut fields = vec![json!({"type": "mrkdwn", "text": format!("*Author:*\n{}", self.author)})];
            for change in &self.changes {
                fields.push(json!({"type": "mrkdwn", "text": format!("*Field:*\n{}", change.field)}));
                fields.push(json!({"type": "mrkdwn", "text": format!("*From:*\n{}", change.from)}));
                fields.push(json!({"type": "mrkdwn", "text": format!("*To:*\n{}", change.to)}));
            }
            fields.push(json!({"type": "mrkdwn", "text": format!("*URL:*\n<{url}|{key}>")}));
            (format!("Modified Jira ticket {key}"), fields)
        } else {
            let title = match self.kind.as_str() {
                "comment_created" => ":green_book: New comment added",
                "comment_updated" => ":blue_book: Updated comment",
                _ => ":closed_book: Deleted comment",
            };
            let comment: String = self.comment.chars().take(1997).collect();
            (
                format!("{title} on {key}"),
                vec![
                    json!({"type": "mrkdwn", "text": format!("*Author:*\n{}", self.author)}),
                    json!({"type": "mrkdwn", "text": format!("*Comment:*\n{comment}")}),
                    json!({"type": "mrkdwn", "text": format!("*Jira URL:*\n<{url}|{key}>")}),
                ],
            )
        };
        let kind = if self.kind == "modify" { "raid_modify_issue" } else { "raid_comment" };
        ChatMessage {
            text: text.clone(),
            rich: Some(json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "section", "fields": fields},
            ])),
            metadata: Some((kind.into(), json!({"issue_key": key, "delivery": self.delivery}))),
        }
    }
}

/// The watcher message a webhook calls for: a person's status or priority change, or comment.
#[must_use]
pub fn for_webhook(raid: &Raid, identifier: &str, kind: &str, body: &Value) -> Option<NotifyWatchers> {
    let key = body.pointer("/issue/key").and_then(Value::as_str)?.to_owned();
    if kind == "comment" {
        let event = body["webhookEvent"].as_str()?;
        let account = body.pointer("/comment/author/accountId").and_then(Value::as_str).unwrap_or_default();
        if account == raid.config.service_account {
            return None;
        }
        return Some(NotifyWatchers {
            delivery: identifier.to_owned(),
            issue_key: key,
            kind: event.to_owned(),
            author: body
                .pointer("/comment/author/displayName")
                .and_then(Value::as_str)
                .unwrap_or("Someone")
                .to_owned(),
            author_account: account.to_owned(),
            changes: Vec::new(),
            comment: body.pointer("/comment/body").and_then(Value::as_str).unwrap_or_default().to_owned(),
        });
    }
    let account = body.pointer("/user/accountId").and_then(Value::as_str).unwrap_or_default();
    if account.is_empty() || account == raid.config.service_account {
        return None;
    }
    let items: Vec<&Value> =
        body.pointer("/changelog/items").and_then(Value::as_array).into_iter().flatten().collect();
    let changes: Vec<Change> = items
        .iter()
        .filter(|item| {
            let fields = raid.mirrored_fields(&[item]);
            fields.contains(&"status") || fields.contains(&"priority")
        })
        .map(|item| Change {
            field: item["field"].as_str().unwrap_or_default().to_owned(),
            from: item["fromString"].as_str().unwrap_or_default().to_owned(),
            to: item["toString"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    (!changes.is_empty()).then(|| NotifyWatchers {
        delivery: identifier.to_owned(),
        issue_key: key,
        kind: "modify".into(),
        author: body.pointer("/user/displayName").and_then(Value::as_str).unwrap_or("Someone").to_owned(),
        author_account: account.to_owned(),
        changes,
        comment: String::new(),
    })
}

impl Raid {
    /// `raid.notify_watchers`.
    ///
    /// # Errors
    /// Jira or the chat platform failed in a way worth retrying.
    pub fn notify_watchers(&self, job: &NotifyWatchers) -> Result<(), JobError> {
        if self.context.chat.platform() == "none" {
            return Ok(());
        }
        let watchers = self.client.watchers(&job.issue_key).map_err(jira)?;
        let message = job.message(&self.client.browse_url(&job.issue_key));
        for watcher in watchers {
            if watcher.account_id == job.author_account || watcher.account_id == self.config.service_account {
                continue;
            }
            let Some(email) =
                watcher.email_address.as_deref().map(str::to_lowercase).filter(|e| !e.is_empty())
            else {
                continue;
            };
            if self.config.watcher_exclusions.contains(&email)
                || self.store.watcher_message_sent(&job.delivery, &email).map_err(storage)?
            {
                continue;
            }
            let Some(user) = self.context.chat.user_by_email(&email).map_err(crate::raid::chat)? else {
                tracing::info!(%email, key = %job.issue_key, "a watcher the chat platform does not know: not told");
                continue;
            };
            match self.context.chat.direct_message(&user, &message) {
                Ok(_) => {}
                Err(error) if !error.is_retryable() => {
                    tracing::warn!(%error, %email, "a watcher could not be sent a message");
                    continue;
                }
                Err(error) => return Err(crate::raid::chat(error)),
            }
            self.store.record_watcher_message(&job.delivery, &email, Self::now()).map_err(storage)?;
        }
        Ok(())
    }
}
