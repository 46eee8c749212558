//! A pledge as it stands on a day: its installments (stored, or as the
//! schedule makes them), its stance and its status; and the steps every
//! write shares — storing installments up to the horizon, and storing the
//! status a change leaves the pledge in.
//!
//! Every write locks the pledge (after its pool, when money moves), changes
//! what it must, and [`save`]s, so the stored status is always the one
//! [`schedule::status`] gives — except that time passes: an `active` pledge
//! can lapse without a write, which a read shows at once and the sweep in
//! `super::lapses` stores later.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use serde_json::json;

use super::schedule::{self, Slot, Stance, Stored, Terms};
use super::store::{self, InstallmentRow, PledgeRow};
use super::*;
use crate::audit;
use crate::auth::access::Actor;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, utc};
use crate::money::{format_minor, Currency};

/// Installments are stored once they fall due within this many days.
pub const HORIZON_DAYS: u64 = 62;

/// A pledge as it stands on a day: its row, every installment, its stance
/// and its status.
#[derive(Debug, Clone)]
pub struct View {
    pub row: PledgeRow,
    pub slots: Vec<Slot>,
    pub stance: Stance,
    pub status: PledgeStatus,
    pub today: NaiveDate,
}

pub fn terms(row: &PledgeRow) -> Result<Terms> {
    let frequency = Frequency::parse(&row.frequency).ok_or_else(|| {
        Error::Internal(format!("pledge {} has frequency {}", row.id, row.frequency))
    })?;
    let count = u32::try_from(row.installments)
        .map_err(|_| Error::Internal(format!("pledge {} has no installments", row.id)))?;
    Ok(Terms {
        frequency,
        starts_on: row.starts_on,
        count,
        amount_minor: row.amount_minor,
    })
}

/// What people have said: cancelled is final; a pause date means paused.
pub fn stance(row: &PledgeRow) -> Stance {
    match (PledgeStatus::parse(&row.status), row.paused_on) {
        (Some(PledgeStatus::Cancelled), _) => Stance::Cancelled,
        (_, Some(since)) => Stance::Paused { since },
        _ => Stance::Active,
    }
}

pub fn grace(row: &PledgeRow) -> u32 {
    u32::try_from(row.grace_days).unwrap_or(0)
}

pub fn view(row: PledgeRow, installments: &[InstallmentRow], today: NaiveDate) -> Result<View> {
    let stored: Vec<Stored> = installments
        .iter()
        .filter(|i| i.pledge_id == row.id)
        .map(|i| Stored {
            seq: u32::try_from(i.seq).unwrap_or(0),
            paid_minor: i.paid_minor,
            waived: i.status == "waived",
        })
        .collect();
    let slots = schedule::slots(&terms(&row)?, &stored);
    let stance = stance(&row);
    let status = schedule::status(stance, &slots, today, grace(&row));
    Ok(View {
        row,
        slots,
        stance,
        status,
        today,
    })
}

pub fn load_view(conn: &mut DbConnection, row: PledgeRow, today: NaiveDate) -> Result<View> {
    let installments = store::installments_of(conn, &[row.id.as_str()])?;
    view(row, &installments, today)
}

/// Views of many pledges, with one query for their installments.
pub fn views_of(
    conn: &mut DbConnection,
    rows: Vec<PledgeRow>,
    today: NaiveDate,
) -> Result<Vec<View>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let installments = store::installments_of(conn, &ids)?;
    let mut by_pledge: HashMap<&str, Vec<InstallmentRow>> = HashMap::new();
    for installment in &installments {
        by_pledge
            .entry(installment.pledge_id.as_str())
            .or_default()
            .push(installment.clone());
    }
    rows.into_iter()
        .map(|row| {
            let own = by_pledge.get(row.id.as_str()).cloned().unwrap_or_default();
            view(row, &own, today)
        })
        .collect()
}

/// Today where the collective lives.
pub fn today_of(conn: &mut DbConnection, collective_id: &str) -> Result<NaiveDate> {
    let tz = crate::collectives::store::time_zone(conn, collective_id)?;
    Ok(crate::calendar::today(tz, crate::clock::now_utc()))
}

impl View {
    pub fn to_pledge(&self, currency: Currency, with_schedule: bool) -> Pledge {
        let show = |m: i64| format_minor(m, currency);
        let totals = schedule::totals(&self.slots, self.stance, self.today);
        let row = &self.row;
        let schedule = with_schedule.then(|| {
            self.slots
                .iter()
                .map(|slot| Installment {
                    seq: slot.seq,
                    due_on: slot.due_on,
                    amount: show(slot.amount_minor),
                    paid: show(slot.paid_minor),
                    state: schedule::slot_state(slot, self.stance, self.today)
                        .as_str()
                        .to_owned(),
                })
                .collect()
        });
        Pledge {
            id: row.id.clone(),
            pool_id: row.pool_id.clone(),
            collective_id: row.collective_id.clone(),
            member_id: row.member_id.clone(),
            donor_name: row.donor_name.clone(),
            donor_email: row.donor_email.clone(),
            anonymous: row.anonymous,
            amount: show(row.amount_minor),
            currency: currency.code.to_owned(),
            frequency: Frequency::parse(&row.frequency).unwrap_or(Frequency::Once),
            installments: self.slots.len() as u32,
            starts_on: row.starts_on,
            ends_on: self.slots.last().map_or(row.starts_on, |s| s.due_on),
            grace_days: grace(row),
            status: self.status,
            paused_on: row.paused_on,
            total: show(totals.total),
            paid: show(totals.paid),
            waived: show(totals.waived),
            outstanding: show(totals.outstanding),
            due_now: show(totals.due_now),
            next_due_on: totals.next_due.map(|(on, _)| on),
            next_due_amount: totals.next_due.map(|(_, amount)| show(amount)),
            note: row.note.clone(),
            schedule,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            version: row.version,
        }
    }
}

/// The last installment that falls due within the horizon (at least the
/// first one).
pub fn horizon_seq(terms: &Terms, today: NaiveDate) -> u32 {
    let horizon = today
        .checked_add_days(Days::new(HORIZON_DAYS))
        .unwrap_or(today);
    let within = (1..=terms.count)
        .take_while(|seq| {
            schedule::due_on(terms.frequency, terms.starts_on, *seq).is_some_and(|d| d <= horizon)
        })
        .count() as u32;
    within.max(1)
}

/// Stores installments 1 to `through` where they are not stored yet.
/// Returns every stored installment and how many were added.
pub fn materialise(
    conn: &mut DbConnection,
    row: &PledgeRow,
    through: u32,
) -> Result<(Vec<InstallmentRow>, usize)> {
    let terms = terms(row)?;
    let existing = store::installments_of(conn, &[row.id.as_str()])?;
    let mut added = 0;
    for seq in 1..=through.min(terms.count) {
        if existing.iter().any(|i| i.seq == seq as i32) {
            continue;
        }
        let Some(due_on) = schedule::due_on(terms.frequency, terms.starts_on, seq) else {
            continue;
        };
        let installment = InstallmentRow {
            collective_id: row.collective_id.clone(),
            id: new_id(),
            pledge_id: row.id.clone(),
            seq: seq as i32,
            due_on,
            amount_minor: row.amount_minor,
            paid_minor: 0,
            status: "open".into(),
            updated_at: now(),
        };
        if store::insert_installment(conn, &installment)? {
            added += 1;
        }
    }
    if added == 0 {
        return Ok((existing, 0));
    }
    Ok((store::installments_of(conn, &[row.id.as_str()])?, added))
}

/// Stores the status a pledge has after a change, with its stance, and
/// audits what the installments brought about (lapsed, fulfilled,
/// reinstated). `row` is the locked row as read before the change;
/// `happened`, if any, is announced with the pledge as it is after it,
/// before what the installments brought about.
pub fn save(
    conn: &mut DbConnection,
    actor: &Actor,
    row: &PledgeRow,
    stance: Stance,
    today: NaiveDate,
    happened: Option<EventType>,
) -> Result<View> {
    let mut next = row.clone();
    next.paused_on = match stance {
        Stance::Paused { since } => Some(since),
        _ => None,
    };
    if stance == Stance::Cancelled {
        next.status = PledgeStatus::Cancelled.as_str().into();
    }
    let after = load_view(conn, next, today)?;
    store::set_status(conn, row, after.status.as_str(), after.row.paused_on)?;
    let before = PledgeStatus::parse(&row.status);
    let derived = match (before, after.status) {
        (b, a) if b == Some(a) => None,
        (_, PledgeStatus::Lapsed) => Some(EventType::PledgeLapsed),
        (_, PledgeStatus::Fulfilled) => Some(EventType::PledgeFulfilled),
        (Some(PledgeStatus::Lapsed | PledgeStatus::Fulfilled), PledgeStatus::Active) => {
            Some(EventType::PledgeReinstated)
        }
        _ => None,
    };
    if let Some(action) = derived {
        audit::record(
            conn,
            actor,
            action.name(),
            "pledge",
            &row.id,
            json!({"from": row.status, "to": after.status.as_str(), "as_of": today}),
        )?;
    }
    let fresh = store::find(conn, &row.id)?.ok_or(Error::NotFound { what: "pledge" })?;
    let fresh = load_view(conn, fresh, today)?;
    for event in happened.into_iter().chain(derived) {
        announce(conn, &fresh, event)?;
    }
    Ok(fresh)
}

/// Records `happened` with the pledge as its GET shows it.
pub fn announce(conn: &mut DbConnection, view: &View, happened: EventType) -> Result<()> {
    let currency = crate::pools::store::find(conn, &view.row.pool_id)?
        .ok_or(Error::NotFound { what: "pool" })?
        .currency()?;
    events::record(
        conn,
        &view.row.collective_id,
        happened,
        &view.to_pledge(currency, true),
    )
}
