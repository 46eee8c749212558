//! Post pending: a payout drawn on a hold (it moves part of what remains
//! to pending), then its outcome, once: `paid` posts it out of the pool,
//! `failed` returns its part to the hold.

use serde_json::json;

use super::{
    authorize_disbursement, authorize_hold, lock_hold, require_remaining, Disbursement,
    DisbursementOutcome, DisbursementStatus, HoldFor, NewDisbursement, Outcome,
};
use crate::audit;
use crate::auth::access::{Actor, Principal};
use crate::auth::policy::Permission;
use crate::collectives::check_text;
use crate::db::{write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, DisbursementId, HoldId};
use crate::ledger::facts::{PayoutPosted, Reactions};
use crate::ledger::store::{self, DisbursementRow, Shift};
use crate::ledger::{record, Account, EntryKind, Reference};
use crate::money::Money;

/// Starts a payout drawn on a hold (posted whole or in part by its
/// outcome, see [`resolve`]); it is shown as the API shows it.
pub fn disburse(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &HoldId,
    amount: Money,
    external_reference: Option<String>,
) -> Result<Disbursement> {
    let row = disburse_row(conn, actor, hold_id, amount, external_reference)?;
    let pool = store::pool(conn, &row.pool_id)?;
    Disbursement::from_row(row, &pool)
}

/// Starts a payment against a hold: it draws on what remains, so pending
/// payments together never exceed the hold.
fn disburse_row(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &HoldId,
    amount: Money,
    external_reference: Option<String>,
) -> Result<DisbursementRow> {
    let amount = amount.minor;
    write_tx(conn, |conn| {
        let (pool, hold) = lock_hold(conn, hold_id)?;
        require_remaining(&pool, &hold, amount)?;
        if !store::shift(conn, hold_id.as_str(), amount, Shift::Draw, now())? {
            return Err(Error::conflict(
                "hold_exceeded",
                "the hold changed meanwhile; try again",
            ));
        }
        let at = now();
        let row = DisbursementRow {
            collective_id: pool.collective_id.clone(),
            id: new_id(),
            pool_id: pool.id.clone(),
            hold_id: hold_id.as_str().to_owned(),
            amount_minor: amount,
            status: DisbursementStatus::Pending.as_str().to_owned(),
            external_reference,
            failure_reason: None,
            entry_id: None,
            created_by: actor.id().to_owned(),
            resolved_by: None,
            created_at: at,
            updated_at: at,
            resolved_at: None,
        };
        store::insert_disbursement(conn, &row)?;
        audit::record(
            conn,
            actor,
            "disbursement.created",
            "disbursement",
            &row.id,
            json!({"hold_id": hold_id.as_str(), "amount_minor": amount}),
        )?;
        let disbursement = Disbursement::from_row(row.clone(), &pool)?;
        events::record(
            conn,
            &pool.collective_id,
            EventType::DisbursementCreated,
            &disbursement,
        )?;
        Ok(row)
    })
}

pub fn disburse_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    hold_id: &HoldId,
    input: NewDisbursement,
) -> Result<Disbursement> {
    let actor = authorize_hold(conn, principal, hold_id, Permission::CreateDisbursements)?;
    let hold = store::find_hold(conn, hold_id.as_str())?;
    let pool = store::pool(conn, &hold.pool_id)?;
    let amount = crate::ledger::amount("amount", &input.amount, &pool)?;
    let reference = input
        .external_reference
        .as_deref()
        .map(|r| check_text("external_reference", r, 200))
        .transpose()?;
    let row = disburse_row(conn, &actor, hold_id, amount, reference)?;
    Disbursement::from_row(row, &pool)
}

/// Records a payment's outcome, once: `paid` moves the money out of the
/// pool (post pending) and tells `reactions` so; `failed` returns its part
/// to the hold.
fn resolve(
    conn: &mut DbConnection,
    actor: &Actor,
    disbursement_id: &DisbursementId,
    outcome: Outcome,
    external_reference: Option<String>,
    reason: Option<String>,
    reactions: &mut dyn Reactions,
) -> Result<DisbursementRow> {
    write_tx(conn, |conn| {
        let row = store::find_disbursement(conn, disbursement_id.as_str())?;
        let hold_id = HoldId::from(row.hold_id.as_str());
        let (pool, hold) = lock_hold(conn, &hold_id)?;
        let at = now();
        let status = match outcome {
            Outcome::Paid => DisbursementStatus::Paid,
            Outcome::Failed => DisbursementStatus::Failed,
        };
        let resolved = store::resolve_disbursement(
            conn,
            disbursement_id.as_str(),
            DisbursementStatus::Pending.as_str(),
            store::Resolution {
                status: status.as_str(),
                external_reference: external_reference.or(row.external_reference.clone()),
                failure_reason: reason,
                resolved_by: actor.id(),
                at,
            },
        )?;
        if !resolved {
            let current = store::find_disbursement(conn, disbursement_id.as_str())?;
            return Err(Error::Conflict {
                code: "disbursement_resolved",
                message: format!("this disbursement is already {}", current.status),
                extra: Some(json!({"current_status": current.status})),
            });
        }
        let amount = row.amount_minor;
        let shift = match outcome {
            Outcome::Paid => Shift::Pay,
            Outcome::Failed => Shift::Fail,
        };
        if !store::shift(conn, &row.hold_id, amount, shift, at)? {
            return Err(Error::Internal(format!(
                "hold {} has less pending than disbursement {}",
                row.hold_id, row.id
            )));
        }
        if outcome == Outcome::Paid {
            let entry_id = record(
                conn,
                &pool,
                EntryKind::Disbursement,
                &Reference::Disbursement(disbursement_id.clone()),
                None,
                &[(Account::Held, -amount), (Account::PayoutsOut, amount)],
            )?;
            store::set_disbursement_entry(conn, disbursement_id.as_str(), entry_id.as_str())?;
            // What the money was for learns that it was paid, in this transaction.
            let payout = PayoutPosted {
                hold_id: hold_id.clone(),
                held_for: HoldFor::of(&hold)?,
                disbursement_id: disbursement_id.clone(),
                entry_id,
                amount: Money::new(amount, pool.currency()?),
            };
            reactions.payout_posted(conn, actor, &payout)?;
        }
        store::close_if_done(conn, &row.hold_id)?;
        audit::record(
            conn,
            actor,
            &format!("disbursement.{}", status.as_str()),
            "disbursement",
            disbursement_id.as_str(),
            json!({"amount_minor": amount}),
        )?;
        let resolved = store::find_disbursement(conn, disbursement_id.as_str())?;
        let happened = match outcome {
            Outcome::Paid => EventType::DisbursementPaid,
            Outcome::Failed => EventType::DisbursementFailed,
        };
        let disbursement = Disbursement::from_row(resolved.clone(), &pool)?;
        events::record(conn, &pool.collective_id, happened, &disbursement)?;
        Ok(resolved)
    })
}

pub fn resolve_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &DisbursementId,
    input: DisbursementOutcome,
    reactions: &mut dyn Reactions,
) -> Result<Disbursement> {
    let (actor, pool, _) =
        authorize_disbursement(conn, principal, id, Permission::RecordDisbursementOutcomes)?;
    let reference = input
        .external_reference
        .as_deref()
        .map(|r| check_text("external_reference", r, 200))
        .transpose()?;
    let reason = input
        .reason
        .as_deref()
        .map(|r| check_text("reason", r, 2000))
        .transpose()?;
    let row = resolve(
        conn,
        &actor,
        id,
        input.outcome,
        reference,
        reason,
        reactions,
    )?;
    Disbursement::from_row(row, &pool)
}
