//! Rows and queries for issues and declarations of affectedness.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::crypto;
use crate::db::schema::{affectedness, issues};
use crate::db::DbConnection;
use crate::error::Result;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = issues)]
pub struct IssueRow {
    pub collective_id: String,
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = affectedness)]
pub struct DeclarationRow {
    pub collective_id: String,
    pub membership_id: String,
    pub issue_id: String,
    pub tier: String,
    pub verified_by: Option<String>,
    pub verified_at: Option<NaiveDateTime>,
    pub declared_at: NaiveDateTime,
}

/// A declaration's tier is sealed (`crate::crypto`), bound to its member and
/// issue.
const TIER: crypto::Field = crypto::AFFECTEDNESS_TIER;

impl DeclarationRow {
    /// The row id the tier is sealed for (as `TIER.id_sql` writes it).
    fn place(&self) -> String {
        format!("{}/{}", self.membership_id, self.issue_id)
    }
}

pub fn issues_of(conn: &mut DbConnection, collective_id: &str) -> Result<Vec<IssueRow>> {
    Ok(issues::table
        .filter(issues::collective_id.eq(collective_id))
        .order(issues::id.asc())
        .select(IssueRow::as_select())
        .load(conn)?)
}

pub fn declarations_of(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
) -> Result<Vec<DeclarationRow>> {
    affectedness::table
        .filter(affectedness::collective_id.eq(collective_id))
        .filter(affectedness::membership_id.eq(membership_id))
        .order(affectedness::issue_id.asc())
        .select(DeclarationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|mut row: DeclarationRow| {
            crypto::open_in(TIER.table, TIER.column, &row.place(), &mut row.tier)?;
            Ok(row)
        })
        .collect()
}

/// Replaces a member's declarations with `rows`.
pub fn replace(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
    rows: &[DeclarationRow],
) -> Result<()> {
    diesel::delete(
        affectedness::table
            .filter(affectedness::collective_id.eq(collective_id))
            .filter(affectedness::membership_id.eq(membership_id)),
    )
    .execute(conn)?;
    for row in rows {
        let mut sealed = row.clone();
        crypto::seal_in(TIER.table, TIER.column, &row.place(), &mut sealed.tier)?;
        diesel::insert_into(affectedness::table)
            .values(sealed)
            .execute(conn)?;
    }
    Ok(())
}

/// Marks one declaration verified; false when there is none.
pub fn verify(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
    issue_id: &str,
    by: &str,
    at: NaiveDateTime,
) -> Result<bool> {
    let updated = diesel::update(
        affectedness::table
            .filter(affectedness::collective_id.eq(collective_id))
            .filter(affectedness::membership_id.eq(membership_id))
            .filter(affectedness::issue_id.eq(issue_id)),
    )
    .set((
        affectedness::verified_by.eq(Some(by)),
        affectedness::verified_at.eq(Some(at)),
    ))
    .execute(conn)?;
    Ok(updated > 0)
}
