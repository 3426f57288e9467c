//! The messages the bot posts about incidents (the original's catalogue, firefighter-slack.md §12),
//! as Block Kit. Each carries metadata naming its kind (`ff_type`) and its incident, which is how a
//! retried job recognises a message it already posted.

use incidents_core::query::IncidentView;
use serde_json::{Value, json};

use crate::client::OutgoingMessage;
use crate::naming::status_page;

/// The message kinds, as stored and as set in the messages' metadata.
pub mod kind {
    pub const DECLARED: &str = "ff_incident_declared";
    pub const GENERAL_DECLARED: &str = "ff_general_incident_declared";
    pub const ROLES: &str = "ff_incident_roles_updated";
    pub const STATUS: &str = "ff_incident_status_updated";
    pub const GENERAL_STATUS: &str = "ff_general_incident_status_updated";
    pub const COM_PROCESS: &str = "ff_incident_com_process";
    pub const UPDATE_REMINDER: &str = "ff_incident_update_reminder";
    pub const POSTMORTEM_REMINDER_5_DAYS: &str = "ff_incident_postmortem_reminder_5days";
    pub const KEY_EVENTS: &str = "ff_incident_key_events_form";
    pub const ROLE_ASSIGNED: &str = "ff_role_assigned_to_you";
    pub const DOWNGRADE_HINT: &str = "ff_incident_downgrade_hint";

    /// The deploy warning of one incident (replaced on every change).
    #[must_use]
    pub fn deploy_warning(incident: i64) -> String {
        format!("ff_deploy_warning_{incident}")
    }
}

/// What the messages need besides the incident.
#[derive(Debug, Clone)]
pub struct Style<'a> {
    pub base_url: &'a str,
    pub app_name: &'a str,
    pub app_emoji: &'a str,
    pub time_zone: chrono_tz::Tz,
}

impl Style<'_> {
    fn date(&self, at: chrono::NaiveDateTime) -> String {
        use chrono::TimeZone;
        self.time_zone.from_utc_datetime(&at).format("%Y-%m-%d %H:%M").to_string()
    }

    fn page_link(&self, incident: &IncidentView, source: &str) -> String {
        format!(
            "<{}?utm_medium=FireFighter+Slack&utm_source={source}&utm_campaign=Slack| {} Status Page>",
            status_page(self.base_url, incident),
            self.app_name
        )
    }
}

fn metadata(ff_type: &str, incident: &IncidentView) -> Option<(String, Value)> {
    Some((ff_type.to_owned(), json!({"ff_type": ff_type, "incident_id": incident.id.0})))
}

fn section(text: impl Into<String>) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text.into()}})
}

fn fields(pairs: &[(&str, String)]) -> Value {
    let fields: Vec<Value> = pairs
        .iter()
        .take(10)
        .map(|(name, value)| json!({"type": "mrkdwn", "text": format!("*{name}:*\n{value}")}))
        .collect();
    json!({"type": "section", "fields": fields})
}

fn header(text: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": text, "emoji": true}})
}

fn divider() -> Value {
    json!({"type": "divider"})
}

fn context(text: impl Into<String>) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text.into()}]})
}

/// `> ` before each line (a Slack quote), or nothing for empty text.
fn quote(text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let quoted: Vec<String> = text.lines().map(|line| format!("> {line}")).collect();
    Some(section(crate::naming::shorten(&quoted.join("\n"), 3000)))
}

/// Slack's escaping of `&`, `<` and `>` in text it would otherwise read as markup.
#[must_use]
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A user as Slack shows them: a mention when their Slack id is known.
fn person(name: &str, slack_id: Option<&str>) -> String {
    slack_id.map_or_else(|| escape(name), |id| format!("<@{id}>"))
}

/// `ff_incident_declared`: pinned in the incident's channel.
#[must_use]
pub fn declared(
    style: &Style<'_>,
    incident: &IncidentView,
    creator_slack_id: Option<&str>,
) -> OutgoingMessage {
    let priority = &incident.priority;
    let mut blocks = vec![
        section(format!("{} {} - A new incident has been declared:", priority.emoji, priority.name)),
        section(format!("*{}*", escape(&incident.title))),
    ];
    blocks.extend(quote(&escape(&incident.description)));
    blocks.push(divider());
    let mut block = fields(&[
        ("Priority", format!("{} {}", priority.emoji, priority.name)),
        (
            "Incident category",
            format!("{} / {}", escape(&incident.category.group.name), escape(&incident.category.name)),
        ),
        ("Opened by", person(&incident.created_by.name, creator_slack_id)),
        ("Created at", style.date(incident.created_at)),
        ("Status Page", style.page_link(incident, "Slack+Declared")),
        ("Environment", crate::naming::environments(incident).join(", ")),
    ]);
    block["accessory"] = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": "Update", "emoji": true},
        "action_id": "update_incident",
        "value": incident.id.0.to_string(),
    });
    blocks.push(block);
    OutgoingMessage {
        text: format!("A new {} incident has been declared: {}", priority.name, incident.title),
        blocks: Some(Value::Array(blocks)),
        metadata: metadata(kind::DECLARED, incident),
    }
}

/// `ff_general_incident_declared`: announced in the `tech_incidents` channel.
#[must_use]
pub fn general_declared(
    style: &Style<'_>,
    incident: &IncidentView,
    channel_id: &str,
    creator_slack_id: Option<&str>,
) -> OutgoingMessage {
    let priority = &incident.priority;
    let mut blocks = vec![section(format!(
        "{} {} - A new incident has been declared in <#{channel_id}>.",
        priority.emoji, priority.name
    ))];
    blocks.push(section(format!("*{}*", escape(&incident.title))));
    blocks.extend(quote(&escape(&incident.description)));
    blocks.push(divider());
    blocks.push(fields(&[
        ("Priority", format!("{} {}", priority.emoji, priority.name)),
        (
            "Category",
            format!("{} / {}", escape(&incident.category.group.name), escape(&incident.category.name)),
        ),
        ("Status Page", style.page_link(incident, "Slack+General")),
        ("Opened by", person(&incident.created_by.name, creator_slack_id)),
        ("Created at", style.date(incident.created_at)),
    ]));
    OutgoingMessage {
        text: format!("A new {} incident has been declared: {}", priority.name, incident.title),
        blocks: Some(Value::Array(blocks)),
        metadata: metadata(kind::GENERAL_DECLARED, incident),
    }
}

/// A role and its holder, for the roles message.
#[derive(Debug, Clone)]
pub struct RoleLine {
    pub emoji: String,
    pub name: String,
    /// The holder's Slack id, or their name when they have none; `None`: nobody.
    pub holder: Option<(String, Option<String>)>,
}

/// `ff_incident_roles_updated`: the roles (all at creation, the changed ones after).
#[must_use]
pub fn roles(incident: &IncidentView, lines: &[RoleLine], first: bool, by: Option<&str>) -> OutgoingMessage {
    let mut blocks = Vec::new();
    if !first {
        blocks.push(section("_Roles updated._"));
    }
    blocks.push(divider());
    let pairs: Vec<(String, String)> = lines
        .iter()
        .map(|line| {
            let holder = line
                .holder
                .as_ref()
                .map_or_else(|| "∅".to_owned(), |(name, slack_id)| person(name, slack_id.as_deref()));
            (format!("{} {}", line.emoji, line.name), holder)
        })
        .collect();
    let mut block = if pairs.is_empty() {
        section("_No changes detected._")
    } else {
        let fields: Vec<Value> = pairs
            .iter()
            .take(10)
            .map(|(role, holder)| json!({"type": "mrkdwn", "text": format!("*{role}:*\n{holder}")}))
            .collect();
        json!({"type": "section", "fields": fields})
    };
    block["block_id"] = json!("message_role_update");
    block["accessory"] = json!({
        "type": "button",
        "text": {"type": "plain_text", "text": "Update", "emoji": true},
        "action_id": "open_modal_incident_update_roles",
        "value": incident.id.0.to_string(),
    });
    blocks.push(block);
    if let Some(by) = by {
        blocks.push(context(format!("Updated by {by}")));
    }
    OutgoingMessage {
        text: format!("Roles of incident #{} updated", incident.id.0),
        blocks: Some(Value::Array(blocks)),
        metadata: metadata(kind::ROLES, incident),
    }
}

/// What an update changed, for the status-update message.
#[derive(Debug, Clone, Default)]
pub struct UpdateSummary {
    pub message: Option<String>,
    pub changed: Vec<String>,
    /// The status this update set.
    pub status: Option<incidents_core::IncidentStatus>,
    /// The priority's name after this update.
    pub priority: Option<String>,
    pub old_priority: Option<(String, i32)>,
    pub by: Option<String>,
}

/// `ff_incident_status_updated` in the incident's channel.
#[must_use]
pub fn status_update(incident: &IncidentView, update: &UpdateSummary) -> OutgoingMessage {
    let mut blocks = vec![section("*A new incident update has been posted*")];
    blocks.extend(update.message.as_deref().and_then(|message| quote(&escape(message))));
    if update.changed.iter().any(|field| field == "title") {
        blocks.push(section(format!("New title: *{}*", escape(&incident.title))));
    }
    if update.changed.iter().any(|field| field == "description") {
        blocks.extend(quote(&escape(&incident.description)));
    }
    let mut pairs = Vec::new();
    for field in &update.changed {
        match field.as_str() {
            "status" => pairs.push(("Status", update.status.unwrap_or(incident.status).label().to_owned())),
            "priority" => pairs.push((
                "Priority",
                update.priority.clone().unwrap_or_else(|| incident.priority.name.clone()),
            )),
            "incident_category" => pairs.push(("Category", escape(&incident.category.name))),
            "environment" => pairs.push(("Environment", incident.environment.value.clone())),
            _ => {}
        }
    }
    if !pairs.is_empty() {
        let mut block = fields(&pairs);
        block["block_id"] = json!("message_status_update");
        if update.status.unwrap_or(incident.status) != incidents_core::IncidentStatus::Closed {
            block["accessory"] = json!({
                "type": "button",
                "text": {"type": "plain_text", "text": "Update", "emoji": true},
                "action_id": "open_modal_incident_update_status",
                "value": incident.id.0.to_string(),
            });
        }
        blocks.push(block);
    }
    if let Some(by) = &update.by {
        blocks.push(context(format!("Posted by {by}")));
    }
    OutgoingMessage {
        text: format!("Incident #{} has received an update", incident.id.0),
        blocks: Some(Value::Array(blocks)),
        metadata: Some((
            kind::STATUS.to_owned(),
            json!({"incident_id": incident.id.0, "ff_type": kind::STATUS}),
        )),
    }
}

/// The status update as announced in `tech_incidents`: mitigated, escalated, or updated.
#[must_use]
pub fn general_status_update(
    incident: &IncidentView,
    channel_id: &str,
    update: &UpdateSummary,
) -> OutgoingMessage {
    let mitigated = update.status == Some(incidents_core::IncidentStatus::Mitigated);
    let title = if mitigated {
        format!(":large_green_circle:  Incident <#{channel_id}> has been Mitigated.  :large_green_circle:")
    } else if let Some((old, value)) = update.old_priority.as_ref().filter(|(_, value)| *value > 3) {
        let _ = value;
        let new = update.priority.as_deref().unwrap_or(&incident.priority.name);
        format!("Incident <#{channel_id}> has escalated from {old} to {new}.")
    } else {
        format!("Incident <#{channel_id}> has received an update.")
    };
    let mut blocks = vec![section(title.clone())];
    blocks.extend(update.message.as_deref().and_then(|message| quote(&escape(message))));
    blocks.push(fields(&[
        ("Status", update.status.unwrap_or(incident.status).label().to_owned()),
        ("Priority", update.priority.clone().unwrap_or_else(|| incident.priority.name.clone())),
    ]));
    OutgoingMessage {
        text: title,
        blocks: Some(Value::Array(blocks)),
        metadata: metadata(kind::GENERAL_STATUS, incident),
    }
}

/// `ff_incident_com_process`: P1 in production, at channel creation.
#[must_use]
pub fn com_process(
    incident: &IncidentView,
    guide_url: Option<&str>,
    usergroup: Option<&str>,
) -> OutgoingMessage {
    let mut text = format!(
        "As a {} incident, it may drastically impact our customers and the company's image: \
         communication must follow the emergency process.",
        incident.priority.name
    );
    if let Some(url) = guide_url {
        text.push_str(&format!(" <{url}|COM PROCESS>"));
    }
    if let Some(group) = usergroup {
        text.push_str(&format!("\n<!subteam^{group}> *must* be informed."));
    }
    OutgoingMessage {
        text: "Emergency communication".to_owned(),
        blocks: Some(json!([header(":robot_face: Emergency communication :robot_face:"), section(text)])),
        metadata: metadata(kind::COM_PROCESS, incident),
    }
}

/// `ff_incident_key_events_form`: the required key events still missing (`None`: all recorded).
#[must_use]
pub fn key_events(incident: &IncidentView, missing: Option<&str>, base_url: &str) -> OutgoingMessage {
    let page = status_page(base_url, incident);
    let text = match missing {
        Some(missing) => format!(
            ":stopwatch: *Key events*: {}. Record them on the <{page}|incident page> (or through the API) so that \
             the incident's metrics are right and it can be closed.",
            escape(missing)
        ),
        None => ":white_check_mark: *Key events*: every required key event is recorded.".to_owned(),
    };
    OutgoingMessage {
        text: "Key events of the incident".to_owned(),
        blocks: Some(json!([section(text)])),
        metadata: metadata(kind::KEY_EVENTS, incident),
    }
}

/// `ff_incident_downgrade_hint`: the incident left the critical range.
#[must_use]
pub fn downgrade_hint(incident: &IncidentView) -> OutgoingMessage {
    let mut block = section(format!(
        "The incident was updated to a {} priority. It might not need an incident channel any more: you may \
         choose to follow it as a ticket instead.",
        incident.priority.name
    ));
    block["accessory"] = json!({"type": "button", "text": {"type": "plain_text", "text": "Change workflow", "emoji": true},
        "action_id": "open_modal_downgrade_workflow", "value": incident.id.0.to_string()});
    OutgoingMessage {
        text: format!("Incident #{} is now {}", incident.id.0, incident.priority.name),
        blocks: Some(json!([block, context("Tip: `/incident downgrade`")])),
        metadata: None,
    }
}

/// `ff_role_assigned_to_you`: a direct message to a new role holder.
#[must_use]
pub fn role_assigned(
    style: &Style<'_>,
    incident: &IncidentView,
    role: &incidents_core::query::RoleView,
    at_declaration: bool,
) -> OutgoingMessage {
    let mut blocks = vec![
        section(format!("{} *Incident #{}*: {}", style.app_emoji, incident.id.0, escape(&incident.title))),
        section(format!("*You have been assigned the {} role*", escape(&role.name))),
        context(format!("<{}|Open the incident>", status_page(style.base_url, incident))),
    ];
    if at_declaration && role.slug == "commander" {
        blocks.push(context("This role was assigned automatically because you declared the incident."));
    }
    OutgoingMessage {
        text: format!("You have been assigned the {} role on incident #{}", role.name, incident.id.0),
        blocks: Some(Value::Array(blocks)),
        metadata: metadata(kind::ROLE_ASSIGNED, incident),
    }
}

/// `ff_deploy_warning_<id>`: in `it_deploy`, replaced on every change.
#[must_use]
pub fn deploy_warning(style: &Style<'_>, incident: &IncidentView, channel_id: &str) -> OutgoingMessage {
    let mitigated = incident.status >= incidents_core::IncidentStatus::Mitigated;
    let title = if mitigated {
        ":warning: Deploy warning (Mitigated) :warning:"
    } else {
        ":warning: Deploy warning :warning:"
    };
    let mut blocks = vec![
        header(title),
        section(format!(
            "We currently have a {} {} incident (<#{channel_id}>), refrain to deploy unless the deployment \
             is related to the incident resolution.",
            incident.priority.name, style.app_name
        )),
    ];
    if mitigated {
        blocks.push(section(
            ":white_check_mark: *UPDATE*: the incident is mitigated, you can resume your deployments.",
        ));
    }
    let kind = kind::deploy_warning(incident.id.0);
    OutgoingMessage {
        text: title.to_owned(),
        blocks: Some(Value::Array(blocks)),
        metadata: Some((kind.clone(), json!({"ff_type": kind, "incident_id": incident.id.0}))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::incident;

    fn style() -> Style<'static> {
        Style {
            base_url: "https://ff.example.com",
            app_name: "FireFighter",
            app_emoji: ":fire:",
            time_zone: chrono_tz::UTC,
        }
    }

    #[test]
    fn the_declared_announcement_carries_its_kind_and_incident_and_escapes_user_text() {
        let mut view = incident(12, "2024-03-05T10:00:00", "PRD", "Checkout");
        view.title = "Checkout <down> & out".into();
        let message = declared(&style(), &view, Some("U42"));
        assert_eq!(message.text, "A new P1 incident has been declared: Checkout <down> & out");
        assert_eq!(
            message.metadata,
            Some((
                "ff_incident_declared".into(),
                json!({"ff_type": "ff_incident_declared", "incident_id": 12})
            ))
        );
        let blocks = message.blocks.map(|b| b.to_string()).unwrap_or_default();
        assert!(blocks.contains("*Checkout &lt;down&gt; &amp; out*"), "{blocks}");
        assert!(blocks.contains("<@U42>"), "{blocks}");
        assert!(blocks.contains("https://ff.example.com/incident/12/"), "{blocks}");
    }

    #[test]
    fn status_updates_have_no_update_button_once_closed_and_say_mitigated_in_general() {
        let view = incident(3, "2024-03-05T10:00:00", "PRD", "Checkout");
        let update = UpdateSummary {
            changed: vec!["status".into()],
            status: Some(incidents_core::IncidentStatus::Mitigated),
            ..UpdateSummary::default()
        };
        assert!(
            status_update(&view, &update)
                .blocks
                .map(|b| b.to_string())
                .unwrap_or_default()
                .contains("open_modal_incident_update_status")
        );
        assert!(general_status_update(&view, "C1", &update).text.contains("has been Mitigated"));
        let closed = UpdateSummary { status: Some(incidents_core::IncidentStatus::Closed), ..update.clone() };
        assert!(
            !status_update(&view, &closed)
                .blocks
                .map(|b| b.to_string())
                .unwrap_or_default()
                .contains("open_modal_incident_update_status")
        );
        let escalated = UpdateSummary {
            changed: vec!["priority".into()],
            old_priority: Some(("P4".into(), 4)),
            ..UpdateSummary::default()
        };
        assert_eq!(
            general_status_update(&view, "C1", &escalated).text,
            "Incident <#C1> has escalated from P4 to P1."
        );
    }

    #[test]
    fn the_deploy_warning_says_when_deploys_may_resume() {
        let mut view = incident(3, "2024-03-05T10:00:00", "PRD", "Checkout");
        assert_eq!(
            deploy_warning(&style(), &view, "C1").blocks.and_then(|b| b.as_array().map(Vec::len)),
            Some(2)
        );
        view.status = incidents_core::IncidentStatus::Mitigated;
        let warning = deploy_warning(&style(), &view, "C1");
        assert!(warning.text.contains("(Mitigated)"));
        assert_eq!(warning.metadata.map(|m| m.0), Some("ff_deploy_warning_3".into()));
    }
}
