//! The API of a person's own account, under `/me`: change the password,
//! sign out everywhere. For people only; partner apps are refused
//! (`users_only`).

use actix_web::http::header;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::Principal;
use super::account::{self, Current};
use super::http::{address_of, TokenResponse};
use crate::http::extract::Json;
use crate::http::problem::{ApiResult, ProblemDocument};
use crate::http::AppState;

/// A new password, proven by the current one. Never logged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password the account has now.
    pub current_password: String,
    /// At least 12 characters, not one of the most common passwords.
    pub new_password: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordChange { .. }")
    }
}

/// Change your password. The current password is checked like a sign-in
/// (a wrong one counts toward the sign-in throttle). Every sign-in of
/// yours ends — refresh tokens and web sessions — and the answer is a new
/// one: keep its refresh token. Access tokens already issued run until
/// they expire.
#[utoipa::path(
    tag = "account",
    request_body = PasswordChange,
    responses(
        (status = 200, body = TokenResponse, description = "The password is changed; a new sign-in",
            headers(("Cache-Control" = String, description = "`no-store`: never cache tokens"))),
        (status = 403, description = "`wrong_password`: current_password is wrong (after too many wrong ones, 429 `too_many_attempts` with `Retry-After`, as for sign-ins); `users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/password")]
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    let user_id = principal.require_user()?.to_owned();
    let address = address_of(&req, &state.settings);
    let PasswordChange {
        current_password,
        new_password,
    } = body.0;
    let changed = account::change_password(
        &state.db,
        &state.keys,
        &state.settings,
        &user_id,
        current_password,
        new_password,
        &address,
        Current::NewSignIn,
    )
    .await?;
    let issued = changed
        .issued
        .ok_or_else(|| crate::error::Error::Internal("no new sign-in issued".into()))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse::from(issued)))
}

/// What signing out everywhere ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    /// Web sessions ended.
    pub web_sessions: usize,
    /// API sign-ins ended (each with its refresh tokens).
    pub api_sign_ins: usize,
}

/// Sign out everywhere: every web session and every refresh token of yours
/// ends, this one's too. Access tokens already issued run until they expire.
#[utoipa::path(
    tag = "account",
    responses(
        (status = 200, body = SignedOut),
        (status = 403, description = "`users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/sign-out-everywhere")]
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<SignedOut>> {
    let user_id = principal.require_user()?.to_owned();
    let ended = state
        .db
        .run(move |conn| account::sign_out_everywhere(conn, &user_id))
        .await?;
    Ok(web::Json(SignedOut {
        web_sessions: ended.web_sessions,
        api_sign_ins: ended.api_sign_ins,
    }))
}
