//! Handlers for collectives, memberships and invitations.

use actix_web::http::StatusCode;
use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::store::MemberFilter;
use super::*;
use crate::auth::access::Principal;
use crate::auth::http::MaybePrincipal;
use crate::auth::policy::{MembershipStatus, Role};
use crate::http::extract::{with_etag, IfMatch, Json};
use crate::http::problem::{ApiResult, ProblemDocument};
use crate::http::AppState;
use crate::pagination::{Page, PageQuery};

/// Create a collective; the caller becomes its first admin.
#[utoipa::path(
    tag = "collectives",
    request_body = NewCollective,
    responses((status = 201, body = Collective)),
    security(("bearer" = []))
)]
#[post("/collectives")]
pub async fn create_collective(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<NewCollective>,
) -> ApiResult<HttpResponse> {
    let collective = state
        .db
        .run(move |conn| service::create(conn, &principal, body.0))
        .await?;
    let version = collective.version;
    Ok(with_etag(StatusCode::CREATED, &collective, version))
}

/// The collectives the caller is an active member of.
#[utoipa::path(
    tag = "collectives",
    params(PageQuery),
    responses((status = 200, body = Page<Collective>)),
    security(("bearer" = []))
)]
#[get("/collectives")]
pub async fn list_collectives(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::extract::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Collective>>> {
    let page = query.check()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list(conn, &principal, &page))
            .await?,
    ))
}

/// One collective.
#[utoipa::path(
    tag = "collectives",
    params(("id" = Uuid, Path, description = "Collective id")),
    responses((status = 200, body = Collective, headers(("ETag" = String, description = "The version")))),
    security(("bearer" = []))
)]
#[get("/collectives/{id}")]
pub async fn get_collective(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let collective = state
        .db
        .run(move |conn| service::get(conn, &principal, &id))
        .await?;
    let version = collective.version;
    Ok(with_etag(StatusCode::OK, &collective, version))
}

/// Rename a collective or change its time zone. Admins.
#[utoipa::path(
    tag = "collectives",
    params(("id" = Uuid, Path, description = "Collective id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read; 412 if it changed since")),
    request_body = CollectivePatch,
    responses((status = 200, body = Collective), (status = 412, description = "Changed since read")),
    security(("bearer" = []))
)]
#[patch("/collectives/{id}")]
pub async fn update_collective(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<CollectivePatch>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let collective = state
        .db
        .run(move |conn| service::update(conn, &principal, &id, body.0, if_match.as_deref()))
        .await?;
    let version = collective.version;
    Ok(with_etag(StatusCode::OK, &collective, version))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MemberQuery {
    pub status: Option<MembershipStatus>,
    pub role: Option<Role>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Members of a collective. Members see active members' names and roles;
/// coordinators also see emails, invitations and suspensions.
#[utoipa::path(
    tag = "members",
    params(("id" = Uuid, Path, description = "Collective id"), MemberQuery),
    responses((status = 200, body = Page<Membership>)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    query: crate::http::extract::Query<MemberQuery>,
) -> ApiResult<web::Json<Page<Membership>>> {
    let id = path.into_inner().to_string();
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .check()?;
    let filter = MemberFilter {
        status: query.status.map(|s| s.as_str().to_owned()),
        role: query.role.map(|r| r.as_str().to_owned()),
    };
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::list_members(conn, &principal, &id, filter, &page))
            .await?,
    ))
}

/// Invite a person (by email) to the collective. Coordinators may invite
/// members; only admins may invite coordinators and admins. The answer holds
/// the invitation token, shown only once.
#[utoipa::path(
    tag = "members",
    params(("id" = Uuid, Path, description = "Collective id")),
    request_body = NewInvitation,
    responses((status = 201, body = Invitation), (status = 409, description = "`already_member`")),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/members")]
pub async fn invite_member(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewInvitation>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let invitation = state
        .db
        .run(move |conn| service::invite(conn, &principal, &id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(invitation))
}

/// One membership.
#[utoipa::path(
    tag = "members",
    params(("id" = Uuid, Path, description = "Collective id"), ("membership_id" = Uuid, Path, description = "Membership id")),
    responses((status = 200, body = Membership)),
    security(("bearer" = []))
)]
#[get("/collectives/{id}/members/{membership_id}")]
pub async fn get_member(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (id, membership_id) = path.into_inner();
    let membership = state
        .db
        .run(move |conn| {
            service::get_member(
                conn,
                &principal,
                &id.to_string(),
                &membership_id.to_string(),
            )
        })
        .await?;
    let version = membership.version;
    Ok(with_etag(StatusCode::OK, &membership, version))
}

/// Change a member's role, suspend or reinstate them. Admins. Suspension
/// locks the member out at once.
#[utoipa::path(
    tag = "members",
    params(("id" = Uuid, Path, description = "Collective id"), ("membership_id" = Uuid, Path, description = "Membership id"),
           ("If-Match" = Option<String>, Header, description = "The ETag last read; 412 if it changed since")),
    request_body = MembershipPatch,
    responses((status = 200, body = Membership), (status = 409, description = "`last_admin` or `invalid_transition`"), (status = 412, description = "Changed since read")),
    security(("bearer" = []))
)]
#[patch("/collectives/{id}/members/{membership_id}")]
pub async fn update_member(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
    body: Json<MembershipPatch>,
) -> ApiResult<HttpResponse> {
    let (id, membership_id) = path.into_inner();
    let membership = state
        .db
        .run(move |conn| {
            service::update_member(
                conn,
                &principal,
                &id.to_string(),
                &membership_id.to_string(),
                body.0,
                if_match.as_deref(),
            )
        })
        .await?;
    let version = membership.version;
    Ok(with_etag(StatusCode::OK, &membership, version))
}

/// Accept an invitation with its token. A person without an account sends
/// the password of their new account; a person who has one accepts while
/// signed in as that account (bearer token), without a password.
#[utoipa::path(
    tag = "members",
    request_body = AcceptInvitation,
    responses(
        (status = 200, body = Membership),
        (status = 401, description = "`unauthenticated`: the invitation is for an existing account; sign in as it first", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: signed in as another account; `users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such invitation", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_expired`", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[post("/invitations/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    principal: MaybePrincipal,
    body: Json<AcceptInvitation>,
) -> ApiResult<web::Json<Membership>> {
    let signed_in = match &principal.0 {
        Some(principal) => Some(principal.require_user()?.to_owned()),
        None => None,
    };
    Ok(web::Json(
        service::accept_invitation(&state.db, signed_in, body.0).await?,
    ))
}

/// The signed-in person and their memberships.
#[utoipa::path(tag = "members", responses((status = 200, body = Profile)), security(("bearer" = [])))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, principal: Principal) -> ApiResult<web::Json<Profile>> {
    Ok(web::Json(
        state
            .db
            .run(move |conn| service::profile(conn, &principal))
            .await?,
    ))
}
