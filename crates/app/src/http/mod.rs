//! The HTTP shell: routes, middleware (request ids, security headers, path normalisation) and the
//! server itself. Handlers translate HTTP to calls on the domain and storage; they decide nothing.

pub(crate) mod health;
mod request_id;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders, NormalizePath, TrailingSlash, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use http_api::ApiState;
use http_api::openapi::ApiDocument;
use platform::{Context, Integration, ReadinessCheck};
use storage::Database;

pub use request_id::REQUEST_ID_HEADER;

/// The prefix of every API path, kept from the original so existing clients work unchanged.
pub const API_PREFIX: &str = "/api/v2/firefighter";

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub database: Database,
    pub health_timeout: Duration,
    /// The broker, in scaled mode: readiness reports it.
    pub queue: Option<amqp_transport::Settings>,
    /// The shared cache (Redis), when configured: readiness reports it.
    pub cache: Option<Arc<dyn cache::Cache>>,
    /// The integrations' readiness checks.
    pub checks: Vec<ReadinessCheck>,
}

/// What the integrations mount: their routes (with the context they are built from) and the merged
/// OpenAPI document.
#[derive(Clone)]
pub struct Mounted {
    pub context: Context,
    pub integrations: Vec<Arc<dyn Integration>>,
    pub document: ApiDocument,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounted").field("integrations", &self.integrations.len()).finish_non_exhaustive()
    }
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Grace period for in-flight requests on SIGTERM / SIGINT.
    pub shutdown_timeout: Duration,
    /// Worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// Browser origins allowed to call the API; empty: CORS is off.
    pub cors_allowed_origins: Vec<String>,
}

/// Registers every route: each integration's under its own scope (first: a scope inside the API's
/// must be tried before the API's own), then the REST API and the health endpoints. Public so a
/// private deployment can mount the same routes in its own app (with `web::Data<AppState>`,
/// `web::Data<ApiState<Database>>` and `web::Data<ApiDocument>` registered).
pub fn configure(config: &mut web::ServiceConfig, mounted: &Mounted) {
    for integration in &mounted.integrations {
        if let Some(scope) = integration.http_scope() {
            let (integration, context) = (Arc::clone(integration), mounted.context.clone());
            config.service(web::scope(scope).configure(move |routes| integration.routes(&context, routes)));
        }
    }
    config.service(
        web::scope(API_PREFIX).configure(http_api::configure::<Database>).service(
            web::scope("/monitoring")
                .service(
                    web::resource("/healthcheck")
                        .route(web::get().to(health::healthcheck))
                        .route(web::head().to(health::healthcheck))
                        .default_service(web::to(method_not_allowed)),
                )
                .service(
                    web::resource("/readiness")
                        .route(web::get().to(health::readiness))
                        .route(web::head().to(health::readiness))
                        .default_service(web::to(method_not_allowed)),
                ),
        ),
    );
    for integration in &mounted.integrations {
        let (integration, context) = (Arc::clone(integration), mounted.context.clone());
        config.configure(move |routes| integration.site_routes(&context, routes));
    }
}

/// Builds the server on an already bound listener (port 0 in tests).
///
/// # Errors
/// When the listener cannot be used.
pub fn build_server(
    state: AppState,
    api: ApiState<Database>,
    mounted: Mounted,
    listener: TcpListener,
    options: ServerOptions,
) -> std::io::Result<Server> {
    let state = web::Data::from(Arc::new(state));
    let api = web::Data::from(Arc::new(api));
    let document = web::Data::new(mounted.document.clone());
    let origins = options.cors_allowed_origins;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(api.clone())
            .app_data(document.clone())
            // Bodies beyond 1 MiB are refused with 413 before any handler runs.
            .app_data(web::PayloadConfig::new(1024 * 1024))
            .wrap(NormalizePath::new(TrailingSlash::Trim))
            .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
            .wrap(security_headers())
            .wrap(from_fn(request_id::request_id))
            .configure(|routes| configure(routes, &mounted))
            .default_service(web::to(not_found))
    })
    // Signals are ours (see `Application::run_until_stopped`): actix would stop abruptly on SIGINT.
    .disable_signals()
    .shutdown_timeout(options.shutdown_timeout.as_secs())
    .listen(listener)?;
    if let Some(workers) = options.workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// CORS for the configured origins: the API's methods, the headers clients send, and the paging,
/// caching and throttling headers they may read.
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "HEAD", "POST", "PUT", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_NONE_MATCH, header::ACCEPT])
        .expose_headers([
            header::LINK,
            header::ETAG,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-total-count"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(3600)
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "same-origin"))
}

/// Pages that do not exist: the original's JSON error shape, or an HTML page for a browser asking
/// for a page outside the API.
async fn not_found(request: actix_web::HttpRequest) -> HttpResponse {
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && !request.path().starts_with(API_PREFIX) {
        return HttpResponse::NotFound().content_type("text/html; charset=utf-8").body(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title></head>\
             <body><main><h1>Not found</h1><p>This page does not exist.</p><p><a href=\"/\">Back to the \
             dashboard</a></p></main></body></html>",
        );
    }
    HttpResponse::NotFound()
        .json(serde_json::json!({"error": {"app_code": "NOT_FOUND", "message": "Page not found"}}))
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed().insert_header((header::ALLOW, "GET, HEAD")).json(
        serde_json::json!({"error": {"app_code": "METHOD_NOT_ALLOWED", "message": "Method not allowed"}}),
    )
}
