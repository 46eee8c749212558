//! Handlers for the ledger: entries, contributions, holds, disbursements.
//! Every money-moving POST takes an `Idempotency-Key`. Recording a
//! contribution, its refunds and reversal, and a payout's outcome are in
//! `crate::flows`: other areas react to them.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use super::contributions::{self, Contribution};
use super::holds::{self, Disbursement, Hold, NewDisbursement, NewHold, ReleaseHold, SplitHold};
use super::Entry;
use crate::auth::access::{Caller, Principal};
use crate::auth::policy::Permission;
use crate::http::idempotent::{self, FingerprintedJson, IdempotencyKey};
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::ids::{ContributionId, DisbursementId, HoldId, PoolId};
use crate::pagination::{Page, PageQuery};

/// A pool's journal entries with their postings, oldest first. No personal
/// data: entries point at contributions, holds and disbursements by id.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Pool id"), PageQuery),
    responses((status = 200, body = Page<Entry>)),
    security(("bearer" = []))
)]
#[get("/pools/{id}/entries")]
pub async fn list_entries(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Entry>>> {
    let id = PoolId::from(path.into_inner().to_string());
    let page = query.check()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                let (_, pool) = crate::pools::service::load_authorized(
                    conn,
                    &principal,
                    id.as_str(),
                    Permission::ReadLedger,
                )?;
                super::entries(conn, &pool, &page)
            })
            .await?,
    ))
}

/// A pool's contributions, with contributor details. Coordinators and
/// payment partners.
#[utoipa::path(
    tag = "contributions",
    params(("id" = Uuid, Path, description = "Pool id"), PageQuery),
    responses((status = 200, body = Page<Contribution>)),
    security(("bearer" = []))
)]
#[get("/pools/{id}/contributions")]
pub async fn list_contributions(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Contribution>>> {
    let id = PoolId::from(path.into_inner().to_string());
    let page = query.check()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| contributions::list(conn, &principal, &id, &page))
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MyContributionsQuery {
    /// The collective whose contributions to list.
    pub collective_id: Uuid,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Your own contributions in a collective, in every pool, oldest first,
/// with the pledge each one fulfils.
#[utoipa::path(
    tag = "contributions",
    params(MyContributionsQuery),
    responses((status = 200, body = Page<Contribution>)),
    security(("bearer" = []))
)]
#[get("/me/contributions")]
pub async fn my_contributions(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::extract::Query<MyContributionsQuery>,
) -> ApiResult<web::Json<Page<Contribution>>> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .check()?;
    let collective_id = query.collective_id.to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| contributions::list_mine(conn, &principal, &collective_id, &page))
            .await?,
    ))
}

/// One contribution.
#[utoipa::path(
    tag = "contributions",
    params(("id" = Uuid, Path, description = "Contribution id")),
    responses((status = 200, body = Contribution)),
    security(("bearer" = []))
)]
#[get("/contributions/{id}")]
pub async fn get_contribution(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Contribution>> {
    let id = ContributionId::from(path.into_inner().to_string());
    Ok(web::Json(
        state
            .db
            .run(move |conn| contributions::get(conn, &principal, &id))
            .await?,
    ))
}

/// Reserve money in a pool by hand. 409 `insufficient_funds` (with the
/// available amount) when short, `pool_in_deficit` while it owes.
#[utoipa::path(
    tag = "holds",
    params(("id" = Uuid, Path, description = "Pool id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = NewHold,
    responses((status = 201, body = Hold), (status = 409, description = "`insufficient_funds` or `pool_in_deficit`")),
    security(("bearer" = []))
)]
#[post("/pools/{id}/holds")]
pub async fn place_hold(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<NewHold>,
) -> ApiResult<HttpResponse> {
    let id = PoolId::from(path.into_inner().to_string());
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::CREATED,
        move |conn| holds::place_manual(conn, &p, &id, body.value),
    )
    .await
}

/// A pool's holds.
#[utoipa::path(
    tag = "holds",
    params(("id" = Uuid, Path, description = "Pool id"), PageQuery),
    responses((status = 200, body = Page<Hold>)),
    security(("bearer" = []))
)]
#[get("/pools/{id}/holds")]
pub async fn list_holds(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Hold>>> {
    let id = PoolId::from(path.into_inner().to_string());
    let page = query.check()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| holds::list_holds(conn, &principal, &id, &page))
            .await?,
    ))
}

/// One hold.
#[utoipa::path(
    tag = "holds",
    params(("id" = Uuid, Path, description = "Hold id")),
    responses((status = 200, body = Hold)),
    security(("bearer" = []))
)]
#[get("/holds/{id}")]
pub async fn get_hold(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Hold>> {
    let id = HoldId::from(path.into_inner().to_string());
    Ok(web::Json(
        state
            .db
            .run(move |conn| holds::get_hold(conn, &principal, &id))
            .await?,
    ))
}

/// Split part of a hold into smaller holds.
#[utoipa::path(
    tag = "holds",
    params(("id" = Uuid, Path, description = "Hold id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = SplitHold,
    responses((status = 201, body = Vec<Hold>), (status = 409, description = "`hold_exceeded`")),
    security(("bearer" = []))
)]
#[post("/holds/{id}/split")]
pub async fn split_hold(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<SplitHold>,
) -> ApiResult<HttpResponse> {
    let id = HoldId::from(path.into_inner().to_string());
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::CREATED,
        move |conn| holds::split_manual(conn, &p, &id, body.value),
    )
    .await
}

/// Release part or all of what remains of a hold back to the pool: it
/// covers the pool's deficit first, and the rest becomes available.
#[utoipa::path(
    tag = "holds",
    params(("id" = Uuid, Path, description = "Hold id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = ReleaseHold,
    responses((status = 200, body = Hold), (status = 409, description = "`hold_exceeded`")),
    security(("bearer" = []))
)]
#[post("/holds/{id}/release")]
pub async fn release_hold(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<ReleaseHold>,
) -> ApiResult<HttpResponse> {
    let id = HoldId::from(path.into_inner().to_string());
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::OK,
        move |conn| holds::release_manual(conn, &p, &id, body.value),
    )
    .await
}

/// Start a payment against a hold. Pending payments draw on the hold, so
/// together they never exceed it.
#[utoipa::path(
    tag = "disbursements",
    params(("id" = Uuid, Path, description = "Hold id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = NewDisbursement,
    responses((status = 201, body = Disbursement), (status = 409, description = "`hold_exceeded`")),
    security(("bearer" = []))
)]
#[post("/holds/{id}/disbursements")]
pub async fn create_disbursement(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<NewDisbursement>,
) -> ApiResult<HttpResponse> {
    let id = HoldId::from(path.into_inner().to_string());
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::CREATED,
        move |conn| holds::disburse_manual(conn, &p, &id, body.value),
    )
    .await
}

/// The disbursements of a hold.
#[utoipa::path(
    tag = "disbursements",
    params(("id" = Uuid, Path, description = "Hold id"), PageQuery),
    responses((status = 200, body = Page<Disbursement>)),
    security(("bearer" = []))
)]
#[get("/holds/{id}/disbursements")]
pub async fn list_disbursements(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Disbursement>>> {
    let id = HoldId::from(path.into_inner().to_string());
    let page = query.check()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| holds::list_disbursements(conn, &principal, &id, &page))
            .await?,
    ))
}

/// One disbursement.
#[utoipa::path(
    tag = "disbursements",
    params(("id" = Uuid, Path, description = "Disbursement id")),
    responses((status = 200, body = Disbursement)),
    security(("bearer" = []))
)]
#[get("/disbursements/{id}")]
pub async fn get_disbursement(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Disbursement>> {
    let id = DisbursementId::from(path.into_inner().to_string());
    Ok(web::Json(
        state
            .db
            .run(move |conn| holds::get_disbursement(conn, &principal, &id))
            .await?,
    ))
}
