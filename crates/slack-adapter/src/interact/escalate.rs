//! Getting more people on an incident (§7.13, §7.14): the SOS modal asks a team for help in its
//! conversation; the on-call modal pages a service's on-call through the paging port (PagerDuty), and
//! says why it cannot when no paging integration is configured.
//!
//! Both are checked in the request (the person, the choice) and done right after by a durable job:
//! Slack's and the paging service's calls never hold the answer, and nothing acknowledged is lost.

use incidents_core::incident::UpdateIncident;
use incidents_core::paging::{PageRequest, PagingError};
use incidents_core::query::IncidentView;
use incidents_core::{Actor, EntryPoint, IncidentId, LifecycleError, UserId};
use jobs::JobError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::manage::{Submitted, refusal_on};
use super::{Durable, Intent, Interactions, Refusal, Reply, Who, divider, section, text_of};
use crate::blockkit::{Choice, Field, Form, Kind, modal};
use crate::messages::escape;
use crate::sos::SendSosJob;

/// A page chosen in the on-call modal, to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerOncallJob {
    /// The submission (view id and hash): paged once.
    pub submission: String,
    pub incident_id: i64,
    pub service_id: String,
    /// The person paging: a product user id, their Slack id (told if paging fails) and how the
    /// paging service records them.
    pub user_id: String,
    pub slack_user: String,
    pub requester: String,
}

impl jobs::Job for TriggerOncallJob {
    const NAME: &'static str = "slack.trigger_oncall";
    const QUEUE: &'static str = "slack_events";
    fn idempotency_key(&self) -> String {
        format!("slack-oncall:{}", self.submission)
    }
}

/// A submission's identity: its view and the view's version.
fn submission(payload: &Value) -> String {
    format!(
        "{}:{}",
        text_of(payload, "/view/id").unwrap_or_default(),
        text_of(payload, "/view/hash").unwrap_or_default()
    )
}

/// Stores `job` with the answer (an error on `block` if it cannot be).
fn durable<J: jobs::Job>(job: &J, block: &str) -> Reply {
    match jobs::Enqueue::new(job) {
        Ok(job) => {
            Reply { durable: Some(Box::new(Durable { job, block: block.to_owned() })), ..Reply::ack() }
        }
        Err(error) => refusal_on(block, &Refusal::unexpected("saving your request", &error)),
    }
}

impl Interactions {
    fn sos_form(&self) -> Result<Form, Refusal> {
        let targets =
            self.store.sos_targets().map_err(|e| Refusal::unexpected("listing the SOS targets", &e))?;
        let choices =
            targets.iter().map(|target| Choice::new(target.id.to_string(), target.label())).collect();
        Ok(Form {
            fields: vec![Field::new("sos", "SOS", Kind::Select { choices, groups: vec![], initial: None })],
        })
    }

    /// §7.13.
    pub(super) fn sos_view(&self, incident: &IncidentView) -> Result<Value, Refusal> {
        let id = incident.id.0.to_string();
        let form = self.sos_form()?;
        let empty = matches!(&form.fields[0].kind, Kind::Select { choices, .. } if choices.is_empty());
        let mut blocks = vec![section(
            ":bulb: You are about to request help from another team for this incident: choose who. They will be \
             asked to join the incident's channel.",
        )];
        if empty {
            blocks.push(section(&format!(
                ":warning: No SOS is configured yet! An administrator adds them with `firefighter-server slack sos` \
                 or `PUT /api/v2/firefighter/slack/sos/{{name}}` (see the {} documentation).",
                self.settings.app_name
            )));
        } else {
            blocks.push(form.fields[0].input(""));
        }
        blocks.push(divider());
        blocks.push(self.footer());
        let submit = (!empty).then_some("Send SOS");
        Ok(modal("incident_send_sos", &format!("Get help for #{id}"), submit, Some("Cancel"), blocks, &id))
    }

    pub(super) fn submit_sos(&self, who: &Who, payload: &Value) -> Reply {
        let Submitted { incident, values, actor, .. } =
            match self.prepare(who, payload, "sos", Intent::Update, |_| self.sos_form()) {
                Ok(submitted) => submitted,
                Err(reply) => return reply,
            };
        let Some(sos_id) = values.choice("sos").and_then(|id| id.parse().ok()) else {
            return refusal_on("sos", &Refusal("Select a valid choice.".to_owned()));
        };
        let job = SendSosJob {
            submission: submission(payload),
            incident_id: incident.id.0,
            sos_id,
            user_id: actor.user.to_string(),
        };
        durable(&job, "sos")
    }

    fn oncall_form(&self, incident: &IncidentView) -> Result<(Form, Vec<String>), Refusal> {
        let failed = |error: &PagingError| Refusal::unexpected("listing the on-call services", error);
        let pages = self.paging.pages(incident.id).map_err(|e| failed(&e))?;
        let services = self.paging.services().map_err(|e| failed(&e))?;
        let choices = services
            .iter()
            .filter(|service| !pages.iter().any(|page| page.service.id == service.id))
            .map(|service| Choice::new(&service.id, &service.name))
            .collect();
        let triggered = pages
            .iter()
            .map(|page| {
                let service = page.service.url.as_ref().map_or_else(
                    || escape(&page.service.name),
                    |url| format!("<{url}|{}>", escape(&page.service.name)),
                );
                let reference = page.url.as_ref().map_or_else(
                    || format!("_{}_", escape(&page.reference)),
                    |url| format!("<{url}|{}>", escape(&page.reference)),
                );
                format!("- {service}: {reference}")
            })
            .collect();
        let field = Field::new(
            "oncall_service",
            "Service to page",
            Kind::Select { choices, groups: vec![], initial: None },
        );
        Ok((Form { fields: vec![field] }, triggered))
    }

    /// §7.14; without a paging integration, why on-call cannot be paged from here.
    pub(super) fn oncall_view(&self, incident: &IncidentView) -> Result<Value, Refusal> {
        let id = incident.id.0.to_string();
        let title = "Trigger on-call";
        if self.paging.platform() == "none" {
            let blocks = vec![
                section(&format!(
                    ":warning: {} cannot page on-call: no paging integration (PagerDuty) is configured. Page the \
                     on-call team the usual way, and ask an administrator to set up PagerDuty.",
                    self.settings.app_name
                )),
                divider(),
                self.footer(),
            ];
            return Ok(modal("incident_oncall_trigger", title, None, Some("Close"), blocks, &id));
        }
        let (form, triggered) = self.oncall_form(incident)?;
        let empty = matches!(&form.fields[0].kind, Kind::Select { choices, .. } if choices.is_empty());
        let mut blocks = vec![
            section(&format!(
                "You are about to trigger on-call for incident #{id}: the service's on-call person is paged and \
                 asked to join."
            )),
            divider(),
        ];
        if empty && triggered.is_empty() {
            blocks.push(section(
                ":warning: No on-call services are known yet: they appear once PagerDuty is synced.",
            ));
        } else if empty {
            blocks.push(section("Every known on-call service was already paged for this incident."));
        } else {
            blocks.push(form.fields[0].input(""));
        }
        if !triggered.is_empty() {
            blocks.push(divider());
            blocks.push(section(&format!("Already paged for this incident:\n{}", triggered.join("\n"))));
        }
        blocks.push(divider());
        blocks.push(self.footer());
        let submit = (!empty).then_some(title);
        Ok(modal("incident_oncall_trigger", title, submit, Some("Cancel"), blocks, &id))
    }

    pub(super) fn submit_oncall(&self, who: &Who, payload: &Value) -> Reply {
        let Submitted { incident, values, .. } =
            match self.prepare(who, payload, "oncall_service", Intent::Update, |incident| {
                self.oncall_form(incident).map(|(form, _)| form)
            }) {
                Ok(submitted) => submitted,
                Err(reply) => return reply,
            };
        let Some(service_id) = values.choice("oncall_service") else {
            return refusal_on("oncall_service", &Refusal("Select a service.".to_owned()));
        };
        // `prepare` resolved the person: known now, without a Slack call.
        let Some(principal) = self.known_principal(&who.slack_id) else {
            return refusal_on("oncall_service", &Refusal(":x: Your user could not be found.".to_owned()));
        };
        let user = &principal.user;
        let requester = if user.name.trim().is_empty() {
            user.email.clone()
        } else {
            format!("{} ({})", user.name, user.email)
        };
        let job = TriggerOncallJob {
            submission: submission(payload),
            incident_id: incident.id.0,
            service_id,
            user_id: user.id.to_string(),
            slack_user: who.slack_id.clone(),
            requester,
        };
        durable(&job, "oncall_service")
    }

    /// Pages the chosen service, then records it on the incident's timeline; if the paging service
    /// refuses, the person is told why.
    ///
    /// # Errors
    /// Retryable when the paging service or the database failed for now.
    pub fn trigger_oncall(&self, job: &TriggerOncallJob) -> Result<(), JobError> {
        use incidents_core::query::IncidentQueries as _;
        let retry = |error: &dyn std::fmt::Display| JobError::Retryable(error.to_string());
        let Some(incident) = self.database.incident(IncidentId(job.incident_id)).map_err(|e| retry(&e))?
        else {
            return Ok(());
        };
        let channel = self.store.channel_of(incident.id.0).map_err(|e| retry(&e))?;
        let conference_url = Some(channel.map_or_else(
            || crate::naming::status_page(&self.settings.base_url, &incident),
            |channel| format!("https://slack.com/app_redirect?channel={}", channel.channel_id),
        ));
        let request = PageRequest {
            incident_id: incident.id,
            service_id: job.service_id.clone(),
            dedup_key: format!(
                "{}-{}-{}",
                incident.created_at.format("%Y%m%d"),
                incident.id.0,
                job.service_id.to_lowercase()
            ),
            title: format!("#{} {}", incident.id.0, incident.title),
            description: incident.description.clone(),
            conference_url,
            triggered_by: job.requester.clone(),
        };
        let page = match self.paging.trigger(&request) {
            Ok(page) => page,
            Err(error) if error.is_retryable() => return Err(retry(&error)),
            Err(error) => {
                let text = format!(
                    ":x: Unexpected error when paging on-call for incident #{}! Error: {error}",
                    incident.id.0
                );
                return self.tell(&job.slack_user, None, &text, false).map_err(|error| {
                    if error.is_retryable() { retry(&error) } else { JobError::Permanent(error.to_string()) }
                });
            }
        };
        let link = page.url.as_ref().map_or_else(String::new, |url| format!(" (<{url}|see the page>)"));
        let note = UpdateIncident {
            message: Some(format!(
                ":phone:  Triggered {} on-call on {}{link}  :phone:",
                page.service.name,
                paging_name(self.paging.platform())
            )),
            event_type: Some("trigger_oncall".to_owned()),
            ..UpdateIncident::default()
        };
        let user = job
            .user_id
            .parse()
            .map(UserId)
            .map_err(|_| JobError::Permanent(format!("not a user id: {}", job.user_id)))?;
        match self.lifecycle.update(Actor { user, entry_point: EntryPoint::Slack }, incident.id, &note) {
            Ok(_) | Err(LifecycleError::IncidentNotFound(_)) => Ok(()),
            Err(LifecycleError::Storage(error)) => Err(retry(&error)),
            Err(error) => Err(JobError::Permanent(error.to_string())),
        }
    }
}

/// The paging platform's name as people know it.
fn paging_name(platform: &str) -> String {
    match platform {
        "pagerduty" => "PagerDuty".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_submission_is_named_by_its_view_and_version() {
        let payload = json!({"view": {"id": "V1", "hash": "h2"}});
        assert_eq!(submission(&payload), "V1:h2");
        assert_eq!(paging_name("pagerduty"), "PagerDuty");
    }
}
