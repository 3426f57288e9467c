//! The modals that run an incident (§7.5–§7.11): the update menu, update status (with the
//! closure-reason step and the close guard), closure reason, close (with what to fix first), edit,
//! roles and the status recap; and the select-incident fallback every one of them shows when run
//! outside an incident's channel.

use incidents_core::incident::UpdateIncident;
use incidents_core::query::{CategoryView, IncidentQueries, IncidentView, PageRequest};
use incidents_core::workflow::CloseBlocker;
use incidents_core::{ClosureReason, IncidentId, IncidentStatus, LifecycleError, UserId};
use serde_json::{Value, json};

use super::{
    Intent, Interactions, Refusal, Reply, Who, button, context, divider, header, link_button, section,
    text_of,
};
use crate::blockkit::{Choice, Errors, Field, Form, Kind, Values, modal, parse_state};
use crate::naming::{shorten, status_page};

/// A modal that needs an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Update,
    UpdateStatus,
    Roles,
    Edit,
    Close,
    ClosureReason,
    Status,
    PostMortem,
    Sos,
    OnCall,
    Downgrade,
}

impl Target {
    const ALL: [Self; 11] = [
        Self::Update,
        Self::UpdateStatus,
        Self::Roles,
        Self::Edit,
        Self::Close,
        Self::ClosureReason,
        Self::Status,
        Self::PostMortem,
        Self::Sos,
        Self::OnCall,
        Self::Downgrade,
    ];

    /// The modal's `callback_id`.
    #[must_use]
    pub const fn callback_id(self) -> &'static str {
        match self {
            Self::Update => "incident_update",
            Self::UpdateStatus => "incident_update_status",
            Self::Roles => "incident_update_roles",
            Self::Edit => "incident_edit_incident",
            Self::Close => "incident_close",
            Self::ClosureReason => "incident_closure_reason",
            Self::Status => "incident_status",
            Self::PostMortem => "incident_create_postmortem",
            Self::Sos => "incident_send_sos",
            Self::OnCall => "incident_oncall_trigger",
            Self::Downgrade => "incident_downgrade_workflow",
        }
    }

    fn of_callback(callback_id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|target| target.callback_id() == callback_id)
    }

    const fn intent(self) -> Intent {
        match self {
            Self::Status | Self::PostMortem => Intent::View,
            Self::Close | Self::ClosureReason | Self::Downgrade => Intent::Close,
            _ => Intent::Update,
        }
    }

    /// The select-incident fallback's title and prompt.
    const fn selection(self) -> (&'static str, &'static str) {
        match self {
            Self::Update | Self::UpdateStatus | Self::Roles => {
                ("Update incident", "Select a critical incident to update")
            }
            Self::Edit => ("Edit incident", "Select a critical incident to edit"),
            Self::Close => ("Close incident", "Select a critical incident to close"),
            Self::ClosureReason => {
                ("Close with Reason", "Select an incident to close with a specific reason")
            }
            Self::Status => ("Get incident status", "Select a critical incident to see its status"),
            Self::PostMortem => ("Postmortem", "Select a critical incident"),
            Self::Sos => ("Send SOS", "Select a critical incident for which you need help"),
            Self::OnCall => ("Trigger on-call", "Select a critical incident to trigger on-call for"),
            Self::Downgrade => {
                ("Select an incident", "Select a critical incident you want to make a regular one")
            }
        }
    }
}

/// A submission, checked: see [`Interactions::prepare`].
pub(super) struct Submitted {
    pub incident: IncidentView,
    pub form: Form,
    pub values: Values,
    pub actor: incidents_core::Actor,
}

/// A lifecycle refusal on the block it concerns (`fallback` when it concerns none of the form's).
fn refusal_errors(error: &LifecycleError, form: &Form, fallback: &str) -> Errors {
    use incidents_core::workflow::TransitionError;
    let block = match error {
        LifecycleError::Invalid { field, .. } => match *field {
            "priority_id" => "priority",
            "incident_category_id" => "incident_category",
            "environment_id" => "environment",
            other => other,
        },
        LifecycleError::Transition(
            TransitionError::JustificationRequired { .. } | TransitionError::ClosureMessageRequired,
        ) => {
            if form.field("closure_message").is_some() {
                "closure_message"
            } else {
                "message"
            }
        }
        LifecycleError::Transition(_) => "status",
        LifecycleError::CannotClose { .. } => "status",
        _ => fallback,
    };
    let block = if form.field(block).is_some() { block } else { fallback };
    let message = match error {
        LifecycleError::CannotClose { blockers } => format!(
            "Cannot close this incident:\n{}",
            blockers.iter().map(|b| format!("• {}", b.message)).collect::<Vec<_>>().join("\n")
        ),
        LifecycleError::Storage(_) => "Could not save right now. Please try again in a moment.".to_owned(),
        other => format!("{other} ({})", other.code()),
    };
    if matches!(error, LifecycleError::Storage(_)) {
        tracing::error!(%error, "a Slack submission could not be saved");
    }
    Errors::on(block, message)
}

pub(super) fn refusal_on(block: &str, refusal: &Refusal) -> Reply {
    Reply::body(Errors::on(block, refusal.0.clone()).response())
}

fn priority_label(priority: &incidents_core::query::PriorityView) -> String {
    format!("{}  {} - {}", priority.emoji, priority.name, priority.description)
}

pub(super) fn grouped(categories: &[CategoryView]) -> Vec<(String, Vec<Choice>)> {
    let mut sorted: Vec<&CategoryView> = categories.iter().collect();
    sorted.sort_by(|a, b| {
        (a.group.order, &a.group.name, a.order, &a.name).cmp(&(
            b.group.order,
            &b.group.name,
            b.order,
            &b.name,
        ))
    });
    let mut groups: Vec<(String, Vec<Choice>)> = Vec::new();
    for category in sorted {
        let choice = Choice::new(&category.id, &category.name);
        match groups.last_mut() {
            Some((name, choices)) if *name == category.group.name => choices.push(choice),
            _ => groups.push((category.group.name.clone(), vec![choice])),
        }
    }
    groups
}

pub(super) fn text(
    multiline: bool,
    min: usize,
    max: usize,
    placeholder: Option<&str>,
    initial: Option<&str>,
) -> Kind {
    Kind::Text {
        multiline,
        min,
        max,
        placeholder: placeholder.map(str::to_owned),
        initial: initial.filter(|text| !text.is_empty()).map(str::to_owned),
    }
}

/// The fields several forms share: an incident's title (10–128 characters), its summary (10–1,200),
/// its category (grouped), its environments.
pub(super) fn title_field(placeholder: Option<&str>, initial: Option<&str>) -> Field {
    Field::new("title", "Title", text(false, 10, 128, placeholder, initial))
}

pub(super) fn summary_field(placeholder: Option<&str>, initial: Option<&str>) -> Field {
    Field::new("description", "Summary", text(true, 10, 1200, placeholder, initial))
}

pub(super) fn category_field(categories: &[CategoryView], initial: Option<&str>) -> Field {
    Field::new(
        "incident_category",
        "Incident category",
        Kind::Select {
            choices: vec![],
            groups: grouped(categories),
            initial: initial.filter(|id| !id.is_empty()).map(str::to_owned),
        },
    )
}

pub(super) fn environments_field(
    environments: &[incidents_core::query::EnvironmentView],
    initial: Vec<String>,
) -> Field {
    Field::new(
        "environment",
        "Environments",
        Kind::MultiSelect {
            choices: environments
                .iter()
                .map(|e| Choice::new(&e.id, format!("{} - {}", e.value, e.description)))
                .collect(),
            initial,
        },
    )
}

impl Interactions {
    /// Shows the modal of `target` for `incident`, or the select-incident fallback without one.
    pub(super) fn show_target(&self, who: &Who, target: Target, incident: Option<IncidentView>) -> Reply {
        self.present(who, None, target, incident)
    }

    pub(super) fn push_target(
        &self,
        who: &Who,
        payload: &Value,
        target: Target,
        incident: Option<IncidentView>,
    ) -> Reply {
        self.present(who, Some(payload), target, incident)
    }

    pub(super) fn update_target(
        &self,
        payload: &Value,
        target: Target,
        incident: Option<IncidentView>,
    ) -> Reply {
        let view = match incident {
            None => self.select_view(target),
            Some(incident) => {
                self.view_for(target, &incident).unwrap_or_else(|refusal| self.notice(target, &refusal.0))
            }
        };
        Self::replace(payload, view)
    }

    fn present(
        &self,
        who: &Who,
        payload: Option<&Value>,
        target: Target,
        incident: Option<IncidentView>,
    ) -> Reply {
        let Some(incident) = incident else { return self.show(who, payload, self.select_view(target)) };
        if let Err(refusal) = self.may_open(who, target.intent(), Some(incident.id)) {
            return Reply::ack().then(who.tell(refusal.0));
        }
        match self.view_for(target, &incident) {
            Ok(view) => self.show(who, payload, view),
            Err(refusal) => Reply::ack().then(who.tell(refusal.0)),
        }
    }

    /// A person chose an incident in the select-incident fallback: the target modal replaces it.
    pub(super) fn incident_selected(&self, payload: &Value) -> Reply {
        let Some(target) = text_of(payload, "/view/callback_id").and_then(Target::of_callback) else {
            return Reply::ack();
        };
        let who = Who::of(payload);
        let incident = self.incident_of(payload);
        let view = match &incident {
            None => self.select_view(target),
            Some(incident) => match self.may_open(&who, target.intent(), Some(incident.id)) {
                Err(refusal) => self.notice(target, &refusal.0),
                Ok(()) => {
                    self.view_for(target, incident).unwrap_or_else(|refusal| self.notice(target, &refusal.0))
                }
            },
        };
        Self::replace(payload, view)
    }

    /// A modal without a submit button saying `text`.
    pub(super) fn notice(&self, target: Target, text: &str) -> Value {
        modal(target.callback_id(), target.selection().0, None, Some("Close"), vec![section(text)], "")
    }

    fn view_for(&self, target: Target, incident: &IncidentView) -> Result<Value, Refusal> {
        match target {
            Target::Update => Ok(self.update_menu(incident)),
            Target::UpdateStatus => self.update_status_view(incident),
            Target::Roles => self.roles_view(incident),
            Target::Edit => self.edit_view(incident),
            Target::ClosureReason => Ok(self.closure_reason_view(incident, &json!({}))),
            Target::Close => self.close_view(incident),
            Target::Status => self.status_view(incident),
            Target::PostMortem => self.postmortem_view(incident),
            Target::Sos => self.sos_view(incident),
            Target::OnCall => self.oncall_view(incident),
            Target::Downgrade => Ok(self.downgrade_view(incident)),
        }
    }

    /// The select-incident fallback (§4): the open critical incidents, newest first.
    fn select_view(&self, target: Target) -> Value {
        let (title, prompt) = target.selection();
        let filter = incidents_core::query::IncidentFilter {
            status_lt: Some(IncidentStatus::Closed),
            ..Default::default()
        };
        let incidents = self
            .database
            .incidents(&filter, incidents_core::query::OrderBy::default(), PageRequest::new(100, 0))
            .map(|page| page.items)
            .unwrap_or_default();
        let choices: Vec<Value> = incidents
            .iter()
            .filter(|incident| incident.priority.value <= 3 || target == Target::ClosureReason)
            .map(|incident| {
                Choice::new(incident.id.0.to_string(), format!("#{}: {}", incident.id.0, incident.title))
            })
            .map(|choice| {
                let label = if choice.label.chars().count() > 73 {
                    shorten(&choice.label, 73)
                } else {
                    choice.label.clone()
                };
                json!({"text": {"type": "plain_text", "text": label, "emoji": true}, "value": choice.value})
            })
            .collect();
        let mut blocks = vec![section(prompt)];
        if choices.is_empty() {
            blocks.push(section(":x: This command requires an active incident. Please create one first."));
        } else {
            blocks.push(
                json!({"type": "actions", "block_id": "incident_update_select_incident", "elements": [{
                "type": "static_select", "action_id": "incident_update_select_incident",
                "placeholder": {"type": "plain_text", "text": "Select an active incident"},
                "options": choices.into_iter().take(100).collect::<Vec<_>>()}]}),
            );
        }
        blocks.push(divider());
        blocks.push(self.footer());
        modal(target.callback_id(), title, None, Some("Close"), blocks, "")
    }

    /// The footer every modal ends with.
    pub(super) fn footer(&self) -> Value {
        let support = self
            .store
            .tagged("dev_firefighter")
            .ok()
            .and_then(|tagged| tagged.into_iter().next())
            .map(|conversation| format!(" Support and feedback in <#{}>.", conversation.channel_id))
            .unwrap_or_default();
        context(&format!(
            "{}  {} {}.{support}",
            self.settings.app_emoji,
            self.settings.app_name,
            env!("CARGO_PKG_VERSION")
        ))
    }

    /// §7.5: three ways to update.
    fn update_menu(&self, incident: &IncidentView) -> Value {
        let id = incident.id.0.to_string();
        let blocks = vec![
            section(&format!(
                "What do you want to update on incident #{id} _{}_?",
                crate::messages::escape(&incident.title)
            )),
            json!({"type": "actions", "block_id": "choose_update_type", "elements": [
                button("Update status", "push_modal_incident_update_status", &id, false),
                button("Update roles", "push_modal_incident_update_roles", &id, false),
                button("Edit meta", "push_modal_incident_edit", &id, false),
            ]}),
            divider(),
            self.footer(),
        ];
        modal("incident_update", &format!("Update incident #{id}"), None, Some("Close"), blocks, &id)
    }

    fn update_status_form(&self, incident: &IncidentView) -> Result<Form, Refusal> {
        let failed = |error: &dyn std::fmt::Display| Refusal::unexpected("preparing the form", error);
        let (current, transitions) = self.lifecycle.transitions(incident.id).map_err(|e| failed(&e))?;
        let mut statuses = vec![Choice::new(current.value().to_string(), current.label())];
        statuses.extend(
            transitions.iter().map(|(status, _)| Choice::new(status.value().to_string(), status.label())),
        );
        let priorities: Vec<Choice> = self
            .database
            .priorities()
            .map_err(|e| failed(&e))?
            .iter()
            .filter(|priority| priority.enabled_update || priority.id == incident.priority.id)
            .map(|priority| Choice::new(&priority.id, priority_label(priority)))
            .collect();
        let categories = self.database.categories(None).map_err(|e| failed(&e))?;
        Ok(Form {
            fields: vec![
                Field::new(
                    "message",
                    "Update message",
                    text(true, 10, 1200, Some("Please describe the new status for the incident. E.g: Fixed with instance reboot."), None),
                )
                .optional(),
                Field::new(
                    "status",
                    "Status",
                    Kind::Select { choices: statuses, groups: vec![], initial: Some(current.value().to_string()) },
                ),
                Field::new(
                    "priority",
                    "Priority",
                    Kind::Select { choices: priorities, groups: vec![], initial: Some(incident.priority.id.clone()) },
                ),
                category_field(&categories, Some(&incident.category.id)),
            ],
        })
    }

    /// §7.6.
    fn update_status_view(&self, incident: &IncidentView) -> Result<Value, Refusal> {
        let form = self.update_status_form(incident)?;
        let stamp = incident.version.to_string();
        let mut blocks = Vec::new();
        for field in &form.fields {
            blocks.push(field.input(&stamp));
            if field.name == "priority"
                && let Some(url) = &self.settings.severity_help_guide_url
            {
                blocks.push(context(&format!("<{url}|How to choose the priority?>")));
            }
        }
        blocks.push(divider());
        blocks.push(self.footer());
        let id = incident.id.0.to_string();
        Ok(modal(
            "incident_update_status",
            &format!("Update incident #{id}"),
            Some("Update incident"),
            None,
            blocks,
            &id,
        ))
    }

    /// The incident a submission is about: `Err` with the answer when there is none (or it cannot be
    /// read now).
    fn submitted_incident(&self, payload: &Value, block: &str) -> Result<IncidentView, Reply> {
        let gone = || Reply::body(Errors::on(block, "This incident no longer exists.").response());
        let id =
            text_of(payload, "/view/private_metadata").and_then(super::metadata_incident).ok_or_else(gone)?;
        match self.database.incident(IncidentId(id)) {
            Ok(Some(incident)) => Ok(incident),
            Ok(None) => Err(gone()),
            Err(error) => Err(refusal_on(block, &Refusal::unexpected("reading the incident", &error))),
        }
    }

    /// What a submission about an incident starts with: the incident, its form, the values checked
    /// against the form, and the person, allowed to do `intent`. `Err` is the answer when one of them
    /// fails (an error on `block`, or on the fields).
    pub(super) fn prepare(
        &self,
        who: &Who,
        payload: &Value,
        block: &str,
        intent: Intent,
        form: impl FnOnce(&IncidentView) -> Result<Form, Refusal>,
    ) -> Result<Submitted, Reply> {
        let incident = self.submitted_incident(payload, block)?;
        let form = form(&incident).map_err(|refusal| refusal_on(block, &refusal))?;
        let values = Self::validated(&form, payload)?;
        let actor =
            self.actor(who, intent, Some(incident.id)).map_err(|refusal| refusal_on(block, &refusal))?;
        Ok(Submitted { incident, form, values, actor })
    }

    pub(super) fn validated(form: &Form, payload: &Value) -> Result<Values, Reply> {
        let state = parse_state(payload.pointer("/view/state/values")).map_err(|_| {
            Reply::body(
                Errors::on(&form.fields[0].name, "Slack sent no values: please submit again.").response(),
            )
        })?;
        form.validate(&state).map_err(|errors| Reply::body(errors.response()))
    }

    /// §7.6 submission, on the hot path of an incident: the person, then the lifecycle checks the
    /// update (unknown priorities and categories, the transition, the close guard, with their codes);
    /// the update is applied right after the answer by a durable job. The choices are not read again:
    /// values equal to the incident's are no change.
    pub(super) fn submit_update_status(&self, who: &Who, payload: &Value) -> Reply {
        use incidents_core::workflow::TransitionError;
        let select = |name: &str, label: &str| {
            Field::new(name, label, Kind::Select { choices: vec![], groups: vec![], initial: None })
        };
        let form = Form {
            fields: vec![
                Field::new("message", "Update message", text(true, 10, 1200, None, None)).optional(),
                select("status", "Status"),
                select("priority", "Priority"),
                select("incident_category", "Incident category"),
            ],
        };
        let Some(id) = text_of(payload, "/view/private_metadata").and_then(super::metadata_incident) else {
            return refusal_on("status", &Refusal("This incident no longer exists.".to_owned()));
        };
        let values = match Self::validated(&form, payload) {
            Ok(values) => values,
            Err(reply) => return reply,
        };
        let Some(status) = values
            .choice("status")
            .and_then(|v| v.parse().ok())
            .and_then(|v| IncidentStatus::from_value(v).ok())
        else {
            return Reply::body(
                Errors::on(
                    "status",
                    "Select a valid choice. That choice is not one of the available choices.",
                )
                .response(),
            );
        };
        let intent = if status == IncidentStatus::Closed { Intent::Close } else { Intent::Update };
        let actor = match self.actor(who, intent, Some(IncidentId(id))) {
            Ok(actor) => actor,
            Err(refusal) => return refusal_on("status", &refusal),
        };
        let job = super::apply::ApplyUpdateJob {
            submission: format!(
                "{}:{}",
                text_of(payload, "/view/id").unwrap_or_default(),
                text_of(payload, "/view/hash").unwrap_or_default()
            ),
            incident_id: id,
            user_id: actor.user.to_string(),
            slack_user: who.slack_id.clone(),
            message: values.text("message"),
            status: Some(status.value()),
            priority_id: values.choice("priority"),
            category_id: values.choice("incident_category"),
        };
        // Checked now (a refusal shows on the form), applied right after by the job.
        match self.lifecycle.check_update(IncidentId(id), &job.command()) {
            Ok(()) => match jobs::Enqueue::new(&job) {
                Ok(job) => Reply {
                    durable: Some(Box::new(super::Durable { job, block: "status".into() })),
                    ..Reply::ack()
                },
                Err(error) => refusal_on("status", &Refusal::unexpected("saving the update", &error)),
            },
            Err(LifecycleError::NothingToUpdate) => Reply::ack(),
            Err(LifecycleError::Transition(TransitionError::ClosureReasonRequired { .. })) => {
                // Closing early needs a reason: the closure-reason step, carrying the other changes over.
                let incident = match self.database.incident(IncidentId(id)) {
                    Ok(Some(incident)) => incident,
                    Ok(None) => {
                        return refusal_on("status", &Refusal("This incident no longer exists.".to_owned()));
                    }
                    Err(error) => {
                        return refusal_on("status", &Refusal::unexpected("reading the incident", &error));
                    }
                };
                let mut carry = serde_json::Map::new();
                if let Some(priority) = job.priority_id.filter(|p| *p != incident.priority.id) {
                    carry.insert("priority_id".into(), json!(priority));
                }
                if let Some(category) = job.category_id.filter(|c| *c != incident.category.id) {
                    carry.insert("incident_category_id".into(), json!(category));
                }
                let view = self.closure_reason_view(&incident, &Value::Object(carry));
                Reply::body(json!({"response_action": "push", "view": view}))
            }
            Err(LifecycleError::IncidentNotFound(_)) => {
                refusal_on("status", &Refusal("This incident no longer exists.".to_owned()))
            }
            Err(error) => Reply::body(refusal_errors(&error, &form, "status").response()),
        }
    }

    fn closure_form(incident: &IncidentView) -> Form {
        let mut reasons = ClosureReason::early_closure_choices();
        if incident.status >= IncidentStatus::Mitigated {
            reasons.insert(0, ClosureReason::Resolved);
        }
        Form {
            fields: vec![
                Field::new(
                    "closure_reason",
                    "Closure reason",
                    Kind::Select {
                        choices: reasons.iter().map(|r| Choice::new(r.as_str(), r.label())).collect(),
                        groups: vec![],
                        initial: None,
                    },
                ),
                Field::new(
                    "closure_reference",
                    "Reference",
                    text(false, 0, 100, Some("e.g., #1234 or https://..."), None),
                )
                .optional()
                .hint("The incident this one duplicates, or a link explaining the closure."),
                Field::new(
                    "closure_message",
                    "Message",
                    text(true, 0, 1200, Some("Explain why the incident is closed."), None),
                ),
            ],
        }
    }

    /// §7.7: `carry_over` holds the changes of the update-status step (`priority_id`,
    /// `incident_category_id`).
    fn closure_reason_view(&self, incident: &IncidentView, carry_over: &Value) -> Value {
        let id = incident.id.0;
        let metadata = if carry_over.as_object().is_some_and(|carry| !carry.is_empty()) {
            json!({"incident_id": id, "carry_over": carry_over}).to_string()
        } else {
            id.to_string()
        };
        let mut blocks = vec![
            section(&format!(
                "*Closure Reason Required for Incident #{id}*\n_{}_",
                crate::messages::escape(&incident.title)
            )),
            context(&format!(
                ":warning: This incident is currently in *{}* status. A closure reason is required to close it \
                 now; the usual workflow goes through Mitigated.",
                incident.status.label()
            )),
            divider(),
        ];
        blocks.extend(Self::closure_form(incident).inputs(""));
        blocks.push(divider());
        blocks.push(self.footer());
        modal(
            "incident_closure_reason",
            &format!("Close #{id}"),
            Some("Close Incident"),
            None,
            blocks,
            &metadata,
        )
    }

    /// §7.7 submission.
    pub(super) fn submit_closure_reason(&self, who: &Who, payload: &Value) -> Reply {
        let Submitted { incident, form, values, actor } =
            match self.prepare(who, payload, "closure_message", Intent::Close, |incident| {
                Ok(Self::closure_form(incident))
            }) {
                Ok(submitted) => submitted,
                Err(reply) => return reply,
            };
        let carry = text_of(payload, "/view/private_metadata")
            .and_then(|metadata| serde_json::from_str::<Value>(metadata).ok())
            .and_then(|metadata| metadata.get("carry_over").cloned())
            .unwrap_or_default();
        let carried = |key: &str| carry.get(key).and_then(Value::as_str).map(str::to_owned);
        let reason = values.choice("closure_reason").and_then(|r| ClosureReason::parse(&r).ok());
        let message = values.text("closure_message");
        let reference = values.text("closure_reference");
        let command = UpdateIncident {
            status: Some(IncidentStatus::Closed),
            closure_reason: reason,
            closure_reference: reference.clone(),
            message: message.clone(),
            priority_id: carried("priority_id").filter(|p| *p != incident.priority.id),
            category_id: carried("incident_category_id").filter(|c| *c != incident.category.id),
            ..UpdateIncident::default()
        };
        match self.lifecycle.update(actor, incident.id, &command) {
            Ok(_) => {
                let mut text = format!(
                    ":white_check_mark: Incident #{} has been closed.\n*Reason:* {}\n*Message:* {}",
                    incident.id.0,
                    reason.map_or("", ClosureReason::label),
                    message.unwrap_or_default()
                );
                if let Some(reference) = reference {
                    text.push_str(&format!("\n*Reference:* {reference}"));
                }
                Reply::body(json!({"response_action": "clear"})).then(super::After::Tell {
                    user: who.slack_id.clone(),
                    channel: None,
                    text,
                    warn: false,
                })
            }
            Err(error) => Reply::body(refusal_errors(&error, &form, "closure_message").response()),
        }
    }

    fn close_form(&self, incident: &IncidentView) -> Result<Form, Refusal> {
        let categories =
            self.database.categories(None).map_err(|e| Refusal::unexpected("preparing the form", &e))?;
        Ok(Form {
            fields: vec![
                title_field(None, Some(&incident.title)),
                summary_field(None, Some(&incident.description)),
                Field::new("message", "Closing message", text(true, 10, 1200, Some("What fixed it?"), None))
                    .optional(),
                category_field(&categories, Some(&incident.category.id)),
            ],
        })
    }

    /// §7.8: the closure-reason step when closing early, what to fix first when the incident may not
    /// close yet, else the close form.
    fn close_view(&self, incident: &IncidentView) -> Result<Value, Refusal> {
        if matches!(incident.status, IncidentStatus::Open | IncidentStatus::Investigating) {
            return Ok(self.closure_reason_view(incident, &json!({})));
        }
        let id = incident.id.0;
        let blockers = self
            .lifecycle
            .close_blockers(incident.id)
            .map_err(|e| Refusal::unexpected("checking the incident", &e))?;
        if !blockers.is_empty() {
            let mut blocks = vec![
                section(
                    ":x: This incident can't be closed yet.\n:point_right: Please fix the following issues before closing it.",
                ),
                divider(),
            ];
            for blocker in &blockers {
                blocks.extend(self.blocker_blocks(incident, blocker));
            }
            blocks.push(divider());
            blocks.push(self.footer());
            return Ok(modal(
                "incident_close",
                &format!("Close incident #{id}"),
                None,
                Some("Close"),
                blocks,
                &id.to_string(),
            ));
        }
        let mut blocks = vec![context(
            ":warning: You're about to close this incident, which will archive its Slack channel. Make sure \
             everything is done.",
        )];
        blocks.extend(self.close_form(incident)?.inputs(""));
        blocks.push(divider());
        blocks.push(self.footer());
        Ok(modal(
            "incident_close",
            &format!("Close incident #{id}"),
            Some("Close incident"),
            None,
            blocks,
            &id.to_string(),
        ))
    }

    /// What one close blocker says, with the button that fixes it.
    fn blocker_blocks(&self, incident: &IncidentView, blocker: &CloseBlocker) -> Vec<Value> {
        let id = incident.id.0.to_string();
        let command = self.settings.commands.first().map_or("/incident", String::as_str);
        let update = button("Update status", "push_modal_incident_update_status", &id, true);
        let tip = context(&format!(":bulb: You can also use `{command} update` in the incident's channel."));
        match blocker.code {
            "MISSING_REQUIRED_KEY_EVENTS" => vec![
                section(":warning: *Missing required key events*"),
                context(&blocker.message),
                context(
                    "Please fill the required key events in the incident channel's *Key events* message, or on the incident page.",
                ),
                json!({"type": "actions", "elements": [link_button("Open the incident page", &status_page(&self.settings.base_url, incident))]}),
            ],
            "STATUS_NOT_MITIGATED" => vec![
                section(":warning: *Incident is not mitigated*"),
                context(&format!(
                    "{} You can only close an incident when its status is _Mitigated_ or _Post-mortem_.",
                    blocker.message
                )),
                json!({"type": "actions", "elements": [update]}),
                tip,
            ],
            "STATUS_NOT_POST_MORTEM" => vec![
                section(":warning: *Incident is not in Post-mortem status*"),
                context(&format!("{} Fill its post-mortem, then move it to _Post-mortem_.", blocker.message)),
                json!({"type": "actions", "elements": [update]}),
                tip,
            ],
            "POSTMORTEM_NOT_READY" => vec![
                section(":warning: *Post-mortem is not Ready*"),
                context(&blocker.message),
                json!({"type": "actions", "elements": [update]}),
            ],
            "POSTMORTEM_NOT_LINKED" => {
                vec![section(":warning: *No post-mortem linked*"), context(&blocker.message)]
            }
            "POSTMORTEM_STATUS_UNKNOWN" => {
                vec![section(":warning: *Could not verify post-mortem status*"), context(&blocker.message)]
            }
            _ => vec![section(&format!(":warning: {}", blocker.message))],
        }
    }

    /// §7.8 submission.
    pub(super) fn submit_close(&self, who: &Who, payload: &Value) -> Reply {
        let Submitted { incident, form, values, actor } =
            match self.prepare(who, payload, "title", Intent::Close, |incident| self.close_form(incident)) {
                Ok(submitted) => submitted,
                Err(reply) => return reply,
            };
        let command = UpdateIncident {
            status: Some(IncidentStatus::Closed),
            title: values.text("title").filter(|t| *t != incident.title),
            description: values.text("description").filter(|d| *d != incident.description),
            message: values.text("message"),
            category_id: values.choice("incident_category").filter(|c| *c != incident.category.id),
            ..UpdateIncident::default()
        };
        match self.lifecycle.update(actor, incident.id, &command) {
            Ok(_) => Reply::ack(),
            Err(error) => Reply::body(refusal_errors(&error, &form, "message").response()),
        }
    }

    fn edit_form(&self, incident: &IncidentView) -> Result<Form, Refusal> {
        let environments =
            self.database.environments().map_err(|e| Refusal::unexpected("preparing the form", &e))?;
        let chosen: Vec<String> = incident
            .custom_fields
            .get("environments")
            .and_then(Value::as_array)
            .map(|values| values.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
            // The declaration's list, while it still holds the incident's environment (an edit changes
            // the environment, not that list).
            .filter(|values| values.contains(&incident.environment.value))
            .unwrap_or_else(|| vec![incident.environment.value.clone()]);
        let initial: Vec<String> = environments
            .iter()
            .filter(|environment| chosen.contains(&environment.value))
            .map(|environment| environment.id.clone())
            .collect();
        Ok(Form {
            fields: vec![
                title_field(None, Some(&incident.title)),
                summary_field(None, Some(&incident.description)),
                environments_field(&environments, initial)
                    .hint("The incident's environment is the first of these in the environments' order."),
            ],
        })
    }

    /// §7.9.
    fn edit_view(&self, incident: &IncidentView) -> Result<Value, Refusal> {
        let form = self.edit_form(incident)?;
        let mut blocks = form.inputs("");
        blocks.push(divider());
        blocks.push(self.footer());
        let id = incident.id.0.to_string();
        Ok(modal(
            "incident_edit_incident",
            &format!("Update incident #{id}"),
            Some("Update incident"),
            None,
            blocks,
            &id,
        ))
    }

    /// §7.9 submission.
    pub(super) fn submit_edit(&self, who: &Who, payload: &Value) -> Reply {
        let Submitted { incident, form, values, actor } =
            match self.prepare(who, payload, "title", Intent::Update, |incident| self.edit_form(incident)) {
                Ok(submitted) => submitted,
                Err(reply) => return reply,
            };
        let chosen = values.choices("environment");
        let environment_id = self
            .database
            .environments()
            .ok()
            .and_then(|all| all.into_iter().filter(|e| chosen.contains(&e.id)).min_by_key(|e| e.order))
            .map(|e| e.id)
            .filter(|id| *id != incident.environment.id);
        let command = UpdateIncident {
            title: values.text("title").filter(|t| *t != incident.title),
            description: values.text("description").filter(|d| *d != incident.description),
            environment_id,
            ..UpdateIncident::default()
        };
        if command.title.is_none() && command.description.is_none() && command.environment_id.is_none() {
            return Reply::ack();
        }
        match self.lifecycle.update(actor, incident.id, &command) {
            Ok(_) | Err(LifecycleError::NothingToUpdate) => Reply::ack(),
            Err(error) => Reply::body(refusal_errors(&error, &form, "title").response()),
        }
    }

    fn roles_form(&self, incident: &IncidentView) -> Result<Form, Refusal> {
        let mut role_types =
            self.database.role_types().map_err(|e| Refusal::unexpected("preparing the form", &e))?;
        role_types.sort_by_key(|role| role.order);
        let fields = role_types
            .iter()
            .map(|role| {
                let holder = incident
                    .roles
                    .iter()
                    .find(|held| held.slug == role.slug)
                    .and_then(|held| self.store.slack_id_of(&held.user.id.to_string()).ok().flatten());
                let field =
                    Field::new(&format!("role_{}", role.slug), &role.name, Kind::User { initial: holder })
                        .hint(format!("{} {}", role.emoji, role.summary));
                if role.required { field } else { field.optional() }
            })
            .collect();
        Ok(Form { fields })
    }

    /// §7.10.
    fn roles_view(&self, incident: &IncidentView) -> Result<Value, Refusal> {
        let form = self.roles_form(incident)?;
        let mut blocks = form.inputs(&incident.version.to_string());
        blocks.push(divider());
        blocks.push(self.footer());
        let id = incident.id.0.to_string();
        Ok(modal(
            "incident_update_roles",
            &format!("Update roles for #{id}"),
            Some("Update roles"),
            None,
            blocks,
            &id,
        ))
    }

    /// §7.10 submission.
    pub(super) fn submit_roles(&self, who: &Who, payload: &Value) -> Reply {
        let incident = match self.submitted_incident(payload, "role_commander") {
            Ok(incident) => incident,
            Err(reply) => return reply,
        };
        let form = match self.roles_form(&incident) {
            Ok(form) => form,
            Err(refusal) => return Reply::ack().then(who.tell(refusal.0)),
        };
        let first = form.fields.first().map_or("role_commander", |f| f.name.as_str()).to_owned();
        let values = match Self::validated(&form, payload) {
            Ok(values) => values,
            Err(reply) => return reply,
        };
        let actor = match self.actor(who, Intent::Update, Some(incident.id)) {
            Ok(actor) => actor,
            Err(refusal) => return refusal_on(&first, &refusal),
        };
        let mut changes: Vec<(String, Option<UserId>)> = Vec::new();
        let mut errors = Errors::default();
        for field in &form.fields {
            let slug = field.name.trim_start_matches("role_").to_owned();
            let current = incident.roles.iter().find(|role| role.slug == slug).map(|role| role.user.id);
            let chosen = match values.user(&field.name) {
                None => None,
                Some(slack_id) => {
                    match crate::people::resolve_user(&self.slack, &self.store, &self.lifecycle, &slack_id) {
                        Ok(Some(user)) => Some(user),
                        Ok(None) => {
                            errors.add(&field.name, "This person cannot hold a role: Slack gives no e-mail address for them (a bot?).");
                            continue;
                        }
                        Err(error) => {
                            errors.add(&field.name, Refusal::unexpected("finding this person", &error).0);
                            continue;
                        }
                    }
                }
            };
            if chosen != current {
                changes.push((slug, chosen));
            }
        }
        if !errors.is_empty() {
            return Reply::body(errors.response());
        }
        if changes.is_empty() {
            return Reply::ack();
        }
        let block = format!("role_{}", changes[0].0);
        match self.lifecycle.set_roles(actor, incident.id, &changes) {
            Ok(()) | Err(LifecycleError::NothingToUpdate) => Reply::ack(),
            Err(error) => Reply::body(refusal_errors(&error, &form, &block).response()),
        }
    }

    /// §7.11: the status recap, read-only.
    fn status_view(&self, incident: &IncidentView) -> Result<Value, Refusal> {
        use chrono::TimeZone;
        let settings = &self.settings;
        let date = |at: chrono::NaiveDateTime| {
            settings.time_zone.from_utc_datetime(&at).format("%Y-%m-%d %H:%M %Z").to_string()
        };
        let now = incidents_core::clock::now();
        let person = |user: &incidents_core::query::UserView| {
            self.store
                .slack_id_of(&user.id.to_string())
                .ok()
                .flatten()
                .map_or_else(|| crate::messages::escape(&user.name), |id| format!("<@{id}>"))
        };
        let mut blocks = vec![
            header(":memo:  Key details"),
            json!({"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Opened:*\n{}", date(incident.created_at))},
                {"type": "mrkdwn", "text": format!("*Status:*\n{}", incident.status.label())},
                {"type": "mrkdwn", "text": format!("*Priority:*\n{} {}", incident.priority.emoji, incident.priority.name)},
                {"type": "mrkdwn", "text": format!("*Environment:*\n{}", incident.environment.value)},
                {"type": "mrkdwn", "text": format!("*Duration:*\n{}", humanise(now - incident.created_at))},
                {"type": "mrkdwn", "text": format!("*Status page:*\n<{}|{} Status Page>", status_page(&settings.base_url, incident), settings.app_name)},
            ]}),
            header(":busts_in_silhouette:  Key participants"),
        ];
        let mut lines: Vec<String> =
            incident.roles.iter().map(|role| format!("*{}*: {}", role.name, person(&role.user))).collect();
        lines.push(format!(":speaking_head_in_silhouette: *Reporter*: {}", person(&incident.created_by)));
        blocks.push(section(&lines.join("\n")));
        let timeline = self
            .database
            .timeline(incident.id, PageRequest::new(1000, 0))
            .map_err(|e| Refusal::unexpected("reading the timeline", &e))?;
        let last = timeline
            .items
            .iter()
            .filter(|entry| entry.message.as_deref().is_some_and(|m| !m.trim().is_empty()))
            .max_by_key(|entry| (entry.event_ts, entry.created_at));
        if let Some(entry) = last {
            blocks
                .push(header(&format!(":newspaper:  Last update ({} ago)", humanise(now - entry.event_ts))));
            let by =
                entry.author.as_ref().map(|author| format!(" by {}", person(author))).unwrap_or_default();
            blocks.push(context(&format!("Posted at {}{by}", date(entry.event_ts))));
            let quoted: Vec<String> = entry
                .message
                .as_deref()
                .unwrap_or_default()
                .lines()
                .map(|l| format!("> {}", crate::messages::escape(l)))
                .collect();
            blocks.push(section(&quoted.join("\n")));
        }
        Ok(modal(
            "incident_status",
            &format!("Incident #{} status", incident.id.0),
            None,
            Some("Close"),
            blocks,
            &incident.id.0.to_string(),
        ))
    }
}

/// A duration as people say it: "3 days, 2 hours", "5 minutes".
fn humanise(duration: chrono::TimeDelta) -> String {
    let minutes = duration.num_minutes().max(0);
    let (days, hours, minutes) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let unit = |n: i64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match (days, hours) {
        (0, 0) => unit(minutes, "minute"),
        (0, _) => format!("{}, {}", unit(hours, "hour"), unit(minutes, "minute")),
        _ => format!("{}, {}", unit(days, "day"), unit(hours, "hour")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_speech() {
        assert_eq!(humanise(chrono::TimeDelta::minutes(1)), "1 minute");
        assert_eq!(humanise(chrono::TimeDelta::minutes(125)), "2 hours, 5 minutes");
        assert_eq!(humanise(chrono::TimeDelta::minutes(1440 * 3 + 61)), "3 days, 1 hour");
    }

    #[test]
    fn every_target_names_its_modal() {
        for target in Target::ALL {
            assert_eq!(Target::of_callback(target.callback_id()), Some(target));
        }
    }
}
