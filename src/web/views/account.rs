//! Signing in and out, and accepting an invitation. Sign-in goes through
//! `auth::service::authenticate`, the token endpoint's own check, so the
//! same throttle counts failures from both.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{db, render, see_other, Chrome, FieldErrors};
use crate::auth::service::authenticate;
use crate::error::Error;
use crate::http::AppState;
use crate::web::errors::PageError;
use crate::web::extract::{self, Form, Visitor};
use crate::web::session;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sign-in", web::get().to(sign_in_page))
        .route("/sign-in", web::post().to(sign_in))
        .route("/sign-out", web::post().to(sign_out));
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
