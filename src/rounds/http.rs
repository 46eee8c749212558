//! Handlers for budgeting rounds, ballots and results. Changes take
//! `If-Match`; those that move money (open, cancel, enact) take an
//! `Idempotency-Key` too.

use actix_web::http::StatusCode;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::*;
use crate::auth::access::{Caller, Principal};
use crate::db::DbConnection;
use crate::http::extract::{with_etag, IfMatch, Json};
use crate::http::idempotent::{self, FingerprintedJson, IdempotencyKey};
use crate::http::problem::ApiResult;
use crate::http::AppState;

fn etagged(round: Round) -> HttpResponse {
    let version = round.version;
    with_etag(StatusCode::OK, &round, version)
}

/// An empty body for the money-moving steps; retries send the same.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

/// A step of a round that moves money (open, enact, cancel), run once per
/// `Idempotency-Key`.
#[allow(clippy::too_many_arguments)]
async fn money_step(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: FingerprintedJson<NoBody>,
    step: fn(&mut DbConnection, &Principal, &str, Option<&str>) -> crate::error::Result<Round>,
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
        move |conn| step(conn, &p, &id, if_match.as_deref()),
    )
    .await
}

/// Draft a budgeting round on a pool. Coordinators.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Pool id")),
    request_body = NewRound,
    responses((status = 201, body = Round)),
    security(("bearer" = []))
)]
#[post("/pools/{id}/rounds")]
pub async fn create_round(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewRound>,
) -> ApiResult<HttpResponse> {
    let pool = path.into_inner().to_string();
    let round = state
        .db
        .run(move |conn| service::create(conn, &principal, &pool, body.0))
        .await?;
    let version = round.version;
    Ok(with_etag(StatusCode::CREATED, &round, version))
}

/// The collective's rounds. Members, and partner apps with `rounds:read`.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Collective id")),
    responses((status = 200, body = Vec<Round>)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/rounds")]
pub async fn list_rounds(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<Round>>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list(conn, &principal, &id))
            .await?,
    ))
}

/// One round, with its rules and phase.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id")),
    responses((status = 200, body = Round)),
    security(("bearer" = []))
)]
#[get("/rounds/{id}")]
pub async fn get_round(
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

/// Change a draft round. Once open its rules are fixed (409 `round_locked`).
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read")),
    request_body = RoundPatch,
    responses((status = 200, body = Round), (status = 409, description = "`round_locked`")),
    security(("bearer" = []))
)]
#[patch("/rounds/{id}")]
pub async fn update_round(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<RoundPatch>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    Ok(etagged(
        state
            .db
            .run(move |conn| service::update(conn, &principal, &id, body.0, if_match.as_deref()))
            .await?,
    ))
}

/// Open the vote: reserves the budget with a hold and puts the candidates
/// to the vote. Coordinators.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    responses((status = 200, body = Round), (status = 409, description = "`insufficient_funds`, `candidate_unavailable` or `invalid_transition`")),
    security(("bearer" = []))
)]
#[post("/rounds/{id}/open")]
pub async fn open_round(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: FingerprintedJson<NoBody>,
) -> ApiResult<HttpResponse> {
    money_step(state, req, caller, key, path, if_match, body, service::open).await
}

/// Close the vote; each ballot's weight is fixed now. Coordinators.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read")),
    responses((status = 200, body = Round)),
    security(("bearer" = []))
)]
#[post("/rounds/{id}/close")]
pub async fn close_round(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    Ok(etagged(
        state
            .db
            .run(move |conn| service::close(conn, &principal, &id, if_match.as_deref()))
            .await?,
    ))
}

/// Tally a closed round through the engine; the result is stored.
/// Candidates nobody supports, or with less weighted support than the
/// round's `min_support`, are left out and never funded. Of two tallies at
/// once, one stores the result; the other gets 409 `invalid_transition`.
/// Coordinators.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read")),
    responses((status = 200, body = RoundResult), (status = 409, description = "`invalid_transition`: the round is not closed (or was tallied meanwhile)")),
    security(("bearer" = []))
)]
#[post("/rounds/{id}/tally")]
pub async fn tally_round(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
) -> ApiResult<web::Json<RoundResult>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        service::tally(&state.db, principal, id, if_match.0).await?,
    ))
}

/// A tallied round's result: funded requests, per candidate its weighted
/// support and verdict, budget spent and left, participation per tier.
/// Members, and partner apps with `rounds:read`.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id")),
    responses((status = 200, body = RoundResult), (status = 409, description = "`round_not_tallied`")),
    security(("bearer" = []))
)]
#[get("/rounds/{id}/results")]
pub async fn round_results(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<RoundResult>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::results(conn, &principal, &id))
            .await?,
    ))
}

/// Enact a tallied round — the group's approval: funded requests are
/// approved with their share of the round's hold, the others are not
/// funded, the rest of the hold is released. Coordinators.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    responses((status = 200, body = Round), (status = 409, description = "`invalid_transition` or `exceeds_largest_request`")),
    security(("bearer" = []))
)]
#[post("/rounds/{id}/enact")]
pub async fn enact_round(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: FingerprintedJson<NoBody>,
) -> ApiResult<HttpResponse> {
    money_step(
        state,
        req,
        caller,
        key,
        path,
        if_match,
        body,
        service::enact,
    )
    .await
}

/// Cancel a round before it is enacted: its hold is released and its
/// candidates go back to review. Coordinators.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read"),
           ("Idempotency-Key" = String, Header, description = "Unique per request; retries reuse it")),
    responses((status = 200, body = Round)),
    security(("bearer" = []))
)]
#[post("/rounds/{id}/cancel")]
pub async fn cancel_round(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: FingerprintedJson<NoBody>,
) -> ApiResult<HttpResponse> {
    money_step(
        state,
        req,
        caller,
        key,
        path,
        if_match,
        body,
        service::cancel,
    )
    .await
}

/// Cast or replace your ballot while the round is open (422 naming the
/// limit a ballot breaks).
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id")),
    request_body = BallotChoices,
    responses((status = 200, body = Ballot), (status = 403, description = "`not_eligible`")),
    security(("bearer" = []))
)]
#[put("/rounds/{id}/ballots/me")]
pub async fn cast_ballot(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<BallotChoices>,
) -> ApiResult<web::Json<Ballot>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| voting::cast(conn, &principal, &id, body.0))
            .await?,
    ))
}

/// Your own ballot. Nobody can read anyone else's.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id")),
    responses((status = 200, body = Ballot), (status = 409, description = "`round_not_open`")),
    security(("bearer" = []))
)]
#[get("/rounds/{id}/ballots/me")]
pub async fn my_ballot(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Ballot>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| voting::mine(conn, &principal, &id))
            .await?,
    ))
}

/// Withdraw your ballot while the round is open.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id")),
    responses((status = 204)),
    security(("bearer" = []))
)]
#[delete("/rounds/{id}/ballots/me")]
pub async fn withdraw_ballot(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    state
        .db
        .run(move |conn| voting::withdraw(conn, &principal, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `column` (default): weights in a `weight` column; `repeat`: a voter
    /// of weight w written as w identical ballots.
    pub weights: Option<String>,
}

/// The round in pabulib `.pb` format, ballots shuffled with random voter
/// ids, so anyone can re-run the tally: it holds only the candidates with
/// enough support (those the round tallies), and a ranked round's ballots
/// as their Borda points over all its candidates, so pabutools re-tallying
/// it gives the round's result. Coordinators.
#[utoipa::path(
    tag = "rounds",
    params(("id" = Uuid, Path, description = "Round id"), ExportQuery),
    responses((status = 200, content_type = "text/plain", body = String), (status = 409, description = "`round_not_closed`")),
    security(("bearer" = []))
)]
#[get("/rounds/{id}/export.pb")]
pub async fn export_round(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<ExportQuery>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let repeat = match query.weights.as_deref() {
        None | Some("column") => false,
        Some("repeat") => true,
        Some(_) => {
            return Err(crate::error::Error::invalid("weights", "must be column or repeat").into())
        }
    };
    let text = state
        .db
        .run(move |conn| service::export(conn, &principal, &id, repeat))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}
