//! Reading stored holds and disbursements: statuses and purposes through
//! one checked function each, and rows into the typed values the areas
//! built on the ledger keep and the shapes the API shows.

use super::{Disbursement, DisbursementStatus, Hold, HoldFor, HoldState, HoldStatus, Purpose};
use crate::error::{known, Error, Result};
use crate::ids::utc;
use crate::ledger::store::{DisbursementRow, HoldRow};
use crate::money::{format_minor, Money};
use crate::pools::store::PoolRow;

impl HoldFor {
    /// Read from a stored hold, through its checked purpose.
    pub(super) fn of(row: &HoldRow) -> Result<Self> {
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

impl HoldState {
    pub(super) fn of(row: HoldRow, pool: &PoolRow) -> Result<Self> {
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

impl HoldRow {
    pub(super) fn status(&self) -> Result<HoldStatus> {
        known(
            HoldStatus::parse(&self.status),
            "hold",
            &self.id,
            &self.status,
        )
    }

    pub(super) fn purpose(&self) -> Result<Purpose> {
        known(
            Purpose::parse(&self.purpose),
            "hold",
            &self.id,
            &self.purpose,
        )
    }
}

impl DisbursementRow {
    pub(super) fn status(&self) -> Result<DisbursementStatus> {
        let parsed = DisbursementStatus::parse(&self.status);
        known(parsed, "disbursement", &self.id, &self.status)
    }
}

impl Hold {
    pub(super) fn from_row(row: HoldRow, pool: &PoolRow) -> Result<Self> {
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

impl Disbursement {
    pub(super) fn from_row(row: DisbursementRow, pool: &PoolRow) -> Result<Self> {
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
