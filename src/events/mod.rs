//! Events: everything that happens in a collective that a partner app could
//! care about, written to the outbox in the same transaction as the change,
//! so an event exists exactly when its change does. The feed
//! (`GET /collectives/{id}/events`) and webhook delivery read from here.
//!
//! * **One vocabulary**: every type, its `data` shape and who may read it are
//!   in [`types`].
//! * **Snapshots**: an event carries its object as the API's GET shows it,
//!   taken in the write transaction. Its private fields are stored apart
//!   (`private_data`) and added back only for readers allowed them, at every
//!   read or delivery ([`reveal`]).
//! * **Commit order**: an event is written unnumbered; just before the
//!   transaction commits, [`number_pending`] gives it the collective's next
//!   number (`seq`) under the lock of the collective's row in
//!   `event_sequences`, held until commit. A transaction that numbers events
//!   after another therefore commits after it, so a reader that follows
//!   `seq` never skips an event that commits late (as ids made before commit
//!   would on PostgreSQL). Numbering last also means a transaction holds that
//!   lock only while it commits, never while it waits for another lock.

pub mod feed;
pub mod http;
pub mod openapi;
pub mod types;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub use types::{EventType, Snapshot};

use crate::auth::access::Actor;
use crate::db::schema::{event_sequences, events};
use crate::db::{is_unique_violation, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{new_id, now, utc};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub collective_id: String,
    pub id: String,
    pub seq: Option<i64>,
    pub kind: String,
    pub object_kind: String,
    pub object_id: String,
    pub data: String,
    pub private_data: Option<String>,
    pub occurred_at: NaiveDateTime,
}

/// Records that `event` happened to the object `snapshot` shows, in the
/// caller's transaction (which must be a `db::write_tx`, so the event is
/// numbered when it commits).
pub fn record<T: Snapshot>(
    conn: &mut DbConnection,
    collective_id: &str,
    event: EventType,
    snapshot: &T,
) -> Result<()> {
    if event.shape() != T::name() {
        return Err(Error::Internal(format!(
            "{} carries {}, not {}",
            event.name(),
            event.shape(),
            T::name()
        )));
    }
    let Value::Object(mut data) = serde_json::to_value(snapshot)
        .map_err(|e| Error::Internal(format!("snapshot of {}: {e}", event.name())))?
    else {
        return Err(Error::Internal(format!(
            "{}: a snapshot is an object",
            event.name()
        )));
    };
    let object_id = data
        .get(T::SUBJECT)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Internal(format!("{}: no {} in snapshot", event.name(), T::SUBJECT)))?
        .to_owned();
    let mut private = Map::new();
    for (field, _) in T::PRIVATE {
        if let Some(value) = data.remove(*field) {
            private.insert((*field).to_owned(), value);
        }
    }
    // The private part is sealed (`crate::crypto`), bound to the event.
    let id = new_id();
    let private_data = match private.is_empty() {
        true => None,
        false => Some(crate::crypto::seal(
            "events",
            "private_data",
            &id,
            &Value::Object(private).to_string(),
        )?),
    };
    let row = (
        events::collective_id.eq(collective_id),
        events::id.eq(id),
        events::seq.eq(None::<i64>),
        events::kind.eq(event.name()),
        events::object_kind.eq(event.object_kind()),
        events::object_id.eq(object_id),
        events::data.eq(Value::Object(data).to_string()),
        events::private_data.eq(private_data),
        events::occurred_at.eq(now()),
    );
    crate::on_backend!(conn, |c| diesel::insert_into(events::table)
        .values(row)
        .execute(c))?;
    Ok(())
}

/// Numbers the events this transaction wrote, in the order it wrote them.
/// Called by `db::write_tx` just before it commits; collectives are taken in
/// id order, so two transactions numbering for the same collectives cannot
/// deadlock.
pub fn number_pending(conn: &mut DbConnection) -> QueryResult<()> {
    // Only this transaction's own unnumbered rows are visible to it.
    let pending: Vec<(String, String)> = pending_events().load(conn)?;
    let mut rest = pending.as_slice();
    while let Some((collective_id, _)) = rest.first() {
        let count = rest.iter().take_while(|(c, _)| c == collective_id).count();
        let (batch, after) = rest.split_at(count);
        let last = take_numbers(conn, collective_id, count as i64)?;
        let numbered: Vec<(i64, &str)> = (last - count as i64 + 1..)
            .zip(batch.iter().map(|(_, id)| id.as_str()))
            .collect();
        for chunk in numbered.chunks(NUMBERED_PER_STATEMENT) {
            set_numbers(conn, collective_id, chunk)?;
        }
        rest = after;
    }
    Ok(())
}

/// Unnumbered events, by collective then id.
type PendingEvents = diesel::dsl::Select<
    diesel::dsl::Order<
        diesel::dsl::Filter<events::table, diesel::dsl::IsNull<events::seq>>,
        (
            diesel::dsl::Asc<events::collective_id>,
            diesel::dsl::Asc<events::id>,
        ),
    >,
    (events::collective_id, events::id),
>;

/// This transaction's unnumbered events, by collective then id: read
/// through the partial index `events_unnumbered`, which holds only them
/// (see `plan` below).
fn pending_events() -> PendingEvents {
    events::table
        .filter(events::seq.is_null())
        .order((events::collective_id.asc(), events::id.asc()))
        .select((events::collective_id, events::id))
}

/// Events numbered by one statement at most (two parameters each).
const NUMBERED_PER_STATEMENT: usize = 200;

/// Gives each event its number, all in one statement (a batch of the
/// writer numbers hundreds: one round trip, not one each). Guarded, so a
/// row another transaction numbered meanwhile (one written outside
/// `write_tx`, found by two at once) keeps its number; this one's number
/// is then simply unused.
fn set_numbers(
    conn: &mut DbConnection,
    collective_id: &str,
    numbered: &[(i64, &str)],
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Text};
    // Numbered parameters (each id is used twice): `$n` on PostgreSQL,
    // `?n` on SQLite.
    let p = match conn {
        DbConnection::Sqlite(_) => '?',
        DbConnection::Postgres(_) => '$',
    };
    let mut query = diesel::sql_query(numbering_sql(p, numbered.len()))
        .into_boxed()
        .bind::<Text, _>(collective_id.to_owned());
    for (seq, id) in numbered {
        query = query
            .bind::<Text, _>((*id).to_owned())
            .bind::<BigInt, _>(*seq);
    }
    query.execute(conn)
}

/// The statement that numbers `count` events of one collective, with
/// parameters written `{p}n`.
fn numbering_sql(p: char, count: usize) -> String {
    use std::fmt::Write;
    let mut cases = String::new();
    let mut ids = String::new();
    for i in 0..count {
        let (id, seq) = (2 * i + 2, 2 * i + 3);
        let _ = write!(cases, " WHEN {p}{id} THEN {p}{seq}");
        let _ = write!(ids, "{}{p}{id}", if i == 0 { "" } else { ", " });
    }
    // `+seq`: the unary plus (a no-op on both databases) keeps SQLite from
    // searching `events_feed (collective_id, seq)` for `seq IS NULL`, which
    // walks every unnumbered event of the collective for each statement
    // (quadratic in a long transaction such as the demo's); it finds each
    // row by its primary key instead.
    format!(
        "UPDATE events SET seq = CASE id{cases} END \
         WHERE collective_id = {p}1 AND +seq IS NULL AND id IN ({ids})"
    )
}

/// [`take_numbers`]'s bump of the sequence.
struct BumpSequence;

impl crate::db::statement::Sql for BumpSequence {
    const PIECES: &'static [&'static str] = &[
        "UPDATE event_sequences SET last_seq = last_seq + ",
        " WHERE collective_id = ",
        " RETURNING last_seq",
    ];
}

impl crate::db::statement::Returns for BumpSequence {
    type SqlType = diesel::sql_types::BigInt;
}

/// Takes `count` numbers from the collective's sequence and returns the
/// last. The update locks the collective's row until commit.
fn take_numbers(conn: &mut DbConnection, collective_id: &str, count: i64) -> QueryResult<i64> {
    // Bumped and read in one statement.
    // Kept prepared (`crate::db::statement`): every batch runs it.
    let bump = |conn: &mut DbConnection| {
        use crate::db::statement::{Kept, Param};
        let params = [Param::BigInt(count), Param::Text(collective_id)];
        let bump = Kept::<BumpSequence>::new(&params);
        crate::on_backend!(conn, |c| bump.get_result::<i64>(c)).optional()
    };
    if let Some(last) = bump(conn)? {
        return Ok(last);
    }
    // The collective's first event. Two first events at once: the one
    // that loses the insert waits for the other and then bumps.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(event_sequences::table)
            .values((
                event_sequences::collective_id.eq(collective_id),
                event_sequences::last_seq.eq(count),
                event_sequences::purged_through.eq(0),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(count),
        Err(e) if is_unique_violation(&e) => bump(conn)?.ok_or(diesel::result::Error::NotFound),
        Err(e) => Err(e),
    }
}

/// The event's `data` as `reader` may see it: the public snapshot, with each
/// private field whose permission the reader has.
pub fn reveal(event: EventType, row: &EventRow, reader: &Actor) -> Value {
    let mut data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
    // A private part that does not open (logged by `crypto::open`) is
    // shown to nobody.
    let private: Map<String, Value> = row
        .private_data
        .as_deref()
        .and_then(|text| crate::crypto::open("events", "private_data", &row.id, text).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    if let Value::Object(map) = &mut data {
        for (field, permission) in event.private_fields() {
            if let Some(value) = private.get(*field).filter(|_| reader.may(*permission)) {
                map.insert((*field).to_owned(), value.clone());
            }
        }
    }
    data
}

/// One event, as the feed shows it and webhooks send it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    /// Unique; also the `webhook-id` of its webhook messages.
    pub id: String,
    /// Its place in the collective's feed, in commit order; read on with
    /// `after=<seq>`.
    pub seq: i64,
    /// One of the types in the OpenAPI document's `webhooks`, e.g.
    /// `request.approved`.
    #[serde(rename = "type")]
    #[schema(example = "request.approved")]
    pub kind: String,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The object as its GET showed it at that moment, without what the
    /// reader may not see.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl Event {
    /// The event as `reader` may see it; `None` if they may not see it at
    /// all (or it is of a type this version no longer knows).
    pub fn for_reader(row: &EventRow, reader: &Actor) -> Option<Self> {
        let event = EventType::parse(&row.kind)?;
        if !reader.may(event.reader()) {
            return None;
        }
        Some(Self {
            id: row.id.clone(),
            seq: row.seq?,
            kind: row.kind.clone(),
            timestamp: utc(row.occurred_at),
            data: reveal(event, row, reader),
        })
    }
}

/// Deletes the events that happened before `cutoff`, each collective's up
/// to the newest such one, and remembers how far it went so a reader with
/// an older cursor learns that it missed events.
pub fn purge_before(conn: &mut DbConnection, cutoff: NaiveDateTime) -> Result<usize> {
    use diesel::dsl::max;
    let reach: Vec<(String, Option<i64>)> = events::table
        .filter(events::occurred_at.lt(cutoff))
        .filter(events::seq.is_not_null())
        .group_by(events::collective_id)
        .select((events::collective_id, max(events::seq)))
        .load(conn)?;
    let mut purged = 0;
    for (collective_id, through) in reach {
        let Some(through) = through else { continue };
        purged += crate::db::write_tx(conn, |conn| -> Result<usize> {
            diesel::update(
                event_sequences::table
                    .find(&collective_id)
                    .filter(event_sequences::purged_through.lt(through)),
            )
            .set(event_sequences::purged_through.eq(through))
            .execute(conn)?;
            Ok(diesel::delete(
                events::table
                    .filter(events::collective_id.eq(&collective_id))
                    .filter(events::seq.le(through)),
            )
            .execute(conn)?)
        })?;
    }
    Ok(purged)
}

/// `purge_before` for events older than `days` days.
pub fn purge_expired(conn: &mut DbConnection, days: u32) -> Result<usize> {
    purge_before(conn, now() - chrono::TimeDelta::days(i64::from(days)))
}

/// SQLite's plans for numbering a batch's events. Each commit numbers its
/// own events; when either statement walked the events table (or every
/// unnumbered event of the collective), each commit cost more than the
/// last, without end (#23). A plan is what SQLite will do, so it is checked
/// here rather than timed.
#[cfg(test)]
mod plan {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use crate::db::{DatabaseUrl, DbConnection};

    #[derive(QueryableByName)]
    struct Step {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    fn plan_of(conn: &mut diesel::SqliteConnection, sql: &str) -> String {
        diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<Step>(conn)
            .expect("a plan")
            .into_iter()
            .map(|step| step.detail)
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn numbering_reads_only_the_transaction_s_own_events_on_sqlite() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let pool = crate::db::open(&DatabaseUrl::parse(&url).expect("a URL"), 1).expect("migrated");
        let mut conn = pool.get().expect("a connection");
        let DbConnection::Sqlite(c) = &mut **conn else {
            unreachable!("a SQLite URL opens SQLite")
        };

        let select =
            diesel::debug_query::<diesel::sqlite::Sqlite, _>(&super::pending_events()).to_string();
        let select = select.split(" -- binds").next().expect("the SQL");
        let read = plan_of(c, select);
        assert!(read.contains("events_unnumbered"), "{read}");
        assert!(!read.contains("TEMP B-TREE"), "sorted afterwards: {read}");

        let update = plan_of(c, &super::numbering_sql('?', 3));
        assert!(
            update.contains("(collective_id=? AND id=?)"),
            "each event found by its key: {update}"
        );
        assert!(!update.contains("events_feed"), "{update}");
    }
}
