//! What the API and the areas built on the ledger read of holds and
//! disbursements.

use super::{
    authorize_disbursement, authorize_hold, Disbursement, DisbursementStatus, Hold, HoldFor,
};
use crate::auth::access::Principal;
use crate::auth::policy::Permission;
use crate::db::DbConnection;
use crate::error::Result;
use crate::ids::{DisbursementId, HoldId, PoolId};
use crate::ledger::store;
use crate::money::Money;
use crate::pagination::{Page, PageRequest};
use crate::pools::service::load_authorized;
use crate::pools::store::PoolRow;

pub fn get_hold(conn: &mut DbConnection, principal: &Principal, hold_id: &HoldId) -> Result<Hold> {
    authorize_hold(conn, principal, hold_id, Permission::ReadHolds)?;
    let hold = store::find_hold(conn, hold_id.as_str())?;
    let pool = store::pool(conn, &hold.pool_id)?;
    Hold::from_row(hold, &pool)
}

pub fn list_holds(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &PoolId,
    page: &PageRequest,
) -> Result<Page<Hold>> {
    let (_, pool) = load_authorized(conn, principal, pool_id.as_str(), Permission::ReadHolds)?;
    store::hold_page(conn, &pool.id, page)?.try_map(|r| Hold::from_row(r, &pool))
}

/// A pool's holds with what each reserves money for: all of them, or only
/// those still reserving money (active, something remaining or pending).
pub fn held_for_in_pool(
    conn: &mut DbConnection,
    pool_id: &PoolId,
    reserving_only: bool,
) -> Result<Vec<(HoldId, HoldFor)>> {
    store::holds_of_pool(conn, pool_id.as_str(), reserving_only)?
        .into_iter()
        .map(|row| Ok((HoldFor::of(&row)?, row.id)).map(|(f, id)| (id.into(), f)))
        .collect()
}

/// A payout that left the pool.
#[derive(Debug, Clone)]
pub struct PaidPayout {
    pub hold_id: HoldId,
    pub amount: Money,
    /// When its payment was reported paid.
    pub paid_at: chrono::NaiveDateTime,
}

/// A pool's paid payouts, oldest first.
pub fn paid_payouts(conn: &mut DbConnection, pool: &PoolRow) -> Result<Vec<PaidPayout>> {
    let currency = pool.currency()?;
    store::disbursements_of_pool(conn, &pool.id, DisbursementStatus::Paid.as_str())?
        .into_iter()
        .map(|row| PaidPayout {
            amount: Money::new(row.amount_minor, currency),
            paid_at: row.resolved_at.unwrap_or(row.created_at),
            hold_id: row.hold_id.into(),
        })
        .map(Ok)
        .collect()
}

/// Whether payments drawn on a hold are still waiting for their outcome.
pub fn has_pending(conn: &mut DbConnection, hold_id: &HoldId) -> Result<bool> {
    Ok(store::find_hold(conn, hold_id.as_str())?.pending_minor > 0)
}

/// A hold's disbursements, oldest first, as the API shows them.
pub fn disbursements_of(
    conn: &mut DbConnection,
    hold_id: &HoldId,
    pool: &PoolRow,
) -> Result<Vec<Disbursement>> {
    store::disbursements_of_hold(conn, hold_id.as_str(), None)?
        .items
        .into_iter()
        .map(|r| Disbursement::from_row(r, pool))
        .collect()
}

pub fn get_disbursement(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &DisbursementId,
) -> Result<Disbursement> {
    let (_, pool, row) = authorize_disbursement(conn, principal, id, Permission::ReadHolds)?;
    Disbursement::from_row(row, &pool)
}

pub fn list_disbursements(
    conn: &mut DbConnection,
    principal: &Principal,
    hold_id: &HoldId,
    page: &PageRequest,
) -> Result<Page<Disbursement>> {
    authorize_hold(conn, principal, hold_id, Permission::ReadHolds)?;
    let hold = store::find_hold(conn, hold_id.as_str())?;
    let pool = store::pool(conn, &hold.pool_id)?;
    store::disbursements_of_hold(conn, hold_id.as_str(), Some(page))?
        .try_map(|r| Disbursement::from_row(r, &pool))
}
