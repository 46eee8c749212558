//! Handlers for partner-app clients. Admins only.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpResponse};
use uuid::Uuid;

use super::*;
use crate::auth::access::Principal;
use crate::http::extract::{with_etag, IfMatch, Json};
use crate::http::problem::ApiResult;
use crate::http::AppState;
use crate::pagination::{Page, PageQuery};

/// Register a partner app. The answer holds its secret, shown only once.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Collective id")),
    request_body = NewClient,
    responses((status = 201, body = ClientWithSecret)),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/clients")]
pub async fn register_client(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewClient>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let client = state
        .db
        .run(move |conn| service::register(conn, &principal, &id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(client))
}

/// The collective's partner apps (never their secrets).
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Collective id"), PageQuery),
    responses((status = 200, body = Page<Client>)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/clients")]
pub async fn list_clients(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Client>>> {
    let id = path.into_inner().to_string();
    let page = query.check_with(super::is_client_id)?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list(conn, &principal, &id, &page))
            .await?,
    ))
}

/// One partner app.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Collective id"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 200, body = Client)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/clients/{client_id}")]
pub async fn get_client(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
) -> ApiResult<HttpResponse> {
    let (id, client_id) = path.into_inner();
    let client = state
        .db
        .run(move |conn| service::get(conn, &principal, &id.to_string(), &client_id))
        .await?;
    let version = client.version;
    Ok(with_etag(StatusCode::OK, &client, version))
}

/// Rename a partner app, change its scopes, or disable / re-enable it.
/// Disabling locks it out at once.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Collective id"), ("client_id" = String, Path, description = "Client id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read; 412 if it changed since")),
    request_body = ClientPatch,
    responses((status = 200, body = Client), (status = 412, description = "Changed since read")),
    security(("bearer" = []))
)]
#[patch("/collectives/{id}/clients/{client_id}")]
pub async fn update_client(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
    if_match: IfMatch,
    body: Json<ClientPatch>,
) -> ApiResult<HttpResponse> {
    let (id, client_id) = path.into_inner();
    let client = state
        .db
        .run(move |conn| {
            service::update(
                conn,
                &principal,
                &id.to_string(),
                &client_id,
                body.0,
                if_match.as_deref(),
            )
        })
        .await?;
    let version = client.version;
    Ok(with_etag(StatusCode::OK, &client, version))
}

/// Issue a new secret for a partner app; the old one stops working at once.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Collective id"), ("client_id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientWithSecret)),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/clients/{client_id}/rotate-secret")]
pub async fn rotate_client_secret(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, String)>,
) -> ApiResult<web::Json<ClientWithSecret>> {
    let (id, client_id) = path.into_inner();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::rotate_secret(conn, &principal, &id.to_string(), &client_id))
            .await?,
    ))
}
