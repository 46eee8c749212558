//! The OpenAPI document. Paths and schemas come from the handlers themselves
//! (utoipa-actix-web collects them as routes are registered in
//! `http::routes`), so the document and the router cannot drift; this module
//! adds what is true of every operation by the way the service is built, so
//! a new handler gets it without saying so:
//!
//! * the errors: every problem `code` is listed once (`http::codes`); the
//!   problem schemas are made from that list, one per status (a family), with
//!   `code` as an enum of that status's codes and the members a refusal adds
//!   (`available`, `current_state` …);
//! * the statuses an operation answers because of what it takes: 400, 404,
//!   422, 500 and 503 always; 401 and 403 when it needs a token; 413 and 415
//!   with a JSON body; 412 with `If-Match`; 409 for any change;
//! * the headers: `x-request-id` on every answer, `ETag` where an operation
//!   takes `If-Match` (and on the reads of the same resource),
//!   `Idempotent-Replayed` with `Idempotency-Key`, `Retry-After`,
//!   `WWW-Authenticate`;
//! * the rules of shared parameters (`limit`, `cursor`, `Idempotency-Key`),
//!   UUID formats of ids and the decimal pattern of money (see
//!   [`MONEY_MEMBERS`]).
//!
//! It works on the document as JSON: what it adds is plain OpenAPI, and the
//! result is what `openapi/openapi.json` holds (checked for drift).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, OpenApi as _};

use super::codes::CODES;
use super::problem::{ProblemDocument, PROBLEM_JSON};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "commonpot",
        description = "A mutual aid ledger: pooled money, aid requests and participatory budgeting. \
Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`; each \
status has its own problem schema whose `code` lists the codes that status comes with. The token \
endpoint alone answers errors as RFC 6749 §5.2 says (`{\"error\", \"error_description\"}`). \
Money is a decimal string in major units (`\"12.50\"`), never a number.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
    ),
    components(schemas(ProblemDocument)),
    modifiers(&Security),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some(
            "An access token from `POST /api/v1/auth/token` (password, refresh or client-credentials grant)."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// The base document that routes are added to.
pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// Tags and what they group. A tag an operation uses but this table lacks is
/// still declared (a test asks for a description).
const TAGS: &[(&str, &str)] = &[
    (
        "auth",
        "Tokens: sign in, refresh, client credentials, sign out",
    ),
    ("collectives", "Collectives: the groups that pool money"),
    (
        "members",
        "People in a collective, their roles and invitations",
    ),
    ("clients", "Partner apps and their client credentials"),
    ("audit", "Who changed what, when"),
    ("pools", "Pools of money and their rules"),
    ("ledger", "The double-entry journal of a pool"),
    (
        "contributions",
        "Money received into a pool, refunds and chargebacks",
    ),
    ("holds", "Money reserved in a pool for a purpose"),
    ("disbursements", "Payments out of a pool, drawn on holds"),
    (
        "requests",
        "Aid requests: asking, reviewing, approving, paying",
    ),
    (
        "affectedness",
        "Issues and members' declarations of how they are affected",
    ),
    ("rounds", "Participatory budgeting rounds and ballots"),
    ("pledges", "Promises to contribute, once or on a schedule"),
    ("reports", "Statements and public summaries"),
    (
        "events",
        "The feed of everything that happened in a collective, in commit order",
    ),
    (
        "webhooks",
        "Webhook endpoints of partner apps: registration, signing secrets, the delivery log, retries and replays",
    ),
    ("operations", "Health, readiness and metrics"),
    (
        "account",
        "A person's own account: password, signing out everywhere",
    ),
    (
        "personal_data",
        "A person's data: export everything held about them, erase a person",
    ),
];

/// Members that hold money: a decimal string in major units. In requests
/// they are non-negative with at most three decimals (the pool's currency
/// may allow fewer: its `exponent`); answers may be negative where the
/// member is a change (`change`, `net_change`, a posting's `amount`).
pub const MONEY_MEMBERS: &[&str] = &[
    "amount",
    "amount_approved",
    "amount_requested",
    "amounts",
    "applied_to_pledge",
    "available",
    "balance",
    "budget",
    "change",
    "cost",
    "deficit",
    "dispute_fee",
    "dispute_fees",
    "due_now",
    "due_this_month",
    "fast_track_limit",
    "fee",
    "fees",
    "goal",
    "held",
    "holds_paid_out",
    "holds_placed",
    "holds_released",
    "inflow",
    "inflows",
    "left",
    "max_cost",
    "max_request",
    "needed",
    "net",
    "net_change",
    "next_due_amount",
    "outflow",
    "outflows",
    "outstanding",
    "overdue",
    "paid",
    "paid_out",
    "pending",
    "raised",
    "received",
    "refundable",
    "refunded",
    "released",
    "remaining",
    "returned",
    "spent",
    "split",
    "total",
    "waived",
];

/// Money as a request may send it: digits, at most one point and three
/// decimals, no sign, exponent or leading zero (`money::Money::parse`).
pub const MONEY_IN: &str = r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,3})?$";
/// Money as answers show it: the currency's decimals, a sign where it is a change.
pub const MONEY_OUT: &str = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$";

/// Members named like ids that are not UUIDs: the audit trail's actor is
/// `system` for the command line and its object may be a partner app; a
/// partner app's id is `cpc_…` (and in the token request whatever the caller
/// sends: a wrong one is `invalid_client`).
const NOT_UUID: &[&str] = &[
    "actor_id",
    "object_id",
    "client_id",
    "Client.id",
    "ClientWithSecret.id",
];

/// Members that hold lists (or maps) of ids.
const ID_LISTS: &[&str] = &["approve", "ranking", "candidates", "issues", "selected_ids"];

/// Facts a refusal may add to its problem, with their schemas: the members
/// of the 409 family beyond RFC 9457's.
pub const CONFLICT_FACTS: &[(&str, &str, &str)] = &[
    ("available", "money", "What the pool has available (`insufficient_funds`)."),
    ("needed", "money", "What the operation needed (`insufficient_funds`)."),
    ("currency", "string", "The currency of `available` and `needed`."),
    ("deficit", "money", "The pool's deficit (`pool_in_deficit`)."),
    ("remaining", "money", "What remains of the hold (`hold_exceeded`)."),
    ("refundable", "money", "What can still be refunded (`refund_exceeds_contribution`)."),
    ("contribution_id", "uuid", "The contribution already recorded with this `external_reference` (`duplicate_contribution`)."),
    ("current_state", "string", "The aid request's state now (`invalid_transition`)."),
    ("current_phase", "string", "The round's phase now (`invalid_transition`, `round_not_open`)."),
    ("current_status", "string", "The status now (`pledge_closed`, `pledge_lapsed`, `disbursement_resolved`, `invalid_transition` of a membership)."),
    ("hold_status", "string", "The hold's status (a disbursement on a hold no longer open)."),
    ("kind", "string", "The kind of the entry that cannot be reversed (`not_reversible`)."),
    ("purged_through", "integer", "The last event purged; read the feed without `after` (`cursor_expired`)."),
    ("owner_user_id", "uuid", "The coordinator who owns the request (`already_owned`)."),
];

/// The problem schema of each status: its name and what it is about.
const FAMILIES: &[(u16, &str, &str)] = &[
    (400, "BadRequestProblem", "The request could not be read: body, path, query or a header."),
    (401, "UnauthorizedProblem", "No valid credentials."),
    (403, "ForbiddenProblem", "The caller is known and may not do this."),
    (404, "NotFoundProblem", "No such thing, or not visible to the caller."),
    (409, "ConflictProblem", "The request is well formed but clashes with the current state; the members beside `code` say what the state is."),
    (412, "PreconditionFailedProblem", "`If-Match` names an old version; the current one is in `ETag`."),
    (413, "PayloadTooLargeProblem", "The body is larger than the service reads."),
    (415, "UnsupportedMediaTypeProblem", "The body is not `application/json`."),
    (422, "ValidationProblem", "A value breaks a rule; `field` names it."),
    (500, "InternalProblem", "A bug: no detail is given; the cause is logged with the request id (`x-request-id`)."),
    (503, "UnavailableProblem", "Briefly unavailable; nothing was changed; try again after `Retry-After` seconds."),
];

/// The schema name of a status's problem family (`Problem` for a status
/// without one).
pub fn family(status: u16) -> &'static str {
    FAMILIES
        .iter()
        .find(|(s, ..)| *s == status)
        .map_or("Problem", |(_, name, _)| name)
}

/// The document as the service serves it and `openapi/openapi.json` holds.
pub fn finish(mut openapi: OpenApi) -> Value {
    // OpenAPI 3.1's top-level `webhooks`, which utoipa does not model: the
    // events partner apps receive, made from their vocabulary.
    let components = openapi.components.get_or_insert_with(Default::default);
    let webhooks = crate::events::openapi::webhooks(components);
    let mut doc = serde_json::to_value(openapi).expect("the OpenAPI document is JSON");
    doc["webhooks"] = webhooks;
    // The service sends these; the partner's endpoint decides how it is
    // secured (see the event's description), so none is declared.
    for (_, item) in doc["webhooks"].as_object_mut().into_iter().flatten() {
        for (_, operation) in item.as_object_mut().into_iter().flatten() {
            if let Some(operation) = operation.as_object_mut() {
                operation.entry("security").or_insert_with(|| json!([]));
            }
        }
    }
    doc["servers"] = json!([{
        "url": "http://127.0.0.1:8080",
        "description": "`commonpot serve` on its default address; use your deployment's"
    }]);
    add_components(&mut doc);
    let mut used_tags = BTreeSet::new();
    let etag_paths = etag_paths(&doc);
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                for tag in operation["tags"].as_array().into_iter().flatten() {
                    if let Some(tag) = tag.as_str() {
                        used_tags.insert(tag.to_owned());
                    }
                }
                finish_operation(path, method, operation, etag_paths.contains(path));
            }
        }
    }
    doc["tags"] = Value::Array(
        used_tags
            .iter()
            .map(|name| match TAGS.iter().find(|(n, _)| n == name) {
                Some((_, description)) => json!({"name": name, "description": description}),
                None => json!({"name": name}),
            })
            .collect(),
    );
    let request_schemas = request_schemas(&doc);
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        reference_page_items(schemas);
        for (name, schema) in schemas.iter_mut() {
            if is_problem_schema(name) {
                continue;
            }
            constrain(name, schema, request_schemas.contains(name));
        }
    }
    doc
}

/// Paths whose resource carries a version: an operation on them takes
/// `If-Match`, so their reads and writes answer with `ETag`.
fn etag_paths(doc: &Value) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let takes_if_match = item.as_object().into_iter().flatten().any(|(_, op)| {
            op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "If-Match")
        });
        // Commands on a resource (`/requests/{id}/submission`) answer the
        // resource itself, with its ETag.
        if takes_if_match {
            paths.insert(path.clone());
            if let Some((parent, _)) = path.rsplit_once('/') {
                if parent.ends_with('}') {
                    paths.insert(parent.to_owned());
                }
            }
        }
    }
    paths
}

fn add_components(doc: &mut Value) {
    let components = doc["components"]
        .as_object_mut()
        .expect("the base document has components");
    let headers = components
        .entry("headers")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("headers is an object");
    headers.insert(
        "RequestId".into(),
        json!({
            "description": "The id every log line of this request carries; quote it when reporting a problem.",
            "required": true,
            "schema": {"type": "string", "minLength": 1}
        }),
    );
    headers.insert(
        "RetryAfter".into(),
        json!({
            "description": "Seconds to wait before trying again.",
            "required": true,
            "schema": {"type": "string", "pattern": "^[0-9]+$"}
        }),
    );
    headers.insert(
        "WWWAuthenticate".into(),
        json!({
            "description": "The authentication scheme to use (`Bearer`).",
            "required": true,
            "schema": {"type": "string", "minLength": 1}
        }),
    );
    headers.insert(
        "ETag".into(),
        json!({
            "description": "The resource's version; send it back as `If-Match` to change it only if nobody else did meanwhile.",
            "required": true,
            "schema": {"type": "string", "pattern": "^(W/)?\"[^\"]*\"$"}
        }),
    );
    headers.insert(
        "IdempotentReplayed".into(),
        json!({
            "description": "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key` (nothing was done again).",
            "required": false,
            "schema": {"type": "string", "enum": ["true"]}
        }),
    );
    let schemas = components
        .entry("schemas")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("schemas is an object");
    schemas.insert("Problem".into(), problem_schema(None, ""));
    for (status, name, about) in FAMILIES {
        schemas.insert((*name).into(), problem_schema(Some(*status), about));
    }
}

fn is_problem_schema(name: &str) -> bool {
    name == "Problem" || FAMILIES.iter().any(|(_, n, _)| *n == name)
}

fn money_schema(description: &str, nullable: bool, pattern: &str) -> Value {
    json!({
        "type": if nullable { json!(["string", "null"]) } else { json!("string") },
        "pattern": pattern,
        "description": description,
    })
}

/// An RFC 9457 problem: every member the service sends, `code` an enum of
/// the codes of `status` (of every status for the generic `Problem`).
fn problem_schema(status: Option<u16>, about: &str) -> Value {
    let codes: Vec<&str> = CODES
        .iter()
        .filter(|c| status.is_none_or(|s| c.status == s))
        .map(|c| c.code)
        .collect();
    let mut properties = json!({
        "type": {"type": "string", "description": "A URI naming the problem type: `urn:commonpot:problem:{code}`."},
        "title": {"type": "string", "description": "A short summary of the status."},
        "status": {"type": "integer", "minimum": 100, "maximum": 599, "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What happened this time, for a person to read."},
        "code": {"type": "string", "enum": codes, "description": "The stable machine-readable code."},
        "field": {"type": "string", "description": "The field at fault: a JSON path such as `amount` or `rules.max_request`, or a header or parameter name."},
    });
    let props = properties.as_object_mut().expect("an object");
    if let Some(s) = status {
        props["status"] =
            json!({"type": "integer", "enum": [s], "description": "The HTTP status code."});
    }
    if matches!(status, Some(409) | None) {
        for (name, kind, description) in CONFLICT_FACTS {
            let schema = match *kind {
                "money" => money_schema(description, false, MONEY_OUT),
                "uuid" => json!({"type": "string", "format": "uuid", "description": description}),
                "integer" => json!({"type": "integer", "description": description}),
                _ => json!({"type": "string", "description": description}),
            };
            props.insert((*name).into(), schema);
        }
    }
    if matches!(status, Some(429) | None) {
        props.insert(
            "retry_after".into(),
            json!({"type": "integer", "minimum": 0, "description": "Seconds to wait, as in `Retry-After`."}),
        );
    }
    let mut required = vec!["type", "title", "status", "code"];
    if status == Some(422) {
        required.push("field");
    }
    let description = match status {
        None => "An RFC 9457 problem document, as every error of the API is sent (`application/problem+json`).".to_owned(),
        Some(s) => format!("An RFC 9457 problem with status {s}. {about}"),
    };
    json!({
        "type": "object",
        "description": description,
        "required": required,
        "properties": properties,
        "additionalProperties": true,
    })
}

fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

fn problem_response(status: u16, description: &str) -> Value {
    json!({
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": format!("#/components/schemas/{}", family(status))}}},
    })
}

/// What every operation answers because of what it takes.
fn finish_operation(path: &str, method: &str, operation: &mut Value, versioned: bool) {
    let is_api = path.starts_with("/api/");
    let op = operation
        .as_object_mut()
        .expect("an operation is an object");
    if op
        .get("security")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        // Public: say so, instead of leaving it to be guessed.
        op.insert("security".into(), json!([]));
    }
    let secured = op["security"].as_array().is_some_and(|s| {
        !s.is_empty() && !s.iter().any(|r| r.as_object().is_some_and(Map::is_empty))
    });
    let optional_auth = op["security"]
        .as_array()
        .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(Map::is_empty)) && s.len() > 1);
    let has_body = op.contains_key("requestBody");
    let params: Vec<String> = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let idempotent = params.iter().any(|p| p == "Idempotency-Key");
    let if_match = params.iter().any(|p| p == "If-Match");
    if let Some(parameters) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for parameter in parameters {
            constrain_parameter(parameter);
        }
    }
    // OAuth 2.0's token endpoint answers RFC 6749 errors, declared by its
    // handler (`auth::oauth`).
    let is_token_endpoint = path.ends_with("/auth/token");
    let mut statuses: Vec<(u16, &str)> = Vec::new();
    if is_api && !is_token_endpoint {
        statuses.extend([
            (
                400,
                "The request could not be read (body, path, query or a header)",
            ),
            (404, "Not found, or not visible to the caller"),
            (422, "A value breaks a rule; `field` names it"),
            (500, "A bug: reported with the request id, no detail"),
            (
                503,
                "Briefly unavailable; try again after `Retry-After` seconds",
            ),
        ]);
        if secured || optional_auth {
            statuses.push((401, "No valid access token"));
        }
        if secured || optional_auth {
            statuses.push((403, "The caller may not do this"));
        }
        if has_body {
            statuses.push((413, "The body is larger than 64 KiB"));
            statuses.push((415, "The body is not `application/json`"));
        }
        if if_match {
            statuses.push((
                412,
                "`If-Match` names an old version; the current one is in `ETag`",
            ));
        }
        if method != "get" {
            statuses.push((
                409,
                "The request clashes with the current state; `code` says how",
            ));
        }
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for (status, description) in statuses {
        responses
            .entry(status.to_string())
            .or_insert_with(|| problem_response(status, description));
    }
    for (status, response) in responses.iter_mut() {
        let Ok(status) = status.parse::<u16>() else {
            continue;
        };
        let response = response.as_object_mut().expect("a response is an object");
        if status >= 400 && !is_token_endpoint {
            // An error documented without its body: the body is a problem.
            let content = response.entry("content").or_insert_with(|| json!({}));
            let content = content.as_object_mut().expect("content is an object");
            content.remove("application/json");
            content
                .entry(PROBLEM_JSON)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("a media type is an object")
                .insert(
                    "schema".into(),
                    json!({"$ref": format!("#/components/schemas/{}", family(status))}),
                );
        }
        let headers = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("headers is an object");
        headers.insert("x-request-id".into(), header_ref("RequestId"));
        match status {
            401 if !is_token_endpoint => {
                headers.insert("WWW-Authenticate".into(), header_ref("WWWAuthenticate"));
            }
            // A money-moving command's answer is stored and replayed as it
            // was first given, body only: no ETag (read the resource again).
            412 if !idempotent => {
                headers.insert("ETag".into(), header_ref("ETag"));
            }
            429 | 503 => {
                headers.insert("Retry-After".into(), header_ref("RetryAfter"));
            }
            200 | 201 if versioned && !idempotent && method != "delete" => {
                headers.insert("ETag".into(), header_ref("ETag"));
            }
            _ => {}
        }
        if idempotent && status != 400 && status < 500 {
            headers.insert(
                "Idempotent-Replayed".into(),
                header_ref("IdempotentReplayed"),
            );
        }
    }
}

/// Rules of the parameters every list, money-moving write and versioned
/// resource shares.
fn constrain_parameter(parameter: &mut Value) {
    let name = parameter["name"].as_str().unwrap_or_default().to_owned();
    let schema = &mut parameter["schema"];
    match name.as_str() {
        "limit" => {
            schema["minimum"] = json!(1);
            schema["maximum"] = json!(crate::pagination::MAX_LIMIT);
            schema["default"] = json!(crate::pagination::DEFAULT_LIMIT);
        }
        "cursor" => {
            schema["format"] = json!("uuid");
        }
        "Idempotency-Key" => {
            // Printable ASCII (a header's text), no space at either end
            // (they are trimmed away), 1 to 255 characters.
            schema["minLength"] = json!(1);
            schema["maxLength"] = json!(255);
            schema["pattern"] = json!(r"^[!-~]([ -~]{0,253}[!-~])?$");
        }
        "If-Match" => {
            schema["pattern"] = json!("^(W/)?\"[^\"]*\"$");
        }
        _ => constrain_member(&name, schema, true),
    }
}

/// The request bodies' schemas and every schema they reach.
fn request_schemas(doc: &Value) -> BTreeSet<String> {
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    if let Some(name) = r.strip_prefix("#/components/schemas/") {
                        out.push(name.to_owned());
                    }
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut pending = Vec::new();
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, v)| v)
    {
        for op in item.as_object().into_iter().flatten().map(|(_, v)| v) {
            refs(&op["requestBody"], &mut pending);
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if seen.insert(name.clone()) {
            refs(&doc["components"]["schemas"][&name], &mut pending);
        }
    }
    seen
}

/// `Page_X` refers to `X` instead of holding a second copy of it.
fn reference_page_items(schemas: &mut Map<String, Value>) {
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        let Some(item) = name.strip_prefix("Page_") else {
            continue;
        };
        if !schemas.contains_key(item) {
            continue;
        }
        let reference = json!({"$ref": format!("#/components/schemas/{item}")});
        if let Some(items) = schemas[&name]["properties"]["items"].as_object_mut() {
            items.insert("items".into(), reference);
        }
        schemas[&name]["description"] = json!(format!(
            "A page of {item}: pass `next_cursor` as `cursor` for the next one."
        ));
    }
}

/// Walks a schema and states the rules its members follow by name.
fn constrain(name: &str, schema: &mut Value, in_requests: bool) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(Value::Array(parts)) = object.get_mut(key) {
            for part in parts {
                constrain(name, part, in_requests);
            }
        }
    }
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for (member, value) in properties.iter_mut() {
            if NOT_UUID.contains(&format!("{name}.{member}").as_str()) {
                continue;
            }
            constrain_member(member, value, in_requests);
            constrain(name, value, in_requests);
        }
    }
}

fn is_type(schema: &Value, wanted: &str) -> bool {
    match &schema["type"] {
        Value::String(t) => t == wanted,
        Value::Array(types) => types.iter().any(|t| t == wanted),
        _ => false,
    }
}

/// A member's rules by its name: ids are UUIDs, money is a decimal string.
fn constrain_member(member: &str, schema: &mut Value, in_requests: bool) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let value = Value::Object(object.clone());
    let is_id = (member == "id" || member.ends_with("_id")) && !NOT_UUID.contains(&member);
    if is_type(&value, "string") {
        if is_id && !object.contains_key("format") {
            object.insert("format".into(), json!("uuid"));
        }
        if MONEY_MEMBERS.contains(&member) && !object.contains_key("pattern") {
            object.insert(
                "pattern".into(),
                json!(if in_requests { MONEY_IN } else { MONEY_OUT }),
            );
        }
    }
    if is_type(&value, "array") {
        if let Some(items) = object.get_mut("items").and_then(Value::as_object_mut) {
            let items_value = Value::Object(items.clone());
            if is_type(&items_value, "string") {
                if (ID_LISTS.contains(&member) || member.ends_with("_ids"))
                    && !items.contains_key("format")
                {
                    items.insert("format".into(), json!("uuid"));
                }
                if MONEY_MEMBERS.contains(&member) && !items.contains_key("pattern") {
                    items.insert(
                        "pattern".into(),
                        json!(if in_requests { MONEY_IN } else { MONEY_OUT }),
                    );
                }
            }
        }
    }
}

/// The methods the document lists for a concrete path, for the `Allow`
/// header of a 405.
pub fn allowed_methods(doc: &Value, path: &str) -> Option<Vec<String>> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    for (template, item) in doc["paths"].as_object()? {
        let parts: Vec<&str> = template.split('/').collect();
        let matches = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s);
        if matches {
            let methods: Vec<String> = item
                .as_object()?
                .keys()
                .filter(|m| {
                    matches!(
                        m.as_str(),
                        "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                    )
                })
                .map(|m| m.to_uppercase())
                .collect();
            return Some(methods);
        }
    }
    None
}

/// The problem families as a map from status to schema name, for tests.
pub fn families() -> BTreeMap<u16, &'static str> {
    FAMILIES.iter().map(|(s, n, _)| (*s, *n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fact a refusal adds (`extra: Some(json!({"name": …}))`) is a
    /// member of the conflict problem's schema, so clients see it typed.
    #[test]
    fn every_fact_a_refusal_adds_is_in_the_conflict_schema() {
        fn scan(dir: &std::path::Path, found: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    scan(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("http/openapi.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (at, _) in text.match_indices("extra: Some(") {
                        let rest = &text[at..];
                        let end = rest.find("})").unwrap_or(rest.len());
                        for part in rest[..end].split('"').skip(1).step_by(2) {
                            let is_key = rest[..end]
                                .split(&format!("\"{part}\""))
                                .nth(1)
                                .is_some_and(|after| after.trim_start().starts_with(':'));
                            if is_key {
                                found.push((part.to_owned(), path.display().to_string()));
                            }
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        scan(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.len() >= 10, "the scan found too little: {found:?}");
        let missing: Vec<_> = found
            .iter()
            .filter(|(key, _)| !CONFLICT_FACTS.iter().any(|(name, ..)| name == key))
            .collect();
        assert!(
            missing.is_empty(),
            "add these to CONFLICT_FACTS with their schema: {missing:?}"
        );
    }
}
