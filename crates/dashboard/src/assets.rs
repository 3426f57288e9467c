//! The front-end assets, embedded in the binary: htmx and Pico (vendored from the npm registry, see
//! `assets/VENDORED.md`) and the dashboard's own stylesheet, served under `/static/<version>/` and
//! cached for a year (a new version is a new path). Also `/robots.txt`: the dashboard is not for
//! search engines.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const HTMX: &[u8] = include_bytes!("../assets/htmx.min.js");
const PICO: &[u8] = include_bytes!("../assets/pico.min.css");
const DASHBOARD_CSS: &[u8] = include_bytes!("../assets/dashboard.css");

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes
        .service(web::resource("/robots.txt").route(web::get().to(robots)))
        .service(web::resource("/static/{version}/{file}").route(web::get().to(asset)));
}

async fn robots() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("User-agent: *\nDisallow: /\n")
}

async fn asset(path: web::Path<(String, String)>) -> HttpResponse {
    let (version, file) = path.into_inner();
    let (body, content_type) = match file.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "pico.min.css" => (PICO, "text/css; charset=utf-8"),
        "dashboard.css" => (DASHBOARD_CSS, "text/css; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    let cache =
        if version == env!("CARGO_PKG_VERSION") { "public, max-age=31536000, immutable" } else { "no-cache" };
    HttpResponse::Ok().content_type(content_type).insert_header((header::CACHE_CONTROL, cache)).body(body)
}
