//! What every page shares: who is visiting (or the redirection to sign-in), the page frame, and the
//! error pages (HTML, or the original's JSON when the client asks for JSON).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use dashboard_templates::{ErrorPage, Layout, Template};
use incidents_core::access::{AccessRepository as _, Principal};

use crate::State;
use crate::session::{COOKIE, check_csrf, is_unsafe};

/// The assets' version: part of their path, so they can be cached for a year.
pub(crate) const ASSETS: &str = concat!("/static/", env!("CARGO_PKG_VERSION"));

/// Why a page is not shown.
#[derive(Debug)]
pub(crate) enum PageError {
    /// Not signed in: to the sign-in page, then back to `next`.
    SignIn {
        next: String,
    },
    Forbidden(String),
    NotFound,
    BadRequest(String),
    /// A service the page needs is down.
    Unavailable(String),
    /// Too many attempts; retry after the seconds given.
    TooMany(u64),
    Internal(String),
}

impl PageError {
    pub(crate) fn internal(error: &dyn std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl From<incidents_core::RepositoryError> for PageError {
    fn from(error: incidents_core::RepositoryError) -> Self {
        Self::internal(&error)
    }
}

impl From<actix_web::error::BlockingError> for PageError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        Self::internal(&error)
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignIn { .. } => f.write_str("sign in first"),
            Self::Forbidden(why) => write!(f, "forbidden: {why}"),
            Self::NotFound => f.write_str("not found"),
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::Unavailable(why) => write!(f, "unavailable: {why}"),
            Self::TooMany(_) => f.write_str("too many attempts"),
            Self::Internal(error) => write!(f, "internal error: {error}"),
        }
    }
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } => StatusCode::FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn { next } => {
                let location = format!(
                    "/admin/login/?{}",
                    url::form_urlencoded::Serializer::new(String::new()).append_pair("next", next).finish()
                );
                // Filled in by `Self::respond`, which knows whether HTMX asked.
                HttpResponse::Found().insert_header((header::LOCATION, location)).finish()
            }
            Self::Internal(error) => {
                tracing::error!(%error, "a dashboard page failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The page could not be shown. Please try again in a moment.",
                    None,
                )
            }
            Self::Forbidden(why) => error_page(StatusCode::FORBIDDEN, "Not allowed", why, None),
            Self::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "This page does not exist, or you may not see it.",
                None,
            ),
            Self::BadRequest(why) => error_page(StatusCode::BAD_REQUEST, "Bad request", why, None),
            Self::Unavailable(why) => error_page(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", why, None),
            Self::TooMany(seconds) => {
                let mut response = error_page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    &format!("Too many failed sign-ins. Try again in {} minutes.", seconds.div_ceil(60)),
                    None,
                );
                if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
        }
    }
}

/// An error page in the dashboard's frame.
pub(crate) fn error_page(
    status: StatusCode,
    heading: &str,
    message: &str,
    layout: Option<Layout>,
) -> HttpResponse {
    let page = ErrorPage {
        layout: layout.unwrap_or_else(|| Layout {
            title: heading.to_owned(),
            assets: ASSETS.to_owned(),
            app_name: "FireFighter".to_owned(),
            ..Layout::default()
        }),
        status: status.as_u16(),
        heading: heading.to_owned(),
        message: message.to_owned(),
    };
    match page.render() {
        Ok(body) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body),
        Err(_) => {
            HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(message.to_owned())
        }
    }
}

/// Renders a page.
pub(crate) fn html(page: &impl Template) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(|error| PageError::internal(&error))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// Whether HTMX made the request (and wants the part, not the page).
pub(crate) fn is_htmx(request: &HttpRequest) -> bool {
    request.headers().contains_key("hx-request")
        && !request.headers().contains_key("hx-history-restore-request")
}

/// A signed-in visitor.
#[derive(Debug, Clone)]
pub(crate) struct Visitor {
    pub principal: Principal,
    pub csrf: String,
}

impl Visitor {
    /// Whether they may do this.
    pub(crate) fn can(&self, action: incidents_core::access::Action) -> bool {
        self.principal
            .can(incidents_core::access::Permission::new(action, incidents_core::access::Resource::Incident))
    }

    /// Refuses unless they may do `action` to incidents.
    pub(crate) fn require(
        &self,
        action: incidents_core::access::Action,
        what: &str,
    ) -> Result<(), PageError> {
        self.require_on(action, incidents_core::access::Resource::Incident, what)
    }

    /// Refuses unless they may do `action` to `resource`, naming the permission they lack.
    pub(crate) fn require_on(
        &self,
        action: incidents_core::access::Action,
        resource: incidents_core::access::Resource,
        what: &str,
    ) -> Result<(), PageError> {
        let permission = incidents_core::access::Permission::new(action, resource);
        if self.principal.can(permission) {
            Ok(())
        } else {
            Err(PageError::Forbidden(format!(
                "You may not {what}: your user lacks the {} permission. Ask an administrator.",
                permission.codename()
            )))
        }
    }

    /// The page frame for them.
    pub(crate) fn layout(&self, state: &State, title: &str, section: &'static str) -> Layout {
        let user = &self.principal.user;
        let name = if user.name.trim().is_empty() { user.email.clone() } else { user.name.clone() };
        Layout {
            app_name: state.context.config.app_display_name.clone(),
            title: title.to_owned(),
            user: Some(name),
            is_staff: user.is_staff || user.is_superuser,
            csrf: self.csrf.clone(),
            assets: ASSETS.to_owned(),
            section,
        }
    }
}

/// Where to come back after signing in: this page (a GET), or the incident page a form was on.
fn next_of(request: &HttpRequest) -> String {
    let path = request.path();
    if request.method() == actix_web::http::Method::GET {
        match request.query_string() {
            "" => path.to_owned(),
            query => format!("{path}?{query}"),
        }
    } else {
        path.rsplit_once('/').map_or("/", |(head, _)| head).to_owned()
    }
}

/// The signed-in visitor, checked for CSRF on unsafe requests (`form_token`: the form's hidden
/// field). Without a live session: [`PageError::SignIn`].
pub(crate) async fn visitor(
    request: &HttpRequest,
    state: &web::Data<State>,
    form_token: Option<&str>,
) -> Result<Visitor, PageError> {
    let sign_in = || PageError::SignIn { next: next_of(request) };
    let Some(cookie) = request.cookie(COOKIE) else { return Err(sign_in()) };
    let (sessions, database) = (state.sessions.clone(), state.context.database.clone());
    let id = cookie.value().to_owned();
    let found = web::block(move || -> Result<Option<(crate::session::Session, Option<Principal>)>, incidents_core::RepositoryError> {
        let Some(session) = sessions.find(&id)? else { return Ok(None) };
        let principal = database.principal(session.user)?;
        Ok(Some((session, principal)))
    })
    .await??;
    let Some((session, Some(principal))) = found else { return Err(sign_in()) };
    if !principal.user.is_active {
        return Err(sign_in());
    }
    if is_unsafe(request) {
        check_csrf(request, &state.context.config.base_url, &session.csrf, form_token)
            .map_err(|refusal| PageError::Forbidden(format!("This request was refused: {refusal}.")))?;
    }
    Ok(Visitor { principal, csrf: session.csrf })
}

/// The answer to a page error, as HTMX needs it: a sign-in redirect becomes `HX-Redirect` (HTMX would
/// otherwise swap the sign-in page into the part it asked for).
pub(crate) fn respond(request: &HttpRequest, result: Result<HttpResponse, PageError>) -> HttpResponse {
    match result {
        Ok(response) => response,
        Err(PageError::SignIn { next }) => {
            // Single sign-on when configured, else the local sign-in page.
            let sso = request.app_data::<web::Data<State>>().is_some_and(|state| state.oidc.is_some());
            let page = if sso { "/oidc/authenticate/" } else { "/admin/login/" };
            let location = format!(
                "{page}?{}",
                url::form_urlencoded::Serializer::new(String::new()).append_pair("next", &next).finish()
            );
            if is_htmx(request) {
                HttpResponse::Ok().insert_header(("HX-Redirect", location)).finish()
            } else {
                HttpResponse::Found().insert_header((header::LOCATION, location)).finish()
            }
        }
        Err(error) if wants_json(request) => {
            let status = actix_web::ResponseError::status_code(&error);
            let code = status.canonical_reason().unwrap_or("Error").to_uppercase().replace(' ', "_");
            let message = match &error {
                PageError::Internal(_) => "The page could not be shown.".to_owned(),
                other => other.to_string(),
            };
            if let PageError::Internal(detail) = &error {
                tracing::error!(error = %detail, "a dashboard page failed");
            }
            HttpResponse::build(status)
                .json(serde_json::json!({"error": {"app_code": code, "message": message}}))
        }
        Err(error) => actix_web::ResponseError::error_response(&error),
    }
}

/// Whether the client asks for JSON rather than a page (an API client hitting a page's URL).
fn wants_json(request: &HttpRequest) -> bool {
    let accept = request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    accept.contains("application/json") && !accept.contains("text/html")
}

/// A submitted form's fields. A field holding a NUL character is refused (400, naming the field):
/// PostgreSQL cannot store one, and no form of ours needs one.
pub(crate) fn form<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, PageError> {
    if let Some((field, _)) =
        url::form_urlencoded::parse(body).find(|(key, value)| key.contains('\0') || value.contains('\0'))
    {
        return Err(PageError::BadRequest(format!(
            "Null characters are not allowed (in the field {}).",
            field.replace('\0', "")
        )));
    }
    Ok(serde_urlencoded::from_bytes(body).unwrap_or_default())
}
