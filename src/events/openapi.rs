//! The OpenAPI document's top-level `webhooks`: one entry per event type,
//! with the message a partner receives. utoipa does not generate this
//! object, so it is made here from the vocabulary and added where the
//! document is finished (`http::openapi::finish`), so the committed
//! document and its drift check cover it.

use serde_json::{json, Map, Value};
use utoipa::openapi::{Components, RefOr, Schema};

use super::EventType;
use crate::auth::policy::Permission;

/// Who may receive an event, in words: the feed is for admins, who see
/// every event; partner apps see those their scopes allow.
fn readers(permission: Permission) -> String {
    match permission.rule().scope {
        Some(scope) => format!(
            "admins (in the feed) and partner apps with `{}`",
            scope.as_str()
        ),
        None => "admins (in the feed) only; never partner apps".into(),
    }
}

/// The `webhooks` object; the schemas its messages refer to are added to
/// `components` where missing.
pub fn webhooks(components: &mut Components) -> Value {
    let mut hooks = Map::new();
    for event in EventType::ALL {
        let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
        event.schemas(&mut schemas);
        for (name, schema) in schemas {
            components.schemas.entry(name).or_insert(schema);
        }
        let private: Vec<String> = event
            .private_fields()
            .iter()
            .map(|(field, permission)| {
                let rule = permission.rule();
                match rule.scope {
                    Some(scope) => format!("`{field}` only with `{}`", scope.as_str()),
                    None => format!("`{field}` never to partner apps"),
                }
            })
            .collect();
        let mut description = format!(
            "{}\n\nObject: `{}`. Received by {}.",
            event.description(),
            event.object_kind(),
            readers(event.reader())
        );
        if !private.is_empty() {
            description.push_str(&format!(" Private fields: {}.", private.join(", ")));
        }
        let header = |name: &str, text: &str| {
            json!({"name": name, "in": "header", "required": true, "description": text,
                   "schema": {"type": "string"}})
        };
        hooks.insert(
            event.name().to_owned(),
            json!({"post": {
                "operationId": format!("webhook_{}", event.name().replace('.', "_")),
                "summary": event.name(),
                "description": description,
                "tags": ["webhooks"],
                "parameters": [
                    header("webhook-id", "The event's id: the same on every retry of one message."),
                    header("webhook-timestamp", "Seconds since 1970 when this attempt was sent; refuse messages more than five minutes off."),
                    header("webhook-signature", "`v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded part of the endpoint's `whsec_` secret; during a rotation, two signatures separated by a space."),
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["type", "timestamp", "data"],
                    "properties": {
                        "type": {"type": "string", "enum": [event.name()]},
                        "timestamp": {"type": "string", "format": "date-time", "description": "When it happened."},
                        "data": {
                            "$ref": format!("#/components/schemas/{}", event.shape()),
                            "description": "The object as its GET showed it then, without what the receiving partner app's scopes do not allow."
                        }
                    }
                }}}},
                "responses": {
                    "2XX": {"description": "Received. Any other answer, or none within the timeout, is retried with backoff."}
                }
            }}),
        );
    }
    Value::Object(hooks)
}
