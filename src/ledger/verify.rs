//! `commonpot verify`: recompute the ledger's balances from its postings and
//! check the invariants that the stored rows can show. Reads only; reports
//! every violation (the first [`MAX_REPORTED`], and how many more).
//!
//! What it checks (SPEC §3's numbering):
//! 1. every entry has postings and they sum to zero; every posting is in its
//!    pool's currency and names a known account; no posting belongs to no
//!    entry;
//! 2. an entry is reversed at most once;
//! 3. no pool balance (`available`, `held`, `deficit`) is negative;
//! 4. every hold's parts (remaining, pending, paid, released, split) sum to
//!    its amount; its split part equals what its child holds hold; its paid
//!    and pending parts equal its disbursements in those states; a paid
//!    disbursement has its ledger entry;
//! 6. every balance a pool shows equals the sum of its postings, and its
//!    `held` equals what its holds reserve.
//!
//! What it does not check: that entries were never updated or deleted (the
//! second half of invariant 2 — one snapshot holds no history to compare
//! with; the schema offers no update path and the service has none), and
//! idempotency (invariant 5 — a property of how requests are answered,
//! checked by the test suite, not something stored rows show).
//!
//! It reads one consistent snapshot ([`crate::db::read_snapshot`]), so a
//! database being written meanwhile shows no false violation, and it pages
//! through each table by key: time linear in the ledger's size, memory
//! bounded by the page size.

use std::collections::HashMap;

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::holds::DisbursementStatus;
use super::store::HoldRow;
use super::Account;
use crate::db::schema::{disbursements, holds, ledger_entries, ledger_postings, pools};
use crate::db::DbConnection;
use crate::error::Result;
use crate::pools::store::PoolRow;

/// Rows read per query.
const PAGE: i64 = 500;
/// Violations listed in full; beyond these, only counted.
pub const MAX_REPORTED: usize = 1000;

#[derive(Debug, Default)]
pub struct Report {
    pub pools: usize,
    pub entries: usize,
    pub postings: usize,
    pub holds: usize,
    pub violations: Vec<String>,
    /// Violations found beyond the first [`MAX_REPORTED`].
    pub omitted: usize,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty() && self.omitted == 0
    }

    /// How many violations were found in all.
    pub fn violation_count(&self) -> usize {
        self.violations.len() + self.omitted
    }

    fn fail(&mut self, message: String) {
        if self.violations.len() < MAX_REPORTED {
            self.violations.push(message);
        } else {
            self.omitted += 1;
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checked {} pools, {} entries, {} postings, {} holds",
            self.pools, self.entries, self.postings, self.holds
        )?;
        if self.is_clean() {
            write!(f, "all ledger invariants hold")
        } else {
            writeln!(f, "{} violation(s):", self.violation_count())?;
            for v in &self.violations {
                writeln!(f, "  - {v}")?;
            }
            if self.omitted > 0 {
                writeln!(f, "  … and {} more", self.omitted)?;
            }
            Ok(())
        }
    }
}

/// Checks the ledger on one consistent snapshot of the database (see the
/// module's documentation for exactly what is checked).
pub fn verify(conn: &mut DbConnection) -> Result<Report> {
    crate::db::read_snapshot(conn, |conn| {
        let mut report = Report::default();
        check_pools(conn, &mut report)?;
        check_entries(conn, &mut report)?;
        check_holds(conn, &mut report)?;
        check_paid_disbursements(conn, &mut report)?;
        Ok(report)
    })
}

/// Sums of a column, as BIGINT on both databases (PostgreSQL's SUM of a
/// BIGINT is NUMERIC).
fn sum_of(expression: &str) -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>(&format!("CAST(COALESCE(SUM({expression}), 0) AS BIGINT)"))
}

/// Invariants 3 and 6, and the currency and account of every posting.
/// Each balance a pool shows, beside what its postings say it should be.
/// This is the checker's own reading of the accounts, written apart from
/// the writer's (`BalanceDelta::of`), so that a mistake in either shows as
/// a disagreement: sum each account (debits and credits apart), then read
/// the columns from the sums.
fn balances(pool: &PoolRow, postings: &[(Account, i64)]) -> [(&'static str, i64, i64); 7] {
    let sum = |wanted: Account, sign: fn(i64) -> bool| -> i64 {
        postings
            .iter()
            .filter(|(account, amount)| *account == wanted && sign(*amount))
            .map(|(_, amount)| amount)
            .sum()
    };
    let any = |_: i64| true;
    [
        (
            "available",
            pool.available_minor,
            sum(Account::Available, any),
        ),
        ("held", pool.held_minor, sum(Account::Held, any)),
        // The deficit account is negative while the pool owes; the column
        // shows what it owes.
        ("deficit", pool.deficit_minor, -sum(Account::Deficit, any)),
        // Money from the world is a credit to `contributions_in`; money
        // given back to it, a debit.
        (
            "received",
            pool.received_minor,
            -sum(Account::ContributionsIn, |a| a < 0),
        ),
        (
            "refunded",
            pool.refunded_minor,
            sum(Account::ContributionsIn, |a| a > 0),
        ),
        ("fees", pool.fees_minor, sum(Account::Fees, any)),
        ("paid", pool.paid_minor, sum(Account::PayoutsOut, any)),
    ]
}

fn check_pools(conn: &mut DbConnection, report: &mut Report) -> Result<()> {
    let mut after = String::new();
    loop {
        let page: Vec<PoolRow> = pools::table
            .filter(pools::id.gt(&after))
            .order(pools::id)
            .limit(PAGE)
            .select(PoolRow::as_select())
            .load(conn)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.id.clone();
        report.pools += page.len();
        let ids: Vec<&str> = page.iter().map(|p| p.id.as_str()).collect();
        // Debits and credits apart: how a posting moves a balance may depend
        // on its sign.
        let sums: Vec<(String, String, String, i64, i64)> = ledger_postings::table
            .filter(ledger_postings::pool_id.eq_any(&ids))
            .group_by((
                ledger_postings::pool_id,
                ledger_postings::account,
                ledger_postings::currency,
            ))
            .select((
                ledger_postings::pool_id,
                ledger_postings::account,
                ledger_postings::currency,
                sum_of("CASE WHEN amount_minor < 0 THEN amount_minor ELSE 0 END"),
                sum_of("CASE WHEN amount_minor > 0 THEN amount_minor ELSE 0 END"),
            ))
            .load(conn)?;
        let reserved: HashMap<String, i64> = holds::table
            .filter(holds::pool_id.eq_any(&ids))
            .group_by(holds::pool_id)
            .select((holds::pool_id, sum_of("remaining_minor + pending_minor")))
            .load::<(String, i64)>(conn)?
            .into_iter()
            .collect();
        let mut movements: HashMap<&str, Vec<(Account, i64)>> = HashMap::new();
        let currency_of: HashMap<&str, &str> = page
            .iter()
            .map(|p| (p.id.as_str(), p.currency.as_str()))
            .collect();
        for (pool, account, currency, debits, credits) in &sums {
            if currency_of.get(pool.as_str()) != Some(&currency.as_str()) {
                report.fail(format!(
                    "pool {pool} has postings in {currency}, not its currency"
                ));
            }
            match Account::parse(account) {
                Some(account) => movements
                    .entry(pool.as_str())
                    .or_default()
                    .extend([(account, *debits), (account, *credits)]),
                None => report.fail(format!(
                    "pool {pool} has postings to an unknown account {account}"
                )),
            }
        }
        for pool in &page {
            let postings = movements
                .get(pool.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (name, cached, from_postings) in balances(pool, postings) {
                if cached != from_postings {
                    report.fail(format!(
                        "pool {}: {name} shows {cached} but its postings sum to {from_postings}",
                        pool.id
                    ));
                }
            }
            if pool.available_minor < 0 || pool.held_minor < 0 || pool.deficit_minor < 0 {
                report.fail(format!("pool {} has a negative balance", pool.id));
            }
            let held_by_holds = reserved.get(&pool.id).copied().unwrap_or(0);
            if held_by_holds != pool.held_minor {
                report.fail(format!(
                    "pool {}: held is {} but its holds reserve {held_by_holds}",
                    pool.id, pool.held_minor
                ));
            }
        }
    }
}

/// Invariants 1 and 2: entries balance, have postings, are reversed at most
/// once; no posting is outside an entry.
fn check_entries(conn: &mut DbConnection, report: &mut Report) -> Result<()> {
    let postings: i64 = ledger_postings::table.count().get_result(conn)?;
    report.postings = usize::try_from(postings).unwrap_or(usize::MAX);
    let mut in_entries: i64 = 0;
    let mut after = String::new();
    loop {
        let ids: Vec<String> = ledger_entries::table
            .filter(ledger_entries::id.gt(&after))
            .order(ledger_entries::id)
            .limit(PAGE)
            .select(ledger_entries::id)
            .load(conn)?;
        let Some(last) = ids.last() else {
            break;
        };
        after = last.clone();
        report.entries += ids.len();
        let sums: HashMap<String, (i64, i64)> = ledger_postings::table
            .filter(ledger_postings::entry_id.eq_any(&ids))
            .group_by(ledger_postings::entry_id)
            .select((
                ledger_postings::entry_id,
                sum_of("amount_minor"),
                count_star(),
            ))
            .load::<(String, i64, i64)>(conn)?
            .into_iter()
            .map(|(entry, sum, count)| (entry, (sum, count)))
            .collect();
        for id in &ids {
            match sums.get(id) {
                None => report.fail(format!("entry {id} has no postings")),
                Some((sum, count)) => {
                    in_entries += count;
                    if *sum != 0 {
                        report.fail(format!(
                            "entry {id} does not balance: postings sum to {sum}"
                        ));
                    }
                }
            }
        }
        let reversed: Vec<(Option<String>, i64)> = ledger_entries::table
            .filter(ledger_entries::reverses_entry_id.eq_any(&ids))
            .group_by(ledger_entries::reverses_entry_id)
            .select((ledger_entries::reverses_entry_id, count_star()))
            .load(conn)?;
        for (entry, count) in reversed {
            if count > 1 {
                report.fail(format!(
                    "entry {} is reversed {count} times",
                    entry.unwrap_or_default()
                ));
            }
        }
    }
    if in_entries != postings {
        report.fail(format!(
            "{} posting(s) belong to no entry",
            postings - in_entries
        ));
    }
    Ok(())
}

/// Invariant 4: holds resolve at most for their amount, and agree with their
/// children and disbursements.
fn check_holds(conn: &mut DbConnection, report: &mut Report) -> Result<()> {
    let mut after = String::new();
    loop {
        let page: Vec<HoldRow> = holds::table
            .filter(holds::id.gt(&after))
            .order(holds::id)
            .limit(PAGE)
            .select(HoldRow::as_select())
            .load(conn)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.id.clone();
        report.holds += page.len();
        let ids: Vec<&str> = page.iter().map(|h| h.id.as_str()).collect();
        let children: HashMap<String, i64> = holds::table
            .filter(holds::parent_hold_id.eq_any(&ids))
            .group_by(holds::parent_hold_id)
            .select((holds::parent_hold_id, sum_of("amount_minor")))
            .load::<(Option<String>, i64)>(conn)?
            .into_iter()
            .filter_map(|(parent, sum)| parent.map(|p| (p, sum)))
            .collect();
        let drawn: HashMap<(String, String), i64> = disbursements::table
            .filter(disbursements::hold_id.eq_any(&ids))
            .group_by((disbursements::hold_id, disbursements::status))
            .select((
                disbursements::hold_id,
                disbursements::status,
                sum_of("amount_minor"),
            ))
            .load::<(String, String, i64)>(conn)?
            .into_iter()
            .map(|(hold, status, sum)| ((hold, status), sum))
            .collect();
        for hold in &page {
            let parts = hold.remaining_minor
                + hold.pending_minor
                + hold.paid_minor
                + hold.released_minor
                + hold.split_minor;
            if parts != hold.amount_minor {
                report.fail(format!(
                    "hold {}: parts sum to {parts}, amount is {}",
                    hold.id, hold.amount_minor
                ));
            }
            let split = children.get(&hold.id).copied().unwrap_or(0);
            if split != hold.split_minor {
                report.fail(format!(
                    "hold {}: split {} but its children hold {split}",
                    hold.id, hold.split_minor
                ));
            }
            let sum = |status: DisbursementStatus| {
                drawn
                    .get(&(hold.id.clone(), status.as_str().to_owned()))
                    .copied()
                    .unwrap_or(0)
            };
            if sum(DisbursementStatus::Paid) != hold.paid_minor
                || sum(DisbursementStatus::Pending) != hold.pending_minor
            {
                report.fail(format!(
                    "hold {}: paid or pending disagree with its disbursements",
                    hold.id
                ));
            }
        }
    }
}

/// A paid disbursement has the ledger entry that paid it.
fn check_paid_disbursements(conn: &mut DbConnection, report: &mut Report) -> Result<()> {
    let mut after = String::new();
    loop {
        let ids: Vec<String> = disbursements::table
            .filter(disbursements::status.eq(DisbursementStatus::Paid.as_str()))
            .filter(disbursements::entry_id.is_null())
            .filter(disbursements::id.gt(&after))
            .order(disbursements::id)
            .limit(PAGE)
            .select(disbursements::id)
            .load(conn)?;
        let Some(last) = ids.last() else {
            return Ok(());
        };
        after = last.clone();
        for id in ids {
            report.fail(format!("disbursement {id} is paid without a ledger entry"));
        }
    }
}
