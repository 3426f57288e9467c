//! Slack's commands, shortcuts, buttons and modals (firefighter-slack.md §3–§7): declare, update,
//! edit, assign roles, record key events and close an incident without leaving Slack.
//!
//! Every request is answered at once, in the HTTP response: a command with its ephemeral reply, a
//! view submission with `errors`, `push`, `update`, `clear` or nothing. What needs a Slack call
//! (`views.open` with a trigger that expires in 3 s, `views.update` of the root of the open flow,
//! ephemeral messages) is returned as [`After`] and made right after the answer, off the request.
//! Every change goes through the lifecycle service, like the API's, so the rules and the error codes
//! are the same; a refusal becomes an error on the field it concerns, computed inside the request so
//! that Slack shows it.
//!
//! Who may do what follows the permission model: a Slack user is the product user linked to them
//! (made with the responder permissions on first sight); declaring needs `incidents.add_incident`,
//! everything else `incidents.change_incident`, and [`Policy`] narrows updates and closing to an
//! incident's members or role holders when configured.

pub mod apply;
pub mod escalate;
pub mod home;
pub mod keyevents;
mod manage;
pub mod open;
mod wrapup;

use std::sync::Arc;

use incidents_core::access::AccessRepository;
use incidents_core::access::{Action, Permission, Principal, Resource};
use incidents_core::query::{IncidentQueries, IncidentView};
use incidents_core::{Actor, EntryPoint, IncidentId, IncidentStore as _, UserId};
use serde_json::{Value, json};
use storage::Database;

use crate::channel::BotIdentity;
use crate::client::{OutgoingMessage, SlackClient, SlackError};
use crate::config::Policy;
use crate::store::SlackStore;

pub use manage::Target;

/// What the interactions need besides Slack and the database.
#[derive(Debug, Clone)]
pub struct InteractionSettings {
    pub app_name: String,
    pub app_emoji: String,
    pub base_url: String,
    pub time_zone: chrono_tz::Tz,
    /// The main command first, then its aliases.
    pub commands: Vec<String>,
    pub incident_help_guide_url: Option<String>,
    pub severity_help_guide_url: Option<String>,
    pub update_allowed: Policy,
    pub close_allowed: Policy,
}

/// Commands, shortcuts, buttons and modal submissions.
#[derive(Clone)]
pub struct Interactions {
    pub slack: Arc<SlackClient>,
    pub bot: Arc<BotIdentity>,
    pub store: SlackStore,
    pub database: Database,
    pub lifecycle: platform::Lifecycle,
    /// The on-call paging service (PagerDuty), or none.
    pub paging: Arc<dyn incidents_core::paging::PagingPort>,
    pub settings: Arc<InteractionSettings>,
}

impl std::fmt::Debug for Interactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interactions").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// A Slack call made right after the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Open {
        trigger_id: String,
        view: Value,
    },
    Push {
        trigger_id: String,
        view: Value,
    },
    Update {
        view_id: String,
        hash: Option<String>,
        view: Value,
    },
    /// An ephemeral message in `channel`, or a direct message (§5); `warn` adds the "could not answer
    /// in the channel" warning before a direct message that replaces an ephemeral one.
    Tell {
        user: String,
        channel: Option<String>,
        text: String,
        warn: bool,
    },
    /// Learn who a Slack user is (so that their submission needs no Slack call).
    Learn {
        user: String,
    },
}

/// The answer to a request: the HTTP body (none: an empty 200), a job to store before answering,
/// and the calls to make after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub body: Option<Value>,
    pub durable: Option<Box<Durable>>,
    pub after: Vec<After>,
}

/// A job the answer promises: stored (in a commit shared with concurrent requests) before the
/// answer goes; if it cannot be, the answer is an error on `block` instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Durable {
    pub job: jobs::Enqueue,
    pub block: String,
}

impl Reply {
    /// An empty acknowledgement.
    #[must_use]
    pub fn ack() -> Self {
        Self::default()
    }

    fn body(body: Value) -> Self {
        Self { body: Some(body), ..Self::default() }
    }

    fn then(mut self, after: After) -> Self {
        self.after.push(after);
        self
    }

    /// An ephemeral reply to a command.
    fn ephemeral(text: impl Into<String>, blocks: Option<Value>) -> Self {
        let mut body = json!({"response_type": "ephemeral", "text": text.into()});
        if let Some(blocks) = blocks {
            body["blocks"] = blocks;
        }
        Self::body(body)
    }
}

/// Who is acting and where.
#[derive(Debug, Clone, Default)]
pub(crate) struct Who {
    pub slack_id: String,
    pub channel: Option<String>,
    pub trigger_id: Option<String>,
}

impl Who {
    fn of(payload: &Value) -> Self {
        let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
        let channel = text("/channel/id").or_else(|| text("/container/channel_id"));
        Self { slack_id: text("/user/id").unwrap_or_default(), channel, trigger_id: text("/trigger_id") }
    }

    /// An ephemeral answer to this person.
    fn tell(&self, text: impl Into<String>) -> After {
        After::Tell {
            user: self.slack_id.clone(),
            channel: self.channel.clone(),
            text: text.into(),
            warn: true,
        }
    }
}

/// What a person wants to do to an incident, for the permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    View,
    Declare,
    Update,
    Close,
}

/// Why a person may not do something, in words for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal(pub String);

impl Refusal {
    fn unexpected(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "Slack interaction: {what}");
        Self(format!(":x: Something went wrong while {what}. Please try again in a moment."))
    }
}

fn text_of<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The incident id a `private_metadata` names: a plain id (legacy) or `{"incident_id": N, …}`.
#[must_use]
pub fn metadata_incident(metadata: &str) -> Option<i64> {
    let metadata = metadata.trim();
    if let Ok(id) = metadata.parse::<i64>() {
        return Some(id);
    }
    serde_json::from_str::<Value>(metadata).ok()?.get("incident_id")?.as_i64()
}

impl Interactions {
    /// The slash command (`/incident <text>`), routed as §3.1.
    #[must_use]
    pub fn command(&self, form: &[(String, String)]) -> Reply {
        let field = |name: &str| {
            form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).unwrap_or_default()
        };
        let command = field("command");
        if !self.settings.commands.iter().any(|known| known == command) {
            return Reply::ephemeral(format!("`{command}` is not a command of this app."), None);
        }
        let who = Who {
            slack_id: field("user_id").to_owned(),
            channel: Some(field("channel_id").to_owned()).filter(|c| !c.is_empty()),
            trigger_id: Some(field("trigger_id").to_owned()).filter(|t| !t.is_empty()),
        };
        let text = field("text").trim().to_lowercase();
        let incident = || who.channel.as_deref().and_then(|channel| self.incident_in(channel));
        let reply = match text.as_str() {
            "" | "help" => self.help(None),
            "open" => self.open_root(&who),
            "update" => self.show_target(&who, Target::Update, incident()),
            "edit" => self.show_target(&who, Target::Edit, incident()),
            "close" => self.show_target(&who, Target::Close, incident()),
            "status" => self.show_target(&who, Target::Status, incident()),
            "oncall" | "on-call" => self.show_target(&who, Target::OnCall, incident()),
            "postmortem" | "post-mortem" | "post mortem" | "pm" => {
                self.show_target(&who, Target::PostMortem, incident())
            }
            "sos" | "sre" | "sos-sre" | "sos sre" => self.show_target(&who, Target::Sos, incident()),
            "downgrade" | "convert" => self.show_target(&who, Target::Downgrade, incident()),
            unknown => {
                self.help(Some(&format!(":x: Unknown command `{}`!", crate::messages::escape(unknown))))
            }
        };
        reply.then(After::Learn { user: who.slack_id })
    }

    /// The help message (§3.1), after `first` when given.
    fn help(&self, first: Option<&str>) -> Reply {
        let settings = &self.settings;
        let command = settings.commands.first().map_or("/incident", String::as_str);
        let mut blocks = Vec::new();
        if let Some(first) = first {
            blocks.push(section(first));
        }
        blocks.push(section(&format!("*{} Commands Help*", settings.app_name)));
        let mut description = format!("{} is our tool for incident management", settings.app_name);
        if let Some(url) = &settings.incident_help_guide_url {
            description.push_str(&format!(", more about incidents is visible <{url}|here>"));
        }
        description.push('.');
        blocks.push(section(&description));
        let lines = [
            ("open", "Open a new incident"),
            ("update", "Update the status, priority, roles or details of an incident"),
            ("edit", "Edit the title, summary and environments of an incident"),
            ("close", "Close an incident"),
            ("status", "See the status of an incident"),
            ("oncall", "Page the on-call of a service for an incident"),
            ("postmortem", "See or create the post-mortem of an incident"),
            ("sos", "Ask another team for help on an incident"),
            ("downgrade", "Close a critical incident and follow it as a regular one"),
            ("help", "Show this help"),
        ];
        let list: Vec<String> =
            lines.iter().map(|(sub, what)| format!("• `{command} {sub}`: {what}")).collect();
        blocks.push(section(&list.join("\n")));
        blocks.push(context(
            ":bulb: A good incident response process involves great communication: update the incident as it \
             evolves, so everyone knows where it stands.",
        ));
        let text = first.map_or_else(
            || format!("{} help", settings.app_name),
            |first| format!("{first} {} help", settings.app_name),
        );
        Reply::ephemeral(text, Some(Value::Array(blocks)))
    }

    /// Interactivity: buttons and selects (`block_actions`), modal submissions and closings,
    /// shortcuts.
    #[must_use]
    pub fn interaction(&self, payload: &Value) -> Reply {
        let who = Who::of(payload);
        let reply = match text_of(payload, "/type").unwrap_or_default() {
            "block_actions" => self.block_action(&who, payload),
            "view_submission" => self.submission(&who, payload),
            "shortcut" | "message_action" => self.shortcut(&who, payload),
            // `view_closed` and anything else: nothing to do but acknowledge.
            _ => Reply::ack(),
        };
        let submitted = text_of(payload, "/type") == Some("view_submission");
        if who.slack_id.is_empty() || submitted {
            reply
        } else {
            reply.then(After::Learn { user: who.slack_id })
        }
    }

    fn shortcut(&self, who: &Who, payload: &Value) -> Reply {
        let incident = self.incident_of(payload);
        match text_of(payload, "/callback_id").unwrap_or_default() {
            "open_incident" | "open_incident_select_impact" => self.open_root(who),
            "update_incident_status" => self.show_target(who, Target::UpdateStatus, incident),
            "modal_edit" => self.show_target(who, Target::Edit, incident),
            "close_incident" => self.show_target(who, Target::Close, incident),
            "closure_reason_incident" => self.show_target(who, Target::ClosureReason, incident),
            "incident_status" => self.show_target(who, Target::Status, incident),
            "update_incident" => self.show_target(who, Target::Update, incident),
            "open_modal_create_postmortem" => self.show_target(who, Target::PostMortem, incident),
            "open_modal_incident_send_sos" => self.show_target(who, Target::Sos, incident),
            "open_modal_trigger_oncall" => self.show_target(who, Target::OnCall, incident),
            "open_modal_downgrade_workflow" => self.show_target(who, Target::Downgrade, incident),
            other => {
                tracing::info!(callback_id = other, "unknown Slack shortcut acknowledged");
                Reply::ack()
            }
        }
    }

    fn block_action(&self, who: &Who, payload: &Value) -> Reply {
        let Some(action) = payload.pointer("/actions/0") else { return Reply::ack() };
        let action_id = text_of(action, "/action_id").unwrap_or_default();
        let in_view = payload.get("view").is_some_and(|view| view.get("id").is_some());
        let target = |target: Target| {
            let incident = self.incident_of(payload);
            if in_view && action_id.starts_with("push_") {
                self.push_target(who, payload, target, incident)
            } else if in_view && action_id.starts_with("update_modal_") {
                self.update_target(payload, target, incident)
            } else {
                self.show_target(who, target, incident)
            }
        };
        match action_id {
            "open_incident" => self.open_root(who),
            "push_incident_select_impact" | "open_incident_select_impact" => self.push_impacts(who, payload),
            "push_incident_unified" | "open_incident_unified" => self.push_details(who, payload),
            "push_check_current_incidents" | "open_check_current_incidents" => self.push_recent(who, payload),
            id if id.starts_with("set_impact_type_") => self.impacts_changed(payload),
            "incident_update_select_incident" => self.incident_selected(payload),
            "update_incident" => target(Target::Update),
            "open_modal_incident_update_status"
            | "push_modal_incident_update_status"
            | "update_modal_incident_update_status" => target(Target::UpdateStatus),
            "open_modal_incident_update_roles"
            | "push_modal_incident_update_roles"
            | "update_modal_incident_update_roles" => target(Target::Roles),
            "open_modal_incident_edit" | "push_modal_incident_edit" | "update_modal_incident_edit" => {
                target(Target::Edit)
            }
            "close_incident" => target(Target::Close),
            "closure_reason_incident" => target(Target::ClosureReason),
            "incident_status" => target(Target::Status),
            "open_modal_create_postmortem" | "push_modal_create_postmortem" => target(Target::PostMortem),
            "incident_create_postmortem_now" => self.create_postmortem_now(who, payload),
            "open_modal_incident_send_sos"
            | "push_modal_incident_send_sos"
            | "update_modal_incident_send_sos" => target(Target::Sos),
            "open_modal_trigger_oncall" => target(Target::OnCall),
            "open_modal_downgrade_workflow"
            | "push_modal_downgrade_workflow"
            | "update_modal_downgrade_workflow" => target(Target::Downgrade),
            "app_home_incident_action" => match text_of(action, "/selected_option/value") {
                Some("update_status") => target(Target::UpdateStatus),
                _ => Reply::ack(),
            },
            id if keyevents::is_key_event_action(id) => self.key_event_changed(who, payload, action),
            "generate_dust_postmortem" => Reply::ack().then(who.tell(format!(
                "Generating a post-mortem draft with Dust is not part of {}.",
                self.settings.app_name
            ))),
            // `open_link…` buttons open a URL in the browser; Slack still wants an acknowledgement.
            _ => Reply::ack(),
        }
    }

    fn submission(&self, who: &Who, payload: &Value) -> Reply {
        let Some(view) = payload.get("view") else { return Reply::ack() };
        match text_of(view, "/callback_id").unwrap_or_default() {
            "incident_open" => self.submit_open(who, payload),
            "incident_select_impact" => self.submit_impacts(payload),
            "open_incident_unified" => self.submit_details(payload),
            "incident_update_status" => self.submit_update_status(who, payload),
            "incident_closure_reason" => self.submit_closure_reason(who, payload),
            "incident_close" => self.submit_close(who, payload),
            "incident_edit_incident" => self.submit_edit(who, payload),
            "incident_update_roles" => self.submit_roles(who, payload),
            "incident_send_sos" => self.submit_sos(who, payload),
            "incident_oncall_trigger" => self.submit_oncall(who, payload),
            "incident_downgrade_workflow" => self.submit_downgrade(who, payload),
            // Views without a submit button (update menu, status, select, recent incidents).
            _ => Reply::ack(),
        }
    }

    /// The incident a payload is about (§4): a chosen incident, a button's value, the modal's
    /// metadata, a select's state, the channel it comes from, a home-tab block.
    fn incident_of(&self, payload: &Value) -> Option<IncidentView> {
        let id = self.incident_id_of(payload)?;
        self.database.incident(IncidentId(id)).ok().flatten()
    }

    fn incident_id_of(&self, payload: &Value) -> Option<i64> {
        let actions = payload.get("actions").and_then(Value::as_array).cloned().unwrap_or_default();
        for action in &actions {
            let action_id = text_of(action, "/action_id").unwrap_or_default();
            if action_id == "incident_update_select_incident" {
                if let Some(id) = text_of(action, "/selected_option/value").and_then(|v| v.parse().ok()) {
                    return Some(id);
                }
            } else if action_id != "app_home_incident_action"
                && let Some(id) = text_of(action, "/value").and_then(|v| v.trim().parse().ok())
            {
                return Some(id);
            }
        }
        if let Some(id) = text_of(payload, "/view/private_metadata").and_then(metadata_incident) {
            return Some(id);
        }
        if let Some(state) = payload.pointer("/view/state/values/incident_update_select_incident")
            && let Some(element) = state.as_object().and_then(|actions| actions.values().next())
            && let Some(id) = text_of(element, "/selected_option/value").and_then(|v| v.parse().ok())
        {
            return Some(id);
        }
        for pointer in ["/channel/id", "/container/channel_id", "/channel_id"] {
            if let Some(channel) = text_of(payload, pointer)
                && let Some(incident) = self.incident_id_in(channel)
            {
                return Some(incident);
            }
        }
        for action in &actions {
            if let Some(id) = text_of(action, "/block_id")
                .and_then(|block| block.strip_prefix("app_home_incident_element_"))
                .and_then(|id| id.parse().ok())
            {
                return Some(id);
            }
        }
        None
    }

    fn incident_id_in(&self, channel: &str) -> Option<i64> {
        self.store.conversation(channel).ok().flatten().and_then(|conversation| conversation.incident_id)
    }

    fn incident_in(&self, channel: &str) -> Option<IncidentView> {
        self.incident_id_in(channel).and_then(|id| self.database.incident(IncidentId(id)).ok().flatten())
    }

    /// The person, made a user on first sight (a Slack call then), with what they may do.
    ///
    /// # Errors
    /// A refusal to show them: unknown to Slack, a bot, no e-mail address, or a failure.
    fn principal(&self, slack_id: &str) -> Result<Principal, Refusal> {
        let user = crate::people::resolve_user(&self.slack, &self.store, &self.lifecycle, slack_id)
            .map_err(|error| Refusal::unexpected("finding your user", &error))?
            .ok_or_else(|| {
                Refusal(format!(
                    ":x: {} could not find your user: Slack gives no e-mail address for you.",
                    self.settings.app_name
                ))
            })?;
        self.database
            .principal(user)
            .map_err(|error| Refusal::unexpected("finding your user", &error))?
            .ok_or_else(|| Refusal(":x: Your user no longer exists.".to_owned()))
    }

    /// The person's user if already known (no Slack call).
    fn known_principal(&self, slack_id: &str) -> Option<Principal> {
        let (id, _) = self.store.user_of(slack_id).ok().flatten()?;
        let id: UserId = id.parse().ok().map(UserId)?;
        self.database.principal(id).ok().flatten()
    }

    /// Whether `principal` may do `intent` to `incident`.
    fn allowed(
        &self,
        principal: &Principal,
        intent: Intent,
        incident: Option<IncidentId>,
    ) -> Result<(), Refusal> {
        let (permission, policy, verb) = match intent {
            Intent::View => {
                (Permission::new(Action::View, Resource::Incident), Policy::Anyone, "see incidents")
            }
            Intent::Declare => {
                (Permission::new(Action::Add, Resource::Incident), Policy::Anyone, "declare incidents")
            }
            Intent::Update => (
                Permission::new(Action::Change, Resource::Incident),
                self.settings.update_allowed,
                "update this incident",
            ),
            Intent::Close => (
                Permission::new(Action::Change, Resource::Incident),
                self.settings.close_allowed,
                "close this incident",
            ),
        };
        if !principal.can(permission) {
            return Err(Refusal(format!(
                ":no_entry: You may not {verb}: your user lacks the `{}` permission. Ask an administrator.",
                permission.codename()
            )));
        }
        if principal.user.is_superuser || policy == Policy::Anyone {
            return Ok(());
        }
        let Some(incident) = incident else { return Ok(()) };
        let user = principal.user.id;
        let allowed = self
            .lifecycle
            .store()
            .read(&mut |tx| {
                let holds_role = tx.roles(incident)?.iter().any(|(_, holder)| *holder == user);
                Ok(holds_role || (policy == Policy::Members && tx.is_member(incident, user)?))
            })
            .map_err(|error| Refusal::unexpected("checking who may act", &error))?;
        if allowed {
            Ok(())
        } else {
            Err(Refusal(format!(":no_entry: Only {} may {verb} from Slack.", policy.who())))
        }
    }

    /// The check made before a modal opens: on what is known without a Slack call (the submission
    /// checks again, with the user resolved).
    fn may_open(&self, who: &Who, intent: Intent, incident: Option<IncidentId>) -> Result<(), Refusal> {
        match self.known_principal(&who.slack_id) {
            Some(principal) => self.allowed(&principal, intent, incident),
            None => Ok(()),
        }
    }

    /// The actor of a submission, checked for `intent`.
    fn actor(&self, who: &Who, intent: Intent, incident: Option<IncidentId>) -> Result<Actor, Refusal> {
        let principal = self.principal(&who.slack_id)?;
        self.allowed(&principal, intent, incident)?;
        Ok(Actor { user: principal.user.id, entry_point: EntryPoint::Slack })
    }

    /// Opens `view` (or pushes it onto the modal the action came from).
    fn show(&self, who: &Who, payload: Option<&Value>, view: Value) -> Reply {
        let Some(trigger_id) = who.trigger_id.clone() else {
            return Reply::ack()
                .then(who.tell(":x: Slack sent no trigger to open a modal with. Please try again."));
        };
        let stacked = payload.is_some_and(|payload| payload.pointer("/view/id").is_some());
        Reply::ack().then(if stacked {
            After::Push { trigger_id, view }
        } else {
            After::Open { trigger_id, view }
        })
    }

    /// Replaces the modal a payload came from.
    fn replace(payload: &Value, view: Value) -> Reply {
        let Some(view_id) = text_of(payload, "/view/id").map(str::to_owned) else { return Reply::ack() };
        let hash = text_of(payload, "/view/hash").map(str::to_owned);
        Reply::ack().then(After::Update { view_id, hash, view })
    }

    /// Makes the Slack calls of a reply. Blocking: run it off the async threads.
    pub fn run_after(&self, after: Vec<After>) {
        for call in after {
            let outcome = match &call {
                After::Open { trigger_id, view } => self.view_call("views.open", trigger_id, None, view),
                After::Push { trigger_id, view } => self.view_call("views.push", trigger_id, None, view),
                After::Update { view_id, hash, view } => {
                    self.view_call("views.update", view_id, hash.as_deref(), view)
                }
                After::Tell { user, channel, text, warn } => self.tell(user, channel.as_deref(), text, *warn),
                After::Learn { user } => {
                    if self.store.user_of(user).ok().flatten().is_none()
                        && let Err(error) =
                            crate::people::resolve_user(&self.slack, &self.store, &self.lifecycle, user)
                    {
                        tracing::info!(%error, "could not learn about a Slack user yet");
                    }
                    Ok(())
                }
            };
            if let Err(error) = outcome {
                tracing::warn!(%error, call = ?std::mem::discriminant(&call), "a Slack call after an interaction failed");
            }
        }
    }

    fn view_call(
        &self,
        method: &'static str,
        id: &str,
        hash: Option<&str>,
        view: &Value,
    ) -> Result<(), SlackError> {
        let mut arguments = vec![("view", view.to_string())];
        if method == "views.update" {
            arguments.push(("view_id", id.to_owned()));
            if let Some(hash) = hash {
                arguments.push(("hash", hash.to_owned()));
            }
        } else {
            arguments.push(("trigger_id", id.to_owned()));
        }
        match self.slack.view(method, &arguments) {
            // Someone changed the view meanwhile: their version stands.
            Err(error) if error.is("hash_conflict") => Ok(()),
            other => other.map(drop),
        }
    }

    /// The original's `respond()` (§5): ephemeral in the channel, else a direct message.
    fn tell(&self, user: &str, channel: Option<&str>, text: &str, warn: bool) -> Result<(), SlackError> {
        let message = OutgoingMessage { text: text.to_owned(), blocks: None, metadata: None };
        if let Some(channel) = channel.filter(|c| !c.is_empty() && !c.starts_with('D')) {
            match self.slack.post_ephemeral(channel, user, &message) {
                Ok(()) => return Ok(()),
                Err(error) if !error.is_retryable() || matches!(error, SlackError::Api { .. }) => {
                    tracing::info!(%error, "could not answer in the channel; answering by direct message");
                }
                Err(error) => return Err(error),
            }
            if warn {
                let warning = OutgoingMessage {
                    text: format!(
                        ":warning: The bot could not respond in the channel you invoked it. Please add it to this \
                         channel or conversation if you want to interact with {} there.",
                        self.settings.app_name
                    ),
                    ..OutgoingMessage::default()
                };
                self.direct(user, &warning)?;
            }
        }
        self.direct(user, &message)
    }

    fn direct(&self, user: &str, message: &OutgoingMessage) -> Result<(), SlackError> {
        let channel = self.slack.open_direct(user)?;
        match self.slack.post_message(&channel, message) {
            Err(error) if error.is("messages_tab_disabled") => {
                tracing::warn!("Cannot send DM to user: their messages tab is disabled");
                Ok(())
            }
            other => other.map(drop),
        }
    }
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": crate::naming::shorten(text, 3000)}})
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": crate::naming::shorten(text, 3000)}]})
}

fn divider() -> Value {
    json!({"type": "divider"})
}

fn button(text: &str, action_id: &str, value: &str, primary: bool) -> Value {
    let mut button = json!({"type": "button", "text": {"type": "plain_text", "text": text, "emoji": true},
        "action_id": action_id, "value": value});
    if primary {
        button["style"] = json!("primary");
    }
    button
}

fn link_button(text: &str, url: &str) -> Value {
    json!({"type": "button", "text": {"type": "plain_text", "text": text, "emoji": true},
        "action_id": "open_link", "url": url})
}

fn header(text: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": text, "emoji": true}})
}
