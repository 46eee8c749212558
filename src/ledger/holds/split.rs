//! A split: part of what remains of a hold moves into smaller holds (a
//! round's budget becomes one hold per funded request). No money moves
//! between accounts.

use serde_json::json;

use super::{
    authorize_hold, lock_hold, pool_of, require_remaining, Hold, HoldFor, HoldState, HoldStatus,
    Purpose, SplitHold,
};
use crate::audit;
use crate::auth::access::{Actor, Principal};
use crate::auth::policy::Permission;
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, HoldId};
use crate::ledger::store::{self, HoldRow, Shift};
use crate::money::Money;

/// Splits part of a hold into smaller holds, one per child (a round's
/// budget becomes one hold per funded request). No money moves.
pub fn split(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &HoldId,
    children: &[(Money, HoldFor)],
) -> Result<Vec<HoldState>> {
    let purposes: Vec<Purpose> = children.iter().map(|(_, f)| f.purpose()).collect();
    let purpose = match purposes.split_first() {
        Some((first, rest)) if rest.iter().all(|p| p == first) => *first,
        Some(_) => {
            return Err(Error::Internal(
                "the children of one split are held for one purpose".into(),
            ))
        }
        None => Purpose::Manual,
    };
    let amounts: Vec<Money> = children.iter().map(|(m, _)| *m).collect();
    let references: Vec<Option<String>> = children
        .iter()
        .map(|(_, f)| f.reference_id().map(str::to_owned))
        .collect();
    let rows = split_rows(conn, actor, hold_id, &amounts, purpose, &references)?;
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let pool = pool_of(conn, first)?;
    rows.into_iter().map(|r| HoldState::of(r, &pool)).collect()
}

/// Splits part of a hold into smaller holds (a round's reservation becomes
/// one hold per funded request). No money moves between accounts.
fn split_rows(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &HoldId,
    amounts: &[Money],
    purpose: Purpose,
    references: &[Option<String>],
) -> Result<Vec<HoldRow>> {
    write_tx(conn, |conn| {
        let (pool, hold) = lock_hold(conn, hold_id)?;
        let total: i64 = amounts.iter().map(|m| m.minor).sum();
        require_remaining(&pool, &hold, total)?;
        if !store::shift(conn, hold_id.as_str(), total, Shift::Split, now())? {
            return Err(Error::conflict(
                "hold_exceeded",
                "the hold changed meanwhile; try again",
            ));
        }
        let at = now();
        let mut children = Vec::new();
        for (i, amount) in amounts.iter().enumerate() {
            let child = HoldRow {
                collective_id: pool.collective_id.clone(),
                id: new_id(),
                pool_id: pool.id.clone(),
                parent_hold_id: Some(hold.id.clone()),
                purpose: purpose.as_str().to_owned(),
                reference_id: references.get(i).cloned().flatten(),
                amount_minor: amount.minor,
                remaining_minor: amount.minor,
                pending_minor: 0,
                paid_minor: 0,
                released_minor: 0,
                split_minor: 0,
                status: HoldStatus::Active.as_str().to_owned(),
                note: None,
                created_by: actor.id().to_owned(),
                created_at: at,
                updated_at: at,
            };
            children.push(child);
        }
        store::insert_holds(conn, &children)?;
        store::close_if_done(conn, hold_id.as_str())?;
        audit::record(
            conn,
            actor,
            "hold.split",
            "hold",
            hold_id.as_str(),
            json!({"amounts_minor": amounts.iter().map(|m| m.minor).collect::<Vec<_>>(),
                   "children": children.iter().map(|c| c.id.clone()).collect::<Vec<_>>()}),
        )?;
        let parent = Hold::from_row(store::find_hold(conn, hold_id.as_str())?, &pool)?;
        events::record(conn, &pool.collective_id, EventType::HoldSplit, &parent)?;
        for child in &children {
            let child = Hold::from_row(child.clone(), &pool)?;
            events::record(conn, &pool.collective_id, EventType::HoldPlaced, &child)?;
        }
        Ok(children)
    })
}

pub fn split_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    hold_id: &HoldId,
    input: SplitHold,
) -> Result<Vec<Hold>> {
    let actor = authorize_hold(conn, principal, hold_id, Permission::ManageHolds)?;
    let hold = store::find_hold(conn, hold_id.as_str())?;
    let pool = store::pool(conn, &hold.pool_id)?;
    if input.amounts.is_empty() || input.amounts.len() > 100 {
        return Err(Error::invalid("amounts", "must list 1 to 100 amounts"));
    }
    let amounts = input
        .amounts
        .iter()
        .enumerate()
        .map(|(i, a)| crate::ledger::amount(&format!("amounts[{i}]"), a, &pool))
        .collect::<Result<Vec<_>>>()?;
    let children = split_rows(conn, &actor, hold_id, &amounts, Purpose::Manual, &[])?;
    children
        .into_iter()
        .map(|c| Hold::from_row(c, &pool))
        .collect()
}
