//! `/jobs`: operators (admins) list jobs by state, read failures, and retry dead jobs.

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::query::PageRequest;
use jobs::{JOB_STATES, JobRecord};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::authorize_admin;
use crate::blocking;
use crate::errors::ApiError;
use crate::incidents::{page_params, paged_response};
use crate::json::time;
use crate::openapi::{BadRequest, Conflict, Forbidden, NotFound, Throttled, Unauthorized};
use crate::params::PageParams;
use crate::{ApiBackend, ApiState};

/// A background job: what it is, where it stands, and its last error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 12, "name": "webhook.deliver", "queue": "webhooks",
    "idempotency_key": "3:0190f5b2-6c1e-7a3b-9d4e-5f6a7b8c9d0e", "event_id": "0190f5b2-6c1e-7a3b-9d4e-5f6a7b8c9d0e",
    "state": "dead", "attempts": 12, "run_at": "2026-11-28T16:02:11+01:00",
    "last_error": "POST https://hooks.example.com/ff: 503 Service Unavailable",
    "created_at": "2026-11-28T10:00:01+01:00", "updated_at": "2026-11-28T16:02:11+01:00"}))]
pub struct Job {
    pub id: i64,
    pub name: String,
    pub queue: String,
    pub idempotency_key: String,
    pub event_id: Option<String>,
    /// `pending`, `queued` (scaled mode: in RabbitMQ, not started), `running`, `done` or `dead`.
    pub state: String,
    pub attempts: u32,
    /// When it runs (pending), or ran last.
    pub run_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Job {
    fn new(record: &JobRecord, tz: chrono_tz::Tz) -> Self {
        Self {
            id: record.id,
            name: record.name.clone(),
            queue: record.queue.clone(),
            idempotency_key: record.idempotency_key.clone(),
            event_id: record.event_id.clone(),
            state: record.state.clone(),
            attempts: record.attempts,
            run_at: time(record.run_at, tz),
            last_error: record.last_error.clone(),
            created_at: time(record.created_at, tz),
            updated_at: time(record.updated_at, tz),
        }
    }
}

fn state_param(request: &HttpRequest) -> Result<Option<String>, ApiError> {
    match url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(key, value)| key == "state" && !value.is_empty())
    {
        None => Ok(None),
        Some((_, state)) if JOB_STATES.contains(&state.as_ref()) => Ok(Some(state.into_owned())),
        Some((_, state)) => Err(ApiError::invalid(
            "state",
            "invalid_choice",
            format!("{state:?} is not one of {}.", JOB_STATES.join(", ")),
        )),
    }
}

/// Jobs, newest first; `state=dead` lists the failures.
#[utoipa::path(
    get,
    path = "/jobs",
    tag = "jobs",
    params(("state" = Option<String>, Query, description = "`pending`, `queued` (scaled mode: in RabbitMQ, not started), `running`, `done` or `dead`"), PageParams),
    responses(
        (status = 200, body = Vec<Job>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))),
        BadRequest, Unauthorized, Forbidden, Throttled,
    ),
)]
pub async fn list<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let wanted = state_param(&request)?;
    let (limit, offset, with_total) = page_params(request.query_string())?;
    let page = PageRequest { limit, offset, with_total };
    let backend = state.backend.clone();
    let result = blocking(move || Ok(backend.jobs(wanted.as_deref(), page)?)).await?;
    let body: Vec<Job> = result.items.iter().map(|job| Job::new(job, state.time_zone)).collect();
    Ok(paged_response(&request, &state.base_url, page, result.has_more, result.total).json(body))
}

/// One job.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    tag = "jobs",
    params(("id" = i64, Path)),
    responses((status = 200, body = Job), Unauthorized, Forbidden, NotFound, Throttled),
)]
pub async fn retrieve<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize_admin(&request, &state).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let backend = state.backend.clone();
    let job = blocking(move || Ok(backend.job(id)?)).await?.ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(Job::new(&job, state.time_zone)))
}

/// Retry a dead job: a new series of attempts, starting now.
#[utoipa::path(
    post,
    path = "/jobs/{id}/retry",
    tag = "jobs",
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "The job, pending again", body = Job),
        Unauthorized, Forbidden, NotFound, Conflict, Throttled,
    ),
)]
pub async fn retry<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize_admin(&request, &state).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let backend = state.backend.clone();
    let job = blocking(move || {
        let Some(job) = backend.job(id)? else { return Err(ApiError::not_found()) };
        if !backend.retry_dead(id, incidents_core::clock::now())? {
            return Err(ApiError::conflict(
                "JOB_NOT_DEAD",
                &format!("Only dead jobs can be retried; this one is {}.", job.state),
            ));
        }
        backend.job(id)?.ok_or_else(ApiError::not_found)
    })
    .await?;
    tracing::info!(job = id, user = %principal.user.email, "dead job retried");
    Ok(HttpResponse::Ok().json(Job::new(&job, state.time_zone)))
}
