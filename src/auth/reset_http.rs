//! Password-reset links: an admin issues one for a member of their
//! collective; the person sets a new password with it. See `auth::reset`.

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::access::Principal;
use super::reset;
use crate::http::extract::Json;
use crate::http::problem::{ApiResult, ProblemDocument};
use crate::http::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPasswordReset {
    /// The email address of the member who forgot their password.
    pub email: String,
}

/// A reset link to pass on to the person.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetLink {
    /// Single use; shown only this once.
    pub reset_token: String,
    /// The web app's page that sets a new password with it.
    pub reset_path: String,
    pub expires_at: DateTime<Utc>,
}

/// The web app's page for a reset token.
pub fn reset_path(token: &str) -> String {
    format!(
        "/password-reset?{}",
        serde_urlencoded::to_string([("token", token)]).unwrap_or_default()
    )
}

/// Issue a password-reset link for a member of the collective (admins).
/// Pass it on to the person: it works once, for a day, and an earlier
/// link of theirs stops working. It never shows or sets the password. The
/// answer is the same for any email — a member or not, with an account or
/// not —, only a member's link opens anything. Audited.
#[utoipa::path(
    tag = "account",
    params(("id" = Uuid, Path, description = "Collective id")),
    request_body = NewPasswordReset,
    responses((status = 201, body = PasswordResetLink)),
    security(("bearer" = []))
)]
#[post("/collectives/{id}/password-resets")]
pub async fn issue_password_reset(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<Uuid>,
    body: Json<NewPasswordReset>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner().to_string();
    let email = body.0.email;
    let issued = state
        .db
        .run(move |conn| reset::issue(conn, &principal, &id, &email))
        .await?;
    Ok(HttpResponse::Created().json(PasswordResetLink {
        reset_path: reset_path(&issued.token),
        reset_token: issued.token,
        expires_at: issued.expires_at.and_utc(),
    }))
}

/// A new password set through a reset link. Never logged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetUse {
    /// The link's token.
    pub token: String,
    /// At least 12 characters, not one of the most common passwords.
    pub new_password: String,
}

impl std::fmt::Debug for PasswordResetUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordResetUse { .. }")
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordResetDone {}

/// Set a new password with a reset link. The link is used up, and every
/// sign-in of the person ends: they sign in afresh (with their second
/// factor, if they have one). No token needed: the link is the proof.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordResetUse,
    responses(
        (status = 200, body = PasswordResetDone),
        (status = 404, description = "`not_found`: unknown, used or replaced link", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`reset_link_expired`: older than a day; ask an admin for a new one", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
#[post("/auth/password-reset")]
pub async fn use_password_reset(
    state: web::Data<AppState>,
    body: Json<PasswordResetUse>,
) -> ApiResult<web::Json<PasswordResetDone>> {
    let PasswordResetUse {
        token,
        new_password,
    } = body.0;
    reset::complete(&state.db, token, new_password).await?;
    Ok(web::Json(PasswordResetDone {}))
}
