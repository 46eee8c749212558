//! Signing in and out, accepting an invitation, and a person's own account
//! page (`/account`: change the password, sign out everywhere, through
//! `auth::account`, the API's own services). Sign-in goes through
//! `auth::service::authenticate`, the token endpoint's own check, so the
//! same throttle counts failures from both. Accepting goes through
//! `collectives::service::accept_invitation`, the API's own: a new account
//! sets its password there; an existing account accepts while signed in as
//! itself (its session), never by a password.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{db, render, second_factor, see_other, Chrome, FieldErrors};
use crate::auth::account;
use crate::auth::profile::{self, ProfileChange};
use crate::auth::reset;
use crate::auth::service::{authenticate, Authenticated};
use crate::collectives::{self, AcceptInvitation};
use crate::error::Error;
use crate::http::AppState;
use crate::personal_data::erasure;
use crate::web::errors::PageError;
use crate::web::extract::{self, Form, Session, SignedIn, Visitor};
use crate::web::{format, session};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sign-in", web::get().to(sign_in_page))
        .route("/sign-in", web::post().to(sign_in))
        .route("/sign-out", web::post().to(sign_out))
        .route("/invitations/accept", web::get().to(invitation_page))
        .route("/invitations/accept", web::post().to(accept))
        .route("/account", web::get().to(account_page))
        .route("/account/password", web::post().to(change_password))
        .route(
            "/account/sign-out-everywhere",
            web::post().to(sign_out_everywhere),
        )
        .route("/account/profile", web::post().to(save_profile))
        .route("/account/erasure", web::post().to(erase_account))
        .route("/account/email", web::post().to(change_email))
        .route("/account/email/confirm", web::get().to(email_confirm_page))
        .route("/account/email/confirm", web::post().to(confirm_email))
        .route(
            "/c/{collective}/password-resets",
            web::get().to(reset_issue_page),
        )
        .route(
            "/c/{collective}/password-resets",
            web::post().to(issue_reset),
        )
        .route("/password-reset", web::get().to(reset_page))
        .route("/password-reset", web::post().to(reset_password));
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    csrf: String,
    email: String,
    next: String,
    errors: FieldErrors,
    problem: String,
    /// What was just done (a password set through a reset link …).
    notice: String,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    done: Option<String>,
}

/// Only a path of this site, never another host (`//evil`, `https://…`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_owned()
        }
        _ => "/".into(),
    }
}

pub(super) fn sign_in_form(
    req: &HttpRequest,
    status: StatusCode,
    email: String,
    next: String,
    errors: FieldErrors,
    problem: String,
) -> Result<HttpResponse, PageError> {
    sign_in_with_notice(req, status, email, next, errors, problem, String::new())
}

fn sign_in_with_notice(
    req: &HttpRequest,
    status: StatusCode,
    email: String,
    next: String,
    errors: FieldErrors,
    problem: String,
    notice: String,
) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = extract::form_token(req);
    let page = SignInPage {
        chrome: Chrome::bare("Sign in"),
        csrf,
        email,
        next,
        errors,
        problem,
        notice,
    };
    with_cookie(render(status, &page)?, cookie)
}

async fn sign_in_page(
    req: HttpRequest,
    visitor: Visitor,
    query: crate::http::extract::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(query.next.as_deref());
    if visitor.0.is_some() {
        return Ok(see_other(&next));
    }
    let notice = match query.done.as_deref() {
        Some("reset") => "Your new password is set, and every session of yours has ended. Sign in with the new password.",
        Some("email") => "Your email address is changed. Sign in with the new one.",
        Some("erased") => "Your account is erased, in every collective you belonged to. Thank you for having been part of it.",
        _ => "",
    };
    sign_in_with_notice(
        &req,
        StatusCode::OK,
        String::new(),
        next,
        FieldErrors::default(),
        String::new(),
        notice.to_owned(),
    )
}

async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let email = form.fields.get("email").trim().to_owned();
    let password = form.fields.get("password").to_owned();
    let next = safe_next(Some(form.fields.get("next")));
    let mut errors = FieldErrors::default();
    if email.is_empty() {
        errors.add("email", "Enter your email address.");
    }
    if password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    if !errors.is_empty() {
        return sign_in_form(
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            email,
            next,
            errors,
            String::new(),
        );
    }
    let address = crate::auth::http::address_of(&req, &state.settings);
    let ttl = state.settings.session_ttl_secs;
    // The password is checked off the database connection (see
    // `auth::service::authenticate`), then the session starts.
    let signed_in =
        match authenticate(&state.db, &state.settings, &email, password, None, &address).await {
            Ok(Authenticated::User(user_id)) => {
                db(&state, move |conn| session::start(conn, &user_id, ttl)).await
            }
            // The password is right; the code comes on a page of its own,
            // carrying a signed, short-lived challenge (no session yet).
            Ok(Authenticated::SecondFactorNeeded(user_id)) => {
                let challenge = state.keys.issue_challenge(&user_id);
                return second_factor::code_form(
                    &req,
                    StatusCode::OK,
                    challenge,
                    next,
                    FieldErrors::default(),
                    String::new(),
                );
            }
            Err(error) => Err(PageError::from(error)),
        };
    sign_in_outcome(&req, signed_in, email, next)
}

/// The answer to a sign-in's last step: the new session's cookie and off
/// to `next`, or the sign-in form again with what went wrong.
pub(super) fn sign_in_outcome(
    req: &HttpRequest,
    signed_in: Result<(String, session::SessionRow), PageError>,
    email: String,
    next: String,
) -> Result<HttpResponse, PageError> {
    match signed_in {
        Ok((cookie, _)) => {
            // A fresh session id at every sign-in: no session fixation.
            with_cookie(see_other(&next), Some(extract::session_cookie(req, cookie)))
        }
        Err(PageError::SignIn { .. }) => sign_in_form(
            req,
            StatusCode::UNAUTHORIZED,
            email,
            next,
            FieldErrors::default(),
            "The email or password is wrong. Check both and try again.".into(),
        ),
        Err(PageError::Domain(Error::RateLimited {
            retry_after_secs, ..
        })) => sign_in_form(
            req,
            StatusCode::TOO_MANY_REQUESTS,
            email,
            next,
            FieldErrors::default(),
            too_many(retry_after_secs),
        ),
        Err(other) => Err(other),
    }
}

/// What a locked sign-in says.
pub(super) fn too_many(retry_after_secs: u64) -> String {
    format!(
        "Too many failed sign-ins for this account or from this address. Try again in {} minutes.",
        retry_after_secs.div_ceil(60).max(1)
    )
}

/// Ends the session on the server, then forgets the cookie.
async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    if let Some(session) = form.session {
        let cookie = session.cookie.clone();
        db(&state, move |conn| session::end(conn, &cookie)).await?;
    }
    with_cookie(
        see_other("/sign-in"),
        Some(extract::cleared_session_cookie(&req)),
    )
}

#[derive(Template)]
#[template(path = "accept.html")]
struct AcceptPage {
    chrome: Chrome,
    csrf: String,
    token: String,
    invitation: collectives::service::InvitationDetails,
    expires: String,
    /// The signed-in person's name, when someone is signed in.
    signed_in_as: Option<String>,
    /// Where signing in comes back to: this page.
    sign_in_link: String,
    password_hint: String,
    errors: FieldErrors,
    problem: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The acceptance page for the invitation `token`, as `visitor` sees it.
async fn accept_form(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    visitor: &Visitor,
    token: String,
    status: StatusCode,
    errors: FieldErrors,
    problem: String,
) -> Result<HttpResponse, PageError> {
    let session = visitor.0.clone();
    let lookup = token.clone();
    let (invitation, chrome) = db(state, move |conn| {
        let invitation = collectives::service::invitation_details(conn, &lookup)?;
        let chrome = match &session {
            Some(s) => Chrome::load(conn, s, "Accept your invitation")?,
            None => Chrome::bare("Accept your invitation"),
        };
        Ok((invitation, chrome))
    })
    .await?;
    let (csrf, cookie) = match &visitor.0 {
        Some(s) => (s.csrf.clone(), None),
        None => extract::form_token(req),
    };
    let zone = invitation
        .time_zone
        .parse::<chrono_tz::Tz>()
        .unwrap_or(chrono_tz::UTC);
    let here = format!(
        "/invitations/accept?{}",
        serde_urlencoded::to_string([("token", &token)]).unwrap_or_default()
    );
    let page = AcceptPage {
        signed_in_as: visitor.0.as_ref().and(chrome.user.clone()),
        chrome,
        csrf,
        expires: format::datetime(invitation.expires_at, zone),
        sign_in_link: format!(
            "/sign-in?{}",
            serde_urlencoded::to_string([("next", &here)]).unwrap_or_default()
        ),
        password_hint: password_hint(),
        token,
        invitation,
        errors,
        problem,
    };
    with_cookie(render(status, &page)?, cookie)
}

async fn invitation_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    visitor: Visitor,
    query: crate::http::extract::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = query.token.clone().unwrap_or_default();
    accept_form(
        &req,
        &state,
        &visitor,
        token,
        StatusCode::OK,
        FieldErrors::default(),
        String::new(),
    )
    .await
}

/// Accepts the invitation: signed in, as that person (no password); not
/// signed in, as a new account with the password chosen here, then signed
/// in. An existing account is never accepted by a password: it is asked
/// to sign in first.
async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let token = form.fields.get("token").trim().to_owned();
    let visitor = Visitor(form.session.clone());
    let signed_in = form.session.as_ref().map(|s| s.user_id.clone());
    let mut errors = FieldErrors::default();
    let password = if signed_in.is_some() {
        None
    } else {
        let password = form.fields.get("password").to_owned();
        if password.is_empty() {
            errors.add("password", "Choose a password for your new account.");
        } else if form.fields.get("password_again") != password {
            errors.add(
                "password_again",
                "The two passwords differ: type the same one twice.",
            );
        }
        Some(password)
    };
    if !errors.is_empty() {
        return accept_form(
            &req,
            &state,
            &visitor,
            token,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            String::new(),
        )
        .await;
    }
    let input = AcceptInvitation {
        invitation_token: token.clone(),
        password,
    };
    let (status, errors, problem) =
        match collectives::service::accept_invitation(&state.db, signed_in.clone(), input).await {
            Ok(membership) => {
                let target = format!("/c/{}", membership.collective_id);
                if signed_in.is_some() {
                    return Ok(see_other(&target));
                }
                // The new account's first session: it just chose its password.
                let user_id = membership.user_id.unwrap_or_default();
                let ttl = state.settings.session_ttl_secs;
                let (cookie, _) = db(&state, move |conn| session::start(conn, &user_id, ttl)).await?;
                return with_cookie(
                    see_other(&target),
                    Some(extract::session_cookie(&req, cookie)),
                );
            }
            Err(Error::Unauthenticated { .. }) => (
                StatusCode::UNAUTHORIZED,
                FieldErrors::default(),
                "This email address already has an account. Sign in as it (the link below), then accept the invitation.".to_owned(),
            ),
            Err(Error::Forbidden { .. }) => (
                StatusCode::FORBIDDEN,
                FieldErrors::default(),
                "This invitation is for another email address than the account you are signed in as. Sign out, then open the link again.".to_owned(),
            ),
            Err(error @ Error::Invalid { .. }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                FieldErrors::from_error(error)?,
                String::new(),
            ),
            Err(other) => return Err(other.into()),
        };
    accept_form(&req, &state, &visitor, token, status, errors, problem).await
}

/// What a new password must be, in the words of the forms that set one.
fn password_hint() -> String {
    format!(
        "At least {} characters, and not one of the most common passwords. A few unrelated words are easy to remember.",
        crate::auth::password::MIN_PASSWORD_CHARS
    )
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    email: String,
    /// The profile form's values: as stored, or as sent back with messages.
    display_name: String,
    phone: String,
    other_contact: String,
    /// An email change waiting for its confirmation: address, until when.
    pending_email: Option<(String, String)>,
    /// The confirmation link of an email change just asked for: shown once.
    email_link: Option<String>,
    /// What was just done, said at the top.
    notice: String,
    password_hint: String,
    errors: FieldErrors,
    problem: String,
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

/// What the account page shows besides the stored profile.
#[derive(Default)]
struct Shown {
    notice: String,
    errors: FieldErrors,
    problem: String,
    email_link: Option<String>,
    /// The profile form as sent, when it comes back with messages.
    profile_form: Option<(String, String, String)>,
}

async fn account_form(
    state: &web::Data<AppState>,
    session: Session,
    status: StatusCode,
    shown: Shown,
) -> Result<HttpResponse, PageError> {
    let user_id = session.user_id.clone();
    let (chrome, found) = db(state, move |conn| {
        let chrome = Chrome::load(conn, &session, "Your account")?;
        let found = profile::get(conn, &user_id)?;
        Ok((chrome, found))
    })
    .await?;
    let (name, phone, other_contact) = shown.profile_form.unwrap_or((
        found.display_name,
        found.phone.unwrap_or_default(),
        found.other_contact.unwrap_or_default(),
    ));
    let page = AccountPage {
        chrome,
        email: found.email,
        display_name: name,
        phone,
        other_contact,
        pending_email: found
            .pending_email
            .map(|(email, until)| (email, format::datetime(until.and_utc(), chrono_tz::UTC))),
        email_link: shown.email_link,
        notice: shown.notice,
        password_hint: password_hint(),
        errors: shown.errors,
        problem: shown.problem,
    };
    render(status, &page)
}

async fn account_page(
    state: web::Data<AppState>,
    SignedIn(session): SignedIn,
    query: crate::http::extract::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = match query.done.as_deref() {
        Some("password") => {
            "Your password is changed. Every other session of yours is signed out; this one stays."
        }
        Some("profile") => "Your profile is saved.",
        Some("email") => "Your email address is changed. Sign in with the new one from now on.",
        _ => "",
    };
    account_form(
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

/// A refusal of the services below, as the account page shows it: beside
/// the field it is about, or at the top.
fn refusal(error: Error, password_field: &str) -> Result<(StatusCode, Shown), PageError> {
    let mut shown = Shown::default();
    let status = match error {
        Error::Forbidden {
            code: "wrong_password",
            ..
        } => {
            shown.errors.add(
                password_field,
                "This is not your current password. Nothing was changed.",
            );
            StatusCode::FORBIDDEN
        }
        Error::RateLimited {
            retry_after_secs, ..
        } => {
            shown.problem = format!(
                "Too many wrong passwords for this account or from this address. Try again in {} minutes.",
                retry_after_secs.div_ceil(60).max(1)
            );
            StatusCode::TOO_MANY_REQUESTS
        }
        error @ Error::Invalid { .. } => {
            shown.errors = FieldErrors::from_error(error)?;
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Error::Conflict {
            code: "last_admin", ..
        } => {
            shown.problem = "You are the last active admin of a collective: make someone else an admin there first. Nothing was erased.".into();
            StatusCode::CONFLICT
        }
        other => return Err(other.into()),
    };
    Ok((status, shown))
}

/// Changes the password (the current one first), ends every other session
/// and API sign-in; this session stays.
async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let current = form.fields.get("current_password").to_owned();
    let new = form.fields.get("new_password").to_owned();
    let mut errors = FieldErrors::default();
    if current.is_empty() {
        errors.add("current_password", "Enter your current password.");
    }
    if new.is_empty() {
        errors.add("new_password", "Choose a new password.");
    } else if form.fields.get("new_password_again") != new {
        errors.add(
            "new_password_again",
            "The two new passwords differ: type the same one twice.",
        );
    }
    if !errors.is_empty() {
        let shown = Shown {
            errors,
            ..Shown::default()
        };
        return account_form(&state, session, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
    }
    let address = crate::auth::http::address_of(&req, &state.settings);
    let changed = account::change_password(
        &state.db,
        &state.keys,
        &state.settings,
        &session.user_id,
        current,
        new,
        &address,
        account::Current::WebSession(session.cookie.clone()),
    )
    .await;
    match changed {
        Ok(_) => Ok(see_other("/account?done=password")),
        Err(error) => {
            let (status, shown) = refusal(error, "current_password")?;
            account_form(&state, session, status, shown).await
        }
    }
}

/// Saves the name and contact details.
async fn save_profile(state: web::Data<AppState>, form: Form) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let sent = (
        form.fields.get("display_name").to_owned(),
        form.fields.get("phone").to_owned(),
        form.fields.get("other_contact").to_owned(),
    );
    let change = ProfileChange {
        display_name: Some(sent.0.clone()),
        phone: Some(Some(sent.1.clone())),
        other_contact: Some(Some(sent.2.clone())),
    };
    let user_id = session.user_id.clone();
    match db(&state, move |conn| profile::update(conn, &user_id, change)).await {
        Ok(_) => Ok(see_other("/account?done=profile")),
        Err(PageError::Domain(error @ Error::Invalid { .. })) => {
            let shown = Shown {
                errors: FieldErrors::from_error(error)?,
                profile_form: Some(sent),
                ..Shown::default()
            };
            account_form(&state, session, StatusCode::UNPROCESSABLE_ENTITY, shown).await
        }
        Err(other) => Err(other),
    }
}

/// Asks for an email change: the confirmation link is shown once.
async fn change_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let new_email = form.fields.get("new_email").trim().to_owned();
    let password = form.fields.get("email_password").to_owned();
    let mut errors = FieldErrors::default();
    if new_email.is_empty() {
        errors.add("new_email", "Enter the new email address.");
    }
    if password.is_empty() {
        errors.add("email_password", "Enter your current password.");
    }
    if !errors.is_empty() {
        let shown = Shown {
            errors,
            ..Shown::default()
        };
        return account_form(&state, session, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
    }
    let address = crate::auth::http::address_of(&req, &state.settings);
    let asked = profile::request_email_change(
        &state.db,
        &state.settings,
        &session.user_id,
        &new_email,
        password,
        &address,
    )
    .await;
    let (status, shown) = match asked {
        Ok(change) => (
            StatusCode::OK,
            Shown {
                email_link: Some(crate::auth::profile_http::confirmation_path(&change.token)),
                ..Shown::default()
            },
        ),
        Err(Error::Invalid { field, message }) if field == "current_password" => refusal(
            Error::Invalid {
                field: "email_password".into(),
                message,
            },
            "email_password",
        )?,
        Err(error) => refusal(error, "email_password")?,
    };
    account_form(&state, session, status, shown).await
}

#[derive(Template)]
#[template(path = "account_email_confirm.html")]
struct EmailConfirmPage {
    chrome: Chrome,
    csrf: String,
    token: String,
    problem: String,
}

#[derive(Deserialize)]
struct TokenOnly {
    token: Option<String>,
}

/// A page (and a cookie) for forms shown with or without a session.
fn chrome_and_csrf(
    req: &HttpRequest,
    visitor: &Visitor,
    title: &str,
) -> (Chrome, String, Option<actix_web::cookie::Cookie<'static>>) {
    match &visitor.0 {
        Some(session) => {
            let mut chrome = Chrome::bare(title);
            chrome.csrf = session.csrf.clone();
            (chrome, session.csrf.clone(), None)
        }
        None => {
            let (csrf, cookie) = extract::form_token(req);
            (Chrome::bare(title), csrf, cookie)
        }
    }
}

pub(super) fn with_cookie(
    mut response: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> Result<HttpResponse, PageError> {
    if let Some(cookie) = cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| PageError::Domain(Error::Internal(e.to_string())))?;
    }
    Ok(response)
}

/// The page an email-change link opens: one button confirms it (opening a
/// link changes nothing by itself).
async fn email_confirm_page(
    req: HttpRequest,
    visitor: Visitor,
    query: crate::http::extract::Query<TokenOnly>,
) -> Result<HttpResponse, PageError> {
    let (chrome, csrf, cookie) = chrome_and_csrf(&req, &visitor, "Confirm your email address");
    let page = EmailConfirmPage {
        chrome,
        csrf,
        token: query.token.clone().unwrap_or_default(),
        problem: String::new(),
    };
    with_cookie(render(StatusCode::OK, &page)?, cookie)
}

async fn confirm_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let token = form.fields.get("token").trim().to_owned();
    let signed_in = form.session.is_some();
    let lookup = token.clone();
    let problem = match db(&state, move |conn| {
        profile::confirm_email_change(conn, &lookup)
    })
    .await
    {
        Ok(_) if signed_in => return Ok(see_other("/account?done=email")),
        Ok(_) => return Ok(see_other("/sign-in?done=email")),
        Err(PageError::Domain(Error::NotFound { .. })) => {
            "This confirmation link is not valid: it was used already, replaced by a newer one, or mistyped."
        }
        Err(PageError::Domain(Error::Conflict {
            code: "email_taken",
            ..
        })) => {
            "Another account has this email address already, so yours stays as it was."
        }
        Err(PageError::Domain(Error::Conflict { .. })) => {
            "This confirmation link has expired. Ask for the change again on your account page."
        }
        Err(other) => return Err(other),
    };
    let visitor = Visitor(form.session.clone());
    let (chrome, csrf, cookie) = chrome_and_csrf(&req, &visitor, "Confirm your email address");
    let page = EmailConfirmPage {
        chrome,
        csrf,
        token,
        problem: problem.into(),
    };
    with_cookie(render(StatusCode::CONFLICT, &page)?, cookie)
}

#[derive(Template)]
#[template(path = "account_reset_issue.html")]
struct ResetIssuePage {
    chrome: Chrome,
    collective_id: String,
    email: String,
    /// The link just issued: shown once.
    link: Option<String>,
    errors: FieldErrors,
}

/// Admins: a form to issue a reset link for a member.
async fn reset_issue_page(
    state: web::Data<AppState>,
    SignedIn(session): SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let collective_id = path.into_inner();
    let lookup = collective_id.clone();
    let chrome = db(&state, move |conn| {
        // Only admins see the form: the same check the issuing makes.
        crate::auth::access::authorize(
            conn,
            &session.principal(),
            &lookup,
            crate::auth::policy::Permission::IssuePasswordResets,
            "collective",
        )?;
        Chrome::load(conn, &session, "Password-reset links")
    })
    .await?;
    let page = ResetIssuePage {
        chrome,
        collective_id,
        email: String::new(),
        link: None,
        errors: FieldErrors::default(),
    };
    render(StatusCode::OK, &page)
}

async fn issue_reset(
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let collective_id = path.into_inner();
    let email = form.fields.get("email").trim().to_owned();
    let (lookup, address) = (collective_id.clone(), email.clone());
    let (chrome, issued) = db(&state, move |conn| {
        let issued = match reset::issue(conn, &session.principal(), &lookup, &address) {
            Err(refused @ (Error::NotFound { .. } | Error::Forbidden { .. })) => {
                return Err(refused)
            }
            other => other,
        };
        Ok((
            Chrome::load(conn, &session, "Password-reset links")?,
            issued,
        ))
    })
    .await?;
    let (status, link, errors) = match issued {
        Ok(issued) => (
            StatusCode::OK,
            Some(crate::auth::reset_http::reset_path(&issued.token)),
            FieldErrors::default(),
        ),
        Err(error @ Error::Invalid { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            FieldErrors::from_error(error)?,
        ),
        Err(other) => return Err(other.into()),
    };
    let page = ResetIssuePage {
        chrome,
        collective_id,
        email,
        link,
        errors,
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "account_reset.html")]
struct ResetPage {
    chrome: Chrome,
    csrf: String,
    token: String,
    /// The account the link is for; empty when the link cannot be used.
    email: String,
    expires: String,
    password_hint: String,
    errors: FieldErrors,
    problem: String,
}

async fn reset_form(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    token: String,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<HttpResponse, PageError> {
    let lookup = token.clone();
    let link = db(state, move |conn| reset::find(conn, &lookup)).await;
    let (status, email, expires, problem) = match link {
        Ok(link) => (
            status,
            link.email,
            format::datetime(link.expires_at.and_utc(), chrono_tz::UTC),
            String::new(),
        ),
        Err(PageError::Domain(Error::NotFound { .. })) => (
            StatusCode::NOT_FOUND,
            String::new(),
            String::new(),
            "This password-reset link is not valid: it was used already, replaced by a newer one, or mistyped. Ask an admin of your collective for a new one.".to_owned(),
        ),
        Err(PageError::Domain(Error::Conflict { .. })) => (
            StatusCode::CONFLICT,
            String::new(),
            String::new(),
            "This password-reset link has expired (they work for a day). Ask an admin of your collective for a new one.".to_owned(),
        ),
        Err(other) => return Err(other),
    };
    let (csrf, cookie) = extract::form_token(req);
    let page = ResetPage {
        chrome: Chrome::bare("Choose a new password"),
        csrf,
        token,
        email,
        expires,
        password_hint: password_hint(),
        errors,
        problem,
    };
    with_cookie(render(status, &page)?, cookie)
}

async fn reset_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: crate::http::extract::Query<TokenOnly>,
) -> Result<HttpResponse, PageError> {
    let token = query.token.clone().unwrap_or_default();
    reset_form(&req, &state, token, StatusCode::OK, FieldErrors::default()).await
}

/// Sets the new password through the link; every session ends, this
/// browser's too, and the person signs in with the new password.
async fn reset_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let token = form.fields.get("token").trim().to_owned();
    let new = form.fields.get("new_password").to_owned();
    let mut errors = FieldErrors::default();
    if new.is_empty() {
        errors.add("new_password", "Choose a new password.");
    } else if form.fields.get("new_password_again") != new {
        errors.add(
            "new_password_again",
            "The two passwords differ: type the same one twice.",
        );
    }
    if !errors.is_empty() {
        return reset_form(
            &req,
            &state,
            token,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    }
    match reset::complete(&state.db, token.clone(), new).await {
        Ok(()) => {
            let mut response = see_other("/sign-in?done=reset");
            response
                .add_cookie(&extract::cleared_session_cookie(&req))
                .map_err(|e| PageError::Domain(Error::Internal(e.to_string())))?;
            Ok(response)
        }
        Err(error @ Error::Invalid { .. }) => {
            let errors = FieldErrors::from_error(error)?;
            reset_form(
                &req,
                &state,
                token,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
            )
            .await
        }
        // The link's own refusals: the page says them.
        Err(Error::NotFound { .. } | Error::Conflict { .. }) => {
            reset_form(&req, &state, token, StatusCode::OK, FieldErrors::default()).await
        }
        Err(other) => Err(other.into()),
    }
}

/// Ends every session and API sign-in of the person, this one too.
async fn sign_out_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let user_id = form.signed_in()?.user_id.clone();
    db(&state, move |conn| {
        account::sign_out_everywhere(conn, &user_id)
    })
    .await?;
    with_cookie(
        see_other("/sign-in"),
        Some(extract::cleared_session_cookie(&req)),
    )
}

/// Erases the person everywhere (`personal_data::erasure::erase_self`, the
/// API's own, the password checked like a sign-in): every session ends, this
/// one too, and they land signed out with a notice.
async fn erase_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Form,
) -> Result<HttpResponse, PageError> {
    let session = form.signed_in()?.clone();
    let password = form.fields.get("erase_password").to_owned();
    if password.is_empty() {
        let mut errors = FieldErrors::default();
        errors.add(
            "erase_password",
            "Enter your current password to erase your account.",
        );
        let shown = Shown {
            errors,
            ..Shown::default()
        };
        return account_form(&state, session, StatusCode::UNPROCESSABLE_ENTITY, shown).await;
    }
    let address = crate::auth::http::address_of(&req, &state.settings);
    let erased = erasure::erase_self(
        &state.db,
        &state.settings,
        &session.user_id,
        password,
        &address,
    )
    .await;
    match erased {
        Ok(_) => {
            erasure::checkpoint(&state.db).await;
            with_cookie(
                see_other("/sign-in?done=erased"),
                Some(extract::cleared_session_cookie(&req)),
            )
        }
        Err(error) => {
            let (status, shown) = refusal(error, "erase_password")?;
            account_form(&state, session, status, shown).await
        }
    }
}
