//! What the ledger tells the areas built on it. The ledger moves money and
//! knows nothing of requests or pledges; when a movement concerns one of
//! them it hands a fact to the [`Reactions`] its caller passed in, at the
//! point in the transaction where the fact is true, and the area reacts in
//! the same transaction (a refusal undoes the movement too). The one
//! implementation wires requests and pledges: `crate::flows`.

use crate::auth::access::Actor;
use crate::db::DbConnection;
use crate::error::Result;
use crate::ids::{ContributionId, DisbursementId, EntryId, HoldId, PledgeId};
use crate::money::Money;
use crate::pools::store::PoolRow;

use super::contributions::Contributor;
use super::holds::HoldFor;

/// A payout from a hold was posted: the money left the pool.
#[derive(Debug, Clone)]
pub struct PayoutPosted {
    pub hold_id: HoldId,
    /// What the hold reserved the money for, as it was placed.
    pub held_for: HoldFor,
    pub disbursement_id: DisbursementId,
    pub entry_id: EntryId,
    pub amount: Money,
}

/// A contribution received money for a pledge.
#[derive(Debug, Clone)]
pub struct PledgePaid {
    pub pledge_id: PledgeId,
    pub contribution_id: ContributionId,
    /// What the contributor paid (the fee is the pool's cost, not theirs).
    pub gross: Money,
}

/// Money a contribution paid on a pledge goes back (refund, chargeback,
/// reversal): at most `amount` of the pledge's credit is taken back.
#[derive(Debug, Clone)]
pub struct PledgeTakenBack {
    pub pledge_id: PledgeId,
    pub contribution_id: ContributionId,
    pub amount: Money,
}

/// How the areas built on the ledger react to what it did, inside its
/// transaction.
pub trait Reactions {
    /// Before any money moves: a contribution names a pledge. Checks that
    /// money for `pool` may pay it, locks it, and says who pledged (the
    /// contributor unless another is given).
    fn pledge_named(
        &mut self,
        conn: &mut DbConnection,
        pool: &PoolRow,
        pledge_id: &PledgeId,
    ) -> Result<Contributor>;

    /// Money came in for a pledge named before; returns how much of it the
    /// pledge took (at most what it still expects).
    fn pledge_paid(
        &mut self,
        conn: &mut DbConnection,
        actor: &Actor,
        paid: &PledgePaid,
    ) -> Result<Money>;

    /// Money paid on a pledge went back; returns how much of the pledge's
    /// credit was taken back.
    fn pledge_taken_back(
        &mut self,
        conn: &mut DbConnection,
        actor: &Actor,
        taken: &PledgeTakenBack,
    ) -> Result<Money>;

    /// A payout from a hold was posted.
    fn payout_posted(
        &mut self,
        conn: &mut DbConnection,
        actor: &Actor,
        payout: &PayoutPosted,
    ) -> Result<()>;
}
