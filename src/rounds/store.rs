//! Rows and queries for rounds, their candidates and ballots.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{ballots, round_candidates, rounds};
use crate::db::DbConnection;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rounds)]
pub struct RoundRow {
    pub collective_id: String,
    pub id: String,
    pub pool_id: String,
    pub title: String,
    pub budget_minor: i64,
    pub ballot: String,
    pub rule: String,
    pub policy: String,
    pub phase: String,
    pub hold_id: Option<String>,
    pub result: Option<String>,
    pub created_by: String,
    pub opened_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub tallied_at: Option<NaiveDateTime>,
    pub enacted_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub min_support: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ballots)]
pub struct BallotRow {
    pub collective_id: String,
    pub id: String,
    pub round_id: String,
    pub membership_id: String,
    pub choices: String,
    pub weight: Option<i32>,
    pub tier: Option<String>,
    pub set_aside: bool,
    pub cast_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Column changes; `None` leaves a column be.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = rounds)]
pub struct RoundChanges {
    pub title: Option<String>,
    pub budget_minor: Option<i64>,
    pub ballot: Option<String>,
    pub rule: Option<String>,
    pub policy: Option<String>,
    pub min_support: Option<Option<i64>>,
    pub phase: Option<String>,
    pub hold_id: Option<Option<String>>,
    pub result: Option<Option<String>>,
    pub opened_at: Option<Option<NaiveDateTime>>,
    pub closed_at: Option<Option<NaiveDateTime>>,
    pub tallied_at: Option<Option<NaiveDateTime>>,
    pub enacted_at: Option<Option<NaiveDateTime>>,
    pub cancelled_at: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
    pub version: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &RoundRow) -> Result<()> {
    diesel::insert_into(rounds::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<RoundRow>> {
    Ok(rounds::table
        .find(id)
        .select(RoundRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Locks the round's row for the rest of the transaction and reads it fresh.
pub fn lock(conn: &mut DbConnection, id: &str) -> Result<RoundRow> {
    let locked = diesel::update(rounds::table.find(id))
        .set(rounds::version.eq(rounds::version))
        .execute(conn)?;
    if locked == 0 {
        return Err(Error::NotFound { what: "round" });
    }
    find(conn, id)?.ok_or(Error::NotFound { what: "round" })
}

/// Writes `changes` guarded by the version read; false if it moved on.
pub fn update(conn: &mut DbConnection, row: &RoundRow, changes: &RoundChanges) -> Result<bool> {
    let updated = diesel::update(
        rounds::table
            .filter(rounds::id.eq(&row.id))
            .filter(rounds::version.eq(row.version)),
    )
    .set(changes)
    .execute(conn)?;
    Ok(updated > 0)
}

pub fn list(conn: &mut DbConnection, collective_id: &str) -> Result<Vec<RoundRow>> {
    Ok(rounds::table
        .filter(rounds::collective_id.eq(collective_id))
        .order(rounds::id.asc())
        .select(RoundRow::as_select())
        .load(conn)?)
}

/// The round's candidate request ids, in the order given.
pub fn candidates(conn: &mut DbConnection, round_id: &str) -> Result<Vec<String>> {
    Ok(round_candidates::table
        .filter(round_candidates::round_id.eq(round_id))
        .order(round_candidates::position.asc())
        .select(round_candidates::request_id)
        .load(conn)?)
}

pub fn set_candidates(
    conn: &mut DbConnection,
    collective_id: &str,
    round_id: &str,
    ids: &[String],
) -> Result<()> {
    diesel::delete(round_candidates::table.filter(round_candidates::round_id.eq(round_id)))
        .execute(conn)?;
    for (position, id) in ids.iter().enumerate() {
        diesel::insert_into(round_candidates::table)
            .values((
                round_candidates::collective_id.eq(collective_id),
                round_candidates::round_id.eq(round_id),
                round_candidates::request_id.eq(id),
                round_candidates::position.eq(position as i32),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn ballot_of(
    conn: &mut DbConnection,
    collective_id: &str,
    round_id: &str,
    membership_id: &str,
) -> Result<Option<BallotRow>> {
    // By the unique key (collective, round, membership): without the
    // collective, SQLite reads every ballot of the round.
    Ok(ballots::table
        .filter(ballots::collective_id.eq(collective_id))
        .filter(ballots::round_id.eq(round_id))
        .filter(ballots::membership_id.eq(membership_id))
        .select(BallotRow::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn ballots_of(conn: &mut DbConnection, round_id: &str) -> Result<Vec<BallotRow>> {
    Ok(ballots::table
        .filter(ballots::round_id.eq(round_id))
        .order(ballots::id.asc())
        .select(BallotRow::as_select())
        .load(conn)?)
}

pub fn insert_ballot(conn: &mut DbConnection, row: &BallotRow) -> Result<()> {
    diesel::insert_into(ballots::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn replace_choices(
    conn: &mut DbConnection,
    id: &str,
    choices: &str,
    at: NaiveDateTime,
) -> Result<()> {
    diesel::update(ballots::table.find(id))
        .set((ballots::choices.eq(choices), ballots::updated_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

pub fn delete_ballot(conn: &mut DbConnection, id: &str) -> Result<()> {
    diesel::delete(ballots::table.find(id)).execute(conn)?;
    Ok(())
}

/// Once a closed round's weights are fixed: keeps its participation per tier
/// (`{"tier": [voters, total weight]}`, counts only) on the round, then
/// removes every ballot's link to its member (a ballot then names itself)
/// and its tier, and its times become the closing time — so no ballot and
/// no weight can be traced to a person, even with the database in hand.
pub fn unlink_ballots(
    conn: &mut DbConnection,
    round_id: &str,
    participation: &str,
    at: NaiveDateTime,
) -> Result<()> {
    diesel::update(rounds::table.find(round_id))
        .set(rounds::participation.eq(Some(participation)))
        .execute(conn)?;
    diesel::update(ballots::table.filter(ballots::round_id.eq(round_id)))
        .set((
            ballots::membership_id.eq(ballots::id),
            ballots::tier.eq(None::<String>),
            ballots::cast_at.eq(at),
            ballots::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The participation per tier kept when the round closed, if it was.
pub fn participation(conn: &mut DbConnection, round_id: &str) -> Result<Option<String>> {
    Ok(rounds::table
        .find(round_id)
        .select(rounds::participation)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Fixes a ballot's weight and tier when the round closes, or sets it aside.
pub fn fix_weight(
    conn: &mut DbConnection,
    id: &str,
    weight: Option<i32>,
    tier: Option<&str>,
    set_aside: bool,
) -> Result<()> {
    diesel::update(ballots::table.find(id))
        .set((
            ballots::weight.eq(weight),
            ballots::tier.eq(tier),
            ballots::set_aside.eq(set_aside),
        ))
        .execute(conn)?;
    Ok(())
}
