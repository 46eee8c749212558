//! Every error leaves the service as RFC 9457 `application/problem+json` with
//! a stable machine `code`.
//!
//! The policy, in one place:
//! * a domain [`Error`] maps to exactly one status and code here;
//! * `Invalid` is 422 and names the field; malformed bodies, paths and
//!   queries are 400 and name what they could;
//! * `NotFound` is 404, and so is anything in another collective;
//! * `Storage` and `Internal` are 500 with no detail: the cause goes to the
//!   log with the request id, never to the client;
//! * `Unavailable` (the database unreachable, cut off or locked) is 503
//!   `unavailable`, `StorageFull` is 503 `storage_full`, `Overloaded` (the
//!   writer's queue is full) is 503 `overloaded`, all with `Retry-After`;
//! * anything actix answers by itself (unknown route, wrong method, body too
//!   large …) under `/api` and the operations endpoints is rewritten by
//!   [`problem_fallback`], so no error of theirs leaves as text/plain; the
//!   web app's pages answer HTML error pages instead (`crate::web`).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::Error;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Members of every problem; extra facts never overwrite them.
const RESERVED: [&str; 6] = ["type", "title", "status", "detail", "code", "field"];

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDocument {
    /// A URI naming the problem type; `urn:commonpot:problem:{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What happened this time, for a person to read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The stable machine-readable code (e.g. `validation_failed`).
    pub code: String,
    /// For validation problems: the field at fault (a JSON path such as
    /// `amount` or `rules.max_request`), or the header or parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Facts the caller can act on, such as `available` or `current_state`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
    /// Response headers that belong with the problem (`Retry-After`,
    /// `ETag`, `WWW-Authenticate`).
    #[serde(skip)]
    headers: Vec<(header::HeaderName, String)>,
}

/// A problem on its way out: boxed, so results carrying one stay small.
#[derive(Debug, Clone)]
pub struct Problem(Box<ProblemDocument>);

impl std::ops::Deref for Problem {
    type Target = ProblemDocument;

    fn deref(&self) -> &ProblemDocument {
        &self.0
    }
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self(Box::new(ProblemDocument {
            type_uri: format!("urn:commonpot:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: Some(detail.into()).filter(|d: &String| !d.is_empty()),
            code: code.to_owned(),
            field: None,
            extra: Map::new(),
            headers: Vec::new(),
        }))
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    pub fn with_extra(mut self, key: &str, value: impl Into<Value>) -> Self {
        if !RESERVED.contains(&key) {
            self.0.extra.insert(key.to_owned(), value.into());
        }
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: impl Into<String>) -> Self {
        self.0.headers.push((name, value.into()));
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// A 400 for input the service could not even parse.
    pub fn bad_request(code: &str, field: Option<String>, detail: impl Into<String>) -> Self {
        let problem = Self::new(StatusCode::BAD_REQUEST, code, detail);
        match field {
            Some(field) => problem.with_field(field),
            None => problem,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.code)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        Problem::status_code(self)
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.insert_header((name.clone(), value));
            }
        }
        response.body(serde_json::to_vec(&*self.0).unwrap_or_default())
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound { what } => Problem::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            Error::Invalid { field, message } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                format!("{field}: {message}"),
            )
            .with_field(field),
            Error::Conflict {
                code,
                message,
                extra,
            } => {
                let mut problem = Problem::new(StatusCode::CONFLICT, code, message);
                if let Some(Value::Object(map)) = extra {
                    for (key, value) in map {
                        problem = problem.with_extra(&key, value);
                    }
                }
                problem
            }
            Error::Forbidden { code, message } => {
                Problem::new(StatusCode::FORBIDDEN, code, message)
            }
            Error::Unauthenticated { code, message } => {
                Problem::new(StatusCode::UNAUTHORIZED, code, message)
                    .with_header(header::WWW_AUTHENTICATE, "Bearer")
            }
            Error::RateLimited {
                code,
                message,
                retry_after_secs,
            } => Problem::new(StatusCode::TOO_MANY_REQUESTS, code, message)
                .with_extra("retry_after", retry_after_secs)
                .with_header(header::RETRY_AFTER, retry_after_secs.to_string()),
            Error::PreconditionFailed { current_etag } => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "the resource has changed since you read it; fetch it again and retry",
            )
            .with_header(header::ETAG, current_etag),
            Error::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is briefly unavailable; try again",
                )
                .with_header(header::RETRY_AFTER, "1")
            }
            Error::Overloaded { retry_after_secs } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "too many writes are waiting; nothing was done; try again shortly",
            )
            .with_header(header::RETRY_AFTER, retry_after_secs.to_string()),
            Error::StorageFull(cause) => {
                tracing::error!(%cause, "database storage full");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_full",
                    "the service's storage is full; nothing was changed; try again later",
                )
                .with_header(header::RETRY_AFTER, STORAGE_FULL_RETRY_AFTER)
            }
            Error::Storage(cause) => {
                tracing::error!(%cause, "storage error");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "")
            }
            Error::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "")
            }
            Error::Undecryptable(cause) => {
                tracing::error!(%cause, "undecryptable private value");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "undecryptable",
                    "a private value stored for this resource cannot be decrypted with the \
                     service's keys; nothing was changed, and the operator can find the cause \
                     in the log by this response's x-request-id",
                )
            }
        }
    }
}

/// Seconds to wait after `storage_full`: space is freed by people, not in
/// a moment.
pub const STORAGE_FULL_RETRY_AFTER: &str = "30";

/// What a handler returns on failure.
pub type ApiResult<T> = Result<T, Problem>;

/// The code and message for an error status actix produced by itself.
fn generic(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this resource does not accept that method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "send application/json"),
        StatusCode::UNAUTHORIZED => ("unauthenticated", "authentication required"),
        StatusCode::FORBIDDEN => ("forbidden", "not allowed"),
        s if s.is_server_error() => ("internal", ""),
        _ => ("bad_request", "the request could not be understood"),
    }
}

/// Rewrites any error response of the API (and operations endpoints) that
/// is not already problem+json. Pages answer HTML: see `crate::web`.
pub async fn problem_fallback(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if crate::web::is_page_path(req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let response = match next.call(req).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            // Handlers turn their errors into responses; an error surfacing
            // here came from actix itself. (The request cannot be kept to
            // build a response from: routing needs it unshared.)
            let status = error.as_response_error().status_code();
            if error.as_error::<Problem>().is_some() {
                return Err(error);
            }
            let (code, message) = generic(status);
            return Err(Problem::new(status, code, message).into());
        }
    };
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // JSON errors are the token endpoint's RFC 6749 answers (`auth::oauth`),
    // which OAuth clients read as they are.
    let is_oauth = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem || is_oauth {
        return Ok(response);
    }
    if status.is_server_error() {
        if let Some(error) = response.response().error() {
            tracing::error!(%error, "unhandled error");
        }
    }
    let (code, message) = generic(status);
    let detail = match (status, response.response().error()) {
        // actix's own messages for these are safe and useful ("Content type error" …)
        (s, Some(error)) if s.is_client_error() && s != StatusCode::NOT_FOUND => error.to_string(),
        _ => message.to_owned(),
    };
    let problem = Problem::new(status, code, detail);
    let (request, old) = response.into_parts();
    let mut fresh = problem.error_response();
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().append(name.clone(), value.clone());
        }
    }
    fresh
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Ok(ServiceResponse::new(request, fresh))
}
