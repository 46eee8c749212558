//! An endpoint's delivery log, and what its owner can do about it: retry
//! one delivery by hand, or replay everything since a time (a partner
//! recovering from an outage). Admins, and partner apps with
//! `webhooks:manage` for their own endpoints.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::delivery::{AttemptRow, DeliveryRow, DeliveryStatus};
use super::service::{caller, load};
use super::store::EndpointRow;
use crate::auth::access::Principal;
use crate::db::schema::{events, webhook_attempts, webhook_deliveries};
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::EventRow;
use crate::ids::{now, utc};
use crate::pagination::{Page, PageRequest};

/// One try at sending a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    /// 1 for the first try. A number may be missing: a replica stopped
    /// mid-try logs nothing, and the try is made again.
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// The endpoint's HTTP status; none if no answer came.
    pub status_code: Option<i32>,
    /// Why it failed without an answer (refused address, timeout,
    /// connection refused …).
    pub error: Option<String>,
    /// The first bytes of the endpoint's answer (at most 512).
    pub response_start: Option<String>,
}

/// One message for an endpoint, and its tries.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    /// `whd_` and 32 hex digits.
    pub id: String,
    pub endpoint_id: String,
    /// The event's id: the message's `webhook-id`, the same on every try.
    pub event_id: String,
    #[schema(example = "request.approved")]
    pub event_type: String,
    /// The event's `seq` in the collective's feed.
    pub event_seq: i64,
    pub status: DeliveryStatus,
    /// Tries made so far.
    pub attempts: i32,
    /// While pending: when the next try is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last try failed, or why it was skipped.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Every try logged, oldest first.
    pub log: Vec<Attempt>,
}

impl Delivery {
    fn from_rows(row: DeliveryRow, log: Vec<AttemptRow>) -> Self {
        let status = DeliveryStatus::parse(&row.status);
        Self {
            next_attempt_at: (status == DeliveryStatus::Pending).then(|| utc(row.next_attempt_at)),
            created_at: utc(row.created_at),
            finished_at: row.finished_at.map(utc),
            log: log
                .into_iter()
                .map(|a| Attempt {
                    attempt: a.attempt,
                    started_at: utc(a.started_at),
                    duration_ms: a.duration_ms,
                    status_code: a.status_code,
                    error: a.error,
                    response_start: a.response_start,
                })
                .collect(),
            id: row.id,
            endpoint_id: row.endpoint_id,
            event_id: row.event_id,
            event_type: row.event_type,
            event_seq: row.event_seq,
            status,
            attempts: row.attempts,
            last_error: row.last_error,
        }
    }
}

/// Whether a cursor is a delivery id (`whd_` and 32 hex digits).
pub fn is_delivery_id(text: &str) -> bool {
    text.strip_prefix("whd_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn with_logs(conn: &mut DbConnection, rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut attempts: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(&ids))
        .order((
            webhook_attempts::delivery_id.asc(),
            webhook_attempts::attempt.asc(),
        ))
        .select(AttemptRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (mine, rest): (Vec<AttemptRow>, Vec<AttemptRow>) =
                attempts.drain(..).partition(|a| a.delivery_id == row.id);
            attempts = rest;
            Delivery::from_rows(row, mine)
        })
        .collect())
}

fn owned_endpoint(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    endpoint_id: &str,
) -> Result<(crate::auth::access::Actor, EndpointRow)> {
    let (actor, own) = caller(conn, principal, collective_id)?;
    let endpoint = load(conn, collective_id, endpoint_id, own.as_deref())?;
    Ok((actor, endpoint))
}

/// An endpoint's deliveries, newest first, each with its tries;
/// `status` keeps only those in that state.
pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    endpoint_id: &str,
    status: Option<DeliveryStatus>,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    let (_, endpoint) = owned_endpoint(conn, principal, collective_id, endpoint_id)?;
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(&endpoint.id))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::status.eq(status.as_str()));
    }
    if let Some(after) = &page.after {
        query = query.filter(webhook_deliveries::id.lt(after.clone()));
    }
    let rows: Vec<DeliveryRow> = query
        .order(webhook_deliveries::id.desc())
        .limit(page.limit + 1)
        .select(DeliveryRow::as_select())
        .load(conn)?;
    let page = Page::from_rows(rows, page, |r| &r.id);
    Ok(Page {
        items: with_logs(conn, page.items)?,
        next_cursor: page.next_cursor,
    })
}

/// Sends a delivery again, now: a finished one (delivered, failed or
/// skipped) becomes pending with a fresh retry schedule; a pending one is
/// made due at once (a try in flight is not interrupted). An endpoint that
/// is disabled receives it once enabled again.
pub fn retry(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    endpoint_id: &str,
    delivery_id: &str,
) -> Result<Delivery> {
    use webhook_deliveries as d;
    write_tx(conn, |conn| {
        let (actor, endpoint) = owned_endpoint(conn, principal, collective_id, endpoint_id)?;
        let row: DeliveryRow = d::table
            .filter(d::id.eq(delivery_id))
            .filter(d::endpoint_id.eq(&endpoint.id))
            .select(DeliveryRow::as_select())
            .get_result(conn)
            .optional()?
            .ok_or(Error::NotFound {
                what: "webhook delivery",
            })?;
        let at = now();
        if DeliveryStatus::parse(&row.status) == DeliveryStatus::Pending {
            diesel::update(d::table.filter(d::id.eq(&row.id)))
                .set(d::next_attempt_at.eq(at))
                .execute(conn)?;
        } else {
            diesel::update(d::table.filter(d::id.eq(&row.id)))
                .set((
                    d::status.eq(DeliveryStatus::Pending.as_str()),
                    d::next_attempt_at.eq(at),
                    // The retry schedule (and the give-up) start again.
                    d::created_at.eq(at),
                    d::finished_at.eq(None::<NaiveDateTime>),
                    d::lease_owner.eq(None::<String>),
                    d::lease_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
        }
        crate::audit::record(
            conn,
            &actor,
            "webhook_delivery.retried",
            "webhook_delivery",
            &row.id,
            json!({"endpoint_id": endpoint.id, "event_id": row.event_id, "was": row.status}),
        )?;
        let row: DeliveryRow = d::table
            .filter(d::id.eq(&row.id))
            .select(DeliveryRow::as_select())
            .get_result(conn)?;
        Ok(with_logs(conn, vec![row])?.remove(0))
    })
}

/// What to replay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Every event of the endpoint's types that happened at or after this
    /// time (and is still kept: see `events_retention_days`) is sent again.
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    /// Messages queued.
    pub queued: usize,
}

/// Most events one replay queues.
pub const REPLAY_MAX: usize = 10_000;

/// Queues again every event since `since` that the endpoint has already
/// been given (later ones come anyway), of its types and readable by its
/// partner app now; each keeps its `webhook-id`, so a receiver that
/// already has it can tell. At most [`REPLAY_MAX`] events per call.
pub fn replay(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    endpoint_id: &str,
    input: &Replay,
) -> Result<Replayed> {
    write_tx(conn, |conn| {
        let (actor, endpoint) = owned_endpoint(conn, principal, collective_id, endpoint_id)?;
        let since = input.since.naive_utc();
        let rows: Vec<EventRow> = events::table
            .filter(events::collective_id.eq(&endpoint.collective_id))
            .filter(events::occurred_at.ge(since))
            .filter(events::seq.le(endpoint.cursor_seq))
            .order(events::seq.asc())
            .limit(REPLAY_MAX as i64 + 1)
            .select(EventRow::as_select())
            .load(conn)?;
        if rows.len() > REPLAY_MAX {
            return Err(Error::invalid(
                "since",
                format!(
                    "more than {REPLAY_MAX} events since then: replay a shorter span at a time"
                ),
            ));
        }
        let queued = super::delivery::enqueue(conn, &endpoint, &rows)?;
        crate::audit::record(
            conn,
            &actor,
            "webhook_endpoint.replayed",
            "webhook_endpoint",
            &endpoint.id,
            json!({"since": input.since, "queued": queued}),
        )?;
        Ok(Replayed { queued })
    })
}

/// Forgets finished deliveries (delivered, failed or skipped before
/// `cutoff`) and their attempts: the log is kept as long as the events
/// are (`events_retention_days`). Pending deliveries are never touched.
/// Idempotent, and safe with several replicas at once.
pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> Result<usize> {
    let finished = webhook_deliveries::table
        .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::finished_at.lt(cutoff))
        .select(webhook_deliveries::id);
    write_tx(conn, |conn| -> Result<usize> {
        diesel::delete(
            webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(finished)),
        )
        .execute(conn)?;
        Ok(diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
                .filter(webhook_deliveries::finished_at.lt(cutoff)),
        )
        .execute(conn)?)
    })
}
