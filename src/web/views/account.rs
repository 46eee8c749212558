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

use super::{db, render, see_other, Chrome, FieldErrors};
use crate::auth::account;
use crate::auth::service::authenticate;
use crate::collectives::{self, AcceptInvitation};
use crate::error::Error;
use crate::http::AppState;
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
        );
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
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
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

fn sign_in_form(
    req: &HttpRequest,
    status: StatusCode,
    email: String,
    next: String,
    errors: FieldErrors,
    problem: String,
) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = extract::form_token(req);
    let page = SignInPage {
        chrome: Chrome::bare("Sign in"),
        csrf,
        email,
        next,
        errors,
        problem,
    };
    let mut response = render(status, &page)?;
    if let Some(cookie) = cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| PageError::Domain(Error::Internal(e.to_string())))?;
    }
    Ok(response)
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
    sign_in_form(
        &req,
        StatusCode::OK,
        String::new(),
        next,
        FieldErrors::default(),
        String::new(),
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
    let signed_in = match authenticate(&state.db, &state.settings, &email, password, &address).await
    {
        Ok(user_id) => db(&state, move |conn| session::start(conn, &user_id, ttl)).await,
        Err(error) => Err(PageError::from(error)),
    };
    match signed_in {
        Ok((cookie, _)) => {
            // A fresh session id at every sign-in: no session fixation.
            let mut response = see_other(&next);
            response
                .add_cookie(&extract::session_cookie(&req, cookie))
                .map_err(|e| PageError::Domain(Error::Internal(e.to_string())))?;
            Ok(response)
        }
        Err(PageError::SignIn { .. }) => sign_in_form(
            &req,
            StatusCode::UNAUTHORIZED,
            email,
            next,
            FieldErrors::default(),
            "The email or password is wrong. Check both and try again.".into(),
        ),
        Err(PageError::Domain(Error::RateLimited { retry_after_secs, .. })) => sign_in_form(
            &req,
            StatusCode::TOO_MANY_REQUESTS,
            email,
            next,
            FieldErrors::default(),
            format!(
                "Too many failed sign-ins for this account or from this address. Try again in {} minutes.",
                retry_after_secs.div_ceil(60).max(1)
            ),
        ),
        Err(other) => Err(other),
    }
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
    let mut response = see_other("/sign-in");
    response
        .add_cookie(&extract::cleared_session_cookie(&req))
        .map_err(|e| PageError::Domain(Error::Internal(e.to_string())))?;
    Ok(response)
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
    let mut response = render(status, &page)?;
    if let Some(cookie) = cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| PageError::Domain(Error::Internal(e.to_string())))?;
    }
    Ok(response)
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
                let mut response = see_other(&target);
                response
                    .add_cookie(&extract::session_cookie(&req, cookie))
                    .map_err(|e| PageError::Domain(Error::Internal(e.to_string())))?;
                return Ok(response);
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
    name: String,
    email: String,
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

async fn account_form(
    state: &web::Data<AppState>,
    session: Session,
    status: StatusCode,
    notice: String,
    errors: FieldErrors,
    problem: String,
) -> Result<HttpResponse, PageError> {
    let (chrome, profile) = db(state, move |conn| {
        let chrome = Chrome::load(conn, &session, "Your account")?;
        let profile = collectives::service::profile(conn, &session.principal())?;
        Ok((chrome, profile))
    })
    .await?;
    let page = AccountPage {
        chrome,
        name: profile.display_name,
        email: profile.email,
        notice,
        password_hint: password_hint(),
        errors,
        problem,
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
        _ => "",
    };
    account_form(
        &state,
        session,
        StatusCode::OK,
        notice.into(),
        FieldErrors::default(),
        String::new(),
    )
    .await
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
        return account_form(
            &state,
            session,
            StatusCode::UNPROCESSABLE_ENTITY,
            String::new(),
            errors,
            String::new(),
        )
        .await;
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
    let (status, errors, problem) = match changed {
        Ok(_) => return Ok(see_other("/account?done=password")),
        Err(Error::Forbidden {
            code: "wrong_password",
            ..
        }) => {
            let mut errors = FieldErrors::default();
            errors.add(
                "current_password",
                "This is not your current password. Nothing was changed.",
            );
            (StatusCode::FORBIDDEN, errors, String::new())
        }
        Err(Error::RateLimited {
            retry_after_secs, ..
        }) => (
            StatusCode::TOO_MANY_REQUESTS,
            FieldErrors::default(),
            format!(
                "Too many wrong passwords for this account or from this address. Try again in {} minutes.",
                retry_after_secs.div_ceil(60).max(1)
            ),
        ),
        Err(error @ Error::Invalid { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FieldErrors::from_error(error)?,
            String::new(),
        ),
        Err(other) => return Err(other.into()),
    };
    account_form(&state, session, status, String::new(), errors, problem).await
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
    let mut response = see_other("/sign-in");
    response
        .add_cookie(&extract::cleared_session_cookie(&req))
        .map_err(|e| PageError::Domain(Error::Internal(e.to_string())))?;
    Ok(response)
}
