//! What status and priority look like in Jira (firefighter-integrations.md §6.1–§6.3), as the sync
//! engine's field maps.

use incidents_core::IncidentStatus;
pub use sync_engine::FieldMap;

/// Incident status ↔ the incident workflow's status names.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusMap;

impl FieldMap for StatusMap {
    type Local = IncidentStatus;

    fn field(&self) -> &'static str {
        "status"
    }

    fn to_external(&self, local: &IncidentStatus) -> Option<String> {
        Some(
            match local {
                IncidentStatus::Open => "Incoming",
                IncidentStatus::Investigating | IncidentStatus::Mitigating => "in progress",
                IncidentStatus::Mitigated | IncidentStatus::PostMortem => "Reporter validation",
                IncidentStatus::Closed => "Closed",
            }
            .to_owned(),
        )
    }

    /// Exact, case-sensitive names, as the original matched them.
    fn to_local(&self, external: &str) -> Option<IncidentStatus> {
        match external.trim() {
            "Incoming" | "Pending resolution" => Some(IncidentStatus::Open),
            "in progress" => Some(IncidentStatus::Mitigating),
            "Reporter validation" => Some(IncidentStatus::Mitigated),
            "Closed" => Some(IncidentStatus::Closed),
            _ => None,
        }
    }
}

/// Priority value (1 = P1 … 5 = P5) ↔ the priority option `"1"` … `"5"` (the legacy names Highest …
/// Lowest read too).
#[derive(Debug, Clone, Copy, Default)]
pub struct PriorityMap;

impl FieldMap for PriorityMap {
    type Local = i32;

    fn field(&self) -> &'static str {
        "priority"
    }

    fn to_external(&self, local: &i32) -> Option<String> {
        (1..=5).contains(local).then(|| local.to_string())
    }

    fn to_local(&self, external: &str) -> Option<i32> {
        let external = external.trim();
        match external.to_ascii_lowercase().as_str() {
            "highest" => Some(1),
            "high" => Some(2),
            "medium" => Some(3),
            "low" => Some(4),
            "lowest" => Some(5),
            _ => external.parse().ok().filter(|value| (1..=5).contains(value)),
        }
    }
}

/// The label the business impact level gets in Jira (`customfield_10936`); `None` for no impact.
#[must_use]
pub fn business_impact(level: incidents_core::ImpactLevelCode) -> Option<&'static str> {
    use incidents_core::ImpactLevelCode as L;
    match level {
        L::NoImpact => None,
        other => Some(other.label()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_as_the_original() {
        assert_eq!(StatusMap.to_external(&IncidentStatus::Investigating).as_deref(), Some("in progress"));
        assert_eq!(
            StatusMap.to_external(&IncidentStatus::PostMortem).as_deref(),
            Some("Reporter validation")
        );
        assert_eq!(StatusMap.to_local("Pending resolution"), Some(IncidentStatus::Open));
        assert_eq!(StatusMap.to_local("in progress"), Some(IncidentStatus::Mitigating));
        assert_eq!(StatusMap.to_local("In Progress"), None, "case-sensitive");
        assert_eq!(StatusMap.to_local("Code Review"), None);
    }

    #[test]
    fn priorities_are_the_option_values_or_the_legacy_names() {
        assert_eq!(PriorityMap.to_external(&1).as_deref(), Some("1"));
        assert_eq!(PriorityMap.to_external(&20), None, "GAMEDAY is not mirrored");
        assert_eq!(PriorityMap.to_local("3"), Some(3));
        assert_eq!(PriorityMap.to_local("Highest"), Some(1));
        assert_eq!(PriorityMap.to_local("6"), None);
        assert_eq!(business_impact(incidents_core::ImpactLevelCode::High), Some("High"));
        assert_eq!(business_impact(incidents_core::ImpactLevelCode::NoImpact), None);
    }
}
