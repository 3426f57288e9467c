//! Changing an incident through the API, over the lifecycle service: updates (fields and status),
//! the timeline, roles, key events and costs. Workflow refusals come back as 409 or 422 with the
//! domain's stable code.

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::access::{Action, Permission, Resource};
use incidents_core::incident::{CostInput, UpdateIncident};
use incidents_core::query::PageRequest;
use incidents_core::{Actor, Amount, ClosureReason, Email, EntryPoint, IncidentId, IncidentStatus, UserId};
use serde_json::{Map, Value, json};

use crate::auth::authorize;
use crate::blocking;
use crate::errors::ApiError;
use crate::json;
use crate::{ApiBackend, ApiState};

fn incident_id(raw: &str) -> Result<IncidentId, ApiError> {
    raw.parse().map(IncidentId).map_err(|_| ApiError::not_found())
}

fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => {
            Err(ApiError::invalid("non_field_errors", "invalid", "Invalid data. Expected a dictionary."))
        }
        Err(e) => {
            Err(ApiError::invalid("non_field_errors", "parse_error", format!("JSON parse error - {e}")))
        }
    }
}

fn optional_string(body: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ApiError::invalid(name, "invalid", "Not a valid string.")),
    }
}

/// The incident as the API shows it, after a change.
async fn render<B: ApiBackend>(state: &web::Data<ApiState<B>>, id: IncidentId) -> Result<Value, ApiError> {
    let backend = state.backend.clone();
    let incident = blocking(move || Ok(backend.incident(id)?)).await?.ok_or_else(ApiError::not_found)?;
    Ok(json::incident(&incident, &state.base_url, state.time_zone))
}

/// `POST /incidents/{id}/updates`: message, status, priority_id, incident_category_id, title,
/// description, environment_id; closing early also takes closure_reason and closure_reference.
pub async fn update<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Change, Resource::Incident)).await?;
    let id = incident_id(&id)?;
    let body = object(&body)?;
    let status = match body.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .and_then(|v| IncidentStatus::from_value(v).ok())
                .ok_or_else(|| {
                ApiError::invalid("status", "invalid_choice", format!("{n} is not a valid status."))
            })?,
        ),
        Some(Value::String(label)) => Some(IncidentStatus::from_label(label).map_err(|_| {
            ApiError::invalid("status", "invalid_choice", format!("{label:?} is not a valid status."))
        })?),
        Some(_) => return Err(ApiError::invalid("status", "invalid", "A status label or value.")),
    };
    let closure_reason = optional_string(&body, "closure_reason")?
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
        message: optional_string(&body, "message")?,
        status,
        priority_id: optional_string(&body, "priority_id")?,
        category_id: optional_string(&body, "incident_category_id")?,
        title: optional_string(&body, "title")?,
        description: optional_string(&body, "description")?,
        environment_id: optional_string(&body, "environment_id")?,
        closure_reason,
        closure_reference: optional_string(&body, "closure_reference")?,
    };
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    blocking(move || Ok(lifecycle.update(actor, id, &command)?)).await?;
    Ok(HttpResponse::Ok().json(render(&state, id).await?))
}

/// `GET /incidents/{id}/updates`: the timeline, oldest first, paged like every list.
pub async fn timeline<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::Incident)).await?;
    let id = incident_id(&id)?;
    let (limit, offset, with_total) = crate::incidents::page_params(request.query_string())?;
    let backend = state.backend.clone();
    let page = PageRequest { limit, offset, with_total };
    let (exists, result) =
        blocking(move || Ok((backend.incident(id)?.is_some(), backend.timeline(id, page)?))).await?;
    if !exists {
        return Err(ApiError::not_found());
    }
    let tz = state.time_zone;
    let items: Vec<Value> = result
        .items
        .iter()
        .map(|entry| {
            json!({
                "id": entry.id,
                "event_ts": json::time(entry.event_ts, tz),
                "created_at": json::time(entry.created_at, tz),
                "created_by": entry.author.as_ref().map(|a| json!({"id": a.id, "name": a.name, "email": a.email})),
                "message": entry.message,
                "status": entry.status.map(IncidentStatus::label),
                "priority_id": entry.priority,
                "environment_id": entry.environment,
                "incident_category_id": entry.category,
                "title": entry.title,
                "description": entry.description,
                "event_type": entry.event_type,
            })
        })
        .collect();
    Ok(crate::incidents::paged_response(&request, &state.base_url, page, result.has_more, result.total)
        .json(items))
}

/// `PUT /incidents/{id}/roles`: `{"<role slug>": "<user e-mail>" | null}`.
pub async fn roles<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Change, Resource::Incident)).await?;
    let id = incident_id(&id)?;
    let body = object(&body)?;
    let mut wanted: Vec<(String, Option<Email>)> = Vec::new();
    for (slug, value) in &body {
        let email = match value {
            Value::Null => None,
            Value::String(email) => Some(Email::parse(email).map_err(|_| {
                ApiError::invalid(&format!("roles.{slug}"), "invalid", "Enter a valid email address.")
            })?),
            _ => {
                return Err(ApiError::invalid(
                    &format!("roles.{slug}"),
                    "invalid",
                    "An e-mail address or null.",
                ));
            }
        };
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

/// `PUT /incidents/{id}/key-events`: `{"<event type>": "<RFC 3339 time>" | null}`.
pub async fn key_events<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Change, Resource::Incident)).await?;
    let id = incident_id(&id)?;
    let body = object(&body)?;
    let mut changes = Vec::new();
    for (event_type, value) in &body {
        let at = match value {
            Value::Null => None,
            Value::String(text) => {
                Some(chrono::DateTime::parse_from_rfc3339(text).map(|t| t.naive_utc()).map_err(|_| {
                    ApiError::invalid(
                        &format!("key_events.{event_type}"),
                        "invalid",
                        "An RFC 3339 date-time with its offset.",
                    )
                })?)
            }
            _ => {
                return Err(ApiError::invalid(
                    &format!("key_events.{event_type}"),
                    "invalid",
                    "A date-time or null.",
                ));
            }
        };
        changes.push((event_type.clone(), at));
    }
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    blocking(move || Ok(lifecycle.set_key_events(actor, id, &changes)?)).await?;
    Ok(HttpResponse::Ok().json(render(&state, id).await?))
}

fn cost_input(body: &Map<String, Value>) -> Result<CostInput, ApiError> {
    let cost_type_id = match body.get("cost_type_id") {
        Some(Value::Number(n)) => {
            n.as_i64().ok_or_else(|| ApiError::invalid("cost_type_id", "invalid", "An integer id."))?
        }
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("cost_type_id", "required", "This field is required."));
        }
        Some(_) => return Err(ApiError::invalid("cost_type_id", "invalid", "An integer id.")),
    };
    let amount = match body.get("amount") {
        None | Some(Value::Null) => None,
        // Decimal strings are exact; JSON numbers are accepted when they carry at most 2 decimals.
        Some(Value::String(text)) => Some(text.parse::<Amount>()),
        Some(Value::Number(n)) => Some(n.to_string().parse::<Amount>()),
        Some(_) => return Err(ApiError::invalid("amount", "invalid", "A decimal number.")),
    }
    .transpose()
    .map_err(|e| ApiError::invalid("amount", "invalid", e.to_string()))?;
    Ok(CostInput {
        cost_type_id,
        amount,
        currency: optional_string(body, "currency")?,
        details: optional_string(body, "details")?,
    })
}

fn cost_json(cost: &incidents_core::incident::CostRecord) -> Value {
    json!({
        "id": cost.id,
        "incident": cost.incident_id.0,
        "cost_type": {"id": cost.cost_type_id, "name": cost.cost_type_name},
        "amount": cost.amount.map(|a| a.to_string()),
        "currency": cost.currency,
        "details": cost.details,
    })
}

/// `POST /incidents/{id}/costs`.
pub async fn add_cost<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&request, &state, Permission::new(Action::Add, Resource::IncidentCost)).await?;
    let id = incident_id(&id)?;
    let input = cost_input(&object(&body)?)?;
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    let cost = blocking(move || Ok(lifecycle.add_cost(actor, id, input)?)).await?;
    Ok(HttpResponse::Created().json(cost_json(&cost)))
}

/// `PUT /incidents/{id}/costs/{cost_id}`.
pub async fn change_cost<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal =
        authorize(&request, &state, Permission::new(Action::Change, Resource::IncidentCost)).await?;
    let (id, cost_id) = path.into_inner();
    let id = incident_id(&id)?;
    let input = cost_input(&object(&body)?)?;
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    let cost = blocking(move || Ok(lifecycle.update_cost(actor, id, cost_id, input)?)).await?;
    Ok(HttpResponse::Ok().json(cost_json(&cost)))
}

/// `DELETE /incidents/{id}/costs/{cost_id}`.
pub async fn remove_cost<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, ApiError> {
    let principal =
        authorize(&request, &state, Permission::new(Action::Delete, Resource::IncidentCost)).await?;
    let (id, cost_id) = path.into_inner();
    let id = incident_id(&id)?;
    let lifecycle = state.lifecycle.clone();
    let actor = Actor { user: principal.user.id, entry_point: EntryPoint::Api };
    blocking(move || Ok(lifecycle.remove_cost(actor, id, cost_id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
