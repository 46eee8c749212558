//! Handlers for pledges. Pledges move no money, so their writes take no
//! `Idempotency-Key`; changes take `If-Match`.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::*;
use crate::auth::access::Principal;
use crate::http::extract::{with_etag, IfMatch, Json};
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::pagination::{Page, PageQuery};

/// Make a pledge to a pool: for yourself (members), or on behalf of a
/// member or an outside donor (coordinators). Pledged money is not in the
/// pool's balances until it is received as a contribution with `pledge_id`.
#[utoipa::path(
    tag = "pledges",
    params(("id" = Uuid, Path, description = "Pool id")),
    request_body = NewPledge,
    responses((status = 201, body = Pledge, headers(("ETag" = String, description = "The version")))),
    security(("bearer" = []))
)]
#[post("/pools/{id}/pledges")]
pub async fn create_pledge(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewPledge>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let grace = state.settings.pledge_grace_days;
    let pledge = state
        .db
        .run(move |conn| service::create(conn, &principal, &id, body.0, grace))
        .await?;
    let version = pledge.version;
    Ok(with_etag(StatusCode::CREATED, &pledge, version))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PledgeQuery {
    /// Only pledges with this status today.
    pub status: Option<PledgeStatus>,
    /// Only this member's pledges (a membership id).
    pub member_id: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A pool's pledges, oldest first. Coordinators, and payment partners with
/// `contributions:write` (to apply contributions to them).
#[utoipa::path(
    tag = "pledges",
    params(("id" = Uuid, Path, description = "Pool id"), PledgeQuery),
    responses((status = 200, body = Page<Pledge>)),
    security(("bearer" = []))
)]
#[get("/pools/{id}/pledges")]
pub async fn list_pledges(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PledgeQuery>,
) -> ApiResult<web::Json<Page<Pledge>>> {
    let id = path.into_inner().to_string();
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .check()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                service::list_for_pool(conn, &principal, &id, query.status, query.member_id, &page)
            })
            .await?,
    ))
}

/// A pool's pledges in figures today: outstanding, due this month, overdue,
/// the fulfilment rate, and how many pledges are in each status.
#[utoipa::path(
    tag = "pledges",
    params(("id" = Uuid, Path, description = "Pool id")),
    responses((status = 200, body = PledgeReport)),
    security(("bearer" = []))
)]
#[get("/pools/{id}/pledges/report")]
pub async fn pledge_report(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<PledgeReport>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| report::report(conn, &principal, &id))
            .await?,
    ))
}

/// One pledge with its installments. Its pledger, coordinators, and payment
/// partners with `contributions:write`; other members' pledges are not found.
#[utoipa::path(
    tag = "pledges",
    params(("id" = Uuid, Path, description = "Pledge id")),
    responses((status = 200, body = Pledge, headers(("ETag" = String, description = "The version")))),
    security(("bearer" = []))
)]
#[get("/pledges/{id}")]
pub async fn get_pledge(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let pledge = state
        .db
        .run(move |conn| service::get(conn, &principal, &id))
        .await?;
    let version = pledge.version;
    Ok(with_etag(StatusCode::OK, &pledge, version))
}

/// Pause, resume (`active`) or cancel a pledge. Its pledger or
/// coordinators. 409 `pledge_closed` once fulfilled or cancelled,
/// `pledge_lapsed` to pause or resume a lapsed pledge (pay what is overdue
/// instead).
#[utoipa::path(
    tag = "pledges",
    params(("id" = Uuid, Path, description = "Pledge id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read; 412 if it changed since")),
    request_body = PledgePatch,
    responses((status = 200, body = Pledge),
              (status = 409, description = "`pledge_closed` or `pledge_lapsed`"),
              (status = 412, description = "Changed since read")),
    security(("bearer" = []))
)]
#[patch("/pledges/{id}")]
pub async fn update_pledge(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<PledgePatch>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let pledge = state
        .db
        .run(move |conn| service::update(conn, &principal, &id, body.0, if_match.as_deref()))
        .await?;
    let version = pledge.version;
    Ok(with_etag(StatusCode::OK, &pledge, version))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MyPledgesQuery {
    /// The collective whose pledges to list.
    pub collective_id: Uuid,
    /// Only pledges with this status today.
    pub status: Option<PledgeStatus>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Your own pledges in a collective, with what is due now and next.
#[utoipa::path(
    tag = "pledges",
    params(MyPledgesQuery),
    responses((status = 200, body = Page<Pledge>)),
    security(("bearer" = []))
)]
#[get("/me/pledges")]
pub async fn my_pledges(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::extract::Query<MyPledgesQuery>,
) -> ApiResult<web::Json<Page<Pledge>>> {
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
            .run(move |conn| {
                service::list_mine(conn, &principal, &collective_id, query.status, &page)
            })
            .await?,
    ))
}
