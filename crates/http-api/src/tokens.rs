//! `/api-tokens`: admins create, list and revoke API tokens. A token is shown once, in the answer
//! that creates it; only its SHA-256 digest is stored, and a revoked token stops working at once.

use actix_web::{HttpRequest, HttpResponse, web};
use incidents_core::access::ApiTokenRecord;
use incidents_core::query::PageRequest;
use incidents_core::{Email, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{hash_token, new_token};
use crate::blocking;
use crate::body::decode;
use crate::errors::ApiError;
use crate::json::time;
use crate::openapi::{BadRequest, Forbidden, NotFound, Throttled, Unauthorized, Unsupported};
use crate::{ApiBackend, ApiState};

/// The longest lifetime a token can be given.
const MAX_EXPIRY_DAYS: u32 = 3650;

/// An API token, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 7, "name": "alertmanager", "user_id": "5d1c9f2e-8b3a-4e6f-9a0b-7c2d4e6f8a1b",
    "created_at": "2026-11-28T10:00:00+01:00", "expires_at": null, "last_used_at": "2026-11-28T11:42:00+01:00",
    "revoked_at": null}))]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub user_id: uuid::Uuid,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl ApiToken {
    fn new(record: &ApiTokenRecord, tz: chrono_tz::Tz) -> Self {
        Self {
            id: record.id,
            name: record.name.clone(),
            user_id: record.user_id.0,
            created_at: time(record.created_at, tz),
            expires_at: record.expires_at.map(|at| time(at, tz)),
            last_used_at: record.last_used_at.map(|at| time(at, tz)),
            revoked_at: record.revoked_at.map(|at| time(at, tz)),
        }
    }
}

/// A new token: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"token": "4f1c0e9a7b2d8c6e5a3f1b0d9c8e7a6b5c4d3e2f", "id": 7, "name": "alertmanager",
    "user_id": "5d1c9f2e-8b3a-4e6f-9a0b-7c2d4e6f8a1b", "created_at": "2026-11-28T10:00:00+01:00",
    "expires_at": "2027-11-28T10:00:00+01:00", "last_used_at": null, "revoked_at": null}))]
pub struct CreatedApiToken {
    /// The secret, to send as `Authorization: Bearer <token>`. It cannot be shown again.
    #[schema(example = "4f1c0e9a7b2d8c6e5a3f1b0d9c8e7a6b5c4d3e2f")]
    pub token: String,
    #[serde(flatten)]
    pub record: ApiToken,
}

/// The body of `POST /api-tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"email": "alertmanager@example.com", "name": "alertmanager", "expires_in_days": 365}))]
pub struct CreateApiToken {
    /// Whose token; the caller's when omitted. The user must exist.
    pub email: Option<String>,
    /// A label to recognise the token by.
    #[schema(max_length = 128)]
    pub name: Option<String>,
    /// Days until the token expires; never when omitted.
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

/// List API tokens (admins), newest first.
#[utoipa::path(
    get,
    path = "/api-tokens",
    tag = "tokens",
    params(crate::params::PageParams),
    responses(
        (status = 200, body = Vec<ApiToken>, headers(
            ("Link" = String, description = "`<…>; rel=\"next\"` when more follow"),
            ("X-Total-Count" = u64, description = "With `count=true`"))),
        BadRequest, Unauthorized, Forbidden, Throttled,
    ),
)]
pub async fn list<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
) -> Result<HttpResponse, ApiError> {
    crate::auth::authorize_admin(&request, &state).await?;
    let (limit, offset, with_total) = crate::incidents::page_params(request.query_string())?;
    let page = PageRequest { limit, offset, with_total };
    let backend = state.backend.clone();
    let result = blocking(move || Ok(backend.api_tokens(page)?)).await?;
    let body: Vec<ApiToken> = result.items.iter().map(|t| ApiToken::new(t, state.time_zone)).collect();
    Ok(crate::incidents::paged_response(&request, &state.base_url, page, result.has_more, result.total)
        .json(body))
}

/// Create an API token (admins). The answer holds the secret, once.
#[utoipa::path(
    post,
    path = "/api-tokens",
    tag = "tokens",
    request_body(content(
        (CreateApiToken = "application/json"),
        (CreateApiToken = "application/x-www-form-urlencoded"),
    )),
    responses((status = 201, body = CreatedApiToken), BadRequest, Unauthorized, Forbidden, Unsupported, Throttled),
)]
pub async fn create<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let principal = crate::auth::authorize_admin(&request, &state).await?;
    let body: CreateApiToken = decode(&request, &body)?;
    let name = body.name.unwrap_or_default();
    if name.chars().count() > 128 {
        return Err(ApiError::invalid(
            "name",
            "max_length",
            "Ensure this field has no more than 128 characters.",
        ));
    }
    let expires_at = match body.expires_in_days {
        None => None,
        Some(days @ 1..=MAX_EXPIRY_DAYS) => {
            Some(incidents_core::clock::now() + chrono::TimeDelta::days(i64::from(days)))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "expires_in_days",
                "invalid",
                format!("Must be between 1 and {MAX_EXPIRY_DAYS}."),
            ));
        }
    };
    let email = body
        .email
        .map(|email| {
            Email::parse(&email)
                .map_err(|_| ApiError::invalid("email", "invalid", "Enter a valid email address."))
        })
        .transpose()?;
    let token = new_token();
    let digest = hash_token(&token);
    let backend = state.backend.clone();
    let record = blocking(move || {
        let owner: UserId = match email {
            None => principal.user.id,
            Some(email) => {
                backend
                    .find_user_by_email(&email)?
                    .ok_or_else(|| {
                        ApiError::invalid("email", "does_not_exist", format!("No user with e-mail {email}."))
                    })?
                    .id
            }
        };
        Ok(backend.create_api_token(owner, &name, &digest, expires_at)?)
    })
    .await?;
    tracing::info!(token_id = record.id, user = %record.user_id, "API token created");
    Ok(HttpResponse::Created()
        .json(CreatedApiToken { token, record: ApiToken::new(&record, state.time_zone) }))
}

/// Revoke an API token (admins). It stops working at once.
#[utoipa::path(
    delete,
    path = "/api-tokens/{id}",
    tag = "tokens",
    params(("id" = i64, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"), Unauthorized, Forbidden, NotFound, Throttled),
)]
pub async fn revoke<B: ApiBackend>(
    request: HttpRequest,
    state: web::Data<ApiState<B>>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    crate::auth::authorize_admin(&request, &state).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let backend = state.backend.clone();
    blocking(move || Ok(backend.revoke_api_token(id, incidents_core::clock::now())?)).await?;
    tracing::info!(token_id = id, "API token revoked");
    Ok(HttpResponse::NoContent().finish())
}
