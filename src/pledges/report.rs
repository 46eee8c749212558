//! A pool's pledges in figures: outstanding, due this month, overdue, and
//! how well pledges are kept.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::schedule::{self, SlotState, Stance};
use super::store::{self, PledgeFilter};
use super::view::{today_of, views_of};
use super::*;
use crate::auth::access::Principal;
use crate::auth::policy::Permission;
use crate::db::DbConnection;
use crate::error::Result;
use crate::money::{format_minor, percent};
use crate::pools::service::load_authorized;
use crate::pools::store::PoolRow;

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
    let mut pledgers = HashSet::new();
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
