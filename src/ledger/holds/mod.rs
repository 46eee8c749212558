//! Holds and disbursements: the one mechanism that request approvals and
//! budgeting rounds use to reserve and pay out money.
//!
//! A hold takes money from `available` into `held`. Its amount is always
//! accounted for as remaining + pending + paid + released + split (a
//! database CHECK says so too). A pending disbursement draws on the
//! remainder, so pending ones together never exceed the hold; `paid` moves
//! the money out of the pool; `failed` returns its part to the remainder.
//!
//! One file per transfer kind, as TigerBeetle names them:
//! * [`place`] — a pending transfer: a hold on available money;
//! * [`split`] — part of a hold moved into smaller holds (no money moves);
//! * [`post`] — post pending: a payout drawn on a hold, posted whole or in
//!   part by its outcome (or returned to the hold when it failed);
//! * [`void`] — void pending: what remains of a hold released to the pool;
//! * [`rows`] reads stored rows into the typed values and API shapes, and
//!   [`read`] answers the queries; this file has the shapes and the locking
//!   and authorization every kind shares.

mod place;
mod post;
mod read;
mod rows;
mod split;
mod void;

pub use place::{place, place_manual};
pub use post::{disburse, disburse_manual, resolve_manual};
pub use read::{
    disbursements_of, get_disbursement, get_hold, has_pending, held_for_in_pool,
    list_disbursements, list_holds, paid_payouts, PaidPayout,
};
pub use split::{split, split_manual};
pub use void::{release, release_manual};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::store::{self, DisbursementRow, HoldRow};
use crate::auth::access::{Actor, Principal};
use crate::auth::policy::Permission;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ids::{DisbursementId, HoldId, RequestId, RoundId};
use crate::money::{format_minor, Money};
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

/// Locks the pool and then the hold, and reads the hold fresh.
fn lock_hold(conn: &mut DbConnection, hold_id: &HoldId) -> Result<(PoolRow, HoldRow)> {
    let hold = store::find_hold(conn, hold_id.as_str())?;
    let pool = pool_store::lock(conn, &hold.pool_id)?;
    Ok((pool, store::lock_hold(conn, hold_id.as_str())?))
}

fn authorize_hold(
    conn: &mut DbConnection,
    principal: &Principal,
    hold_id: &HoldId,
    permission: Permission,
) -> Result<Actor> {
    let hold = store::find_hold(conn, hold_id.as_str())?;
    load_authorized(conn, principal, &hold.pool_id, permission)
        .map(|(actor, _)| actor)
        .map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound { what: "hold" },
            other => other,
        })
}

fn authorize_disbursement(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &DisbursementId,
    permission: Permission,
) -> Result<(Actor, PoolRow, DisbursementRow)> {
    let row = store::find_disbursement(conn, id.as_str())?;
    let (actor, pool) =
        load_authorized(conn, principal, &row.pool_id, permission).map_err(|e| match e {
            Error::NotFound { .. } => Error::NotFound {
                what: "disbursement",
            },
            other => other,
        })?;
    Ok((actor, pool, row))
}

fn pool_of(conn: &mut DbConnection, hold: &HoldRow) -> Result<PoolRow> {
    store::pool(conn, &hold.pool_id)
}

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
