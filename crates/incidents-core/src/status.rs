//! Incident status and closure reason: the two fixed vocabularies of the workflow.
//!
//! Status values are stored as integers and their order is meaningful: "open" in dedup terms means
//! `status <= Mitigated`, "not closed" means `status < Closed`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A value that is not part of a fixed vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {value}")]
pub struct UnknownValue {
    /// Which vocabulary was asked (for example `incident status`).
    pub kind: &'static str,
    /// The rejected value, as received.
    pub value: String,
}

/// Where an incident stands in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "i32", try_from = "i32")]
pub enum IncidentStatus {
    Open = 10,
    Investigating = 20,
    Mitigating = 30,
    Mitigated = 40,
    PostMortem = 50,
    Closed = 60,
}

impl IncidentStatus {
    /// Every status, in workflow order.
    pub const ALL: [Self; 6] =
        [Self::Open, Self::Investigating, Self::Mitigating, Self::Mitigated, Self::PostMortem, Self::Closed];

    /// The stored integer value.
    #[must_use]
    pub const fn value(self) -> i32 {
        self as i32
    }

    /// The human label shown in the API, Slack and the dashboard.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Investigating => "Investigating",
            Self::Mitigating => "Mitigating",
            Self::Mitigated => "Mitigated",
            Self::PostMortem => "Post-mortem",
            Self::Closed => "Closed",
        }
    }

    /// Parses the stored integer value.
    ///
    /// # Errors
    /// When `value` is not one of 10, 20, 30, 40, 50, 60.
    pub fn from_value(value: i32) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|status| status.value() == value)
            .ok_or_else(|| UnknownValue { kind: "incident status", value: value.to_string() })
    }

    /// Parses a label, case-insensitively ("Post-mortem", "post_mortem" and "postmortem" all work).
    ///
    /// # Errors
    /// When `label` names no status.
    pub fn from_label(label: &str) -> Result<Self, UnknownValue> {
        let wanted: String =
            label.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
        Self::ALL
            .into_iter()
            .find(|status| {
                status
                    .label()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_lowercase())
                    .eq(wanted.chars())
            })
            .ok_or_else(|| UnknownValue { kind: "incident status", value: label.to_owned() })
    }

    /// Statuses strictly before `self`.
    #[must_use]
    pub fn lt(self) -> Vec<Self> {
        Self::ALL.into_iter().filter(|s| *s < self).collect()
    }

    /// Statuses before or equal to `self`.
    #[must_use]
    pub fn lte(self) -> Vec<Self> {
        Self::ALL.into_iter().filter(|s| *s <= self).collect()
    }

    /// Statuses strictly after `self`.
    #[must_use]
    pub fn gt(self) -> Vec<Self> {
        Self::ALL.into_iter().filter(|s| *s > self).collect()
    }

    /// Statuses after or equal to `self`.
    #[must_use]
    pub fn gte(self) -> Vec<Self> {
        Self::ALL.into_iter().filter(|s| *s >= self).collect()
    }

    /// Statuses up to `self`, without the post-mortem step (for incidents that need none).
    #[must_use]
    pub fn lte_skip_postmortem(self) -> Vec<Self> {
        self.lte().into_iter().filter(|s| *s != Self::PostMortem).collect()
    }

    /// Whether an incident in this status still holds its deduplication key.
    #[must_use]
    pub fn holds_dedup_key(self) -> bool {
        self <= Self::Mitigated
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl From<IncidentStatus> for i32 {
    fn from(status: IncidentStatus) -> Self {
        status.value()
    }
}

impl TryFrom<i32> for IncidentStatus {
    type Error = UnknownValue;

    fn try_from(value: i32) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

/// Why an incident was closed without following the whole workflow (or, `Resolved`, normally).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosureReason {
    Resolved,
    Duplicate,
    FalsePositive,
    Superseded,
    External,
    Cancelled,
}

impl ClosureReason {
    /// Every reason, in the order forms show them.
    pub const ALL: [Self; 6] = [
        Self::Resolved,
        Self::Duplicate,
        Self::FalsePositive,
        Self::Superseded,
        Self::External,
        Self::Cancelled,
    ];

    /// The stored value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Resolved => "resolved",
            Self::Duplicate => "duplicate",
            Self::FalsePositive => "false_positive",
            Self::Superseded => "superseded",
            Self::External => "external",
            Self::Cancelled => "cancelled",
        }
    }

    /// The human label.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Resolved => "Resolved normally",
            Self::Duplicate => "Duplicate incident",
            Self::FalsePositive => "False alarm - no actual issue",
            Self::Superseded => "Superseded by another incident",
            Self::External => "External dependency/known issue",
            Self::Cancelled => "Cancelled - no longer relevant",
        }
    }

    /// Reasons offered when closing early (from Open or Investigating): all but `Resolved`.
    #[must_use]
    pub fn early_closure_choices() -> Vec<Self> {
        Self::ALL.into_iter().filter(|r| *r != Self::Resolved).collect()
    }

    /// Parses the stored value.
    ///
    /// # Errors
    /// When `value` is not a closure reason.
    pub fn parse(value: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == value)
            .ok_or_else(|| UnknownValue { kind: "closure reason", value: value.to_owned() })
    }
}

impl fmt::Display for ClosureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_and_labels_match_the_original() {
        let pairs: Vec<(i32, &str)> = IncidentStatus::ALL.iter().map(|s| (s.value(), s.label())).collect();
        assert_eq!(
            pairs,
            vec![
                (10, "Open"),
                (20, "Investigating"),
                (30, "Mitigating"),
                (40, "Mitigated"),
                (50, "Post-mortem"),
                (60, "Closed")
            ]
        );
    }

    #[test]
    fn comparison_helpers() {
        use IncidentStatus::*;
        assert_eq!(Mitigating.lt(), vec![Open, Investigating]);
        assert_eq!(Mitigating.gte(), vec![Mitigating, Mitigated, PostMortem, Closed]);
        assert_eq!(Investigating.lte(), vec![Open, Investigating]);
        assert_eq!(PostMortem.gt(), vec![Closed]);
        assert_eq!(Closed.lte_skip_postmortem(), vec![Open, Investigating, Mitigating, Mitigated, Closed]);
    }

    #[test]
    fn parsing_rejects_unknown_values() {
        assert_eq!(IncidentStatus::from_value(40), Ok(IncidentStatus::Mitigated));
        assert!(IncidentStatus::from_value(999).is_err());
        assert_eq!(IncidentStatus::from_label("post_mortem"), Ok(IncidentStatus::PostMortem));
        assert_eq!(IncidentStatus::from_label("CLOSED"), Ok(IncidentStatus::Closed));
        assert!(IncidentStatus::from_label("done").is_err());
    }

    #[test]
    fn dedup_window_ends_at_mitigated() {
        assert!(IncidentStatus::Mitigated.holds_dedup_key());
        assert!(!IncidentStatus::PostMortem.holds_dedup_key());
    }

    #[test]
    fn closure_reasons_are_the_six_of_the_original() {
        let all: Vec<(&str, &str)> = ClosureReason::ALL.iter().map(|r| (r.as_str(), r.label())).collect();
        assert_eq!(
            all,
            vec![
                ("resolved", "Resolved normally"),
                ("duplicate", "Duplicate incident"),
                ("false_positive", "False alarm - no actual issue"),
                ("superseded", "Superseded by another incident"),
                ("external", "External dependency/known issue"),
                ("cancelled", "Cancelled - no longer relevant"),
            ]
        );
        assert!(!ClosureReason::early_closure_choices().contains(&ClosureReason::Resolved));
        assert_eq!(ClosureReason::early_closure_choices().len(), 5);
        assert!(ClosureReason::parse("nope").is_err());
    }
}
