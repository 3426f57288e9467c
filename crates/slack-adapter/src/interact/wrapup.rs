//! Ending an incident another way (§7.12, §7.15): the post-mortem modal (where it is, when it will
//! be made, or a button to ask for it now) and the downgrade workflow, which closes a critical
//! incident as a regular one.

use incidents_core::incident::UpdateIncident;
use incidents_core::query::IncidentView;
use incidents_core::workflow::PostMortemState;
use incidents_core::{IncidentId, IncidentStatus, LifecycleError};
use serde_json::{Value, json};

use super::{Intent, Interactions, Refusal, Reply, Who, button, divider, section, text_of};
use crate::blockkit::modal;

impl Interactions {
    /// §7.12, no submit: the incident's post-mortem, or when it will be made, or a button to ask for
    /// it now.
    pub(super) fn postmortem_view(&self, incident: &IncidentView) -> Result<Value, Refusal> {
        let id = incident.id.0.to_string();
        let (needed, state) = self
            .lifecycle
            .postmortem(incident.id)
            .map_err(|error| Refusal::unexpected("reading the post-mortem", &error))?;
        let mut blocks = Vec::new();
        match &state {
            PostMortemState::Ready { key } => {
                blocks.push(section(&format!("Post-mortem for incident #{id}:\n• {key} (ready)")));
            }
            PostMortemState::NotReady { key, status } => {
                blocks.push(section(&format!("Post-mortem for incident #{id}:\n• {key} (status: {status})")));
            }
            PostMortemState::Unknown { error } => blocks.push(section(&format!(
                "The post-mortem of incident #{id} could not be checked: {}",
                crate::messages::escape(error)
            ))),
            PostMortemState::NotLinked if !self.lifecycle.postmortems_configured() => {
                blocks.push(section(&format!(
                    "{} keeps no post-mortems here: no post-mortem integration (Confluence or Jira) is \
                     configured. Write it where your team keeps them, and link it from the incident.",
                    self.settings.app_name
                )));
            }
            PostMortemState::NotLinked if needed && incident.status < IncidentStatus::Mitigated => {
                blocks.push(section(
                    "The post-mortem will be automatically created when the incident reaches *Mitigated* status.",
                ));
            }
            PostMortemState::NotLinked => {
                let text = if needed {
                    "The post-mortem was not automatically created. You can create it now."
                } else {
                    "A post-mortem is not mandatory for this incident's priority, but you can create one if you \
                     think it is worth it."
                };
                blocks.push(section(text));
                blocks.push(json!({"type": "actions", "block_id": "postmortem_actions", "elements": [
                    button("Create post-mortem now", "incident_create_postmortem_now", &id, true)]}));
            }
        }
        blocks.push(divider());
        blocks.push(self.footer());
        Ok(modal("incident_create_postmortem", "Postmortem", None, Some("Close"), blocks, &id))
    }

    /// The "Create post-mortem now" button: asks the post-mortem integration for one (an
    /// `incident_updated` event with `event_type` `postmortem_requested`).
    pub(super) fn create_postmortem_now(&self, who: &Who, payload: &Value) -> Reply {
        let Some(incident) = self.incident_of(payload) else {
            return Reply::ack().then(who.tell(":x: This incident no longer exists."));
        };
        if incident.status < IncidentStatus::Mitigated {
            return Reply::ack().then(who.tell(format!(
                ":x: Post-mortem can only be created when the incident is at least *Mitigated* (current status: *{}*).",
                incident.status.label()
            )));
        }
        if !self.lifecycle.postmortems_configured() {
            return Reply::ack().then(who.tell(
                ":warning: No post-mortem was created: no post-mortem integration (Confluence or Jira) is configured.",
            ));
        }
        let actor = match self.actor(who, Intent::Update, Some(incident.id)) {
            Ok(actor) => actor,
            Err(refusal) => return Reply::ack().then(who.tell(refusal.0)),
        };
        let request = UpdateIncident {
            message: Some("Post-mortem requested".to_owned()),
            event_type: Some("postmortem_requested".to_owned()),
            ..UpdateIncident::default()
        };
        let text = match self.lifecycle.update(actor, incident.id, &request) {
            Ok(_) => ":white_check_mark: Post-mortem requested: it is linked to the incident once created."
                .to_owned(),
            Err(error) => Refusal::unexpected("asking for the post-mortem", &error).0,
        };
        Reply::ack().then(who.tell(text))
    }

    /// §7.15.
    pub(super) fn downgrade_view(&self, incident: &IncidentView) -> Value {
        let id = incident.id.0.to_string();
        let title = "Mark as regular incident";
        if incident.status == IncidentStatus::Closed {
            let blocks =
                vec![section(&format!("Incident #{id} is already closed.")), divider(), self.footer()];
            return modal("incident_downgrade_workflow", title, None, Some("Close"), blocks, &id);
        }
        let channel = self.store.channel_of(incident.id.0).ok().flatten().map_or_else(
            || "the incident's channel".to_owned(),
            |channel| format!("<#{}>", channel.channel_id),
        );
        let blocks = vec![
            section(&format!("By clicking this button you will close incident #{id}.")),
            section(&format!(
                "It will:\n- Archive {channel}\n- Remove it from the critical incidents\n- Keep it as a regular \
                 incident, with its history and its ticket if it has one."
            )),
            divider(),
            self.footer(),
        ];
        modal("incident_downgrade_workflow", title, Some(title), Some("Cancel"), blocks, &id)
    }

    pub(super) fn submit_downgrade(&self, who: &Who, payload: &Value) -> Reply {
        let Some(id) = text_of(payload, "/view/private_metadata").and_then(super::metadata_incident) else {
            return Reply::ack().then(who.tell(":x: This incident no longer exists."));
        };
        let actor = match self.actor(who, Intent::Close, Some(IncidentId(id))) {
            Ok(actor) => actor,
            Err(refusal) => return Reply::ack().then(who.tell(refusal.0)),
        };
        let message = "Incident channel closed: the incident is followed as a regular incident.";
        match self.lifecycle.downgrade(actor, IncidentId(id), Some(message)) {
            Ok(_) => Reply::ack(),
            Err(LifecycleError::Invalid { code: "ALREADY_CLOSED", .. }) => {
                Reply::ack().then(who.tell(format!("Incident #{id} is already closed.")))
            }
            Err(error) => Reply::ack().then(who.tell(Refusal::unexpected("closing the incident", &error).0)),
        }
    }
}
