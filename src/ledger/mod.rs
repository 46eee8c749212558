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
//!
//! What it may use: pools, audit, events, and the shared db, error, money
//! and id types; nothing built on it (`tests/ledger_stands_alone.rs`).
//! Events are the one pair that name each other, and on purpose: the ledger
//! records its events (`crate::events::record`) as it writes its audit
//! records, in the movement's own transaction, so no caller can move money
//! without them; and the events vocabulary (`events/types.rs`) names the
//! ledger's shapes (`Hold`, `Disbursement`, `Contribution`, `Entry`) as
//! their data, as it names every area's, so that the feed, the webhooks
//! and the OpenAPI document come from one table. Events never call back
//! into the ledger: the cycle is in types, not in control. Breaking it
//! would take either every caller recording the ledger's events (requests,
//! rounds, flows and the ledger's own handlers — a missed event becomes
//! possible) or a vocabulary split per area; neither buys what it costs.

pub mod contributions;
pub mod facts;
pub mod holds;
pub mod http;
mod store;
pub mod verify;
#[cfg(test)]
mod verify_is_independent;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;
use crate::error::{known, Error, Result};
use crate::ids::{new_id, now, utc, ContributionId, DisbursementId, EntryId, HoldId};
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

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Contribution,
            Self::Refund,
            Self::Chargeback,
            Self::Hold,
            Self::Release,
            Self::Disbursement,
            Self::Reversal,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
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
struct BalanceDelta {
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

/// Writes one balanced entry for a pool and moves the pool's cached balances
/// with it. The caller holds the pool's lock (`pools::store::lock`) and has
/// checked the business rules; the guarded update here is the last line of
/// defence: if the postings would take `available`, `held` or `deficit`
/// below zero, nothing is written and the pool's shortfall is reported.
fn record(
    conn: &mut DbConnection,
    pool: &PoolRow,
    kind: EntryKind,
    reference: &Reference,
    reverses: Option<&EntryId>,
    postings: &[(Account, i64)],
) -> Result<EntryId> {
    write_entry(conn, pool, kind, reference, reverses, postings, now())
}

/// [`record`], for an entry written at `at`: a door for test fixtures that
/// need history on earlier days (the service always writes entries now).
/// It takes the reference as stored text and amounts in minor units, and
/// reads the reference through the same checked function as every row.
#[doc(hidden)]
pub fn record_at(
    conn: &mut DbConnection,
    pool: &PoolRow,
    kind: EntryKind,
    reference: (&str, &str),
    reverses: Option<&str>,
    postings: &[(Account, i64)],
    at: chrono::NaiveDateTime,
) -> Result<String> {
    let reference = Reference::parse(reference.0, reference.1)?;
    let reverses = reverses.map(EntryId::from);
    write_entry(
        conn,
        pool,
        kind,
        &reference,
        reverses.as_ref(),
        postings,
        at,
    )
    .map(EntryId::into_string)
}

fn write_entry(
    conn: &mut DbConnection,
    pool: &PoolRow,
    kind: EntryKind,
    reference: &Reference,
    reverses: Option<&EntryId>,
    postings: &[(Account, i64)],
    at: chrono::NaiveDateTime,
) -> Result<EntryId> {
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
    if store::move_balances(conn, &pool.id, &d)? == 0 {
        let fresh = store::pool(conn, &pool.id)?;
        if let Some(total) = d.beyond_bound(&fresh) {
            return Err(beyond_bound(&fresh, total)?);
        }
        return Err(insufficient_funds(&fresh, -d.available)?);
    }
    let entry = store::EntryRow {
        collective_id: pool.collective_id.clone(),
        id: new_id(),
        pool_id: pool.id.clone(),
        kind: kind.as_str().to_owned(),
        reference_kind: reference.kind().to_owned(),
        reference_id: reference.id().to_owned(),
        reverses_entry_id: reverses.map(|e| e.as_str().to_owned()),
        created_at: at,
    };
    store::insert_entry(conn, &entry, &pool.currency, postings)?;
    Ok(entry.id.into())
}

/// The refusal for taking `needed` from a pool that does not have it.
fn insufficient_funds(pool: &PoolRow, needed: i64) -> Result<Error> {
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
fn require_no_deficit(pool: &PoolRow) -> Result<()> {
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
fn amount(field: &str, text: &str, pool: &PoolRow) -> Result<Money> {
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

/// What an entry is about, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Contribution(ContributionId),
    Hold(HoldId),
    Disbursement(DisbursementId),
}

impl Reference {
    /// As stored and shown: `contribution`, `hold` or `disbursement`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Contribution(_) => "contribution",
            Self::Hold(_) => "hold",
            Self::Disbursement(_) => "disbursement",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Contribution(id) => id.as_str(),
            Self::Hold(id) => id.as_str(),
            Self::Disbursement(id) => id.as_str(),
        }
    }

    /// Read from a stored kind and id: the one checked reading.
    fn parse(kind: &str, id: &str) -> Result<Self> {
        Ok(match kind {
            "contribution" => Self::Contribution(id.into()),
            "hold" => Self::Hold(id.into()),
            "disbursement" => Self::Disbursement(id.into()),
            other => return known(None, "entry reference", id, other),
        })
    }
}

/// One journal entry as the areas built on the ledger read it (statements,
/// summaries): typed, with its postings in the pool's currency.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub id: EntryId,
    pub kind: EntryKind,
    pub reference: Reference,
    pub created_at: chrono::NaiveDateTime,
    pub postings: Vec<(Account, Money)>,
}

impl store::EntryRow {
    fn kind(&self) -> Result<EntryKind> {
        known(EntryKind::parse(&self.kind), "entry", &self.id, &self.kind)
    }
}

/// A posting row read through the checked account.
fn posting(row: &store::PostingRow) -> Result<(Account, i64)> {
    let (entry, account, amount) = row;
    Ok((
        known(Account::parse(account), "posting of entry", entry, account)?,
        *amount,
    ))
}

/// A page of a pool's entries, oldest first, with their postings.
pub fn entries(conn: &mut DbConnection, pool: &PoolRow, page: &PageRequest) -> Result<Page<Entry>> {
    let currency = pool.currency()?;
    let page = store::entry_page(conn, &pool.id, page)?;
    let ids: Vec<&str> = page.items.iter().map(|e| e.id.as_str()).collect();
    let postings = store::postings_of(conn, &ids)?;
    page.try_map(|row| to_entry(row, &postings, currency))
}

/// One entry with its postings, as the API shows it.
fn single_entry(conn: &mut DbConnection, pool: &PoolRow, id: &EntryId) -> Result<Entry> {
    let row = store::find_entry(conn, id.as_str())?.ok_or(Error::NotFound { what: "entry" })?;
    let postings = store::postings_of(conn, &[id.as_str()])?;
    to_entry(row, &postings, pool.currency()?)
}

/// The sum of a pool's postings per account over the entries written
/// before `before`: the balances the pool had at that instant.
pub fn sums_before(
    conn: &mut DbConnection,
    pool: &PoolRow,
    before: chrono::NaiveDateTime,
) -> Result<Vec<(Account, Money)>> {
    let currency = pool.currency()?;
    store::sums_before(conn, &pool.id, before)?
        .into_iter()
        .map(|(account, sum)| {
            let account = known(
                Account::parse(&account),
                "postings of pool",
                &pool.id,
                &account,
            )?;
            Ok((account, Money::new(sum, currency)))
        })
        .collect()
}

/// A pool's entries written in `[start, end)`, oldest first, each with its
/// postings.
pub fn entries_between(
    conn: &mut DbConnection,
    pool: &PoolRow,
    start: chrono::NaiveDateTime,
    end: chrono::NaiveDateTime,
) -> Result<Vec<JournalEntry>> {
    let currency = pool.currency()?;
    let (entries, postings) = store::entries_between(conn, &pool.id, start, end)?;
    let mut by_entry: std::collections::HashMap<&str, Vec<(Account, Money)>> =
        std::collections::HashMap::new();
    for row in &postings {
        let (account, amount) = posting(row)?;
        by_entry
            .entry(row.0.as_str())
            .or_default()
            .push((account, Money::new(amount, currency)));
    }
    entries
        .into_iter()
        .map(|entry| {
            Ok(JournalEntry {
                kind: entry.kind()?,
                reference: Reference::parse(&entry.reference_kind, &entry.reference_id)?,
                postings: by_entry.remove(entry.id.as_str()).unwrap_or_default(),
                created_at: entry.created_at,
                id: entry.id.into(),
            })
        })
        .collect()
}

fn to_entry(
    row: store::EntryRow,
    postings: &[store::PostingRow],
    currency: Currency,
) -> Result<Entry> {
    let kind = row.kind()?;
    let reference = Reference::parse(&row.reference_kind, &row.reference_id)?;
    let postings = postings
        .iter()
        .filter(|(entry, _, _)| *entry == row.id)
        .map(|p| {
            posting(p).map(|(account, amount)| Posting {
                account,
                amount: format_minor(amount, currency),
            })
        })
        .collect::<Result<_>>()?;
    Ok(Entry {
        postings,
        id: row.id,
        pool_id: row.pool_id,
        kind: kind.as_str().to_owned(),
        reference_kind: reference.kind().to_owned(),
        reference_id: row.reference_id,
        reverses_entry_id: row.reverses_entry_id,
        currency: currency.code.to_owned(),
        created_at: utc(row.created_at),
    })
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
