//! Extractors that turn raw requests into checked values, answering
//! problem+json when they cannot.
//!
//! [`Json`] replaces actix's own: it insists on `application/json`, reads at
//! most the configured body size, and reports the JSON path of the field at
//! fault (serde alone says "invalid type" without saying where).
//! [`Query`] does the same for query strings.
//!
//! Both refuse text holding the NUL character (U+0000) with a 422 naming
//! the field: PostgreSQL cannot store it in text, and SQLite would store it
//! silently, so the refusal is made here, once, before any field reaches a
//! service — the same on both databases, and for any field added later.
//! A path holding it (`%00`) is refused before routing by
//! [`refuse_nul_in_path`], for every route.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Largest JSON body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON request body, parsed strictly.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move { read_strict(is_json, body.await).map(Json) })
    }
}

/// A JSON body that may be left out: an empty body reads as `T::default()`
/// (for commands such as "submit" that need no input).
#[derive(Debug)]
pub struct JsonOrEmpty<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for JsonOrEmpty<T> {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move { read(is_json, body.await, true).map(JsonOrEmpty) })
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
}

fn read<T: DeserializeOwned + Default>(
    is_json: bool,
    body: Result<web::Bytes, actix_web::Error>,
    empty_is_default: bool,
) -> Result<T, Problem> {
    if empty_is_default {
        if let Ok(bytes) = &body {
            if bytes.is_empty() {
                return Ok(T::default());
            }
        }
    }
    read_strict(is_json, body)
}

fn read_strict<T: DeserializeOwned>(
    is_json: bool,
    body: Result<web::Bytes, actix_web::Error>,
) -> Result<T, Problem> {
    {
        {
            if !is_json {
                return Err(Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as Content-Type: application/json",
                )
                .with_field("Content-Type"));
            }
            let bytes = body.map_err(|error| {
                let status = error.as_response_error().status_code();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(
                        status,
                        "payload_too_large",
                        format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    Problem::bad_request("unreadable_body", None, error.to_string())
                }
            })?;
            parse(&bytes)
        }
    }
}

/// Parses a JSON document, naming the field at fault when it does not fit `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "malformed_json",
            None,
            "the request body is empty",
        ));
    }
    // JSON can carry NUL only escaped (a raw control character is malformed),
    // so a body without `\u0000` needs no closer look.
    if contains(bytes, br"\u0000") {
        if let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(field) = nul_in(&document, String::new()) {
                return Err(nul_refused(if field.is_empty() {
                    "body".to_owned()
                } else {
                    field
                }));
            }
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = strip_position(&inner.to_string());
                let field = field_of(&path, &message);
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    format!("{field}: {message}"),
                )
                .with_field(field)
            }
            _ => Problem::bad_request("malformed_json", None, format!("malformed JSON: {inner}")),
        }
    })?;
    deserializer.end().map_err(|e| {
        Problem::bad_request("malformed_json", None, format!("malformed JSON: {e}"))
    })?;
    Ok(value)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The path (as serde_path_to_error writes it: `a.b[0].c`) of the first
/// string holding NUL; for a key holding NUL, the object's path.
fn nul_in(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(path.clone());
            }
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            nul_in(item, inner)
        }),
        _ => None,
    }
}

/// The answer to text holding NUL: a 422 naming the field, as any other
/// invalid value is answered.
fn nul_refused(field: String) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        format!("{field}: must not contain the NUL character (U+0000)"),
    )
    .with_field(field)
}

/// A query string, parsed strictly: a parameter that does not fit is a 400
/// `invalid_query` naming it (`limit=abc`, `limit=1.5`, `limit=`, a number
/// too large), and text holding NUL a 422 naming it.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// Parses a query string into `T`, naming the parameter at fault.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Problem> {
    let pairs = || form_urlencoded::parse(query.as_bytes());
    if let Some((key, _)) = pairs().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        let field = if key.contains('\0') {
            "query".to_owned()
        } else {
            key.into_owned()
        };
        return Err(nul_refused(field));
    }
    let deserializer = serde_urlencoded::Deserializer::new(pairs());
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = match field_of(&path, &message) {
            field if field == "body" => ["unknown field `", "missing field `"]
                .iter()
                .find_map(|p| message.find(p).map(|at| &message[at + p.len()..]))
                .and_then(|rest| rest.split('`').next())
                .map(str::to_owned),
            field => Some(field),
        };
        let detail = match &field {
            Some(field) if !message.contains('`') => format!("{field}: {message}"),
            _ => message,
        };
        Problem::bad_request("invalid_query", field, detail)
    })
}

/// serde says "missing field `x`" with the path of the enclosing object;
/// the field a person wants named is `x` itself. (For unknown fields the
/// path already ends in the unknown key.)
fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (".", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A path holding the NUL character (`%00`) is refused before any handler
/// runs, for every route, pages included: no id holds NUL, and PostgreSQL
/// refuses it in text, so a text id (a partner app's `client_id`, a webhook
/// endpoint's) reaching a query would be a 500 there and a 404 on SQLite.
/// The API answers as to any other malformed id — 400
/// `invalid_path_parameter`, naming the parameter when the path matches a
/// route; a page answers "not found", as to an id that names nothing.
pub async fn refuse_nul_in_path(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::ResponseError;
    // The raw path: NUL can only arrive percent-encoded.
    if !req.path().contains("%00") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if crate::web::is_page_path(req.path()) {
        let page = crate::web::not_found().await;
        return Ok(req.into_response(page));
    }
    let field = nul_parameter(&req);
    let detail = format!(
        "{}: must not contain the NUL character (U+0000)",
        field.as_deref().unwrap_or("path")
    );
    let problem = Problem::bad_request("invalid_path_parameter", field, detail);
    Ok(req.into_response(problem.error_response()))
}

/// The name of the route's path parameter holding `%00`, if the path
/// matches a route.
fn nul_parameter(req: &actix_web::dev::ServiceRequest) -> Option<String> {
    let pattern = req.resource_map().match_pattern(req.path())?;
    let mut path = actix_web::dev::Path::new(req.path());
    if !actix_web::dev::ResourceDef::new(pattern).capture_match_info(&mut path) {
        return None;
    }
    path.iter()
        .find(|(_, value)| value.contains("%00"))
        .map(|(name, _)| name.to_owned())
}

/// Errors of actix's `Path` and `Query` extractors, as problems.
pub fn path_error(error: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    Problem::bad_request("invalid_path_parameter", None, error.to_string()).into()
}

pub fn query_error(
    error: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    let message = strip_position(&error.to_string());
    let field = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| message.find(p).map(|at| &message[at + p.len()..]))
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned);
    Problem::bad_request("invalid_query", field, message).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        rules: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        limit: String,
    }

    fn field(body: &str) -> (u16, Option<String>) {
        let problem = parse::<Outer>(body.as_bytes()).unwrap_err();
        (problem.status, problem.field.clone())
    }

    #[test]
    fn wrong_types_name_their_field() {
        assert_eq!(
            field(r#"{"name": 5, "rules": {"limit": "1"}}"#),
            (422, Some("name".into()))
        );
        assert_eq!(
            field(r#"{"name": "a", "rules": {"limit": 1}}"#),
            (422, Some("rules.limit".into()))
        );
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        assert_eq!(
            field(r#"{"name": "a", "rules": {"limit": "1"}, "evil": true}"#),
            (422, Some("evil".into()))
        );
        assert_eq!(
            field(r#"{"name": "a", "rules": {}}"#),
            (422, Some("rules.limit".into()))
        );
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert_eq!(field(r#"{"name": "#), (400, None));
        assert_eq!(
            field(r#"{"name": "a", "rules": {"limit": "1"}} trailing"#),
            (400, None)
        );
        assert_eq!(field(""), (400, None));
    }
}

/// The `If-Match` header, if sent: the `ETag` the caller last read.
#[derive(Debug, Clone)]
pub struct IfMatch(pub Option<String>);

impl IfMatch {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl FromRequest for IfMatch {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let value = match req.headers().get(actix_web::http::header::IF_MATCH) {
            None => Ok(IfMatch(None)),
            Some(v) => v
                .to_str()
                .map(|s| IfMatch(Some(s.to_owned())))
                .map_err(|_| {
                    Problem::bad_request(
                        "invalid_header",
                        Some("If-Match".into()),
                        "If-Match is not text",
                    )
                }),
        };
        std::future::ready(value)
    }
}

/// A JSON response carrying the resource's version as its `ETag`.
pub fn with_etag<T: serde::Serialize>(
    status: StatusCode,
    body: &T,
    version: i64,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .insert_header((
            actix_web::http::header::ETAG,
            crate::collectives::etag(version),
        ))
        .json(body)
}
