//! `/permission-groups`: named permission sets (Django's auth groups). A user holds what is granted to
//! them and what their groups hold; single sign-on's `roles` claim sets a user's groups at every
//! sign-in. Staff holding the `auth.*_group` permissions manage them, and admins.
//! (`/groups` is the original's path for incident category groups.)

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::Email;
use incidents_core::access::{Action, Permission, PermissionGroup as Group, Principal, Resource, group_name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::blocking;
use crate::body::decode;
use crate::errors::ApiError;
use crate::openapi::{BadRequest, Forbidden, NotFound, Throttled, Unauthorized, Unsupported};
use crate::{ApiBackend, ApiState};

/// A permission group.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "responders-eu", "permissions": ["incidents.add_incident",
    "incidents.view_incident"], "members": ["ada@example.com"]}))]
pub struct PermissionGroup {
    pub name: String,
    /// Codenames, sorted.
    pub permissions: Vec<String>,
    /// The members' e-mail addresses, sorted.
    pub members: Vec<String>,
}

impl From<Group> for PermissionGroup {
    fn from(group: Group) -> Self {
        Self { name: group.name, permissions: group.permissions, members: group.members }
    }
}

/// The body of `PUT /permission-groups/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"permissions": ["incidents.view_incident", "incidents.add_incident"]}))]
pub struct PutPermissionGroup {
    /// Every permission the group holds (codenames); replaces what it held.
    pub permissions: Vec<String>,
}

/// Staff holding `permission` on groups, or an admin.
async fn authorize_staff<B: ApiBackend>(
    request: &HttpRequest,
    state: &web::Data<ApiState<B>>,
    action: Action,
) -> Result<Principal, ApiError> {
    let principal =
        crate::auth::authorize(request, state, Permission::new(action, Resource::PermissionGroup)).await?;
    if principal.user.is_staff || principal.user.is_superuser {
        Ok(principal)
    } else {
        Err(ApiError::forbidden())
    }
}

fn checked_name(name: &str) -> Result<String, ApiError> {
    group_name(name).map(str::to_owned).map_err(|message| ApiError::invalid("name", "invalid", message))
}

/// List permission groups (staff), by name.
#[utoipa::path(
    get,
    path = "/permission-groups",
    tag = "permission groups",
    params(crate::params::PageParams),
    responses((status = 200, body = Vec<PermissionGroup>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))), BadRequest, Unauthorized, Forbidden, Throttled),
)]
pub async fn list<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    authorize_staff(&request, &state, Action::View).await?;
    let backend = state.backend.clone();
    let groups = blocking(move || Ok(backend.permission_groups()?)).await?;
    crate::paging::in_memory(
        &request,
        &state.base_url,
        groups.into_iter().map(PermissionGroup::from).collect(),
    )
}

/// Create a permission group or replace its permissions (staff). 201 when created.
#[utoipa::path(
    put,
    path = "/permission-groups/{name}",
    tag = "permission groups",
    params(("name" = String, Path, description = "The group's name (1 to 150 characters)")),
    request_body(content(
        (PutPermissionGroup = "application/json"),
        (PutPermissionGroup = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, body = PermissionGroup, description = "Replaced"),
        (status = 201, body = PermissionGroup, description = "Created"),
        BadRequest, Unauthorized, Forbidden, Unsupported, Throttled,
    ),
)]
pub async fn put<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize_staff(&request, &state, Action::Change).await?;
    let name = checked_name(&name)?;
    let body: PutPermissionGroup = decode(&request, &body)?;
    let permissions = body
        .permissions
        .iter()
        .map(|codename| Permission::parse(codename))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| ApiError::invalid("permissions", "invalid", message))?;
    // Nobody hands out what they do not hold themselves.
    if let Some(missing) = permissions.iter().find(|permission| !principal.can(**permission)) {
        return Err(ApiError::invalid(
            "permissions",
            "invalid",
            format!("You cannot grant {missing}: you do not hold it."),
        ));
    }
    let backend = state.backend.clone();
    let (group, created) = blocking(move || Ok(backend.put_permission_group(&name, &permissions)?)).await?;
    tracing::info!(group = %group.name, created, by = %principal.user.email, "permission group saved");
    let mut response = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(response.json(PermissionGroup::from(group)))
}

/// Delete a permission group (staff). Its members keep what was granted to them directly.
#[utoipa::path(
    delete,
    path = "/permission-groups/{name}",
    tag = "permission groups",
    params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), Unauthorized, Forbidden, NotFound, Throttled),
)]
pub async fn delete<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize_staff(&request, &state, Action::Delete).await?;
    let name = checked_name(&name)?;
    let backend = state.backend.clone();
    let group = name.clone();
    if !blocking(move || Ok(backend.delete_permission_group(&name)?)).await? {
        return Err(ApiError::not_found());
    }
    tracing::info!(%group, by = %principal.user.email, "permission group deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// Add a user to a permission group (staff).
#[utoipa::path(
    put,
    path = "/permission-groups/{name}/members/{email}",
    tag = "permission groups",
    params(("name" = String, Path), ("email" = String, Path, description = "The user's e-mail address")),
    responses((status = 204, description = "A member"), BadRequest, Unauthorized, Forbidden, NotFound, Throttled),
)]
pub async fn add_member<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    membership(request, state, path.into_inner(), true).await
}

/// Remove a user from a permission group (staff).
#[utoipa::path(
    delete,
    path = "/permission-groups/{name}/members/{email}",
    tag = "permission groups",
    params(("name" = String, Path), ("email" = String, Path, description = "The user's e-mail address")),
    responses((status = 204, description = "Not a member"), BadRequest, Unauthorized, Forbidden, NotFound, Throttled),
)]
pub async fn remove_member<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    membership(request, state, path.into_inner(), false).await
}

async fn membership<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    (name, email): (String, String),
    member: bool,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize_staff(&request, &state, Action::Change).await?;
    let name = checked_name(&name)?;
    let email = Email::parse(&email)
        .map_err(|_| ApiError::invalid("email", "invalid", "Enter a valid email address."))?;
    let backend = state.backend.clone();
    let (group, user) = (name.clone(), email.to_string());
    blocking(move || {
        let user = backend.find_user_by_email(&email)?.ok_or_else(|| {
            ApiError::invalid("email", "does_not_exist", format!("No user with e-mail {email}."))
        })?;
        if member && !principal.user.is_superuser {
            // A group can hold what its manager does not: only admins add people to such a group.
            let held = backend.permission_groups()?.into_iter().find(|group| group.name == name);
            if let Some(held) = held
                && held.permissions.iter().any(|codename| !principal.permissions.contains(codename))
            {
                return Err(ApiError::forbidden());
            }
        }
        backend.set_group_member(&name, user.id, member)?.ok_or_else(ApiError::not_found)
    })
    .await?;
    tracing::info!(%group, %user, member, "permission group membership changed");
    Ok(HttpResponse::NoContent().finish())
}
