//! Handlers for the money movements other areas react to: a contribution
//! (which may pay a pledge), its refunds and reversal, and a payout's
//! outcome (which may pay a request). Every one takes an `Idempotency-Key`.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::access::Caller;
use crate::http::idempotent::{self, FingerprintedJson, IdempotencyKey};
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::ids::{ContributionId, DisbursementId, EntryId, PoolId};
use crate::ledger::contributions::{Contribution, NewContribution, NewRefund};
use crate::ledger::holds::{Disbursement, DisbursementOutcome};
use crate::ledger::Entry;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReversal {
    pub reason: Option<String>,
}

/// Reverse a contribution entry recorded by mistake, with a new entry. An
/// entry is reversed at most once. Coordinators.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Entry id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = NewReversal,
    responses((status = 201, body = Entry), (status = 409, description = "`already_reversed` or `not_reversible`")),
    security(("bearer" = []))
)]
#[post("/entries/{id}/reversal")]
pub async fn reverse_entry(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<NewReversal>,
) -> ApiResult<HttpResponse> {
    let id = EntryId::from(path.into_inner().to_string());
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::CREATED,
        move |conn| super::reverse_entry(conn, &p, &id, body.value.reason),
    )
    .await
}

/// Record money received into a pool. The pool is credited the net of any
/// fee; a deficit is covered first. The external reference is unique per
/// pool, so a processor's retry cannot record the money twice.
#[utoipa::path(
    tag = "contributions",
    params(("id" = Uuid, Path, description = "Pool id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = NewContribution,
    responses((status = 201, body = Contribution), (status = 409, description = "`duplicate_contribution`")),
    security(("bearer" = []))
)]
#[post("/pools/{id}/contributions")]
pub async fn record_contribution(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<NewContribution>,
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
        move |conn| super::record_contribution(conn, &p, &id, body.value),
    )
    .await
}

/// Refund or charge back part or all of a contribution, up to its gross
/// amount (the processor keeps its fee; a chargeback may add a dispute
/// fee): the pool bears the fees. What is no longer available (already
/// held or paid out) becomes the pool's deficit.
#[utoipa::path(
    tag = "contributions",
    params(("id" = Uuid, Path, description = "Contribution id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = NewRefund,
    responses((status = 201, body = Contribution), (status = 409, description = "`refund_exceeds_contribution`")),
    security(("bearer" = []))
)]
#[post("/contributions/{id}/refunds")]
pub async fn refund_contribution(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<NewRefund>,
) -> ApiResult<HttpResponse> {
    let id = ContributionId::from(path.into_inner().to_string());
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::CREATED,
        move |conn| super::refund(conn, &p, &id, body.value),
    )
    .await
}

/// Record a payment's outcome, once: `paid` moves the money out of the
/// pool, `failed` returns it to the hold. Coordinators and payment partners
/// with `disbursements:write`.
#[utoipa::path(
    tag = "disbursements",
    params(("id" = Uuid, Path, description = "Disbursement id"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    request_body = DisbursementOutcome,
    responses((status = 200, body = Disbursement), (status = 409, description = "`disbursement_resolved`")),
    security(("bearer" = []))
)]
#[post("/disbursements/{id}/outcome")]
pub async fn record_disbursement_outcome(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    body: FingerprintedJson<DisbursementOutcome>,
) -> ApiResult<HttpResponse> {
    let id = DisbursementId::from(path.into_inner().to_string());
    let p = caller.0.clone();
    idempotent::run(
        &state,
        &req,
        caller,
        key,
        body.hash,
        StatusCode::OK,
        move |conn| super::resolve_manual(conn, &p, &id, body.value),
    )
    .await
}
