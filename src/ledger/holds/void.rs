//! Void pending: what remains of a hold, in part or all, goes back to the
//! pool — to its deficit first, the rest to `available`.

use serde_json::json;

use super::{authorize_hold, lock_hold, pool_of, require_remaining, Hold, HoldState, ReleaseHold};
use crate::audit;
use crate::auth::access::{Actor, Principal};
use crate::auth::policy::Permission;
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{now, HoldId};
use crate::ledger::store::{self, HoldRow, Shift};
use crate::ledger::{record, Account, EntryKind, Reference};
use crate::money::Money;

/// Void pending: releases part (`Some`) or all (`None`) of what remains of
/// a hold back to the pool, to its deficit first.
pub fn release(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &HoldId,
    amount: Option<Money>,
) -> Result<HoldState> {
    let row = release_row(conn, actor, hold_id, amount)?;
    let pool = pool_of(conn, &row)?;
    HoldState::of(row, &pool)
}

/// Releases part or all of what remains of a hold back to the pool: to its
/// deficit first, if it has one, and the rest to `available`.
fn release_row(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &HoldId,
    amount: Option<Money>,
) -> Result<HoldRow> {
    write_tx(conn, |conn| {
        let (pool, hold) = lock_hold(conn, hold_id)?;
        let amount = amount.map_or(hold.remaining_minor, |m| m.minor);
        if amount == 0 {
            return Ok(hold);
        }
        require_remaining(&pool, &hold, amount)?;
        if !store::shift(conn, hold_id.as_str(), amount, Shift::Release, now())? {
            return Err(Error::conflict(
                "hold_exceeded",
                "the hold changed meanwhile; try again",
            ));
        }
        // Money coming back covers the pool's deficit first, as a new
        // contribution does: `available` is only money that can be spent.
        let cover = amount.min(pool.deficit_minor);
        record(
            conn,
            &pool,
            EntryKind::Release,
            &Reference::Hold(hold_id.clone()),
            None,
            &[
                (Account::Held, -amount),
                (Account::Deficit, cover),
                (Account::Available, amount - cover),
            ],
        )?;
        store::close_if_done(conn, hold_id.as_str())?;
        audit::record(
            conn,
            actor,
            "hold.released",
            "hold",
            hold_id.as_str(),
            json!({"amount_minor": amount, "covered_deficit_minor": cover}),
        )?;
        let released = store::find_hold(conn, hold_id.as_str())?;
        let hold = Hold::from_row(released.clone(), &pool)?;
        events::record(conn, &pool.collective_id, EventType::HoldReleased, &hold)?;
        Ok(released)
    })
}

pub fn release_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    hold_id: &HoldId,
    input: ReleaseHold,
) -> Result<Hold> {
    let actor = authorize_hold(conn, principal, hold_id, Permission::ManageHolds)?;
    let hold = store::find_hold(conn, hold_id.as_str())?;
    let pool = store::pool(conn, &hold.pool_id)?;
    let amount = input
        .amount
        .as_deref()
        .map(|a| crate::ledger::amount("amount", a, &pool))
        .transpose()?;
    let row = release_row(conn, &actor, hold_id, amount)?;
    Hold::from_row(row, &pool)
}
