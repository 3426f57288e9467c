//! What the mirrored fields look like in Jira (firefighter-integrations.md §6.1–§6.3): status,
//! priority, title (the summary), description and commander (the assignee), as the sync engine's
//! field maps.

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

/// The longest summary Jira takes.
pub const SUMMARY_MAX_CHARS: usize = 255;
/// The longest description Jira takes.
pub const DESCRIPTION_MAX_CHARS: usize = 32_767;

/// Title ↔ summary, compared exactly (trimmed).
#[derive(Debug, Clone, Copy, Default)]
pub struct TitleMap;

impl FieldMap for TitleMap {
    type Local = String;

    fn field(&self) -> &'static str {
        "title"
    }

    fn to_external(&self, local: &String) -> Option<String> {
        Some(local.trim().chars().take(SUMMARY_MAX_CHARS).collect())
    }

    fn to_local(&self, external: &str) -> Option<String> {
        Some(external.trim().to_owned())
    }

    fn same(&self, a: &str, b: &str) -> bool {
        a.trim() == b.trim()
    }
}

/// Description (Markdown) ↔ description (wiki markup, FireFighter's footer left out), compared
/// exactly but for line endings and trailing spaces.
#[derive(Debug, Clone, Copy, Default)]
pub struct DescriptionMap;

fn normalised(text: &str) -> String {
    text.replace("\r\n", "\n").lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_owned()
}

impl FieldMap for DescriptionMap {
    type Local = String;

    fn field(&self) -> &'static str {
        "description"
    }

    fn to_external(&self, local: &String) -> Option<String> {
        Some(crate::wiki::to_wiki(local).chars().take(DESCRIPTION_MAX_CHARS - 2_000).collect())
    }

    fn to_local(&self, external: &str) -> Option<String> {
        Some(crate::wiki::from_wiki(external))
    }

    fn same(&self, a: &str, b: &str) -> bool {
        normalised(a) == normalised(b)
    }
}

/// Commander ↔ assignee, both as Jira account ids (`""`: nobody); the users behind them are
/// resolved by the jobs (the user mapping calls Jira).
#[derive(Debug, Clone, Copy, Default)]
pub struct CommanderMap;

impl FieldMap for CommanderMap {
    type Local = String;

    fn field(&self) -> &'static str {
        "commander"
    }

    fn to_external(&self, local: &String) -> Option<String> {
        Some(local.trim().to_owned())
    }

    fn to_local(&self, external: &str) -> Option<String> {
        Some(external.trim().to_owned())
    }

    fn same(&self, a: &str, b: &str) -> bool {
        a.trim() == b.trim()
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

    #[test]
    fn texts_compare_exactly() {
        assert!(!TitleMap.same("Checkout down", "checkout down"), "a change of case is a change");
        assert!(TitleMap.same(" Checkout down", "Checkout down "));
        assert!(DescriptionMap.same("a  \r\nb\n", "a\nb"));
        assert!(!DescriptionMap.same("a\nb", "a\n\nb"));
        assert_eq!(DescriptionMap.to_external(&"**x**".to_owned()).as_deref(), Some("*x*"));
        assert_eq!(TitleMap.to_external(&"x".repeat(300)).map(|t| t.chars().count()), Some(255));
    }
}
