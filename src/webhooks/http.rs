//! Handlers for webhook endpoints: admins, and partner apps with
//! `webhooks:manage` for their own.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpResponse};
use uuid::Uuid;

use super::*;
use crate::auth::access::Principal;
use crate::http::extract::{with_etag, IfMatch, Json};
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::pagination::{Page, PageQuery};

/// Register a webhook endpoint for a partner app. The URL must be `https`
/// and reach no loopback, private, link-local or otherwise internal
/// address (`webhook_url_not_allowed`). The answer holds the signing
/// secret, shown only now. The endpoint receives the events that happen
/// from now on (and replays), each filtered by its app's scopes when sent.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Collective id")),
    request_body = NewEndpoint,
    responses(
        (status = 201, body = EndpointWithSecret),
        (status = 403, description = "`webhook_url_not_allowed`: the URL may not be reached"),
    ),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/webhooks")]
pub async fn register_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewEndpoint>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let (who, at) = (principal.clone(), id.clone());
    state
        .db
        .run(move |conn| service::may_manage(conn, &who, &at))
        .await?;
    state.webhooks.check_text(&body.0.url).await?;
    let endpoint = state
        .db
        .run(move |conn| service::register(conn, &principal, &id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(endpoint))
}

/// The collective's webhook endpoints (a partner app: its own), never
/// with their secrets.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Collective id"), PageQuery),
    responses((status = 200, body = Page<Endpoint>)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/webhooks")]
pub async fn list_endpoints(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Endpoint>>> {
    let id = path.into_inner().to_string();
    // Endpoint ids are `whe_` and 32 hex digits.
    let page = query.check_with(|cursor| {
        cursor
            .strip_prefix("whe_")
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    })?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list(conn, &principal, &id, &page))
            .await?,
    ))
}

/// One webhook endpoint: its status and, if disabled, why.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Collective id"), ("endpoint_id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = Endpoint)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/webhooks/{endpoint_id}")]
pub async fn get_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
) -> ApiResult<HttpResponse> {
    let (id, endpoint_id) = path.into_inner();
    let endpoint = state
        .db
        .run(move |conn| service::get(conn, &principal, &id.to_string(), &endpoint_id))
        .await?;
    let version = endpoint.version;
    Ok(with_etag(StatusCode::OK, &endpoint, version))
}

/// Change an endpoint's URL (checked as at registration), event types or
/// description, or disable / enable it.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Collective id"), ("endpoint_id" = String, Path, description = "Endpoint id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read; 412 if it changed since")),
    request_body = EndpointPatch,
    responses(
        (status = 200, body = Endpoint),
        (status = 403, description = "`webhook_url_not_allowed`: the URL may not be reached"),
        (status = 412, description = "Changed since read"),
    ),
    security(("bearer" = []))
)]
#[patch("/collectives/{id}/webhooks/{endpoint_id}")]
pub async fn update_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
    if_match: IfMatch,
    body: Json<EndpointPatch>,
) -> ApiResult<HttpResponse> {
    let (id, endpoint_id) = path.into_inner();
    if let Some(url) = &body.0.url {
        let (who, at, endpoint) = (principal.clone(), id.to_string(), endpoint_id.clone());
        state
            .db
            .run(move |conn| {
                let (_, own) = service::caller(conn, &who, &at)?;
                service::load(conn, &at, &endpoint, own.as_deref()).map(|_| ())
            })
            .await?;
        state.webhooks.check_text(url).await?;
    }
    let endpoint = state
        .db
        .run(move |conn| {
            service::update(
                conn,
                &principal,
                &id.to_string(),
                &endpoint_id,
                body.0,
                if_match.as_deref(),
            )
        })
        .await?;
    let version = endpoint.version;
    Ok(with_etag(StatusCode::OK, &endpoint, version))
}

/// A new signing secret, shown only now. The previous one keeps signing
/// beside it (two signatures in `webhook-signature`) for the service's
/// grace period (24 hours unless configured otherwise), until
/// `previous_secret_expires_at`.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Collective id"), ("endpoint_id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = EndpointWithSecret)),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/webhooks/{endpoint_id}/rotate-secret")]
pub async fn rotate_endpoint_secret(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
) -> ApiResult<web::Json<EndpointWithSecret>> {
    let (id, endpoint_id) = path.into_inner();
    let grace = state.settings.webhooks_rotation_grace_secs;
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                service::rotate_secret(conn, &principal, &id.to_string(), &endpoint_id, grace)
            })
            .await?,
    ))
}

/// `?status=` for the delivery log.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only deliveries in this state: `pending`, `delivered`, `failed` or
    /// `skipped`.
    pub status: Option<String>,
}

/// The endpoint's delivery log, newest first: each message (its
/// `webhook-id` is `event_id`) with its status and every try — when, how
/// long, the status code or error, and the first bytes of the answer.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Collective id"), ("endpoint_id" = String, Path, description = "Endpoint id"), DeliveriesQuery),
    responses((status = 200, body = Page<log::Delivery>)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/webhooks/{endpoint_id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
    query: crate::http::extract::Query<DeliveriesQuery>,
) -> ApiResult<web::Json<Page<log::Delivery>>> {
    use delivery::DeliveryStatus;
    let (id, endpoint_id) = path.into_inner();
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .check_with(log::is_delivery_id)?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(
            [
                DeliveryStatus::Pending,
                DeliveryStatus::Delivered,
                DeliveryStatus::Failed,
                DeliveryStatus::Skipped,
            ]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                crate::error::Error::invalid("status", "one of pending, delivered, failed, skipped")
            })?,
        ),
    };
    Ok(web::Json(
        state
            .db
            .run(move |conn| {
                log::list(
                    conn,
                    &principal,
                    &id.to_string(),
                    &endpoint_id,
                    status,
                    &page,
                )
            })
            .await?,
    ))
}

/// Send one delivery again, now. A finished one (delivered, failed,
/// skipped) becomes pending with a fresh retry schedule; a pending one is
/// made due at once. Same `webhook-id`, so a receiver that has it can tell.
/// A disabled endpoint receives it once enabled again.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Collective id"), ("endpoint_id" = String, Path, description = "Endpoint id"),
           ("delivery_id" = String, Path, description = "Delivery id")),
    responses((status = 202, body = log::Delivery)),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry")]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, endpoint_id, delivery_id) = path.into_inner();
    let delivery = state
        .db
        .run(move |conn| {
            log::retry(
                conn,
                &principal,
                &id.to_string(),
                &endpoint_id,
                &delivery_id,
            )
        })
        .await?;
    Ok(HttpResponse::Accepted().json(delivery))
}

/// Send again every event since a time (for a partner recovering from an
/// outage): each of the endpoint's types its app may read now, still kept
/// (`events_retention_days`), with its original `webhook-id`. At most
/// 10,000 events per call (422 if more: replay a shorter span).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Collective id"), ("endpoint_id" = String, Path, description = "Endpoint id")),
    request_body = log::Replay,
    responses((status = 202, body = log::Replayed)),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/webhooks/{endpoint_id}/replay")]
pub async fn replay_endpoint(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
    body: Json<log::Replay>,
) -> ApiResult<HttpResponse> {
    let (id, endpoint_id) = path.into_inner();
    let replayed = state
        .db
        .run(move |conn| log::replay(conn, &principal, &id.to_string(), &endpoint_id, &body.0))
        .await?;
    Ok(HttpResponse::Accepted().json(replayed))
}
