//! Reference data: environments, priorities (also under their legacy name, severities), incident
//! categories (also under their legacy name, components), groups, cost types and costs, users, and
//! the vocabularies (role, key event, metric and impact types).

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::access::{Action, Permission, Resource};
use incidents_core::query::{ImpactTypeView, KeyEventTypeView, MetricTypeView, PageRequest, RoleTypeView};
use serde::Serialize;

use crate::auth::authorize;
use crate::blocking;
use crate::errors::ApiError;
use crate::export;
use crate::incidents::{page_params, paged_response};
use crate::json::{Category, CostType, Environment, Group, IncidentCost, Priority, User};
use crate::openapi::{BadRequest, Forbidden, NotFound, NotModified, Throttled, Unauthorized};
use crate::params::PageParams;
use crate::{ApiBackend, ApiState};

/// Rows read per database round trip while exporting.
const EXPORT_BATCH: u32 = 500;

/// Loads a whole (small) collection, as `(id, representation)` pairs.
async fn load<B, T, F>(
    request: &HttpRequest,
    state: &web::Data<ApiState<B>>,
    resource: Resource,
    read: F,
) -> Result<Vec<(String, T)>, ApiError>
where
    B: ApiBackend,
    T: Send + 'static,
    F: FnOnce(&B, chrono_tz::Tz) -> Result<Vec<(String, T)>, ApiError> + Send + 'static,
{
    authorize(request, state, Permission::new(Action::View, resource)).await?;
    let backend = state.backend.clone();
    let tz = state.time_zone;
    blocking(move || read(&backend, tz)).await
}

/// A whole small list: a page of JSON, or every row as CSV/TSV when asked for.
fn all<T: Serialize>(
    request: &HttpRequest,
    base_url: &str,
    items: Vec<(String, T)>,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<T> = items.into_iter().map(|(_, item)| item).collect();
    let rows = export::rows(&items)?;
    if let Some(table) =
        export::list_export(request, move |page| Ok(if page == 0 { rows.clone() } else { Vec::new() }))?
    {
        return Ok(table);
    }
    crate::paging::in_memory(request, base_url, items)
}

/// The item with `id` (a trailing `.json` is allowed), with its `ETag`.
fn one<T: Serialize>(
    request: &HttpRequest,
    items: Vec<(String, T)>,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let id = id.trim_end_matches(".json");
    items
        .into_iter()
        .find(|(key, _)| key == id)
        .map(|(_, item)| crate::conditional::respond(request, &item))
        .ok_or_else(ApiError::not_found)
}

fn read_environments<B: ApiBackend>(
    backend: &B,
    _: chrono_tz::Tz,
) -> Result<Vec<(String, Environment)>, ApiError> {
    Ok(backend.environments()?.iter().map(|e| (e.id.clone(), Environment::from(e))).collect())
}

fn read_priorities<B: ApiBackend>(
    backend: &B,
    tz: chrono_tz::Tz,
) -> Result<Vec<(String, Priority)>, ApiError> {
    Ok(backend.priorities()?.iter().map(|p| (p.id.clone(), Priority::new(p, tz))).collect())
}

fn read_categories<B: ApiBackend>(
    backend: &B,
    tz: chrono_tz::Tz,
) -> Result<Vec<(String, Category)>, ApiError> {
    Ok(backend.categories(None)?.iter().map(|c| (c.id.clone(), Category::new(c, tz))).collect())
}

fn read_groups<B: ApiBackend>(backend: &B, tz: chrono_tz::Tz) -> Result<Vec<(String, Group)>, ApiError> {
    Ok(backend.groups()?.iter().map(|g| (g.id.clone(), Group::new(g, tz))).collect())
}

fn read_cost_types<B: ApiBackend>(
    backend: &B,
    tz: chrono_tz::Tz,
) -> Result<Vec<(String, CostType)>, ApiError> {
    Ok(backend.cost_types()?.iter().map(|c| (c.id.to_string(), CostType::new(c, tz))).collect())
}

/// Environments.
#[utoipa::path(get, path = "/environments", tag = "reference",
    params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`")), content(
        (Vec<Environment> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn environments<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    all(&request, &state.base_url, load(&request, &state, Resource::Environment, read_environments).await?)
}

/// One environment.
#[utoipa::path(get, path = "/environments/{id}", tag = "reference", params(("id" = String, Path)),
    responses((status = 200, body = Environment), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
pub async fn environment<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one(&request, load(&request, &state, Resource::Environment, read_environments).await?, &id)
}

/// Priorities, P1 to P5.
#[utoipa::path(get, path = "/priorities", tag = "reference",
    params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`")), content(
        (Vec<Priority> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn priorities<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    all(&request, &state.base_url, load(&request, &state, Resource::Priority, read_priorities).await?)
}

/// One priority.
#[utoipa::path(get, path = "/priorities/{id}", tag = "reference", params(("id" = String, Path)),
    responses((status = 200, body = Priority), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
pub async fn priority<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one(&request, load(&request, &state, Resource::Priority, read_priorities).await?, &id)
}

/// Priorities under their legacy name.
#[utoipa::path(get, path = "/severities", tag = "reference",
    params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`")), content(
        (Vec<Priority> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn severities<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    priorities(request, state).await
}

/// One priority, under its legacy name.
#[utoipa::path(get, path = "/severities/{id}", tag = "reference", params(("id" = String, Path)),
    responses((status = 200, body = Priority), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
pub async fn severity<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    priority(request, state, id).await
}

/// Incident categories, with their groups.
#[utoipa::path(get, path = "/incident-categories", tag = "reference",
    params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`")), content(
        (Vec<Category> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn categories<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    all(&request, &state.base_url, load(&request, &state, Resource::IncidentCategory, read_categories).await?)
}

/// One incident category.
#[utoipa::path(get, path = "/incident-categories/{id}", tag = "reference", params(("id" = String, Path)),
    responses((status = 200, body = Category), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
pub async fn category<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one(&request, load(&request, &state, Resource::IncidentCategory, read_categories).await?, &id)
}

/// Incident categories under their legacy name.
#[utoipa::path(get, path = "/components", tag = "reference",
    params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`")), content(
        (Vec<Category> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn components<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    categories(request, state).await
}

/// One incident category, under its legacy name.
#[utoipa::path(get, path = "/components/{id}", tag = "reference", params(("id" = String, Path)),
    responses((status = 200, body = Category), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
pub async fn component<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    category(request, state, id).await
}

/// Groups of incident categories.
#[utoipa::path(get, path = "/groups", tag = "reference",
    params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`")), content(
        (Vec<Group> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn groups<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    all(&request, &state.base_url, load(&request, &state, Resource::Group, read_groups).await?)
}

/// One group.
#[utoipa::path(get, path = "/groups/{id}", tag = "reference", params(("id" = String, Path)),
    responses((status = 200, body = Group), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
pub async fn group<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one(&request, load(&request, &state, Resource::Group, read_groups).await?, &id)
}

/// Cost types.
#[utoipa::path(get, path = "/incident_cost_types", tag = "reference",
    params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`")), content(
        (Vec<CostType> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn cost_types<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    all(&request, &state.base_url, load(&request, &state, Resource::IncidentCostType, read_cost_types).await?)
}

/// One cost type.
#[utoipa::path(get, path = "/incident_cost_types/{id}", tag = "reference", params(("id" = i64, Path)),
    responses((status = 200, body = CostType), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
pub async fn cost_type<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    one(&request, load(&request, &state, Resource::IncidentCostType, read_cost_types).await?, &id)
}

/// Costs of every incident, newest first.
#[utoipa::path(get, path = "/incident_costs", tag = "reference", params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", content(
        (Vec<IncidentCost> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values")), headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))),
        BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn costs<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::IncidentCost)).await?;
    let (backend, tz) = (state.backend.clone(), state.time_zone);
    if let Some(table) = export::list_export(&request, move |n| {
        let items =
            backend.incident_costs(PageRequest::new(EXPORT_BATCH, n * u64::from(EXPORT_BATCH)))?.items;
        export::rows(&items.iter().map(|c| IncidentCost::new(c, tz)).collect::<Vec<_>>())
    })? {
        return Ok(table);
    }
    let (limit, offset, with_total) = page_params(request.query_string())?;
    let page = PageRequest { limit, offset, with_total };
    let backend = state.backend.clone();
    let result = blocking(move || Ok(backend.incident_costs(page)?)).await?;
    let body: Vec<IncidentCost> = result.items.iter().map(|c| IncidentCost::new(c, tz)).collect();
    Ok(paged_response(&request, &state.base_url, page, result.has_more, result.total).json(body))
}

/// One cost.
#[utoipa::path(get, path = "/incident_costs/{id}", tag = "reference", params(("id" = i64, Path)),
    responses((status = 200, body = IncidentCost), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
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
    Ok(crate::conditional::respond(&request, &IncidentCost::new(&found, tz)))
}

/// Users, by name.
#[utoipa::path(get, path = "/users", tag = "users", params(PageParams, crate::params::ExportParams),
    responses((status = 200, description = "A page, or every row as CSV/TSV when asked for", content(
        (Vec<User> = "application/json"), (String = "text/csv"), (String = "text/tab-separated-values")), headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))),
        BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn users<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::User)).await?;
    let backend = state.backend.clone();
    if let Some(table) = export::list_export(&request, move |n| {
        let items = backend.users(PageRequest::new(EXPORT_BATCH, n * u64::from(EXPORT_BATCH)))?.items;
        export::rows(&items.iter().map(User::from).collect::<Vec<_>>())
    })? {
        return Ok(table);
    }
    let (limit, offset, with_total) = page_params(request.query_string())?;
    let page = PageRequest { limit, offset, with_total };
    let backend = state.backend.clone();
    let result = blocking(move || Ok(backend.users(page)?)).await?;
    let body: Vec<User> = result.items.iter().map(User::from).collect();
    Ok(paged_response(&request, &state.base_url, page, result.has_more, result.total).json(body))
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = User), NotModified, Unauthorized, Forbidden, NotFound, Throttled))]
pub async fn user<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize(&request, &state, Permission::new(Action::View, Resource::User)).await?;
    let id = incidents_core::UserId(id.trim_end_matches(".json").parse().map_err(|_| ApiError::not_found())?);
    let backend = state.backend.clone();
    let found = blocking(move || Ok(backend.user(id)?)).await?.ok_or_else(ApiError::not_found)?;
    Ok(crate::conditional::respond(&request, &User::from(&found)))
}

/// A vocabulary; reading one needs `view_incident`.
async fn vocabulary<B, T, F>(
    request: &HttpRequest,
    state: &web::Data<ApiState<B>>,
    read: F,
) -> Result<HttpResponse, ApiError>
where
    B: ApiBackend,
    T: Serialize + Send + 'static,
    F: FnOnce(&B) -> Result<Vec<T>, incidents_core::RepositoryError> + Send + 'static,
{
    authorize(request, state, Permission::new(Action::View, Resource::Incident)).await?;
    let backend = state.backend.clone();
    let items = blocking(move || Ok(read(&backend)?)).await?;
    crate::paging::in_memory(request, &state.base_url, items)
}

/// Role types (commander, communication lead …).
#[utoipa::path(get, path = "/role-types", tag = "vocabularies",
    params(PageParams),
    responses((status = 200, body = Vec<RoleTypeView>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn role_types<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    vocabulary(&request, &state, B::role_types).await
}

/// Key event types (detected, started, recovered …).
#[utoipa::path(get, path = "/key-event-types", tag = "vocabularies",
    params(PageParams),
    responses((status = 200, body = Vec<KeyEventTypeView>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn key_event_types<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    vocabulary(&request, &state, B::key_event_types).await
}

/// Metric types (time to detect, to fix …) and the key events that bound them.
#[utoipa::path(get, path = "/metric-types", tag = "vocabularies",
    params(PageParams),
    responses((status = 200, body = Vec<MetricTypeView>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn metric_types<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    vocabulary(&request, &state, B::metric_types).await
}

/// Impact types with their levels (the input of the priority matrix).
#[utoipa::path(get, path = "/impact-types", tag = "vocabularies",
    params(PageParams),
    responses((status = 200, body = Vec<ImpactTypeView>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, Throttled))]
pub async fn impact_types<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    vocabulary(&request, &state, B::impact_types).await
}
