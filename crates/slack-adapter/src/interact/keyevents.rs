//! The key-events message of an incident's channel (§7.16): one date-time picker per key event people
//! record, what is still missing before the incident may close, and a Close button once it may.
//! Changing a picker records the key event through the lifecycle; the message is re-rendered by the
//! channel job that follows every `key_events_updated`, whatever the entry point that changed them.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use incidents_core::query::{IncidentQueries, IncidentView, KeyEventTypeView};
use incidents_core::workflow::CloseBlocker;
use incidents_core::{Actor, IncidentId, LifecycleError};
use serde_json::{Value, json};
use storage::Database;

use super::{Intent, Interactions, Reply, Who, button, context, header, section, text_of};
use crate::blockkit::{Field, Input, Kind, read_element};
use crate::client::OutgoingMessage;
use crate::messages::kind;

/// The action id of a key event's picker (`key_event_<type>`), as the original names them; its
/// `key_event_date_…`, `_time_…` and `_clear_…` variants and `post_mortem_milestone_…` are read too.
fn key_event_type(action_id: &str) -> Option<&str> {
    let rest =
        action_id.strip_prefix("key_event").or_else(|| action_id.strip_prefix("post_mortem_milestone"))?;
    let rest = rest.strip_prefix('_').unwrap_or(rest);
    let rest = ["date_", "time_", "clear_"].iter().find_map(|p| rest.strip_prefix(p)).unwrap_or(rest);
    let rest = crate::blockkit::field_of(rest);
    (!rest.is_empty()).then_some(rest)
}

pub(super) fn is_key_event_action(action_id: &str) -> bool {
    key_event_type(action_id).is_some()
}

/// The message, from what it shows.
#[must_use]
pub fn render(
    incident: &IncidentView,
    types: &[KeyEventTypeView],
    recorded: &HashMap<String, NaiveDateTime>,
    blockers: &[CloseBlocker],
    time_zone: chrono_tz::Tz,
) -> OutgoingMessage {
    use chrono::TimeZone;
    let mut blocks = vec![header(":stopwatch:  Key events time")];
    for kind in types.iter().filter(|kind| kind.asked_for) {
        let value = recorded.get(&kind.event_type);
        let optional = if kind.required { "" } else { " _(optional)_" };
        if kind.user_editable {
            blocks.push(section(&format!("*{}*{optional}\n{}", kind.name, kind.summary)));
            let field = Field::new(
                &format!("key_event_{}", kind.event_type),
                &kind.name,
                Kind::DateTime { initial: value.map(|at| at.and_utc().timestamp()) },
            );
            let stamp = value.map(|at| at.and_utc().timestamp().to_string()).unwrap_or_default();
            blocks.push(field.actions(&stamp));
        } else {
            let shown = value.map_or_else(
                || "Not set".to_owned(),
                |at| time_zone.from_utc_datetime(at).format("%Y-%m-%d %H:%M %Z").to_string(),
            );
            blocks.push(section(&format!("*{}*\n{shown}", kind.name)));
        }
    }
    let missing: Vec<&str> = types
        .iter()
        .filter(|kind| kind.required && !recorded.contains_key(&kind.event_type))
        .map(|kind| kind.name.as_str())
        .collect();
    if !missing.is_empty() && incident.priority.value <= 3 {
        blocks.push(section(&format!(
            ":warning: Some required key events are missing: {}. Once all of them are set, you'll be able to \
             close this incident.",
            missing.join(", ")
        )));
    } else if blockers.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": ":white_check_mark: All required key events have been submitted. The incident can be closed."},
            "accessory": button("Close incident", "close_incident", &incident.id.0.to_string(), true)}));
    } else {
        let reasons: Vec<String> = blockers
            .iter()
            .filter(|b| b.code != "MISSING_REQUIRED_KEY_EVENTS")
            .map(|b| format!("• {}", b.message))
            .collect();
        blocks.push(section(&format!(
            ":white_check_mark: All required key events have been submitted. Before the incident can close:\n{}",
            reasons.join("\n")
        )));
    }
    blocks.push(context(&format!(
        "Last update: {}",
        time_zone.from_utc_datetime(&incidents_core::clock::now()).format("%Y-%m-%d %H:%M %Z")
    )));
    OutgoingMessage {
        text: "Key events of the incident".to_owned(),
        blocks: Some(Value::Array(blocks)),
        metadata: Some((
            kind::KEY_EVENTS.to_owned(),
            json!({"ff_type": kind::KEY_EVENTS, "incident_id": incident.id.0}),
        )),
    }
}

/// The message for `incident`, as it stands.
///
/// # Errors
/// A storage failure.
pub fn message(
    database: &Database,
    lifecycle: &platform::Lifecycle,
    incident: &IncidentView,
    time_zone: chrono_tz::Tz,
) -> Result<OutgoingMessage, LifecycleError> {
    use incidents_core::IncidentStore as _;
    let types = database.key_event_types()?;
    let id = incident.id;
    let recorded = lifecycle.store().read(&mut |tx| Ok(tx.key_events(id)?))?;
    let blockers = lifecycle.close_blockers(id)?;
    Ok(render(incident, &types, &recorded, &blockers, time_zone))
}

impl Interactions {
    /// A key event's picker changed in the channel's message.
    pub(super) fn key_event_changed(&self, who: &Who, payload: &Value, action: &Value) -> Reply {
        let action_id = text_of(action, "/action_id").unwrap_or_default();
        let Some(event_type) = key_event_type(action_id).map(str::to_owned) else { return Reply::ack() };
        let Some(incident) = self.incident_of(payload) else {
            return Reply::ack().then(who.tell(":x: This message is not about an incident this app knows."));
        };
        let at = match read_element(action) {
            Some(Input::DateTime(Some(seconds))) => {
                chrono::DateTime::from_timestamp(seconds, 0).map(|at| at.naive_utc())
            }
            _ if action_id.contains("_clear_") => None,
            _ => return Reply::ack(),
        };
        let actor: Actor = match self.actor(who, Intent::Update, Some(incident.id)) {
            Ok(actor) => actor,
            Err(refusal) => return Reply::ack().then(who.tell(refusal.0)),
        };
        match self.lifecycle.set_key_events(actor, IncidentId(incident.id.0), &[(event_type.clone(), at)]) {
            Ok(()) | Err(LifecycleError::NothingToUpdate) => Reply::ack(),
            Err(error) => {
                Reply::ack().then(who.tell(format!(
                    ":x: The key event *{event_type}* was not saved: {error} ({})",
                    error.code()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picker_action_ids_name_their_key_event() {
        assert_eq!(key_event_type("key_event_recovered"), Some("recovered"));
        assert_eq!(key_event_type("key_event_recovered___1700000000"), Some("recovered"));
        assert_eq!(key_event_type("key_event_date_detected"), Some("detected"));
        assert_eq!(key_event_type("post_mortem_milestone_clear_started"), Some("started"));
        assert_eq!(key_event_type("key_event"), None);
        assert_eq!(key_event_type("close_incident"), None);
    }
}
