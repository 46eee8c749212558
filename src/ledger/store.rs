//! The ledger's SQL, all of it: the journal (entries, postings and the
//! pool's cached balances), holds, disbursements and contributions. The
//! services beside it say what moves; this module says how it is stored.
//! Rows are this module's business and stay inside the ledger; what leaves
//! the ledger is typed (ids, `Money`, enums read through one checked
//! function). `verify.rs` alone reads these tables with queries of its own:
//! it is the second implementation, and sharing these would hide a mistake
//! in them from it.
//!
//! Where several rows go in together (an entry's postings, a split's
//! children) they go in one statement. diesel's batch insert does not
//! compile on the `MultiConnection` for SQLite, so those match on the
//! backend and run the same insert on the concrete connection.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Account, BalanceDelta};
use crate::db::schema::{contributions, disbursements, holds, ledger_entries, ledger_postings};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::money::MAX_TOTAL_MINOR;
use crate::pagination::{Page, PageRequest};
use crate::pools::store::PoolRow;

use crate::on_backend;

// ---------------------------------------------------------------- journal

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ledger_entries)]
#[diesel(treat_none_as_default_value = false)]
pub(super) struct EntryRow {
    pub collective_id: String,
    pub id: String,
    pub pool_id: String,
    pub kind: String,
    pub reference_kind: String,
    pub reference_id: String,
    pub reverses_entry_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A posting as stored: its entry, account and amount in minor units.
pub(super) type PostingRow = (String, String, i64);

const POSTING: (
    ledger_postings::entry_id,
    ledger_postings::account,
    ledger_postings::amount_minor,
) = (
    ledger_postings::entry_id,
    ledger_postings::account,
    ledger_postings::amount_minor,
);

/// Moves a pool's cached balances by `d`, guarded: nothing moves (and 0 is
/// returned) if `available`, `held` or `deficit` would go below zero or any
/// total past [`MAX_TOTAL_MINOR`].
pub(super) fn move_balances(
    conn: &mut DbConnection,
    pool_id: &str,
    d: &BalanceDelta,
) -> Result<usize> {
    use crate::db::statement::{Kept, Param::BigInt, Param::Text};
    let room = |change: i64| {
        if change > 0 {
            MAX_TOTAL_MINOR.saturating_sub(change)
        } else {
            i64::MAX
        }
    };
    // diesel would prepare its `UPDATE` anew at each call: kept instead
    // (`crate::db::statement`), as every money write runs it.
    Ok(Kept::<MoveBalances>::new(&[
        BigInt(d.available),
        BigInt(d.held),
        BigInt(d.deficit),
        BigInt(d.received),
        BigInt(d.refunded),
        BigInt(d.fees),
        BigInt(d.paid),
        Text(pool_id),
        BigInt(-d.available),
        BigInt(-d.held),
        BigInt(-d.deficit),
        BigInt(room(d.available)),
        BigInt(room(d.held)),
        BigInt(room(d.deficit)),
        BigInt(room(d.received)),
        BigInt(room(d.refunded)),
        BigInt(room(d.fees)),
        BigInt(room(d.paid)),
    ])
    .execute_on(conn)?)
}

/// [`move_balances`]'s statement.
struct MoveBalances;

impl crate::db::statement::Sql for MoveBalances {
    const PIECES: &'static [&'static str] = &[
        "UPDATE pools SET available_minor = available_minor + ",
        ", held_minor = held_minor + ",
        ", deficit_minor = deficit_minor + ",
        ", received_minor = received_minor + ",
        ", refunded_minor = refunded_minor + ",
        ", fees_minor = fees_minor + ",
        ", paid_minor = paid_minor + ",
        " WHERE id = ",
        " AND available_minor >= ",
        " AND held_minor >= ",
        " AND deficit_minor >= ",
        " AND available_minor <= ",
        " AND held_minor <= ",
        " AND deficit_minor <= ",
        " AND received_minor <= ",
        " AND refunded_minor <= ",
        " AND fees_minor <= ",
        " AND paid_minor <= ",
        "",
    ];
}

/// Writes an entry and its (non-zero) postings: two statements, the
/// postings in one.
pub(super) fn insert_entry(
    conn: &mut DbConnection,
    entry: &EntryRow,
    currency: &str,
    postings: &[(Account, i64)],
) -> Result<()> {
    on_backend!(&mut *conn, |c| diesel::insert_into(ledger_entries::table)
        .values(entry)
        .execute(c))?;
    let rows: Vec<_> = postings
        .iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|&(account, amount)| {
            (
                // Owned: an insert diesel keeps prepared takes no borrows.
                ledger_postings::collective_id.eq(entry.collective_id.clone()),
                ledger_postings::id.eq(new_id()),
                ledger_postings::entry_id.eq(entry.id.clone()),
                ledger_postings::pool_id.eq(entry.pool_id.clone()),
                ledger_postings::account.eq(account.as_str()),
                ledger_postings::amount_minor.eq(amount),
                ledger_postings::currency.eq(currency.to_owned()),
            )
        })
        .collect();
    // An array's insert is prepared once and kept; a `Vec`'s anew at each
    // call (`crate::db::statement`). Entries have two to four postings.
    macro_rules! insert_kept {
        ($($n:literal)*) => {
            match rows.len() {
                0 => {}
                $($n => {
                    let rows = <[_; $n]>::try_from(rows)
                        .map_err(|_| Error::Internal("postings miscounted".into()))?;
                    let insert = diesel::insert_into(ledger_postings::table).values(&rows);
                    on_backend!(conn, |c| insert.execute(c))?;
                })*
                _ => {
                    let insert = diesel::insert_into(ledger_postings::table).values(&rows);
                    on_backend!(conn, |c| insert.execute(c))?;
                }
            }
        };
    }
    insert_kept!(1 2 3 4);
    Ok(())
}

pub(super) fn find_entry(conn: &mut DbConnection, id: &str) -> Result<Option<EntryRow>> {
    Ok(ledger_entries::table
        .find(id)
        .select(EntryRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Whether an entry has been reversed already.
pub(super) fn is_reversed(conn: &mut DbConnection, entry_id: &str) -> Result<bool> {
    let reversals: i64 = ledger_entries::table
        .filter(ledger_entries::reverses_entry_id.eq(entry_id))
        .count()
        .get_result(conn)?;
    Ok(reversals > 0)
}

/// A page of a pool's entries, oldest first.
pub(super) fn entry_page(
    conn: &mut DbConnection,
    pool_id: &str,
    page: &PageRequest,
) -> Result<Page<EntryRow>> {
    let mut query = ledger_entries::table
        .filter(ledger_entries::pool_id.eq(pool_id))
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(ledger_entries::id.gt(after.clone()));
    }
    let rows: Vec<EntryRow> = query
        .order(ledger_entries::id.asc())
        .limit(page.limit + 1)
        .select(EntryRow::as_select())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| &r.id))
}

/// The postings of the given entries, in the order they were written.
pub(super) fn postings_of(conn: &mut DbConnection, entry_ids: &[&str]) -> Result<Vec<PostingRow>> {
    Ok(ledger_postings::table
        .filter(ledger_postings::entry_id.eq_any(entry_ids))
        .order(ledger_postings::id.asc())
        .select(POSTING)
        .load(conn)?)
}

/// The sum of a pool's postings per account over the entries written
/// before `before`.
pub(super) fn sums_before(
    conn: &mut DbConnection,
    pool_id: &str,
    before: NaiveDateTime,
) -> Result<Vec<(String, i64)>> {
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
        .map(|(account, sum)| (account, sum.unwrap_or(0)))
        .collect())
}

/// A pool's entries written in `[start, end)`, oldest first, and their
/// postings.
pub(super) fn entries_between(
    conn: &mut DbConnection,
    pool_id: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> Result<(Vec<EntryRow>, Vec<PostingRow>)> {
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
    let postings: Vec<PostingRow> = ledger_postings::table
        .filter(ledger_postings::pool_id.eq(pool_id))
        .filter(ledger_postings::entry_id.eq_any(within().select(ledger_entries::id)))
        .order(ledger_postings::id.asc())
        .select(POSTING)
        .load(conn)?;
    Ok((entries, postings))
}

// ------------------------------------------------------------------ holds

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = holds)]
#[diesel(treat_none_as_default_value = false)]
pub(super) struct HoldRow {
    pub collective_id: String,
    pub id: String,
    pub pool_id: String,
    pub parent_hold_id: Option<String>,
    pub purpose: String,
    pub reference_id: Option<String>,
    pub amount_minor: i64,
    pub remaining_minor: i64,
    pub pending_minor: i64,
    pub paid_minor: i64,
    pub released_minor: i64,
    pub split_minor: i64,
    pub status: String,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub(super) fn find_hold(conn: &mut DbConnection, id: &str) -> Result<HoldRow> {
    holds::table
        .find(id)
        .select(HoldRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(Error::NotFound { what: "hold" })
}

/// Takes the hold's row lock for the rest of the transaction (after the
/// pool's: lock order pool, hold, disbursement) and reads it fresh.
pub(super) fn lock_hold(conn: &mut DbConnection, id: &str) -> Result<HoldRow> {
    diesel::update(holds::table.find(id))
        .set(holds::updated_at.eq(holds::updated_at))
        .execute(conn)?;
    find_hold(conn, id)
}

/// Writes holds, all in one statement.
pub(super) fn insert_holds(conn: &mut DbConnection, rows: &[HoldRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let insert = diesel::insert_into(holds::table).values(rows);
    on_backend!(conn, |c| insert.execute(c))?;
    Ok(())
}

/// How an amount moves between the parts of a hold. Its amount is always
/// remaining + pending + paid + released + split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shift {
    /// remaining → released (void pending).
    Release,
    /// remaining → split (into child holds).
    Split,
    /// remaining → pending (a payout starts).
    Draw,
    /// pending → paid (post pending).
    Pay,
    /// pending → remaining (a payout failed; the hold is active again).
    Fail,
}

/// Moves `amount` between a hold's parts, guarded: returns false (and moves
/// nothing) when the part it comes from holds less.
pub(super) fn shift(
    conn: &mut DbConnection,
    hold_id: &str,
    amount: i64,
    shift: Shift,
    at: NaiveDateTime,
) -> Result<bool> {
    let hold = holds::table.filter(holds::id.eq(hold_id));
    let from_remaining = hold.filter(holds::remaining_minor.ge(amount));
    let from_pending = hold.filter(holds::pending_minor.ge(amount));
    let remaining = holds::remaining_minor;
    let pending = holds::pending_minor;
    let moved = match shift {
        Shift::Release => diesel::update(from_remaining)
            .set((
                remaining.eq(remaining - amount),
                holds::released_minor.eq(holds::released_minor + amount),
                holds::updated_at.eq(at),
            ))
            .execute(conn)?,
        Shift::Split => diesel::update(from_remaining)
            .set((
                remaining.eq(remaining - amount),
                holds::split_minor.eq(holds::split_minor + amount),
                holds::updated_at.eq(at),
            ))
            .execute(conn)?,
        Shift::Draw => diesel::update(from_remaining)
            .set((
                remaining.eq(remaining - amount),
                pending.eq(pending + amount),
                holds::updated_at.eq(at),
            ))
            .execute(conn)?,
        Shift::Pay => diesel::update(from_pending)
            .set((
                pending.eq(pending - amount),
                holds::paid_minor.eq(holds::paid_minor + amount),
                holds::updated_at.eq(at),
            ))
            .execute(conn)?,
        Shift::Fail => diesel::update(from_pending)
            .set((
                pending.eq(pending - amount),
                remaining.eq(remaining + amount),
                holds::status.eq(super::holds::HoldStatus::Active.as_str()),
                holds::updated_at.eq(at),
            ))
            .execute(conn)?,
    };
    Ok(moved > 0)
}

/// Marks a hold closed once nothing remains or is pending on it.
pub(super) fn close_if_done(conn: &mut DbConnection, hold_id: &str) -> Result<()> {
    diesel::update(
        holds::table
            .filter(holds::id.eq(hold_id))
            .filter(holds::remaining_minor.eq(0))
            .filter(holds::pending_minor.eq(0)),
    )
    .set(holds::status.eq(super::holds::HoldStatus::Closed.as_str()))
    .execute(conn)?;
    Ok(())
}

/// A page of a pool's holds, oldest first.
pub(super) fn hold_page(
    conn: &mut DbConnection,
    pool_id: &str,
    page: &PageRequest,
) -> Result<Page<HoldRow>> {
    let mut query = holds::table.filter(holds::pool_id.eq(pool_id)).into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(holds::id.gt(after.clone()));
    }
    let rows: Vec<HoldRow> = query
        .order(holds::id.asc())
        .limit(page.limit + 1)
        .select(HoldRow::as_select())
        .load(conn)?;
    Ok(Page::from_rows(rows, page, |r| &r.id))
}

/// A pool's holds: all of them, or only those still reserving money
/// (active, with something remaining or pending).
pub(super) fn holds_of_pool(
    conn: &mut DbConnection,
    pool_id: &str,
    reserving_only: bool,
) -> Result<Vec<HoldRow>> {
    let mut query = holds::table.filter(holds::pool_id.eq(pool_id)).into_boxed();
    if reserving_only {
        query = query
            .filter(holds::status.eq(super::holds::HoldStatus::Active.as_str()))
            .filter((holds::remaining_minor + holds::pending_minor).gt(0));
    }
    Ok(query
        .order(holds::id.asc())
        .select(HoldRow::as_select())
        .load(conn)?)
}

// ---------------------------------------------------------- disbursements

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disbursements)]
#[diesel(treat_none_as_default_value = false)]
pub(super) struct DisbursementRow {
    pub collective_id: String,
    pub id: String,
    pub pool_id: String,
    pub hold_id: String,
    pub amount_minor: i64,
    pub status: String,
    pub external_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub entry_id: Option<String>,
    pub created_by: String,
    pub resolved_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

// A disbursement's external reference is sealed at rest (`crate::crypto`,
// #24): sealed here before it is written, opened here after it is read.
fn seal_reference(id: &str, reference: Option<&str>) -> Result<Option<String>> {
    crate::crypto::seal_opt("disbursements", "external_reference", id, reference)
}

impl DisbursementRow {
    fn opened(mut self) -> Result<Self> {
        let id = self.id.clone();
        crate::crypto::open_opt_in(
            "disbursements",
            "external_reference",
            &id,
            &mut self.external_reference,
        )?;
        Ok(self)
    }
}

pub(super) fn find_disbursement(conn: &mut DbConnection, id: &str) -> Result<DisbursementRow> {
    disbursements::table
        .find(id)
        .select(DisbursementRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(Error::NotFound {
            what: "disbursement",
        })?
        .opened()
}

pub(super) fn insert_disbursement(conn: &mut DbConnection, row: &DisbursementRow) -> Result<()> {
    let mut sealed = row.clone();
    sealed.external_reference = seal_reference(&row.id, row.external_reference.as_deref())?;
    diesel::insert_into(disbursements::table)
        .values(sealed)
        .execute(conn)?;
    Ok(())
}

/// What resolving a disbursement writes.
pub(super) struct Resolution<'a> {
    pub status: &'a str,
    pub external_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub resolved_by: &'a str,
    pub at: NaiveDateTime,
}

/// Resolves a disbursement that is still pending; false if it is not.
pub(super) fn resolve_disbursement(
    conn: &mut DbConnection,
    id: &str,
    pending: &str,
    r: Resolution<'_>,
) -> Result<bool> {
    let resolved = diesel::update(
        disbursements::table
            .filter(disbursements::id.eq(id))
            .filter(disbursements::status.eq(pending)),
    )
    .set((
        disbursements::status.eq(r.status),
        disbursements::external_reference.eq(seal_reference(id, r.external_reference.as_deref())?),
        disbursements::failure_reason.eq(r.failure_reason),
        disbursements::resolved_by.eq(r.resolved_by),
        disbursements::resolved_at.eq(r.at),
        disbursements::updated_at.eq(r.at),
    ))
    .execute(conn)?;
    Ok(resolved > 0)
}

pub(super) fn set_disbursement_entry(
    conn: &mut DbConnection,
    id: &str,
    entry_id: &str,
) -> Result<()> {
    diesel::update(disbursements::table.filter(disbursements::id.eq(id)))
        .set(disbursements::entry_id.eq(entry_id))
        .execute(conn)?;
    Ok(())
}

/// A hold's disbursements, oldest first: all of them, or a page.
pub(super) fn disbursements_of_hold(
    conn: &mut DbConnection,
    hold_id: &str,
    page: Option<&PageRequest>,
) -> Result<Page<DisbursementRow>> {
    let mut query = disbursements::table
        .filter(disbursements::hold_id.eq(hold_id))
        .into_boxed();
    if let Some(after) = page.and_then(|p| p.after.as_ref()) {
        query = query.filter(disbursements::id.gt(after.clone()));
    }
    if let Some(page) = page {
        query = query.limit(page.limit + 1);
    }
    let rows: Vec<DisbursementRow> = query
        .order(disbursements::id.asc())
        .select(DisbursementRow::as_select())
        .load(conn)?
        .into_iter()
        .map(DisbursementRow::opened)
        .collect::<Result<_>>()?;
    Ok(match page {
        Some(page) => Page::from_rows(rows, page, |r| &r.id),
        None => Page {
            items: rows,
            next_cursor: None,
        },
    })
}

/// A pool's disbursements in the given status.
pub(super) fn disbursements_of_pool(
    conn: &mut DbConnection,
    pool_id: &str,
    status: &str,
) -> Result<Vec<DisbursementRow>> {
    disbursements::table
        .filter(disbursements::pool_id.eq(pool_id))
        .filter(disbursements::status.eq(status))
        .order(disbursements::id.asc())
        .select(DisbursementRow::as_select())
        .load(conn)?
        .into_iter()
        .map(DisbursementRow::opened)
        .collect()
}

// ---------------------------------------------------------- contributions

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = contributions)]
#[diesel(treat_none_as_default_value = false)]
pub(super) struct ContributionRow {
    pub collective_id: String,
    pub id: String,
    pub pool_id: String,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub refunded_minor: i64,
    pub method: String,
    pub external_reference: Option<String>,
    pub member_id: Option<String>,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    pub anonymous: bool,
    pub note: Option<String>,
    pub status: String,
    pub entry_id: String,
    pub recorded_by: String,
    pub received_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub pledge_id: Option<String>,
    pub pledge_applied_minor: i64,
    pub dispute_fee_minor: i64,
}

// A contribution's donor name, donor email and note are sealed at rest
// (`crate::crypto`, #24): sealed here before they are written, opened here
// after they are read. (Its external reference stays clear: it is how a
// payment recorded twice is found.)
impl ContributionRow {
    fn sealed(&self) -> Result<Self> {
        let mut row = self.clone();
        let id = &self.id;
        crate::crypto::seal_opt_in("contributions", "donor_name", id, &mut row.donor_name)?;
        crate::crypto::seal_opt_in("contributions", "donor_email", id, &mut row.donor_email)?;
        crate::crypto::seal_opt_in("contributions", "note", id, &mut row.note)?;
        Ok(row)
    }

    fn opened(mut self) -> Result<Self> {
        let id = self.id.clone();
        crate::crypto::open_opt_in("contributions", "donor_name", &id, &mut self.donor_name)?;
        crate::crypto::open_opt_in("contributions", "donor_email", &id, &mut self.donor_email)?;
        crate::crypto::open_opt_in("contributions", "note", &id, &mut self.note)?;
        Ok(self)
    }
}

/// Writes a contribution in a savepoint: a unique-key violation (the same
/// processor payment recorded twice) comes back as `Ok(false)` with the
/// transaction still usable.
pub(super) fn insert_contribution(conn: &mut DbConnection, row: &ContributionRow) -> Result<bool> {
    let sealed = row.sealed()?;
    let insert = |conn: &mut DbConnection| {
        on_backend!(conn, |c| diesel::insert_into(contributions::table)
            .values(&sealed)
            .execute(c))
    };
    // Only an external reference can collide (the id is new); without one
    // the insert needs no savepoint to recover from a collision.
    let inserted = match row.external_reference {
        Some(_) => conn.transaction(insert),
        None => insert(conn),
    };
    match inserted {
        Err(e) if crate::db::is_unique_violation(&e) => Ok(false),
        other => other.map(|_| true).map_err(Error::from),
    }
}

pub(super) fn find_contribution(conn: &mut DbConnection, id: &str) -> Result<ContributionRow> {
    contributions::table
        .find(id)
        .select(ContributionRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(Error::NotFound {
            what: "contribution",
        })?
        .opened()
}

pub(super) fn find_by_reference(
    conn: &mut DbConnection,
    collective_id: &str,
    pool_id: &str,
    reference: &str,
) -> Result<Option<ContributionRow>> {
    // By the unique key (collective, pool, reference): without the
    // collective, SQLite reads every contribution to the pool.
    contributions::table
        .filter(contributions::collective_id.eq(collective_id))
        .filter(contributions::pool_id.eq(pool_id))
        .filter(contributions::external_reference.eq(reference))
        .select(ContributionRow::as_select())
        .get_result(conn)
        .optional()?
        .map(ContributionRow::opened)
        .transpose()
}

/// Whose contributions to page through.
pub(super) enum Whose<'a> {
    Pool(&'a str),
    Member {
        collective_id: &'a str,
        member_id: &'a str,
    },
}

pub(super) fn contribution_page(
    conn: &mut DbConnection,
    whose: Whose<'_>,
    page: &PageRequest,
) -> Result<Page<ContributionRow>> {
    let mut query = contributions::table.into_boxed();
    query = match whose {
        Whose::Pool(pool_id) => query.filter(contributions::pool_id.eq(pool_id.to_owned())),
        Whose::Member {
            collective_id,
            member_id,
        } => query
            .filter(contributions::collective_id.eq(collective_id.to_owned()))
            .filter(contributions::member_id.eq(member_id.to_owned())),
    };
    if let Some(after) = &page.after {
        query = query.filter(contributions::id.gt(after.clone()));
    }
    let rows: Vec<ContributionRow> = query
        .order(contributions::id.asc())
        .limit(page.limit + 1)
        .select(ContributionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ContributionRow::opened)
        .collect::<Result<_>>()?;
    Ok(Page::from_rows(rows, page, |r| &r.id))
}

/// Adds a refund to a contribution, guarded by the refunded total it was
/// read with; false if that changed meanwhile.
pub(super) fn add_refund(
    conn: &mut DbConnection,
    row: &ContributionRow,
    amount: i64,
    dispute_fee: i64,
    status: &str,
    at: NaiveDateTime,
) -> Result<bool> {
    let updated = diesel::update(
        contributions::table
            .filter(contributions::id.eq(&row.id))
            .filter(contributions::refunded_minor.eq(row.refunded_minor)),
    )
    .set((
        contributions::refunded_minor.eq(row.refunded_minor + amount),
        contributions::dispute_fee_minor.eq(contributions::dispute_fee_minor + dispute_fee),
        contributions::status.eq(status),
        contributions::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok(updated > 0)
}

pub(super) fn set_contribution_status(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    at: NaiveDateTime,
) -> Result<()> {
    diesel::update(contributions::table.filter(contributions::id.eq(id)))
        .set((
            contributions::status.eq(status),
            contributions::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Lowers what a contribution has applied to its pledge by `taken`.
pub(super) fn take_back_pledge_credit(conn: &mut DbConnection, id: &str, taken: i64) -> Result<()> {
    diesel::update(
        contributions::table
            .filter(contributions::id.eq(id))
            .filter(contributions::pledge_applied_minor.ge(taken)),
    )
    .set(contributions::pledge_applied_minor.eq(contributions::pledge_applied_minor - taken))
    .execute(conn)?;
    Ok(())
}

/// The pool a ledger row belongs to.
pub(super) fn pool(conn: &mut DbConnection, pool_id: &str) -> Result<PoolRow> {
    crate::pools::store::find(conn, pool_id)?.ok_or(Error::NotFound { what: "pool" })
}
