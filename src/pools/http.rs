//! Handlers for pools.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpResponse};
use uuid::Uuid;

use super::*;
use crate::auth::access::Principal;
use crate::http::extract::{with_etag, IfMatch, Json};
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::pagination::{Page, PageQuery};

/// Create a pool in a collective. Coordinators.
#[utoipa::path(
    tag = "pools",
    params(("id" = Uuid, Path, description = "Collective id")),
    request_body = NewPool,
    responses((status = 201, body = Pool)),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/pools")]
pub async fn create_pool(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewPool>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let pool = state
        .db
        .run(move |conn| service::create(conn, &principal, &id, body.0))
        .await?;
    let version = pool.version;
    Ok(with_etag(StatusCode::CREATED, &pool, version))
}

/// The pools of a collective, with their balances.
#[utoipa::path(
    tag = "pools",
    params(("id" = Uuid, Path, description = "Collective id"), PageQuery),
    responses((status = 200, body = Page<Pool>)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/pools")]
pub async fn list_pools(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Pool>>> {
    let id = path.into_inner().to_string();
    let page = query.check()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list(conn, &principal, &id, &page))
            .await?,
    ))
}

/// One pool and its balances (derived from the ledger).
#[utoipa::path(
    tag = "pools",
    params(("id" = Uuid, Path, description = "Pool id")),
    responses((status = 200, body = Pool)),
    security(("bearer" = []))
)]
#[get("/pools/{id}")]
pub async fn get_pool(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let pool = state
        .db
        .run(move |conn| service::get(conn, &principal, &id))
        .await?;
    let version = pool.version;
    Ok(with_etag(StatusCode::OK, &pool, version))
}

/// Change a pool's name, description, goal, rules or visibility. The
/// currency is fixed. Coordinators.
#[utoipa::path(
    tag = "pools",
    params(("id" = Uuid, Path, description = "Pool id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read; 412 if it changed since")),
    request_body = PoolPatch,
    responses((status = 200, body = Pool), (status = 412, description = "Changed since read")),
    security(("bearer" = []))
)]
#[patch("/pools/{id}")]
pub async fn update_pool(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<PoolPatch>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let pool = state
        .db
        .run(move |conn| service::update(conn, &principal, &id, body.0, if_match.as_deref()))
        .await?;
    let version = pool.version;
    Ok(with_etag(StatusCode::OK, &pool, version))
}
