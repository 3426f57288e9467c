//! Status updates from Slack, the most frequent submission, are checked in the request (what the
//! workflow refuses is shown on the form at once) and applied right after by a durable job, written
//! in a commit shared with concurrent requests: the acknowledgement never waits behind other
//! incidents' writes, and nothing acknowledged is lost. Should the incident change in between so that
//! the update is refused after all, the person is told.

use incidents_core::incident::UpdateIncident;
use incidents_core::{Actor, EntryPoint, IncidentId, IncidentStatus, LifecycleError, UserId};
use jobs::JobError;
use serde::{Deserialize, Serialize};

use super::Interactions;

/// An update checked in a Slack request, to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyUpdateJob {
    /// The submission (its view id and hash): a submission is applied once.
    pub submission: String,
    pub incident_id: i64,
    /// The acting user (a product user id) and their Slack id, to tell them of a late refusal.
    pub user_id: String,
    pub slack_user: String,
    pub message: Option<String>,
    pub status: Option<i32>,
    pub priority_id: Option<String>,
    pub category_id: Option<String>,
}

impl jobs::Job for ApplyUpdateJob {
    const NAME: &'static str = "slack.apply_update";
    const QUEUE: &'static str = "slack_events";
    fn idempotency_key(&self) -> String {
        format!("slack-submission:{}", self.submission)
    }
}

impl ApplyUpdateJob {
    /// The lifecycle command.
    #[must_use]
    pub fn command(&self) -> UpdateIncident {
        UpdateIncident {
            message: self.message.clone(),
            status: self.status.and_then(|status| IncidentStatus::from_value(status).ok()),
            priority_id: self.priority_id.clone(),
            category_id: self.category_id.clone(),
            ..UpdateIncident::default()
        }
    }
}

impl Interactions {
    /// Applies a checked update.
    ///
    /// # Errors
    /// Retryable when the database failed for now.
    pub fn apply_update(&self, job: &ApplyUpdateJob) -> Result<(), JobError> {
        let user = job
            .user_id
            .parse()
            .map(UserId)
            .map_err(|_| JobError::Permanent(format!("not a user id: {}", job.user_id)))?;
        let actor = Actor { user, entry_point: EntryPoint::Slack };
        match self.lifecycle.update(actor, IncidentId(job.incident_id), &job.command()) {
            Ok(_) | Err(LifecycleError::NothingToUpdate) => Ok(()),
            Err(LifecycleError::Storage(error)) => Err(JobError::Retryable(format!("storage: {error}"))),
            Err(refusal) => {
                let text = format!(
                    ":x: Your update of incident #{} was not applied: the incident changed meanwhile. {refusal} ({})",
                    job.incident_id,
                    refusal.code()
                );
                self.tell(&job.slack_user, None, &text, false).map_err(|error| {
                    if error.is_retryable() {
                        JobError::Retryable(error.to_string())
                    } else {
                        JobError::Permanent(error.to_string())
                    }
                })
            }
        }
    }
}
