//! `/webhooks`: admins register endpoints that receive signed event deliveries, and read each one's
//! delivery log. See docs/webhooks.md for what receivers get.

use actix_web::{HttpRequest, HttpResponse, web};
use http_api::auth::authorize_admin;
use http_api::blocking;
use http_api::body::{decode, required};
use http_api::errors::ApiError;
use http_api::json::time;
use http_api::openapi::{BadRequest, Forbidden, NotFound, Throttled, Unauthorized, Unsupported};
use serde::{Deserialize, Serialize};
use storage::Database;
use utoipa::{OpenApi, ToSchema};

use crate::{Delivery, Endpoint, SecretBox, WebhookStore, validate_endpoint};

/// The REST API's state (tokens, time zone), as the API registers it.
type ApiState = http_api::ApiState<Database>;

/// What the routes need beside the API's state.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    pub(crate) secrets: SecretBox,
}

/// Registers the routes under `/api/v2/firefighter/webhooks`.
pub(crate) fn configure(config: &mut web::ServiceConfig, routes: Routes) {
    config
        .app_data(web::Data::new(routes))
        .service(web::resource("").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/{id}").route(web::delete().to(delete)))
        .service(web::resource("/{id}/deliveries").route(web::get().to(deliveries)));
}

/// The routes' OpenAPI paths.
#[derive(OpenApi)]
#[openapi(
    paths(create, list, delete, deliveries),
    tags((name = "webhooks", description = "Outgoing webhooks (admins); see docs/webhooks.md")),
)]
pub(crate) struct WebhookDoc;

/// A registered endpoint (its secret is never shown).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "url": "https://hooks.example.com/firefighter",
    "events": ["incident_created", "incident_closed"], "created_at": "2026-11-28T10:00:00+01:00"}))]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: String,
}

impl WebhookEndpoint {
    fn new(endpoint: &Endpoint, tz: chrono_tz::Tz) -> Self {
        Self {
            id: endpoint.id,
            url: endpoint.url.clone(),
            events: endpoint.events.clone(),
            created_at: time(endpoint.created_at, tz),
        }
    }
}

/// The body of `POST /webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"url": "https://hooks.example.com/firefighter", "secret": "s3cr3t-shared-with-the-receiver",
    "events": ["incident_created", "incident_closed"]}))]
pub struct CreateWebhook {
    /// `http` or `https`. Private, loopback and link-local targets are refused at delivery unless
    /// the server allows them.
    #[schema(required)]
    pub url: Option<String>,
    /// 16 to 200 characters; signs every delivery.
    #[schema(required, min_length = 16, max_length = 200)]
    pub secret: Option<String>,
    /// Event types: `incident_created`, `incident_updated`, `incident_closed`, `roles_updated`,
    /// `key_events_updated`.
    #[schema(required)]
    pub events: Option<Vec<String>>,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"event_id": "01938a4e-5f6b-7c8d-9e0f-1a2b3c4d5e6f", "event_type": "incident_created",
    "state": "delivered", "attempts": 2, "last_status": 200, "last_error": null,
    "created_at": "2026-11-28T10:00:00+01:00", "updated_at": "2026-11-28T10:00:12+01:00"}))]
pub struct WebhookDelivery {
    pub event_id: String,
    pub event_type: String,
    /// `delivered`, `failing` (will be retried) or `dead`.
    pub state: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl WebhookDelivery {
    fn new(delivery: &Delivery, tz: chrono_tz::Tz) -> Self {
        Self {
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            state: delivery.state.clone(),
            attempts: delivery.attempts,
            last_status: delivery.last_status,
            last_error: delivery.last_error.clone(),
            created_at: time(delivery.created_at, tz),
            updated_at: time(delivery.updated_at, tz),
        }
    }
}

/// Register an endpoint (admins).
#[utoipa::path(post, path = "/webhooks", tag = "webhooks",
    request_body(content((CreateWebhook = "application/json"), (CreateWebhook = "application/x-www-form-urlencoded"))),
    responses((status = 201, body = WebhookEndpoint), BadRequest, Unauthorized, Forbidden, Unsupported, Throttled))]
pub(crate) async fn create(
    request: HttpRequest,
    state: web::Data<ApiState>,
    routes: web::Data<Routes>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let body: CreateWebhook = decode(&request, &body)?;
    let url = required(body.url, "url")?;
    let secret = required(body.secret, "secret")?;
    let events = required(body.events, "events")?;
    validate_endpoint(&url, &secret, &events)
        .map_err(|invalid| ApiError::invalid(invalid.field, invalid.code, invalid.message))?;
    let backend = state.backend.clone();
    let sealed = routes.secrets.seal(&secret);
    let endpoint = blocking(move || {
        Ok(backend.create_endpoint(&url, &sealed, &events, incidents_core::clock::now())?)
    })
    .await?;
    tracing::info!(webhook = endpoint.id, "webhook endpoint registered");
    Ok(HttpResponse::Created().json(WebhookEndpoint::new(&endpoint, state.time_zone)))
}

/// Registered endpoints (admins).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    params(http_api::paging::PageParams),
    responses((status = 200, body = Vec<WebhookEndpoint>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub(crate) async fn list(request: HttpRequest, state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let backend = state.backend.clone();
    let endpoints = blocking(move || Ok(backend.endpoints()?)).await?;
    let endpoints = endpoints.iter().map(|e| WebhookEndpoint::new(e, state.time_zone)).collect();
    http_api::paging::in_memory(&request, &state.base_url, endpoints)
}

/// Remove an endpoint and its delivery log (admins). Deliveries not yet made are dropped.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204, description = "Removed"), Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn delete(
    request: HttpRequest,
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let backend = state.backend.clone();
    if !blocking(move || Ok(backend.delete_endpoint(id)?)).await? {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// An endpoint's delivery log, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path), http_api::paging::PageParams),
    responses((status = 200, body = Vec<WebhookDelivery>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, NotFound, Throttled))]
pub(crate) async fn deliveries(
    request: HttpRequest,
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let page = http_api::paging::page_request(&request)?;
    let backend = state.backend.clone();
    let log = blocking(move || {
        if backend.endpoint(id)?.is_none() {
            return Err(ApiError::not_found());
        }
        Ok(backend.deliveries(id, page)?)
    })
    .await?;
    let body: Vec<WebhookDelivery> =
        log.items.iter().map(|d| WebhookDelivery::new(d, state.time_zone)).collect();
    Ok(http_api::paging::paged_response(&request, &state.base_url, page, log.has_more, log.total).json(body))
}
