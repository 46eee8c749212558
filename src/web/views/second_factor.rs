//! A second factor on the web: the account's page to enrol an
//! authenticator app (a QR code drawn as inline SVG, the secret as text, a
//! code to confirm, the recovery codes shown once), turn it off or get new
//! recovery codes; and the sign-in's second step, the code page. Every
//! action goes through `auth::second_factor`, the API's own service.
//!
//! The code page carries a signed challenge that lasts five minutes
//! (`Keys::issue_challenge`): proof that the password was right, and
//! nothing more — no session exists until the code is right too.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use qrcodegen::{QrCode, QrCodeEcc};
use serde::Deserialize;

use super::account::{safe_next, sign_in_form, too_many, with_cookie};
use super::{db, render, see_other, Chrome, FieldErrors};
use crate::auth::second_factor::{self, Answer, Started, State};
use crate::error::Error;
use crate::http::AppState;
use crate::web::errors::PageError;
use crate::web::extract::{self, Form, Session, SignedIn};
use crate::web::session;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sign-in/code", web::post().to(sign_in_code))
        .route("/account/second-factor", web::get().to(page))
        .route("/account/second-factor/start", web::post().to(start))
        .route("/account/second-factor/confirm", web::post().to(confirm))
        .route("/account/second-factor/disable", web::post().to(disable))
        .route(
            "/account/second-factor/recovery-codes",
            web::post().to(regenerate),
        );
}

#[derive(Template)]
#[template(path = "sign_in_code.html")]
struct CodePage {
    chrome: Chrome,
    csrf: String,
    challenge: String,
    next: String,
    errors: FieldErrors,
    problem: String,
}

/// The sign-in's second step: the code page, carrying `challenge`.
pub fn code_form(
    req: &HttpRequest,
    status: StatusCode,
    challenge: String,
    next: String,
    errors: FieldErrors,
    problem: String,
) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = extract::form_token(req);
    let page = CodePage {
        chrome: Chrome::bare("Your code"),
        csrf,
        challenge,
        next,
        errors,
        problem,
    };
    with_cookie(render(status, &page)?, cookie)
}

/// Checks the code page: the challenge, then the code (or a recovery
/// code), counted by the sign-in throttle; then the session starts.
async fn sign_in_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let challenge = form.fields.get("challenge").trim().to_owned();
    let next = safe_next(Some(form.fields.get("next")));
    let Some(user_id) = state.keys.verify_challenge(&challenge) else {
        return sign_in_form(
            &req,
            StatusCode::UNAUTHORIZED,
            String::new(),
            next,
            FieldErrors::default(),
            "The code page lasts five minutes, and that one is over. Sign in again.".into(),
        );
    };
    let again = |status, errors, problem| {
        code_form(
            &req,
            status,
            challenge.clone(),
            next.clone(),
            errors,
            problem,
        )
    };
    let answer = match Answer::from_fields(
        "code",
        form.fields.opt("code").as_deref(),
        form.fields.opt("recovery_code").as_deref(),
    ) {
        Ok(Some(answer)) => answer,
        Ok(None) => {
            let mut errors = FieldErrors::default();
            errors.add("code", "Enter the code your authenticator app shows.");
            return again(StatusCode::UNPROCESSABLE_ENTITY, errors, String::new());
        }
        Err(error) => {
            return again(
                StatusCode::UNPROCESSABLE_ENTITY,
                FieldErrors::from_error(error)?,
                String::new(),
            )
        }
    };
    let address = crate::auth::http::address_of(&req, &state.settings);
    let person = user_id.clone();
    match second_factor::check_answer(&state.db, &state.settings, &user_id, answer, &address).await
    {
        Ok(()) => {
            let ttl = state.settings.session_ttl_secs;
            let (cookie, _) = db(&state, move |conn| session::start(conn, &person, ttl)).await?;
            with_cookie(
                see_other(&next),
                Some(extract::session_cookie(&req, cookie)),
            )
        }
        Err(Error::Forbidden { .. }) => {
            let mut errors = FieldErrors::default();
            errors.add(
                "code",
                "This code is wrong, was used already, or is too old. Type the one your app shows now.",
            );
            again(StatusCode::UNAUTHORIZED, errors, String::new())
        }
        Err(Error::RateLimited {
            retry_after_secs, ..
        }) => again(
            StatusCode::TOO_MANY_REQUESTS,
            FieldErrors::default(),
            too_many(retry_after_secs),
        ),
        // The second factor was turned off meanwhile: start over.
        Err(Error::Conflict { .. }) => sign_in_form(
            &req,
            StatusCode::UNAUTHORIZED,
            String::new(),
            next,
            FieldErrors::default(),
            "Sign in again.".into(),
        ),
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    /// `none`, `pending` or `confirmed`.
    state: &'static str,
    /// A collective this person coordinates requires one.
    required: bool,
    recovery_codes_left: i64,
    /// An enrolment being set up: the QR code (SVG), the secret, the URI.
    enrolment: Option<(String, String, String)>,
    /// Recovery codes just made: shown this once.
    recovery_codes: Vec<String>,
    notice: String,
    errors: FieldErrors,
    problem: String,
}

/// What the page shows besides the stored state.
#[derive(Default)]
struct Shown {
    enrolment: Option<Started>,
    recovery_codes: Vec<String>,
    notice: String,
    errors: FieldErrors,
    problem: String,
}

/// The `otpauth://` URI as a QR code, an SVG of dark squares on white.
fn qr_svg(text: &str) -> Result<String, PageError> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).map_err(|_| {
        PageError::Domain(Error::Internal("the QR code cannot hold the URI".into()))
    })?;
    let border = 4;
    let size = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="240" height="240" shape-rendering="crispEdges" role="img" aria-label="QR code to scan with your authenticator app" data-qr><rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    ))
}

async fn page_with(
    state: &web::Data<AppState>,
    session: Session,
    status: StatusCode,
    mut shown: Shown,
) -> Result<HttpResponse, PageError> {
    let user_id = session.user_id.clone();
    let keep_pending = shown.enrolment.is_none() && !shown.errors.is_empty();
    let (chrome, found, required, pending) = db(state, move |conn| {
        let chrome = Chrome::load(conn, &session, "Second factor")?;
        let found = second_factor::status(conn, &user_id)?;
        let required = second_factor::restricted(conn, &user_id)?;
        // A confirmation sent back: the same QR code again.
        let pending = match keep_pending {
            true => second_factor::pending(conn, &user_id)?,
            false => None,
        };
        Ok((chrome, found, required, pending))
    })
    .await?;
    if shown.enrolment.is_none() {
        shown.enrolment = pending;
    }
    let enrolment = match shown.enrolment {
        Some(started) => Some((
            qr_svg(&started.otpauth_uri)?,
            started.secret,
            started.otpauth_uri,
        )),
        None => None,
    };
    let page = SecondFactorPage {
        chrome,
        state: found.state.map_or("none", State::as_str),
        required,
        recovery_codes_left: found.recovery_codes_left,
        enrolment,
        recovery_codes: shown.recovery_codes,
        notice: shown.notice,
        errors: shown.errors,
        problem: shown.problem,
    };
    render(status, &page)
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn page(
    state: web::Data<AppState>,
    SignedIn(session): SignedIn,
    query: crate::http::extract::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = match query.done.as_deref() {
        Some("off") => "Your second factor is turned off: signing in asks for your password alone.",
        _ => "",
    };
    page_with(
        &state,
        session,
        StatusCode::OK,
        Shown {
            notice: notice.into(),
            ..Shown::default()
        },
    )
    .await
}

/// A refusal of the service, as the page shows it.
fn refusal(error: Error, code_field: &str) -> Result<(StatusCode, Shown), PageError> {
    let mut shown = Shown::default();
    let status = match error {
        Error::Forbidden {
            code: "wrong_password",
            ..
        } => {
            shown.errors.add(
                "current_password",
                "This is not your current password. Nothing was changed.",
            );
            StatusCode::FORBIDDEN
        }
        Error::Forbidden {
            code: "wrong_second_factor_code",
            ..
        } => {
            shown.errors.add(
                code_field,
                "This code is wrong, was used already, or is too old. Type the one your app shows now.",
            );
            StatusCode::FORBIDDEN
        }
        Error::RateLimited {
            retry_after_secs, ..
        } => {
            shown.problem = too_many(retry_after_secs);
            StatusCode::TOO_MANY_REQUESTS
        }
        error @ Error::Invalid { .. } => {
            shown.errors = FieldErrors::from_error(error)?;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Error::Conflict { message, .. } => {
            shown.problem = format!("{message}.");
            StatusCode::CONFLICT
        }
        other => return Err(other.into()),
    };
    Ok((status, shown))
}

async fn show_refusal(
    state: &web::Data<AppState>,
    session: Session,
    error: Error,
    code_field: &str,
) -> Result<HttpResponse, PageError> {
    let (status, shown) = refusal(error, code_field)?;
    page_with(state, session, status, shown).await
}

/// Starts an enrolment: the page shows the QR code and the secret, once.
async fn start(state: web::Data<AppState>, form: Form) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let user_id = session.user_id.clone();
    match state
        .db
        .run(move |conn| second_factor::start(conn, &user_id))
        .await
    {
        Ok(started) => {
            let shown = Shown {
                enrolment: Some(started),
                ..Shown::default()
            };
            page_with(&state, session, StatusCode::OK, shown).await
        }
        Err(error) => show_refusal(&state, session, error, "code").await,
    }
}

/// Confirms the enrolment with a code; the page shows the recovery codes,
/// once.
async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let address = crate::auth::http::address_of(&req, &state.settings);
    let confirmed = match Answer::code("code", form.fields.get("code")) {
        Ok(answer) => {
            second_factor::confirm(
                &state.db,
                &state.settings,
                &session.user_id,
                answer,
                &address,
            )
            .await
        }
        Err(error) => Err(error),
    };
    match confirmed {
        Ok(codes) => {
            let shown = Shown {
                recovery_codes: codes,
                notice: "Your second factor is set up: from now on, signing in asks for a code from your app.".into(),
                ..Shown::default()
            };
            page_with(&state, session, StatusCode::OK, shown).await
        }
        Err(error) => show_refusal(&state, session, error, "code").await,
    }
}

/// Turns the second factor off, with the password and a code.
async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let password = form.fields.get("current_password").to_owned();
    let mut shown = Shown::default();
    if password.is_empty() {
        shown
            .errors
            .add("current_password", "Enter your current password.");
    }
    let answer = match Answer::from_fields(
        "code",
        form.fields.opt("code").as_deref(),
        form.fields.opt("recovery_code").as_deref(),
    ) {
        Ok(Some(answer)) => Some(answer),
        Ok(None) => {
            shown.errors.add(
                "code",
                "Enter the code your app shows (or, without it, a recovery code).",
            );
            None
        }
        Err(error) => {
            for (field, message) in FieldErrors::from_error(error)?.0 {
                shown.errors.add(&field, message);
            }
            None
        }
    };
    let Some(answer) = answer.filter(|_| shown.errors.is_empty()) else {
        return page_with(&state, session, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
    };
    let address = crate::auth::http::address_of(&req, &state.settings);
    match second_factor::disable(
        &state.db,
        &state.settings,
        &session.user_id,
        password,
        answer,
        &address,
    )
    .await
    {
        Ok(()) => Ok(see_other("/account/second-factor?done=off")),
        Err(error) => show_refusal(&state, session, error, "code").await,
    }
}

/// New recovery codes, with a code; shown once.
async fn regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let address = crate::auth::http::address_of(&req, &state.settings);
    let renewed = match Answer::code("renew_code", form.fields.get("renew_code")) {
        Ok(answer) => {
            second_factor::regenerate_recovery_codes(
                &state.db,
                &state.settings,
                &session.user_id,
                answer,
                &address,
            )
            .await
        }
        Err(error) => Err(error),
    };
    match renewed {
        Ok(codes) => {
            let shown = Shown {
                recovery_codes: codes,
                notice: "New recovery codes: the old ones no longer work.".into(),
                ..Shown::default()
            };
            page_with(&state, session, StatusCode::OK, shown).await
        }
        Err(error) => show_refusal(&state, session, error, "renew_code").await,
    }
}
