//! The pages, one module per area, as the API has one per business area.
//! Each view reads the signed-in person from the session, calls the same
//! domain service the API calls (so the same permission table decides),
//! and renders a template from `templates/` compiled into the binary.
//!
//! * [`account`]: sign in, sign out, accept an invitation;
//! * [`home`]: a member's collectives, pools, requests, pledges, rounds;
//! * [`requests`]: ask for help, a request and its timeline, amend, withdraw;
//! * [`pledges`], [`affectedness`], [`rounds`] (ballots and results);
//! * [`queue`] and [`review`]: the coordinators' queue, and what they do on
//!   a request's page (review, approve, reject, pay); [`money`]: money
//!   received, refunds, statements;
//! * [`affectedness_review`]: coordinators verify declarations;
//!   [`round_admin`]: create, open, close, tally, enact or cancel a round;
//! * [`admin`]: members, pools, partner apps; [`public`]: a public pool's
//!   summary, without signing in.

pub mod account;
pub mod admin;
pub mod affectedness;
pub mod affectedness_review;
pub mod home;
pub mod money;
pub mod personal_data;
pub mod pledges;
pub mod public;
pub mod queue;
pub mod requests;
pub mod review;
pub mod round_admin;
pub mod rounds;
pub mod second_factor;

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::errors::PageError;
use super::extract::Session;
use crate::auth::policy::Role;
use crate::collectives;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::http::AppState;

/// What every page shows around its content: the title, who is signed in,
/// the sign-out form's token, and the person's collectives for navigation.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub title: String,
    pub user: Option<String>,
    pub csrf: String,
    pub collectives: Vec<NavCollective>,
    /// One of the person's collectives was made by `commonpot demo`.
    pub demo: bool,
}

#[derive(Debug, Clone)]
pub struct NavCollective {
    pub id: String,
    pub name: String,
    /// Coordinators and admins see the links to their pages.
    pub coordinator: bool,
    pub admin: bool,
    pub demo: bool,
}

impl Chrome {
    /// For pages shown without a session (sign-in, errors).
    pub fn bare(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            ..Self::default()
        }
    }

    /// For a signed-in person: reads their name and active memberships.
    pub fn load(conn: &mut DbConnection, session: &Session, title: &str) -> Result<Self> {
        let profile = collectives::service::profile(conn, &session.principal())?;
        let mut nav = Vec::new();
        for m in profile.memberships {
            if m.status != crate::auth::policy::MembershipStatus::Active {
                continue;
            }
            let Some(c) = collectives::store::find_collective(conn, &m.collective_id)? else {
                continue;
            };
            nav.push(NavCollective {
                id: c.id,
                name: c.name,
                coordinator: m.role >= Role::Coordinator,
                admin: m.role >= Role::Admin,
                demo: c.demo,
            });
        }
        Ok(Self {
            title: title.to_owned(),
            user: Some(profile.display_name),
            csrf: session.csrf.clone(),
            demo: nav.iter().any(|c| c.demo),
            collectives: nav,
        })
    }
}

/// Messages for a form's fields, keyed by field name, shown beside each.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    /// The message for `field`, or "".
    pub fn get(&self, field: &str) -> &str {
        self.0.get(field).map(String::as_str).unwrap_or("")
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    /// A domain refusal of one field becomes its message (the first part of
    /// a JSON path names the form field); any other error stays an error.
    pub fn from_error(error: Error) -> std::result::Result<Self, Error> {
        match error {
            Error::Invalid { field, message } => {
                let mut errors = Self::default();
                let name = field.split(['.', '[']).next().unwrap_or(&field).to_owned();
                errors.add(&name, sentence(&message));
                Ok(errors)
            }
            other => Err(other),
        }
    }
}

/// A domain message as a sentence: capitalised, ending with a full stop.
fn sentence(message: &str) -> String {
    let mut text: String = {
        let mut chars = message.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => String::new(),
        }
    };
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// Renders a page with this status (422 for a form sent back with messages).
pub fn render(
    status: StatusCode,
    page: &impl Template,
) -> std::result::Result<HttpResponse, PageError> {
    let body = page
        .render()
        .map_err(|e| PageError::Domain(Error::Internal(format!("template: {e}"))))?;
    Ok(HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ))
        .body(body))
}

pub fn ok(page: &impl Template) -> std::result::Result<HttpResponse, PageError> {
    render(StatusCode::OK, page)
}

/// After a change, the browser goes to the page that shows it (so a reload
/// does not post again).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// Runs database work for a page.
pub async fn db<T, F>(state: &web::Data<AppState>, work: F) -> std::result::Result<T, PageError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
{
    Ok(state.db.run(work).await?)
}

/// Every page route, registered on the application beside the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    account::configure(cfg);
    second_factor::configure(cfg);
    personal_data::configure(cfg);
    home::configure(cfg);
    requests::configure(cfg);
    pledges::configure(cfg);
    affectedness::configure(cfg);
    rounds::configure(cfg);
    queue::configure(cfg);
    review::configure(cfg);
    money::configure(cfg);
    admin::configure(cfg);
    public::configure(cfg);
    affectedness_review::configure(cfg);
    round_admin::configure(cfg);
}

/// A fresh key for the forms of a page that move money (`once`).
pub fn once_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Runs a money-moving form's work at most once. The form carries the key
/// its page was shown with (hidden field `once`); a second post with the
/// same key and fields — a double click, a resent form — does nothing
/// more, through the same idempotency store as the API's `Idempotency-Key`.
/// A refusal is not stored: the form can be corrected and sent again.
pub fn once(
    conn: &mut DbConnection,
    session: &Session,
    action: &str,
    fields: &super::extract::Fields,
    work: impl FnOnce(&mut DbConnection) -> Result<()>,
) -> Result<()> {
    let key = fields.get("once").trim();
    if key.is_empty() || key.len() > 255 {
        return Err(Error::invalid(
            "once",
            "this form is missing its key; reload the page and try again",
        ));
    }
    let mut body: Vec<&(String, String)> = fields
        .0
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "once")
        .collect();
    body.sort();
    let request = crate::idempotency::Request {
        caller: format!("user:{}", session.user_id),
        endpoint: format!("web {action}"),
        key: key.to_owned(),
        body_hash: crate::auth::password::digest(
            &serde_urlencoded::to_string(&body).unwrap_or_default(),
        ),
    };
    crate::idempotency::run(conn, &request, |conn| {
        work(conn)?;
        Ok(crate::idempotency::Answer {
            status: 303,
            body: String::new(),
            replayed: false,
        })
    })
    .map(drop)
}
