//! Money movements that other areas react to. The ledger moves the money
//! and hands each fact to [`Wired`], which lets pledges and requests react
//! in the same transaction: a contribution pays a pledge's installments
//! (and its refund or reversal takes that back); a posted payout pays a
//! request. The ledger knows none of them; this is the one place that
//! knows both sides.

pub mod http;

use crate::auth::access::{Actor, Principal};
use crate::db::DbConnection;
use crate::error::Result;
use crate::ids::{ContributionId, DisbursementId, EntryId, PledgeId, PoolId};
use crate::ledger::contributions::{self, Contribution, Contributor, NewContribution, NewRefund};
use crate::ledger::facts::{PayoutPosted, PledgePaid, PledgeTakenBack, Reactions};
use crate::ledger::holds::{self, Disbursement, DisbursementOutcome};
use crate::ledger::Entry;
use crate::money::Money;
use crate::pledges::store::PledgeRow;
use crate::pools::store::PoolRow;

/// The reactions of pledges and requests to the ledger's facts.
#[derive(Default)]
pub struct Wired {
    /// The pledge a contribution named, locked until its money is applied.
    pledge: Option<PledgeRow>,
}

impl Reactions for Wired {
    fn pledge_named(
        &mut self,
        conn: &mut DbConnection,
        pool: &PoolRow,
        pledge_id: &PledgeId,
    ) -> Result<Contributor> {
        let pledge = crate::pledges::payments::lock_for_payment(conn, pool, pledge_id.as_str())?;
        let pledger = Contributor {
            member_id: pledge.member_id.clone(),
            donor_name: pledge.donor_name.clone(),
            donor_email: pledge.donor_email.clone(),
            anonymous: pledge.anonymous,
        };
        self.pledge = Some(pledge);
        Ok(pledger)
    }

    fn pledge_paid(
        &mut self,
        conn: &mut DbConnection,
        actor: &Actor,
        paid: &PledgePaid,
    ) -> Result<Money> {
        let pledge = match self.pledge.take() {
            Some(pledge) if pledge.id == paid.pledge_id.as_str() => pledge,
            _ => crate::pledges::store::lock(conn, paid.pledge_id.as_str())?,
        };
        let applied = crate::pledges::payments::apply_payment(
            conn,
            actor,
            pledge,
            paid.contribution_id.as_str(),
            paid.gross.minor,
        )?;
        Ok(Money::new(applied, paid.gross.currency))
    }

    fn pledge_taken_back(
        &mut self,
        conn: &mut DbConnection,
        actor: &Actor,
        taken: &PledgeTakenBack,
    ) -> Result<Money> {
        let back = crate::pledges::payments::take_back_payment(
            conn,
            actor,
            taken.pledge_id.as_str(),
            taken.contribution_id.as_str(),
            taken.amount.minor,
        )?;
        Ok(Money::new(back, taken.amount.currency))
    }

    fn payout_posted(
        &mut self,
        conn: &mut DbConnection,
        actor: &Actor,
        payout: &PayoutPosted,
    ) -> Result<()> {
        crate::requests::service::payment_settled(conn, actor, payout)
    }
}

/// Records money received; a named pledge is paid from it.
pub fn record_contribution(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &PoolId,
    input: NewContribution,
) -> Result<Contribution> {
    contributions::record_contribution(conn, principal, pool_id, input, &mut Wired::default())
}

/// Refunds or charges back a contribution; what it paid on a pledge is
/// taken back where the money kept no longer covers it.
pub fn refund(
    conn: &mut DbConnection,
    principal: &Principal,
    contribution_id: &ContributionId,
    input: NewRefund,
) -> Result<Contribution> {
    contributions::refund(
        conn,
        principal,
        contribution_id,
        input,
        &mut Wired::default(),
    )
}

/// Reverses a contribution recorded by mistake, and what it paid on a
/// pledge.
pub fn reverse_entry(
    conn: &mut DbConnection,
    principal: &Principal,
    entry_id: &EntryId,
    reason: Option<String>,
) -> Result<Entry> {
    contributions::reverse_entry(conn, principal, entry_id, reason, &mut Wired::default())
}

/// Records a payout's outcome; a paid one pays the request it was for.
pub fn resolve_manual(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &DisbursementId,
    input: DisbursementOutcome,
) -> Result<Disbursement> {
    holds::resolve_manual(conn, principal, id, input, &mut Wired::default())
}
