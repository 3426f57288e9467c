//! Webhooks in the back-office: the endpoints (seen and deleted there; created with the API or
//! `firefighter-server webhook create`, which seal their secret) and every delivery's record.

use incidents_core::backoffice::{Field, Key, Kind, Model};

/// The webhook integration's back-office models.
pub static MODELS: &[Model] = &[
    Model {
        slug: "webhooks",
        table: "webhook_endpoints",
        label: "webhook",
        plural: "Webhooks",
        section: "Integrations",
        help: "Endpoints told of incident events, signed with their secret (never shown). Add them with \
               POST /api/v2/firefighter/webhooks or `firefighter-server webhook create`.",
        key: Key::Serial,
        title: "url",
        order_by: "created_at DESC",
        fields: &[
            Field::new("url", "URL", Kind::Text { min: 8, max: 2000 }).fixed(),
            Field::new("events", "Events", Kind::Text { min: 0, max: 4000 }).fixed(),
            Field::new("created_at", "Created", Kind::Text { min: 0, max: 64 }).fixed(),
        ],
        columns: &["url", "events", "created_at"],
        create: false,
        delete: true,
        timestamps: false,
        single_true: &[],
    },
    Model {
        slug: "webhook-deliveries",
        table: "webhook_deliveries",
        label: "webhook delivery",
        plural: "Webhook deliveries",
        section: "Integrations",
        help: "What each endpoint was sent, and how it answered (newest first). A dead delivery's job can be \
               retried from Jobs.",
        key: Key::Serial,
        title: "event_type",
        order_by: "updated_at DESC",
        fields: &[
            Field::new("endpoint_id", "Webhook", Kind::Ref { model: "webhooks", optional: false }).fixed(),
            Field::new("event_type", "Event", Kind::Text { min: 1, max: 100 }).fixed(),
            Field::new("event_id", "Event id", Kind::Text { min: 1, max: 100 }).fixed(),
            Field::new("state", "State", Kind::Text { min: 1, max: 20 }).fixed(),
            Field::new("attempts", "Attempts", Kind::Int { min: 0, max: 1_000 }).fixed(),
            Field::new("last_status", "Last HTTP status", Kind::Int { min: 0, max: 999 }).fixed(),
            Field::new("last_error", "Last error", Kind::OptionalText { max: 10_000 }).fixed(),
            Field::new("updated_at", "Last attempt", Kind::Text { min: 0, max: 64 }).fixed(),
        ],
        columns: &["event_type", "endpoint_id", "state", "attempts", "last_status", "updated_at"],
        create: false,
        delete: false,
        timestamps: false,
        single_true: &[],
    },
];
