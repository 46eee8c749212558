//! The rules for pledges: who may pledge for whom, reading them, and
//! pausing, resuming and cancelling.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use serde_json::json;

use super::schedule::{self, Stance, MAX_INSTALLMENTS};
use super::store::{self, PledgeFilter, PledgeRow};
use super::view::{
    announce, horizon_seq, load_view, materialise, save, terms, today_of, view, views_of, View,
};
use super::*;
use crate::audit;
use crate::auth::access::{authorize, Actor, Principal};
use crate::auth::policy::Permission;
use crate::collectives::{check_email, check_if_match, check_text};
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::EventType;
use crate::ids::{new_id, now};
use crate::money::{Currency, Money, MAX_MINOR};
use crate::pagination::{Page, PageRequest};
use crate::pools::service::load_authorized;
use crate::pools::store::{self as pool_store, PoolRow};

/// How far back or ahead a pledge may start.
const START_WINDOW_DAYS: u64 = 366;

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
        let created = view(row, &installments, today)?;
        announce(conn, &created, EventType::PledgeCreated)?;
        Ok(created.to_pledge(currency, true))
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
        (Active, Paused) => Ok(Some(Change::Pause)),
        (Paused, Active) => Ok(Some(Change::Resume)),
        (Active | Paused | Lapsed, Cancelled) => Ok(Some(Change::Cancel)),
        // Lapse follows from the installments, today and the grace period:
        // pausing would hide it, and resuming would forgive what is overdue.
        (Lapsed, Active | Paused) => Err(Error::Conflict {
            code: "pledge_lapsed",
            message: "the pledge has lapsed; it becomes active again when its overdue installments are paid, and cannot be paused until then"
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
            Change::Pause => (Stance::Paused { since: today }, EventType::PledgePaused, 0),
            Change::Resume => {
                // What fell due while paused is forgiven; what is due today is not.
                materialise(conn, &row, horizon_seq(&terms, today))?;
                let waived = store::waive_open(conn, id, row.paused_on, Some(today))?;
                (Stance::Active, EventType::PledgeResumed, waived)
            }
            Change::Cancel => {
                // Nothing more falls due; what was already due stays missed.
                materialise(conn, &row, terms.count)?;
                let tomorrow = today.checked_add_days(Days::new(1));
                let waived = store::waive_open(conn, id, tomorrow, None)?;
                (Stance::Cancelled, EventType::PledgeCancelled, waived)
            }
        };
        let saved = save(conn, &actor, &row, stance, today, Some(action))?;
        // What changed, before and after, without the schedule (its totals
        // say it) and with the donor's details named, not shown.
        let changes = audit::changes(
            &current.to_pledge(currency, false),
            &saved.to_pledge(currency, false),
            &["donor_name", "donor_email", "note"],
        );
        audit::record(
            conn,
            &actor,
            action.name(),
            "pledge",
            id,
            json!({"from": current.status.as_str(), "waived_installments": waived, "as_of": today,
                   "changes": changes}),
        )?;
        Ok(saved.to_pledge(currency, true))
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
