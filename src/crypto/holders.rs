//! Which keys the running services hold, so a key becomes the primary only
//! once every replica can open what it seals.
//!
//! Every `serve` writes one row (`key_holders`: its replica id, the ids of
//! the keys in its keyring, when) at start and every
//! [`ANNOUNCE_EVERY`]; `admin rotate-key --promote` reads them and refuses
//! while a replica seen within [`LIVE_WITHIN`] lacks the key. A replica
//! that stopped ages out of the check after [`LIVE_WITHIN`] and its row is
//! removed a day later.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::schema::key_holders;
use crate::db::DbConnection;
use crate::error::Result;

/// How often a running service says which keys it holds (it reads its key
/// file again as often).
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(30);

/// A replica seen this recently counts as running.
pub const LIVE_WITHIN: TimeDelta = TimeDelta::seconds(90);

/// This process's replica id: the host name and a random part, fixed for
/// the life of the process.
pub fn this_replica() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        let random = uuid::Uuid::new_v4().simple().to_string();
        let host = if host.is_empty() { "replica" } else { &host };
        format!("{host}-{}", &random[..8])
    })
}

/// Writes that `replica` holds the keys `ids` at `now`, and forgets
/// replicas not seen for a day.
pub fn announce(
    conn: &mut DbConnection,
    replica: &str,
    ids: &[String],
    now: NaiveDateTime,
) -> Result<()> {
    let key_ids = ids.join(",");
    conn.transaction(|conn| {
        let updated = diesel::update(key_holders::table.find(replica))
            .set((
                key_holders::key_ids.eq(&key_ids),
                key_holders::seen_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(key_holders::table)
                .values((
                    key_holders::replica.eq(replica),
                    key_holders::key_ids.eq(&key_ids),
                    key_holders::seen_at.eq(now),
                ))
                .execute(conn)?;
        }
        diesel::delete(
            key_holders::table.filter(key_holders::seen_at.lt(now - TimeDelta::days(1))),
        )
        .execute(conn)?;
        Ok(())
    })
}

/// Announces this process's current keyring (nothing without one).
pub fn announce_this_replica(conn: &mut DbConnection) -> Result<()> {
    let Some(ring) = super::keyring::current() else {
        return Ok(());
    };
    announce(conn, this_replica(), &ring.ids(), crate::clock::now())
}

/// A running replica that cannot open values sealed with the key asked
/// about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lacking {
    pub replica: String,
    pub seen_at: NaiveDateTime,
}

/// The replicas seen within [`LIVE_WITHIN`] of `now` whose keyring lacks
/// `key_id`.
pub fn lacking(conn: &mut DbConnection, key_id: &str, now: NaiveDateTime) -> Result<Vec<Lacking>> {
    let live: Vec<(String, String, NaiveDateTime)> = key_holders::table
        .filter(key_holders::seen_at.ge(now - LIVE_WITHIN))
        .order(key_holders::replica.asc())
        .select((
            key_holders::replica,
            key_holders::key_ids,
            key_holders::seen_at,
        ))
        .load(conn)?;
    Ok(live
        .into_iter()
        .filter(|(_, ids, _)| !ids.split(',').any(|id| id == key_id))
        .map(|(replica, _, seen_at)| Lacking { replica, seen_at })
        .collect())
}
