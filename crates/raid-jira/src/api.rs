//! The RAID routes under `/api/v2/firefighter/raid/` (the original's paths):
//!
//! - `POST jira_update` and `POST jira_comment`: Jira's webhooks, authenticated by
//!   `X-Hub-Signature: sha256=<hex>` (HMAC-SHA256 of the raw body with `RAID_JIRA_WEBHOOK_SECRET`;
//!   the method name case-insensitive; compared in constant time; every webhook refused while the
//!   secret is empty), deduplicated by `X-Atlassian-Webhook-Identifier` (a replay is answered 200 and
//!   changes nothing), acknowledged as soon as their job is stored.
//! - `GET feature-teams`, `PUT` / `DELETE feature-teams/{jira_project_key}` (admins): the routing
//!   of tickets to feature teams' projects.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};
use hmac::{Hmac, Mac as _};
use http_api::auth::authorize_admin;
use http_api::blocking;
use http_api::body::decode;
use http_api::errors::ApiError;
use http_api::openapi::{BadRequest, Forbidden, NotFound, Throttled, Unauthorized, Unsupported};
use jobs::{Enqueue, EnqueueWriter};
use platform::Secret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use storage::Database;
use utoipa::{OpenApi, ToSchema};

use crate::raid::JiraWebhook;
use crate::store::RaidStore;

type ApiState = http_api::ApiState<Database>;

/// The longest webhook body read.
const MAX_BODY: usize = 2 * 1024 * 1024;

/// What the webhook routes share.
#[derive(Clone)]
pub(crate) struct Webhooks {
    pub secret: Secret,
    pub writer: Arc<EnqueueWriter>,
}

pub(crate) fn configure(
    routes: &mut web::ServiceConfig,
    webhooks: Option<Webhooks>,
    store: RaidStore,
    raid: Option<crate::raid::Raid>,
) {
    routes.app_data(web::Data::new(store));
    if let Some(raid) = raid {
        routes
            .app_data(web::Data::new(raid))
            .service(web::resource("/jira_bot").route(web::post().to(jira_bot)));
    }
    if let Some(webhooks) = webhooks {
        routes
            .app_data(web::Data::new(webhooks))
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .service(web::resource("/jira_update").route(web::post().to(jira_update)))
            .service(web::resource("/jira_comment").route(web::post().to(jira_comment)));
    }
    routes
        .service(
            web::resource("/incidents/{id}/ticket")
                .route(web::put().to(link_ticket))
                .route(web::delete().to(unlink_ticket)),
        )
        .service(web::resource("/incidents/{id}/comments").route(web::post().to(comment_to_jira)));
    routes.service(web::resource("/feature-teams").route(web::get().to(feature_teams))).service(
        web::resource("/feature-teams/{jira_project_key}")
            .route(web::put().to(put_feature_team))
            .route(web::delete().to(delete_feature_team)),
    );
}

/// The documented routes.
#[derive(OpenApi)]
#[openapi(
    paths(jira_bot, jira_update, jira_comment, feature_teams, put_feature_team, delete_feature_team, link_ticket, unlink_ticket, comment_to_jira),
    components(schemas(FeatureTeam, PutFeatureTeam, LinkTicket, LinkQueued, JiraComment)),
    tags((name = "jira", description = "Jira (RAID): webhooks from Jira, and the routing of tickets to feature teams"))
)]
pub(crate) struct RaidDoc;

fn unauthorized(detail: &str) -> HttpResponse {
    let mut response = ApiError::unauthenticated(detail).error_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Signature realm=\"jira-webhook\""),
    );
    response
}

/// Checks `X-Hub-Signature` against the raw body.
///
/// # Errors
/// Why the request is refused (all 401).
pub fn verify(secret: &str, signature: Option<&str>, body: &[u8]) -> Result<(), &'static str> {
    if secret.is_empty() {
        return Err("Jira webhooks are refused: RAID_JIRA_WEBHOOK_SECRET is not set.");
    }
    let Some(signature) = signature else { return Err("Authentication credentials were not provided.") };
    let Some((method, hex_digest)) = signature.trim().split_once('=') else {
        return Err("Invalid signature header.");
    };
    if !method.eq_ignore_ascii_case("sha256") {
        return Err("Unsupported signature method.");
    }
    let Ok(digest) = hex::decode(hex_digest.trim()) else { return Err("Invalid signature.") };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| "Invalid signature.")?;
    mac.update(body);
    mac.verify_slice(&digest).map_err(|_| "Invalid signature.")
}

async fn receive(request: &HttpRequest, webhooks: &Webhooks, body: &[u8], kind: &str) -> HttpResponse {
    let signature = request.headers().get("x-hub-signature").and_then(|v| v.to_str().ok());
    if let Err(detail) = verify(webhooks.secret.expose(), signature, body) {
        tracing::warn!(kind, detail, "a Jira webhook was refused");
        return unauthorized(detail);
    }
    let Ok(parsed) = serde_json::from_slice::<Value>(body) else {
        return ApiError::invalid("non_field_errors", "parse_error", "The body is not JSON.")
            .error_response();
    };
    let event = parsed.get("webhookEvent").and_then(Value::as_str).unwrap_or_default();
    if kind == "update" {
        // A deletion carries no changelog.
        let required: &[&str] = if event == "jira:issue_deleted" {
            &["issue", "webhookEvent"]
        } else {
            &["issue", "changelog", "user", "webhookEvent"]
        };
        for field in required.iter().copied() {
            if parsed.get(field).is_none_or(Value::is_null) {
                return ApiError::invalid(field, "required", "This field is required.").error_response();
            }
        }
        if !matches!(event, "jira:issue_updated" | "jira:issue_deleted") {
            return ApiError::invalid(
                "webhookEvent",
                "invalid",
                "Only jira:issue_updated and jira:issue_deleted are handled here.",
            )
            .error_response();
        }
    } else {
        for field in ["issue", "comment", "webhookEvent"] {
            if parsed.get(field).is_none_or(Value::is_null) {
                return ApiError::invalid(field, "required", "This field is required.").error_response();
            }
        }
        if !matches!(event, "comment_created" | "comment_updated" | "comment_deleted") {
            return ApiError::invalid("webhookEvent", "invalid", "Not a comment event.").error_response();
        }
    }
    // Jira's delivery id is stable across its retries; without one, the body's digest stands in.
    let identifier = request
        .headers()
        .get("x-atlassian-webhook-identifier")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .map_or_else(|| format!("sha256-{}", hex::encode(Sha256::digest(body))), str::to_owned);
    let job = JiraWebhook { identifier, kind: kind.to_owned(), body: parsed };
    let stored = match Enqueue::new(&job) {
        Ok(job) => webhooks.writer.write(job).await,
        Err(error) => Err(error.to_string()),
    };
    match stored {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(error) => {
            tracing::error!(%error, "a Jira webhook could not be stored");
            ApiError::unavailable().error_response()
        }
    }
}

/// Jira's `jira:issue_updated` webhook: a change of status or priority applied to the incident.
#[utoipa::path(post, path = "/raid/jira_update", tag = "jira", security(()),
    params(("X-Hub-Signature" = String, Header, description = "`sha256=<hex HMAC-SHA256 of the raw body>`"),
        ("X-Atlassian-Webhook-Identifier" = Option<String>, Header, description = "Jira's delivery id (deduplication)")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "Stored (or a replay), to be applied"), BadRequest, Unauthorized))]
pub(crate) async fn jira_update(
    request: HttpRequest,
    webhooks: web::Data<Webhooks>,
    body: web::Bytes,
) -> HttpResponse {
    receive(&request, &webhooks, &body, "update").await
}

/// Jira's comment webhooks: a comment made in Jira becomes a note on the incident's timeline.
#[utoipa::path(post, path = "/raid/jira_comment", tag = "jira", security(()),
    params(("X-Hub-Signature" = String, Header, description = "`sha256=<hex HMAC-SHA256 of the raw body>`"),
        ("X-Atlassian-Webhook-Identifier" = Option<String>, Header, description = "Jira's delivery id (deduplication)")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "Stored (or a replay), to be applied"), BadRequest, Unauthorized))]
pub(crate) async fn jira_comment(
    request: HttpRequest,
    webhooks: web::Data<Webhooks>,
    body: web::Bytes,
) -> HttpResponse {
    receive(&request, &webhooks, &body, "comment").await
}

/// A Landbot request (the original's `LandbotIssueRequestSerializer`).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"summary": "Seller cannot upload a catalogue", "description": "The upload page answers 500.",
    "reporter_email": "ops@example.com", "platform": "FR", "seller_contract_id": null, "zoho": null,
    "incident_category": null, "suggested_team_routing": "SBI", "priority": 3, "business_impact": "Medium",
    "labels": ["catalogue"], "environments": ["PRD"], "attachments": "['https://files.example.com/shot.png']"}))]
#[expect(dead_code, reason = "the OpenAPI description of a body read field by field")]
pub struct JiraBotRequest {
    #[schema(max_length = 128)]
    summary: String,
    description: String,
    reporter_email: String,
    /// ES, IT, FR, UK, DE, All or Internal.
    platform: String,
    #[schema(max_length = 128)]
    seller_contract_id: Option<String>,
    #[schema(max_length = 256)]
    zoho: Option<String>,
    #[schema(max_length = 256)]
    zendesk: Option<String>,
    #[schema(max_length = 128)]
    incident_category: Option<String>,
    #[schema(max_length = 10)]
    suggested_team_routing: String,
    /// 1 to 5.
    priority: Option<i64>,
    /// High, Medium or Low.
    business_impact: Option<String>,
    labels: Option<Vec<String>>,
    /// INT, STG, PRD, SUPPORT or `-` (the default).
    environments: Option<Vec<String>>,
    /// Incident (the default), Service Request, Documentation/Process Request or Feature Request.
    issue_type: Option<String>,
    /// `SBI` unless given; `null`: the project of the suggested team.
    project: Option<String>,
    /// One address, a comma-separated list, or a printed list (`"['u1', 'u2']"`): at most 10,
    /// http(s), on public addresses only (a private, loopback or link-local one is refused).
    #[schema(max_length = 20480)]
    attachments: Option<String>,
}

/// Landbot's ticket requests: the ticket is made in Jira within the request and its key answered
/// (a JSON string, as the original); its attachments are fetched and uploaded, and it is announced
/// in the alert conversations, by jobs.
#[utoipa::path(post, path = "/raid/jira_bot", tag = "jira",
    request_body(content((JiraBotRequest = "application/json"))),
    responses((status = 201, description = "The issue key", body = String, example = json!("SBI-123")),
        (status = 502, description = "Jira refused or failed"), BadRequest, Unauthorized, Forbidden, Unsupported, Throttled))]
pub(crate) async fn jira_bot(
    request: HttpRequest,
    state: web::Data<ApiState>,
    raid: web::Data<crate::raid::Raid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    use incidents_core::access::{Action, Permission, Resource};
    let principal =
        http_api::auth::authorize(&request, &state, Permission::new(Action::Add, Resource::Incident)).await?;
    let body: Value = decode(&request, &body)?;
    let raid = raid.get_ref().clone();
    let allow_private = raid.config.attachments_allow_private;
    let requested_by = principal.user.id.to_string();
    blocking(move || {
        let parsed = crate::landbot::BotRequest::parse(&body, allow_private)
            .map_err(|(field, code, detail)| ApiError::invalid(field, code, detail))?;
        raid.create_bot_ticket(&parsed, Some(&requested_by)).map_err(|error| {
            tracing::error!(%error, "a Landbot ticket could not be made");
            ApiError::bad_gateway(&error.to_string())
        })
    })
    .await
    .map(|key| HttpResponse::Created().json(key))
}

/// The body of `PUT /raid/incidents/{id}/ticket`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"issue_key": "INCIDENT-42"}))]
pub struct LinkTicket {
    /// The key of an existing Jira issue.
    #[schema(required)]
    pub issue_key: Option<String>,
}

/// A link or a comment accepted, to be made in Jira by a job.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"incident_id": 12, "issue_key": "INCIDENT-42", "status": "queued"}))]
pub struct LinkQueued {
    pub incident_id: i64,
    pub issue_key: Option<String>,
    pub status: String,
}

/// The body of `POST /raid/incidents/{id}/comments`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"message": "Rolled back to v1.2; watching error rates."}))]
pub struct JiraComment {
    /// Recorded on the incident's timeline, and posted on its ticket.
    #[schema(required, max_length = 4000)]
    pub message: Option<String>,
}

/// A Jira issue key (`PROJECT-123`).
#[must_use]
pub fn valid_issue_key(key: &str) -> bool {
    key.split_once('-').is_some_and(|(project, number)| {
        valid_project_key(project)
            && !number.is_empty()
            && number.len() <= 12
            && number.chars().all(|c| c.is_ascii_digit())
    })
}

fn incident_path(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

async fn existing_incident(state: &web::Data<ApiState>, id: i64) -> Result<(), ApiError> {
    use incidents_core::query::IncidentQueries as _;
    let backend = state.backend.clone();
    let found = blocking(move || Ok(backend.incident(incidents_core::IncidentId(id))?)).await?;
    found.map(drop).ok_or_else(ApiError::not_found)
}

/// Makes an existing Jira issue the incident's ticket (admins). The link is made by a job
/// (`raid.link_issue`): the issue is read, linked to the incident page, noted on the timeline, and
/// both sides are brought in step, a difference settled by the conflict policy. A failure (no such
/// issue, the ticket of another incident) shows as the incident's failed side effect.
#[utoipa::path(put, path = "/raid/incidents/{id}/ticket", tag = "jira",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content((LinkTicket = "application/json"), (LinkTicket = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = LinkQueued), BadRequest, Unauthorized, Forbidden, NotFound, Unsupported, Throttled))]
pub(crate) async fn link_ticket(
    request: HttpRequest,
    state: web::Data<ApiState>,
    store: web::Data<RaidStore>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let id = incident_path(&id)?;
    let body: LinkTicket = decode(&request, &body)?;
    let key = body.issue_key.unwrap_or_default().trim().to_owned();
    if !valid_issue_key(&key) {
        return Err(ApiError::invalid("issue_key", "invalid", "A Jira issue key, such as INCIDENT-42."));
    }
    existing_incident(&state, id).await?;
    let now = incidents_core::clock::now();
    let job =
        crate::raid::LinkIssue { incident_id: id, issue_key: key.clone(), requested_at: now.to_string() };
    let database = store.database.clone();
    blocking(move || {
        use jobs::JobStore as _;
        let job = Enqueue::new(&job).map_err(|error| {
            tracing::error!(%error, "a link job could not be made");
            ApiError::internal()
        })?;
        database.enqueue(&job, now, now)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Accepted().json(LinkQueued {
        incident_id: id,
        issue_key: Some(key),
        status: "queued".into(),
    }))
}

/// Forgets the incident's ticket (admins); the issue is left as it is, the timeline says so.
#[utoipa::path(delete, path = "/raid/incidents/{id}/ticket", tag = "jira",
    params(("id" = i64, Path, description = "The incident's id")),
    responses((status = 204, description = "Unlinked"), Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn unlink_ticket(
    request: HttpRequest,
    state: web::Data<ApiState>,
    store: web::Data<RaidStore>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize_admin(&request, &state).await?;
    let id = incident_path(&id)?;
    let store = store.get_ref().clone();
    let lifecycle = state.lifecycle.clone();
    let unlinked = blocking(move || {
        let key = store.ticket(id)?.and_then(|t| t.issue_key);
        if !store.unlink(id)? {
            return Ok(false);
        }
        let command = incidents_core::incident::UpdateIncident {
            message: Some(format!("Unlinked from Jira issue {}", key.unwrap_or_default())),
            event_type: Some("jira_unlinked".into()),
            ..Default::default()
        };
        let actor =
            incidents_core::Actor { user: principal.user.id, entry_point: incidents_core::EntryPoint::Api };
        lifecycle.update(actor, incidents_core::IncidentId(id), &command)?;
        Ok(true)
    })
    .await?;
    if unlinked { Ok(HttpResponse::NoContent().finish()) } else { Err(ApiError::not_found()) }
}

/// Records a message on the incident's timeline, marked for Jira: a job posts it on the incident's
/// ticket as a comment (once, even when retried).
#[utoipa::path(post, path = "/raid/incidents/{id}/comments", tag = "jira",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content((JiraComment = "application/json"), (JiraComment = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = LinkQueued), BadRequest, Unauthorized, Forbidden, NotFound, Unsupported, Throttled))]
pub(crate) async fn comment_to_jira(
    request: HttpRequest,
    state: web::Data<ApiState>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    use incidents_core::access::{Action, Permission, Resource};
    let principal =
        http_api::auth::authorize(&request, &state, Permission::new(Action::Change, Resource::Incident))
            .await?;
    let incident = http_api::visible_incident(&state, &principal, &id).await?;
    let body: JiraComment = decode(&request, &body)?;
    let message = body.message.unwrap_or_default().trim().to_owned();
    if message.is_empty() || message.chars().count() > 4000 {
        return Err(ApiError::invalid("message", "invalid", "A message of 1 to 4000 characters."));
    }
    let command = incidents_core::incident::UpdateIncident {
        message: Some(message),
        event_type: Some(crate::raid::COMMENT_TO_JIRA.into()),
        ..Default::default()
    };
    let lifecycle = state.lifecycle.clone();
    let actor =
        incidents_core::Actor { user: principal.user.id, entry_point: incidents_core::EntryPoint::Api };
    blocking(move || Ok(lifecycle.update(actor, incident, &command)?)).await?;
    Ok(HttpResponse::Accepted().json(LinkQueued {
        incident_id: incident.0,
        issue_key: None,
        status: "queued".into(),
    }))
}

/// A feature team and the Jira project its tickets go to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "Checkout", "jira_project_key": "CHK"}))]
pub struct FeatureTeam {
    pub name: String,
    pub jira_project_key: String,
}

/// The body of `PUT /raid/feature-teams/{jira_project_key}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Checkout"}))]
pub struct PutFeatureTeam {
    /// The team's name (an incident's `custom_fields.suggested_team_routing` names it).
    #[schema(required, max_length = 80)]
    pub name: Option<String>,
}

/// A Jira project key: upper-case letters, digits and `_`, starting with a letter, at most 10.
#[must_use]
pub fn valid_project_key(key: &str) -> bool {
    (1..=10).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_uppercase())
        && key.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The feature teams (admins).
#[utoipa::path(get, path = "/raid/feature-teams", tag = "jira",
    params(http_api::paging::PageParams),
    responses((status = 200, body = Vec<FeatureTeam>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub(crate) async fn feature_teams(
    request: HttpRequest,
    state: web::Data<ApiState>,
    store: web::Data<RaidStore>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let store = store.get_ref().clone();
    let teams = blocking(move || Ok(store.feature_teams()?)).await?;
    let teams = teams
        .into_iter()
        .map(|t| FeatureTeam { name: t.name, jira_project_key: t.jira_project_key })
        .collect();
    http_api::paging::in_memory(&request, &state.base_url, teams)
}

/// Routes a team's tickets to a project (admins): 201 when added, 200 when the project's team is renamed.
#[utoipa::path(put, path = "/raid/feature-teams/{jira_project_key}", tag = "jira",
    params(("jira_project_key" = String, Path)),
    request_body(content((PutFeatureTeam = "application/json"), (PutFeatureTeam = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = FeatureTeam), (status = 201, body = FeatureTeam), BadRequest, Unauthorized, Forbidden, Unsupported, Throttled))]
pub(crate) async fn put_feature_team(
    request: HttpRequest,
    state: web::Data<ApiState>,
    store: web::Data<RaidStore>,
    key: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let key = key.into_inner();
    if !valid_project_key(&key) {
        return Err(ApiError::invalid(
            "jira_project_key",
            "invalid",
            "A Jira project key: A-Z, 0-9 and _, at most 10.",
        ));
    }
    let body: PutFeatureTeam = decode(&request, &body)?;
    let name = body.name.unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ApiError::invalid("name", "invalid", "A name of 1 to 80 characters."));
    }
    let store = store.get_ref().clone();
    let (team, project) = (name.clone(), key.clone());
    let added = blocking(move || Ok(store.put_feature_team(&team, &project)?)).await?;
    let mut response = if added { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(response.json(FeatureTeam { name, jira_project_key: key }))
}

/// Stops routing to a project (admins).
#[utoipa::path(delete, path = "/raid/feature-teams/{jira_project_key}", tag = "jira",
    params(("jira_project_key" = String, Path)),
    responses((status = 204, description = "Removed"), Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn delete_feature_team(
    request: HttpRequest,
    state: web::Data<ApiState>,
    store: web::Data<RaidStore>,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let store = store.get_ref().clone();
    let key = key.into_inner();
    if blocking(move || Ok(store.delete_feature_team(&key)?)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signatures_are_checked_fail_closed() {
        let body = br#"{"webhookEvent":"jira:issue_updated"}"#;
        let good = sign("s3cret", body);
        assert_eq!(verify("s3cret", Some(&good), body), Ok(()));
        assert_eq!(
            verify("s3cret", Some(&good.replacen("sha256", "SHA256", 1)), body),
            Ok(()),
            "method case-insensitive"
        );
        assert!(verify("s3cret", Some(&good), b"{}").is_err(), "another body");
        assert!(verify("other", Some(&good), body).is_err(), "another secret");
        assert!(verify("", Some(&sign("", body)), body).is_err(), "no secret: refused");
        assert!(verify("s3cret", None, body).is_err());
        assert!(verify("s3cret", Some("sha1=abc"), body).is_err());
        assert!(verify("s3cret", Some("garbage"), body).is_err());
        assert!(verify("s3cret", Some("sha256=zz"), body).is_err());
    }

    #[test]
    fn project_keys() {
        assert!(valid_project_key("INCIDENT") && valid_project_key("CHK_2"));
        assert!(!valid_project_key("chk") && !valid_project_key("2CHK") && !valid_project_key("ABCDEFGHIJK"));
    }
}
