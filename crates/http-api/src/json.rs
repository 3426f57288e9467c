//! The original's JSON shapes: status as its label, nested reference objects, grouped maps keyed by
//! slug or name, durations as `[D ]HH:MM:SS[.ffffff]`, decimals as strings, times with their offset
//! in the deployment's time zone.
//!
//! Each shape is a type that derives both `Serialize` and `ToSchema`, so the OpenAPI document
//! describes exactly what is sent.

use chrono::{NaiveDateTime, SecondsFormat, TimeZone};
use chrono_tz::Tz;
use std::collections::BTreeMap;

use incidents_core::IncidentStatus;
use incidents_core::facets::Facet;
use incidents_core::query::{
    CategoryView, CostTypeView, EnvironmentView, GroupView, IncidentCostView, IncidentView, PriorityView,
    TimelineView, UserView,
};
use serde::Serialize;
use utoipa::ToSchema;

/// A UTC time shown in `tz`, ISO 8601 with its offset (`2026-11-28T02:03:04.123456+01:00`).
#[must_use]
pub fn time(at: NaiveDateTime, tz: Tz) -> String {
    tz.from_utc_datetime(&at).to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A duration as Django prints one: `[D ]HH:MM:SS[.ffffff]`.
#[must_use]
pub fn duration_micros(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let clock = format!("{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    let fraction = if fraction > 0 { format!(".{fraction:06}") } else { String::new() };
    if days > 0 { format!("{sign}{days} {clock}{fraction}") } else { format!("{sign}{clock}{fraction}") }
}

/// An environment (`PRD`, `STG`, `INT`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "8c5f0c1e-7f43-4c36-9d43-3f1e0b7f6a10", "value": "PRD", "name": "Production",
    "description": "Production environment", "order": 1, "default": true}))]
pub struct Environment {
    pub id: String,
    pub value: String,
    pub name: String,
    pub description: String,
    pub order: i32,
    pub default: bool,
}

impl From<&EnvironmentView> for Environment {
    fn from(environment: &EnvironmentView) -> Self {
        Self {
            id: environment.id.clone(),
            value: environment.value.clone(),
            name: environment.name.clone(),
            description: environment.description.clone(),
            order: environment.order,
            default: environment.default,
        }
    }
}

/// A priority (P1–P5), also served under its legacy name, severity.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "3e2b1a8c-7c1f-4b8e-9d2a-1f0e5c6b7a81", "name": "P1", "value": 1, "emoji": "🌪️",
    "description": "Critical issue that warrants liaison with e-team.", "order": 1, "default": false, "needs_postmortem": true, "enabled_create": true,
    "enabled_update": true, "reminder_time": "00:15:00", "sla": "02:00:00", "recommended_response_type": "critical",
    "created_at": "2026-11-28T10:00:00+01:00", "updated_at": "2026-11-28T10:00:00+01:00"}))]
pub struct Priority {
    pub id: String,
    pub name: String,
    pub value: i32,
    pub emoji: String,
    pub description: String,
    pub order: i32,
    pub default: bool,
    pub needs_postmortem: bool,
    pub enabled_create: bool,
    pub enabled_update: bool,
    /// `[D ]HH:MM:SS`
    pub reminder_time: String,
    /// `[D ]HH:MM:SS`
    pub sla: String,
    pub recommended_response_type: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Priority {
    pub fn new(priority: &PriorityView, tz: Tz) -> Self {
        Self {
            id: priority.id.clone(),
            name: priority.name.clone(),
            value: priority.value,
            emoji: priority.emoji.clone(),
            description: priority.description.clone(),
            order: priority.order,
            default: priority.default,
            needs_postmortem: priority.needs_postmortem,
            enabled_create: priority.enabled_create,
            enabled_update: priority.enabled_update,
            reminder_time: duration_micros(priority.reminder_time_seconds * 1_000_000),
            sla: duration_micros(priority.sla_seconds * 1_000_000),
            recommended_response_type: priority.recommended_response_type.clone(),
            created_at: time(priority.created_at, tz),
            updated_at: time(priority.updated_at, tz),
        }
    }
}

/// A group of incident categories.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "0b6f3f5e-2a41-4f0e-8d6b-4c3e2f1a0b9c", "name": "Platform", "description": "",
    "order": 1, "created_at": "2026-11-28T10:00:00+01:00", "updated_at": "2026-11-28T10:00:00+01:00"}))]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    pub order: i32,
    pub created_at: String,
    pub updated_at: String,
}

impl Group {
    pub fn new(group: &GroupView, tz: Tz) -> Self {
        Self {
            id: group.id.clone(),
            name: group.name.clone(),
            description: group.description.clone(),
            order: group.order,
            created_at: time(group.created_at, tz),
            updated_at: time(group.updated_at, tz),
        }
    }
}

/// An incident category (legacy name: component), with its group.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "6a0d2c4e-1b3f-4a5c-8e7d-9f0a1b2c3d4e", "group": {"id": "0b6f3f5e-2a41-4f0e-8d6b-4c3e2f1a0b9c", "name": "Marketplace", "description": "", "order": 1, "created_at": "2026-11-28T10:00:00+01:00", "updated_at": "2026-11-28T10:00:00+01:00"},
    "name": "Checkout", "description": "Cart, payment and order confirmation", "order": 10, "private": false,
    "deploy_warning": true, "created_at": "2026-11-28T10:00:00+01:00", "updated_at": "2026-11-28T10:00:00+01:00"}))]
pub struct Category {
    pub id: String,
    pub group: Group,
    pub name: String,
    pub description: String,
    pub order: i32,
    pub private: bool,
    pub deploy_warning: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Category {
    pub fn new(category: &CategoryView, tz: Tz) -> Self {
        Self {
            id: category.id.clone(),
            group: Group::new(&category.group, tz),
            name: category.name.clone(),
            description: category.description.clone(),
            order: category.order,
            private: category.private,
            deploy_warning: category.deploy_warning,
            created_at: time(category.created_at, tz),
            updated_at: time(category.updated_at, tz),
        }
    }
}

/// A person, as incidents and the timeline name them.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "5d1c9f2e-8b3a-4e6f-9a0b-7c2d4e6f8a1b", "name": "Jane Doe", "email": "jane@example.com"}))]
pub struct UserRef {
    pub id: uuid::Uuid,
    pub name: String,
    pub email: String,
}

impl From<&UserView> for UserRef {
    fn from(user: &UserView) -> Self {
        Self { id: user.id.0, name: user.name.clone(), email: user.email.clone() }
    }
}

/// A user account.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "5d1c9f2e-8b3a-4e6f-9a0b-7c2d4e6f8a1b", "username": "jane", "name": "Jane Doe",
    "email": "jane@example.com"}))]
pub struct User {
    pub id: uuid::Uuid,
    pub username: String,
    pub name: String,
    pub email: String,
}

impl From<&UserView> for User {
    fn from(user: &UserView) -> Self {
        Self {
            id: user.id.0,
            username: user.username.clone(),
            name: user.name.clone(),
            email: user.email.clone(),
        }
    }
}

/// One cost of an incident, keyed by its cost type's name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentCostSummary {
    /// A decimal as a string (`"1250.00"`).
    pub amount: Option<String>,
    pub details: Option<String>,
}

/// One metric of an incident, keyed by its metric type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentMetric {
    /// `[D ]HH:MM:SS[.ffffff]`
    pub duration: String,
    pub duration_seconds: f64,
    pub metric_type: String,
}

/// An incident as the original's API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": 42, "title": "Checkout is down", "description": "Payments fail with 502.",
    "status": "Investigating", "created_at": "2026-11-28T10:00:00+01:00",
    "environment": {"id": "8c5f0c1e-7f43-4c36-9d43-3f1e0b7f6a10", "value": "PRD", "name": "Production",
        "description": "Production environment", "order": 1, "default": true},
    "incident_category": {"id": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d", "group": {"id": "0b6f3f5e-2a41-4f0e-8d6b-4c3e2f1a0b9c",
        "name": "Marketplace", "description": "", "order": 1, "created_at": "2026-11-28T10:00:00+01:00",
        "updated_at": "2026-11-28T10:00:00+01:00"}, "name": "Checkout", "description": "", "order": 1,
        "private": false, "deploy_warning": true, "created_at": "2026-11-28T10:00:00+01:00",
        "updated_at": "2026-11-28T10:00:00+01:00"},
    "priority": {"id": "3e2b1a8c-7c1f-4b8e-9d2a-1f0e5c6b7a81", "name": "P1", "value": 1, "emoji": "🌪️",
        "description": "Critical issue that warrants liaison with e-team.", "order": 1, "default": false, "needs_postmortem": true, "enabled_create": true,
        "enabled_update": true, "reminder_time": "00:15:00", "sla": "02:00:00",
        "recommended_response_type": "critical", "created_at": "2026-11-28T10:00:00+01:00",
        "updated_at": "2026-11-28T10:00:00+01:00"},
    "slack_channel_name": "", "status_page_url": "https://firefighter.example.com/incident/42/",
    "postmortem_url": null, "jira_ticket_key": null, "jira_ticket_url": null, "tags": [],
    "created_by": {"id": "5d1c9f2e-8b3a-4e6f-9a0b-7c2d4e6f8a1b", "name": "Jane Doe", "email": "jane@example.com"},
    "costs": {"Revenue loss": {"amount": "1250.00", "details": "Orders lost during the outage"}},
    "metrics": {"time_to_fix": {"duration": "01:30:00", "duration_seconds": 5400.0, "metric_type": "Time to Fix"}},
    "roles": {"commander": {"id": "5d1c9f2e-8b3a-4e6f-9a0b-7c2d4e6f8a1b", "name": "Jane Doe", "email": "jane@example.com"}},
    "ignore": false, "facets": []}))]
pub struct Incident {
    pub id: i64,
    pub title: String,
    pub description: String,
    /// The status label: Open, Investigating, Mitigating, Mitigated, Post-mortem, Closed.
    pub status: &'static str,
    pub created_at: String,
    pub environment: Environment,
    pub incident_category: Category,
    pub priority: Priority,
    pub slack_channel_name: String,
    pub status_page_url: String,
    pub postmortem_url: Option<String>,
    pub jira_ticket_key: Option<String>,
    pub jira_ticket_url: Option<String>,
    pub tags: Vec<String>,
    pub created_by: UserRef,
    /// Keyed by cost type name.
    pub costs: BTreeMap<String, IncidentCostSummary>,
    /// Keyed by metric type.
    pub metrics: BTreeMap<String, IncidentMetric>,
    /// Keyed by role slug.
    pub roles: BTreeMap<String, UserRef>,
    pub ignore: bool,
    /// What integrations know about the incident (its Slack channel, Jira ticket, post-mortem…).
    /// The well-known kinds also fill `slack_channel_name` and `jira_ticket_*`.
    pub facets: Vec<Facet>,
}

impl Incident {
    /// Adds what integrations know: the facets, and the original's fields they fill.
    #[must_use]
    pub fn with_facets(mut self, facets: Option<&Vec<Facet>>) -> Self {
        let Some(facets) = facets else { return self };
        for facet in facets {
            match facet.kind.as_str() {
                incidents_core::facets::SLACK_CHANNEL => self.slack_channel_name.clone_from(&facet.label),
                incidents_core::facets::JIRA_TICKET => {
                    self.jira_ticket_key = Some(facet.label.clone());
                    self.jira_ticket_url.clone_from(&facet.url);
                }
                _ => {}
            }
        }
        self.facets.clone_from(facets);
        self
    }

    pub fn new(incident: &IncidentView, base_url: &str, tz: Tz) -> Self {
        let costs = incident
            .costs
            .iter()
            .map(|cost| {
                let summary = IncidentCostSummary {
                    amount: cost.amount.map(|a| a.to_string()),
                    details: cost.details.clone(),
                };
                (cost.cost_type.clone(), summary)
            })
            .collect();
        let metrics = incident
            .metrics
            .iter()
            .map(|metric| {
                #[expect(clippy::cast_precision_loss, reason = "durations far below 2^52 microseconds")]
                let seconds = metric.duration_micros as f64 / 1_000_000.0;
                let entry = IncidentMetric {
                    duration: duration_micros(metric.duration_micros),
                    duration_seconds: seconds,
                    metric_type: metric.name.clone(),
                };
                (metric.slug.clone(), entry)
            })
            .collect();
        Self {
            id: incident.id.0,
            title: incident.title.clone(),
            description: incident.description.clone(),
            status: incident.status.label(),
            created_at: time(incident.created_at, tz),
            environment: Environment::from(&incident.environment),
            incident_category: Category::new(&incident.category, tz),
            priority: Priority::new(&incident.priority, tz),
            slack_channel_name: String::new(),
            status_page_url: format!("{base_url}/incident/{}/", incident.id.0),
            postmortem_url: None,
            jira_ticket_key: None,
            jira_ticket_url: None,
            tags: incident.tags.clone(),
            created_by: UserRef::from(&incident.created_by),
            costs,
            metrics,
            roles: incident.roles.iter().map(|role| (role.slug.clone(), UserRef::from(&role.user))).collect(),
            ignore: incident.ignored,
            facets: Vec::new(),
        }
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": "0190f5b2-6c1e-7a3b-9d4e-5f6a7b8c9d0e", "event_ts": "2026-11-28T10:05:00+01:00",
    "created_at": "2026-11-28T10:05:00+01:00",
    "created_by": {"id": "5d1c9f2e-8b3a-4e6f-9a0b-7c2d4e6f8a1b", "name": "Jane Doe", "email": "jane@example.com"},
    "message": "Rolled back the last deploy", "status": "Mitigating", "priority_id": null, "environment_id": null,
    "incident_category_id": null, "title": null, "description": null, "event_type": null}))]
pub struct TimelineEntry {
    pub id: String,
    pub event_ts: String,
    pub created_at: String,
    pub created_by: Option<UserRef>,
    pub message: Option<String>,
    /// The new status label, when the status changed.
    pub status: Option<&'static str>,
    pub priority_id: Option<String>,
    pub environment_id: Option<String>,
    pub incident_category_id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub event_type: Option<String>,
}

impl TimelineEntry {
    pub fn new(entry: &TimelineView, tz: Tz) -> Self {
        Self {
            id: entry.id.clone(),
            event_ts: time(entry.event_ts, tz),
            created_at: time(entry.created_at, tz),
            created_by: entry.author.as_ref().map(UserRef::from),
            message: entry.message.clone(),
            status: entry.status.map(IncidentStatus::label),
            priority_id: entry.priority.clone(),
            environment_id: entry.environment.clone(),
            incident_category_id: entry.category.clone(),
            title: entry.title.clone(),
            description: entry.description.clone(),
            event_type: entry.event_type.clone(),
        }
    }
}

/// A type of cost (revenue loss, engineering time …).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": 1, "name": "Revenue loss", "description": "Orders not taken", "category": "business",
    "default": true, "editable": true, "created_at": "2026-11-28T10:00:00+01:00",
    "updated_at": "2026-11-28T10:00:00+01:00"}))]
pub struct CostType {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub default: bool,
    pub editable: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl CostType {
    pub fn new(cost_type: &CostTypeView, tz: Tz) -> Self {
        Self {
            id: cost_type.id,
            name: cost_type.name.clone(),
            description: cost_type.description.clone(),
            category: cost_type.category.clone(),
            default: cost_type.default,
            editable: cost_type.editable,
            created_at: time(cost_type.created_at, tz),
            updated_at: time(cost_type.updated_at, tz),
        }
    }
}

/// A cost recorded on an incident.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "cost_type": {"id": 1, "name": "Revenue loss", "description": "Orders not taken",
    "category": "business", "default": true, "editable": true, "created_at": "2026-11-28T10:00:00+01:00",
    "updated_at": "2026-11-28T10:00:00+01:00"}, "amount": "1250.00", "currency": "EUR",
    "details": "Two hours of failed payments", "incident": 42, "created_at": "2026-11-28T12:30:00+01:00",
    "updated_at": "2026-11-28T12:30:00+01:00"}))]
pub struct IncidentCost {
    pub id: i64,
    pub cost_type: CostType,
    /// A decimal as a string (`"1250.00"`).
    pub amount: Option<String>,
    pub currency: String,
    pub details: Option<String>,
    /// The incident's id.
    pub incident: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl IncidentCost {
    pub fn new(cost: &IncidentCostView, tz: Tz) -> Self {
        Self {
            id: cost.id,
            cost_type: CostType::new(&cost.cost_type, tz),
            amount: cost.amount.map(|a| a.to_string()),
            currency: cost.currency.clone(),
            details: cost.details.clone(),
            incident: cost.incident.0,
            created_at: time(cost.created_at, tz),
            updated_at: time(cost.updated_at, tz),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_django() {
        assert_eq!(duration_micros(3_600_000_000), "01:00:00");
        assert_eq!(duration_micros(86_400_000_000), "1 00:00:00");
        assert_eq!(duration_micros(10 * 86_400_000_000 + 61_000_000), "10 00:01:01");
        assert_eq!(duration_micros(1_500_000), "00:00:01.500000");
        assert_eq!(duration_micros(0), "00:00:00");
    }

    #[test]
    fn times_carry_the_zone_offset() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 7, 1)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .unwrap_or_default();
        assert_eq!(time(at, Tz::UTC), "2026-07-01T10:00:00+00:00");
        assert_eq!(time(at, chrono_tz::Europe::Paris), "2026-07-01T12:00:00+02:00");
    }
}
