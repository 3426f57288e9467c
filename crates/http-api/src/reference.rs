//! Reference data: environments, priorities (also under their legacy name, severities), incident
//! categories (also under their legacy name, components) and groups.

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::access::{Action, Permission, Resource};
use serde_json::Value;

use crate::auth::authorize;
use crate::blocking;
use crate::errors::ApiError;
use crate::json;
use crate::{ApiBackend, ApiState};

async fn load<B: ApiBackend>(
    request: &HttpRequest,
    state: &web::Data<ApiState<B>>,
    resource: Resource,
) -> Result<Vec<(String, Value)>, ApiError> {
    authorize(request, state, Permission::new(Action::View, resource)).await?;
    let backend = state.backend.clone();
    let tz = state.time_zone;
    web::block(move || -> Result<Vec<(String, Value)>, ApiError> {
        Ok(match resource {
            Resource::Environment => {
                backend.environments()?.iter().map(|e| (e.id.clone(), json::environment(e))).collect()
            }
            Resource::Priority => {
                backend.priorities()?.iter().map(|p| (p.id.clone(), json::priority(p, tz))).collect()
            }
            Resource::IncidentCategory => {
                backend.categories(None)?.iter().map(|c| (c.id.clone(), json::category(c, tz))).collect()
            }
            Resource::Group => backend.groups()?.iter().map(|g| (g.id.clone(), json::group(g, tz))).collect(),
            _ => Vec::new(),
        })
    })
    .await
    .map_err(|_| ApiError::internal())?
}

async fn list_of<B: ApiBackend>(
    request: &HttpRequest,
    state: &web::Data<ApiState<B>>,
    resource: Resource,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<Value> =
        load(request, state, resource).await?.into_iter().map(|(_, value)| value).collect();
    Ok(HttpResponse::Ok().json(items))
}

async fn one_of<B: ApiBackend>(
    request: &HttpRequest,
    state: &web::Data<ApiState<B>>,
    resource: Resource,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let id = id.trim_end_matches(".json");
    load(request, state, resource)
        .await?
        .into_iter()
        .find(|(key, _)| key == id)
        .map(|(_, value)| crate::conditional::respond(request, &value))
        .ok_or_else(ApiError::not_found)
}

pub async fn environments<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    list_of(&request, &state, Resource::Environment).await
}

pub async fn environment<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one_of(&request, &state, Resource::Environment, &id).await
}

pub async fn priorities<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    list_of(&request, &state, Resource::Priority).await
}

pub async fn priority<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one_of(&request, &state, Resource::Priority, &id).await
}

pub async fn categories<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    list_of(&request, &state, Resource::IncidentCategory).await
}

pub async fn category<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one_of(&request, &state, Resource::IncidentCategory, &id).await
}

pub async fn groups<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    list_of(&request, &state, Resource::Group).await
}

pub async fn group<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one_of(&request, &state, Resource::Group, &id).await
}

fn cost_type_json(cost_type: &incidents_core::query::CostTypeView, tz: chrono_tz::Tz) -> Value {
    serde_json::json!({
        "id": cost_type.id,
        "name": cost_type.name,
        "description": cost_type.description,
        "category": cost_type.category,
        "default": cost_type.default,
        "editable": cost_type.editable,
        "created_at": json::time(cost_type.created_at, tz),
        "updated_at": json::time(cost_type.updated_at, tz),
    })
}

/// `GET /incident_cost_types[/{id}]`.
pub async fn cost_types<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::IncidentCostType)).await?;
    let backend = state.backend.clone();
    let tz = state.time_zone;
    let items = blocking(move || Ok(backend.cost_types()?)).await?;
    Ok(HttpResponse::Ok().json(items.iter().map(|c| cost_type_json(c, tz)).collect::<Vec<_>>()))
}

pub async fn cost_type<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::IncidentCostType)).await?;
    let id: i64 = id.trim_end_matches(".json").parse().map_err(|_| ApiError::not_found())?;
    let backend = state.backend.clone();
    let tz = state.time_zone;
    let items = blocking(move || Ok(backend.cost_types()?)).await?;
    let found = items.iter().find(|c| c.id == id).ok_or_else(ApiError::not_found)?;
    Ok(crate::conditional::respond(&request, &cost_type_json(found, tz)))
}

fn cost_json(cost: &incidents_core::query::IncidentCostView, tz: chrono_tz::Tz) -> Value {
    serde_json::json!({
        "id": cost.id,
        "cost_type": cost_type_json(&cost.cost_type, tz),
        "amount": cost.amount.map(|a| a.to_string()),
        "currency": cost.currency,
        "details": cost.details,
        "incident": cost.incident.0,
        "created_at": json::time(cost.created_at, tz),
        "updated_at": json::time(cost.updated_at, tz),
    })
}

/// `GET /incident_costs`, paged.
pub async fn costs<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::IncidentCost)).await?;
    let (limit, offset, with_total) = crate::incidents::page_params(request.query_string())?;
    let page = incidents_core::query::PageRequest { limit, offset, with_total };
    let backend = state.backend.clone();
    let tz = state.time_zone;
    let result = blocking(move || Ok(backend.incident_costs(page)?)).await?;
    let body: Vec<Value> = result.items.iter().map(|c| cost_json(c, tz)).collect();
    Ok(crate::incidents::paged_response(&request, &state.base_url, page, result.has_more, result.total)
        .json(body))
}

/// `GET /incident_costs/{id}`.
pub async fn cost<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::IncidentCost)).await?;
    let id: i64 = id.trim_end_matches(".json").parse().map_err(|_| ApiError::not_found())?;
    let backend = state.backend.clone();
    let tz = state.time_zone;
    let found = blocking(move || Ok(backend.incident_cost(id)?)).await?.ok_or_else(ApiError::not_found)?;
    Ok(crate::conditional::respond(&request, &cost_json(&found, tz)))
}

fn user_json(user: &incidents_core::query::UserView) -> Value {
    serde_json::json!({"id": user.id, "username": user.username, "name": user.name, "email": user.email})
}

/// `GET /users`, paged.
pub async fn users<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::User)).await?;
    let (limit, offset, with_total) = crate::incidents::page_params(request.query_string())?;
    let page = incidents_core::query::PageRequest { limit, offset, with_total };
    let backend = state.backend.clone();
    let result = blocking(move || Ok(backend.users(page)?)).await?;
    let body: Vec<Value> = result.items.iter().map(user_json).collect();
    Ok(crate::incidents::paged_response(&request, &state.base_url, page, result.has_more, result.total)
        .json(body))
}

/// `GET /users/{id}`.
pub async fn user<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::User)).await?;
    let id = incidents_core::UserId(id.trim_end_matches(".json").parse().map_err(|_| ApiError::not_found())?);
    let backend = state.backend.clone();
    let found = blocking(move || Ok(backend.user(id)?)).await?.ok_or_else(ApiError::not_found)?;
    Ok(crate::conditional::respond(&request, &user_json(&found)))
}

/// The vocabularies: `/role-types`, `/key-event-types`, `/metric-types`, `/impact-types` (with levels).
/// Reading them needs `view_incident`.
pub async fn vocabulary<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::Incident)).await?;
    let backend = state.backend.clone();
    let path = request.path().to_owned();
    let body = blocking(move || -> Result<Value, ApiError> {
        let value = if path.ends_with("/role-types") {
            serde_json::to_value(backend.role_types()?)
        } else if path.ends_with("/key-event-types") {
            serde_json::to_value(backend.key_event_types()?)
        } else if path.ends_with("/metric-types") {
            serde_json::to_value(backend.metric_types()?)
        } else {
            serde_json::to_value(backend.impact_types()?)
        };
        value.map_err(|_| ApiError::internal())
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}
