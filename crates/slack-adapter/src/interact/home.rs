//! The app's home tab (§8): the commands, and every open critical incident with its actions.
//! Published when someone opens the tab, and again to those who opened it recently whenever an
//! incident changes in a way their home shows (a digest of the last published view avoids calls that
//! would change nothing).

use incidents_core::IncidentStatus;
use incidents_core::query::{IncidentFilter, IncidentQueries, OrderBy, PageRequest};
use jobs::JobError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Interactions, button, context, divider, header, section};
use crate::naming::status_page;

/// Incidents a home shows, at most (Slack allows 100 blocks in a view).
const SHOWN: usize = 25;
/// How long after opening the home tab someone keeps getting updates of it.
const VIEWERS_FOR_DAYS: i64 = 30;
/// At most this many viewers are refreshed per change (the most recent ones).
const VIEWERS_MAX: i64 = 200;

/// Publish the home again, after an incident changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshHomeJob {
    /// What changed: an outbox event's id, or `channel:<id>` once an incident's channel is set up.
    pub event_id: String,
}

impl jobs::Job for RefreshHomeJob {
    const NAME: &'static str = "slack.refresh_home";
    const QUEUE: &'static str = "slack_events";
    fn idempotency_key(&self) -> String {
        format!("slack-home:{}", self.event_id)
    }
}

impl RefreshHomeJob {
    /// The refresh an outbox event calls for: an incident was declared, changed or closed.
    #[must_use]
    pub fn for_event(event: &jobs::OutboxEvent) -> Option<Self> {
        let relevant =
            matches!(event.event_type.as_str(), "incident_created" | "incident_updated" | "incident_closed");
        let costs_only = event.payload.get("changed_fields") == Some(&json!(["costs"]));
        (relevant && !costs_only).then(|| Self { event_id: event.event_id.clone() })
    }
}

fn digest(view: &Value) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(view.to_string().as_bytes()))
}

impl Interactions {
    /// The home view, the same for everyone.
    ///
    /// # Errors
    /// A storage failure.
    pub fn home_view(&self) -> Result<Value, incidents_core::RepositoryError> {
        let settings = &self.settings;
        let filter = IncidentFilter { status_lt: Some(IncidentStatus::Closed), ..IncidentFilter::default() };
        // Critical incidents only (the original listed P4–P5 too under this header).
        let incidents: Vec<_> = self
            .database
            .incidents(&filter, OrderBy::default(), PageRequest::new(200, 0))?
            .items
            .into_iter()
            .filter(|incident| incident.priority.value <= 3)
            .collect();
        let channels =
            self.store.channels_of(&incidents.iter().map(|incident| incident.id.0).collect::<Vec<_>>())?;
        let command = settings.commands.first().map_or("/incident", String::as_str);
        let mut blocks = vec![
            header(&format!("{} - Incident Management", settings.app_name)),
            section(&format!(
                "{} is our tool for incident management{}. Use `{command} help` anywhere for its commands.",
                settings.app_name,
                settings
                    .incident_help_guide_url
                    .as_ref()
                    .map(|url| format!(", more about incidents is visible <{url}|here>"))
                    .unwrap_or_default()
            )),
            section(&format!(
                "• `{command} open`: declare an incident\n• `{command} update`: update one\n• `{command} close`: close \
                 one\n• `{command} status`: see where one stands"
            )),
            context(
                ":bulb: A good incident response process involves great communication: update the incident as it evolves.",
            ),
            divider(),
            json!({"type": "actions", "block_id": "home_actions", "elements": [
                button("Open incident", "open_incident", "home", true),
                button("Update critical incident", "update_incident", "home", false),
                button("Close critical incident", "close_incident", "home", false),
            ]}),
            header(&format!(
                "{} critical incident{} active",
                incidents.len(),
                if incidents.len() == 1 { "" } else { "s" }
            )),
        ];
        if incidents.is_empty() {
            blocks.push(divider());
            blocks.push(section("No active incidents! Enjoy :tada:"));
        }
        for incident in incidents.iter().take(SHOWN) {
            let channel =
                channels.iter().find(|channel| channel.incident_id == Some(incident.id.0)).map_or_else(
                    || format!("#{}", incident.id.0),
                    |channel| format!("<#{}>", channel.channel_id),
                );
            let page = status_page(&settings.base_url, incident);
            let date = {
                use chrono::TimeZone;
                settings
                    .time_zone
                    .from_utc_datetime(&incident.updated_at)
                    .format("%Y-%m-%d %H:%M")
                    .to_string()
            };
            blocks.push(divider());
            blocks.push(json!({"type": "section", "block_id": format!("app_home_incident_element_{}", incident.id.0),
                "text": {"type": "mrkdwn", "text": format!("*{channel}* - *{}* - {} <{page}|Status Page>",
                    crate::messages::escape(&incident.title), settings.app_emoji)},
                "fields": [
                    {"type": "mrkdwn", "text": format!("*Status:* {}", incident.status.label())},
                    {"type": "mrkdwn", "text": format!("*Priority:* {} {}", incident.priority.emoji, incident.priority.name)},
                    {"type": "mrkdwn", "text": format!("*Incident category:* {} - {}",
                        crate::messages::escape(&incident.category.group.name), crate::messages::escape(&incident.category.name))},
                    {"type": "mrkdwn", "text": format!("*Last update:* {date}")},
                ],
                "accessory": {"type": "overflow", "action_id": "app_home_incident_action", "options": [
                    {"text": {"type": "plain_text", "text": "Update status"}, "value": "update_status"},
                    {"text": {"type": "plain_text", "text": "See status page"}, "value": "open_link", "url": page},
                ]}}));
            let description = crate::naming::shorten(incident.description.trim(), 1500);
            if !description.is_empty() {
                let quoted: Vec<String> =
                    description.lines().map(|line| format!("> {}", crate::messages::escape(line))).collect();
                blocks.push(section(&quoted.join("\n")));
            }
        }
        if incidents.len() > SHOWN {
            blocks.push(context(&format!("… and {} more on the dashboard.", incidents.len() - SHOWN)));
        }
        blocks.push(divider());
        blocks.push(self.footer());
        Ok(json!({"type": "home", "blocks": blocks}))
    }

    /// `app_home_opened`: the home, published for `slack_user`.
    ///
    /// # Errors
    /// Retryable when Slack or the database failed for now.
    pub fn home_opened(&self, slack_user: &str) -> Result<(), JobError> {
        let storage =
            |error: incidents_core::RepositoryError| JobError::Retryable(format!("storage: {error}"));
        self.store.home_opened(slack_user, incidents_core::clock::now()).map_err(storage)?;
        let view = self.home_view().map_err(storage)?;
        self.publish_home(slack_user, &view)
    }

    fn publish_home(&self, slack_user: &str, view: &Value) -> Result<(), JobError> {
        let published = self
            .slack
            .view("views.publish", &[("user_id", slack_user.to_owned()), ("view", view.to_string())]);
        match published {
            Ok(_) => self
                .store
                .home_published(slack_user, &digest(view))
                .map_err(|error| JobError::Retryable(format!("storage: {error}"))),
            // Someone who left the workspace, say: nothing to publish to.
            Err(error) if !error.is_retryable() => {
                tracing::info!(%error, "could not publish a home tab");
                Ok(())
            }
            Err(error) => Err(JobError::Retryable(error.to_string())),
        }
    }

    /// An incident changed: the home, published again to whoever opened it lately and would see a
    /// difference.
    ///
    /// # Errors
    /// Retryable when Slack or the database failed for now.
    pub fn refresh_homes(&self) -> Result<(), JobError> {
        let storage =
            |error: incidents_core::RepositoryError| JobError::Retryable(format!("storage: {error}"));
        let since = incidents_core::clock::now() - chrono::TimeDelta::days(VIEWERS_FOR_DAYS);
        let viewers = self.store.home_viewers(since, VIEWERS_MAX).map_err(storage)?;
        if viewers.is_empty() {
            return Ok(());
        }
        let view = self.home_view().map_err(storage)?;
        let current = digest(&view);
        for (user, published) in viewers {
            if published != current {
                self.publish_home(&user, &view)?;
            }
        }
        Ok(())
    }
}
