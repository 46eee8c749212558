//! The API of a person's second factor, under `/me/second-factor`: status,
//! enrol (start, then confirm with a code), disable, new recovery codes.
//! For people only; partner apps are refused (`users_only`). Status, start
//! and confirm stay open to a person a collective restricts to enrolling
//! ([`Enrolling`]); everything else answers them 403
//! `second_factor_required`.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{Enrolling, Principal};
use super::http::address_of;
use super::second_factor::{self, Answer, State, Status};
use crate::http::extract::Json;
use crate::http::problem::{ApiResult, ProblemDocument};
use crate::http::AppState;

/// Where a person's second factor stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondFactorStatus {
    /// `none`; `pending` (started, not yet confirmed: sign-in unchanged);
    /// `confirmed` (sign-in asks for a code).
    #[schema(example = "confirmed")]
    pub state: &'static str,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Recovery codes not yet used.
    pub recovery_codes_left: i64,
    /// A collective you coordinate requires a second factor and you have
    /// none confirmed: until you enrol, your sign-in works only here.
    pub required: bool,
}

fn status_view(status: Status, required: bool) -> SecondFactorStatus {
    SecondFactorStatus {
        state: status.state_name(),
        confirmed_at: status.confirmed_at.map(|at| at.and_utc()),
        recovery_codes_left: status.recovery_codes_left,
        required,
    }
}

async fn current_status(state: &AppState, user_id: &str) -> ApiResult<SecondFactorStatus> {
    let user_id = user_id.to_owned();
    Ok(state
        .db
        .run(move |conn| {
            let status = second_factor::status(conn, &user_id)?;
            let required = second_factor::restricted(conn, &user_id)?;
            Ok(status_view(status, required))
        })
        .await?)
}

/// Your second factor: whether it is set up, and how many recovery codes
/// are left.
#[utoipa::path(
    tag = "account",
    responses(
        (status = 200, body = SecondFactorStatus),
        (status = 403, description = "`users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me/second-factor")]
pub async fn second_factor_status(
    state: web::Data<AppState>,
    principal: Enrolling,
) -> ApiResult<web::Json<SecondFactorStatus>> {
    let user_id = principal.0.require_user()?.to_owned();
    Ok(web::Json(current_status(&state, &user_id).await?))
}

/// A started enrolment: the secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct SecondFactorEnrolment {
    /// The secret in base32, to type into an authenticator app that cannot
    /// scan the URI.
    #[schema(example = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")]
    pub secret: String,
    /// `otpauth://totp/…` (SHA-1, 6 digits, 30 seconds): what a QR code of
    /// it shows an authenticator app.
    pub otpauth_uri: String,
    /// Always `pending`: confirm it with a code.
    pub state: &'static str,
}

/// Start enrolling an authenticator app (TOTP, RFC 6238): a new secret,
/// answered this once, pending until confirmed with a code. Starting
/// again replaces a pending secret; a confirmed one must be disabled
/// first (409 `second_factor_enrolled`).
#[utoipa::path(
    tag = "account",
    responses(
        (status = 201, body = SecondFactorEnrolment, headers(("Cache-Control" = String, description = "`no-store`: the secret is shown once"))),
        (status = 403, description = "`users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`second_factor_enrolled`: you have a confirmed second factor", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/second-factor")]
pub async fn start_second_factor(
    state: web::Data<AppState>,
    principal: Enrolling,
) -> ApiResult<HttpResponse> {
    let user_id = principal.0.require_user()?.to_owned();
    let started = state
        .db
        .run(move |conn| second_factor::start(conn, &user_id))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(SecondFactorEnrolment {
            secret: started.secret,
            otpauth_uri: started.otpauth_uri,
            state: State::Pending.as_str(),
        }))
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorCode {
    /// The six digits the app shows now.
    #[schema(example = "123456")]
    pub code: String,
}

/// Recovery codes, shown this once: each signs in once in place of a code.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    #[schema(example = json!(["abcd-efgh-23", "k7mn-pq2r-st"]))]
    pub recovery_codes: Vec<String>,
}

fn recovery_answer(codes: Vec<String>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RecoveryCodes {
            recovery_codes: codes,
        })
}

/// Confirm the enrolment with a code from the app: from now on, sign-in
/// asks for a code. Answers ten recovery codes, this once. A wrong code
/// counts toward the sign-in throttle.
#[utoipa::path(
    tag = "account",
    request_body = SecondFactorCode,
    responses(
        (status = 200, body = RecoveryCodes, headers(("Cache-Control" = String, description = "`no-store`: the codes are shown once"))),
        (status = 403, description = "`wrong_second_factor_code` (after too many, 429 `too_many_attempts` as for sign-ins); `users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`no_second_factor`: no enrolment is waiting to be confirmed", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/second-factor/confirm")]
pub async fn confirm_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Enrolling,
    body: Json<SecondFactorCode>,
) -> ApiResult<HttpResponse> {
    let user_id = principal.0.require_user()?.to_owned();
    let answer = Answer::code("code", &body.0.code)?;
    let address = address_of(&req, &state.settings);
    let codes =
        second_factor::confirm(&state.db, &state.settings, &user_id, answer, &address).await?;
    Ok(recovery_answer(codes))
}

/// Turning the second factor off: the password and a code (or a recovery
/// code) both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondFactorRemoval {
    pub current_password: String,
    /// The six digits the app shows now …
    pub code: Option<String>,
    /// … or, without the app, one of the recovery codes.
    pub recovery_code: Option<String>,
}

impl std::fmt::Debug for SecondFactorRemoval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecondFactorRemoval { .. }")
    }
}

/// Turn your second factor off (sign-in asks for the password alone
/// again); your recovery codes stop working. Needs the current password
/// and a code, each checked like a sign-in.
#[utoipa::path(
    tag = "account",
    request_body = SecondFactorRemoval,
    responses(
        (status = 200, body = SecondFactorStatus),
        (status = 403, description = "`wrong_password`, `wrong_second_factor_code` (after too many, 429 `too_many_attempts`); `users_only`: a partner app's token; `second_factor_required`: a collective you coordinate requires one", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`no_second_factor`: you have none confirmed", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/second-factor/disable")]
pub async fn disable_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<SecondFactorRemoval>,
) -> ApiResult<web::Json<SecondFactorStatus>> {
    let user_id = principal.require_user()?.to_owned();
    let SecondFactorRemoval {
        current_password,
        code,
        recovery_code,
    } = body.0;
    let answer = Answer::from_fields("code", code.as_deref(), recovery_code.as_deref())?
        .ok_or_else(|| {
            crate::error::Error::invalid("code", "send a code from your app, or a recovery_code")
        })?;
    if current_password.is_empty() {
        return Err(crate::error::Error::invalid("current_password", "must not be empty").into());
    }
    let address = address_of(&req, &state.settings);
    second_factor::disable(
        &state.db,
        &state.settings,
        &user_id,
        current_password,
        answer,
        &address,
    )
    .await?;
    Ok(web::Json(current_status(&state, &user_id).await?))
}

/// New recovery codes; the old ones stop working. Needs a code from the
/// app, checked like a sign-in.
#[utoipa::path(
    tag = "account",
    request_body = SecondFactorCode,
    responses(
        (status = 200, body = RecoveryCodes, headers(("Cache-Control" = String, description = "`no-store`: the codes are shown once"))),
        (status = 403, description = "`wrong_second_factor_code` (after too many, 429 `too_many_attempts`); `users_only`: a partner app's token", body = ProblemDocument, content_type = "application/problem+json"),
        (status = 409, description = "`no_second_factor`: you have none confirmed", body = ProblemDocument, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/me/second-factor/recovery-codes")]
pub async fn regenerate_recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<SecondFactorCode>,
) -> ApiResult<HttpResponse> {
    let user_id = principal.require_user()?.to_owned();
    let answer = Answer::code("code", &body.0.code)?;
    let address = address_of(&req, &state.settings);
    let codes = second_factor::regenerate_recovery_codes(
        &state.db,
        &state.settings,
        &user_id,
        answer,
        &address,
    )
    .await?;
    Ok(recovery_answer(codes))
}
