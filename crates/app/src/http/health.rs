//! Liveness and readiness, at the original's paths and with its response shapes.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;

/// The monitoring paths' OpenAPI document (merged into the served one).
#[derive(OpenApi)]
#[openapi(
    paths(healthcheck, readiness),
    tags((name = "monitoring", description = "Liveness and readiness, for load balancers and orchestrators (no token)")),
)]
pub struct MonitoringDoc;

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// `ok`, or `fail` when the database does not answer.
    status: &'static str,
}

/// Readiness: one boolean per dependency; `queue` and `redis` only when configured.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "degraded", "checks": {"db": true, "queue": false, "redis": true, "slack": true}}))]
pub struct Readiness {
    /// `ok`; `degraded` when only the broker, Redis or an integration is down (the server keeps
    /// serving); `fail` without the database.
    status: &'static str,
    checks: Checks,
}

/// One boolean per dependency, and one per integration check (by its name, e.g. `slack`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    db: bool,
    /// RabbitMQ, when `AMQP_URL` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<bool>,
    /// Redis, when `REDIS_URL` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<bool>,
    /// The integrations' checks, by name.
    #[serde(flatten)]
    integrations: std::collections::BTreeMap<String, bool>,
}

impl Checks {
    /// Everything the server serves with is up.
    fn all_up(&self) -> bool {
        self.db
            && self.queue != Some(false)
            && self.redis != Some(false)
            && self.integrations.values().all(|up| *up)
    }
}

async fn integrations_are_up(state: &AppState) -> std::collections::BTreeMap<String, bool> {
    let checks = state.checks.iter().map(|check| {
        let (name, run, timeout) = (check.name.clone(), (check.check)(), state.health_timeout);
        async move {
            let up = match tokio::time::timeout(timeout, run).await {
                Ok(Ok(())) => true,
                Ok(Err(error)) => {
                    tracing::warn!(check = %name, %error, "readiness: an integration check failed");
                    false
                }
                Err(_) => {
                    tracing::warn!(check = %name, "readiness: an integration check timed out");
                    false
                }
            };
            (name, up)
        }
    });
    futures_util::future::join_all(checks).await.into_iter().collect()
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
#[utoipa::path(get, path = "/monitoring/healthcheck", tag = "monitoring", security(()),
    responses(
        (status = 200, description = "The server and its database answer", body = Health, example = json!({"status": "ok"})),
        (status = 503, description = "The database does not answer", body = Health, example = json!({"status": "fail"})),
    ))]
pub(super) async fn healthcheck(state: web::Data<AppState>) -> HttpResponse {
    if database_is_up(&state).await {
        HttpResponse::Ok().json(Health { status: "ok" })
    } else {
        HttpResponse::ServiceUnavailable().json(Health { status: "fail" })
    }
}

async fn queue_is_up(state: &AppState) -> Option<bool> {
    let settings = state.queue.as_ref()?;
    match amqp_transport::ping(settings, state.health_timeout).await {
        Ok(()) => Some(true),
        Err(error) => {
            tracing::warn!(%error, "readiness: the broker is unavailable");
            Some(false)
        }
    }
}

async fn redis_is_up(state: &AppState) -> Option<bool> {
    let cache = state.cache.as_ref()?;
    match cache.ping().await {
        Ok(()) => Some(true),
        Err(error) => {
            tracing::warn!(%error, "readiness: Redis is unavailable");
            Some(false)
        }
    }
}

/// `GET /monitoring/readiness`: one boolean per dependency. 503 `fail` without the database; 200
/// `degraded` when only the broker, Redis or an integration's check is down, because the server keeps
/// serving (side effects wait in the outbox; the cache misses); else 200 `ok`.
#[utoipa::path(get, path = "/monitoring/readiness", tag = "monitoring", security(()),
    responses(
        (status = 200, description = "Serving: `ok`, or `degraded` when only the broker, Redis or an integration is down", body = Readiness,
            example = json!({"status": "ok", "checks": {"db": true, "slack": true}})),
        (status = 503, description = "The database does not answer", body = Readiness,
            example = json!({"status": "fail", "checks": {"db": false}})),
    ))]
pub(super) async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let (db, queue, redis, integrations) = tokio::join!(
        database_is_up(&state),
        queue_is_up(&state),
        redis_is_up(&state),
        integrations_are_up(&state)
    );
    let checks = Checks { db, queue, redis, integrations };
    if !checks.db {
        HttpResponse::ServiceUnavailable().json(Readiness { status: "fail", checks })
    } else if checks.all_up() {
        HttpResponse::Ok().json(Readiness { status: "ok", checks })
    } else {
        HttpResponse::Ok().json(Readiness { status: "degraded", checks })
    }
}
