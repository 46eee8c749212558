//! The scheduled sweep `serve` runs now and then: for every running pledge,
//! store the installments now within the horizon and store a lapse that
//! time has brought about. Reads never wait for it — they compute the same
//! status from the same rule (`schedule::status`) — so the sweep only makes
//! the stored status, the status filter and the audit trail catch up.
//!
//! Safe with several replicas: each pledge is swept in its own transaction
//! under its lock, installments are unique per (pledge, seq), and a lapse is
//! a guarded `active → lapsed` update that only one sweep can make.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use serde_json::json;

use super::store;
use super::view::{announce, horizon_seq, load_view, materialise, terms, view};
use super::PledgeStatus;
use crate::audit;
use crate::auth::access::Actor;
use crate::db::schema::collectives;
use crate::db::write_tx;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::events::EventType;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    pub checked: usize,
    pub materialised: usize,
    pub lapsed: usize,
    /// Installments announced as fallen due.
    pub announced: usize,
}

/// Sweeps every running pledge as of `now`.
pub fn sweep(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Sweep> {
    let zones: HashMap<String, Tz> = collectives::table
        .select((collectives::id, collectives::time_zone))
        .load::<(String, String)>(conn)?
        .into_iter()
        .map(|(id, zone)| crate::calendar::zone(&zone).map(|tz| (id, tz)))
        .collect::<Result<_>>()?;
    let today_in = |collective_id: &str| -> Result<NaiveDate> {
        zones
            .get(collective_id)
            .map(|tz| crate::calendar::today(*tz, now))
            .ok_or(Error::NotFound { what: "collective" })
    };
    let mut done = Sweep::default();
    for id in store::running_ids(conn)? {
        let swept = sweep_one(conn, &id, today_in)?;
        done.checked += 1;
        done.materialised += swept.materialised;
        done.lapsed += usize::from(swept.lapsed);
        done.announced += swept.announced;
    }
    Ok(done)
}

/// What the sweep did to one pledge.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub materialised: usize,
    pub lapsed: bool,
    pub announced: usize,
}

/// The scheduled task's work on one pledge, in its own transaction: store
/// the installments now within the horizon, and store a lapse the rules
/// say has happened by `today`. Several replicas may sweep at once: the
/// lock queues them, installments are stored once, and only the one whose
/// update moves the pledge from active to lapsed audits it.
pub fn sweep_one(
    conn: &mut DbConnection,
    id: &str,
    today_in: impl Fn(&str) -> Result<NaiveDate>,
) -> Result<Swept> {
    write_tx(conn, |conn| {
        let row = store::lock(conn, id)?;
        if !matches!(
            PledgeStatus::parse(&row.status),
            Some(PledgeStatus::Active | PledgeStatus::Paused)
        ) {
            return Ok(Swept::default());
        }
        let today = today_in(&row.collective_id)?;
        let (installments, materialised) =
            materialise(conn, &row, horizon_seq(&terms(&row)?, today))?;
        let current = view(row, &installments, today)?;
        let announced = super::due::announce_due(conn, &current)?;
        let lapsed = PledgeStatus::parse(&current.row.status) == Some(PledgeStatus::Active)
            && current.status == PledgeStatus::Lapsed
            && store::mark_lapsed(conn, id)?;
        if lapsed {
            audit::record(
                conn,
                &Actor::system(&current.row.collective_id),
                "pledge.lapsed",
                "pledge",
                id,
                json!({"from": "active", "to": "lapsed", "as_of": today}),
            )?;
            let lapsed = store::find(conn, id)?.ok_or(Error::NotFound { what: "pledge" })?;
            let lapsed = load_view(conn, lapsed, today)?;
            announce(conn, &lapsed, EventType::PledgeLapsed)?;
        }
        Ok(Swept {
            announced,
            materialised,
            lapsed,
        })
    })
}
