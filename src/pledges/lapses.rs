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

use super::{service, store};
use crate::db::schema::collectives;
use crate::db::DbConnection;
use crate::error::{Error, Result};

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    pub checked: usize,
    pub materialised: usize,
    pub lapsed: usize,
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
        let swept = service::sweep_one(conn, &id, today_in)?;
        done.checked += 1;
        done.materialised += swept.materialised;
        done.lapsed += usize::from(swept.lapsed);
    }
    Ok(done)
}
