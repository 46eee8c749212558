//! The API of a person's profile, under `/me`: name and contact details,
//! and an email change confirmed by a single-use token.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::Principal;
use super::http::address_of;
use super::profile::{self, AccountProfile, ProfileChange};
use crate::http::extract::Json;
use crate::http::problem::{ApiResult, ProblemDocument};
use crate::http::AppState;

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// A person's own account, as they see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub user_id: String,
    /// The address they sign in with.
    pub email: String,
    /// The name others in their collectives see.
    pub display_name: String,
    pub phone: Option<String>,
    /// Another way to reach them (a messenger, a postal address …).
    pub other_contact: Option<String>,
    /// An email change asked for and not yet confirmed.
    pub pending_email: Option<PendingEmail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingEmail {
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

impl From<AccountProfile> for ProfileView {
    fn from(p: AccountProfile) -> Self {
        Self {
            user_id: p.user_id,
            email: p.email,
            display_name: p.display_name,
            phone: p.phone,
            other_contact: p.other_contact,
            pending_email: p.pending_email.map(|(email, expires_at)| PendingEmail {
                email,
                expires_at: utc(expires_at),
            }),
        }
    }
}

/// Your profile: name, contact details, and an email change waiting for
/// its confirmation.
#[utoipa::path(tag = "account", responses((status = 200, body = ProfileView)), security(("bearer" = [])))]
#[get("/me/profile")]
pub async fn get_profile(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<web::Json<ProfileView>> {
    let user_id = principal.require_user()?.to_owned();
    let found = state
        .db
        .run(move |conn| profile::get(conn, &user_id))
        .await?;
    Ok(web::Json(found.into()))
}

/// A change to your profile. Fields left out stay as they are; an empty
/// `phone` or `other_contact` clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1–100 characters.
    pub display_name: Option<String>,
    /// Digits, spaces and `+ ( ) - .`; 4 to 20 digits.
    pub phone: Option<String>,
    /// Up to 200 characters.
    pub other_contact: Option<String>,
}

/// Change your name or contact details. The email address changes by
/// `POST /me/email`, with a confirmation.
#[utoipa::path(
    tag = "account",
    request_body = ProfilePatch,
    responses((status = 200, body = ProfileView)),
    security(("bearer" = []))
)]
#[patch("/me/profile")]
pub async fn update_profile(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<ProfilePatch>,
) -> ApiResult<web::Json<ProfileView>> {
    let user_id = principal.require_user()?.to_owned();
    let change = ProfileChange {
        display_name: body.0.display_name,
        phone: body.0.phone.map(Some),
        other_contact: body.0.other_contact.map(Some),
    };
    let updated = state
        .db
        .run(move |conn| profile::update(conn, &user_id, change))
        .await?;
    Ok(web::Json(updated.into()))
}

/// A new email address, proven by the current password. Never logged.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    pub new_email: String,
    pub current_password: String,
}

impl std::fmt::Debug for EmailChangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EmailChangeRequest { .. }")
    }
}

/// An email change waiting for its confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailChangePending {
    pub new_email: String,
    /// Send it back to `POST /email-confirmations` to make the change.
    /// Shown only this once (until the service sends mail, pass it on to
    /// yourself); only its digest is kept.
    pub confirmation_token: String,
    /// The web app's page that confirms it.
    pub confirmation_path: String,
    pub expires_at: DateTime<Utc>,
}

/// Ask to change your email address. Nothing changes until the new address
/// is confirmed with the token in the answer (a day long, single use; a
/// newer request replaces it). The current password is checked like a
/// sign-in (a wrong one counts toward the sign-in throttle).
#[utoipa::path(
    tag = "account",
    request_body = EmailChangeRequest,
    responses(
        (status = 202, body = EmailChangePending),
        (status = 403, description = "`wrong_password`: current_password is wrong (after too many wrong ones, 429 `too_many_attempts` with `Retry-After`, as for sign-ins); `users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/email")]
pub async fn request_email_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<EmailChangeRequest>,
) -> ApiResult<HttpResponse> {
    let user_id = principal.require_user()?.to_owned();
    let address = address_of(&req, &state.settings);
    let EmailChangeRequest {
        new_email,
        current_password,
    } = body.0;
    let change = profile::request_email_change(
        &state.db,
        &state.settings,
        &user_id,
        &new_email,
        current_password,
        &address,
    )
    .await?;
    Ok(HttpResponse::Accepted().json(EmailChangePending {
        confirmation_path: confirmation_path(&change.token),
        new_email: change.new_email,
        confirmation_token: change.token,
        expires_at: utc(change.expires_at),
    }))
}

/// The web app's page that confirms an email change.
pub fn confirmation_path(token: &str) -> String {
    format!(
        "/account/email/confirm?{}",
        serde_urlencoded::to_string([("token", token)]).unwrap_or_default()
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailConfirmation {
    /// The token an email change answered.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailConfirmed {
    /// The account's address from now on.
    pub email: String,
}

/// Confirm an email change with its token: the account's address becomes
/// the new one. No token is needed: holding the confirmation token is the
/// proof (it would come by mail to the new address).
#[utoipa::path(
    tag = "account",
    request_body = EmailConfirmation,
    responses(
        (status = 200, body = EmailConfirmed),
        (status = 404, description = "`not_found`: unknown, replaced or used token", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`email_confirmation_expired`; `email_taken`: another account has the address meanwhile", body = ProblemDocument, content_type = "application/problem+json"),
    )
)]
#[post("/email-confirmations")]
pub async fn confirm_email(
    state: web::Data<AppState>,
    body: Json<EmailConfirmation>,
) -> ApiResult<web::Json<EmailConfirmed>> {
    let token = body.0.token;
    let (_, email) = state
        .db
        .run(move |conn| profile::confirm_email_change(conn, &token))
        .await?;
    Ok(web::Json(EmailConfirmed { email }))
}
