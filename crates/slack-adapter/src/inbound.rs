//! The one endpoint Slack calls, `POST /api/v2/firefighter/slack/incident/` (the original's path, so
//! an existing Slack app keeps working): slash commands, interactivity and the Events API.
//!
//! The signature is checked on the raw body before anything is parsed; then the request is
//! acknowledged at once and its work queued as a job (Slack wants an answer within 3 s and retries
//! events it did not get one for: retries are recognised by `event_id`).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use jobs::Enqueue;
use platform::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::verify;

/// The longest body Slack sends (a view submission with many blocks stays far below).
const MAX_BODY: usize = 1024 * 1024;
/// How long an `event_id` is remembered (Slack retries within minutes).
const EVENT_MEMORY: Duration = Duration::from_secs(60 * 60);

/// An Events API event, queued for its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlackEventJob {
    pub event_id: String,
    pub event: Value,
}

impl jobs::Job for SlackEventJob {
    const NAME: &'static str = "slack.event";
    const QUEUE: &'static str = "slack_events";
    fn idempotency_key(&self) -> String {
        format!("slack-event:{}", self.event_id)
    }
}

/// Writes the jobs of acknowledged events durably, many requests per commit (Slack retries what
/// is not answered, so nothing is acknowledged before it is stored).
pub type EventWriter = jobs::EnqueueWriter;

/// What answers Slack, whatever the transport (the HTTP endpoint, Socket Mode).
#[derive(Clone)]
pub struct Handlers {
    pub cache: Arc<dyn cache::Cache>,
    pub events: Arc<EventWriter>,
    pub interactions: Arc<crate::interact::Interactions>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers").finish_non_exhaustive()
    }
}

/// What the endpoint needs.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// Every request is checked against it (`FF_SLACK_SKIP_CHECKS` does not turn this off).
    pub signing_secret: Secret,
    pub handlers: Handlers,
}

/// A slash command or an interaction.
#[derive(Debug)]
pub enum Request {
    Interaction(Value),
    Command(Vec<(String, String)>),
}

/// Why an event was not stored (Slack sends it again).
#[derive(Debug)]
pub struct NotStored(pub String);

impl Handlers {
    /// Answers a command or an interaction: the body of the answer (`None`: an empty one). Its work
    /// runs on the blocking pool; a job it promises is stored before the answer; the Slack calls it
    /// asks for are made right after.
    pub async fn answer(&self, request: Request) -> Option<Value> {
        let interactions = Arc::clone(&self.interactions);
        let answered = tokio::task::spawn_blocking(move || match request {
            Request::Interaction(payload) => interactions.interaction(&payload),
            Request::Command(form) => interactions.command(&form),
        })
        .await;
        let reply = match answered {
            Ok(reply) => reply,
            Err(error) => {
                tracing::error!(%error, "a Slack interaction failed");
                return Some(json!({"response_type": "ephemeral",
                    "text": ":x: Something went wrong. Please try again in a moment."}));
            }
        };
        if let Some(durable) = reply.durable {
            // Stored before the answer: what is acknowledged is never lost.
            if let Err(error) = self.events.write(durable.job).await {
                tracing::error!(%error, "could not store the work of a Slack submission");
                return Some(json!({"response_action": "errors",
                    "errors": {durable.block: "Could not save right now. Please submit again in a moment."}}));
            }
        }
        if !reply.after.is_empty() {
            let interactions = Arc::clone(&self.interactions);
            let after = reply.after;
            // Right away (a trigger expires in 3 s), but after the answer is on its way.
            drop(tokio::task::spawn_blocking(move || interactions.run_after(after)));
        }
        reply.body
    }

    /// Stores an Events API event as a job, once however often Slack sends it.
    ///
    /// # Errors
    /// The job could not be stored: Slack must send the event again.
    pub async fn store_event(&self, event_id: &str, event: &Value) -> Result<(), NotStored> {
        let key = format!("slack:event:{event_id}");
        // A retry of an event already queued: the cache knows it (and, should the cache fail, the
        // job's idempotency key still lets it in once).
        if let Ok(false) = self.cache.set_if_absent(&key, b"1", EVENT_MEMORY).await {
            return Ok(());
        }
        let job = SlackEventJob { event_id: event_id.to_owned(), event: event.clone() };
        let queued = match Enqueue::new(&job) {
            Ok(job) => self.events.write(job).await,
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = queued {
            tracing::error!(%error, event_id, "could not queue a Slack event; Slack will send it again");
            let _ = self.cache.delete(&key).await;
            return Err(NotStored(error));
        }
        Ok(())
    }
}

/// Mounts the endpoint (with and without the trailing slash).
pub fn configure(routes: &mut web::ServiceConfig, inbound: Inbound) {
    routes
        .app_data(web::Data::new(inbound))
        .app_data(web::PayloadConfig::new(MAX_BODY))
        .route("/incident/", web::post().to(receive))
        .route("/incident", web::post().to(receive));
}

fn refuse(status: actix_web::http::StatusCode, code: &str, detail: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": code, "detail": detail}))
}

async fn receive(request: HttpRequest, body: web::Bytes, inbound: web::Data<Inbound>) -> HttpResponse {
    // Before anything is parsed, whatever the configuration.
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
    let now = chrono::Utc::now().timestamp();
    if let Err(error) = verify::verify(
        inbound.signing_secret.expose(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        now,
    ) {
        tracing::warn!(%error, "refused a request claiming to come from Slack");
        return refuse(actix_web::http::StatusCode::UNAUTHORIZED, "invalid_signature", &error.to_string());
    }
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(envelope) => events(&inbound, envelope).await,
            Err(error) => {
                refuse(actix_web::http::StatusCode::BAD_REQUEST, "invalid_body", &error.to_string())
            }
        }
    } else {
        match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
            Ok(form) => form_request(&inbound, form).await,
            Err(error) => {
                refuse(actix_web::http::StatusCode::BAD_REQUEST, "invalid_body", &error.to_string())
            }
        }
    }
}

/// Slash commands, interactivity payloads and `ssl_check`.
async fn form_request(inbound: &Inbound, form: Vec<(String, String)>) -> HttpResponse {
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    if field("ssl_check") == Some("1") {
        return HttpResponse::Ok().finish();
    }
    let request = if let Some(payload) = field("payload") {
        match serde_json::from_str::<Value>(payload) {
            Ok(payload) => Request::Interaction(payload),
            Err(error) => {
                return refuse(
                    actix_web::http::StatusCode::BAD_REQUEST,
                    "invalid_payload",
                    &error.to_string(),
                );
            }
        }
    } else if field("command").is_some() {
        Request::Command(form)
    } else {
        return refuse(
            actix_web::http::StatusCode::BAD_REQUEST,
            "unknown_request",
            "neither a command, an interaction nor an event",
        );
    };
    match inbound.handlers.answer(request).await {
        Some(body) => HttpResponse::Ok().content_type(ContentType::json()).json(body),
        None => HttpResponse::Ok().finish(),
    }
}

/// The Events API: `url_verification` and `event_callback`.
async fn events(inbound: &Inbound, envelope: Value) -> HttpResponse {
    match envelope.get("type").and_then(Value::as_str) {
        Some("url_verification") => {
            let challenge = envelope.get("challenge").and_then(Value::as_str).unwrap_or_default();
            HttpResponse::Ok().json(json!({"challenge": challenge}))
        }
        Some("event_callback") => {
            let (Some(event_id), Some(event)) =
                (envelope.get("event_id").and_then(Value::as_str), envelope.get("event"))
            else {
                return refuse(
                    actix_web::http::StatusCode::BAD_REQUEST,
                    "invalid_event",
                    "event_id and event are required",
                );
            };
            match inbound.handlers.store_event(event_id, event).await {
                Ok(()) => HttpResponse::Ok().finish(),
                Err(_) => {
                    refuse(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again")
                }
            }
        }
        _ => HttpResponse::Ok().finish(),
    }
}
