//! `commonpot verify`: recompute every balance from the postings and check
//! every invariant of the ledger. Reads only; reports every violation.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;

use super::{Account, BalanceDelta};
use crate::db::schema::{disbursements, holds, ledger_entries, ledger_postings, pools};
use crate::db::DbConnection;
use crate::error::Result;
use crate::ledger::holds::{DisbursementRow, DisbursementStatus, HoldRow};
use crate::pools::store::PoolRow;

#[derive(Debug, Default)]
pub struct Report {
    pub pools: usize,
    pub entries: usize,
    pub postings: usize,
    pub holds: usize,
    pub violations: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "checked {} pools, {} entries, {} postings, {} holds",
            self.pools, self.entries, self.postings, self.holds
        )?;
        if self.violations.is_empty() {
            write!(f, "all ledger invariants hold")
        } else {
            writeln!(f, "{} violation(s):", self.violations.len())?;
            for v in &self.violations {
                writeln!(f, "  - {v}")?;
            }
            Ok(())
        }
    }
}

pub fn verify(conn: &mut DbConnection) -> Result<Report> {
    let mut report = Report::default();
    let fail = |report: &mut Report, message: String| report.violations.push(message);

    let pools: Vec<PoolRow> = pools::table.select(PoolRow::as_select()).load(conn)?;
    let entries: Vec<(String, String, Option<String>)> = ledger_entries::table
        .select((
            ledger_entries::id,
            ledger_entries::pool_id,
            ledger_entries::reverses_entry_id,
        ))
        .load(conn)?;
    let postings: Vec<(String, String, String, i64, String)> = ledger_postings::table
        .select((
            ledger_postings::entry_id,
            ledger_postings::pool_id,
            ledger_postings::account,
            ledger_postings::amount_minor,
            ledger_postings::currency,
        ))
        .load(conn)?;
    let holds: Vec<HoldRow> = holds::table.select(HoldRow::as_select()).load(conn)?;
    let disbursements: Vec<DisbursementRow> = disbursements::table
        .select(DisbursementRow::as_select())
        .load(conn)?;
    report.pools = pools.len();
    report.entries = entries.len();
    report.postings = postings.len();
    report.holds = holds.len();

    // 1. Every entry balances, in its pool's currency.
    let currency_of: HashMap<&str, &str> = pools
        .iter()
        .map(|p| (p.id.as_str(), p.currency.as_str()))
        .collect();
    let mut sums: HashMap<&str, (i128, usize)> = HashMap::new();
    for (entry, pool, account, amount, currency) in &postings {
        let slot = sums.entry(entry.as_str()).or_default();
        slot.0 += i128::from(*amount);
        slot.1 += 1;
        if currency_of.get(pool.as_str()) != Some(&currency.as_str()) {
            fail(
                &mut report,
                format!("posting of entry {entry} is in {currency}, not its pool's currency"),
            );
        }
        if Account::parse(account).is_none() {
            fail(
                &mut report,
                format!("posting of entry {entry} names an unknown account {account}"),
            );
        }
    }
    for (id, _, _) in &entries {
        match sums.get(id.as_str()) {
            None => fail(&mut report, format!("entry {id} has no postings")),
            Some((sum, _)) if *sum != 0 => fail(
                &mut report,
                format!("entry {id} does not balance: postings sum to {sum}"),
            ),
            _ => {}
        }
    }

    // 2. An entry is reversed at most once.
    let mut reversals: HashMap<&str, usize> = HashMap::new();
    for (_, _, reverses) in &entries {
        if let Some(r) = reverses {
            *reversals.entry(r.as_str()).or_default() += 1;
        }
    }
    for (entry, count) in reversals.into_iter().filter(|(_, c)| *c > 1) {
        fail(
            &mut report,
            format!("entry {entry} is reversed {count} times"),
        );
    }

    // 3 and 6. Balances are never negative and equal the postings.
    let mut per_pool: BTreeMap<&str, Vec<(Account, i64)>> = BTreeMap::new();
    for (_, pool, account, amount, _) in &postings {
        if let Some(account) = Account::parse(account) {
            per_pool
                .entry(pool.as_str())
                .or_default()
                .push((account, *amount));
        }
    }
    for pool in &pools {
        let d = BalanceDelta::of(
            per_pool
                .get(pool.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default(),
        );
        let shown = [
            ("available", pool.available_minor, d.available),
            ("held", pool.held_minor, d.held),
            ("deficit", pool.deficit_minor, d.deficit),
            ("received", pool.received_minor, d.received),
            ("refunded", pool.refunded_minor, d.refunded),
            ("fees", pool.fees_minor, d.fees),
            ("paid", pool.paid_minor, d.paid),
        ];
        for (name, cached, from_postings) in shown {
            if cached != from_postings {
                fail(
                    &mut report,
                    format!(
                        "pool {}: {name} shows {cached} but its postings sum to {from_postings}",
                        pool.id
                    ),
                );
            }
        }
        if pool.available_minor < 0 || pool.held_minor < 0 || pool.deficit_minor < 0 {
            fail(
                &mut report,
                format!("pool {} has a negative balance", pool.id),
            );
        }
        let held_by_holds: i64 = holds
            .iter()
            .filter(|h| h.pool_id == pool.id)
            .map(|h| h.remaining_minor + h.pending_minor)
            .sum();
        if held_by_holds != pool.held_minor {
            fail(
                &mut report,
                format!(
                    "pool {}: held is {} but its holds reserve {held_by_holds}",
                    pool.id, pool.held_minor
                ),
            );
        }
    }

    // 4. Holds are resolved at most for their amount.
    for hold in &holds {
        let parts = hold.remaining_minor
            + hold.pending_minor
            + hold.paid_minor
            + hold.released_minor
            + hold.split_minor;
        if parts != hold.amount_minor {
            fail(
                &mut report,
                format!(
                    "hold {}: parts sum to {parts}, amount is {}",
                    hold.id, hold.amount_minor
                ),
            );
        }
        let children: i64 = holds
            .iter()
            .filter(|c| c.parent_hold_id.as_deref() == Some(hold.id.as_str()))
            .map(|c| c.amount_minor)
            .sum();
        if children != hold.split_minor {
            fail(
                &mut report,
                format!(
                    "hold {}: split {} but its children hold {children}",
                    hold.id, hold.split_minor
                ),
            );
        }
        let sum_of = |status: DisbursementStatus| -> i64 {
            disbursements
                .iter()
                .filter(|d| d.hold_id == hold.id && d.status == status.as_str())
                .map(|d| d.amount_minor)
                .sum()
        };
        if sum_of(DisbursementStatus::Paid) != hold.paid_minor
            || sum_of(DisbursementStatus::Pending) != hold.pending_minor
        {
            fail(
                &mut report,
                format!(
                    "hold {}: paid or pending disagree with its disbursements",
                    hold.id
                ),
            );
        }
    }
    for d in disbursements
        .iter()
        .filter(|d| d.status == DisbursementStatus::Paid.as_str() && d.entry_id.is_none())
    {
        fail(
            &mut report,
            format!("disbursement {} is paid without a ledger entry", d.id),
        );
    }
    Ok(report)
}
