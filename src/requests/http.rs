//! Handlers for aid requests: intake, the queue, the workflow, payments and
//! comments. Changes take `If-Match`; those that move money take an
//! `Idempotency-Key` too.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::service::{self, Query};
use super::*;
use crate::auth::access::{Caller, Principal};
use crate::http::extract::{with_etag, IfMatch, Json, JsonOrEmpty};
use crate::http::idempotent::{self, FingerprintedJson, IdempotencyKey};
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::ledger::holds::{Disbursement, NewDisbursement};
use crate::pagination::{Page, PageQuery};

fn etagged(request: AidRequest) -> HttpResponse {
    let version = request.version;
    with_etag(StatusCode::OK, &request, version)
}

/// Ask a pool for help: for oneself (members, if the pool allows), or on
/// someone's behalf (coordinators, intake apps with `requests:write`).
/// Submitted at once unless `draft` is true.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Pool id")),
    request_body = NewRequest,
    responses((status = 201, body = AidRequest)),
    security(("bearer" = []))
)]
#[post("/pools/{id}/requests")]
pub async fn create_request(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewRequest>,
) -> ApiResult<HttpResponse> {
    let pool = path.into_inner().to_string();
    let request = state
        .db
        .run(move |conn| service::create(conn, &principal, &pool, body.0))
        .await?;
    let version = request.version;
    Ok(with_etag(StatusCode::CREATED, &request, version))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// One state or several, comma-separated (e.g. `submitted,in_review`).
    pub state: Option<String>,
    pub pool_id: Option<Uuid>,
    pub category: Option<String>,
    pub urgency: Option<Urgency>,
    /// The owning coordinator's user id, or `me`.
    pub owner: Option<String>,
    /// Only requests needed on or before this date.
    pub needed_before: Option<NaiveDate>,
    /// Only requests changed at or after this time (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// Only in-review requests the caller may still approve.
    pub awaiting_my_approval: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The collective's requests, filtered. Members see public fields (and
/// their own requests in full); coordinators see everything.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Collective id"), QueueQuery),
    responses((status = 200, body = Page<AidRequest>)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/requests")]
pub async fn list_requests(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<QueueQuery>,
) -> ApiResult<web::Json<Page<AidRequest>>> {
    let collective = path.into_inner().to_string();
    let q = query.into_inner();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .check()?;
    let mut states = Vec::new();
    for name in q
        .state
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        states.push(State::parse(name).ok_or_else(|| {
            crate::error::Error::invalid("state", format!("{name:?} is not a request state"))
        })?);
    }
    let query = Query {
        states,
        pool_id: q.pool_id.map(|p| p.to_string()),
        category: q.category,
        urgency: q.urgency,
        owner: q.owner,
        needed_by_before: q.needed_before,
        updated_since: q.updated_since.map(|t| t.naive_utc()),
        awaiting_my_approval: q.awaiting_my_approval.unwrap_or(false),
        mine: false,
        unowned: false,
    };
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list(conn, &principal, &collective, query, &page))
            .await?,
    ))
}

/// How many requests are in each state, for a dashboard. Coordinators.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Collective id")),
    responses((status = 200, body = StateCounts)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/requests/counts")]
pub async fn count_requests(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<StateCounts>> {
    let collective = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::counts(conn, &principal, &collective))
            .await?,
    ))
}

/// One request; `private` only for the requester, coordinators and apps
/// with `requests:read_private`.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id")),
    responses((status = 200, body = AidRequest)),
    security(("bearer" = []))
)]
#[get("/requests/{id}")]
pub async fn get_request(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    Ok(etagged(
        state
            .db
            .run(move |conn| service::get(conn, &principal, &id))
            .await?,
    ))
}

/// The requester edits a draft or amends a submitted request (which clears
/// the approvals given so far).
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read; 412 if it changed since")),
    request_body = RequestPatch,
    responses((status = 200, body = AidRequest)),
    security(("bearer" = []))
)]
#[patch("/requests/{id}")]
pub async fn amend_request(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<RequestPatch>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    Ok(etagged(
        state
            .db
            .run(move |conn| service::amend(conn, &principal, &id, body.0, if_match.as_deref()))
            .await?,
    ))
}

/// Submit a draft.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read")),
    responses((status = 200, body = AidRequest)),
    security(("bearer" = []))
)]
#[post("/requests/{id}/submission")]
pub async fn submit_request(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    Ok(etagged(
        state
            .db
            .run(move |conn| service::submit(conn, &principal, &id, if_match.as_deref()))
            .await?,
    ))
}

/// A coordinator takes the request into review and owns it (409
/// `already_owned` if another does); an admin may assign it to another
/// coordinator.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read")),
    request_body(content = TakeOwnership, description = "Optional; empty to take it yourself"),
    responses((status = 200, body = AidRequest), (status = 409, description = "`already_owned`")),
    security(("bearer" = []))
)]
#[post("/requests/{id}/review")]
pub async fn review_request(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: JsonOrEmpty<TakeOwnership>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    Ok(etagged(
        state
            .db
            .run(move |conn| service::take(conn, &principal, &id, body.0, if_match.as_deref()))
            .await?,
    ))
}

/// Approve (possibly for less). The final approval places the hold; 409
/// `insufficient_funds` if the pool is short (earlier approvals stay).
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body(content = NewApproval, description = "Optional; empty to approve the amount asked"),
    responses((status = 200, body = AidRequest),
              (status = 403, description = "`own_request` or `conflict_of_interest`"),
              (status = 409, description = "`already_approved`, `insufficient_funds` or `invalid_transition`")),
    security(("bearer" = []))
)]
#[post("/requests/{id}/approvals")]
pub async fn approve_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: FingerprintedJson<NewApproval>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::OK,
        move |conn| service::approve(conn, &p, &id, body.value, if_match.as_deref()),
    )
    .await
}

/// Reject, with a reason the requester sees.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read")),
    request_body = Reason,
    responses((status = 200, body = AidRequest)),
    security(("bearer" = []))
)]
#[post("/requests/{id}/rejection")]
pub async fn reject_request(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<Reason>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    Ok(etagged(
        state
            .db
            .run(move |conn| service::reject(conn, &principal, &id, body.0, if_match.as_deref()))
            .await?,
    ))
}

/// The requester withdraws it, before any payment (releasing its hold).
/// An optional `reason` is kept for coordinators, who read it in the
/// request's private fields.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body(content = OptionalReason, description = "Optional; `reason` at most 2000 characters"),
    responses((status = 200, body = AidRequest), (status = 409, description = "`payment_pending` or `invalid_transition`")),
    security(("bearer" = []))
)]
#[post("/requests/{id}/withdrawal")]
pub async fn withdraw_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: FingerprintedJson<OptionalReason>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::OK,
        move |conn| service::withdraw(conn, &p, &id, body.value, if_match.as_deref()),
    )
    .await
}

/// Coordinators cancel it, releasing what is left of its hold.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body(content = OptionalReason, description = "Optional"),
    responses((status = 200, body = AidRequest), (status = 409, description = "`payment_pending` or `invalid_transition`")),
    security(("bearer" = []))
)]
#[post("/requests/{id}/cancellation")]
pub async fn cancel_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: FingerprintedJson<OptionalReason>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::OK,
        move |conn| service::cancel(conn, &p, &id, body.value, if_match.as_deref()),
    )
    .await
}

/// A coordinator declares a conflict of interest: they are excluded from
/// deciding this request (an approval they gave no longer counts).
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id")),
    request_body(content = OptionalReason, description = "Optional"),
    responses((status = 200, body = AidRequest)),
    security(("bearer" = []))
)]
#[post("/requests/{id}/conflicts")]
pub async fn declare_conflict(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: JsonOrEmpty<OptionalReason>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    Ok(etagged(
        state
            .db
            .run(move |conn| service::declare_conflict(conn, &principal, &id, body.0))
            .await?,
    ))
}

/// Pay part or all of an approved request from its hold. The outcome is
/// recorded at `POST /disbursements/{id}/outcome`.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = NewDisbursement,
    responses((status = 201, body = Disbursement), (status = 409, description = "`hold_exceeded` or `invalid_transition`")),
    security(("bearer" = []))
)]
#[post("/requests/{id}/disbursements")]
pub async fn pay_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<NewDisbursement>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::CREATED,
        move |conn| service::disburse(conn, &p, &id, body.value),
    )
    .await
}

/// The payments of a request. The requester and coordinators.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id")),
    responses((status = 200, body = Vec<Disbursement>)),
    security(("bearer" = []))
)]
#[get("/requests/{id}/disbursements")]
pub async fn list_request_disbursements(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<Disbursement>>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list_disbursements(conn, &principal, &id))
            .await?,
    ))
}

/// Add a comment: coordinators write internal notes or messages to the
/// requester; the requester writes messages.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id")),
    request_body = NewComment,
    responses((status = 201, body = Comment), (status = 409, description = "`request_redacted`")),
    security(("bearer" = []))
)]
#[post("/requests/{id}/comments")]
pub async fn add_comment(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewComment>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let comment = state
        .db
        .run(move |conn| service::comment(conn, &principal, &id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(comment))
}

/// The comments the caller may read: coordinators all, the requester only
/// the messages meant for them.
#[utoipa::path(
    tag = "requests",
    params(("id" = Uuid, Path, description = "Request id"), PageQuery),
    responses((status = 200, body = Page<Comment>)),
    security(("bearer" = []))
)]
#[get("/requests/{id}/comments")]
pub async fn list_comments(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Comment>>> {
    let id = path.into_inner().to_string();
    let page = query.check()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::comments(conn, &principal, &id, &page))
            .await?,
    ))
}
