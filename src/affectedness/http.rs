//! Handlers for issues and declarations of affectedness.

use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpResponse};
use uuid::Uuid;

use super::*;
use crate::auth::access::Principal;
use crate::http::extract::Json;
use crate::http::problem::ApiResult;
use crate::http::AppState;

/// Define an issue the collective organises around. Coordinators.
#[utoipa::path(
    tag = "affectedness",
    params(("id" = Uuid, Path, description = "Collective id")),
    request_body = NewIssue,
    responses((status = 201, body = Issue), (status = 409, description = "`issue_exists`")),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/issues")]
pub async fn create_issue(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewIssue>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let issue = state
        .db
        .run(move |conn| service::create_issue(conn, &principal, &id, body.0))
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(issue))
}

/// The issues the collective organises around. Members.
#[utoipa::path(
    tag = "affectedness",
    params(("id" = Uuid, Path, description = "Collective id")),
    responses((status = 200, body = Vec<Issue>)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/issues")]
pub async fn list_issues(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<Issue>>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list_issues(conn, &principal, &id))
            .await?,
    ))
}

/// Declare how you are affected by each issue, replacing your earlier
/// declarations. Seen only by you and coordinators.
#[utoipa::path(
    tag = "affectedness",
    params(("id" = Uuid, Path, description = "Collective id")),
    request_body = Declarations,
    responses((status = 200, body = Affectedness)),
    security(("bearer" = []))
)]
#[put("/collectives/{id}/affectedness/me")]
pub async fn declare_affectedness(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<Declarations>,
) -> ApiResult<web::Json<Affectedness>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::declare(conn, &principal, &id, body.0))
            .await?,
    ))
}

/// Your own declarations.
#[utoipa::path(
    tag = "affectedness",
    params(("id" = Uuid, Path, description = "Collective id")),
    responses((status = 200, body = Affectedness)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/affectedness/me")]
pub async fn my_affectedness(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Affectedness>> {
    let id = path.into_inner().to_string();
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::mine(conn, &principal, &id))
            .await?,
    ))
}

/// A member's declarations. Coordinators.
#[utoipa::path(
    tag = "affectedness",
    params(("id" = Uuid, Path, description = "Collective id"),
           ("membership_id" = Uuid, Path, description = "Membership id")),
    responses((status = 200, body = Affectedness)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/members/{membership_id}/affectedness")]
pub async fn member_affectedness(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<Affectedness>> {
    let (id, member) = path.into_inner();
    let (id, member) = (id.to_string(), member.to_string());
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::of_member(conn, &principal, &id, &member))
            .await?,
    ))
}

/// Verify one of a member's declarations. Coordinators.
#[utoipa::path(
    tag = "affectedness",
    params(("id" = Uuid, Path, description = "Collective id"),
           ("membership_id" = Uuid, Path, description = "Membership id"),
           ("issue_id" = Uuid, Path, description = "Issue id")),
    responses((status = 200, body = Affectedness)),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/members/{membership_id}/affectedness/{issue_id}/verification")]
pub async fn verify_affectedness(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid, Uuid)>,
) -> ApiResult<web::Json<Affectedness>> {
    let (id, member, issue) = path.into_inner();
    let (id, member, issue) = (id.to_string(), member.to_string(), issue.to_string());
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::verify(conn, &principal, &id, &member, &issue))
            .await?,
    ))
}
