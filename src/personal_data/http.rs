//! The API of a person's data: export it, erase a member, erase oneself.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::erasure::{self, Erased};
use super::export::{self, PersonalData};
use crate::auth::access::Principal;
use crate::auth::http::address_of;
use crate::error::Error;
use crate::http::extract::Json;
use crate::http::problem::{ApiResult, ProblemDocument};
use crate::http::AppState;

/// Download everything held about you: your account, and in each
/// collective your requests (with their private fields), pledges,
/// contributions, declarations of affectedness, ballots and the comments
/// you may read; and your own audit trail. Made on each request and never
/// stored; nothing of anyone else.
#[utoipa::path(
    tag = "personal_data",
    responses(
        (status = 200, body = PersonalData),
        (status = 401, description = "`invalid_token`: the account has been erased", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 403, description = "`users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me/export")]
pub async fn export_personal_data(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<HttpResponse> {
    let user_id = principal.require_user()?.to_owned();
    let document = state
        .db
        .run(move |conn| {
            if erasure::account_is_erased(conn, &user_id)? {
                return Err(erased_account());
            }
            export::of(conn, &user_id)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"commonpot-personal-data.json\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(document))
}

/// The refusal of a token whose account has been erased.
pub fn erased_account() -> Error {
    Error::Unauthenticated {
        code: "invalid_token",
        message: "this account has been erased".into(),
    }
}

/// What an erasure did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureDone {
    /// The memberships erased: tombstones from now on.
    pub memberships: Vec<String>,
    /// Whether the account itself was erased (no membership was left): its
    /// email can then be invited again, as a new person.
    pub account_erased: bool,
}

impl From<Erased> for ErasureDone {
    fn from(e: Erased) -> Self {
        Self {
            memberships: e.memberships,
            account_erased: e.account_erased,
        }
    }
}

/// Erase a member from the collective: their name, contacts, private
/// details, payout references, comments and affectedness here are removed
/// or tombstoned, in every copy (event snapshots, audit details, stored
/// answers); amounts, dates, states and ledger entries stay, so balances,
/// statements and round results do not change. When the person has no
/// other membership, their account is erased too. Admins; one transaction.
#[utoipa::path(
    tag = "personal_data",
    params(("id" = Uuid, Path, description = "Collective id"), ("membership_id" = Uuid, Path, description = "Membership id")),
    responses(
        (status = 200, body = ErasureDone),
        (status = 404, description = "`not_found`: no such member (or already erased)", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`: the collective's last active admin", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/members/{membership_id}/erasure")]
pub async fn erase_member(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<ErasureDone>> {
    let (id, membership_id) = path.into_inner();
    let erased = state
        .db
        .run(move |conn| {
            erasure::erase_member(
                conn,
                &principal,
                &id.to_string(),
                &membership_id.to_string(),
            )
        })
        .await?;
    erasure::checkpoint(&state.db).await;
    Ok(web::Json(erased.into()))
}

/// Your password, to erase yourself. Never logged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfErasure {
    pub current_password: String,
}

impl std::fmt::Debug for SelfErasure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SelfErasure { .. }")
    }
}

/// Erase yourself everywhere: every membership (as an admin erasure does)
/// and then your account — name, email, password, contacts, sign-ins. It
/// cannot be undone; download your data first (`GET /me/export`). The
/// password is checked like a sign-in. Refused while you are the last
/// active admin of a collective.
#[utoipa::path(
    tag = "personal_data",
    request_body = SelfErasure,
    responses(
        (status = 200, body = ErasureDone),
        (status = 403, description = "`wrong_password`; `users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`: you are the last active admin of a collective: appoint another first", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/erasure")]
pub async fn erase_self(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<SelfErasure>,
) -> ApiResult<web::Json<ErasureDone>> {
    let user_id = principal.require_user()?.to_owned();
    let lookup = user_id.clone();
    if state
        .db
        .run(move |conn| erasure::account_is_erased(conn, &lookup))
        .await?
    {
        return Err(erased_account().into());
    }
    let address = address_of(&req, &state.settings);
    let erased = erasure::erase_self(
        &state.db,
        &state.settings,
        &user_id,
        body.0.current_password,
        &address,
    )
    .await?;
    erasure::checkpoint(&state.db).await;
    Ok(web::Json(erased.into()))
}
