//! Holds and disbursements: the one mechanism that request approvals and
//! budgeting rounds use to reserve and pay out money.
//!
//! A hold takes money from `available` into `held`. Its amount is always
//! accounted for as remaining + pending + paid + released + split (a
//! database CHECK says so too). A pending disbursement draws on the
//! remainder, so pending ones together never exceed the hold; `paid` moves
//! the money out of the pool; `failed` returns its part to the remainder.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::facts::{PayoutPosted, Reactions};
use super::store::{self, DisbursementRow, HoldRow, Shift};
use super::{record, require_no_deficit, Account, EntryKind, Reference};
use crate::audit;
use crate::auth::access::{Actor, Principal};
use crate::auth::policy::Permission;
use crate::collectives::check_text;
use crate::db::{write_tx, DbConnection};
use crate::error::{known, Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, utc, HoldId, PoolId, RequestId, RoundId};
use crate::money::{format_minor, Money};
use crate::pagination::{Page, PageRequest};
use crate::pools::service::load_authorized;
use crate::pools::store::{self as pool_store, PoolRow};

/// What a hold reserves money for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// An approved aid request.
    Request,
    /// A budgeting round's budget.
    Round,
    /// Reserved by a coordinator by hand.
    Manual,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Round => "round",
            Self::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "request" => Some(Self::Request),
            "round" => Some(Self::Round),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

/// What a hold reserves money for, with the thing it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldFor {
    /// An approved aid request.
    Request(RequestId),
    /// A budgeting round's budget.
    Round(RoundId),
    /// Reserved by a coordinator by hand.
    Manual,
}

impl HoldFor {
    fn purpose(&self) -> Purpose {
        match self {
            Self::Request(_) => Purpose::Request,
            Self::Round(_) => Purpose::Round,
            Self::Manual => Purpose::Manual,
        }
    }

    fn reference_id(&self) -> Option<&str> {
        match self {
            Self::Request(id) => Some(id.as_str()),
            Self::Round(id) => Some(id.as_str()),
            Self::Manual => None,
        }
    }

    /// Read from a stored hold, through its checked purpose.
    fn of(row: &HoldRow) -> Result<Self> {
        let reference = || {
            row.reference_id
                .clone()
                .ok_or_else(|| Error::Internal(format!("hold {} names no {}", row.id, row.purpose)))
        };
        Ok(match row.purpose()? {
            Purpose::Request => Self::Request(reference()?.into()),
            Purpose::Round => Self::Round(reference()?.into()),
            Purpose::Manual => Self::Manual,
        })
    }
}

/// A hold after a movement: what the areas that placed it may keep.
#[derive(Debug, Clone)]
pub struct HoldState {
    pub id: HoldId,
    pub amount: Money,
    pub remaining: Money,
    pub pending: Money,
    pub paid: Money,
    pub released: Money,
    pub split: Money,
    pub status: HoldStatus,
}

impl HoldState {
    fn of(row: HoldRow, pool: &PoolRow) -> Result<Self> {
        let currency = pool.currency()?;
        let money = |minor: i64| Money::new(minor, currency);
        Ok(Self {
            amount: money(row.amount_minor),
            remaining: money(row.remaining_minor),
            pending: money(row.pending_minor),
            paid: money(row.paid_minor),
            released: money(row.released_minor),
            split: money(row.split_minor),
            status: row.status()?,
            id: row.id.into(),
        })
    }
}

/// Where a hold stands: `active` while anything is remaining or pending,
/// then `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Active,
    Closed,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// Where a disbursement stands: `pending` until its payment is reported
/// `paid` or `failed`, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisbursementStatus {
    Pending,
    Paid,
    Failed,
}

impl DisbursementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "paid" => Some(Self::Paid),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

impl HoldRow {
    fn status(&self) -> Result<HoldStatus> {
        known(
            HoldStatus::parse(&self.status),
            "hold",
            &self.id,
            &self.status,
        )
    }

    fn purpose(&self) -> Result<Purpose> {
        known(
            Purpose::parse(&self.purpose),
            "hold",
            &self.id,
            &self.purpose,
        )
    }
}

impl DisbursementRow {
    fn status(&self) -> Result<DisbursementStatus> {
        let parsed = DisbursementStatus::parse(&self.status);
        known(parsed, "disbursement", &self.id, &self.status)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Hold {
    pub id: String,
    pub pool_id: String,
    pub parent_hold_id: Option<String>,
    pub purpose: Purpose,
    pub reference_id: Option<String>,
    pub currency: String,
    pub amount: String,
    /// Still reserved and free to draw on.
    pub remaining: String,
    /// Drawn by pending disbursements.
    pub pending: String,
    pub paid: String,
    pub released: String,
    /// Moved into smaller holds.
    pub split: String,
    pub status: HoldStatus,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Hold {
    fn from_row(row: HoldRow, pool: &PoolRow) -> Result<Self> {
        let currency = pool.currency()?;
        let show = |m: i64| format_minor(m, currency);
        let status = row.status()?;
        let purpose = row.purpose()?;
        Ok(Self {
            currency: currency.code.to_owned(),
            amount: show(row.amount_minor),
            remaining: show(row.remaining_minor),
            pending: show(row.pending_minor),
            paid: show(row.paid_minor),
            released: show(row.released_minor),
            split: show(row.split_minor),
            id: row.id,
            pool_id: row.pool_id,
            parent_hold_id: row.parent_hold_id,
            purpose,
            reference_id: row.reference_id,
            status,
            note: row.note,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Disbursement {
    pub id: String,
    pub pool_id: String,
    pub hold_id: String,
    pub amount: String,
    pub currency: String,
    pub status: DisbursementStatus,
    pub external_reference: Option<String>,
    pub failure_reason: Option<String>,
    /// The journal entry that paid it out, once paid.
    pub entry_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Disbursement {
    fn from_row(row: DisbursementRow, pool: &PoolRow) -> Result<Self> {
        let currency = pool.currency()?;
        let status = row.status()?;
        Ok(Self {
            amount: format_minor(row.amount_minor, currency),
            currency: currency.code.to_owned(),
            id: row.id,
            pool_id: row.pool_id,
            status,
            hold_id: row.hold_id,
            external_reference: row.external_reference,
            failure_reason: row.failure_reason,
            entry_id: row.entry_id,
            created_at: utc(row.created_at),
            resolved_at: row.resolved_at.map(utc),
        })
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    #[schema(example = "300.00")]
    pub amount: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitHold {
    /// Amounts of the new holds; together at most what remains.
    #[schema(example = json!(["100.00", "50.00"]))]
    pub amounts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseHold {
    /// How much to release (default: all that remains).
    pub amount: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisbursement {
    #[schema(example = "150.00")]
    pub amount: String,
    /// The payment's id at the bank or processor, if known already.
    pub external_reference: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Paid,
    Failed,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisbursementOutcome {
    pub outcome: Outcome,
    pub external_reference: Option<String>,
    /// Why it failed (for `failed`).
    pub reason: Option<String>,
}

use store::{find_disbursement, find_hold};

/// Locks the pool and then the hold, and reads the hold fresh.
fn lock_hold(conn: &mut DbConnection, hold_id: &str) -> Result<(PoolRow, HoldRow)> {
    let hold = find_hold(conn, hold_id)?;
    let pool = pool_store::lock(conn, &hold.pool_id)?;
    Ok((pool, store::lock_hold(conn, hold_id)?))
}

fn authorize_hold(
    conn: &mut DbConnection,
    principal: &Principal,
    hold_id: &str,
    permission: Permission,
) -> Result<Actor> {
    let hold = find_hold(conn, hold_id)?;
    load_authorized(conn, principal, &hold.pool_id, permission)
        .map(|(actor, _)| actor)
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound { what: "hold" },
            other => other,
        })
}

/// Places a hold on a pool's available money. Refused with the available
/// amount when the pool is short, and while the pool has a deficit.
fn place_row(
    conn: &mut DbConnection,
    actor: &Actor,
    pool_id: &str,
    amount: Money,
    purpose: Purpose,
    reference_id: Option<&str>,
    note: Option<String>,
) -> Result<HoldRow> {
    write_tx(conn, |conn| {
        let pool = pool_store::lock(conn, pool_id)?;
        if amount.currency.code != pool.currency {
            return Err(Error::Internal(
                "hold in another currency than its pool".into(),
            ));
        }
        require_no_deficit(&pool)?;
        if pool.available_minor < amount.minor {
            return Err(super::insufficient_funds(&pool, amount.minor)?);
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
            reference_id: reference_id.map(str::to_owned),
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
    let row = place_row(
        conn,
        actor,
        pool_id.as_str(),
        amount,
        held_for.purpose(),
        held_for.reference_id(),
        note,
    )?;
    let pool = pool_of(conn, &row)?;
    HoldState::of(row, &pool)
}

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
    let rows = split_rows(
        conn,
        actor,
        hold_id.as_str(),
        &amounts,
        purpose,
        &references,
    )?;
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let pool = pool_of(conn, first)?;
    rows.into_iter().map(|r| HoldState::of(r, &pool)).collect()
}

/// Void pending: releases part (`Some`) or all (`None`) of what remains of
/// a hold back to the pool, to its deficit first.
pub fn release(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &HoldId,
    amount: Option<Money>,
) -> Result<HoldState> {
    let row = release_row(conn, actor, hold_id.as_str(), amount.map(|m| m.minor))?;
    let pool = pool_of(conn, &row)?;
    HoldState::of(row, &pool)
}

/// Starts a payout drawn on a hold (posted whole or in part by its
/// outcome, see [`resolve`]); it is shown as the API shows it.
pub fn disburse(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &HoldId,
    amount: Money,
    external_reference: Option<String>,
) -> Result<Disbursement> {
    let row = disburse_row(
        conn,
        actor,
        hold_id.as_str(),
        amount.minor,
        external_reference,
    )?;
    let pool = store::pool(conn, &row.pool_id)?;
    Disbursement::from_row(row, &pool)
}

fn pool_of(conn: &mut DbConnection, hold: &HoldRow) -> Result<PoolRow> {
    store::pool(conn, &hold.pool_id)
}

/// `POST /pools/{id}/holds`: a coordinator reserves money by hand.
pub fn place_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
    input: NewHold,
) -> Result<Hold> {
    let (actor, pool) = load_authorized(conn, principal, pool_id, Permission::ManageHolds)?;
    let amount = super::amount("amount", &input.amount, &pool)?;
    let note = input
        .note
        .as_deref()
        .map(|n| check_text("note", n, 2000))
        .transpose()?;
    let row = place_row(conn, &actor, &pool.id, amount, Purpose::Manual, None, note)?;
    let pool = store::pool(conn, &pool.id)?;
    Hold::from_row(row, &pool)
}

use store::close_if_done;

fn require_remaining(pool: &PoolRow, hold: &HoldRow, amount: i64) -> Result<()> {
    if hold.status()? != HoldStatus::Active || hold.remaining_minor < amount {
        let currency = pool.currency()?;
        return Err(Error::Conflict {
            code: "hold_exceeded",
            message: format!(
                "the hold has {} {} remaining; this needs {}",
                format_minor(hold.remaining_minor, currency),
                currency.code,
                format_minor(amount, currency)
            ),
            extra: Some(json!({
                "remaining": format_minor(hold.remaining_minor, currency),
                "hold_status": hold.status,
            })),
        });
    }
    Ok(())
}

/// Splits part of a hold into smaller holds (a round's reservation becomes
/// one hold per funded request). No money moves between accounts.
fn split_rows(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &str,
    amounts: &[Money],
    purpose: Purpose,
    references: &[Option<String>],
) -> Result<Vec<HoldRow>> {
    write_tx(conn, |conn| {
        let (pool, hold) = lock_hold(conn, hold_id)?;
        let total: i64 = amounts.iter().map(|m| m.minor).sum();
        require_remaining(&pool, &hold, total)?;
        if !store::shift(conn, hold_id, total, Shift::Split, now())? {
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
        close_if_done(conn, hold_id)?;
        audit::record(
            conn,
            actor,
            "hold.split",
            "hold",
            hold_id,
            json!({"amounts_minor": amounts.iter().map(|m| m.minor).collect::<Vec<_>>(),
                   "children": children.iter().map(|c| c.id.clone()).collect::<Vec<_>>()}),
        )?;
        let parent = Hold::from_row(find_hold(conn, hold_id)?, &pool)?;
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
    hold_id: &str,
    input: SplitHold,
) -> Result<Vec<Hold>> {
    let actor = authorize_hold(conn, principal, hold_id, Permission::ManageHolds)?;
    let hold = find_hold(conn, hold_id)?;
    let pool = store::pool(conn, &hold.pool_id)?;
    if input.amounts.is_empty() || input.amounts.len() > 100 {
        return Err(Error::invalid("amounts", "must list 1 to 100 amounts"));
    }
    let amounts = input
        .amounts
        .iter()
        .enumerate()
        .map(|(i, a)| super::amount(&format!("amounts[{i}]"), a, &pool))
        .collect::<Result<Vec<_>>>()?;
    let children = split_rows(conn, &actor, hold_id, &amounts, Purpose::Manual, &[])?;
    children
        .into_iter()
        .map(|c| Hold::from_row(c, &pool))
        .collect()
}

/// Releases part or all of what remains of a hold back to the pool: to its
/// deficit first, if it has one, and the rest to `available`.
fn release_row(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &str,
    amount: Option<i64>,
) -> Result<HoldRow> {
    write_tx(conn, |conn| {
        let (pool, hold) = lock_hold(conn, hold_id)?;
        let amount = amount.unwrap_or(hold.remaining_minor);
        if amount == 0 {
            return Ok(hold);
        }
        require_remaining(&pool, &hold, amount)?;
        if !store::shift(conn, hold_id, amount, Shift::Release, now())? {
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
            &Reference::Hold(hold_id.into()),
            None,
            &[
                (Account::Held, -amount),
                (Account::Deficit, cover),
                (Account::Available, amount - cover),
            ],
        )?;
        close_if_done(conn, hold_id)?;
        audit::record(
            conn,
            actor,
            "hold.released",
            "hold",
            hold_id,
            json!({"amount_minor": amount, "covered_deficit_minor": cover}),
        )?;
        let released = find_hold(conn, hold_id)?;
        let hold = Hold::from_row(released.clone(), &pool)?;
        events::record(conn, &pool.collective_id, EventType::HoldReleased, &hold)?;
        Ok(released)
    })
}

pub fn release_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    hold_id: &str,
    input: ReleaseHold,
) -> Result<Hold> {
    let actor = authorize_hold(conn, principal, hold_id, Permission::ManageHolds)?;
    let hold = find_hold(conn, hold_id)?;
    let pool = store::pool(conn, &hold.pool_id)?;
    let amount = input
        .amount
        .as_deref()
        .map(|a| super::amount("amount", a, &pool).map(|m| m.minor))
        .transpose()?;
    let row = release_row(conn, &actor, hold_id, amount)?;
    Hold::from_row(row, &pool)
}

pub fn get_hold(conn: &mut DbConnection, principal: &Principal, hold_id: &str) -> Result<Hold> {
    authorize_hold(conn, principal, hold_id, Permission::ReadHolds)?;
    let hold = find_hold(conn, hold_id)?;
    let pool = store::pool(conn, &hold.pool_id)?;
    Hold::from_row(hold, &pool)
}

pub fn list_holds(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
    page: &PageRequest,
) -> Result<Page<Hold>> {
    let (_, pool) = load_authorized(conn, principal, pool_id, Permission::ReadHolds)?;
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
    Ok(find_hold(conn, hold_id.as_str())?.pending_minor > 0)
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

/// Starts a payment against a hold: it draws on what remains, so pending
/// payments together never exceed the hold.
fn disburse_row(
    conn: &mut DbConnection,
    actor: &Actor,
    hold_id: &str,
    amount: i64,
    external_reference: Option<String>,
) -> Result<DisbursementRow> {
    write_tx(conn, |conn| {
        let (pool, hold) = lock_hold(conn, hold_id)?;
        require_remaining(&pool, &hold, amount)?;
        if !store::shift(conn, hold_id, amount, Shift::Draw, now())? {
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
            hold_id: hold_id.to_owned(),
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
            json!({"hold_id": hold_id, "amount_minor": amount}),
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
    hold_id: &str,
    input: NewDisbursement,
) -> Result<Disbursement> {
    let actor = authorize_hold(conn, principal, hold_id, Permission::CreateDisbursements)?;
    let hold = find_hold(conn, hold_id)?;
    let pool = store::pool(conn, &hold.pool_id)?;
    let amount = super::amount("amount", &input.amount, &pool)?.minor;
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
    disbursement_id: &str,
    outcome: Outcome,
    external_reference: Option<String>,
    reason: Option<String>,
    reactions: &mut dyn Reactions,
) -> Result<DisbursementRow> {
    write_tx(conn, |conn| {
        let row = find_disbursement(conn, disbursement_id)?;
        let (pool, hold) = lock_hold(conn, &row.hold_id)?;
        let at = now();
        let status = match outcome {
            Outcome::Paid => DisbursementStatus::Paid,
            Outcome::Failed => DisbursementStatus::Failed,
        };
        let resolved = store::resolve_disbursement(
            conn,
            disbursement_id,
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
            let current = find_disbursement(conn, disbursement_id)?;
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
                &Reference::Disbursement(disbursement_id.into()),
                None,
                &[(Account::Held, -amount), (Account::PayoutsOut, amount)],
            )?;
            store::set_disbursement_entry(conn, disbursement_id, entry_id.as_str())?;
            // What the money was for learns that it was paid, in this transaction.
            let payout = PayoutPosted {
                hold_id: hold.id.as_str().into(),
                held_for: HoldFor::of(&hold)?,
                disbursement_id: disbursement_id.into(),
                entry_id,
                amount: Money::new(amount, pool.currency()?),
            };
            reactions.payout_posted(conn, actor, &payout)?;
        }
        close_if_done(conn, &row.hold_id)?;
        audit::record(
            conn,
            actor,
            &format!("disbursement.{}", status.as_str()),
            "disbursement",
            disbursement_id,
            json!({"amount_minor": amount}),
        )?;
        let resolved = find_disbursement(conn, disbursement_id)?;
        let happened = match outcome {
            Outcome::Paid => EventType::DisbursementPaid,
            Outcome::Failed => EventType::DisbursementFailed,
        };
        let disbursement = Disbursement::from_row(resolved.clone(), &pool)?;
        events::record(conn, &pool.collective_id, happened, &disbursement)?;
        Ok(resolved)
    })
}

fn authorize_disbursement(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    permission: Permission,
) -> Result<(Actor, PoolRow, DisbursementRow)> {
    let row = find_disbursement(conn, id)?;
    let (actor, pool) =
        load_authorized(conn, principal, &row.pool_id, permission).map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound {
                what: "disbursement",
            },
            other => other,
        })?;
    Ok((actor, pool, row))
}

pub fn resolve_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
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

pub fn get_disbursement(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<Disbursement> {
    let (_, pool, row) = authorize_disbursement(conn, principal, id, Permission::ReadHolds)?;
    Disbursement::from_row(row, &pool)
}

pub fn list_disbursements(
    conn: &mut DbConnection,
    principal: &Principal,
    hold_id: &str,
    page: &PageRequest,
) -> Result<Page<Disbursement>> {
    authorize_hold(conn, principal, hold_id, Permission::ReadHolds)?;
    let hold = find_hold(conn, hold_id)?;
    let pool = store::pool(conn, &hold.pool_id)?;
    store::disbursements_of_hold(conn, hold_id, Some(page))?
        .try_map(|r| Disbursement::from_row(r, &pool))
}
