//! Money received for a pledge: a contribution's amount applied to the
//! installments, oldest first, and taken back when the contribution is
//! refunded or reversed. Runs inside the contribution's transaction.

use serde_json::json;

use super::schedule;
use super::store::{self, InstallmentRow, PledgeRow};
use super::view::{load_view, materialise, save, stance, today_of};
use super::*;
use crate::audit;
use crate::auth::access::Actor;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::events::EventType;
use crate::pools::store::PoolRow;

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
    // A fulfilled pledge expects nothing more: the money is an ordinary
    // contribution, as any excess over a pledge is. A cancelled one was
    // called off, so money for it is more likely a mistake: refused.
    if current.status == PledgeStatus::Fulfilled {
        return Ok(0);
    }
    if current.status == PledgeStatus::Cancelled {
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
    let applied = post(
        conn,
        actor,
        &row,
        &installments,
        contribution_id,
        &parts,
        Way::Apply,
    )?;
    let happened = (applied > 0).then_some(EventType::PledgePaymentApplied);
    save(conn, actor, &row, current.stance, today, happened)?;
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
    let taken = post(
        conn,
        actor,
        &row,
        &installments,
        contribution_id,
        &parts,
        Way::TakeBack,
    )?;
    if taken == 0 {
        return Ok(0);
    }
    let happened = Some(EventType::PledgePaymentTakenBack);
    save(conn, actor, &row, stance(&row), today, happened)?;
    Ok(taken)
}

/// Which way money goes on installments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Apply,
    TakeBack,
}

/// Applies or takes back what a contribution paid on each installment,
/// keeps the history in `pledge_payments`, and audits it. Returns the
/// amount.
fn post(
    conn: &mut DbConnection,
    actor: &Actor,
    row: &PledgeRow,
    installments: &[InstallmentRow],
    contribution_id: &str,
    parts: &[(u32, i64)],
    way: Way,
) -> Result<i64> {
    let (sign, action) = match way {
        Way::Apply => (1, "pledge.payment_applied"),
        Way::TakeBack => (-1, "pledge.payment_taken_back"),
    };
    for &(seq, amount) in parts {
        let installment = installments
            .iter()
            .find(|i| i.seq == seq as i32)
            .ok_or_else(|| {
                Error::Internal(format!("installment {seq} of {} not stored", row.id))
            })?;
        store::add_paid(conn, installment, sign * amount)?;
        store::insert_payment(conn, installment, contribution_id, sign * amount)?;
    }
    let total: i64 = parts.iter().map(|(_, amount)| amount).sum();
    if total > 0 {
        audit::record(
            conn,
            actor,
            action,
            "pledge",
            &row.id,
            json!({"contribution_id": contribution_id, "amount_minor": total, "installments": parts}),
        )?;
    }
    Ok(total)
}
