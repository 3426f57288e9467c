//! Liveness and readiness, at the original's paths and with its response shapes.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::AppState;

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
}

/// Readiness: one boolean per dependency. Redis and the queue join when they exist.
#[derive(Debug, Serialize)]
struct Readiness {
    status: &'static str,
    checks: Checks,
}

#[derive(Debug, Serialize)]
struct Checks {
    db: bool,
}

async fn database_is_up(state: &AppState) -> bool {
    let database = state.database.clone();
    let timeout = state.health_timeout;
    match web::block(move || database.ping(timeout)).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: database unavailable");
            false
        }
        Err(error) => {
            tracing::error!(%error, "health check could not run");
            false
        }
    }
}

/// `GET /monitoring/healthcheck`: 200 `{"status":"ok"}` when the database answers, else 503 `{"status":"fail"}`.
pub(super) async fn healthcheck(state: web::Data<AppState>) -> HttpResponse {
    if database_is_up(&state).await {
        HttpResponse::Ok().json(Health { status: "ok" })
    } else {
        HttpResponse::ServiceUnavailable().json(Health { status: "fail" })
    }
}

/// `GET /monitoring/readiness`: 200 when every dependency is up, else 503; the body says which failed.
pub(super) async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let checks = Checks { db: database_is_up(&state).await };
    if checks.db {
        HttpResponse::Ok().json(Readiness { status: "ok", checks })
    } else {
        HttpResponse::ServiceUnavailable().json(Readiness { status: "fail", checks })
    }
}
