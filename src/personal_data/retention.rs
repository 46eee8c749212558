//! Retention: a closed request keeps its private fields only as long as its
//! collective says (`retention_days`, 365 by default), counted from when it
//! closed (paid, rejected, withdrawn, cancelled, not funded).
//!
//! What goes, as in an erasure: the private details, withdrawal and
//! rejection reasons (tombstoned), the payout reference and the beneficiary
//! (removed), the text of its comments (tombstoned), its hold's note and
//! its payouts' external references (removed). What stays: amounts, states,
//! dates, the requester, every ledger row — balances and statements do not
//! change. Copies are reached ([`super::redact`]): the collective's events
//! and audit records about the request, its hold and its payouts, and stored
//! idempotent answers about them; only documents about those objects are
//! touched, so a private text that happens to be a common word does not
//! blank anyone else's.
//!
//! `serve` sweeps every hour. Requests are taken in small batches, each in
//! one transaction; a request is claimed by a guarded update (`redacted_at`
//! still empty), so a sweep running again, or on another replica at the
//! same moment, redacts it once: one `request.redacted` audit record (by
//! the system, naming none of what went) and one `request.redacted` event.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::{json, Value};

use super::redact::Redaction;
use super::store;
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{now, utc};

/// How long a new collective keeps a closed request's private fields.
pub const DEFAULT_DAYS: i32 = 365;
/// The longest period a collective may set (about a century).
pub const MAX_DAYS: i64 = 36_500;
/// Requests redacted in one transaction.
const BATCH: i64 = 20;

/// A retention period as the API takes it: whole days, 1 to 36500.
pub fn check_days(field: &str, days: i64) -> Result<i32> {
    match i32::try_from(days) {
        Ok(days) if (1..=MAX_DAYS).contains(&i64::from(days)) => Ok(days),
        _ => Err(Error::invalid(
            field,
            format!("must be a whole number of days from 1 to {MAX_DAYS}"),
        )),
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Requests whose private fields this sweep redacted.
    pub redacted: usize,
    /// Requests left for the next sweep because their batch failed.
    pub failed: usize,
}

/// Redacts every request, in every collective, closed longer before `now`
/// than its collective keeps private fields.
pub fn sweep(conn: &mut DbConnection, now: NaiveDateTime) -> Result<Swept> {
    let mut done = Swept::default();
    for (collective_id, days) in store::retention_periods(conn)? {
        let cutoff = now - TimeDelta::days(days.into());
        let mut after = String::new();
        loop {
            let batch = store::due_for_redaction(conn, &collective_id, cutoff, &after, BATCH)?;
            let Some(last) = batch.last() else { break };
            after = last.clone();
            // A batch that fails (a value that no longer opens, say) does
            // not hold up the others; the next sweep tries it again.
            match redact_batch(conn, &collective_id, &batch, cutoff, days) {
                Ok(n) => done.redacted += n,
                Err(error) => {
                    tracing::warn!(%error, collective_id, "retention: a batch of requests was not redacted");
                    done.failed += batch.len();
                }
            }
            if (batch.len() as i64) < BATCH {
                break;
            }
        }
    }
    if done.redacted > 0 {
        // On SQLite, what was redacted does not linger in the log.
        crate::crypto::sweep::checkpoint(conn)?;
    }
    Ok(done)
}

/// Redacts the requests of `ids` that are still due, in one transaction;
/// answers how many this call redacted (others may have been redacted by
/// another sweep meanwhile).
fn redact_batch(
    conn: &mut DbConnection,
    collective_id: &str,
    ids: &[String],
    cutoff: NaiveDateTime,
    days: i32,
) -> Result<usize> {
    write_tx(conn, |conn| {
        let at = now();
        let mut search = Redaction::default();
        // The objects whose copies are searched: the requests, their holds
        // and payouts.
        let mut objects = Vec::new();
        let mut redacted = Vec::new();
        for id in ids {
            if !store::claim_for_redaction(conn, collective_id, id, cutoff, at)? {
                continue;
            }
            let row = crate::requests::store::find(conn, id)?
                .ok_or(Error::NotFound { what: "request" })?;
            search.id(&row.id);
            objects.push(row.id.clone());
            search.request_texts(&row);
            store::redact_request_fields(conn, &row)?;
            for (comment, body) in store::comments_on(conn, collective_id, &row.id)? {
                search.text(&body);
                store::tombstone_comment(conn, collective_id, &comment)?;
            }
            if let Some(hold) = &row.hold_id {
                let (note, payouts) = store::hold_texts(conn, collective_id, hold)?;
                search.text_opt(note.as_deref());
                search.id(hold);
                objects.push(hold.clone());
                for (payout, reference) in payouts {
                    search.text_opt(reference.as_deref());
                    search.id(&payout);
                    objects.push(payout);
                }
                store::clear_hold_texts(conn, collective_id, hold)?;
            }
            redacted.push(row);
        }
        if redacted.is_empty() {
            return Ok(0);
        }
        redact_copies(conn, collective_id, &objects, &search)?;
        for row in &redacted {
            let fresh = crate::requests::store::find(conn, &row.id)?
                .ok_or(Error::NotFound { what: "request" })?;
            crate::requests::service::record_redacted(
                conn,
                &fresh,
                json!({
                    "closed_at": row.closed_at.map(utc),
                    "retention_days": days,
                }),
            )?;
        }
        Ok(redacted.len())
    })
}

/// The copies about the redacted objects: the collective's events and
/// audit records, and stored answers (across collectives: a caller's keys
/// are theirs) that name one of them.
fn redact_copies(
    conn: &mut DbConnection,
    collective_id: &str,
    objects: &[String],
    search: &Redaction,
) -> Result<()> {
    for (id, data, private) in store::events_about(conn, collective_id, objects)? {
        let new_data = search.apply_to_text(&data, true);
        let new_private = private
            .as_deref()
            .and_then(|p| search.apply_to_text(p, true));
        if new_data.is_some() || new_private.is_some() {
            store::rewrite_event(
                conn,
                collective_id,
                &id,
                new_data.as_deref().unwrap_or(&data),
                new_private.as_deref().or(private.as_deref()),
            )?;
        }
    }
    for (id, details) in store::audit_about(conn, collective_id, objects)? {
        if let Some(redacted) = search.apply_to_text(&details, true) {
            store::rewrite_audit(conn, collective_id, &id, &redacted)?;
        }
    }
    for (key, body) in store::answers(conn)? {
        let Ok(mut answer) = serde_json::from_str::<Value>(&body) else {
            continue;
        };
        if search.is_about(&answer) && search.apply(&mut answer, true) {
            store::rewrite_answer(conn, &key, &answer.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_a_whole_number_of_days_from_one_to_36500() {
        assert_eq!(check_days("retention_days", 1).unwrap(), 1);
        assert_eq!(check_days("retention_days", 36_500).unwrap(), 36_500);
        for wrong in [0, -1, 36_501, i64::from(i32::MAX) + 1, i64::MIN] {
            assert!(
                matches!(
                    check_days("retention_days", wrong),
                    Err(Error::Invalid { .. })
                ),
                "{wrong}"
            );
        }
    }
}
