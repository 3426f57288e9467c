//! Bearer-token authentication and permission checks, with the original's 401/403 messages.

use actix_web::HttpRequest;
use actix_web::http::header;
use actix_web::web;
use incidents_core::access::{Permission, Principal, TokenRejection};
pub use incidents_core::access::{hash_token, new_token};

use crate::errors::ApiError;
use crate::{ApiBackend, ApiState};

/// The token in an `Authorization: Bearer <token>` header, or the original's 401.
fn bearer_token(request: &HttpRequest) -> Result<String, ApiError> {
    let not_provided = || ApiError::unauthenticated("Authentication credentials were not provided.");
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Err(not_provided());
    };
    let value = value.to_str().map_err(|_| {
        ApiError::unauthenticated("Invalid token header. Token string should not contain invalid characters.")
    })?;
    let mut parts = value.split_whitespace();
    // Another scheme (`Token`, `Basic` …) is "no credentials" for this API, as in the original.
    if !parts.next().is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer")) {
        return Err(not_provided());
    }
    match (parts.next(), parts.next()) {
        (None, _) => Err(ApiError::unauthenticated("Invalid token header. No credentials provided.")),
        (Some(_), Some(_)) => {
            Err(ApiError::unauthenticated("Invalid token header. Token string should not contain spaces."))
        }
        (Some(token), None) => Ok(token.to_owned()),
    }
}

/// A request's credentials, read and rate-limited on the async side; checked against the database
/// with [`Credentials::check`] on the blocking pool. Every handler authenticates through this type,
/// so the dashboard's session cookie becomes one more variant here (read from the cookie, checked
/// against the session store) without touching a handler.
#[derive(Debug)]
pub enum Credentials {
    /// `Authorization: Bearer <token>`, by the token's SHA-256 digest.
    ApiToken { digest: String },
}

impl Credentials {
    /// The bearer token of `request`, counted against its rate limit.
    ///
    /// # Errors
    /// 401 for a missing or malformed header, 429 over the limit.
    pub async fn from_request<B: ApiBackend>(
        request: &HttpRequest,
        state: &web::Data<ApiState<B>>,
    ) -> Result<Self, ApiError> {
        let digest = hash_token(&bearer_token(request)?);
        if let Err(wait) = state.rate_limiter.take(&digest).await {
            return Err(ApiError::throttled(wait));
        }
        Ok(Self::ApiToken { digest })
    }

    /// The principal, if the token is valid and holds `permission` (blocking: call it on the blocking
    /// pool, together with the request's other database work to save a thread hand-off).
    ///
    /// # Errors
    /// 401 for an unknown, revoked or expired token or an inactive user, 403 without the permission.
    pub fn check<B: ApiBackend>(&self, backend: &B, permission: Permission) -> Result<Principal, ApiError> {
        let Self::ApiToken { digest } = self;
        let principal = match backend.authenticate_token(digest, incidents_core::clock::now())? {
            Ok(principal) => principal,
            Err(TokenRejection::Invalid) => return Err(ApiError::unauthenticated("Invalid token.")),
            Err(TokenRejection::UserInactive) => {
                return Err(ApiError::unauthenticated("User inactive or deleted."));
            }
        };
        if principal.can(permission) { Ok(principal) } else { Err(ApiError::forbidden()) }
    }
}

/// Authenticates the request and checks `permission`.
///
/// # Errors
/// 401 for missing or bad credentials, 403 without the permission, 429 over the rate limit.
pub async fn authorize<B: ApiBackend>(
    request: &HttpRequest,
    state: &web::Data<ApiState<B>>,
    permission: Permission,
) -> Result<Principal, ApiError> {
    let credentials = Credentials::from_request(request, state).await?;
    let backend = state.backend.clone();
    crate::blocking(move || credentials.check(&backend, permission)).await
}

/// Authenticates the request and requires an admin.
///
/// # Errors
/// 401 for missing or bad credentials, 403 for anyone but an admin, 429 over the rate limit.
pub async fn authorize_admin<B: ApiBackend>(
    request: &HttpRequest,
    state: &web::Data<ApiState<B>>,
) -> Result<Principal, ApiError> {
    use incidents_core::access::{Action, Resource};
    // Viewing users is the weakest permission; only the admin flag matters here.
    let principal = authorize(request, state, Permission::new(Action::View, Resource::User)).await;
    match principal {
        Ok(principal) if principal.user.is_superuser => Ok(principal),
        Ok(_) => Err(ApiError::forbidden()),
        Err(error) if error.status == actix_web::http::StatusCode::FORBIDDEN => Err(ApiError::forbidden()),
        Err(error) => Err(error),
    }
}

/// Whether `user` sees the incident: it is public, or they are a member of it or hold a role in it
/// (callers skip the question for staff: `Principal::visibility` is `None` for them).
///
/// # Errors
/// A storage failure.
pub fn sees<B: ApiBackend>(
    backend: &B,
    user: incidents_core::UserId,
    id: incidents_core::IncidentId,
) -> Result<bool, ApiError> {
    let filter = incidents_core::query::IncidentFilter {
        id: vec![id],
        visible_to: Some(user),
        ..incidents_core::query::IncidentFilter::default()
    };
    let page = incidents_core::query::PageRequest::new(1, 0);
    Ok(!backend.incident_keys(&filter, incidents_core::query::OrderBy::default(), page)?.items.is_empty())
}
