//! Declaring an incident from Slack (§7.1–§7.4): a root modal and two pushed steps, impacts (the
//! priority follows every choice at once) and details (with the fields the impacts call for), then a
//! review that says what will happen, and the declaration through the lifecycle.
//!
//! The flow's state, [`Opening`], travels in the views' `private_metadata` (never in button values,
//! which Slack caps at 2,000 characters).

use std::collections::BTreeMap;

use incidents_core::ImpactLevelCode;
use incidents_core::incident::{DeclareIncident, Declared, PriorityChoice};
use incidents_core::query::{
    ImpactTypeView, IncidentFilter, IncidentQueries, IncidentView, OrderBy, PageRequest, PriorityView,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::manage::{category_field, environments_field, summary_field, text, title_field};
use super::{After, Intent, Interactions, Reply, Who, button, context, divider, section, text_of};
use crate::blockkit::{Choice, Errors, Field, Form, Kind, modal, parse_state, read_element};
use crate::naming::status_page;

/// The platforms an incident may affect (the original's choices).
const PLATFORMS: &[(&str, &str)] = &[
    ("platform-FR", "FR"),
    ("platform-DE", "DE"),
    ("platform-IT", "IT"),
    ("platform-ES", "ES"),
    ("platform-UK", "UK"),
    ("platform-ALL", "ALL"),
    ("platform-INTERNAL", "Internal"),
];

/// The open flow's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    /// Impact type value → chosen level id.
    #[serde(default)]
    pub impacts: BTreeMap<String, String>,
    #[serde(default)]
    pub details: Option<Details>,
    /// Where the flow was started, to confirm the declaration there.
    #[serde(default)]
    pub channel: Option<String>,
}

/// The details step's values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    pub category: String,
    pub environments: Vec<String>,
    pub platforms: Vec<String>,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub zendesk_ticket_id: Option<String>,
    #[serde(default)]
    pub seller_contract_id: Option<String>,
    #[serde(default)]
    pub is_key_account: bool,
    #[serde(default)]
    pub is_seller_in_golden_list: bool,
    #[serde(default)]
    pub zoho_desk_ticket_id: Option<String>,
}

/// The priority the impacts give, and whether the response is critical (a channel) or normal.
#[derive(Debug, Clone)]
struct Assessment {
    priority: PriorityView,
    critical: bool,
    /// `(impact type, level)` for each impact that is not "no impact".
    impacts: Vec<(String, String, Option<String>)>,
}

impl Opening {
    fn parse(metadata: Option<&str>) -> Self {
        metadata.and_then(|m| serde_json::from_str(m).ok()).unwrap_or_default()
    }

    fn metadata(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether an impact of `kind` (`customers_impact` …) was chosen and is not "no impact".
    fn affects(&self, types: &[ImpactTypeView], kind: &str) -> bool {
        let Some(level) = self.impacts.get(kind) else { return false };
        types
            .iter()
            .find(|t| t.value == kind)
            .and_then(|t| t.levels.iter().find(|l| l.id == *level))
            .is_some_and(|l| l.value != ImpactLevelCode::NoImpact.code())
    }
}

fn na_level(impact: &ImpactTypeView) -> Option<&str> {
    impact.levels.iter().find(|l| l.value == ImpactLevelCode::NoImpact.code()).map(|l| l.id.as_str())
}

impl Interactions {
    fn assess(&self, opening: &Opening, types: &[ImpactTypeView]) -> Option<Assessment> {
        let mut value = None::<i32>;
        let mut impacts = Vec::new();
        for impact in types {
            let Some(level) =
                opening.impacts.get(&impact.value).and_then(|id| impact.levels.iter().find(|l| l.id == *id))
            else {
                continue;
            };
            let Ok(code) = ImpactLevelCode::parse(&level.value) else { continue };
            if let Some(v) = code.priority_value() {
                value = Some(value.map_or(v, |current| current.min(v)));
                impacts.push((
                    impact.name.clone(),
                    level.name.clone().unwrap_or_else(|| code.label().to_owned()),
                    level.description.clone(),
                ));
            }
        }
        let value = value?;
        let priorities = self.database.priorities().ok()?;
        let priority =
            priorities.into_iter().filter(|p| p.value >= value).min_by_key(|p| (p.value, p.order))?;
        let critical = match priority.recommended_response_type.as_deref() {
            Some("critical") => true,
            Some("normal") => false,
            _ => priority.value < 4,
        };
        Some(Assessment { priority, critical, impacts })
    }

    fn assessment_lines(&self, assessment: &Assessment) -> String {
        let priority = &assessment.priority;
        let sla = if priority.sla_seconds > 0 {
            format!("{} minutes", priority.sla_seconds / 60)
        } else {
            "none".to_owned()
        };
        let process = if assessment.critical {
            ":slack: Slack :jira_new: Jira ticket"
        } else {
            ":jira_new: Jira ticket"
        };
        let mut lines = vec![
            format!("> {} Selected priority: *{} - {}*", priority.emoji, priority.name, priority.description),
            format!("> :stopwatch: SLA: {sla}"),
            format!("> :gear: Process: {process}"),
            "> :pushpin: Selected impacts:".to_owned(),
        ];
        for (kind, level, description) in &assessment.impacts {
            lines.push(format!(">     :exclamation: {kind} - {level}"));
            for line in description.as_deref().unwrap_or_default().lines().filter(|l| !l.trim().is_empty()) {
                lines.push(format!(">         • {}", line.trim()));
            }
        }
        if assessment.critical {
            let more = self
                .settings
                .severity_help_guide_url
                .as_ref()
                .map(|url| format!(" [<{url}|more info>]"))
                .unwrap_or_default();
            lines.push(format!("> :warning: Critical incidents are for *emergency* only{more}"));
        }
        lines.join("\n")
    }

    /// Critical incidents declared in the last hour, newest first.
    fn recent_critical(&self) -> Vec<IncidentView> {
        let filter = IncidentFilter {
            created_at_gte: Some(incidents_core::clock::now() - chrono::TimeDelta::hours(1)),
            ..IncidentFilter::default()
        };
        self.database
            .incidents(&filter, OrderBy::default(), PageRequest::new(100, 0))
            .map(|page| page.items.into_iter().filter(|i| i.priority.value <= 3).collect())
            .unwrap_or_default()
    }

    /// The root of the open flow (§7.1).
    pub(super) fn root_view(&self, opening: &Opening) -> Value {
        let types = self.database.impact_types().unwrap_or_default();
        let assessment = self.assess(opening, &types);
        let mut blocks = vec![section(&format!(
            "Hello and thanks for reporting a new incident! :beetle:\nDefine its impacts, then its details; {} \
             opens what it needs.",
            self.settings.app_name
        ))];
        let recent = self.recent_critical();
        if !recent.is_empty() {
            let same: Vec<&IncidentView> = opening
                .details
                .as_ref()
                .map(|d| recent.iter().filter(|i| i.category.id == d.category).collect())
                .unwrap_or_default();
            let text = if same.is_empty() {
                match recent.len() {
                    1 => "> :rotating_light: A critical incident has been created in the past hour. Is yours the same?".to_owned(),
                    n => format!("> :rotating_light: {n} critical incidents have been created in the past hour. Is yours one of them?"),
                }
            } else {
                let list: Vec<String> = same
                    .iter()
                    .take(5)
                    .map(|i| {
                        format!(
                            "> • <{}|#{} {}> ({})",
                            status_page(&self.settings.base_url, i),
                            i.id.0,
                            crate::messages::escape(&i.title),
                            i.status.label()
                        )
                    })
                    .collect();
                format!(
                    "> :rotating_light: *Critical incidents of the same category were declared in the past hour:*\n{}\n> Please check yours is not one of them.",
                    list.join("\n")
                )
            };
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text},
                "accessory": button("Check incidents", "push_check_current_incidents", "recent", false)}));
        }
        blocks.push(divider());
        let impacts_done = assessment.is_some();
        blocks.push(json!({"type": "section", "block_id": "step_impacts",
            "text": {"type": "mrkdwn", "text": format!("{} First, define the incident impacts and priority.", if impacts_done { ":white_check_mark:" } else { ":memo:" })},
            "accessory": button(if impacts_done { "Edit impacts" } else { "Set impacts" }, "push_incident_select_impact", "impacts", !impacts_done)}));
        if let Some(assessment) = &assessment {
            blocks.push(context(&self.assessment_lines(assessment)));
            let details_done = opening.details.is_some();
            blocks.push(json!({"type": "section", "block_id": "step_details",
                "text": {"type": "mrkdwn", "text": format!("{} Finally, add incident details.", if details_done { ":white_check_mark:" } else { ":memo:" })},
                "accessory": button(if details_done { "Edit details" } else { "Set details" }, "push_incident_unified", "details", !details_done)}));
            if let Some(details) = &opening.details {
                blocks.push(divider());
                let text = if assessment.critical {
                    let public_p1 = assessment.priority.value <= 1;
                    let responders =
                        self.store.responders(&details.category, public_p1).map(|r| r.len()).unwrap_or(0) + 1;
                    format!(
                        ":tada: Almost done! Click the button below to create the incident.\n> :slack: A dedicated Slack \
                         channel will be created, and around {responders} responders will be invited to help.\n> \
                         :jira_new: An associated Jira ticket will also be created when Jira is configured."
                    )
                } else {
                    ":tada: Almost done! Click the button below to create the incident.\n> :jira_new: A Jira ticket will be \
                     created when Jira is configured."
                        .to_owned()
                };
                blocks.push(section(&text));
            }
        }
        let submit = (assessment.is_some() && opening.details.is_some()).then_some("Create the incident");
        let mut view =
            modal("incident_open", "Create an incident", submit, Some("Cancel"), blocks, &opening.metadata());
        view["clear_on_close"] = json!(false);
        view
    }

    /// `/incident open`, the global shortcut and the home button.
    pub(super) fn open_root(&self, who: &Who) -> Reply {
        if let Err(refusal) = self.may_open(who, Intent::Declare, None) {
            return Reply::ack().then(who.tell(refusal.0));
        }
        let opening = Opening { channel: who.channel.clone(), ..Opening::default() };
        let view = self.root_view(&opening);
        self.show(who, None, view)
    }

    fn impacts_view(&self, opening: &Opening, root_view_id: &str) -> Value {
        let types = self.database.impact_types().unwrap_or_default();
        let mut blocks = vec![section(&format!(
            "{} Define the impact(s) to find the incident priority.",
            self.settings.app_emoji
        ))];
        let stamp = incidents_core::clock::now().and_utc().timestamp_millis().to_string();
        for impact in &types {
            let mut levels: Vec<_> = impact.levels.iter().collect();
            levels.sort_by_key(|l| -l.order);
            let choices: Vec<Choice> = levels
                .iter()
                .map(|l| {
                    Choice::new(
                        &l.id,
                        format!("{} {}", l.emoji, l.name.clone().unwrap_or_else(|| l.value.clone())),
                    )
                })
                .collect();
            let initial =
                opening.impacts.get(&impact.value).cloned().or_else(|| na_level(impact).map(str::to_owned));
            let field = Field::new(
                &format!("set_impact_type_{}", impact.value),
                &format!("{} {}", impact.emoji, impact.name),
                Kind::Select { choices, groups: vec![], initial },
            )
            .hint(impact.help_text.clone());
            blocks.push(field.section(&stamp));
        }
        if let Some(assessment) = self.assess(opening, &types) {
            blocks.push(divider());
            blocks.push(context(&self.assessment_lines(&assessment)));
        }
        let metadata = json!({"opening": opening, "root_view_id": root_view_id}).to_string();
        modal(
            "incident_select_impact",
            "Incident Impact",
            Some("Save impacts"),
            Some("Back"),
            blocks,
            &metadata,
        )
    }

    /// The flow's state and the root view's id, from a payload of the root or of a step.
    fn flow_state(payload: &Value) -> (Opening, String) {
        let metadata = text_of(payload, "/view/private_metadata").unwrap_or_default();
        let callback = text_of(payload, "/view/callback_id").unwrap_or_default();
        let view_id = text_of(payload, "/view/id").unwrap_or_default().to_owned();
        if callback == "incident_open" {
            return (Opening::parse(Some(metadata)), view_id);
        }
        let parsed: Value = serde_json::from_str(metadata).unwrap_or_default();
        let opening =
            parsed.get("opening").cloned().and_then(|o| serde_json::from_value(o).ok()).unwrap_or_default();
        let root = parsed
            .get("root_view_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| text_of(payload, "/view/root_view_id").map(str::to_owned))
            .unwrap_or(view_id);
        (opening, root)
    }

    pub(super) fn push_impacts(&self, who: &Who, payload: &Value) -> Reply {
        let (opening, root) = Self::flow_state(payload);
        let view = self.impacts_view(&opening, &root);
        self.show(who, Some(payload), view)
    }

    /// Impacts chosen so far in the impacts modal (its state, then the action just made).
    fn chosen_impacts(payload: &Value, mut opening: Opening) -> Opening {
        let state = parse_state(payload.pointer("/view/state/values")).unwrap_or_default();
        let mut chosen: Vec<(String, Option<String>)> = state
            .into_iter()
            .filter_map(|(name, input)| match input {
                crate::blockkit::Input::Choice(value) => Some((name, value)),
                _ => None,
            })
            .collect();
        if let Some(action) = payload.pointer("/actions/0")
            && let Some(crate::blockkit::Input::Choice(value)) = read_element(action)
        {
            let name =
                crate::blockkit::field_of(text_of(action, "/action_id").unwrap_or_default()).to_owned();
            chosen.push((name, value));
        }
        for (name, value) in chosen {
            if let (Some(kind), Some(level)) = (name.strip_prefix("set_impact_type_"), value) {
                opening.impacts.insert(kind.to_owned(), level);
            }
        }
        opening
    }

    /// A choice changed in the impacts modal: the priority follows at once.
    pub(super) fn impacts_changed(&self, payload: &Value) -> Reply {
        let (opening, root) = Self::flow_state(payload);
        let opening = Self::chosen_impacts(payload, opening);
        Self::replace(payload, self.impacts_view(&opening, &root))
    }

    /// The impacts step is saved: back to the root, which now shows the priority.
    pub(super) fn submit_impacts(&self, payload: &Value) -> Reply {
        let (opening, root) = Self::flow_state(payload);
        if parse_state(payload.pointer("/view/state/values")).is_err() {
            return Reply::ack();
        }
        let opening = Self::chosen_impacts(payload, opening);
        let types = self.database.impact_types().unwrap_or_default();
        if self.assess(&opening, &types).is_none() {
            let first = types.first().map(|t| format!("set_impact_type_{}", t.value)).unwrap_or_default();
            return Reply::body(
                Errors::on(
                    &first,
                    "Select at least one impact: an incident with no impact is not an incident.",
                )
                .response(),
            );
        }
        Reply::ack().then(After::Update { view_id: root, hash: None, view: self.root_view(&opening) })
    }

    fn details_form(&self, opening: &Opening) -> Form {
        let types = self.database.impact_types().unwrap_or_default();
        let categories = self.database.categories(None).unwrap_or_default();
        let environments = self.database.environments().unwrap_or_default();
        let details = opening.details.clone().unwrap_or_default();
        let initial_environments = if details.environments.is_empty() {
            environments.iter().filter(|e| e.default).map(|e| e.id.clone()).collect()
        } else {
            details.environments.clone()
        };
        let initial_platforms = if details.platforms.is_empty() {
            vec!["platform-ALL".to_owned()]
        } else {
            details.platforms.clone()
        };
        let mut fields = vec![
            category_field(&categories, Some(&details.category)),
            environments_field(&environments, initial_environments),
            Field::new(
                "platform",
                "Platforms",
                Kind::MultiSelect {
                    choices: PLATFORMS.iter().map(|(value, label)| Choice::new(*value, *label)).collect(),
                    initial: initial_platforms,
                },
            ),
            title_field(Some("Short, punchy description of what's happening."), Some(&details.title)),
            summary_field(
                Some("Help people responding to the incident. This will be posted to the incident channel."),
                Some(&details.description),
            ),
        ];
        if opening.affects(&types, "customers_impact") {
            fields.push(
                Field::new(
                    "zendesk_ticket_id",
                    "Zendesk ticket ID",
                    text(false, 2, 128, None, details.zendesk_ticket_id.as_deref()),
                )
                .optional(),
            );
        }
        if opening.affects(&types, "sellers_impact") {
            fields.push(
                Field::new(
                    "seller_contract_id",
                    "Seller contract ID",
                    text(false, 0, 128, None, details.seller_contract_id.as_deref()),
                )
                .optional(),
            );
            fields.push(
                Field::new("is_key_account", "Key account", Kind::Flag { initial: details.is_key_account })
                    .optional(),
            );
            fields.push(
                Field::new(
                    "is_seller_in_golden_list",
                    "Seller in the golden list",
                    Kind::Flag { initial: details.is_seller_in_golden_list },
                )
                .optional(),
            );
            fields.push(
                Field::new(
                    "zoho_desk_ticket_id",
                    "Zoho Desk ticket ID",
                    text(false, 1, 128, None, details.zoho_desk_ticket_id.as_deref()),
                )
                .optional(),
            );
        }
        Form { fields }
    }

    pub(super) fn push_details(&self, who: &Who, payload: &Value) -> Reply {
        let (opening, root) = Self::flow_state(payload);
        let mut blocks = self.details_form(&opening).inputs("");
        blocks.push(divider());
        blocks.push(self.footer());
        let metadata = json!({"opening": opening, "root_view_id": root}).to_string();
        let view = modal(
            "open_incident_unified",
            "Incident Details",
            Some("Save details"),
            Some("Close details"),
            blocks,
            &metadata,
        );
        self.show(who, Some(payload), view)
    }

    /// The details step is saved: back to the root, now ready to submit.
    pub(super) fn submit_details(&self, payload: &Value) -> Reply {
        let (mut opening, root) = Self::flow_state(payload);
        let form = self.details_form(&opening);
        let values = match Self::validated(&form, payload) {
            Ok(values) => values,
            Err(reply) => return reply,
        };
        opening.details = Some(Details {
            category: values.choice("incident_category").unwrap_or_default(),
            environments: values.choices("environment"),
            platforms: values.choices("platform"),
            title: values.text("title").unwrap_or_default(),
            description: values.text("description").unwrap_or_default(),
            zendesk_ticket_id: values.text("zendesk_ticket_id"),
            seller_contract_id: values.text("seller_contract_id"),
            is_key_account: values.flag("is_key_account"),
            is_seller_in_golden_list: values.flag("is_seller_in_golden_list"),
            zoho_desk_ticket_id: values.text("zoho_desk_ticket_id"),
        });
        Reply::ack().then(After::Update { view_id: root, hash: None, view: self.root_view(&opening) })
    }

    /// The recent critical incidents, pushed from the root's warning.
    pub(super) fn push_recent(&self, who: &Who, payload: &Value) -> Reply {
        let recent = self.recent_critical();
        let mut blocks = vec![section(if recent.is_empty() {
            "No incidents in the past hour."
        } else {
            "Below are the critical incidents created in the past hour."
        })];
        for incident in recent.iter().take(30) {
            blocks.push(divider());
            blocks.push(section(&format!(
                "*#{}* - *{}* - <{}|Status Page>\n{} {} · {} · {}",
                incident.id.0,
                crate::messages::escape(&incident.title),
                status_page(&self.settings.base_url, incident),
                incident.priority.emoji,
                incident.priority.name,
                incident.status.label(),
                crate::messages::escape(&incident.category.name)
            )));
        }
        let view =
            modal("check_current_incidents", "Last critical incidents", None, Some("Back"), blocks, "");
        self.show(who, Some(payload), view)
    }

    /// The final submission: the incident is declared.
    pub(super) fn submit_open(&self, who: &Who, payload: &Value) -> Reply {
        let (opening, _) = Self::flow_state(payload);
        let problem = |text: &str| {
            let view = modal(
                "incident_open_problem",
                "Create an incident",
                None,
                Some("Back"),
                vec![section(text)],
                "",
            );
            Reply::body(json!({"response_action": "push", "view": view}))
        };
        let types = self.database.impact_types().unwrap_or_default();
        let (Some(_), Some(details)) = (self.assess(&opening, &types), opening.details.clone()) else {
            return problem(":x: Please set the impacts and the details first.");
        };
        let actor = match self.actor(who, Intent::Declare, None) {
            Ok(actor) => actor,
            Err(refusal) => return problem(&refusal.0),
        };
        let environments = self.database.environments().unwrap_or_default();
        let chosen: Vec<_> = environments.iter().filter(|e| details.environments.contains(&e.id)).collect();
        let Some(main) = chosen.iter().min_by_key(|e| e.order) else {
            return problem(":x: Please choose at least one environment in the details.");
        };
        let mut custom = serde_json::Map::new();
        custom
            .insert("environments".into(), json!(chosen.iter().map(|e| e.value.clone()).collect::<Vec<_>>()));
        custom.insert(
            "platforms".into(),
            json!(
                details
                    .platforms
                    .iter()
                    .map(|p| p.trim_start_matches("platform-").to_owned())
                    .collect::<Vec<_>>()
            ),
        );
        for (key, value) in [
            ("zendesk_ticket_id", &details.zendesk_ticket_id),
            ("seller_contract_id", &details.seller_contract_id),
            ("zoho_desk_ticket_id", &details.zoho_desk_ticket_id),
        ] {
            if let Some(value) = value {
                custom.insert(key.into(), json!(value));
            }
        }
        if opening.affects(&types, "sellers_impact") {
            custom.insert("is_key_account".into(), json!(details.is_key_account));
            custom.insert("is_seller_in_golden_list".into(), json!(details.is_seller_in_golden_list));
        }
        let command = DeclareIncident {
            title: details.title.clone(),
            description: details.description.clone(),
            priority: PriorityChoice::FromImpacts(opening.impacts.values().cloned().collect()),
            category_id: details.category.clone(),
            environment_id: main.id.clone(),
            private: None,
            dedup_key: None,
            ignored: false,
            custom_fields: custom,
            created_by: None,
        };
        match self.lifecycle.declare(actor, &command) {
            Ok(Declared::Created(id) | Declared::Existing(id)) => {
                let page = format!("{}/incident/{}/", self.settings.base_url.trim_end_matches('/'), id.0);
                Reply::ack().then(After::Tell {
                    user: who.slack_id.clone(),
                    channel: opening.channel.clone(),
                    text: format!(
                        ":white_check_mark: Incident #{} is declared: <{page}|{}>. Its responders are on their way.",
                        id.0,
                        crate::messages::escape(&details.title)
                    ),
                    warn: false,
                })
            }
            Err(error) => {
                problem(&format!(":x: The incident could not be created: {error} ({})", error.code()))
            }
        }
    }
}
