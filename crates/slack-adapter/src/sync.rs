//! The directory sync, on the scheduler and on demand (`firefighter-server slack sync`): local users
//! are linked to their Slack identity by e-mail, and the user groups and conversations the product
//! knows get their names and members from Slack.

use std::sync::Arc;

use diesel::prelude::*;
use jobs::{Job, JobError};
use serde::{Deserialize, Serialize};
use storage::repository_error;

use crate::client::{SlackClient, SlackError};
use crate::schema::users;
use crate::store::SlackStore;

/// One directory sync (its key names the scheduler's tick, so a tick runs once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncDirectory {
    pub tick: String,
}

impl Job for SyncDirectory {
    const NAME: &'static str = "slack.sync_directory";
    const QUEUE: &'static str = "slack_directory";
    fn idempotency_key(&self) -> String {
        format!("slack-sync:{}", self.tick)
    }
}

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub users_linked: usize,
    pub user_groups: usize,
    pub conversations: usize,
}

/// Runs directory syncs.
#[derive(Debug, Clone)]
pub struct DirectorySync {
    pub slack: Arc<SlackClient>,
    pub store: SlackStore,
}

fn job_error(error: &SlackError) -> JobError {
    if error.is_retryable() {
        JobError::Retryable(error.to_string())
    } else {
        JobError::Permanent(error.to_string())
    }
}

impl DirectorySync {
    /// Runs one sync.
    ///
    /// # Errors
    /// Slack or the database failed (retryable when it may pass).
    pub fn run(&self) -> Result<SyncReport, JobError> {
        let storage =
            |error: incidents_core::RepositoryError| JobError::Retryable(format!("storage: {error}"));
        let now = incidents_core::clock::now();
        let mut report = SyncReport::default();

        // Users: link each local user to the Slack account with their e-mail.
        let local: Vec<(String, String)> = {
            let mut conn = self.store.database.connection().map_err(storage)?;
            users::table
                .select((users::id, users::email))
                .load(&mut *conn)
                .map_err(|e| storage(repository_error(e)))?
        };
        let slack_users = self.slack.users().map_err(|e| job_error(&e))?;
        for user in slack_users.iter().filter(|u| !u.deleted && !u.is_bot) {
            let Some(email) = user.profile.email.as_deref() else { continue };
            if let Some((id, _)) = local.iter().find(|(_, local)| local.eq_ignore_ascii_case(email))
                && self.store.slack_id_of(id).map_err(storage)?.as_deref() != Some(user.id.as_str())
            {
                self.store.link_user(id, &user.id, Some(&user.name), now).map_err(storage)?;
                report.users_linked += 1;
            }
        }

        // User groups the product knows: names and members.
        for group in self.slack.user_groups().map_err(|e| job_error(&e))? {
            if self.store.refresh_user_group(&group, now).map_err(storage)? {
                report.user_groups += 1;
            }
        }

        // Conversations the product knows (not incident channels): name, status, members.
        for known in self.store.conversations().map_err(storage)? {
            let channel_id = known.item.channel_id.clone();
            let info = match self.slack.conversation_info(&channel_id) {
                Ok(info) => info,
                Err(error) if error.is("channel_not_found") => {
                    tracing::warn!(channel = %channel_id, "a known conversation is gone from Slack");
                    continue;
                }
                Err(error) => return Err(job_error(&error)),
            };
            let status = if info.is_archived { "archived" } else { "opened" };
            self.store
                .update_conversation(&channel_id, Some(&info.name), Some(status), now)
                .map_err(storage)?;
            match self.slack.members(&channel_id) {
                Ok(members) => {
                    self.store.set_conversation_members(&channel_id, &members).map_err(storage)?;
                    report.conversations += 1;
                }
                Err(error) if error.is_retryable() => return Err(job_error(&error)),
                Err(error) => {
                    tracing::warn!(channel = %channel_id, %error, "cannot read a conversation's members");
                }
            }
        }
        tracing::info!(?report, "Slack directory synced");
        Ok(report)
    }
}
