//! Reference data: the vocabularies an operator can edit (priorities, environments, role types, key
//! events, metrics, impacts, groups and categories, cost types) and the default set every new
//! installation starts with.
//!
//! The definitions carry natural keys only (names, slugs, codes); storage assigns ids and seeds
//! idempotently by those keys, so a second seed changes nothing and never overwrites an operator's edits.

use std::time::Duration;

use crate::impact::ImpactLevelCode;

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// A priority level (P1 … P5, GAMEDAY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityDefinition {
    pub name: &'static str,
    /// Business rules compare this value: ≤ 3 is critical, ≥ 4 normal.
    pub value: i32,
    pub emoji: &'static str,
    pub description: &'static str,
    pub order: i32,
    pub is_default: bool,
    pub needs_postmortem: bool,
    pub enabled_create: bool,
    pub enabled_update: bool,
    /// No timeline entry for this long sends a reminder.
    pub reminder_time: Duration,
    pub sla: Duration,
}

/// A deployment environment; business rules compare `value` (for example `PRD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentDefinition {
    pub value: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub order: i32,
    pub is_default: bool,
}

/// A role people hold on an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleTypeDefinition {
    pub slug: &'static str,
    pub name: &'static str,
    pub emoji: &'static str,
    /// Required roles go to the creator at declaration and can never be removed.
    pub required: bool,
    pub order: i32,
    pub summary: &'static str,
    pub summary_first_person: &'static str,
    pub description: &'static str,
    pub aka: &'static str,
}

/// A key event (milestone) of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEventTypeDefinition {
    pub event_type: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub user_editable: bool,
    /// Needed before a P1–P3 incident may close.
    pub required: bool,
    pub asked_for: bool,
}

/// A duration between two key events: `end − start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricTypeDefinition {
    pub code: &'static str,
    pub slug: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub end_event: &'static str,
    pub start_event: &'static str,
}

/// One level of one impact type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactLevelDefinition {
    pub code: ImpactLevelCode,
    pub name: &'static str,
    pub emoji: &'static str,
    pub order: i32,
}

/// An impact type with the levels it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactTypeDefinition {
    pub value: &'static str,
    pub name: &'static str,
    pub emoji: &'static str,
    pub help_text: &'static str,
    pub order: i32,
    pub levels: Vec<ImpactLevelDefinition>,
}

/// An incident category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryDefinition {
    pub name: &'static str,
    pub description: &'static str,
    pub order: i32,
    /// Incidents in a private category are private by default.
    pub private: bool,
    pub deploy_warning: bool,
}

/// A group of categories (a domain of the business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDefinition {
    pub name: &'static str,
    pub description: &'static str,
    pub order: i32,
    pub categories: Vec<CategoryDefinition>,
}

/// A kind of cost an incident can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostTypeDefinition {
    pub name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub is_default: bool,
}

/// The complete reference data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceData {
    pub priorities: Vec<PriorityDefinition>,
    pub environments: Vec<EnvironmentDefinition>,
    pub role_types: Vec<RoleTypeDefinition>,
    pub key_event_types: Vec<KeyEventTypeDefinition>,
    pub metric_types: Vec<MetricTypeDefinition>,
    pub impact_types: Vec<ImpactTypeDefinition>,
    pub groups: Vec<GroupDefinition>,
    pub cost_types: Vec<CostTypeDefinition>,
}

impl ReferenceData {
    /// The set a new installation starts with: the original's priorities, SLAs and production impact
    /// matrix, and a small example set of groups and categories.
    #[must_use]
    pub fn defaults() -> Self {
        Self {
            priorities: default_priorities(),
            environments: default_environments(),
            role_types: default_role_types(),
            key_event_types: default_key_event_types(),
            metric_types: default_metric_types(),
            impact_types: default_impact_types(),
            groups: default_groups(),
            cost_types: default_cost_types(),
        }
    }
}

fn priority(
    name: &'static str,
    value: i32,
    emoji: &'static str,
    order: i32,
    sla: u64,
    description: &'static str,
) -> PriorityDefinition {
    PriorityDefinition {
        name,
        value,
        emoji,
        description,
        order,
        is_default: false,
        needs_postmortem: false,
        enabled_create: true,
        enabled_update: true,
        reminder_time: Duration::from_secs(HOUR),
        sla: Duration::from_secs(sla),
    }
}

fn default_priorities() -> Vec<PriorityDefinition> {
    vec![
        PriorityDefinition {
            needs_postmortem: true,
            ..priority("P1", 1, "🌪️", 0, 2 * HOUR, "Critical issue that warrants liaison with e-team.")
        },
        PriorityDefinition {
            needs_postmortem: true,
            ..priority("P2", 2, "⛈️", 1, 4 * HOUR, "Major issue impacting customers.")
        },
        priority("P3", 3, "🌩️", 2, DAY, "Minor issue affecting customers."),
        PriorityDefinition {
            is_default: true,
            ..priority("P4", 4, "🌦️", 3, 5 * DAY, "Minor issue not affecting customers.")
        },
        priority("P5", 5, "🐞", 4, 10 * DAY, "Cosmetic issue not affecting customers."),
        priority("GAMEDAY", 20, "🤡", 20, HOUR, "Gamedays experiments"),
    ]
}

fn default_environments() -> Vec<EnvironmentDefinition> {
    vec![
        EnvironmentDefinition {
            value: "PRD",
            name: "Prod",
            description: "Production",
            order: 0,
            is_default: true,
        },
        EnvironmentDefinition {
            value: "STG",
            name: "Stg",
            description: "Staging",
            order: 1,
            is_default: false,
        },
        EnvironmentDefinition {
            value: "INT",
            name: "Int",
            description: "Integration",
            order: 3,
            is_default: false,
        },
    ]
}

fn default_role_types() -> Vec<RoleTypeDefinition> {
    vec![
        RoleTypeDefinition {
            slug: "commander",
            name: "Commander",
            emoji: "🧑‍✈️",
            required: true,
            order: 1,
            summary: "Leads the response: coordinates responders, decides and keeps the incident moving.",
            summary_first_person: "You lead the response: coordinate responders, decide and keep the incident moving.",
            description: "The commander owns the incident until it is closed. They make sure someone \
                          works on each open question, that the status reflects reality, and that the \
                          key events are recorded.",
            aka: "Incident Lead",
        },
        RoleTypeDefinition {
            slug: "communication_lead",
            name: "Communication Lead",
            emoji: "🧑‍💼",
            required: false,
            order: 2,
            summary: "Keeps stakeholders informed with regular, accurate updates.",
            summary_first_person: "You keep stakeholders informed with regular, accurate updates.",
            description: "The communication lead writes the status updates, answers stakeholders and \
                          shields responders from interruptions.",
            aka: "Public Relations Lead",
        },
    ]
}

fn key_event(
    event_type: &'static str,
    name: &'static str,
    summary: &'static str,
    user_editable: bool,
    required: bool,
    asked_for: bool,
) -> KeyEventTypeDefinition {
    KeyEventTypeDefinition { event_type, name, summary, description: "", user_editable, required, asked_for }
}

fn default_key_event_types() -> Vec<KeyEventTypeDefinition> {
    vec![
        key_event("started", "Started", "*When did the impact start?*", true, true, true),
        key_event("detected", "Detected", "*When was the problem detected?*", true, true, true),
        key_event("declared", "Declared", "*When was the incident declared?*", false, true, true),
        key_event("recovered", "Recovered", "*When did the impact end?*", true, true, true),
        key_event("resolved", "Resolved", "*When was the root cause fixed?*", false, false, false),
        key_event("mitigated", "Mitigated", "*When was the impact mitigated?*", false, false, false),
    ]
}

fn metric(
    code: &'static str,
    slug: &'static str,
    name: &'static str,
    end_event: &'static str,
    start_event: &'static str,
    description: &'static str,
) -> MetricTypeDefinition {
    MetricTypeDefinition { code, slug, name, description, end_event, start_event }
}

fn default_metric_types() -> Vec<MetricTypeDefinition> {
    vec![
        metric("TTD", "time_to_detect", "Time To Detect", "detected", "started", "From start to detection."),
        metric(
            "TTA",
            "time_to_internal_response",
            "Time To Acknowledge",
            "declared",
            "started",
            "From start to declaration.",
        ),
        metric(
            "TTRep",
            "time_to_repair",
            "Time To Repair",
            "mitigated",
            "declared",
            "From declaration to mitigation.",
        ),
        metric("TTF", "time_to_fix", "Time To Fix", "recovered", "declared", "From declaration to recovery."),
        metric(
            "TTRec",
            "time_to_recovery",
            "Time To Recovery",
            "recovered",
            "started",
            "From start to recovery.",
        ),
        metric(
            "TTResp",
            "time_to_respond",
            "Time To Respond",
            "recovered",
            "detected",
            "From detection to recovery.",
        ),
        metric(
            "TTReso",
            "time_to_resolve",
            "Time To Resolve",
            "resolved",
            "started",
            "From start to resolution.",
        ),
    ]
}

fn level(code: ImpactLevelCode, name: &'static str) -> ImpactLevelDefinition {
    let emoji = match code {
        ImpactLevelCode::Highest => "⏫",
        ImpactLevelCode::High => "🔼",
        ImpactLevelCode::Medium => "➡️",
        ImpactLevelCode::Low => "🔽",
        ImpactLevelCode::Lowest => "⏬",
        ImpactLevelCode::NoImpact => "",
    };
    // Forms list levels by descending order, most severe first.
    let order = match code {
        ImpactLevelCode::Highest => 50,
        ImpactLevelCode::High => 40,
        ImpactLevelCode::Medium => 30,
        ImpactLevelCode::Low => 20,
        ImpactLevelCode::Lowest => 10,
        ImpactLevelCode::NoImpact => 0,
    };
    ImpactLevelDefinition { code, name, emoji, order }
}

fn default_impact_types() -> Vec<ImpactTypeDefinition> {
    use ImpactLevelCode::*;
    vec![
        ImpactTypeDefinition {
            value: "business_impact",
            name: "Business Impact",
            emoji: "💰",
            help_text: "Payment, order funnel, etc.",
            order: 1,
            levels: vec![
                level(Highest, "Critical Impact (>5% BV loss)"),
                level(High, "Major Impact (<5% BV loss)"),
                level(Medium, "Uncertain Business Impact"),
                level(NoImpact, "No impact"),
            ],
        },
        ImpactTypeDefinition {
            value: "customers_impact",
            name: "Customers Impact",
            emoji: "👥",
            help_text: "Search, login, order tracking, etc.",
            order: 2,
            levels: vec![
                level(Highest, "Critical issue for many customers"),
                level(High, "Major issue for many customers"),
                level(Medium, "Major issue for few customers"),
                level(Low, "Minor issue for customers"),
                level(Lowest, "Cosmetic minor issue for customers"),
                level(NoImpact, "No impact"),
            ],
        },
        ImpactTypeDefinition {
            value: "sellers_impact",
            name: "Sellers Impact",
            emoji: "📦",
            help_text: "Toolbox, ingestion, etc.",
            order: 3,
            levels: vec![
                level(Highest, "Critical issue for many sellers"),
                level(High, "Major issue for many sellers"),
                level(Medium, "Major issue for few sellers"),
                level(Low, "Minor issue for sellers"),
                level(Lowest, "Cosmetic minor issue for sellers"),
                level(NoImpact, "No impact"),
            ],
        },
        ImpactTypeDefinition {
            value: "employees_impact",
            name: "Employees Impact",
            emoji: "🧑‍💼",
            help_text: "Internal tools, Gitlab, etc.",
            order: 4,
            levels: vec![
                level(Medium, "Departments fully blocked"),
                level(Low, "Some employees affected"),
                level(Lowest, "Degraded service for employees"),
                level(NoImpact, "No impact for employees"),
            ],
        },
    ]
}

fn category(name: &'static str, description: &'static str, order: i32) -> CategoryDefinition {
    CategoryDefinition { name, description, order, private: false, deploy_warning: true }
}

fn default_groups() -> Vec<GroupDefinition> {
    vec![
        GroupDefinition {
            name: "Marketplace",
            description: "What customers see and buy with.",
            order: 0,
            categories: vec![
                category("Search", "Product search and navigation.", 0),
                category("Checkout", "Cart, payment and order placement.", 1),
                category("Customer Account", "Login, sign-up and order tracking.", 2),
            ],
        },
        GroupDefinition {
            name: "Platform",
            description: "Shared infrastructure every service runs on.",
            order: 1,
            categories: vec![
                category("Infrastructure Issue", "Compute, clusters and cloud resources.", 0),
                category("Database Problem", "Primary databases, replicas and caches.", 1),
                category("Network Issues", "DNS, load balancers, CDN and connectivity.", 2),
            ],
        },
        GroupDefinition {
            name: "Security",
            description: "Threats to data, accounts and systems.",
            order: 2,
            categories: vec![CategoryDefinition {
                private: true,
                deploy_warning: false,
                ..category("Security Incident", "Suspected breach, leak or abuse.", 0)
            }],
        },
        GroupDefinition {
            name: "Corporate IT",
            description: "Tools employees rely on.",
            order: 3,
            categories: vec![CategoryDefinition {
                deploy_warning: false,
                ..category("Internal Tools", "Chat, source control, CI and office tools.", 0)
            }],
        },
        GroupDefinition {
            name: "Other",
            description: "Anything that fits nowhere else.",
            order: 4,
            categories: vec![category("Other", "Not covered by another category.", 0)],
        },
    ]
}

fn default_cost_types() -> Vec<CostTypeDefinition> {
    vec![
        CostTypeDefinition {
            name: "Revenue loss",
            description: "Sales lost while the incident lasted.",
            category: "Business",
            is_default: true,
        },
        CostTypeDefinition {
            name: "Customer compensation",
            description: "Refunds, vouchers and goodwill gestures.",
            category: "Business",
            is_default: false,
        },
        CostTypeDefinition {
            name: "Engineering time",
            description: "Time spent responding and repairing.",
            category: "Operations",
            is_default: false,
        },
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::impact::ImpactLevelCode;

    #[test]
    fn exactly_one_default_priority_and_environment() {
        let data = ReferenceData::defaults();
        assert_eq!(data.priorities.iter().filter(|p| p.is_default).count(), 1);
        assert_eq!(data.environments.iter().filter(|e| e.is_default).count(), 1);
    }

    #[test]
    fn priorities_carry_the_production_slas() {
        let data = ReferenceData::defaults();
        let slas: Vec<(&str, u64)> = data.priorities.iter().map(|p| (p.name, p.sla.as_secs())).collect();
        assert_eq!(
            slas,
            vec![
                ("P1", 2 * HOUR),
                ("P2", 4 * HOUR),
                ("P3", DAY),
                ("P4", 5 * DAY),
                ("P5", 10 * DAY),
                ("GAMEDAY", HOUR)
            ]
        );
        assert!(data.priorities.iter().all(|p| p.reminder_time.as_secs() == HOUR));
    }

    #[test]
    fn every_impact_type_offers_no_impact_and_unique_codes() {
        for impact_type in ReferenceData::defaults().impact_types {
            let codes: HashSet<ImpactLevelCode> = impact_type.levels.iter().map(|l| l.code).collect();
            assert_eq!(codes.len(), impact_type.levels.len(), "{}", impact_type.value);
            assert!(codes.contains(&ImpactLevelCode::NoImpact), "{}", impact_type.value);
        }
    }

    #[test]
    fn employee_impact_caps_at_p3_and_business_impact_is_at_least_p3() {
        let data = ReferenceData::defaults();
        let levels = |value: &str| -> Vec<ImpactLevelCode> {
            data.impact_types
                .iter()
                .filter(|t| t.value == value)
                .flat_map(|t| t.levels.iter().map(|l| l.code))
                .collect()
        };
        assert!(!levels("employees_impact").contains(&ImpactLevelCode::High));
        assert!(!levels("business_impact").contains(&ImpactLevelCode::Low));
    }

    #[test]
    fn metrics_refer_to_known_key_events() {
        let data = ReferenceData::defaults();
        let events: HashSet<&str> = data.key_event_types.iter().map(|k| k.event_type).collect();
        for metric in &data.metric_types {
            assert!(
                events.contains(metric.end_event) && events.contains(metric.start_event),
                "{}",
                metric.code
            );
            assert_ne!(metric.end_event, metric.start_event);
        }
    }
}
