//! Where money moves. Every movement is a journal entry of balanced postings
//! in integer minor units, written together with the pool's balance cache in
//! one transaction; entries are never changed or deleted (database triggers
//! refuse it), and a mistake is corrected by a reversing entry.
//!
//! The invariants, each checked by `commonpot verify` and by tests:
//! 1. in every entry, debits equal credits;
//! 2. entries are never updated or deleted, and reversed at most once;
//! 3. a pool's available balance never goes below zero;
//! 4. a hold is resolved (paid, released, split) at most for its amount;
//! 5. a retried request with the same `Idempotency-Key` moves no more money;
//! 6. balances shown equal the sum of the postings.
//!
//! Accounts per pool: `available` and `held` (the pool's money), `deficit`
//! (what refunds of spent money left it owing, a negative balance), and the
//! outside world: `contributions_in`, `payouts_out`, `fees`.

pub mod contributions;
pub mod facts;
pub mod holds;
pub mod http;
pub mod verify;
#[cfg(test)]
mod verify_is_independent;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{ledger_entries, ledger_postings, pools};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ids::{new_id, now, utc};
use crate::money::{format_minor, Currency, Money, MAX_TOTAL_MINOR};
use crate::pagination::{Page, PageRequest};
use crate::pools::store::PoolRow;

/// An account of a pool's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    Available,
    Held,
    Deficit,
    ContributionsIn,
    PayoutsOut,
    Fees,
}

impl Account {
    pub const ALL: [Account; 6] = [
        Account::Available,
        Account::Held,
        Account::Deficit,
        Account::ContributionsIn,
        Account::PayoutsOut,
        Account::Fees,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Held => "held",
            Self::Deficit => "deficit",
            Self::ContributionsIn => "contributions_in",
            Self::PayoutsOut => "payouts_out",
            Self::Fees => "fees",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Contribution,
    Refund,
    Chargeback,
    Hold,
    Release,
    Disbursement,
    Reversal,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contribution => "contribution",
            Self::Refund => "refund",
            Self::Chargeback => "chargeback",
            Self::Hold => "hold",
            Self::Release => "release",
            Self::Disbursement => "disbursement",
            Self::Reversal => "reversal",
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Set by a test to make the writer's mapping wrong on purpose (fees
    /// counted as paid out), to see `verify` catch it.
    pub(crate) static MISMAPPED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How the pool's cached balances change with a set of postings. Amounts in
/// the `deficit` account are negative (the pool owes), so the shown deficit
/// is the negated balance; world accounts accumulate what came in and out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BalanceDelta {
    pub available: i64,
    pub held: i64,
    pub deficit: i64,
    pub received: i64,
    pub refunded: i64,
    pub fees: i64,
    pub paid: i64,
}

impl BalanceDelta {
    pub fn of(postings: &[(Account, i64)]) -> Self {
        let mut d = Self::default();
        for &(account, amount) in postings {
            match account {
                Account::Available => d.available += amount,
                Account::Held => d.held += amount,
                Account::Deficit => d.deficit -= amount,
                Account::ContributionsIn if amount < 0 => d.received -= amount,
                Account::ContributionsIn => d.refunded += amount,
                #[cfg(test)]
                Account::Fees if MISMAPPED.get() => d.paid += amount,
                Account::Fees => d.fees += amount,
                Account::PayoutsOut => d.paid += amount,
            }
        }
        d
    }

    /// The first of the pool's totals that this change would take past
    /// [`MAX_TOTAL_MINOR`] (or out of an `i64`), if any: checked, never
    /// wrapping.
    fn beyond_bound(self, pool: &PoolRow) -> Option<&'static str> {
        [
            ("available", pool.available_minor, self.available),
            ("held", pool.held_minor, self.held),
            ("deficit", pool.deficit_minor, self.deficit),
            ("received", pool.received_minor, self.received),
            ("refunded", pool.refunded_minor, self.refunded),
            ("fees", pool.fees_minor, self.fees),
            ("paid", pool.paid_minor, self.paid),
        ]
        .into_iter()
        // Only growth can pass the bound; what shrinks is guarded at zero.
        .find(|(_, total, change)| {
            *change > 0
                && total
                    .checked_add(*change)
                    .is_none_or(|t| t > MAX_TOTAL_MINOR)
        })
        .map(|(name, _, _)| name)
    }
}

/// The refusal for a movement that would take a pool's `total` past what
/// any pool can hold: an impossible amount, named as the input's fault.
fn beyond_bound(pool: &PoolRow, total: &str) -> Result<Error> {
    let currency = pool.currency()?;
    Ok(Error::invalid(
        "amount",
        format!(
            "would take the pool's {total} past {} {}, more than any pool can hold",
            format_minor(MAX_TOTAL_MINOR, currency),
            currency.code
        ),
    ))
}

/// An entry's postings: account and signed amount in minor units.
pub type Postings = Vec<(Account, i64)>;

/// The columns a posting is read with: its entry, account and amount.
pub const POSTING: (
    ledger_postings::entry_id,
    ledger_postings::account,
    ledger_postings::amount_minor,
) = (
    ledger_postings::entry_id,
    ledger_postings::account,
    ledger_postings::amount_minor,
);

/// Writes one balanced entry for a pool and moves the pool's cached balances
/// with it. The caller holds the pool's lock (`pools::store::lock`) and has
/// checked the business rules; the guarded update here is the last line of
/// defence: if the postings would take `available`, `held` or `deficit`
/// below zero, nothing is written and the pool's shortfall is reported.
pub fn record(
    conn: &mut DbConnection,
    pool: &PoolRow,
    kind: EntryKind,
    reference: (&str, &str),
    reverses: Option<&str>,
    postings: &[(Account, i64)],
) -> Result<String> {
    record_at(conn, pool, kind, reference, reverses, postings, now())
}

/// [`record`], for an entry written at `at`. The service always writes
/// entries at the current time; this exists for fixtures and demo
/// histories that need entries on earlier days.
pub fn record_at(
    conn: &mut DbConnection,
    pool: &PoolRow,
    kind: EntryKind,
    reference: (&str, &str),
    reverses: Option<&str>,
    postings: &[(Account, i64)],
    at: chrono::NaiveDateTime,
) -> Result<String> {
    let total: i128 = postings.iter().map(|(_, a)| i128::from(*a)).sum();
    if total != 0 || postings.is_empty() {
        return Err(Error::Internal(format!(
            "unbalanced entry {kind:?}: {postings:?}"
        )));
    }
    let d = BalanceDelta::of(postings);
    if let Some(total) = d.beyond_bound(pool) {
        return Err(beyond_bound(pool, total)?);
    }
    // The pool is locked and was read fresh, so these guards hold; they
    // stay as the last line of defence, with the bounds checked above.
    let room = |change: i64| {
        if change > 0 {
            MAX_TOTAL_MINOR.saturating_sub(change)
        } else {
            i64::MAX
        }
    };
    let moved = diesel::update(
        pools::table
            .filter(pools::id.eq(&pool.id))
            .filter(pools::available_minor.ge(-d.available))
            .filter(pools::held_minor.ge(-d.held))
            .filter(pools::deficit_minor.ge(-d.deficit))
            .filter(pools::available_minor.le(room(d.available)))
            .filter(pools::held_minor.le(room(d.held)))
            .filter(pools::deficit_minor.le(room(d.deficit)))
            .filter(pools::received_minor.le(room(d.received)))
            .filter(pools::refunded_minor.le(room(d.refunded)))
            .filter(pools::fees_minor.le(room(d.fees)))
            .filter(pools::paid_minor.le(room(d.paid))),
    )
    .set((
        pools::available_minor.eq(pools::available_minor + d.available),
        pools::held_minor.eq(pools::held_minor + d.held),
        pools::deficit_minor.eq(pools::deficit_minor + d.deficit),
        pools::received_minor.eq(pools::received_minor + d.received),
        pools::refunded_minor.eq(pools::refunded_minor + d.refunded),
        pools::fees_minor.eq(pools::fees_minor + d.fees),
        pools::paid_minor.eq(pools::paid_minor + d.paid),
    ))
    .execute(conn)?;
    if moved == 0 {
        let fresh =
            crate::pools::store::find(conn, &pool.id)?.ok_or(Error::NotFound { what: "pool" })?;
        if let Some(total) = d.beyond_bound(&fresh) {
            return Err(beyond_bound(&fresh, total)?);
        }
        return Err(insufficient_funds(&fresh, -d.available)?);
    }
    let entry_id = new_id();
    diesel::insert_into(ledger_entries::table)
        .values((
            ledger_entries::collective_id.eq(&pool.collective_id),
            ledger_entries::id.eq(&entry_id),
            ledger_entries::pool_id.eq(&pool.id),
            ledger_entries::kind.eq(kind.as_str()),
            ledger_entries::reference_kind.eq(reference.0),
            ledger_entries::reference_id.eq(reference.1),
            ledger_entries::reverses_entry_id.eq(reverses),
            ledger_entries::created_at.eq(at),
        ))
        .execute(conn)?;
    for &(account, amount) in postings.iter().filter(|(_, a)| *a != 0) {
        diesel::insert_into(ledger_postings::table)
            .values((
                ledger_postings::collective_id.eq(&pool.collective_id),
                ledger_postings::id.eq(new_id()),
                ledger_postings::entry_id.eq(&entry_id),
                ledger_postings::pool_id.eq(&pool.id),
                ledger_postings::account.eq(account.as_str()),
                ledger_postings::amount_minor.eq(amount),
                ledger_postings::currency.eq(&pool.currency),
            ))
            .execute(conn)?;
    }
    Ok(entry_id)
}

/// The refusal for taking `needed` from a pool that does not have it.
pub fn insufficient_funds(pool: &PoolRow, needed: i64) -> Result<Error> {
    let currency = pool.currency()?;
    let show = |m: i64| format_minor(m, currency);
    Ok(Error::Conflict {
        code: "insufficient_funds",
        message: format!(
            "the pool has {} {} available; this needs {}",
            show(pool.available_minor),
            currency.code,
            show(needed.max(0))
        ),
        extra: Some(serde_json::json!({
            "available": show(pool.available_minor),
            "needed": show(needed.max(0)),
            "currency": currency.code,
        })),
    })
}

/// Refuses new holds while the pool owes money from refunds (SPEC §3).
pub fn require_no_deficit(pool: &PoolRow) -> Result<()> {
    if pool.deficit_minor > 0 {
        let currency = pool.currency()?;
        return Err(Error::Conflict {
            code: "pool_in_deficit",
            message: format!(
                "the pool has a deficit of {} {} from refunds of money already spent; no new holds until it is covered",
                format_minor(pool.deficit_minor, currency),
                currency.code
            ),
            extra: Some(serde_json::json!({"deficit": format_minor(pool.deficit_minor, currency)})),
        });
    }
    Ok(())
}

/// Parses an amount in the pool's currency.
pub fn amount(field: &str, text: &str, pool: &PoolRow) -> Result<Money> {
    Money::parse_positive(field, text, pool.currency()?)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Posting {
    pub account: Account,
    /// Signed decimal: positive adds to the account, negative takes from it.
    #[schema(example = "-12.50")]
    pub amount: String,
}

/// One journal entry and its postings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Entry {
    pub id: String,
    pub pool_id: String,
    /// `contribution`, `refund`, `chargeback`, `hold`, `release`,
    /// `disbursement` or `reversal`.
    pub kind: String,
    /// What the entry is about: `contribution`, `hold`, `disbursement`.
    pub reference_kind: String,
    pub reference_id: String,
    pub reverses_entry_id: Option<String>,
    pub currency: String,
    pub postings: Vec<Posting>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct EntryRow {
    pub collective_id: String,
    pub id: String,
    pub pool_id: String,
    pub kind: String,
    pub reference_kind: String,
    pub reference_id: String,
    pub reverses_entry_id: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

pub fn find_entry(conn: &mut DbConnection, id: &str) -> Result<Option<EntryRow>> {
    Ok(ledger_entries::table
        .find(id)
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?)
}

/// A page of a pool's entries, oldest first, with their postings.
pub fn entries(conn: &mut DbConnection, pool: &PoolRow, page: &PageRequest) -> Result<Page<Entry>> {
    let currency = pool.currency()?;
    let mut query = ledger_entries::table
        .filter(ledger_entries::pool_id.eq(&pool.id))
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(ledger_entries::id.gt(after.clone()));
    }
    let rows: Vec<EntryRow> = query
        .order(ledger_entries::id.asc())
        .limit(page.limit + 1)
        .select(EntryRow::as_select())
        .load(conn)?;
    let page = Page::from_rows(rows, page, |r| &r.id);
    let ids: Vec<&str> = page.items.iter().map(|e| e.id.as_str()).collect();
    let postings: Vec<(String, String, i64)> = ledger_postings::table
        .filter(ledger_postings::entry_id.eq_any(ids))
        .order(ledger_postings::id.asc())
        .select(POSTING)
        .load(conn)?;
    Ok(page.map(|row| to_entry(row, &postings, currency)))
}

/// The sum of a pool's postings per account over the entries written
/// before `before`: the balances the pool had at that instant.
pub fn sums_before(
    conn: &mut DbConnection,
    pool_id: &str,
    before: chrono::NaiveDateTime,
) -> Result<Vec<(Account, i64)>> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Nullable};
    let earlier = ledger_entries::table
        .filter(ledger_entries::pool_id.eq(pool_id))
        .filter(ledger_entries::created_at.lt(before))
        .select(ledger_entries::id);
    // SUM of BIGINT is NUMERIC on PostgreSQL; the cast keeps it an integer
    // on both databases.
    let sums: Vec<(String, Option<i64>)> = ledger_postings::table
        .filter(ledger_postings::pool_id.eq(pool_id))
        .filter(ledger_postings::entry_id.eq_any(earlier))
        .group_by(ledger_postings::account)
        .select((
            ledger_postings::account,
            sql::<Nullable<BigInt>>("CAST(SUM(ledger_postings.amount_minor) AS BIGINT)"),
        ))
        .load(conn)?;
    Ok(sums
        .into_iter()
        .filter_map(|(account, sum)| Account::parse(&account).map(|a| (a, sum.unwrap_or(0))))
        .collect())
}

/// A pool's entries written in `[start, end)`, oldest first, each with its
/// postings.
pub fn entries_between(
    conn: &mut DbConnection,
    pool_id: &str,
    start: chrono::NaiveDateTime,
    end: chrono::NaiveDateTime,
) -> Result<Vec<(EntryRow, Postings)>> {
    let within = || {
        ledger_entries::table
            .filter(ledger_entries::pool_id.eq(pool_id))
            .filter(ledger_entries::created_at.ge(start))
            .filter(ledger_entries::created_at.lt(end))
    };
    let entries: Vec<EntryRow> = within()
        .order((ledger_entries::created_at.asc(), ledger_entries::id.asc()))
        .select(EntryRow::as_select())
        .load(conn)?;
    let postings: Vec<(String, String, i64)> = ledger_postings::table
        .filter(ledger_postings::pool_id.eq(pool_id))
        .filter(ledger_postings::entry_id.eq_any(within().select(ledger_entries::id)))
        .order(ledger_postings::id.asc())
        .select(POSTING)
        .load(conn)?;
    let mut by_entry: std::collections::HashMap<String, Postings> =
        std::collections::HashMap::new();
    for (entry, account, amount) in postings {
        if let Some(account) = Account::parse(&account) {
            by_entry.entry(entry).or_default().push((account, amount));
        }
    }
    Ok(entries
        .into_iter()
        .map(|entry| {
            let postings = by_entry.remove(&entry.id).unwrap_or_default();
            (entry, postings)
        })
        .collect())
}

fn to_entry(row: EntryRow, postings: &[(String, String, i64)], currency: Currency) -> Entry {
    Entry {
        postings: postings
            .iter()
            .filter(|(entry, _, _)| *entry == row.id)
            .filter_map(|(_, account, amount)| {
                Account::parse(account).map(|account| Posting {
                    account,
                    amount: format_minor(*amount, currency),
                })
            })
            .collect(),
        id: row.id,
        pool_id: row.pool_id,
        kind: row.kind,
        reference_kind: row.reference_kind,
        reference_id: row.reference_id,
        reverses_entry_id: row.reverses_entry_id,
        currency: currency.code.to_owned(),
        created_at: utc(row.created_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_deltas_follow_the_postings() {
        // A contribution of 100 with a fee of 3, covering 10 of deficit.
        let d = BalanceDelta::of(&[
            (Account::ContributionsIn, -100),
            (Account::Fees, 3),
            (Account::Deficit, 10),
            (Account::Available, 87),
        ]);
        assert_eq!(
            d,
            BalanceDelta {
                available: 87,
                deficit: -10,
                received: 100,
                fees: 3,
                ..Default::default()
            }
        );
        // A refund of 50 when only 20 is available.
        let d = BalanceDelta::of(&[
            (Account::Available, -20),
            (Account::Deficit, -30),
            (Account::ContributionsIn, 50),
        ]);
        assert_eq!((d.available, d.deficit, d.refunded), (-20, 30, 50));
    }

    #[test]
    fn totals_past_the_bound_or_past_an_i64_are_named_not_wrapped() {
        let at = chrono::DateTime::UNIX_EPOCH.naive_utc();
        let pool = PoolRow {
            collective_id: "c".into(),
            id: "p".into(),
            name: "p".into(),
            description: String::new(),
            currency: "EUR".into(),
            exponent: 2,
            goal_minor: None,
            max_request_minor: None,
            approvals_needed: 1,
            fast_track_limit_minor: None,
            requesters: "members".into(),
            public: false,
            available_minor: MAX_TOTAL_MINOR - 5,
            held_minor: 0,
            deficit_minor: 0,
            received_minor: 0,
            refunded_minor: 0,
            // A total out of the bound already (say, written by hand):
            // adding to it would overflow an i64.
            fees_minor: i64::MAX - 1,
            paid_minor: 0,
            created_by: "u".into(),
            created_at: at,
            updated_at: at,
            version: 1,
        };
        let gift = |minor: i64| {
            BalanceDelta::of(&[
                (Account::ContributionsIn, -minor),
                (Account::Available, minor),
            ])
        };
        assert_eq!(gift(5).beyond_bound(&pool), None);
        assert_eq!(gift(6).beyond_bound(&pool), Some("available"));
        let fee = BalanceDelta::of(&[(Account::Available, -10), (Account::Fees, 10)]);
        assert_eq!(fee.beyond_bound(&pool), Some("fees"));
        assert!(matches!(
            beyond_bound(&pool, "fees"),
            Ok(Error::Invalid { field, .. }) if field == "amount"
        ));
    }
}
