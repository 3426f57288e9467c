//! Which incidents get a channel and where they are announced (the original's rules,
//! firefighter-slack.md §10.1 and §14, with the decisions of docs/decisions.md).

use incidents_core::query::IncidentView;
use incidents_core::{EntryPoint, IncidentStatus};

/// Whether the incident calls for the critical response (a channel): its priority's
/// `recommended_response_type` when set, else P1–P3.
#[must_use]
pub fn is_critical(incident: &IncidentView) -> bool {
    match incident.priority.recommended_response_type.as_deref() {
        Some("critical") => true,
        Some("normal") => false,
        _ => incident.priority.value <= 3,
    }
}

/// Whether a declaration through `entry_point` gets a channel: through the API, the web and the CLI
/// always (as the original); through Slack when the response is critical.
#[must_use]
pub fn channel_at_declaration(incident: &IncidentView, entry_point: Option<EntryPoint>) -> bool {
    match entry_point {
        Some(EntryPoint::Slack | EntryPoint::Jira | EntryPoint::PagerDuty) => is_critical(incident),
        _ => true,
    }
}

fn public_production(incident: &IncidentView) -> bool {
    incident.environment.value == "PRD" && !incident.private
}

/// The declaration is announced in `tech_incidents`: P1–P3, production, not private.
#[must_use]
pub fn general_at_declaration(incident: &IncidentView) -> bool {
    incident.priority.value <= 3 && public_production(incident)
}

/// An update is announced in `tech_incidents` when the incident (P1–P3, production, not private) is
/// mitigated by this update (`status_after`, as the event recorded it: the incident may have moved
/// on since) or escalated from P4–P5. The original also re-announced every update while the
/// incident is Open (quirk §18.5): not kept.
#[must_use]
pub fn general_on_update(
    incident: &IncidentView,
    status_after: Option<IncidentStatus>,
    old_priority_value: Option<i32>,
) -> bool {
    incident.priority.value <= 3
        && public_production(incident)
        && (status_after == Some(IncidentStatus::Mitigated) || old_priority_value.is_some_and(|old| old > 3))
}

/// The deploy warning in `it_deploy`: P1 in production, not private, in a category that warns.
#[must_use]
pub fn deploy_warning(incident: &IncidentView) -> bool {
    incident.priority.value <= 1 && public_production(incident) && incident.category.deploy_warning
}

/// The emergency communication message: P1 in production.
#[must_use]
pub fn com_process(incident: &IncidentView) -> bool {
    incident.priority.value == 1 && incident.environment.value == "PRD"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::incident;

    #[test]
    fn channels_and_announcements_follow_priority_environment_and_privacy() {
        let mut view = incident(1, "2024-03-05T10:00:00", "PRD", "Checkout");
        assert!(channel_at_declaration(&view, Some(EntryPoint::Api)));
        assert!(general_at_declaration(&view) && deploy_warning(&view) && com_process(&view));
        view.priority.value = 4;
        view.priority.name = "P4".into();
        assert!(channel_at_declaration(&view, Some(EntryPoint::Api)), "the API always gets a channel");
        assert!(!channel_at_declaration(&view, Some(EntryPoint::Slack)));
        view.priority.recommended_response_type = Some("critical".into());
        assert!(channel_at_declaration(&view, Some(EntryPoint::Slack)), "the priority's response type wins");
        assert!(!general_at_declaration(&view));
        view.priority.value = 2;
        view.private = true;
        assert!(!general_at_declaration(&view) && !deploy_warning(&view));
        view.private = false;
        view.environment.value = "STG".into();
        assert!(!general_at_declaration(&view) && !com_process(&view));
    }

    #[test]
    fn updates_are_announced_when_mitigated_or_escalated_only() {
        let view = incident(1, "2024-03-05T10:00:00", "PRD", "Checkout");
        assert!(!general_on_update(&view, None, None), "a message while Open is not re-announced");
        assert!(general_on_update(&view, None, Some(4)), "escalated from P4");
        assert!(general_on_update(&view, Some(IncidentStatus::Mitigated), None));
        assert!(!general_on_update(&view, Some(IncidentStatus::Mitigating), None));
    }
}
