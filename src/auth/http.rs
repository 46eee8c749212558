//! The token endpoints, and the extractor that turns `Authorization: Bearer`
//! into a [`Principal`].

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{post, web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{Caller, Enrolling, Principal};
use super::oauth::{self, OAuthError};
use super::second_factor::{self, Answer};
use super::service::{self, Authenticated, Issued};
use super::throttle;
use super::tokens::Subject;
use crate::clients;
use crate::config::Settings;
use crate::error::Error;
use crate::http::extract;
use crate::http::problem::{ApiResult, Problem};
use crate::http::AppState;

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, Problem>>>>;

impl FromRequest for Principal {
    type Error = Problem;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = principal_of(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move { unrestricted(state, principal?).await })
    }
}

/// A person a collective restricts to enrolling a second factor may do
/// nothing else (403 `second_factor_required`); read at each request, as
/// roles are, so enrolling (or the requirement lifted) takes effect at once.
async fn unrestricted(
    state: Option<web::Data<AppState>>,
    principal: Principal,
) -> Result<Principal, Problem> {
    let Principal::User { user_id } = &principal else {
        return Ok(principal);
    };
    let state =
        state.ok_or_else(|| Problem::from(Error::Internal("application state missing".into())))?;
    let user_id = user_id.clone();
    // Read beside the writer: the check takes no place in its queue.
    let restricted = state
        .db
        .read(move |conn| second_factor::restricted(conn, &user_id))
        .await?;
    if restricted {
        return Err(Problem::from(second_factor::required()));
    }
    Ok(principal)
}

/// The token only: the restriction is checked in the caller's command.
impl FromRequest for Caller {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(req).map(Caller))
    }
}

impl FromRequest for Enrolling {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(req).map(Enrolling))
    }
}

/// The caller, for operations open to anyone in some cases (a public
/// pool's summary): `None` when no `Authorization` header is sent. A token
/// that is sent must still be valid.
#[derive(Debug, Clone)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequest for MaybePrincipal {
    type Error = Problem;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = match req.headers().get(header::AUTHORIZATION) {
            None => Ok(None),
            Some(_) => principal_of(req).map(Some),
        };
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            match principal? {
                None => Ok(MaybePrincipal(None)),
                Some(principal) => Ok(MaybePrincipal(Some(unrestricted(state, principal).await?))),
            }
        })
    }
}

fn unauthenticated(code: &'static str, message: &str) -> Problem {
    Problem::from(Error::Unauthenticated {
        code,
        message: message.to_owned(),
    })
}

fn principal_of(req: &HttpRequest) -> Result<Principal, Problem> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| Problem::from(Error::Internal("application state missing".into())))?;
    let header = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        unauthenticated(
            "unauthenticated",
            "send an access token: Authorization: Bearer <token>",
        )
        .with_field("Authorization")
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            unauthenticated(
                "unauthenticated",
                "the Authorization header must be: Bearer <token>",
            )
            .with_field("Authorization")
        })?;
    let claims = state.keys.verify(token).map_err(|error| {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::ExpiredSignature => {
                unauthenticated("token_expired", "the access token has expired; refresh it")
            }
            _ => unauthenticated("invalid_token", "the access token is not valid"),
        }
    })?;
    match claims.typ {
        Subject::User => Ok(Principal::User {
            user_id: claims.sub,
        }),
        Subject::Client => {
            let collective_id = claims
                .cid
                .ok_or_else(|| unauthenticated("invalid_token", "the access token is not valid"))?;
            Ok(Principal::Client {
                client_id: claims.sub,
                collective_id,
                scopes: clients::parse_scopes(claims.scope.as_deref().unwrap_or_default()),
            })
        }
    }
}

/// The body of `POST /auth/token`, as JSON or as an OAuth 2 form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
pub enum TokenRequest {
    /// A person signs in with email and password.
    #[schema(title = "PasswordGrant")]
    Password {
        username: String,
        password: String,
        /// For an account with a second factor: the six digits its
        /// authenticator app shows now (each code is accepted once).
        #[serde(default)]
        totp_code: Option<String>,
        /// For an account with a second factor, without the app: one of
        /// its recovery codes (each works once).
        #[serde(default)]
        recovery_code: Option<String>,
    },
    /// A refresh token for a new pair; the presented token is used up.
    #[schema(title = "RefreshTokenGrant")]
    RefreshToken { refresh_token: String },
    /// A partner app signs in with its id and secret.
    #[schema(title = "ClientCredentialsGrant")]
    ClientCredentials {
        /// The partner app's id; may instead be sent by HTTP Basic.
        #[schema(required = false)]
        client_id: String,
        /// The partner app's secret; may instead be sent by HTTP Basic
        /// (one way, not both).
        #[schema(required = false)]
        client_secret: String,
        /// Space-separated subset of the client's scopes (default: all).
        scope: Option<String>,
    },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// For people: use once with the `refresh_token` grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// For partner apps: the scopes granted, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl From<Issued> for TokenResponse {
    fn from(issued: Issued) -> Self {
        Self {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            refresh_token: issued.refresh_token,
            scope: issued.scope,
        }
    }
}

/// The caller's address for throttling: the TCP peer, or behind trusted
/// reverse proxies the address the outermost of them saw (see
/// [`throttle::client_address`]). The web app's sign-in uses it too.
pub fn address_of(req: &HttpRequest, settings: &Settings) -> String {
    let hops: Vec<&str> = if settings.trust_forwarded_for {
        req.headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect()
    } else {
        Vec::new()
    };
    let proxies = if settings.trust_forwarded_for {
        settings.trusted_proxies
    } else {
        0
    };
    throttle::client_address(req.peer_addr().map(|a| a.ip()), &hops, proxies)
}

/// Issue tokens: password, refresh-token and client-credentials grants.
///
/// OAuth 2.0 (RFC 6749): the parameters as a form (or JSON); a partner app
/// authenticates by HTTP Basic (`client_secret_basic`, what OAuth libraries
/// send by default) or with `client_id` and `client_secret` in the body.
/// Errors are RFC 6749 §5.2's `{"error", "error_description"}` — not
/// problem documents, unlike every other operation.
///
/// Failed sign-ins are counted per account and per address; past the limit
/// the answer is 429 with `Retry-After`, whether or not the account exists.
#[utoipa::path(
    tag = "auth",
    request_body(
        description = "The grant's parameters as an OAuth form (RFC 6749). The same object as JSON is accepted too; only the form is listed, because client generators mis-handle a body with two media types.",
        content(
            (TokenRequest = "application/x-www-form-urlencoded"),
        )
    ),
    responses(
        (status = 200, body = TokenResponse, headers(("Cache-Control" = String, description = "`no-store`: never cache tokens"))),
        (status = 400, body = OAuthError, description = "`invalid_request`, `invalid_grant` (wrong email or password, or a wrong, reused or out-of-time second-factor code or recovery code; unknown, revoked, expired or reused refresh token), `totp_required` (the password is right and the account has a second factor: send `totp_code` or `recovery_code` with it), `unsupported_grant_type` or `invalid_scope`"),
        (status = 401, body = OAuthError, description = "`invalid_client`: unknown or disabled partner app, wrong secret, or no client authentication",
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"commonpot\"`"))),
        (status = 429, body = OAuthError, description = "`temporarily_unavailable`: too many failed sign-ins",
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 500, body = OAuthError, description = "`server_error`: a bug, logged with the request id"),
        (status = 503, body = OAuthError, description = "`temporarily_unavailable`: the database is briefly unavailable",
            headers(("Retry-After" = String, description = "Seconds to wait"))),
    )
)]
#[post("/auth/token")]
pub async fn issue_token(
    req: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let request: TokenRequest = oauth::token_request(&req, body)?;
    let address = address_of(&req, &state.settings);
    let shared = state.clone();
    let issued = match request {
        TokenRequest::Password {
            username,
            password,
            totp_code,
            recovery_code,
        } => {
            let second =
                Answer::from_fields("totp_code", totp_code.as_deref(), recovery_code.as_deref())?;
            let user_id = match service::authenticate(
                &state.db,
                &state.settings,
                &username,
                password,
                second,
                &address,
            )
            .await?
            {
                Authenticated::User(user_id) => user_id,
                Authenticated::SecondFactorNeeded(_) => return Err(service::totp_required().into()),
            };
            state
                .db
                .run(move |conn| {
                    service::issue_tokens(conn, &shared.keys, &shared.settings, &user_id)
                })
                .await?
        }
        TokenRequest::RefreshToken { refresh_token } => {
            state
                .db
                .run(move |conn| {
                    service::refresh_grant(conn, &shared.keys, &shared.settings, &refresh_token)
                })
                .await?
        }
        TokenRequest::ClientCredentials {
            client_id,
            client_secret,
            scope,
        } => {
            state
                .db
                .run(move |conn| {
                    service::client_credentials_grant(
                        conn,
                        &shared.keys,
                        &shared.settings,
                        &client_id,
                        &client_secret,
                        scope.as_deref(),
                        &address,
                    )
                })
                .await?
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse::from(issued)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// A refresh token. It and every token of the same sign-in stop working.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {}

/// Revoke a refresh token (sign out). Answers 200 for unknown tokens too, as
/// RFC 7009 asks, so the answer reveals nothing.
#[utoipa::path(tag = "auth", request_body = RevokeRequest, responses((status = 200, body = Revoked)))]
#[post("/auth/revoke")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    body: extract::Json<RevokeRequest>,
) -> ApiResult<web::Json<Revoked>> {
    let token = body.0.token;
    state
        .db
        .run(move |conn| service::revoke(conn, &token))
        .await?;
    Ok(web::Json(Revoked {}))
}
