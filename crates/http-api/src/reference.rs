//! Reference data: environments, priorities (also under their legacy name, severities), incident
//! categories (also under their legacy name, components) and groups.

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::access::{Action, Permission, Resource};
use serde_json::Value;

use crate::auth::authorize;
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
