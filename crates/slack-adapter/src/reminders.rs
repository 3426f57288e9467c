//! Reminders on the scheduler (firefighter-slack.md §15): a critical incident nobody updated for its
//! priority's `reminder_time` gets a reminder in its channel during office hours, and an incident
//! mitigated five days ago whose post-mortem is still due gets the post-mortem reminder.
//!
//! Each reminder is a message with an identity (the silence it is about: the incident's last update;
//! or the post-mortem), posted once like every other message (look before you write).

use chrono::{Datelike, NaiveDateTime, TimeZone, Timelike};
use incidents_core::query::{IncidentQueries, IncidentView, PageRequest};
use incidents_core::{IncidentId, IncidentStatus};
use jobs::{Job, JobError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::channel::{ChannelWorker, StepError, TECH_INCIDENTS};
use crate::client::OutgoingMessage;
use crate::messages::kind;

/// One pass of the update reminders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReminders {
    pub tick: String,
}

impl Job for UpdateReminders {
    const NAME: &'static str = "slack.update_reminders";
    const QUEUE: &'static str = "slack";
    fn idempotency_key(&self) -> String {
        format!("slack-update-reminders:{}", self.tick)
    }
}

/// One pass of the 5-day post-mortem reminders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostmortemReminders {
    pub tick: String,
}

impl Job for PostmortemReminders {
    const NAME: &'static str = "slack.postmortem_reminders";
    const QUEUE: &'static str = "slack";
    fn idempotency_key(&self) -> String {
        format!("slack-postmortem-reminders:{}", self.tick)
    }
}

/// Monday to Friday, 09:00 to 17:59, in the deployment's time zone.
#[must_use]
pub fn office_hours(at: NaiveDateTime, time_zone: chrono_tz::Tz) -> bool {
    let local = time_zone.from_utc_datetime(&at);
    local.weekday().num_days_from_monday() < 5 && (9..=17).contains(&local.hour())
}

/// "3 hours 5 minutes", "1 day 2 hours".
fn human(duration: chrono::Duration) -> String {
    let minutes = duration.num_minutes().max(0);
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let unit = |n: i64, name: &str| format!("{n} {name}{}", if n == 1 { "" } else { "s" });
    match (days, hours) {
        (0, 0) => unit(minutes, "minute"),
        (0, _) => format!("{} {}", unit(hours, "hour"), unit(minutes, "minute")),
        _ => format!("{} {}", unit(days, "day"), unit(hours, "hour")),
    }
}

fn update_button(incident: &IncidentView) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": "Update", "emoji": true},
        "action_id": "open_modal_incident_update_status", "value": incident.id.0.to_string()})
}

/// `ff_incident_update_reminder`.
#[must_use]
pub fn update_reminder(incident: &IncidentView, silence: chrono::Duration) -> OutgoingMessage {
    let text = if incident.priority.value <= 3 {
        format!(
            "As a {} incident, a lot of people are following it. There has been no update for {}: you need to \
             update this incident to broadcast information in #tech-incidents.",
            incident.priority.name,
            human(silence)
        )
    } else {
        format!("There has been no update for {}. Please update this incident when you can.", human(silence))
    };
    let mut section = json!({"type": "section", "text": {"type": "mrkdwn",
        "text": "_Make an update with `/incident update` or this button_"}});
    section["accessory"] = update_button(incident);
    OutgoingMessage {
        text: format!("Reminder to update incident #{}", incident.id.0),
        blocks: Some(json!([
            {"type": "header", "text": {"type": "plain_text", "text": ":robot_face: Reminder to update this incident :robot_face:", "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            section,
        ])),
        metadata: Some((
            kind::UPDATE_REMINDER.to_owned(),
            json!({"ff_type": kind::UPDATE_REMINDER, "incident_id": incident.id.0}),
        )),
    }
}

/// `ff_incident_postmortem_reminder_5days` (in the channel) and its announcement.
#[must_use]
pub fn postmortem_reminder(
    incident: &IncidentView,
    help_url: Option<&str>,
    announcement: Option<&str>,
) -> OutgoingMessage {
    let mut blocks = Vec::new();
    match announcement {
        None => {
            blocks.push(json!({"type": "header", "text": {"type": "plain_text", "text": "⏰ Post-mortem Reminder ⏰", "emoji": true}}));
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text":
                "This incident was mitigated 5 days ago and its post-mortem *must* be completed. Please finish it, then close the incident."}}));
            let mut actions = vec![
                json!({"type": "button", "text": {"type": "plain_text", "text": "Update status", "emoji": true},
                "action_id": "open_modal_incident_update_status", "value": incident.id.0.to_string()}),
            ];
            if let Some(url) = help_url {
                actions.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Post-mortem guide", "emoji": true},
                    "url": url, "action_id": "open_link_postmortem_help"}));
            }
            blocks.push(json!({"type": "actions", "elements": actions}));
        }
        Some(channel) => {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
                "*{}*\n_The post-mortem of this incident is overdue._", crate::messages::escape(&incident.title))}}));
            let mitigated =
                incident.mitigated_at.map(|at| at.format("%Y-%m-%d").to_string()).unwrap_or_default();
            blocks.push(json!({"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Priority:*\n{} {}", incident.priority.emoji, incident.priority.name)},
                {"type": "mrkdwn", "text": format!("*Mitigated:*\n{mitigated}")},
                {"type": "mrkdwn", "text": format!("*Channel:*\n<#{channel}>")},
            ]}));
        }
    }
    let ff_type = kind::POSTMORTEM_REMINDER_5_DAYS;
    OutgoingMessage {
        text: format!("The post-mortem of incident #{} is due", incident.id.0),
        blocks: Some(Value::Array(blocks)),
        metadata: Some((ff_type.to_owned(), json!({"ff_type": ff_type, "incident_id": incident.id.0}))),
    }
}

fn retryable(error: impl std::fmt::Display) -> JobError {
    JobError::Retryable(error.to_string())
}

fn step(error: &StepError) -> JobError {
    JobError::Retryable(error.to_string())
}

impl ChannelWorker {
    /// The incidents with an open channel.
    fn open_channels(&self) -> Result<Vec<(IncidentView, String)>, JobError> {
        let rows = self.store.open_incident_channels().map_err(retryable)?;
        let ids: Vec<IncidentId> = rows.iter().map(|(id, _)| IncidentId(*id)).collect();
        let incidents = self.database.incidents_by_id(&ids).map_err(retryable)?;
        Ok(incidents
            .into_iter()
            .filter_map(|incident| {
                let channel = rows.iter().find(|(id, _)| *id == incident.id.0)?.1.clone();
                Some((incident, channel))
            })
            .collect())
    }

    /// Posts the update reminders due at `now`; returns how many were posted.
    ///
    /// # Errors
    /// Slack or the database failed for now.
    pub fn update_reminders(&self, now: NaiveDateTime) -> Result<usize, JobError> {
        if !office_hours(now, self.settings.time_zone) {
            return Ok(0);
        }
        let mut posted = 0;
        for (incident, channel) in self.open_channels()? {
            if incident.status >= IncidentStatus::PostMortem
                || incident.ignored
                || !crate::rules::is_critical(&incident)
            {
                continue;
            }
            let page =
                self.database.timeline(incident.id, PageRequest::new(1, 0).counted()).map_err(retryable)?;
            let total = page.total.unwrap_or_default();
            let last = if total > 1 {
                let last =
                    self.database.timeline(incident.id, PageRequest::new(1, total - 1)).map_err(retryable)?;
                last.items.first().map_or(incident.created_at, |entry| entry.created_at)
            } else {
                page.items.first().map_or(incident.created_at, |entry| entry.created_at)
            };
            let silence = now - last;
            if silence < chrono::Duration::seconds(incident.priority.reminder_time_seconds.max(60)) {
                continue;
            }
            // One reminder per silence: the identity names the last update.
            let key = format!("{}@{}", kind::UPDATE_REMINDER, last.format("%Y%m%dT%H%M%S%.6f"));
            if self.store.message(incident.id.0, &channel, &key).map_err(retryable)?.is_none() {
                self.post_once(&incident, &channel, &key, update_reminder(&incident, silence), true)
                    .map_err(|e| step(&e))?;
                posted += 1;
            }
        }
        Ok(posted)
    }

    /// Posts the 5-day post-mortem reminders due at `now`; returns how many were posted.
    ///
    /// # Errors
    /// Slack or the database failed for now.
    pub fn postmortem_reminders(&self, now: NaiveDateTime) -> Result<usize, JobError> {
        if !self.settings.postmortems_configured {
            return Ok(0);
        }
        let mut posted = 0;
        for (incident, channel) in self.open_channels()? {
            let due = incident.mitigated_at.is_some_and(|at| at <= now - chrono::Duration::days(5));
            let waiting = matches!(incident.status, IncidentStatus::Mitigated | IncidentStatus::PostMortem);
            let needs = incident.priority.needs_postmortem && incident.environment.value == "PRD";
            if !due || !waiting || !needs || incident.ignored {
                continue;
            }
            let key = kind::POSTMORTEM_REMINDER_5_DAYS;
            if self.store.message(incident.id.0, &channel, key).map_err(retryable)?.is_some() {
                continue;
            }
            let help = self.settings.postmortem_help_url.as_deref();
            self.post_once(&incident, &channel, key, postmortem_reminder(&incident, help, None), true)
                .map_err(|e| step(&e))?;
            if crate::rules::general_at_declaration(&incident) {
                let announcement = postmortem_reminder(&incident, help, Some(&channel));
                let key = format!("{key}_announcement");
                self.post_tagged(&incident, TECH_INCIDENTS, &key, &announcement).map_err(|e| step(&e))?;
            }
            posted += 1;
        }
        Ok(posted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn office_hours_are_weekdays_from_nine_to_six_in_the_deployments_zone() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap_or_default();
        // Tuesday 2026-12-01.
        assert!(office_hours(at("2026-12-01 09:00"), chrono_tz::UTC));
        assert!(office_hours(at("2026-12-01 17:59"), chrono_tz::UTC));
        assert!(!office_hours(at("2026-12-01 18:00"), chrono_tz::UTC));
        assert!(!office_hours(at("2026-12-01 08:59"), chrono_tz::UTC));
        assert!(!office_hours(at("2026-12-05 11:00"), chrono_tz::UTC), "Saturday");
        // 08:30 UTC is 09:30 in Paris.
        assert!(office_hours(at("2026-12-01 08:30"), chrono_tz::Europe::Paris));
    }

    #[test]
    fn silences_read_as_people_say_them() {
        assert_eq!(human(chrono::Duration::minutes(1)), "1 minute");
        assert_eq!(human(chrono::Duration::minutes(125)), "2 hours 5 minutes");
        assert_eq!(human(chrono::Duration::minutes(1500)), "1 day 1 hour");
    }
}
