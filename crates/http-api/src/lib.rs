//! The REST API v2 under `/api/v2/firefighter/`, compatible with the original's clients: same paths,
//! JSON shapes, error bodies and authentication. Handlers translate HTTP into calls on
//! `incidents-core` (the lifecycle service and the query port); they decide nothing.
//!
//! This crate depends on `incidents-core` and actix-web, never on storage nor on an HTTP client: the
//! composition root chooses the backend by instantiating [`configure`] with any type implementing
//! [`ApiBackend`].
//!
//! It is also the kit integrations build their own API routes with, so that every route
//! authenticates, refuses and documents alike: [`auth`] (tokens and permissions), [`body`] (JSON or
//! form bodies), [`errors`] (the error body), [`json`] (shapes and times) and [`openapi`] (the
//! documented refusals).

pub mod auth;
pub mod body;
mod conditional;
pub mod errors;
pub mod export;
mod incident_writes;
pub mod incidents;
mod job_api;
pub mod json;
pub mod openapi;
pub mod paging;
mod params;
mod permission_groups;
mod rate_limit;
mod reference;
mod rendered;
mod tokens;

use actix_web::web;
use incidents_core::access::AccessRepository;
use incidents_core::facets::Facets;
use incidents_core::ports::SharedPostMortems;
use incidents_core::query::IncidentQueries;
use incidents_core::{IncidentLifecycle, IncidentStore, UserRepository};

pub use auth::{hash_token, new_token};
pub use errors::ApiError;
pub use incident_writes::visible_incident;
pub use rate_limit::RateLimiter;

/// Everything the API needs from storage.
pub trait ApiBackend:
    IncidentStore
    + IncidentQueries
    + AccessRepository
    + UserRepository
    + jobs::JobAdmin
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> ApiBackend for T where
    T: IncidentStore
        + IncidentQueries
        + AccessRepository
        + UserRepository
        + jobs::JobAdmin
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState<B> {
    pub backend: B,
    /// The application's one lifecycle service.
    pub lifecycle: IncidentLifecycle<B, SharedPostMortems>,
    /// Absolute URL of this server, without a trailing slash (for `status_page_url`).
    pub base_url: String,
    /// Times are shown in this zone.
    pub time_zone: chrono_tz::Tz,
    /// Requests per minute per token.
    pub rate_limiter: std::sync::Arc<RateLimiter>,
    /// Incidents as last rendered, per version.
    pub rendered: std::sync::Arc<rendered::RenderedIncidents>,
    /// What integrations know about incidents.
    pub facets: Facets,
}

impl<B: ApiBackend> ApiState<B> {
    /// The state for `backend` and the application's lifecycle; `requests_per_minute` per token
    /// (0: unlimited).
    pub fn new(
        backend: B,
        lifecycle: IncidentLifecycle<B, SharedPostMortems>,
        base_url: &str,
        time_zone: chrono_tz::Tz,
        requests_per_minute: u32,
    ) -> Self {
        Self {
            lifecycle,
            backend,
            base_url: base_url.trim_end_matches('/').to_owned(),
            time_zone,
            rate_limiter: std::sync::Arc::new(RateLimiter::new(requests_per_minute)),
            rendered: std::sync::Arc::default(),
            facets: Facets::default(),
        }
    }

    /// Shows these integrations' facets.
    #[must_use]
    pub fn with_facets(mut self, facets: Facets) -> Self {
        self.facets = facets;
        self
    }

    /// Counts the rate limit in `cache`, shared by every server using it (Redis).
    #[must_use]
    pub fn with_shared_rate_limit(
        mut self,
        requests_per_minute: u32,
        cache: std::sync::Arc<dyn cache::Cache>,
    ) -> Self {
        self.rate_limiter = std::sync::Arc::new(RateLimiter::shared(requests_per_minute, cache));
        self
    }
}

/// An incident as the API shows it, for integrations (webhook bodies).
///
/// # Errors
/// A storage failure.
pub fn render_incident<B: ApiBackend>(
    state: &ApiState<B>,
    id: i64,
) -> Result<Option<serde_json::Value>, incidents_core::RepositoryError> {
    let id = incidents_core::IncidentId(id);
    let Some(view) = state.backend.incident(id)? else { return Ok(None) };
    let facets = state.facets.of(&[id])?;
    serde_json::to_value(
        json::Incident::new(&view, &state.base_url, state.time_zone).with_facets(facets.get(&id)),
    )
    .map(Some)
    .map_err(|e| incidents_core::RepositoryError::Internal(e.to_string()))
}

/// Runs storage work on the blocking pool (diesel is synchronous).
///
/// # Errors
/// `work`'s error, or an internal error when the pool is gone.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(work).await.map_err(|_| ApiError::internal())?
}

/// Registers the API routes (under the caller's `/api/v2/firefighter` scope). The state must be
/// registered as `web::Data<ApiState<B>>`.
pub fn configure<B: ApiBackend>(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/incidents")
                .route(web::get().to(incidents::list::<B>))
                .route(web::post().to(incidents::create::<B>)),
        )
        .service(web::resource("/incidents.{format}").route(web::get().to(incidents::list_with_suffix::<B>)))
        .service(web::resource("/incidents/{id}").route(web::get().to(incidents::retrieve::<B>)))
        .service(
            web::resource("/incidents/{id}/updates")
                .route(web::get().to(incident_writes::timeline::<B>))
                .route(web::post().to(incident_writes::update::<B>)),
        )
        .service(web::resource("/incidents/{id}/roles").route(web::put().to(incident_writes::roles::<B>)))
        .service(
            web::resource("/incidents/{id}/key-events")
                .route(web::put().to(incident_writes::key_events::<B>)),
        )
        .service(web::resource("/incidents/{id}/costs").route(web::post().to(incident_writes::add_cost::<B>)))
        .service(
            web::resource("/incidents/{id}/costs/{cost_id}")
                .route(web::put().to(incident_writes::change_cost::<B>))
                .route(web::delete().to(incident_writes::remove_cost::<B>)),
        )
        .service(web::resource("/environments").route(web::get().to(reference::environments::<B>)))
        .service(web::resource("/environments/{id}").route(web::get().to(reference::environment::<B>)))
        .service(web::resource("/severities").route(web::get().to(reference::severities::<B>)))
        .service(web::resource("/severities/{id}").route(web::get().to(reference::severity::<B>)))
        .service(web::resource("/priorities").route(web::get().to(reference::priorities::<B>)))
        .service(web::resource("/priorities/{id}").route(web::get().to(reference::priority::<B>)))
        .service(web::resource("/incident-categories").route(web::get().to(reference::categories::<B>)))
        .service(web::resource("/incident-categories/{id}").route(web::get().to(reference::category::<B>)))
        .service(web::resource("/components").route(web::get().to(reference::components::<B>)))
        .service(web::resource("/components/{id}").route(web::get().to(reference::component::<B>)))
        .service(web::resource("/groups").route(web::get().to(reference::groups::<B>)))
        .service(web::resource("/groups/{id}").route(web::get().to(reference::group::<B>)))
        .service(web::resource("/incident_cost_types").route(web::get().to(reference::cost_types::<B>)))
        .service(web::resource("/incident_cost_types/{id}").route(web::get().to(reference::cost_type::<B>)))
        .service(web::resource("/incident_costs").route(web::get().to(reference::costs::<B>)))
        .service(web::resource("/incident_costs/{id}").route(web::get().to(reference::cost::<B>)))
        .service(web::resource("/users").route(web::get().to(reference::users::<B>)))
        .service(web::resource("/users/{id}").route(web::get().to(reference::user::<B>)))
        .service(web::resource("/role-types").route(web::get().to(reference::role_types::<B>)))
        .service(web::resource("/key-event-types").route(web::get().to(reference::key_event_types::<B>)))
        .service(web::resource("/metric-types").route(web::get().to(reference::metric_types::<B>)))
        .service(web::resource("/impact-types").route(web::get().to(reference::impact_types::<B>)))
        .service(
            web::resource("/api-tokens")
                .route(web::get().to(tokens::list::<B>))
                .route(web::post().to(tokens::create::<B>)),
        )
        .service(web::resource("/api-tokens/{id}").route(web::delete().to(tokens::revoke::<B>)))
        .service(web::resource("/jobs").route(web::get().to(job_api::list::<B>)))
        .service(web::resource("/jobs/{id}").route(web::get().to(job_api::retrieve::<B>)))
        .service(web::resource("/jobs/{id}/retry").route(web::post().to(job_api::retry::<B>)))
        .service(web::resource("/permission-groups").route(web::get().to(permission_groups::list::<B>)))
        .service(
            web::resource("/permission-groups/{name}")
                .route(web::put().to(permission_groups::put::<B>))
                .route(web::delete().to(permission_groups::delete::<B>)),
        )
        .service(
            web::resource("/permission-groups/{name}/members/{email}")
                .route(web::put().to(permission_groups::add_member::<B>))
                .route(web::delete().to(permission_groups::remove_member::<B>)),
        )
        .service(web::resource("/schema").route(web::get().to(openapi::schema)))
        .service(web::resource("/schema/swagger-ui").route(web::get().to(openapi::swagger_ui)))
        .service(web::resource("/schema/swagger-ui/{file:.*}").route(web::get().to(openapi::swagger_ui)));
}
