//! The events outbox: every change worth telling partner apps about is
//! recorded here in the same transaction as the change itself, so an event
//! exists exactly when its change does. Delivery (webhooks, the feed) reads
//! from this table. Payloads carry ids and states, never private fields.

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::events;
use crate::db::DbConnection;
use crate::error::Result;
use crate::ids::{new_id, now};

pub fn record(
    conn: &mut DbConnection,
    collective_id: &str,
    kind: &str,
    object_kind: &str,
    object_id: &str,
    payload: Value,
) -> Result<()> {
    diesel::insert_into(events::table)
        .values((
            events::collective_id.eq(collective_id),
            events::id.eq(new_id()),
            events::kind.eq(kind),
            events::object_kind.eq(object_kind),
            events::object_id.eq(object_id),
            events::payload.eq(payload.to_string()),
            events::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}
