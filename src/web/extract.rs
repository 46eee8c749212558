//! From a browser request to who is asking: the session cookie, and forms
//! checked against their CSRF token before a handler sees them.
//!
//! * [`Visitor`]: whoever is asking, signed in or not.
//! * [`SignedIn`]: a signed-in person; anyone else is sent to sign in.
//! * [`Form`]: a posted form whose `csrf` field matches the session's
//!   token (or, before sign-in, the form cookie's): a form posted from
//!   another site has neither, and is refused before anything changes.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::errors::{PageError, ENROL_PAGE};
use super::session::{self, SessionRow};
use crate::auth::access::Principal;
use crate::auth::password::{digest, digests_match, new_secret};
use crate::auth::second_factor;
use crate::error::Error;
use crate::http::AppState;

/// The session cookie: a random id, HttpOnly, SameSite=Lax, Secure over TLS.
pub const SESSION_COOKIE: &str = "commonpot_session";
/// Before sign-in, forms are tied to this cookie instead of a session.
pub const FORM_COOKIE: &str = "commonpot_form";
/// Largest form body accepted.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    /// The token every form of this session sends back.
    pub csrf: String,
    /// The cookie's value, to end this session or keep it when ending others.
    pub cookie: String,
}

impl Session {
    /// The person as the domain services know callers.
    pub fn principal(&self) -> Principal {
        Principal::User {
            user_id: self.user_id.clone(),
        }
    }
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| PageError::from(Error::Internal("application state missing".into())))
}

/// The session the request's cookie names, if it is live. A person a
/// collective restricts to enrolling a second factor is sent to enrol from
/// every page but that one's (and signing out).
async fn session_of(req: &HttpRequest) -> Result<Option<Session>, PageError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    let state = state(req)?;
    let ttl = state.settings.session_ttl_secs;
    let lookup = cookie.clone();
    let found: Option<(SessionRow, bool)> = state
        .db
        .run(move |conn| {
            let Some(row) = session::find(conn, &lookup, ttl)? else {
                return Ok(None);
            };
            let restricted = second_factor::restricted(conn, &row.user_id)?;
            Ok(Some((row, restricted)))
        })
        .await?;
    let Some((row, restricted)) = found else {
        return Ok(None);
    };
    let path = req.path();
    if restricted && !path.starts_with(ENROL_PAGE) && path != "/sign-out" {
        return Err(PageError::Enrol);
    }
    Ok(Some(Session {
        user_id: row.user_id,
        csrf: row.csrf_token,
        cookie,
    }))
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, PageError>>>>;

/// Whoever is asking.
#[derive(Debug, Clone)]
pub struct Visitor(pub Option<Session>);

impl FromRequest for Visitor {
    type Error = PageError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Visitor(session_of(&req).await?)) })
    }
}

/// Where to come back to after signing in: this page, if it is ours.
fn here(req: &HttpRequest) -> String {
    let uri = req.uri();
    uri.path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into())
}

/// A signed-in person; anyone else is sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Session);

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match session_of(&req).await? {
                Some(session) => Ok(SignedIn(session)),
                None => Err(PageError::SignIn {
                    next: if req.method() == actix_web::http::Method::GET {
                        here(&req)
                    } else {
                        "/".into()
                    },
                }),
            }
        })
    }
}

/// The fields of a posted form, in order (a field may repeat, as checkboxes
/// of one name do).
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The field's value, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// The field's value, trimmed; `None` when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a checkbox was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }
}

/// A posted form that passed its CSRF check; `session` is the signed-in
/// person, if any.
#[derive(Debug, Clone)]
pub struct Form {
    pub session: Option<Session>,
    pub fields: Fields,
}

impl Form {
    /// The signed-in person; a form that needs one sends others to sign in.
    pub fn signed_in(&self) -> Result<&Session, PageError> {
        self.session
            .as_ref()
            .ok_or_else(|| PageError::SignIn { next: "/".into() })
    }
}

impl FromRequest for Form {
    type Error = PageError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|_| PageError::BadForm)?;
            if body.len() > MAX_FORM_BYTES {
                return Err(PageError::BadForm);
            }
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&body).map_err(|_| PageError::BadForm)?;
            let fields = Fields(pairs);
            let sent = fields.get("csrf").to_owned();
            let session = session_of(&req).await?;
            let form_cookie = req.cookie(FORM_COOKIE).map(|c| c.value().to_owned());
            // Compared as digests, in constant time.
            let matches = |expected: &str| {
                !sent.is_empty() && digests_match(&digest(expected), &digest(&sent))
            };
            let valid = session.as_ref().is_some_and(|s| matches(&s.csrf))
                || form_cookie.as_deref().is_some_and(matches);
            if !valid {
                tracing::warn!(path = %req.path(), "form refused: CSRF token missing or wrong");
                return Err(PageError::Csrf);
            }
            // Text holding NUL is refused here (after the CSRF check), as
            // the API's extractors refuse it, before any field reaches a service.
            if let Some((name, _)) = fields
                .0
                .iter()
                .find(|(k, v)| k.contains('\0') || v.contains('\0'))
            {
                let field = if name.contains('\0') {
                    "form"
                } else {
                    name.as_str()
                };
                return Err(PageError::Domain(Error::invalid(
                    field,
                    "must not contain the NUL character (U+0000)",
                )));
            }
            Ok(Form { session, fields })
        })
    }
}

/// Whether the page was asked for over TLS (directly or, as the proxy
/// says, through it): cookies are then marked Secure.
fn over_tls(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

fn cookie<'a>(req: &HttpRequest, name: &'a str, value: String) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(over_tls(req))
        .finish()
}

/// The cookie that carries a new session.
pub fn session_cookie(req: &HttpRequest, value: String) -> Cookie<'static> {
    cookie(req, SESSION_COOKIE, value)
}

/// A cookie that removes the session cookie from the browser.
pub fn cleared_session_cookie(req: &HttpRequest) -> Cookie<'static> {
    let mut gone = cookie(req, SESSION_COOKIE, String::new());
    gone.make_removal();
    gone
}

/// The token for forms shown before sign-in, and the cookie to set when
/// the browser does not hold one yet.
pub fn form_token(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    match req.cookie(FORM_COOKIE) {
        Some(existing) if !existing.value().is_empty() => (existing.value().to_owned(), None),
        _ => {
            let token = new_secret("form");
            (token.clone(), Some(cookie(req, FORM_COOKIE, token)))
        }
    }
}
