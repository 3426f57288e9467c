//! The API's error body, as the original (drf-standardized-errors) returned it:
//! `{"type": "validation_error"|"client_error"|"server_error", "errors": [{"code", "detail", "attr"}]}`.
//!
//! One table maps each error to its status; every refusal of the domain keeps its stable code.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use incidents_core::{LifecycleError, RepositoryError};
use serde::Serialize;

/// An API error: a status and one or more `{code, detail, attr}` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<ErrorItem>,
    /// Seconds to wait, for 429.
    pub retry_after: Option<u64>,
}

/// One error entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorItem {
    #[schema(example = "required")]
    pub code: String,
    pub detail: String,
    pub attr: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    errors: &'a [ErrorItem],
}

impl ApiError {
    fn one(status: StatusCode, code: &str, detail: impl Into<String>, attr: Option<&str>) -> Self {
        Self {
            status,
            errors: vec![ErrorItem {
                code: code.to_owned(),
                detail: detail.into(),
                attr: attr.map(str::to_owned),
            }],
            retry_after: None,
        }
    }

    /// 429 with the original's message and `Retry-After`.
    pub fn throttled(wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self {
            retry_after: Some(seconds),
            ..Self::one(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                format!("Request was throttled. Expected available in {seconds} seconds."),
                None,
            )
        }
    }

    /// 401 with the original's messages.
    pub fn unauthenticated(detail: &str) -> Self {
        let code = if detail.starts_with("Authentication credentials") {
            "not_authenticated"
        } else {
            "authentication_failed"
        };
        Self::one(StatusCode::UNAUTHORIZED, code, detail, None)
    }

    /// 403 with the original's message.
    pub fn forbidden() -> Self {
        Self::one(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "You do not have permission to perform this action.",
            None,
        )
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::one(StatusCode::NOT_FOUND, "not_found", "Not found.", None)
    }

    /// 400 naming the attribute.
    pub fn invalid(attr: &str, code: &str, detail: impl Into<String>) -> Self {
        Self::one(StatusCode::BAD_REQUEST, code, detail, Some(attr))
    }

    /// 409 with a stable code.
    pub fn conflict(code: &str, detail: &str) -> Self {
        Self::one(StatusCode::CONFLICT, code, detail, None)
    }

    /// 415 for a body in a media type the API does not read.
    pub fn unsupported_media_type(media: &str) -> Self {
        Self::one(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Unsupported media type \"{media}\" in request."),
            None,
        )
    }

    /// 503: the database did not answer in time.
    pub fn unavailable() -> Self {
        Self::one(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is temporarily unavailable.",
            None,
        )
    }

    /// 502: a service the request depends on (Jira …) refused or failed; `detail` says which, without
    /// secrets.
    pub fn bad_gateway(detail: &str) -> Self {
        Self::one(StatusCode::BAD_GATEWAY, "bad_gateway", detail, None)
    }

    /// 500, without internals (they go to the log).
    pub fn internal() -> Self {
        Self::one(StatusCode::INTERNAL_SERVER_ERROR, "error", "A server error occurred.", None)
    }

    fn kind(&self) -> &'static str {
        if self.status.is_server_error() {
            "server_error"
        } else if self.status == StatusCode::BAD_REQUEST {
            "validation_error"
        } else {
            "client_error"
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let details: Vec<&str> = self.errors.iter().map(|e| e.detail.as_str()).collect();
        write!(f, "{}: {}", self.status, details.join("; "))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(Body { kind: self.kind(), errors: &self.errors })
    }
}

impl From<RepositoryError> for ApiError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::Unavailable(message) => {
                tracing::warn!(%message, "database unavailable");
                Self::unavailable()
            }
            RepositoryError::NotFound(_) => Self::not_found(),
            other => {
                tracing::error!(error = %other, "storage error");
                Self::internal()
            }
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> Self {
        match &error {
            LifecycleError::Invalid { field, code, message } => {
                Self::invalid(field, &code.to_ascii_lowercase(), message.clone())
            }
            LifecycleError::IncidentNotFound(_) => Self::not_found(),
            LifecycleError::NothingToUpdate | LifecycleError::NoImpact(_) => {
                Self::one(StatusCode::UNPROCESSABLE_ENTITY, error.code(), error.to_string(), None)
            }
            LifecycleError::Transition(_) | LifecycleError::DedupKeyTaken { .. } => {
                Self::one(StatusCode::CONFLICT, error.code(), error.to_string(), Some("status"))
            }
            LifecycleError::CannotClose { blockers } => Self {
                retry_after: None,
                status: StatusCode::CONFLICT,
                errors: blockers
                    .iter()
                    .map(|b| ErrorItem {
                        code: b.code.to_owned(),
                        detail: b.message.clone(),
                        attr: Some("status".into()),
                    })
                    .collect(),
            },
            LifecycleError::Storage(storage) => storage.clone().into(),
        }
    }
}
