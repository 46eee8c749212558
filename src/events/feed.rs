//! Reading the feed: a collective's events after a cursor, in commit order,
//! of the types the reader asked for and may see, each filtered for them.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::types::{wanted, TypePattern};
use super::{Event, EventRow, EventType};
use crate::auth::access::{authorize, Principal};
use crate::auth::policy::Permission;
use crate::db::schema::{event_sequences, events};
use crate::db::DbConnection;
use crate::error::{Error, Result};

/// What a reader asks the feed for.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    /// The `seq` of the last event already read (none: from the oldest kept).
    pub after: Option<i64>,
    pub types: Vec<TypePattern>,
    pub limit: i64,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Oldest first, in commit order.
    pub items: Vec<Event>,
    /// Pass as `after` to read on. Given even when no event came, so a
    /// poller can keep it.
    pub next_after: i64,
    /// Whether more events are there already; otherwise poll again later.
    pub has_more: bool,
}

pub fn read(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    query: &FeedQuery,
) -> Result<EventPage> {
    let reader = authorize(
        conn,
        principal,
        collective_id,
        Permission::ReadEvents,
        "collective",
    )?;
    let after = query.after.unwrap_or(0);
    let purged_through: Option<i64> = event_sequences::table
        .find(collective_id)
        .select(event_sequences::purged_through)
        .get_result(conn)
        .optional()?;
    if query.after.is_some_and(|a| a < purged_through.unwrap_or(0)) {
        return Err(Error::Conflict {
            code: "cursor_expired",
            message: "events after this cursor were purged (they are kept for a limited time); \
                      read the current state from the API, then read the feed without `after`"
                .into(),
            extra: Some(json!({"purged_through": purged_through})),
        });
    }
    // Only the types the reader may see and asked for, so pages are full.
    let kinds: Vec<&str> = EventType::ALL
        .iter()
        .filter(|t| reader.may(t.reader()) && wanted(&query.types, **t))
        .map(|t| t.name())
        .collect();
    let mut rows: Vec<EventRow> = events::table
        .filter(events::collective_id.eq(collective_id))
        .filter(events::seq.gt(after))
        .filter(events::kind.eq_any(kinds))
        .order(events::seq.asc())
        .limit(query.limit + 1)
        .select(EventRow::as_select())
        .load(conn)?;
    let has_more = rows.len() as i64 > query.limit;
    rows.truncate(query.limit as usize);
    let next_after = rows.last().and_then(|r| r.seq).unwrap_or(after);
    Ok(EventPage {
        items: rows
            .iter()
            .filter_map(|row| Event::for_reader(row, &reader))
            .collect(),
        next_after,
        has_more,
    })
}
