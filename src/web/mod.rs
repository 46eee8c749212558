//! The web app: pages for people, served by the same binary at `/` beside
//! the API (`/api/v1`). Rendered on the server from askama templates
//! compiled in; styles and the one small script are embedded too, so
//! nothing loads from elsewhere, and every page works without JavaScript.
//!
//! * [`views`]: the pages, one module per area; each calls the domain
//!   services the API calls, with the signed-in person as the caller.
//! * [`session`]: server-side sessions (hashed ids) and their CSRF tokens;
//!   [`extract`]: the cookie, the signed-in person, CSRF-checked forms.
//! * [`errors`]: readable error pages; [`format`]: money and time for people.

pub mod errors;
pub mod extract;
pub mod format;
pub mod session;
pub mod views;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

/// Paths answered for machines: the API and the operations endpoints keep
/// problem+json; everything else is a page.
pub fn is_machine_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Whether the path is the web app's: neither the API, nor operations, nor
/// the interactive API docs (which carry their own scripts and styles).
pub fn is_page_path(path: &str) -> bool {
    !is_machine_path(path) && path != "/docs" && !path.starts_with("/docs/")
}

const CSS: &str = include_str!("../../assets/app.css");
const JS: &str = include_str!("../../assets/app.js");
const ICON: &str = include_str!("../../assets/icon.svg");

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// Routes of the web app: its assets and every page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/assets/app.css",
        web::get().to(|| async { asset("text/css; charset=utf-8", CSS) }),
    )
    .route(
        "/assets/app.js",
        web::get().to(|| async { asset("text/javascript; charset=utf-8", JS) }),
    )
    .route(
        "/assets/icon.svg",
        web::get().to(|| async { asset("image/svg+xml", ICON) }),
    );
    views::configure(cfg);
}

/// What the browser must enforce on every page: scripts, styles, images and
/// form targets from this origin only; never framed; pages with personal
/// data never cached; no address leaks in `Referer` (invitation links carry
/// a token).
const PAGE_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-store"),
];

/// For pages: the security headers above, and an HTML page in place of any
/// error actix answered by itself (an unknown page, a wrong method), so a
/// person never sees problem+json.
pub async fn page_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path().to_owned();
    if !is_page_path(&path) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let is_asset = path.starts_with("/assets/");
    let mut response = match next.call(req).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            // Only actix's own refusals surface here (handlers answer their
            // errors themselves); the request is gone, so no page to wrap.
            let status = error.as_response_error().status_code();
            return Err(actix_web::error::InternalError::from_response(
                error.to_string(),
                generic_page(status),
            )
            .into());
        }
    };
    let status = response.status();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_html {
        let (request, _) = response.into_parts();
        response = ServiceResponse::new(request, generic_page(status));
    }
    if !is_asset {
        for (name, value) in PAGE_HEADERS {
            response.headers_mut().insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
    }
    Ok(response)
}

fn generic_page(status: actix_web::http::StatusCode) -> HttpResponse {
    use actix_web::http::StatusCode;
    let (heading, message) = match status {
        StatusCode::NOT_FOUND => (
            "Page not found",
            "There is no page at this address. Check the link, or start again from the home page.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Not possible here",
            "This page cannot be used that way. Start again from the home page.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Too much to send",
            "What you sent is too large. Nothing was changed.",
        ),
        s if s.is_server_error() => (
            "Something went wrong",
            "This is our fault, not yours. It has been logged; try again later.",
        ),
        _ => (
            "We could not understand that",
            "Nothing was changed. Go back, reload the page and try again.",
        ),
    };
    errors::error_page(status, heading.into(), message.into())
}

/// The page for addresses nothing answers.
pub async fn not_found() -> HttpResponse {
    generic_page(actix_web::http::StatusCode::NOT_FOUND)
}
