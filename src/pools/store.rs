//! Rows and queries for pools.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::pools;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::pagination::PageRequest;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pools)]
pub struct PoolRow {
    pub collective_id: String,
    pub id: String,
    pub name: String,
    pub description: String,
    pub currency: String,
    pub exponent: i32,
    pub goal_minor: Option<i64>,
    pub max_request_minor: Option<i64>,
    pub approvals_needed: i32,
    pub fast_track_limit_minor: Option<i64>,
    pub requesters: String,
    pub public: bool,
    pub available_minor: i64,
    pub held_minor: i64,
    pub deficit_minor: i64,
    pub received_minor: i64,
    pub refunded_minor: i64,
    pub fees_minor: i64,
    pub paid_minor: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<PoolRow>> {
    Ok(pools::table
        .find(id)
        .select(PoolRow::as_select())
        .get_result(conn)
        .optional()?)
}

/// Locks the pool's row for the rest of the transaction and reads it fresh.
/// Every change to a pool's money goes through here first, so changes to one
/// pool queue up behind each other on PostgreSQL (SQLite's write
/// transactions are serial anyway). Lock order: pool, then hold, then
/// disbursement.
pub fn lock(conn: &mut DbConnection, id: &str) -> Result<PoolRow> {
    let row = pools::table.find(id);
    let found = match conn {
        // Every write on SQLite runs in a transaction begun `IMMEDIATE`
        // (the writer's batch, `write_tx`): it holds the database's one
        // write lock already, so a read is as good as a lock, and writes
        // nothing.
        DbConnection::Sqlite(c) => row.select(PoolRow::as_select()).get_result(c).optional()?,
        // Locked (as an `UPDATE` of its balances locks it: other rows may
        // still refer to it) and read in one statement. Not an `UPDATE`,
        // which would leave a new version of the row for every command of
        // a batch (PostgreSQL keeps them all until the batch commits, and
        // each later read walks past them); and kept prepared, where
        // diesel prepares an `UPDATE` anew at each call.
        DbConnection::Postgres(c) => row
            .select(PoolRow::as_select())
            .for_no_key_update()
            .get_result(c)
            .optional()?,
    };
    found.ok_or(Error::NotFound { what: "pool" })
}

pub fn list(
    conn: &mut DbConnection,
    collective_id: &str,
    page: &PageRequest,
) -> Result<Vec<PoolRow>> {
    let mut query = pools::table
        .filter(pools::collective_id.eq(collective_id))
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(pools::id.gt(after.clone()));
    }
    Ok(query
        .order(pools::id.asc())
        .limit(page.limit + 1)
        .select(PoolRow::as_select())
        .load(conn)?)
}
