//! The token endpoint's side of OAuth 2.0 (RFC 6749): client credentials
//! sent by HTTP Basic (§2.3.1) as well as in the body, and errors as §5.2
//! says — `{"error", "error_description"}`, 400, or 401 with
//! `WWW-Authenticate` for a client that failed to authenticate — so a
//! generic OAuth 2.0 client library works in its default configuration.
//! Every other operation answers problem+json.

use actix_web::body::BoxBody;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use base64::Engine as _;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::problem::Problem;

/// The `error` codes of RFC 6749 §5.2 this endpoint answers, and the one
/// extension it needs (RFC 6749 §4.1.2.1's `temporarily_unavailable`, for
/// the sign-in throttle and outages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// A parameter is missing, repeated or malformed; or the body is not
    /// a form or JSON; or the client authenticated in two ways at once.
    InvalidRequest,
    /// The client is unknown or disabled, or its secret is wrong (401).
    InvalidClient,
    /// Wrong email or password; unknown, revoked, expired or reused
    /// refresh token.
    InvalidGrant,
    /// `grant_type` is none of `password`, `refresh_token`,
    /// `client_credentials`.
    UnsupportedGrantType,
    /// A scope the client does not have.
    InvalidScope,
    /// Too many failed sign-ins (429 with `Retry-After`), or the service
    /// is briefly unavailable (503 with `Retry-After`).
    TemporarilyUnavailable,
    /// A bug; logged with the request id.
    ServerError,
    /// An extension: the password is right and the account has a second
    /// factor; send `totp_code` (or `recovery_code`) with it.
    TotpRequired,
}

/// An RFC 6749 §5.2 error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    /// What went wrong, for a person to read.
    pub error_description: String,
    #[serde(skip)]
    status: StatusCode,
    #[serde(skip)]
    retry_after: Option<String>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
            status,
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::InvalidRequest,
            description,
        )
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?}: {}",
            self.status.as_u16(),
            self.error,
            self.error_description
        )
    }
}

/// A refusal of the services below, in OAuth terms.
impl From<Problem> for OAuthError {
    fn from(problem: Problem) -> Self {
        use OAuthErrorCode::*;
        let detail = problem.detail.clone().unwrap_or_default();
        let (status, error) = match problem.code.as_str() {
            "invalid_client" => (StatusCode::UNAUTHORIZED, InvalidClient),
            "invalid_grant" | "refresh_token_reused" => (StatusCode::BAD_REQUEST, InvalidGrant),
            "totp_required" => (StatusCode::BAD_REQUEST, TotpRequired),
            "too_many_attempts" => (StatusCode::TOO_MANY_REQUESTS, TemporarilyUnavailable),
            "unavailable" => (StatusCode::SERVICE_UNAVAILABLE, TemporarilyUnavailable),
            "internal" => (StatusCode::INTERNAL_SERVER_ERROR, ServerError),
            "validation_failed" if problem.field.as_deref() == Some("scope") => {
                (StatusCode::BAD_REQUEST, InvalidScope)
            }
            _ if problem.status >= 500 => (StatusCode::INTERNAL_SERVER_ERROR, ServerError),
            _ => (StatusCode::BAD_REQUEST, InvalidRequest),
        };
        let retry_after = match error {
            TemporarilyUnavailable => Some(
                problem
                    .extra
                    .get("retry_after")
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "1".into()),
            ),
            _ => None,
        };
        Self {
            error,
            error_description: detail,
            status,
            retry_after,
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status);
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.error == OAuthErrorCode::InvalidClient {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"commonpot\""));
        }
        if let Some(seconds) = &self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.clone()));
        }
        response.json(self)
    }
}

/// Client credentials sent as `Authorization: Basic`: the id and secret,
/// each form-urlencoded, joined by a colon and base64-encoded (§2.3.1).
/// `None` without such a header.
pub fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        OAuthError::new(
            StatusCode::UNAUTHORIZED,
            OAuthErrorCode::InvalidClient,
            "the Authorization header must be: Basic base64(client_id:client_secret)",
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(&format!("v={}", s.replace('&', "%26").replace('=', "%3D")))
                .map_err(|_| bad())?;
        Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

impl From<crate::error::Error> for OAuthError {
    fn from(error: crate::error::Error) -> Self {
        Problem::from(error).into()
    }
}

/// The grants this endpoint knows.
const GRANTS: [&str; 3] = ["password", "refresh_token", "client_credentials"];

/// Reads a token request from an OAuth form (`application/x-www-form-urlencoded`,
/// RFC 6749's own encoding) or JSON, with the client's credentials from
/// HTTP Basic or the body — never both (§2.3) — into `T`, answering
/// `invalid_request`, `unsupported_grant_type` or `invalid_client` as §5.2
/// says.
pub fn token_request<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    body: Result<actix_web::web::Bytes, actix_web::Error>,
) -> Result<T, OAuthError> {
    use serde_json::{Map, Value};
    let body =
        body.map_err(|e| OAuthError::invalid_request(format!("the body could not be read: {e}")))?;
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let mut params = Map::new();
    if is_form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| OAuthError::invalid_request(format!("the form could not be read: {e}")))?;
        for (name, value) in pairs {
            if params.insert(name.clone(), Value::String(value)).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "{name} is sent more than once"
                )));
            }
        }
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => params = map,
            _ => {
                return Err(OAuthError::invalid_request(
                    "send the parameters as application/x-www-form-urlencoded (or a JSON object)",
                ))
            }
        }
    }
    // An empty value is an absent one (RFC 6749 §3.1).
    params.retain(|_, v| v.as_str() != Some(""));
    let grant = match params.get("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some(Value::String(grant)) => grant.clone(),
        Some(_) => return Err(OAuthError::invalid_request("grant_type must be text")),
    };
    if !GRANTS.contains(&grant.as_str()) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type must be one of {}", GRANTS.join(", ")),
        ));
    }
    if grant == "client_credentials" {
        if let Some((id, secret)) = basic_credentials(req)? {
            if params.contains_key("client_secret") {
                return Err(OAuthError::invalid_request(
                    "authenticate the client one way: HTTP Basic or client_secret in the body, not both",
                ));
            }
            if params
                .get("client_id")
                .is_some_and(|body_id| body_id.as_str() != Some(id.as_str()))
            {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the one in Authorization",
                ));
            }
            params.insert("client_id".into(), Value::String(id));
            params.insert("client_secret".into(), Value::String(secret));
        }
        if !params.contains_key("client_id") || !params.contains_key("client_secret") {
            return Err(OAuthError::new(
                StatusCode::UNAUTHORIZED,
                OAuthErrorCode::InvalidClient,
                "authenticate the client: HTTP Basic (client_id:client_secret), or client_id and client_secret in the body",
            ));
        }
    }
    serde_path_to_error::deserialize(Value::Object(params)).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let message = match message.strip_prefix("missing field `") {
            Some(rest) => format!("{} is required", rest.trim_end_matches('`')),
            None if path != "." => format!("{path}: {message}"),
            None => message,
        };
        OAuthError::invalid_request(message)
    })
}
