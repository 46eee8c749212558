//! The HTTP side of idempotency: the `Idempotency-Key` header, a JSON body
//! fingerprinted for comparison, and replaying stored answers.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::extract;
use super::problem::{Problem, PROBLEM_JSON};
use super::AppState;
use crate::auth::access::{Caller, Principal};
use crate::db::DbConnection;
use crate::error::Error;
use crate::idempotency::{self, Answer, Request};

/// The `Idempotency-Key` header, required on every money-moving POST.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub String);

impl FromRequest for IdempotencyKey {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = req
            .headers()
            .get("Idempotency-Key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 255);
        std::future::ready(match key {
            Some(key) => Ok(IdempotencyKey(key.to_owned())),
            None => Err(Problem::bad_request(
                "idempotency_key_required",
                Some("Idempotency-Key".into()),
                "money-moving requests need an Idempotency-Key header (1 to 255 characters), e.g. a UUID",
            )),
        })
    }
}

/// A strictly parsed JSON body and the fingerprint of its content (keys
/// sorted, whitespace ignored).
#[derive(Debug)]
pub struct FingerprintedJson<T> {
    pub value: T,
    pub hash: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for FingerprintedJson<T> {
    type Error = Problem;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Problem>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = extract::JsonOrEmpty::<Value>::from_request(req, payload);
        Box::pin(async move {
            let raw = match raw.await?.0 {
                Value::Null => Value::Object(Default::default()),
                value => value,
            };
            let hash = crate::auth::password::digest(&canonical(&raw));
            let value = serde_path_to_error::deserialize(raw).map_err(|error| {
                let path = error.path().to_string();
                let message = error.into_inner().to_string();
                let field = if path == "." { "body".to_owned() } else { path };
                Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    format!("{field}: {message}"),
                )
                .with_field(field)
            })?;
            Ok(FingerprintedJson { value, hash })
        })
    }
}

/// JSON with object keys sorted, so equal content hashes equally.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn caller_of(principal: &Principal) -> String {
    match principal {
        Principal::User { user_id } => format!("user:{user_id}"),
        Principal::Client { client_id, .. } => format!("client:{client_id}"),
    }
}

/// Runs a money-moving command once per key, answering with `success` and
/// the command's result, or the stored answer of an earlier try.
pub async fn run<T, F>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    Caller(principal): Caller,
    key: IdempotencyKey,
    body_hash: String,
    success: StatusCode,
    work: F,
) -> Result<HttpResponse, Problem>
where
    T: Serialize + 'static,
    F: FnOnce(&mut DbConnection) -> crate::error::Result<T> + Send + 'static,
{
    let request = Request {
        caller: caller_of(&principal),
        endpoint: format!("{} {}", req.method(), req.path()),
        key: key.0,
        body_hash,
    };
    // Through the writer: grouped with other writes into one commit, and
    // the key claimed inside that batch. One endpoint (a pool's path) goes
    // to one writer, so one key is always claimed by the same writer.
    let shard = request.endpoint.clone();
    let answer = state
        .db
        .write_keyed(&shard, move |conn| {
            command(conn, &principal, &request, success, work)
        })
        .await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if status.is_success() {
        "application/json"
    } else {
        PROBLEM_JSON
    };
    let mut response = HttpResponse::build(status);
    response.content_type(content_type);
    if answer.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.body(answer.body))
}

/// A money-moving request's write command, as the writer runs it (in the
/// command's savepoint): the caller's second-factor restriction first —
/// refused, it claims no key and stores nothing, so a retry once enrolled
/// runs —, then `work` once per key with its answer stored. Refusals are
/// answers and are stored; outages are not, so a retry runs the work.
pub fn command<T, F>(
    conn: &mut DbConnection,
    principal: &Principal,
    request: &Request,
    success: StatusCode,
    work: F,
) -> crate::error::Result<Answer>
where
    T: Serialize,
    F: FnOnce(&mut DbConnection) -> crate::error::Result<T>,
{
    crate::auth::second_factor::require_unrestricted(conn, principal)?;
    idempotency::run_in_command(conn, request, |conn| match work(conn) {
        Ok(value) => Ok(Answer {
            status: success.as_u16(),
            body: serde_json::to_string(&value).map_err(|e| Error::Internal(e.to_string()))?,
            replayed: false,
        }),
        // Outages are not answers: nothing is stored, a retry runs.
        Err(
            e @ (Error::Storage(_)
            | Error::Internal(_)
            | Error::Undecryptable(_)
            | Error::Unavailable(_)
            | Error::Overloaded { .. }
            | Error::StorageFull(_)),
        ) => Err(e),
        Err(refusal) => {
            let problem = Problem::from(refusal);
            Ok(Answer {
                status: problem.status,
                body: serde_json::to_string(&*problem)
                    .map_err(|e| Error::Internal(e.to_string()))?,
                replayed: false,
            })
        }
    })
}
