//! Reports: a pool's statement for a period (JSON or CSV), and its public
//! summary. Both read the ledger; neither writes anything.
//!
//! The balance a statement reports is the pool's money: `available + held
//! − deficit` — what the pool holds, less what refunds of spent money left
//! it owing. Holds move money inside the pool (available → held), so they
//! are listed, and totalled, but do not change that balance; contributions,
//! fees, refunds and payouts do.

pub mod disclosure;
pub mod http;
pub mod statement;
pub mod summary;

use crate::ledger::Account;

/// What one entry's postings mean for the pool, in minor units.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flows {
    /// Received from outside (gross contributions).
    pub received: i64,
    /// Given back to contributors (refunds, chargebacks, reversals).
    pub returned: i64,
    /// Paid out to requests.
    pub paid_out: i64,
    /// Processor fees (negative when a reversal returns one).
    pub fees: i64,
    /// Change of the `held` account.
    pub held: i64,
    /// Change of the pool's money: received − returned − paid out − fees.
    pub change: i64,
}

impl Flows {
    pub fn of(postings: &[(Account, i64)]) -> Self {
        let mut f = Self::default();
        for &(account, amount) in postings {
            match account {
                Account::ContributionsIn if amount < 0 => f.received -= amount,
                Account::ContributionsIn => f.returned += amount,
                Account::PayoutsOut => f.paid_out += amount,
                Account::Fees => f.fees += amount,
                Account::Held => f.held += amount,
                Account::Available | Account::Deficit => {}
            }
            if matches!(
                account,
                Account::Available | Account::Held | Account::Deficit
            ) {
                f.change += amount;
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_reconcile_with_the_postings() {
        // A contribution of 100 with a fee of 3.
        let f = Flows::of(&[
            (Account::ContributionsIn, -100),
            (Account::Fees, 3),
            (Account::Available, 97),
        ]);
        assert_eq!((f.received, f.fees, f.change), (100, 3, 97));
        assert_eq!(f.change, f.received - f.returned - f.paid_out - f.fees);
        // A hold moves money inside the pool.
        let f = Flows::of(&[(Account::Available, -40), (Account::Held, 40)]);
        assert_eq!((f.held, f.change), (40, 0));
        // A payout from a hold.
        let f = Flows::of(&[(Account::Held, -40), (Account::PayoutsOut, 40)]);
        assert_eq!((f.paid_out, f.held, f.change), (40, -40, -40));
        // A refund larger than what is available leaves a deficit.
        let f = Flows::of(&[
            (Account::Available, -20),
            (Account::Deficit, -30),
            (Account::ContributionsIn, 50),
        ]);
        assert_eq!((f.returned, f.change), (50, -50));
    }
}
