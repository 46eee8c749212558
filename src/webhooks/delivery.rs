//! Deliveries as rows: one message (an event) for one endpoint, sent until
//! the endpoint answers 2xx or the retry schedule runs out, every try
//! logged in `webhook_attempts`. Everything here is storage and rules; the
//! HTTP side is [`super::worker`].
//!
//! * **Fan-out**: each enabled endpoint has a cursor in its collective's
//!   events (`cursor_seq`). New events of the types it asked for, that its
//!   partner app may read, become deliveries, and the cursor moves by a
//!   guarded UPDATE in the same transaction — two replicas never enqueue an
//!   event twice.
//! * **Lease**: a replica takes due deliveries by a guarded UPDATE that
//!   claims them until `now + lease` where no live lease holds them (the
//!   shared SQL subset has no `FOR UPDATE SKIP LOCKED`). A replica that dies
//!   mid-delivery leaves the lease to expire; the attempt is made again.
//!   Finishing is guarded by the same lease, so a replica whose lease was
//!   taken over writes nothing.
//! * **Order per object**: a delivery waits while an earlier one of the same
//!   endpoint about the same object is pending.
//! * **Filtered when sent**: the message's `data` is the event's snapshot
//!   as the partner app's scopes allow *at the time of sending*.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};

use super::store::EndpointRow;
use super::{split_types, Endpoint, EndpointStatus};
use crate::auth::access::{Actor, Who};
use crate::clients::ClientStatus;
use crate::db::schema::{events, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::types::TypePattern;
use crate::events::{self as outbox, EventRow, EventType};
use crate::ids::{new_id, now, utc};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up after the retry schedule ran out.
    Failed,
    /// Not sent: the partner app may no longer read its type, or the event
    /// was purged before it could be sent.
    Skipped,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => Self::Skipped,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub collective_id: String,
    pub event_id: String,
    pub event_seq: i64,
    pub event_type: String,
    pub object_key: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub id: String,
    pub delivery_id: String,
    pub endpoint_id: String,
    pub attempt: i32,
    pub replica: String,
    pub started_at: NaiveDateTime,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response_start: Option<String>,
}

/// The retry schedule and lease, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub lease: TimeDelta,
    pub retry_base_ms: u64,
    pub retry_max_delay: TimeDelta,
    pub give_up_after: TimeDelta,
}

impl Schedule {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let secs = |s: u64| TimeDelta::seconds(i64::try_from(s).unwrap_or(i64::MAX / 4_000));
        // A lease shorter than an attempt could let a second replica send
        // while the first is still waiting for its answer.
        let least = settings.webhooks_timeout_ms.div_ceil(1000) + 2;
        Self {
            lease: secs(settings.webhooks_lease_secs.max(least)),
            retry_base_ms: settings.webhooks_retry_base_ms.max(1),
            retry_max_delay: secs(settings.webhooks_retry_max_delay_secs.max(1)),
            give_up_after: secs(settings.webhooks_give_up_after_secs),
        }
    }

    /// The delay before attempt `attempts + 1`: the base, doubled for each
    /// attempt made after the first, at most the longest delay, then ±25 %
    /// jitter (`jitter_permille` in 750..=1250) so failing endpoints'
    /// retries spread out.
    pub fn delay(&self, attempts: i32, jitter_permille: i64) -> TimeDelta {
        let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 40)).unwrap_or(40);
        let max_ms = self.retry_max_delay.num_milliseconds().max(1);
        let base = i64::try_from(self.retry_base_ms).unwrap_or(i64::MAX);
        let ms = base
            .checked_mul(1i64.checked_shl(doublings).unwrap_or(i64::MAX))
            .unwrap_or(i64::MAX)
            .min(max_ms);
        TimeDelta::milliseconds(ms / 1000 * jitter_permille + ms % 1000 * jitter_permille / 1000)
    }
}

/// The partner app as a reader of events, with the scopes it holds now;
/// `None` if it is disabled or gone.
fn reader_of(conn: &mut DbConnection, endpoint: &EndpointRow) -> Result<Option<Actor>> {
    Ok(crate::clients::store::find(conn, &endpoint.client_id)?
        .filter(|c| c.status() == ClientStatus::Active && c.collective_id == endpoint.collective_id)
        .map(|client| Actor {
            collective_id: endpoint.collective_id.clone(),
            who: Who::Client {
                scopes: crate::clients::parse_scopes(&client.scopes),
                client_id: client.id,
            },
        }))
}

fn patterns(endpoint: &EndpointRow) -> Vec<TypePattern> {
    // Stored patterns were checked when written; one this version no
    // longer knows matches nothing.
    split_types(&endpoint.event_types)
        .iter()
        .filter_map(|p| TypePattern::parse_list("event_types", p).ok())
        .flatten()
        .collect()
}

/// Turns new events into deliveries for every enabled endpoint, at most
/// `batch` events per endpoint. Returns how many deliveries it made.
pub fn fan_out(conn: &mut DbConnection, batch: i64) -> Result<usize> {
    let endpoints: Vec<EndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::status.eq(EndpointStatus::Enabled.as_str()))
        .order(webhook_endpoints::id.asc())
        .select(EndpointRow::as_select())
        .load(conn)?;
    let mut made = 0;
    for endpoint in endpoints {
        let rows: Vec<EventRow> = events::table
            .filter(events::collective_id.eq(&endpoint.collective_id))
            .filter(events::seq.gt(endpoint.cursor_seq))
            .order(events::seq.asc())
            .limit(batch)
            .select(EventRow::as_select())
            .load(conn)?;
        let Some(last) = rows.last().and_then(|r| r.seq) else {
            continue;
        };
        // A disabled partner app's endpoint keeps its place: it receives
        // what happened meanwhile once the app is active again.
        if reader_of(conn, &endpoint)?.is_none() {
            continue;
        }
        let enqueued = write_tx(conn, |conn| -> Result<usize> {
            let moved = diesel::update(
                webhook_endpoints::table
                    .filter(webhook_endpoints::id.eq(&endpoint.id))
                    .filter(webhook_endpoints::cursor_seq.eq(endpoint.cursor_seq)),
            )
            .set(webhook_endpoints::cursor_seq.eq(last))
            .execute(conn)?;
            if moved == 0 {
                // Another replica enqueued these events first.
                return Err(diesel::result::Error::RollbackTransaction.into());
            }
            enqueue(conn, &endpoint, &rows)
        });
        match enqueued {
            Ok(count) => made += count,
            Err(Error::Storage(diesel::result::Error::RollbackTransaction)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(made)
}

/// Queues a delivery to `endpoint` for each of `rows` of the types it
/// asked for that its partner app may read now (none if the app is
/// disabled). Returns how many.
pub fn enqueue(
    conn: &mut DbConnection,
    endpoint: &EndpointRow,
    rows: &[EventRow],
) -> Result<usize> {
    let Some(reader) = reader_of(conn, endpoint)? else {
        return Ok(0);
    };
    let wanted = patterns(endpoint);
    let at = now();
    let deliveries: Vec<DeliveryRow> = rows
        .iter()
        .filter_map(|row| {
            let kind = EventType::parse(&row.kind)?;
            let seq = row.seq?;
            (wanted.iter().any(|p| p.matches(kind)) && reader.may(kind.reader())).then(|| {
                DeliveryRow {
                    id: format!("whd_{}", new_id().replace('-', "")),
                    endpoint_id: endpoint.id.clone(),
                    collective_id: endpoint.collective_id.clone(),
                    event_id: row.id.clone(),
                    event_seq: seq,
                    event_type: row.kind.clone(),
                    object_key: format!("{}:{}", row.object_kind, row.object_id),
                    status: DeliveryStatus::Pending.as_str().to_owned(),
                    attempts: 0,
                    next_attempt_at: at,
                    lease_owner: None,
                    lease_until: None,
                    last_error: None,
                    created_at: at,
                    finished_at: None,
                }
            })
        })
        .collect();
    // One statement per row: the shared subset has no batch insert.
    for delivery in &deliveries {
        diesel::insert_into(webhook_deliveries::table)
            .values(delivery)
            .execute(conn)?;
    }
    Ok(deliveries.len())
}

/// Takes up to `limit` due deliveries for `owner` (a token unique to this
/// claim) until `now + lease`, and returns them. Only deliveries of enabled
/// endpoints, none held by a live lease, and none with an earlier pending
/// delivery about the same object for the same endpoint.
pub fn claim(
    conn: &mut DbConnection,
    owner: &str,
    lease: TimeDelta,
    limit: i64,
) -> Result<Vec<DeliveryRow>> {
    use webhook_deliveries as d;
    let at = now();
    let earlier = diesel::alias!(webhook_deliveries as earlier);
    let candidates: Vec<String> = d::table
        .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(d::next_attempt_at.le(at))
        .filter(d::lease_until.is_null().or(d::lease_until.lt(at)))
        .filter(
            d::endpoint_id.eq_any(
                webhook_endpoints::table
                    .filter(webhook_endpoints::status.eq(EndpointStatus::Enabled.as_str()))
                    .select(webhook_endpoints::id),
            ),
        )
        .filter(not(exists(
            earlier
                .filter(earlier.field(d::endpoint_id).eq(d::endpoint_id))
                .filter(earlier.field(d::object_key).eq(d::object_key))
                .filter(
                    earlier
                        .field(d::status)
                        .eq(DeliveryStatus::Pending.as_str()),
                )
                .filter(
                    earlier.field(d::event_seq).lt(d::event_seq).or(earlier
                        .field(d::event_seq)
                        .eq(d::event_seq)
                        .and(earlier.field(d::id).lt(d::id))),
                ),
        )))
        .order((d::next_attempt_at.asc(), d::event_seq.asc()))
        .limit(limit)
        .select(d::id)
        .load(conn)?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let until = at + lease;
    write_tx(conn, |conn| -> Result<()> {
        diesel::update(
            d::table
                .filter(d::id.eq_any(&candidates))
                .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
                .filter(d::next_attempt_at.le(at))
                .filter(d::lease_until.is_null().or(d::lease_until.lt(at))),
        )
        .set((
            d::lease_owner.eq(owner),
            d::lease_until.eq(until),
            d::attempts.eq(d::attempts + 1),
        ))
        .execute(conn)?;
        Ok(())
    })?;
    Ok(d::table
        .filter(d::lease_owner.eq(owner))
        .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
        .order(d::event_seq.asc())
        .select(DeliveryRow::as_select())
        .load(conn)?)
}

/// What to send for a claimed delivery, read when it is sent.
#[derive(Debug, Clone)]
pub enum Prepared {
    Send(Message),
    /// Not to be sent; why.
    Skip(String),
    /// The partner app is disabled: try again later, without counting an
    /// attempt.
    Wait,
}

/// One signed message, ready to post.
#[derive(Debug, Clone)]
pub struct Message {
    pub url: String,
    /// `webhook-id`: the event's id, the same on every attempt.
    pub id: String,
    /// `webhook-timestamp`: this attempt's time (Unix seconds).
    pub timestamp: i64,
    pub signature: String,
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: chrono::DateTime<chrono::Utc>,
    data: Value,
}

/// Reads the event, the endpoint and the partner app's scopes as they are
/// now, and makes the message: `data` filtered for the app, signed with
/// every secret in force.
pub fn prepare(conn: &mut DbConnection, delivery: &DeliveryRow) -> Result<Prepared> {
    let Some(endpoint) = super::store::find(conn, &delivery.endpoint_id)? else {
        return Ok(Prepared::Skip("the endpoint is gone".into()));
    };
    let Some(reader) = reader_of(conn, &endpoint)? else {
        return Ok(Prepared::Wait);
    };
    let row: Option<EventRow> = events::table
        .filter(events::id.eq(&delivery.event_id))
        .select(EventRow::as_select())
        .get_result(conn)
        .optional()?;
    message(&endpoint, &reader, row.as_ref())
}

/// The signed message of `row` for `endpoint`, its `data` as `reader` may
/// see it.
fn message(endpoint: &EndpointRow, reader: &Actor, row: Option<&EventRow>) -> Result<Prepared> {
    let Some(row) = row else {
        return Ok(Prepared::Skip(
            "the event was purged before it could be sent".into(),
        ));
    };
    let Some(kind) = EventType::parse(&row.kind) else {
        return Ok(Prepared::Skip(format!("unknown event type {}", row.kind)));
    };
    if !reader.may(kind.reader()) {
        return Ok(Prepared::Skip(format!(
            "the partner app may no longer read {}",
            row.kind
        )));
    }
    let body = serde_json::to_vec(&Body {
        kind: &row.kind,
        timestamp: utc(row.occurred_at),
        data: outbox::reveal(kind, row, reader),
    })
    .map_err(|e| Error::Internal(format!("webhook body: {e}")))?;
    let at = now();
    let timestamp = at.and_utc().timestamp();
    let signature = super::signing::header(&endpoint.secrets_at(at), &row.id, timestamp, &body);
    Ok(Prepared::Send(Message {
        url: endpoint.url.clone(),
        id: row.id.clone(),
        timestamp,
        signature,
        body,
    }))
}

/// How one attempt went.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub started_at: NaiveDateTime,
    pub duration_ms: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub response_start: Option<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|c| (200..300).contains(&c))
    }

    fn describe(&self) -> String {
        match (&self.error, self.status_code) {
            (Some(error), _) => error.clone(),
            (None, Some(code)) => format!("answered {code}"),
            (None, None) => "no answer".into(),
        }
    }
}

/// Records an attempt and moves the delivery on: delivered, retried later,
/// or given up (and its endpoint disabled, with an event). Guarded by the
/// lease: a replica whose lease was taken over changes nothing.
pub fn finish(
    conn: &mut DbConnection,
    delivery: &DeliveryRow,
    owner: &str,
    replica: &str,
    schedule: &Schedule,
    outcome: &Outcome,
    jitter_permille: i64,
) -> Result<DeliveryStatus> {
    use webhook_deliveries as d;
    write_tx(conn, |conn| {
        let held = d::table
            .filter(d::id.eq(&delivery.id))
            .filter(d::lease_owner.eq(owner))
            .filter(d::status.eq(DeliveryStatus::Pending.as_str()))
            .select(d::id)
            .first::<String>(conn)
            .optional()?;
        if held.is_none() {
            return Ok(DeliveryStatus::parse(&delivery.status));
        }
        diesel::insert_into(webhook_attempts::table)
            .values(&AttemptRow {
                id: format!("wha_{}", new_id().replace('-', "")),
                delivery_id: delivery.id.clone(),
                endpoint_id: delivery.endpoint_id.clone(),
                attempt: delivery.attempts,
                replica: replica.to_owned(),
                started_at: outcome.started_at,
                duration_ms: outcome.duration_ms,
                status_code: outcome.status_code.map(i32::from),
                error: outcome.error.clone(),
                response_start: outcome.response_start.clone(),
            })
            .execute(conn)?;
        let at = now();
        let target = d::table
            .filter(d::id.eq(&delivery.id))
            .filter(d::lease_owner.eq(owner));
        if outcome.succeeded() {
            diesel::update(target)
                .set((
                    d::status.eq(DeliveryStatus::Delivered.as_str()),
                    d::finished_at.eq(Some(at)),
                    d::lease_owner.eq(None::<String>),
                    d::lease_until.eq(None::<NaiveDateTime>),
                    d::last_error.eq(None::<String>),
                ))
                .execute(conn)?;
            return Ok(DeliveryStatus::Delivered);
        }
        let error = outcome.describe();
        if at - delivery.created_at >= schedule.give_up_after {
            diesel::update(target)
                .set((
                    d::status.eq(DeliveryStatus::Failed.as_str()),
                    d::finished_at.eq(Some(at)),
                    d::lease_owner.eq(None::<String>),
                    d::lease_until.eq(None::<NaiveDateTime>),
                    d::last_error.eq(Some(&error)),
                ))
                .execute(conn)?;
            disable_failing(conn, &delivery.endpoint_id, schedule, &error)?;
            return Ok(DeliveryStatus::Failed);
        }
        diesel::update(target)
            .set((
                d::next_attempt_at.eq(at + schedule.delay(delivery.attempts, jitter_permille)),
                d::lease_owner.eq(None::<String>),
                d::lease_until.eq(None::<NaiveDateTime>),
                d::last_error.eq(Some(&error)),
            ))
            .execute(conn)?;
        Ok(DeliveryStatus::Pending)
    })
}

/// What became of a claimed delivery, to be written down.
#[derive(Debug, Clone)]
pub enum Done {
    /// An attempt was made.
    Tried {
        delivery: DeliveryRow,
        owner: String,
        outcome: Outcome,
        jitter_permille: i64,
    },
    /// Not sent: skipped for good (`skip`), or handed back for `later`.
    Aside {
        delivery: DeliveryRow,
        owner: String,
        skip: Option<String>,
        later: TimeDelta,
    },
}

/// Writes down many outcomes in one transaction (one commit, one sync to
/// disk, instead of one per delivery). Returns the deliveries given up.
pub fn finish_all(
    conn: &mut DbConnection,
    done: &[Done],
    replica: &str,
    schedule: &Schedule,
) -> Result<usize> {
    write_tx(conn, |conn| {
        let mut given_up = 0;
        for item in done {
            match item {
                Done::Tried {
                    delivery,
                    owner,
                    outcome,
                    jitter_permille,
                } => {
                    let status = finish(
                        conn,
                        delivery,
                        owner,
                        replica,
                        schedule,
                        outcome,
                        *jitter_permille,
                    )?;
                    given_up += usize::from(status == DeliveryStatus::Failed);
                }
                Done::Aside {
                    delivery,
                    owner,
                    skip,
                    later,
                } => set_aside(conn, delivery, owner, skip.as_deref(), *later)?,
            }
        }
        Ok(given_up)
    })
}

/// [`prepare`] for each claimed delivery, on one connection: each
/// endpoint and its app's scopes read once, the events in one query.
pub fn prepare_all(
    conn: &mut DbConnection,
    deliveries: Vec<DeliveryRow>,
) -> Result<Vec<(DeliveryRow, Prepared)>> {
    use std::collections::HashMap;
    let ids: Vec<&str> = deliveries.iter().map(|d| d.event_id.as_str()).collect();
    let mut found: HashMap<String, EventRow> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<EventRow> = events::table
            .filter(events::id.eq_any(chunk))
            .select(EventRow::as_select())
            .load(conn)?;
        found.extend(rows.into_iter().map(|r| (r.id.clone(), r)));
    }
    let mut endpoints: HashMap<String, Option<(EndpointRow, Option<Actor>)>> = HashMap::new();
    let mut prepared = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        if !endpoints.contains_key(&delivery.endpoint_id) {
            let endpoint = super::store::find(conn, &delivery.endpoint_id)?;
            let entry = match endpoint {
                Some(endpoint) => {
                    let reader = reader_of(conn, &endpoint)?;
                    Some((endpoint, reader))
                }
                None => None,
            };
            endpoints.insert(delivery.endpoint_id.clone(), entry);
        }
        let outcome = match &endpoints[&delivery.endpoint_id] {
            None => Prepared::Skip("the endpoint is gone".into()),
            Some((_, None)) => Prepared::Wait,
            Some((endpoint, Some(reader))) => {
                message(endpoint, reader, found.get(&delivery.event_id))?
            }
        };
        prepared.push((delivery, outcome));
    }
    Ok(prepared)
}

/// Ends a delivery without sending it (`Skip`), or hands it back for later
/// without counting the attempt (`Wait`).
pub fn set_aside(
    conn: &mut DbConnection,
    delivery: &DeliveryRow,
    owner: &str,
    skip: Option<&str>,
    later: TimeDelta,
) -> Result<()> {
    use webhook_deliveries as d;
    let target = d::table
        .filter(d::id.eq(&delivery.id))
        .filter(d::lease_owner.eq(owner));
    let at = now();
    match skip {
        Some(why) => diesel::update(target)
            .set((
                d::status.eq(DeliveryStatus::Skipped.as_str()),
                d::finished_at.eq(Some(at)),
                d::lease_owner.eq(None::<String>),
                d::lease_until.eq(None::<NaiveDateTime>),
                d::last_error.eq(Some(why)),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                d::attempts.eq(d::attempts - 1),
                d::next_attempt_at.eq(at + later),
                d::lease_owner.eq(None::<String>),
                d::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Disables an endpoint whose message could not be delivered for the whole
/// retry schedule, saying why, with a `webhook_endpoint.disabled` event for
/// its admins. Its other deliveries wait; enabled again, it receives them.
fn disable_failing(
    conn: &mut DbConnection,
    endpoint_id: &str,
    schedule: &Schedule,
    error: &str,
) -> Result<()> {
    let Some(row) = super::store::find(conn, endpoint_id)? else {
        return Ok(());
    };
    if EndpointStatus::parse(&row.status) != EndpointStatus::Enabled {
        return Ok(());
    }
    let reason = format!(
        "deliveries kept failing for {} s (last: {})",
        schedule.give_up_after.num_seconds(),
        error.chars().take(300).collect::<String>()
    );
    let updated = diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(endpoint_id))
            .filter(webhook_endpoints::version.eq(row.version)),
    )
    .set((
        webhook_endpoints::status.eq(EndpointStatus::Disabled.as_str()),
        webhook_endpoints::disabled_reason.eq(Some(&reason)),
        webhook_endpoints::updated_at.eq(now()),
        webhook_endpoints::version.eq(row.version + 1),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(());
    }
    let actor = Actor::system(&row.collective_id);
    crate::audit::record(
        conn,
        &actor,
        "webhook_endpoint.disabled",
        "webhook_endpoint",
        endpoint_id,
        json!({"reason": reason}),
    )?;
    let endpoint: Endpoint = super::store::find(conn, endpoint_id)?
        .ok_or(Error::NotFound {
            what: "webhook endpoint",
        })?
        .into();
    outbox::record(
        conn,
        &row.collective_id,
        EventType::WebhookEndpointDisabled,
        &endpoint,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            lease: TimeDelta::seconds(60),
            retry_base_ms: 10_000,
            retry_max_delay: TimeDelta::hours(6),
            give_up_after: TimeDelta::days(3),
        }
    }

    #[test]
    fn retries_back_off_exponentially_up_to_the_longest_delay_with_jitter() {
        let s = schedule();
        assert_eq!(s.delay(1, 1000), TimeDelta::seconds(10));
        assert_eq!(s.delay(2, 1000), TimeDelta::seconds(20));
        assert_eq!(s.delay(5, 1000), TimeDelta::seconds(160));
        assert_eq!(s.delay(30, 1000), TimeDelta::hours(6));
        assert_eq!(s.delay(1, 750), TimeDelta::milliseconds(7_500));
        assert_eq!(s.delay(1, 1250), TimeDelta::milliseconds(12_500));
        assert_eq!(s.delay(i32::MAX, 1250), TimeDelta::milliseconds(27_000_000));
    }

    #[test]
    fn the_lease_outlasts_an_attempt() {
        let settings = crate::config::Settings {
            webhooks_timeout_ms: 30_000,
            webhooks_lease_secs: 5,
            ..Default::default()
        };
        assert_eq!(
            Schedule::from_settings(&settings).lease,
            TimeDelta::seconds(32)
        );
    }
}
