//! Changing an incident through the API, over the lifecycle service: updates (fields and status),
//! the timeline, roles, key events and costs. Workflow refusals come back as 409 or 422 with the
//! domain's stable code.

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::access::{Action, Permission, Resource};
use incidents_core::incident::{CostInput, UpdateIncident};
use incidents_core::query::PageRequest;
use incidents_core::{Actor, Amount, ClosureReason, Email, EntryPoint, IncidentId, IncidentStatus, UserId};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::auth::authorize;
use crate::blocking;
use crate::body::{decode, required};
use crate::errors::ApiError;
use crate::json;
use crate::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, Throttled, Unauthorized, Unprocessable, Unsupported,
};
use crate::{ApiBackend, ApiState};

fn incident_id(raw: &str) -> Result<IncidentId, ApiError> {
    raw.parse().map(IncidentId).map_err(|_| ApiError::not_found())
}

/// The incident a path names, if the principal may see it: a private incident they are neither a
/// member of nor hold a role in answers 404, as if it did not exist.
pub async fn visible_incident<B: ApiBackend>(
    state: &web::Data<ApiState<B>>,
    principal: &incidents_core::access::Principal,
    raw: &str,
) -> Result<IncidentId, ApiError> {
    let id = incident_id(raw)?;
    if let Some(user) = principal.visibility() {
        let backend = state.backend.clone();
        let seen = blocking(move || crate::auth::sees(&backend, user, id)).await?;
        if !seen {
            return Err(ApiError::not_found());
        }
    }
    Ok(id)
}

/// The incident as the API shows it, after a change.
async fn render<B: ApiBackend>(
    state: &web::Data<ApiState<B>>,
    id: IncidentId,
) -> Result<json::Incident, ApiError> {
    let (backend, facets) = (state.backend.clone(), state.facets.clone());
    let (incident, facets) = blocking(move || match backend.incident(id)? {
        Some(incident) => Ok((incident, facets.of(&[id])?)),
        None => Err(ApiError::not_found()),
    })
    .await?;
    Ok(json::Incident::new(&incident, &state.base_url, state.time_zone).with_facets(facets.get(&id)))
}

/// A status as its label (`"Mitigating"`) or value (`30`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StatusInput {
    Label(String),
    Value(i64),
}

/// The body of `POST /incidents/{id}/updates`: every field is optional; only what changes is recorded.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"message": "Rolled back the last deploy", "status": "Mitigating"}))]
pub struct UpdateRequest {
    /// A note for the timeline.
    pub message: Option<String>,
    /// Open, Investigating, Mitigating, Mitigated, Post-mortem or Closed (label or value). The workflow
    /// decides which moves are allowed.
    #[schema(value_type = Option<String>, example = "Mitigating")]
    pub status: Option<StatusInput>,
    pub priority_id: Option<String>,
    pub incident_category_id: Option<String>,
    #[schema(max_length = 128)]
    pub title: Option<String>,
    pub description: Option<String>,
    pub environment_id: Option<String>,
    /// Required to close from Open or Investigating: `duplicate`, `false_positive`, `superseded`,
    /// `external`, `cancelled`.
    pub closure_reason: Option<String>,
    /// The incident or ticket the closure refers to.
    pub closure_reference: Option<String>,
}

/// Change an incident: its fields, its status (through the workflow), or just a note. Refusals carry
/// the workflow's stable code.
#[utoipa::path(
    post,
    path = "/incidents/{id}/updates",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content(
        (UpdateRequest = "application/json"),
        (UpdateRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The incident after the change", body = json::Incident),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unsupported, Unprocessable, Throttled,
    ),
)]
pub async fn update<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Change, Resource::Incident)).await?;
    let id = visible_incident(&state, &principal, &id).await?;
    let body: UpdateRequest = decode(&request, &body)?;
    let status = match body.status {
        None => None,
        Some(StatusInput::Value(value)) => {
            Some(i32::try_from(value).ok().and_then(|v| IncidentStatus::from_value(v).ok()).ok_or_else(
                || ApiError::invalid("status", "invalid_choice", format!("{value} is not a valid status.")),
            )?)
        }
        Some(StatusInput::Label(label)) => Some(IncidentStatus::from_label(&label).map_err(|_| {
            ApiError::invalid("status", "invalid_choice", format!("{label:?} is not a valid status."))
        })?),
    };
    let closure_reason = body
        .closure_reason
        .map(|reason| {
            ClosureReason::parse(&reason).map_err(|_| {
                ApiError::invalid(
                    "closure_reason",
                    "invalid_choice",
                    format!("{reason:?} is not a closure reason."),
                )
            })
        })
        .transpose()?;
    let command = UpdateIncident {
        message: body.message,
        status,
        priority_id: body.priority_id,
        category_id: body.incident_category_id,
        title: body.title,
        description: body.description,
        environment_id: body.environment_id,
        closure_reason,
        closure_reference: body.closure_reference,
        event_type: None,
    };
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    blocking(move || Ok(lifecycle.update(actor, id, &command)?)).await?;
    Ok(HttpResponse::Ok().json(render(&state, id).await?))
}

/// An incident's timeline, oldest first.
#[utoipa::path(
    get,
    path = "/incidents/{id}/updates",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id"), crate::params::PageParams),
    responses(
        (status = 200, body = Vec<json::TimelineEntry>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))),
        BadRequest, Unauthorized, Forbidden, NotFound, Throttled,
    ),
)]
pub async fn timeline<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::View, Resource::Incident)).await?;
    let id = visible_incident(&state, &principal, &id).await?;
    let (limit, offset, with_total) = crate::incidents::page_params(request.query_string())?;
    let backend = state.backend.clone();
    let page = PageRequest { limit, offset, with_total };
    let (exists, result) =
        blocking(move || Ok((backend.incident(id)?.is_some(), backend.timeline(id, page)?))).await?;
    if !exists {
        return Err(ApiError::not_found());
    }
    let items: Vec<json::TimelineEntry> =
        result.items.iter().map(|entry| json::TimelineEntry::new(entry, state.time_zone)).collect();
    Ok(crate::incidents::paged_response(&request, &state.base_url, page, result.has_more, result.total)
        .json(items))
}

/// Assign roles: `{"<role slug>": "<user e-mail>" | null}`; null removes a role that is not required.
#[utoipa::path(
    put,
    path = "/incidents/{id}/roles",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content((BTreeMap<String, Option<String>> = "application/json",
        example = json!({"commander": "jane@example.com", "communication_lead": null})))),
    responses(
        (status = 200, description = "The incident after the change", body = json::Incident),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unsupported, Unprocessable, Throttled,
    ),
)]
pub async fn roles<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Change, Resource::Incident)).await?;
    let id = visible_incident(&state, &principal, &id).await?;
    let body: BTreeMap<String, Option<String>> = decode(&request, &body)?;
    let mut wanted: Vec<(String, Option<Email>)> = Vec::new();
    for (slug, email) in &body {
        let email = email
            .as_deref()
            .map(|email| {
                Email::parse(email).map_err(|_| {
                    ApiError::invalid(&format!("roles.{slug}"), "invalid", "Enter a valid email address.")
                })
            })
            .transpose()?;
        wanted.push((slug.clone(), email));
    }
    let backend = state.backend.clone();
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    blocking(move || {
        let mut changes: Vec<(String, Option<UserId>)> = Vec::new();
        for (slug, email) in wanted {
            let user = match email {
                None => None,
                Some(email) => Some(
                    backend
                        .find_user_by_email(&email)?
                        .ok_or_else(|| {
                            ApiError::invalid(
                                &format!("roles.{slug}"),
                                "does_not_exist",
                                format!("No user with e-mail {email}."),
                            )
                        })?
                        .id,
                ),
            };
            changes.push((slug, user));
        }
        Ok(lifecycle.set_roles(actor, id, &changes)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(render(&state, id).await?))
}

/// Set key events: `{"<event type>": "<RFC 3339 time>" | null}`. Metrics are recomputed.
#[utoipa::path(
    put,
    path = "/incidents/{id}/key-events",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content((BTreeMap<String, Option<String>> = "application/json",
        example = json!({"detected": "2026-11-28T09:55:00+01:00", "recovered": "2026-11-28T11:25:00+01:00"})))),
    responses(
        (status = 200, description = "The incident after the change", body = json::Incident),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unsupported, Unprocessable, Throttled,
    ),
)]
pub async fn key_events<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Change, Resource::Incident)).await?;
    let id = visible_incident(&state, &principal, &id).await?;
    let body: BTreeMap<String, Option<String>> = decode(&request, &body)?;
    let mut changes = Vec::new();
    for (event_type, value) in &body {
        let at = value
            .as_deref()
            .map(|text| {
                chrono::DateTime::parse_from_rfc3339(text).map(|t| t.naive_utc()).map_err(|_| {
                    ApiError::invalid(
                        &format!("key_events.{event_type}"),
                        "invalid",
                        "An RFC 3339 date-time with its offset.",
                    )
                })
            })
            .transpose()?;
        changes.push((event_type.clone(), at));
    }
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    blocking(move || Ok(lifecycle.set_key_events(actor, id, &changes)?)).await?;
    Ok(HttpResponse::Ok().json(render(&state, id).await?))
}

/// A decimal as a string (`"1250.50"`, exact) or a JSON number with at most 2 decimals.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DecimalInput {
    Text(String),
    Number(serde_json::Number),
}

/// The body that adds or changes a cost.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"cost_type_id": 1, "amount": "1250.00", "currency": "EUR", "details": "Orders lost"}))]
pub struct CostRequest {
    /// See `/incident_cost_types`.
    #[schema(required)]
    pub cost_type_id: Option<i64>,
    #[schema(value_type = Option<String>, example = "1250.00")]
    pub amount: Option<DecimalInput>,
    /// ISO 4217; `EUR` when omitted.
    #[schema(example = "EUR")]
    pub currency: Option<String>,
    pub details: Option<String>,
}

fn cost_input(body: CostRequest) -> Result<CostInput, ApiError> {
    let cost_type_id = required(body.cost_type_id, "cost_type_id")?;
    let amount = match body.amount {
        None => None,
        Some(DecimalInput::Text(text)) => Some(text.parse::<Amount>()),
        Some(DecimalInput::Number(n)) => Some(n.to_string().parse::<Amount>()),
    }
    .transpose()
    .map_err(|e| ApiError::invalid("amount", "invalid", e.to_string()))?;
    Ok(CostInput { cost_type_id, amount, currency: body.currency, details: body.details })
}

/// A cost as `/incident_costs/{id}` shows it.
async fn render_cost<B: ApiBackend>(
    state: &web::Data<ApiState<B>>,
    id: i64,
) -> Result<json::IncidentCost, ApiError> {
    let backend = state.backend.clone();
    let cost = blocking(move || Ok(backend.incident_cost(id)?)).await?.ok_or_else(ApiError::not_found)?;
    Ok(json::IncidentCost::new(&cost, state.time_zone))
}

/// Add a cost to an incident.
#[utoipa::path(
    post,
    path = "/incidents/{id}/costs",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id")),
    request_body(content(
        (CostRequest = "application/json"),
        (CostRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, body = json::IncidentCost),
        BadRequest, Unauthorized, Forbidden, NotFound, Unsupported, Throttled,
    ),
)]
pub async fn add_cost<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Add, Resource::IncidentCost)).await?;
    let id = visible_incident(&state, &principal, &id).await?;
    let input = cost_input(decode(&request, &body)?)?;
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    let cost = blocking(move || Ok(lifecycle.add_cost(actor, id, input)?)).await?;
    Ok(HttpResponse::Created().json(render_cost(&state, cost.id).await?))
}

/// Change a cost of an incident.
#[utoipa::path(
    put,
    path = "/incidents/{id}/costs/{cost_id}",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id"), ("cost_id" = i64, Path, description = "The cost's id")),
    request_body(content(
        (CostRequest = "application/json"),
        (CostRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = json::IncidentCost),
        BadRequest, Unauthorized, Forbidden, NotFound, Unsupported, Throttled,
    ),
)]
pub async fn change_cost<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal =
        authorize(&request, &state, Permission::new(Action::Change, Resource::IncidentCost)).await?;
    let (id, cost_id) = path.into_inner();
    let id = visible_incident(&state, &principal, &id).await?;
    let cost_id: i64 = cost_id.parse().map_err(|_| ApiError::not_found())?;
    let input = cost_input(decode(&request, &body)?)?;
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    let cost = blocking(move || Ok(lifecycle.update_cost(actor, id, cost_id, input)?)).await?;
    Ok(HttpResponse::Ok().json(render_cost(&state, cost.id).await?))
}

/// Remove a cost from an incident.
#[utoipa::path(
    delete,
    path = "/incidents/{id}/costs/{cost_id}",
    tag = "incidents",
    params(("id" = i64, Path, description = "The incident's id"), ("cost_id" = i64, Path, description = "The cost's id")),
    responses((status = 204, description = "Removed"), Unauthorized, Forbidden, NotFound, Throttled),
)]
pub async fn remove_cost<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let principal =
        authorize(&request, &state, Permission::new(Action::Delete, Resource::IncidentCost)).await?;
    let (id, cost_id) = path.into_inner();
    let id = visible_incident(&state, &principal, &id).await?;
    let cost_id: i64 = cost_id.parse().map_err(|_| ApiError::not_found())?;
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    blocking(move || Ok(lifecycle.remove_cost(actor, id, cost_id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
