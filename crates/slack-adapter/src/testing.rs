//! Incidents for unit tests.

use chrono::NaiveDateTime;
use incidents_core::IncidentStatus;
use incidents_core::query::{CategoryView, EnvironmentView, GroupView, IncidentView, PriorityView, UserView};

/// A P1 incident `id`, open, created at `created_at` (`YYYY-MM-DDTHH:MM:SS`, UTC) in `environment`
/// and `category` (group "Marketplace"), declared by Ada.
pub(crate) fn incident(id: i64, created_at: &str, environment: &str, category: &str) -> IncidentView {
    let at = NaiveDateTime::parse_from_str(created_at, "%Y-%m-%dT%H:%M:%S").unwrap_or_default();
    IncidentView {
        id: incidents_core::IncidentId(id),
        version: 1,
        title: "Checkout is down".into(),
        description: "Orders fail at payment.".into(),
        status: IncidentStatus::Open,
        created_at: at,
        updated_at: at,
        mitigated_at: None,
        closed_at: None,
        closure_reason: None,
        closure_reference: String::new(),
        dedup_key: None,
        ignored: false,
        private: false,
        custom_fields: serde_json::json!({}),
        environment: EnvironmentView {
            id: "env".into(),
            value: environment.into(),
            name: environment.into(),
            description: String::new(),
            order: 0,
            default: false,
        },
        priority: PriorityView {
            id: "p1".into(),
            name: "P1".into(),
            value: 1,
            emoji: ":red_circle:".into(),
            description: String::new(),
            order: 1,
            default: false,
            needs_postmortem: true,
            enabled_create: true,
            enabled_update: true,
            reminder_time_seconds: 3600,
            sla_seconds: 0,
            recommended_response_type: None,
            created_at: at,
            updated_at: at,
        },
        category: CategoryView {
            id: "cat".into(),
            name: category.into(),
            description: String::new(),
            order: 0,
            private: false,
            deploy_warning: true,
            group: GroupView {
                id: "grp".into(),
                name: "Marketplace".into(),
                description: String::new(),
                order: 0,
                created_at: at,
                updated_at: at,
            },
            created_at: at,
            updated_at: at,
        },
        created_by: UserView {
            id: incidents_core::UserId(uuid::Uuid::nil()),
            username: "ada".into(),
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
        },
        roles: Vec::new(),
        metrics: Vec::new(),
        costs: Vec::new(),
        tags: Vec::new(),
    }
}
