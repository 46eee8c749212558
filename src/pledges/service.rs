//! The rules for pledges: who may pledge for whom, pausing, resuming and
//! cancelling, and applying received money to installments.
//!
//! Every write locks the pledge (after its pool, when money moves), changes
//! what it must, and stores the status the pledge then has, so the stored
//! status is always the one [`schedule::status`] gives — except that time
//! passes: an `active` pledge can lapse without a write, which a read shows
//! at once and the sweep in `super::lapses` stores later.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, Utc};
use serde_json::json;

use super::schedule::{self, Slot, SlotState, Stance, Stored, Terms, MAX_INSTALLMENTS};
use super::store::{self, InstallmentRow, PledgeFilter, PledgeRow};
use super::*;
use crate::audit;
use crate::auth::access::{authorize, Actor, Principal};
use crate::auth::policy::Permission;
use crate::collectives::{check_email, check_if_match, check_text};
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{new_id, now, utc};
use crate::money::{format_minor, percent, Currency, Money, MAX_MINOR};
use crate::pagination::{Page, PageRequest};
use crate::pools::service::load_authorized;
use crate::pools::store::{self as pool_store, PoolRow};

/// Installments are stored once they fall due within this many days.
pub const HORIZON_DAYS: u64 = 62;

/// How far back or ahead a pledge may start.
const START_WINDOW_DAYS: u64 = 366;

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
    match (row.status.as_str(), row.paused_on) {
        ("cancelled", _) => Stance::Cancelled,
        (_, Some(since)) => Stance::Paused { since },
        _ => Stance::Active,
    }
}

fn grace(row: &PledgeRow) -> u32 {
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

fn load_view(conn: &mut DbConnection, row: PledgeRow, today: NaiveDate) -> Result<View> {
    let installments = store::installments_of(conn, &[row.id.as_str()])?;
    view(row, &installments, today)
}

/// Views of many pledges, with one query for their installments.
fn views_of(conn: &mut DbConnection, rows: Vec<PledgeRow>, today: NaiveDate) -> Result<Vec<View>> {
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
    Ok(crate::calendar::today(tz, Utc::now()))
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
fn horizon_seq(terms: &Terms, today: NaiveDate) -> u32 {
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
fn materialise(
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
/// reinstated). `row` is the locked row as read before the change.
fn save(
    conn: &mut DbConnection,
    actor: &Actor,
    row: &PledgeRow,
    stance: Stance,
    today: NaiveDate,
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
        (_, PledgeStatus::Lapsed) => Some("pledge.lapsed"),
        (_, PledgeStatus::Fulfilled) => Some("pledge.fulfilled"),
        (Some(PledgeStatus::Lapsed | PledgeStatus::Fulfilled), PledgeStatus::Active) => {
            Some("pledge.reinstated")
        }
        _ => None,
    };
    if let Some(action) = derived {
        audit::record(
            conn,
            actor,
            action,
            "pledge",
            &row.id,
            json!({"from": row.status, "to": after.status.as_str(), "as_of": today}),
        )?;
    }
    let fresh = store::find(conn, &row.id)?.ok_or(Error::NotFound { what: "pledge" })?;
    load_view(conn, fresh, today)
}

/// Who pledges, checked.
struct Pledger {
    member_id: Option<String>,
    donor_name: Option<String>,
    donor_email: Option<String>,
    anonymous: bool,
}

fn pledger(
    conn: &mut DbConnection,
    actor: &Actor,
    pool: &PoolRow,
    input: Option<crate::ledger::contributions::Contributor>,
) -> Result<Pledger> {
    let own = actor.membership_id().map(str::to_owned);
    let Some(input) = input else {
        return own
            .map(|member_id| Pledger {
                member_id: Some(member_id),
                donor_name: None,
                donor_email: None,
                anonymous: false,
            })
            .ok_or_else(|| Error::invalid("pledger", "name who pledges"));
    };
    let for_self = input.member_id.is_some()
        && input.member_id == own
        && input.donor_name.is_none()
        && input.donor_email.is_none();
    if !for_self && !actor.may(Permission::ManagePledges) {
        return Err(Error::forbidden(
            "members pledge for themselves; coordinators record pledges on someone's behalf",
        ));
    }
    let donor_name = input
        .donor_name
        .as_deref()
        .map(|n| check_text("pledger.donor_name", n, 200))
        .transpose()?;
    let donor_email = input
        .donor_email
        .as_deref()
        .map(|e| check_email("pledger.donor_email", e))
        .transpose()?;
    match &input.member_id {
        Some(_) if donor_name.is_some() || donor_email.is_some() => Err(Error::invalid(
            "pledger.donor_name",
            "a member's pledge has no donor details: give member_id or donor details, not both",
        )),
        Some(member_id) => {
            let known = crate::collectives::store::find_membership(conn, member_id)?
                .is_some_and(|(m, _)| m.collective_id == pool.collective_id);
            if !known {
                return Err(Error::invalid(
                    "pledger.member_id",
                    "is not a member of this collective",
                ));
            }
            Ok(Pledger {
                member_id: Some(member_id.clone()),
                donor_name: None,
                donor_email: None,
                anonymous: input.anonymous,
            })
        }
        None if donor_name.is_none() && donor_email.is_none() => Err(Error::invalid(
            "pledger.donor_name",
            "name the outside donor (donor_name or donor_email), or give member_id",
        )),
        None => Ok(Pledger {
            member_id: None,
            donor_name,
            donor_email,
            anonymous: input.anonymous,
        }),
    }
}

/// How many installments the pledge has, from a count or an end date.
fn installment_count(
    frequency: Frequency,
    starts_on: NaiveDate,
    installments: Option<u32>,
    ends_on: Option<NaiveDate>,
) -> Result<u32> {
    match (frequency, installments, ends_on) {
        (Frequency::Once, None | Some(1), None) => Ok(1),
        (Frequency::Once, Some(_), _) => Err(Error::invalid(
            "installments",
            "a one-off pledge has one installment",
        )),
        (Frequency::Once, None, Some(_)) => Err(Error::invalid(
            "ends_on",
            "a one-off pledge has no end date",
        )),
        (_, Some(_), Some(_)) => Err(Error::invalid(
            "ends_on",
            "give installments or ends_on, not both",
        )),
        (_, None, None) => Err(Error::invalid(
            "installments",
            "a weekly or monthly pledge needs installments or ends_on",
        )),
        (_, Some(n), None) if n == 0 || n > MAX_INSTALLMENTS => Err(Error::invalid(
            "installments",
            format!("must be between 1 and {MAX_INSTALLMENTS}"),
        )),
        (_, Some(n), None) => Ok(n),
        (_, None, Some(end)) if end < starts_on => {
            Err(Error::invalid("ends_on", "must not be before starts_on"))
        }
        (_, None, Some(end)) => match schedule::count_until(frequency, starts_on, end) {
            n if n > MAX_INSTALLMENTS => Err(Error::invalid(
                "ends_on",
                format!("allows more than {MAX_INSTALLMENTS} installments; choose an earlier end"),
            )),
            n => Ok(n),
        },
    }
}

/// `POST /pools/{id}/pledges`.
pub fn create(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
    input: NewPledge,
    default_grace_days: u32,
) -> Result<Pledge> {
    write_tx(conn, |conn| {
        let (actor, pool) = load_authorized(conn, principal, pool_id, Permission::MakePledges)?;
        let currency = pool.currency()?;
        let amount = Money::parse_positive("amount", &input.amount, currency)?.minor;
        let today = today_of(conn, &pool.collective_id)?;
        let window = Days::new(START_WINDOW_DAYS);
        let starts_on = input.starts_on.unwrap_or(today);
        let earliest = today.checked_sub_days(window).unwrap_or(today);
        let latest = today.checked_add_days(window).unwrap_or(today);
        if starts_on < earliest || starts_on > latest {
            return Err(Error::invalid(
                "starts_on",
                "must be within a year of today",
            ));
        }
        let count = installment_count(
            input.frequency,
            starts_on,
            input.installments,
            input.ends_on,
        )?;
        if amount
            .checked_mul(i64::from(count))
            .is_none_or(|t| t > MAX_MINOR)
        {
            return Err(Error::invalid("amount", "the pledge's total is too large"));
        }
        let grace_days = match input.grace_days {
            None => default_grace_days,
            Some(_) if !actor.may(Permission::ManagePledges) => {
                return Err(Error::forbidden(
                    "only coordinators set a pledge's grace period",
                ))
            }
            Some(days) if days > 90 => {
                return Err(Error::invalid("grace_days", "must be between 0 and 90"))
            }
            Some(days) => days,
        };
        let note = input
            .note
            .as_deref()
            .map(|n| check_text("note", n, 2000))
            .transpose()?;
        let who = pledger(conn, &actor, &pool, input.pledger)?;
        let at = now();
        let mut row = PledgeRow {
            collective_id: pool.collective_id.clone(),
            id: new_id(),
            pool_id: pool.id.clone(),
            member_id: who.member_id,
            donor_name: who.donor_name,
            donor_email: who.donor_email,
            anonymous: who.anonymous,
            amount_minor: amount,
            frequency: input.frequency.as_str().into(),
            installments: count as i32,
            starts_on,
            grace_days: grace_days as i32,
            status: PledgeStatus::Active.as_str().into(),
            paused_on: None,
            note,
            created_by: actor.id().to_owned(),
            created_at: at,
            updated_at: at,
            version: 1,
        };
        // A pledge recorded late may have lapsed already.
        row.status = view(row.clone(), &[], today)?.status.as_str().into();
        store::insert(conn, &row)?;
        let (installments, _) = materialise(conn, &row, horizon_seq(&terms(&row)?, today))?;
        audit::record(
            conn,
            &actor,
            "pledge.created",
            "pledge",
            &row.id,
            json!({"pool_id": row.pool_id, "member_id": row.member_id, "amount_minor": amount,
                   "frequency": row.frequency, "installments": count, "starts_on": starts_on,
                   "grace_days": grace_days, "status": row.status}),
        )?;
        Ok(view(row, &installments, today)?.to_pledge(currency, true))
    })
}

/// Authorizes reading (`change` false) or changing a pledge: coordinators
/// (and, to read, payment partners) any pledge; a member their own. Other
/// members' pledges are not found.
fn authorize_pledge(
    conn: &mut DbConnection,
    principal: &Principal,
    row: &PledgeRow,
    change: bool,
) -> Result<Actor> {
    let anyone = if change {
        Permission::ManagePledges
    } else {
        Permission::ReadPledges
    };
    match authorize(conn, principal, &row.collective_id, anyone, "pledge") {
        Ok(actor) => Ok(actor),
        Err(Error::Forbidden { .. }) if principal.user_id().is_some() => {
            let actor = authorize(
                conn,
                principal,
                &row.collective_id,
                Permission::MakePledges,
                "pledge",
            )?;
            if actor.membership_id().is_some() && actor.membership_id() == row.member_id.as_deref()
            {
                Ok(actor)
            } else {
                Err(Error::NotFound { what: "pledge" })
            }
        }
        Err(e) => Err(e),
    }
}

fn pool_of(conn: &mut DbConnection, row: &PledgeRow) -> Result<PoolRow> {
    pool_store::find(conn, &row.pool_id)?.ok_or(Error::NotFound { what: "pool" })
}

/// `GET /pledges/{id}`.
pub fn get(conn: &mut DbConnection, principal: &Principal, id: &str) -> Result<Pledge> {
    let row = store::find(conn, id)?.ok_or(Error::NotFound { what: "pledge" })?;
    authorize_pledge(conn, principal, &row, false)?;
    let currency = pool_of(conn, &row)?.currency()?;
    let today = today_of(conn, &row.collective_id)?;
    Ok(load_view(conn, row, today)?.to_pledge(currency, true))
}

/// A stance change someone asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Pause,
    Resume,
    Cancel,
}

/// The one place that decides which status changes people may make.
fn transition(current: PledgeStatus, wanted: PledgeStatus) -> Result<Option<Change>> {
    use PledgeStatus::*;
    match (current, wanted) {
        (_, Fulfilled | Lapsed) => Err(Error::invalid(
            "status",
            "fulfilled and lapsed follow from the installments; set paused, active or cancelled",
        )),
        (c, w) if c == w => Ok(None),
        (Fulfilled | Cancelled, _) => Err(Error::Conflict {
            code: "pledge_closed",
            message: format!("the pledge is {}; it no longer changes", current.as_str()),
            extra: Some(json!({"current_status": current.as_str()})),
        }),
        (Active | Lapsed, Paused) => Ok(Some(Change::Pause)),
        (Paused, Active) => Ok(Some(Change::Resume)),
        (Active | Paused | Lapsed, Cancelled) => Ok(Some(Change::Cancel)),
        (Lapsed, Active) => Err(Error::Conflict {
            code: "pledge_lapsed",
            message: "a lapsed pledge becomes active again when its overdue installments are paid"
                .into(),
            extra: Some(json!({"current_status": current.as_str()})),
        }),
        (Active, Active) | (Paused, Paused) => Ok(None),
    }
}

/// `PATCH /pledges/{id}`: pause, resume or cancel.
pub fn update(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    patch: PledgePatch,
    if_match: Option<&str>,
) -> Result<Pledge> {
    write_tx(conn, |conn| {
        let row = store::find(conn, id)?.ok_or(Error::NotFound { what: "pledge" })?;
        let actor = authorize_pledge(conn, principal, &row, true)?;
        let row = store::lock(conn, id)?;
        check_if_match(if_match, row.version)?;
        let currency = pool_of(conn, &row)?.currency()?;
        let today = today_of(conn, &row.collective_id)?;
        let current = load_view(conn, row.clone(), today)?;
        let Some(change) = transition(current.status, patch.status)? else {
            return Ok(current.to_pledge(currency, true));
        };
        let terms = terms(&row)?;
        let (stance, action, waived) = match change {
            Change::Pause => (Stance::Paused { since: today }, "pledge.paused", 0),
            Change::Resume => {
                // What fell due while paused is forgiven; what is due today is not.
                materialise(conn, &row, horizon_seq(&terms, today))?;
                let waived = store::waive_open(conn, id, row.paused_on, Some(today))?;
                (Stance::Active, "pledge.resumed", waived)
            }
            Change::Cancel => {
                // Nothing more falls due; what was already due stays missed.
                materialise(conn, &row, terms.count)?;
                let tomorrow = today.checked_add_days(Days::new(1));
                let waived = store::waive_open(conn, id, tomorrow, None)?;
                (Stance::Cancelled, "pledge.cancelled", waived)
            }
        };
        audit::record(
            conn,
            &actor,
            action,
            "pledge",
            id,
            json!({"from": current.status.as_str(), "waived_installments": waived, "as_of": today}),
        )?;
        Ok(save(conn, &actor, &row, stance, today)?.to_pledge(currency, true))
    })
}

/// The stored statuses a pledge with effective status `wanted` can have:
/// only time changes a status without a write, and only from active to
/// lapsed.
fn stored_statuses(wanted: PledgeStatus) -> Vec<&'static str> {
    match wanted {
        PledgeStatus::Lapsed => vec!["active", "lapsed"],
        other => vec![other.as_str()],
    }
}

/// A page of pledges matching `filter` and, if given, the status they have
/// today.
fn page_of(
    conn: &mut DbConnection,
    mut filter: PledgeFilter,
    wanted: Option<PledgeStatus>,
    page: &PageRequest,
    today: NaiveDate,
) -> Result<Page<View>> {
    filter.stored_statuses = wanted.map(stored_statuses);
    let mut found: Vec<View> = Vec::new();
    let mut after = page.after.clone();
    loop {
        let batch = store::list(conn, &filter, after.as_deref(), page.limit + 1)?;
        let exhausted = (batch.len() as i64) <= page.limit;
        after = batch.last().map(|r| r.id.clone()).or(after);
        found.extend(
            views_of(conn, batch, today)?
                .into_iter()
                .filter(|v| wanted.is_none_or(|w| v.status == w)),
        );
        if exhausted || found.len() as i64 > page.limit {
            break;
        }
    }
    Ok(Page::from_rows(found, page, |v| &v.row.id))
}

/// `GET /pools/{id}/pledges`.
pub fn list_for_pool(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
    status: Option<PledgeStatus>,
    member_id: Option<String>,
    page: &PageRequest,
) -> Result<Page<Pledge>> {
    let (_, pool) = load_authorized(conn, principal, pool_id, Permission::ReadPledges)?;
    let currency = pool.currency()?;
    let today = today_of(conn, &pool.collective_id)?;
    let filter = PledgeFilter {
        pool_id: Some(pool.id.clone()),
        member_id,
        ..Default::default()
    };
    Ok(page_of(conn, filter, status, page, today)?.map(|v| v.to_pledge(currency, false)))
}

/// `GET /me/pledges`: the caller's own pledges in a collective, with what
/// is due.
pub fn list_mine(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    status: Option<PledgeStatus>,
    page: &PageRequest,
) -> Result<Page<Pledge>> {
    let actor = authorize(
        conn,
        principal,
        collective_id,
        Permission::MakePledges,
        "collective",
    )?;
    let membership_id = actor
        .membership_id()
        .ok_or_else(|| Error::forbidden("only members have pledges of their own"))?;
    let today = today_of(conn, collective_id)?;
    let filter = PledgeFilter {
        collective_id: Some(collective_id.to_owned()),
        member_id: Some(membership_id.to_owned()),
        ..Default::default()
    };
    let views = page_of(conn, filter, status, page, today)?;
    let mut currencies: HashMap<String, Currency> = HashMap::new();
    let mut items = Vec::with_capacity(views.items.len());
    for v in &views.items {
        let currency = match currencies.get(&v.row.pool_id) {
            Some(c) => *c,
            None => {
                let c = pool_of(conn, &v.row)?.currency()?;
                currencies.insert(v.row.pool_id.clone(), c);
                c
            }
        };
        items.push(v.to_pledge(currency, false));
    }
    Ok(Page {
        items,
        next_cursor: views.next_cursor,
    })
}

/// The pledges of a pool in figures, as of `today`. No access check: for
/// the report and the public summary, which check their own.
pub fn report_of(
    conn: &mut DbConnection,
    pool: &PoolRow,
    today: NaiveDate,
) -> Result<(PledgeReport, usize)> {
    let currency = pool.currency()?;
    let filter = PledgeFilter {
        pool_id: Some(pool.id.clone()),
        ..Default::default()
    };
    let rows = store::list(conn, &filter, None, i64::MAX)?;
    let views = views_of(conn, rows, today)?;
    let month = crate::calendar::month_label(today);
    let (mut outstanding, mut due_this_month, mut overdue) = (0_i64, 0_i64, 0_i64);
    let (mut fallen_due, mut paid_on_due) = (0_i64, 0_i64);
    let mut counts: HashMap<PledgeStatus, u32> = HashMap::new();
    let mut pledgers = std::collections::HashSet::new();
    for v in &views {
        *counts.entry(v.status).or_default() += 1;
        pledgers.insert(
            v.row
                .member_id
                .clone()
                .or_else(|| v.row.donor_email.clone())
                .or_else(|| v.row.donor_name.clone())
                .unwrap_or_else(|| v.row.id.clone()),
        );
        let (due, paid) = schedule::fallen_due(&v.slots, v.stance, today);
        fallen_due += due;
        paid_on_due += paid;
        outstanding += schedule::totals(&v.slots, v.stance, today).outstanding;
        if v.stance == Stance::Cancelled {
            continue;
        }
        for slot in &v.slots {
            let state = schedule::slot_state(slot, v.stance, today);
            if state == SlotState::Suspended {
                continue;
            }
            if crate::calendar::month_label(slot.due_on) == month {
                due_this_month += slot.unpaid();
            }
            if state == SlotState::Overdue {
                overdue += slot.unpaid();
            }
        }
    }
    let count = |s: PledgeStatus| counts.get(&s).copied().unwrap_or(0);
    let show = |m: i64| format_minor(m, currency);
    Ok((
        PledgeReport {
            pool_id: pool.id.clone(),
            currency: currency.code.to_owned(),
            as_of: today,
            outstanding: show(outstanding),
            due_this_month: show(due_this_month),
            overdue: show(overdue),
            fulfilment_rate_percent: percent(paid_on_due, fallen_due),
            active: count(PledgeStatus::Active),
            paused: count(PledgeStatus::Paused),
            fulfilled: count(PledgeStatus::Fulfilled),
            cancelled: count(PledgeStatus::Cancelled),
            lapsed: count(PledgeStatus::Lapsed),
        },
        pledgers.len(),
    ))
}

/// `GET /pools/{id}/pledges/report`.
pub fn report(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
) -> Result<PledgeReport> {
    let (_, pool) = load_authorized(conn, principal, pool_id, Permission::ReadPledges)?;
    let today = today_of(conn, &pool.collective_id)?;
    Ok(report_of(conn, &pool, today)?.0)
}

/// Checks that a contribution to `pool` may be applied to the pledge, and
/// locks the pledge (the pool is locked already). A reference in a body
/// that does not fit is the field's fault: 422 naming `pledge_id`.
pub fn lock_for_payment(
    conn: &mut DbConnection,
    pool: &PoolRow,
    pledge_id: &str,
) -> Result<PledgeRow> {
    let row = store::find(conn, pledge_id)?
        .filter(|p| p.collective_id == pool.collective_id)
        .ok_or_else(|| Error::invalid("pledge_id", "no such pledge in this collective"))?;
    if row.pool_id != pool.id {
        return Err(Error::invalid("pledge_id", "is a pledge to another pool"));
    }
    store::lock(conn, &row.id)
}

/// Applies `amount` received by a contribution to a pledge's installments,
/// oldest unpaid first (arrears before paying ahead), and returns how much
/// was applied: at most what the pledge still expects. Runs in the
/// contribution's transaction, with the pledge locked.
pub fn apply_payment(
    conn: &mut DbConnection,
    actor: &Actor,
    row: PledgeRow,
    contribution_id: &str,
    amount: i64,
) -> Result<i64> {
    let today = today_of(conn, &row.collective_id)?;
    let current = load_view(conn, row.clone(), today)?;
    if matches!(
        current.status,
        PledgeStatus::Cancelled | PledgeStatus::Fulfilled
    ) {
        return Err(Error::Conflict {
            code: "pledge_closed",
            message: format!(
                "the pledge is {}; record the contribution without pledge_id",
                current.status.as_str()
            ),
            extra: Some(json!({"current_status": current.status.as_str()})),
        });
    }
    let (parts, _) = schedule::allocate(&current.slots, amount);
    let through = parts.last().map_or(1, |(seq, _)| *seq);
    let (installments, _) = materialise(conn, &row, through)?;
    for &(seq, take) in &parts {
        let installment = installments
            .iter()
            .find(|i| i.seq == seq as i32)
            .ok_or_else(|| {
                Error::Internal(format!("installment {seq} of {} not stored", row.id))
            })?;
        store::add_paid(conn, installment, take)?;
        store::insert_payment(conn, installment, contribution_id, take)?;
    }
    let applied: i64 = parts.iter().map(|(_, take)| take).sum();
    audit::record(
        conn,
        actor,
        "pledge.payment_applied",
        "pledge",
        &row.id,
        json!({"contribution_id": contribution_id, "amount_minor": applied, "installments": parts}),
    )?;
    save(conn, actor, &row, current.stance, today)?;
    Ok(applied)
}

/// Takes back up to `amount` of what a contribution paid on a pledge (it was
/// refunded, charged back or reversed), newest installment first. Returns
/// how much was taken back.
pub fn take_back_payment(
    conn: &mut DbConnection,
    actor: &Actor,
    pledge_id: &str,
    contribution_id: &str,
    amount: i64,
) -> Result<i64> {
    let row = store::lock(conn, pledge_id)?;
    let today = today_of(conn, &row.collective_id)?;
    let installments = store::installments_of(conn, &[row.id.as_str()])?;
    let mut applied: Vec<(u32, i64)> = store::paid_by_contribution(conn, contribution_id)?
        .into_iter()
        .filter_map(|(installment_id, paid)| {
            installments
                .iter()
                .find(|i| i.id == installment_id)
                .map(|i| (i.seq as u32, paid))
        })
        .filter(|(_, paid)| *paid > 0)
        .collect();
    applied.sort_unstable();
    let parts = schedule::deallocate(&applied, amount);
    for &(seq, take) in &parts {
        let installment = installments
            .iter()
            .find(|i| i.seq == seq as i32)
            .ok_or_else(|| {
                Error::Internal(format!("installment {seq} of {} not stored", row.id))
            })?;
        store::add_paid(conn, installment, -take)?;
        store::insert_payment(conn, installment, contribution_id, -take)?;
    }
    let taken: i64 = parts.iter().map(|(_, take)| take).sum();
    if taken == 0 {
        return Ok(0);
    }
    audit::record(
        conn,
        actor,
        "pledge.payment_taken_back",
        "pledge",
        &row.id,
        json!({"contribution_id": contribution_id, "amount_minor": taken, "installments": parts}),
    )?;
    save(conn, actor, &row, stance(&row), today)?;
    Ok(taken)
}

/// What the sweep did to one pledge.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub materialised: usize,
    pub lapsed: bool,
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
        if !matches!(row.status.as_str(), "active" | "paused") {
            return Ok(Swept::default());
        }
        let today = today_in(&row.collective_id)?;
        let (installments, materialised) =
            materialise(conn, &row, horizon_seq(&terms(&row)?, today))?;
        let current = view(row, &installments, today)?;
        let lapsed = current.row.status == "active"
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
        }
        Ok(Swept {
            materialised,
            lapsed,
        })
    })
}
