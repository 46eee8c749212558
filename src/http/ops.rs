//! Operations endpoints: liveness, readiness, metrics, and the API document.

use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::metrics::Metrics;
use super::problem::{ApiResult, Problem, ProblemDocument, STORAGE_FULL_RETRY_AFTER};
use super::AppState;
use crate::db::NotReady;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the process serves requests.
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` when the database answers.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

/// Liveness: the process is up. Never touches the database.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// How long `/readyz` waits for the database before saying it does not
/// answer: well under a load balancer's probe timeout.
pub const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers a query within 2 s, and its storage is
/// not known to be full.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "Not ready: `database_unreachable` (the database does not answer within 2 s) or `storage_full` (a write failed for lack of space within the last 30 s, or SQLite is at its page limit); `Retry-After` says when to ask again", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<web::Json<Readiness>> {
    let database = state.db.backend();
    match state.db.ready(READY_TIMEOUT).await {
        Ok(()) => Ok(web::Json(Readiness {
            status: "ready",
            database,
        })),
        Err(NotReady::Unreachable) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unreachable",
            "the database does not answer",
        )
        .with_header(header::RETRY_AFTER, "1")),
        Err(NotReady::StorageFull) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_full",
            "the database's storage is full: writes fail until space is freed",
        )
        .with_header(header::RETRY_AFTER, STORAGE_FULL_RETRY_AFTER)),
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render(state.db.pool_state()))
}
