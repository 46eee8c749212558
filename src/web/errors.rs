//! What a page answers when something goes wrong: HTML a person can read,
//! never problem+json (that is for `/api`). A form with bad input is not an
//! error page: its view renders the form again with the message beside the
//! field (422); see `views::FieldErrors`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::views::Chrome;
use crate::error::Error;

/// Where a person a collective restricts to enrolling is sent.
pub const ENROL_PAGE: &str = "/account/second-factor";

#[derive(Debug)]
pub enum PageError {
    /// Not signed in: off to the sign-in page, then back to `next`.
    SignIn { next: String },
    /// A collective this person coordinates requires a second factor and
    /// they have none: off to enrol, the one thing their session may do.
    Enrol,
    /// The form's CSRF token is missing or wrong (another site posted it,
    /// or the page is from an ended session).
    Csrf,
    /// The body is not a form we can read.
    BadForm,
    /// What the domain said.
    Domain(Error),
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        match error {
            Error::Unauthenticated { .. } => Self::SignIn { next: "/".into() },
            other => Self::Domain(other),
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignIn { .. } => write!(f, "sign in first"),
            Self::Enrol => write!(f, "enrol a second factor first"),
            Self::Csrf => write!(f, "form token missing or wrong"),
            Self::BadForm => write!(f, "unreadable form"),
            Self::Domain(error) => write!(f, "{error}"),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub heading: String,
    pub message: String,
}

impl PageError {
    fn status(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } | Self::Enrol => StatusCode::SEE_OTHER,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadForm => StatusCode::BAD_REQUEST,
            Self::Domain(error) => match error {
                Error::NotFound { .. } => StatusCode::NOT_FOUND,
                Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                Error::Conflict { .. } => StatusCode::CONFLICT,
                Error::Forbidden { .. } => StatusCode::FORBIDDEN,
                Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
                Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
                Error::Unavailable(_) | Error::StorageFull(_) | Error::Overloaded { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                Error::Storage(_) | Error::Internal(_) | Error::Undecryptable(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            },
        }
    }

    /// The heading and the sentence a person reads.
    fn words(&self) -> (String, String) {
        match self {
            Self::SignIn { .. } => ("Sign in".into(), "Please sign in.".into()),
            Self::Enrol => (
                "Set up a second factor".into(),
                "A collective you coordinate asks for a second factor. Set one up first.".into(),
            ),
            Self::Csrf => (
                "This form has expired".into(),
                "The form was sent without its security token — it came from another site, or from a page opened before you signed in again. Nothing was changed. Go back, reload the page and try again.".into(),
            ),
            Self::BadForm => (
                "We could not read that form".into(),
                "Nothing was changed. Go back, reload the page and try again.".into(),
            ),
            Self::Domain(error) => match error {
                Error::NotFound { what } => (
                    "Not found".into(),
                    format!("There is no such {what} here, or it is not yours to see."),
                ),
                Error::Forbidden { code, message } => (
                    "Not allowed".into(),
                    match *code {
                        "membership_suspended" => "Your membership of this collective is suspended, so you cannot use its pages. If you think this is a mistake, talk to one of its admins.".into(),
                        "membership_not_active" => "Accept your invitation to this collective first.".into(),
                        _ => format!("You cannot do this: {message}."),
                    },
                ),
                Error::Conflict { message, .. } => (
                    "That could not be done".into(),
                    format!("{}. Nothing was changed.", capitalise(message)),
                ),
                Error::Invalid { field, message } => (
                    "Please check your input".into(),
                    format!("{}: {message}. Nothing was changed.", super::format::words(field)),
                ),
                Error::RateLimited { .. } => (
                    "Too many attempts".into(),
                    "Too many failed sign-ins from this account or address. Wait a few minutes, then try again.".into(),
                ),
                Error::PreconditionFailed { .. } => (
                    "Changed meanwhile".into(),
                    "Someone changed this while you were looking at it. Nothing was changed: reload the page and try again.".into(),
                ),
                Error::Unavailable(_) => (
                    "Briefly unavailable".into(),
                    "The service cannot reach its database just now. Try again in a moment.".into(),
                ),
                Error::Overloaded { .. } => (
                    "Busy".into(),
                    "The service has more changes to write than it can take just now; nothing was changed. Try again in a moment.".into(),
                ),
                Error::StorageFull(_) => (
                    "Briefly unavailable".into(),
                    "The service's storage is full, so nothing was changed. Try again later.".into(),
                ),
                Error::Unauthenticated { .. } => ("Sign in".into(), "Please sign in.".into()),
                Error::Storage(_) | Error::Internal(_) | Error::Undecryptable(_) => (
                    "Something went wrong".into(),
                    "This is our fault, not yours. It has been logged; try again later.".into(),
                ),
            },
        }
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            // Answered as a redirect (below); reported as 401 so request
            // logs count it as a refusal, not a failure of ours.
            Self::SignIn { .. } => StatusCode::UNAUTHORIZED,
            Self::Enrol => StatusCode::FORBIDDEN,
            other => other.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::SignIn { next } = self {
            let target = format!("/sign-in?next={}", form_urlencoded(next));
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, target))
                .finish();
        }
        if let Self::Enrol = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, ENROL_PAGE))
                .finish();
        }
        if let Self::Domain(
            Error::Storage(_)
            | Error::Internal(_)
            | Error::Undecryptable(_)
            | Error::Unavailable(_)
            | Error::StorageFull(_),
        ) = self
        {
            tracing::error!(error = %self, "page failed");
        }
        let (heading, message) = self.words();
        error_page(self.status(), heading, message)
    }
}

fn form_urlencoded(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// An HTML error page with this status.
pub fn error_page(status: StatusCode, heading: String, message: String) -> HttpResponse {
    let page = ErrorPage {
        chrome: Chrome::bare(&heading),
        heading,
        message,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| "Something went wrong".into());
    let mut response = HttpResponse::build(status);
    response.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    ));
    response.body(body)
}
