//! The original's JSON shapes: status as its label, nested reference objects, grouped maps keyed by
//! slug or name, durations as `[D ]HH:MM:SS[.ffffff]`, decimals as strings, times with their offset
//! in the deployment's time zone.

use chrono::{NaiveDateTime, SecondsFormat, TimeZone};
use chrono_tz::Tz;
use incidents_core::query::{CategoryView, EnvironmentView, GroupView, IncidentView, PriorityView, UserView};
use serde_json::{Map, Value, json};

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

pub fn environment(environment: &EnvironmentView) -> Value {
    json!({
        "id": environment.id,
        "value": environment.value,
        "name": environment.name,
        "description": environment.description,
        "order": environment.order,
        "default": environment.default,
    })
}

pub fn priority(priority: &PriorityView, tz: Tz) -> Value {
    json!({
        "id": priority.id,
        "name": priority.name,
        "value": priority.value,
        "emoji": priority.emoji,
        "description": priority.description,
        "order": priority.order,
        "default": priority.default,
        "needs_postmortem": priority.needs_postmortem,
        "enabled_create": priority.enabled_create,
        "enabled_update": priority.enabled_update,
        "reminder_time": duration_micros(priority.reminder_time_seconds * 1_000_000),
        "sla": duration_micros(priority.sla_seconds * 1_000_000),
        "recommended_response_type": priority.recommended_response_type,
        "created_at": time(priority.created_at, tz),
        "updated_at": time(priority.updated_at, tz),
    })
}

pub fn group(group: &GroupView, tz: Tz) -> Value {
    json!({
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "order": group.order,
        "created_at": time(group.created_at, tz),
        "updated_at": time(group.updated_at, tz),
    })
}

pub fn category(category: &CategoryView, tz: Tz) -> Value {
    json!({
        "id": category.id,
        "group": group(&category.group, tz),
        "name": category.name,
        "description": category.description,
        "order": category.order,
        "private": category.private,
        "deploy_warning": category.deploy_warning,
        "created_at": time(category.created_at, tz),
        "updated_at": time(category.updated_at, tz),
    })
}

fn user(user: &UserView) -> Value {
    json!({"id": user.id, "name": user.name, "email": user.email})
}

/// An incident as the original's API shows it.
pub fn incident(incident: &IncidentView, base_url: &str, tz: Tz) -> Value {
    let costs: Map<String, Value> = incident
        .costs
        .iter()
        .map(|cost| {
            (
                cost.cost_type.clone(),
                json!({"amount": cost.amount.map(|a| a.to_string()), "details": cost.details}),
            )
        })
        .collect();
    let metrics: Map<String, Value> = incident
        .metrics
        .iter()
        .map(|metric| {
            #[expect(clippy::cast_precision_loss, reason = "durations far below 2^52 microseconds")]
            let seconds = metric.duration_micros as f64 / 1_000_000.0;
            (
                metric.slug.clone(),
                json!({
                    "duration": duration_micros(metric.duration_micros),
                    "duration_seconds": seconds,
                    "metric_type": metric.name,
                }),
            )
        })
        .collect();
    let roles: Map<String, Value> =
        incident.roles.iter().map(|role| (role.slug.clone(), user(&role.user))).collect();
    json!({
        "id": incident.id.0,
        "title": incident.title,
        "description": incident.description,
        "status": incident.status.label(),
        "created_at": time(incident.created_at, tz),
        "environment": environment(&incident.environment),
        "incident_category": category(&incident.category, tz),
        "priority": priority(&incident.priority, tz),
        "slack_channel_name": "",
        "status_page_url": format!("{base_url}/incident/{}/", incident.id.0),
        "postmortem_url": null,
        "jira_ticket_key": null,
        "jira_ticket_url": null,
        "tags": incident.tags,
        "created_by": user(&incident.created_by),
        "costs": costs,
        "metrics": metrics,
        "roles": roles,
        "ignore": incident.ignored,
    })
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
