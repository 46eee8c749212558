//! Rows and queries for pledges, their installments and the payments that
//! fulfil them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{pledge_installments, pledge_payments, pledges};
use crate::db::{is_unique_violation, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{new_id, now};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pledges)]
pub struct PledgeRow {
    pub collective_id: String,
    pub id: String,
    pub pool_id: String,
    pub member_id: Option<String>,
    pub donor_name: Option<String>,
    pub donor_email: Option<String>,
    pub anonymous: bool,
    pub amount_minor: i64,
    pub frequency: String,
    pub installments: i32,
    pub starts_on: NaiveDate,
    pub grace_days: i32,
    pub status: String,
    pub paused_on: Option<NaiveDate>,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pledge_installments)]
pub struct InstallmentRow {
    pub collective_id: String,
    pub id: String,
    pub pledge_id: String,
    pub seq: i32,
    pub due_on: NaiveDate,
    pub amount_minor: i64,
    pub paid_minor: i64,
    /// `open`, `paid` or `waived`.
    pub status: String,
    pub updated_at: NaiveDateTime,
}

impl PledgeRow {
    /// The row as stored: the donor's name, email and the note sealed
    /// (`crate::crypto`, issue #24).
    fn sealed(&self) -> Result<PledgeRow> {
        let mut row = self.clone();
        let id = &self.id;
        crate::crypto::seal_opt_in("pledges", "donor_name", id, &mut row.donor_name)?;
        crate::crypto::seal_opt_in("pledges", "donor_email", id, &mut row.donor_email)?;
        crate::crypto::seal_opt_in("pledges", "note", id, &mut row.note)?;
        Ok(row)
    }

    /// The row as read: those fields opened.
    fn opened(mut self) -> Result<PledgeRow> {
        let id = self.id.clone();
        crate::crypto::open_opt_in("pledges", "donor_name", &id, &mut self.donor_name)?;
        crate::crypto::open_opt_in("pledges", "donor_email", &id, &mut self.donor_email)?;
        crate::crypto::open_opt_in("pledges", "note", &id, &mut self.note)?;
        Ok(self)
    }
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<PledgeRow>> {
    pledges::table
        .find(id)
        .select(PledgeRow::as_select())
        .get_result(conn)
        .optional()?
        .map(PledgeRow::opened)
        .transpose()
}

/// Locks the pledge's row for the rest of the transaction and reads it
/// fresh. Lock order: pool, then pledge.
pub fn lock(conn: &mut DbConnection, id: &str) -> Result<PledgeRow> {
    let locked = diesel::update(pledges::table.find(id))
        .set(pledges::version.eq(pledges::version))
        .execute(conn)?;
    if locked == 0 {
        return Err(Error::NotFound { what: "pledge" });
    }
    find(conn, id)?.ok_or(Error::NotFound { what: "pledge" })
}

pub fn insert(conn: &mut DbConnection, row: &PledgeRow) -> Result<()> {
    diesel::insert_into(pledges::table)
        .values(row.sealed()?)
        .execute(conn)?;
    Ok(())
}

/// The stored installments of some pledges, by pledge and then in order.
pub fn installments_of(
    conn: &mut DbConnection,
    pledge_ids: &[&str],
) -> Result<Vec<InstallmentRow>> {
    if pledge_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(pledge_installments::table
        .filter(pledge_installments::pledge_id.eq_any(pledge_ids.to_vec()))
        .order((pledge_installments::pledge_id, pledge_installments::seq))
        .select(InstallmentRow::as_select())
        .load(conn)?)
}

/// Stores an installment unless it is stored already (by another replica's
/// sweep, say): the unique key on (pledge, seq) decides, inside a savepoint.
pub fn insert_installment(conn: &mut DbConnection, row: &InstallmentRow) -> Result<bool> {
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(pledge_installments::table)
            .values(row)
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Adds `amount` (negative to take back) to what an installment has been
/// paid, if it still shows `expected_paid`; marks it paid when full and open
/// again when not (a waived one stays waived).
pub fn add_paid(conn: &mut DbConnection, installment: &InstallmentRow, amount: i64) -> Result<()> {
    let paid = installment.paid_minor + amount;
    let status = match installment.status.as_str() {
        "waived" => "waived",
        _ if paid == installment.amount_minor => "paid",
        _ => "open",
    };
    let updated = diesel::update(
        pledge_installments::table
            .filter(pledge_installments::collective_id.eq(&installment.collective_id))
            .filter(pledge_installments::id.eq(&installment.id))
            .filter(pledge_installments::paid_minor.eq(installment.paid_minor)),
    )
    .set((
        pledge_installments::paid_minor.eq(paid),
        pledge_installments::status.eq(status),
        pledge_installments::updated_at.eq(now()),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(Error::Internal(format!(
            "installment {} changed under its pledge's lock",
            installment.id
        )));
    }
    Ok(())
}

/// Waives the open installments of a pledge due in `[from, until)` (either
/// bound may be open). Returns how many.
pub fn waive_open(
    conn: &mut DbConnection,
    pledge_id: &str,
    from: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Result<usize> {
    let mut query = diesel::update(pledge_installments::table)
        .filter(pledge_installments::pledge_id.eq(pledge_id))
        .filter(pledge_installments::status.eq("open"))
        .into_boxed();
    if let Some(from) = from {
        query = query.filter(pledge_installments::due_on.ge(from));
    }
    if let Some(until) = until {
        query = query.filter(pledge_installments::due_on.lt(until));
    }
    Ok(query
        .set((
            pledge_installments::status.eq("waived"),
            pledge_installments::updated_at.eq(now()),
        ))
        .execute(conn)?)
}

/// Records the stance and status of a pledge and bumps its version.
pub fn set_status(
    conn: &mut DbConnection,
    row: &PledgeRow,
    status: &str,
    paused_on: Option<NaiveDate>,
) -> Result<()> {
    let updated = diesel::update(
        pledges::table
            .filter(pledges::id.eq(&row.id))
            .filter(pledges::version.eq(row.version)),
    )
    .set((
        pledges::status.eq(status),
        pledges::paused_on.eq(paused_on),
        pledges::updated_at.eq(now()),
        pledges::version.eq(row.version + 1),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(Error::Internal(format!(
            "pledge {} changed under its lock",
            row.id
        )));
    }
    Ok(())
}

/// Moves a pledge from `active` to `lapsed`, if it is still active: safe to
/// run from several replicas at once, only one of them changes the row.
pub fn mark_lapsed(conn: &mut DbConnection, id: &str) -> Result<bool> {
    let updated = diesel::update(
        pledges::table
            .filter(pledges::id.eq(id))
            .filter(pledges::status.eq("active")),
    )
    .set((
        pledges::status.eq("lapsed"),
        pledges::updated_at.eq(now()),
        pledges::version.eq(pledges::version + 1),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

pub fn insert_payment(
    conn: &mut DbConnection,
    installment: &InstallmentRow,
    contribution_id: &str,
    amount: i64,
) -> Result<()> {
    diesel::insert_into(pledge_payments::table)
        .values((
            pledge_payments::collective_id.eq(&installment.collective_id),
            pledge_payments::id.eq(new_id()),
            pledge_payments::pledge_id.eq(&installment.pledge_id),
            pledge_payments::installment_id.eq(&installment.id),
            pledge_payments::contribution_id.eq(contribution_id),
            pledge_payments::amount_minor.eq(amount),
            pledge_payments::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// What a contribution has paid, per installment id (net of take-backs).
pub fn paid_by_contribution(
    conn: &mut DbConnection,
    contribution_id: &str,
) -> Result<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = pledge_payments::table
        .filter(pledge_payments::contribution_id.eq(contribution_id))
        .order(pledge_payments::id.asc())
        .select((
            pledge_payments::installment_id,
            pledge_payments::amount_minor,
        ))
        .load(conn)?;
    let mut net: Vec<(String, i64)> = Vec::new();
    for (installment, amount) in rows {
        match net.iter_mut().find(|(i, _)| *i == installment) {
            Some((_, sum)) => *sum += amount,
            None => net.push((installment, amount)),
        }
    }
    Ok(net)
}

/// Which pledges to list.
#[derive(Debug, Default, Clone)]
pub struct PledgeFilter {
    pub pool_id: Option<String>,
    pub collective_id: Option<String>,
    pub member_id: Option<String>,
    /// Stored statuses to consider.
    pub stored_statuses: Option<Vec<&'static str>>,
}

/// Up to `limit` pledges after the cursor, in id order.
pub fn list(
    conn: &mut DbConnection,
    filter: &PledgeFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<PledgeRow>> {
    let mut query = pledges::table.into_boxed();
    if let Some(pool) = &filter.pool_id {
        query = query.filter(pledges::pool_id.eq(pool.clone()));
    }
    if let Some(collective) = &filter.collective_id {
        query = query.filter(pledges::collective_id.eq(collective.clone()));
    }
    if let Some(member) = &filter.member_id {
        query = query.filter(pledges::member_id.eq(member.clone()));
    }
    if let Some(statuses) = &filter.stored_statuses {
        query = query.filter(pledges::status.eq_any(statuses.clone()));
    }
    if let Some(after) = after {
        query = query.filter(pledges::id.gt(after.to_owned()));
    }
    query
        .order(pledges::id.asc())
        .limit(limit)
        .select(PledgeRow::as_select())
        .load(conn)?
        .into_iter()
        .map(PledgeRow::opened)
        .collect()
}

/// Ids of the pledges the scheduled sweep looks at: those still running.
pub fn running_ids(conn: &mut DbConnection) -> Result<Vec<String>> {
    Ok(pledges::table
        .filter(pledges::status.eq_any(["active", "paused"]))
        .order(pledges::id.asc())
        .select(pledges::id)
        .load(conn)?)
}
