//! Webhooks in the back-office: the endpoints (registered there by [`register`], which seals the
//! secret as the API and the CLI do; seen and deleted through the generic forms) and every
//! delivery's record.

use std::sync::Arc;

use incidents_core::backoffice::{Field, Key, Kind, Model};
use platform::Context;
use platform::actions::{ActionError, ActionField, TableAction};

use crate::WebhookStore as _;
use crate::sealed::SecretBox;

/// The back-office's form to register an endpoint: checked like the API's, its secret sealed.
pub(crate) fn register(context: &Context) -> TableAction {
    let database = context.database.clone();
    let secrets = SecretBox::new(context.secret_key.expose());
    let field = |name, label: &str, placeholder: &str, secret| ActionField {
        name,
        label: label.to_owned(),
        placeholder: placeholder.to_owned(),
        secret,
    };
    TableAction {
        integration: "webhooks",
        model: "webhooks",
        name: "register",
        title: "Register a webhook".to_owned(),
        help: "Events are delivered signed with the secret (HMAC-SHA256, see docs/webhooks.md); it is not shown again."
            .to_owned(),
        submit: "Register".to_owned(),
        fields: vec![
            field("url", "URL", "https://hooks.example.com/firefighter", false),
            field("secret", "Secret (16 to 200 characters)", "", true),
            field("events", "Events, comma-separated", "incident_created, incident_updated", false),
        ],
        run: Arc::new(move |fields, _actor| {
            let get = |name: &str| fields.get(name).map(|value| value.trim().to_owned()).unwrap_or_default();
            let (url, secret) = (get("url"), get("secret"));
            let events: Vec<String> =
                get("events").split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).collect();
            crate::validate_endpoint(&url, &secret, &events)
                .map_err(|invalid| ActionError::Invalid(format!("{}: {}", invalid.field, invalid.message)))?;
            let endpoint = database
                .create_endpoint(&url, &secrets.seal(&secret), &events, incidents_core::clock::now())
                .map_err(|error| ActionError::Failed(error.to_string()))?;
            tracing::info!(webhook = endpoint.id, "webhook endpoint registered from the back-office");
            Ok(format!("Webhook {} registered for {}.", endpoint.id, events.join(", ")))
        }),
    }
}

/// The webhook integration's back-office models.
pub static MODELS: &[Model] = &[
    Model {
        slug: "webhooks",
        table: "webhook_endpoints",
        label: "webhook",
        plural: "Webhooks",
        section: "Integrations",
        help: "Endpoints told of incident events, signed with their secret (never shown). Also registered \
               with POST /api/v2/firefighter/webhooks or `firefighter-server webhook add`.",
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
        links: &[],
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
        links: &[],
    },
];
