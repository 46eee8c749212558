//! Registering, listing, changing and rotating webhook endpoints.
//!
//! Admins manage every endpoint of the collective; a partner app with
//! `webhooks:manage` manages its own, and to it another app's endpoint
//! does not exist (not found), so it never learns another app's URL.
//! URLs are checked against the request-forgery rules by the caller
//! (asynchronously, as that may resolve a name) before these run.

use chrono::TimeDelta;
use diesel::prelude::*;
use serde_json::json;

use super::store::{self, EndpointRow};
use super::*;
use crate::audit;
use crate::auth::access::{authorize, Actor, Principal, Who};
use crate::auth::policy::Permission;
use crate::collectives::{check_if_match, etag};
use crate::db::schema::{event_sequences, webhook_endpoints};
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::types::TypePattern;
use crate::events::{self, EventType};
use crate::ids::{new_id, now};
use crate::pagination::{Page, PageRequest};

impl crate::events::Snapshot for Endpoint {}

/// Checks the event-type patterns and returns them as stored.
pub fn check_types(field: &str, types: &[String]) -> Result<String> {
    let mut checked: Vec<String> = Vec::new();
    for entry in types {
        let entry = entry.trim();
        TypePattern::parse_list(field, entry)?;
        if entry.contains(',') {
            return Err(Error::invalid(field, "one type or pattern per entry"));
        }
        if !checked.iter().any(|c| c == entry) {
            checked.push(entry.to_owned());
        }
    }
    if checked.is_empty() {
        return Err(Error::invalid(
            field,
            "name at least one event type or pattern",
        ));
    }
    Ok(checked.join(","))
}

fn check_description(text: Option<&str>) -> Result<String> {
    let text = text.unwrap_or("").trim();
    if text.chars().count() > 500 {
        return Err(Error::invalid("description", "at most 500 characters"));
    }
    Ok(text.to_owned())
}

/// The URL as stored: at most 2,000 characters (its safety is checked
/// before, see `ssrf::Guard`).
fn check_url_length(url: &str) -> Result<()> {
    if url.len() > 2000 {
        return Err(Error::invalid("url", "at most 2000 characters"));
    }
    Ok(())
}

/// The caller, and the client whose endpoints alone it may touch (a
/// partner app: itself; an admin: any).
pub fn caller(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
) -> Result<(Actor, Option<String>)> {
    let actor = authorize(
        conn,
        principal,
        collective_id,
        Permission::ManageWebhooks,
        "collective",
    )?;
    let own = match &actor.who {
        Who::Client { client_id, .. } => Some(client_id.clone()),
        _ => None,
    };
    Ok((actor, own))
}

/// Checks that the caller may manage webhooks here at all (before its URL
/// is looked at, so a caller who may not learns nothing from that check).
pub fn may_manage(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
) -> Result<()> {
    caller(conn, principal, collective_id).map(|_| ())
}

/// An endpoint of the collective the caller may touch.
pub fn load(
    conn: &mut DbConnection,
    collective_id: &str,
    id: &str,
    own: Option<&str>,
) -> Result<EndpointRow> {
    store::find(conn, id)?
        .filter(|e| e.collective_id == collective_id)
        .filter(|e| own.is_none_or(|c| c == e.client_id))
        .ok_or(Error::NotFound {
            what: "webhook endpoint",
        })
}

pub fn register(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    input: NewEndpoint,
) -> Result<EndpointWithSecret> {
    check_url_length(&input.url)?;
    let types = check_types("event_types", &input.event_types)?;
    let description = check_description(input.description.as_deref())?;
    write_tx(conn, |conn| {
        let (actor, own) = caller(conn, principal, collective_id)?;
        let client_id = match (&own, input.client_id) {
            (Some(own), None) => own.clone(),
            // A partner app registers only for itself; another app's id is
            // as unknown to it as anything else it may not see.
            (Some(own), Some(named)) if named == *own => named,
            (Some(_), Some(_)) => return Err(Error::NotFound { what: "client" }),
            (None, Some(named)) => named,
            (None, None) => {
                return Err(Error::invalid(
                    "client_id",
                    "name the partner app the endpoint is for",
                ))
            }
        };
        crate::clients::store::find(conn, &client_id)?
            .filter(|c| c.collective_id == collective_id)
            .ok_or(Error::NotFound { what: "client" })?;
        // New endpoints receive what happens from now on (and what is
        // replayed to them).
        let cursor: i64 = event_sequences::table
            .find(collective_id)
            .select(event_sequences::last_seq)
            .get_result(conn)
            .optional()?
            .unwrap_or(0);
        let secret = signing::new_secret();
        let at = now();
        let enabled = input.enabled.unwrap_or(true);
        let row = EndpointRow {
            id: format!("whe_{}", new_id().replace('-', "")),
            collective_id: collective_id.to_owned(),
            client_id,
            url: input.url,
            event_types: types,
            description,
            status: if enabled {
                EndpointStatus::Enabled
            } else {
                EndpointStatus::Disabled
            }
            .as_str()
            .to_owned(),
            disabled_reason: (!enabled).then(|| "disabled when registered".to_owned()),
            secret: secret.clone(),
            previous_secret: None,
            previous_secret_expires_at: None,
            cursor_seq: cursor,
            created_by: actor.id().to_owned(),
            created_at: at,
            updated_at: at,
            version: 1,
        };
        diesel::insert_into(webhook_endpoints::table)
            .values(&row)
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            "webhook_endpoint.created",
            "webhook_endpoint",
            &row.id,
            json!({"client_id": row.client_id, "url": row.url, "event_types": row.event_types,
                   "status": row.status}),
        )?;
        let endpoint: Endpoint = row.into();
        events::record(
            conn,
            collective_id,
            EventType::WebhookEndpointCreated,
            &endpoint,
        )?;
        Ok(EndpointWithSecret { endpoint, secret })
    })
}

pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    page: &PageRequest,
) -> Result<Page<Endpoint>> {
    let (_, own) = caller(conn, principal, collective_id)?;
    let rows = store::list(conn, collective_id, own.as_deref(), page)?;
    Ok(Page::from_rows(rows, page, |r| &r.id).map(Endpoint::from))
}

pub fn get(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    id: &str,
) -> Result<Endpoint> {
    let (_, own) = caller(conn, principal, collective_id)?;
    Ok(load(conn, collective_id, id, own.as_deref())?.into())
}

pub fn update(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    id: &str,
    patch: EndpointPatch,
    if_match: Option<&str>,
) -> Result<Endpoint> {
    if let Some(url) = &patch.url {
        check_url_length(url)?;
    }
    let types = patch
        .event_types
        .as_deref()
        .map(|t| check_types("event_types", t))
        .transpose()?;
    let description = patch
        .description
        .as_deref()
        .map(|d| check_description(Some(d)))
        .transpose()?;
    write_tx(conn, |conn| {
        let (actor, own) = caller(conn, principal, collective_id)?;
        let row = load(conn, collective_id, id, own.as_deref())?;
        check_if_match(if_match, row.version)?;
        let was = EndpointStatus::parse(&row.status);
        let status = match patch.enabled {
            Some(true) => EndpointStatus::Enabled,
            Some(false) => EndpointStatus::Disabled,
            None => was,
        };
        let reason = match (was, status) {
            (_, EndpointStatus::Enabled) => None,
            (EndpointStatus::Enabled, EndpointStatus::Disabled) => {
                Some(format!("disabled by {} {}", actor.kind(), actor.id()))
            }
            (EndpointStatus::Disabled, EndpointStatus::Disabled) => row.disabled_reason.clone(),
        };
        let url = patch.url.clone().unwrap_or(row.url.clone());
        let types = types.clone().unwrap_or(row.event_types.clone());
        let description = description.clone().unwrap_or(row.description.clone());
        let updated = diesel::update(
            webhook_endpoints::table
                .filter(webhook_endpoints::id.eq(id))
                .filter(webhook_endpoints::version.eq(row.version)),
        )
        .set((
            webhook_endpoints::url.eq(&url),
            webhook_endpoints::event_types.eq(&types),
            webhook_endpoints::description.eq(&description),
            webhook_endpoints::status.eq(status.as_str()),
            webhook_endpoints::disabled_reason.eq(&reason),
            webhook_endpoints::updated_at.eq(now()),
            webhook_endpoints::version.eq(row.version + 1),
        ))
        .execute(conn)?;
        if updated == 0 {
            return Err(Error::PreconditionFailed {
                current_etag: etag(row.version + 1),
            });
        }
        audit::record(
            conn,
            &actor,
            "webhook_endpoint.updated",
            "webhook_endpoint",
            id,
            json!({"url": url, "event_types": types, "status": status.as_str()}),
        )?;
        let endpoint: Endpoint = load(conn, collective_id, id, None)?.into();
        let event = if was == EndpointStatus::Enabled && status == EndpointStatus::Disabled {
            EventType::WebhookEndpointDisabled
        } else {
            EventType::WebhookEndpointUpdated
        };
        events::record(conn, collective_id, event, &endpoint)?;
        Ok(endpoint)
    })
}

/// A new secret; the previous one keeps signing beside it for
/// `grace_secs` (a receiver that verifies with either keeps working while
/// it is switched over).
pub fn rotate_secret(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    id: &str,
    grace_secs: u64,
) -> Result<EndpointWithSecret> {
    write_tx(conn, |conn| {
        let (actor, own) = caller(conn, principal, collective_id)?;
        let row = load(conn, collective_id, id, own.as_deref())?;
        let secret = signing::new_secret();
        let at = now();
        let until = at + TimeDelta::seconds(i64::try_from(grace_secs).unwrap_or(i64::MAX / 2));
        diesel::update(webhook_endpoints::table.filter(webhook_endpoints::id.eq(id)))
            .set((
                webhook_endpoints::secret.eq(&secret),
                webhook_endpoints::previous_secret.eq(Some(&row.secret)),
                webhook_endpoints::previous_secret_expires_at.eq(Some(until)),
                webhook_endpoints::updated_at.eq(at),
                webhook_endpoints::version.eq(row.version + 1),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            "webhook_endpoint.secret_rotated",
            "webhook_endpoint",
            id,
            json!({"previous_secret_expires_at": until}),
        )?;
        let endpoint: Endpoint = load(conn, collective_id, id, None)?.into();
        events::record(
            conn,
            collective_id,
            EventType::WebhookEndpointSecretRotated,
            &endpoint,
        )?;
        Ok(EndpointWithSecret { endpoint, secret })
    })
}
