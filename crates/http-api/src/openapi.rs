//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! response types (which are also what the handlers serialize), so the document cannot describe a
//! shape the API does not send. `openapi/openapi.json` is this document, committed; a test fails when
//! the two disagree (`make openapi` rewrites the file).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use crate::errors::ErrorItem;

/// The error body of every refusal: `type` is `validation_error` (400), `client_error` (other 4xx) or
/// `server_error` (5xx); each entry has a stable `code`, a human `detail`, and the `attr` it concerns.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    #[schema(example = "validation_error")]
    pub kind: String,
    pub errors: Vec<ErrorItem>,
}

/// A field is missing, has the wrong type, or the body is not JSON.
#[derive(Debug, IntoResponses)]
#[response(status = 400, example = json!({"type": "validation_error", "errors": [
    {"code": "required", "detail": "This field is required.", "attr": "title"}]}))]
pub struct BadRequest(#[expect(dead_code, reason = "documentation only")] ErrorBody);

/// No credentials, or invalid ones.
#[derive(Debug, IntoResponses)]
#[response(status = 401, headers(("WWW-Authenticate" = String, description = "`Bearer`")),
    example = json!({"type": "client_error", "errors": [
    {"code": "not_authenticated", "detail": "Authentication credentials were not provided.", "attr": null}]}))]
pub struct Unauthorized(#[expect(dead_code, reason = "documentation only")] ErrorBody);

/// The token's user lacks the permission.
#[derive(Debug, IntoResponses)]
#[response(status = 403, example = json!({"type": "client_error", "errors": [
    {"code": "permission_denied", "detail": "You do not have permission to perform this action.", "attr": null}]}))]
pub struct Forbidden(#[expect(dead_code, reason = "documentation only")] ErrorBody);

/// No such object.
#[derive(Debug, IntoResponses)]
#[response(status = 404, example = json!({"type": "client_error", "errors": [
    {"code": "not_found", "detail": "Not found.", "attr": null}]}))]
pub struct NotFound(#[expect(dead_code, reason = "documentation only")] ErrorBody);

/// The workflow refuses the change (a transition that is not allowed, or a close with blockers);
/// each error carries the stable code.
#[derive(Debug, IntoResponses)]
#[response(status = 409, example = json!({"type": "client_error", "errors": [
    {"code": "TRANSITION_NOT_ALLOWED", "detail": "Cannot go from Open to Post-mortem.", "attr": "status"}]}))]
pub struct Conflict(#[expect(dead_code, reason = "documentation only")] ErrorBody);

/// The request is well formed but changes nothing, or lacks what the rule needs.
#[derive(Debug, IntoResponses)]
#[response(status = 422, example = json!({"type": "client_error", "errors": [
    {"code": "NO_CHANGE", "detail": "Nothing to update: no field changed and no message was given.", "attr": null}]}))]
pub struct Unprocessable(#[expect(dead_code, reason = "documentation only")] ErrorBody);

/// The body is neither JSON nor form-encoded.
#[derive(Debug, IntoResponses)]
#[response(status = 415, example = json!({"type": "client_error", "errors": [
    {"code": "unsupported_media_type", "detail": "Unsupported media type \"text/plain\" in request.", "attr": null}]}))]
pub struct Unsupported(#[expect(dead_code, reason = "documentation only")] ErrorBody);

/// Too many requests with this token; retry after the given seconds.
#[derive(Debug, IntoResponses)]
#[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")),
    example = json!({"type": "client_error", "errors": [
    {"code": "throttled", "detail": "Request was throttled. Expected available in 3 seconds.", "attr": null}]}))]
pub struct Throttled(#[expect(dead_code, reason = "documentation only")] ErrorBody);

/// The client already holds this representation (`If-None-Match`).
#[derive(Debug, IntoResponses)]
#[response(status = 304)]
pub struct NotModified;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token from `firefighter-server create-token` or `POST /api-tokens`, sent as \
                         `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "FireFighter API",
        version = "2",
        description = "Incident management: declare, follow and close incidents. Compatible with the \
                       original FireFighter API v2; the write endpoints, users, vocabularies, tokens and \
                       paging headers are additions. Lists answer a JSON array; `Link: <…>; rel=\"next\"` \
                       points at the next page and `count=true` adds `X-Total-Count`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/api/v2/firefighter")),
    paths(
        crate::incidents::list,
        crate::incidents::list_with_suffix,
        crate::incidents::create,
        crate::incidents::retrieve,
        crate::incident_writes::timeline,
        crate::incident_writes::update,
        crate::incident_writes::roles,
        crate::incident_writes::key_events,
        crate::incident_writes::add_cost,
        crate::incident_writes::change_cost,
        crate::incident_writes::remove_cost,
        crate::reference::environments,
        crate::reference::environment,
        crate::reference::priorities,
        crate::reference::priority,
        crate::reference::severities,
        crate::reference::severity,
        crate::reference::categories,
        crate::reference::category,
        crate::reference::components,
        crate::reference::component,
        crate::reference::groups,
        crate::reference::group,
        crate::reference::cost_types,
        crate::reference::cost_type,
        crate::reference::costs,
        crate::reference::cost,
        crate::reference::users,
        crate::reference::user,
        crate::reference::role_types,
        crate::reference::key_event_types,
        crate::reference::metric_types,
        crate::reference::impact_types,
        crate::tokens::list,
        crate::tokens::create,
        crate::tokens::revoke,
        crate::job_api::list,
        crate::job_api::retrieve,
        crate::job_api::retry,
        crate::permission_groups::list,
        crate::permission_groups::put,
        crate::permission_groups::delete,
        crate::permission_groups::add_member,
        crate::permission_groups::remove_member,
    ),
    components(schemas(ErrorBody, ErrorItem)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "incidents", description = "Incidents and everything that happens to them"),
        (name = "reference", description = "Environments, priorities, categories, groups, cost types"),
        (name = "vocabularies", description = "Role, key event, metric and impact types"),
        (name = "users", description = "People"),
        (name = "tokens", description = "API tokens (admins)"),
        (name = "jobs", description = "Background jobs: failures and retries (admins)"),
        (name = "permission groups", description = "Named permission sets their members hold (staff)"),
    ),
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The REST API's own paths; the composition root merges each integration's into it.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The served document, rendered once: JSON (pretty, with a final newline, the committed file's
/// form) and YAML. Registered as `web::Data<ApiDocument>` by the composition root.
#[derive(Debug, Clone)]
pub struct ApiDocument {
    json: String,
    yaml: String,
}

impl ApiDocument {
    /// Renders a document.
    #[must_use]
    pub fn new(document: &utoipa::openapi::OpenApi) -> Self {
        let mut json = document.to_pretty_json().unwrap_or_default();
        json.push('\n');
        Self { json, yaml: document.to_yaml().unwrap_or_default() }
    }

    /// Pretty JSON with a final newline.
    #[must_use]
    pub fn json(&self) -> &str {
        &self.json
    }

    /// YAML.
    #[must_use]
    pub fn yaml(&self) -> &str {
        &self.yaml
    }
}

/// `GET /schema`: the document, JSON (YAML with `?format=yaml`). Public, as in the original.
pub async fn schema(request: HttpRequest, document: Option<web::Data<ApiDocument>>) -> HttpResponse {
    let document = document
        .map_or_else(|| std::sync::Arc::new(ApiDocument::new(&ApiDoc::openapi())), web::Data::into_inner);
    let yaml = url::form_urlencoded::parse(request.query_string().as_bytes())
        .any(|(key, value)| key == "format" && value.eq_ignore_ascii_case("yaml"));
    if yaml {
        HttpResponse::Ok().content_type("application/yaml").body(document.yaml().to_owned())
    } else {
        HttpResponse::Ok().content_type("application/json").body(document.json().to_owned())
    }
}

/// `GET /schema/swagger-ui[/{file}]`: Swagger UI, from files compiled into the binary (no download),
/// reading the document from `../schema`.
pub async fn swagger_ui(request: HttpRequest) -> HttpResponse {
    let path = request.path();
    let (base, file) = match path.find("/swagger-ui") {
        Some(at) => path.split_at(at + "/swagger-ui".len()),
        None => return HttpResponse::NotFound().finish(),
    };
    let file = file.trim_start_matches('/');
    let schema_url = base.trim_end_matches("/swagger-ui");
    let config = std::sync::Arc::new(utoipa_swagger_ui::Config::from(schema_url));
    match utoipa_swagger_ui::serve(file, config) {
        Ok(Some(served)) => {
            let mut response = HttpResponse::Ok();
            response.content_type(served.content_type);
            if file.is_empty() || file == "index.html" {
                // The page links its files relatively; the server trims trailing slashes, so make
                // the links absolute.
                let page = String::from_utf8_lossy(&served.bytes).replace("\"./", &format!("\"{base}/"));
                response.body(page)
            } else {
                response.body(served.bytes.into_owned())
            }
        }
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(error) => {
            tracing::error!(%error, "Swagger UI could not be served");
            HttpResponse::InternalServerError().finish()
        }
    }
}
