//! A pending transfer: a hold takes money from `available` into `held`.

use serde_json::json;

use super::{pool_of, Hold, HoldFor, HoldState, HoldStatus, NewHold};
use crate::audit;
use crate::auth::access::{Actor, Principal};
use crate::auth::policy::Permission;
use crate::collectives::check_text;
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, PoolId};
use crate::ledger::store::{self, HoldRow};
use crate::ledger::{record, require_no_deficit, Account, EntryKind, Reference};
use crate::money::Money;
use crate::pools::service::load_authorized;
use crate::pools::store as pool_store;

/// Places a hold on a pool's available money. Refused with the available
/// amount when the pool is short, and while the pool has a deficit.
fn place_row(
    conn: &mut DbConnection,
    actor: &Actor,
    pool_id: &PoolId,
    amount: Money,
    held_for: &HoldFor,
    note: Option<String>,
) -> Result<HoldRow> {
    let purpose = held_for.purpose();
    write_tx(conn, |conn| {
        let pool = pool_store::lock(conn, pool_id.as_str())?;
        if amount.currency.code != pool.currency {
            return Err(Error::Internal(
                "hold in another currency than its pool".into(),
            ));
        }
        require_no_deficit(&pool)?;
        if pool.available_minor < amount.minor {
            return Err(crate::ledger::insufficient_funds(&pool, amount.minor)?);
        }
        let id = new_id();
        record(
            conn,
            &pool,
            EntryKind::Hold,
            &Reference::Hold(id.as_str().into()),
            None,
            &[
                (Account::Available, -amount.minor),
                (Account::Held, amount.minor),
            ],
        )?;
        let at = now();
        let row = HoldRow {
            collective_id: pool.collective_id.clone(),
            id: id.clone(),
            pool_id: pool.id.clone(),
            parent_hold_id: None,
            purpose: purpose.as_str().to_owned(),
            reference_id: held_for.reference_id().map(str::to_owned),
            amount_minor: amount.minor,
            remaining_minor: amount.minor,
            pending_minor: 0,
            paid_minor: 0,
            released_minor: 0,
            split_minor: 0,
            status: HoldStatus::Active.as_str().to_owned(),
            note,
            created_by: actor.id().to_owned(),
            created_at: at,
            updated_at: at,
        };
        store::insert_holds(conn, std::slice::from_ref(&row))?;
        audit::record(
            conn,
            actor,
            "hold.placed",
            "hold",
            &id,
            json!({"pool_id": pool.id, "amount_minor": amount.minor, "purpose": purpose.as_str()}),
        )?;
        let hold = Hold::from_row(row.clone(), &pool)?;
        events::record(conn, &pool.collective_id, EventType::HoldPlaced, &hold)?;
        Ok(row)
    })
}

/// A pending transfer: reserves `amount` of a pool's available money for
/// `held_for`. Refused with the available amount when the pool is short,
/// and while the pool has a deficit.
pub fn place(
    conn: &mut DbConnection,
    actor: &Actor,
    pool_id: &PoolId,
    amount: Money,
    held_for: HoldFor,
    note: Option<String>,
) -> Result<HoldState> {
    let row = place_row(conn, actor, pool_id, amount, &held_for, note)?;
    let pool = pool_of(conn, &row)?;
    HoldState::of(row, &pool)
}

/// `POST /pools/{id}/holds`: a coordinator reserves money by hand.
pub fn place_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &PoolId,
    input: NewHold,
) -> Result<Hold> {
    let (actor, pool) =
        load_authorized(conn, principal, pool_id.as_str(), Permission::ManageHolds)?;
    let amount = crate::ledger::amount("amount", &input.amount, &pool)?;
    let note = input
        .note
        .as_deref()
        .map(|n| check_text("note", n, 2000))
        .transpose()?;
    let row = place_row(conn, &actor, pool_id, amount, &HoldFor::Manual, note)?;
    let pool = store::pool(conn, &pool.id)?;
    Hold::from_row(row, &pool)
}
