//! Idempotency keys: a retried request with the same key and body gets the
//! stored answer and moves no more money; the same key with another body is
//! refused. Keys are unique per caller and endpoint, kept at least 24 hours
//! (48 in fact; older ones are forgotten).
//!
//! The key is claimed, the work done and its answer stored in one
//! transaction, so two concurrent requests with one key never both execute
//! (on PostgreSQL the second waits on the key's unique index, then replays;
//! on SQLite write transactions are serial). Business refusals (insufficient
//! funds …) are answers too and are stored; storage failures are not, so a
//! retry after an outage runs the work.

use chrono::TimeDelta;
use diesel::prelude::*;

use crate::db::schema::idempotency_keys;
use crate::db::statement::{Kept, Param};
use crate::db::{is_unique_violation, write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::ids::now;

/// How long a key is remembered.
pub const RETENTION_HOURS: i64 = 48;

/// An answer as sent: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// True when this answer is a replay of a stored one.
    pub replayed: bool,
}

/// Who asked, where, with which key and body.
#[derive(Debug, Clone)]
pub struct Request {
    pub caller: String,
    pub endpoint: String,
    pub key: String,
    pub body_hash: String,
}

fn stored(
    conn: &mut DbConnection,
    request: &Request,
) -> Result<Option<(String, i32, String, chrono::NaiveDateTime)>> {
    let row: Option<(String, i32, String, chrono::NaiveDateTime)> = idempotency_keys::table
        .filter(idempotency_keys::caller.eq(&request.caller))
        .filter(idempotency_keys::endpoint.eq(&request.endpoint))
        .filter(idempotency_keys::key.eq(&request.key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::response_status,
            idempotency_keys::response_body,
            idempotency_keys::created_at,
        ))
        .get_result(conn)
        .optional()?;
    row.map(|(hash, status, body, at)| {
        let body = match body.is_empty() {
            true => body,
            false => crate::crypto::open(ANSWER.table, ANSWER.column, &request.place(), &body)?,
        };
        Ok((hash, status, body, at))
    })
    .transpose()
}

/// Stored answers are sealed as a whole (`crate::crypto`): a request's
/// answer holds its private details.
const ANSWER: crate::crypto::Field = crate::crypto::IDEMPOTENT_ANSWER;

impl Request {
    /// The row id the answer is sealed for (as `ANSWER.id_sql` writes it).
    fn place(&self) -> String {
        format!("{}/{}/{}", self.caller, self.endpoint, self.key)
    }
}

fn replay(request: &Request, hash: String, status: i32, body: String) -> Result<Answer> {
    if hash != request.body_hash {
        return Err(Error::invalid(
            "Idempotency-Key",
            "this key was used with a different request body; use a new key for a new request",
        ));
    }
    Ok(Answer {
        status: status as u16,
        body,
        replayed: true,
    })
}

/// Runs `work` at most once per key. `work` returns the answer to store, or
/// an error that must not be stored (a storage failure).
pub fn run(
    conn: &mut DbConnection,
    request: &Request,
    work: impl FnOnce(&mut DbConnection) -> Result<Answer>,
) -> Result<Answer> {
    write_tx(conn, |conn| once(conn, request, work))
}

/// [`run`] for a command that the writer already runs in its own savepoint
/// (`db::writer`), whose `work` answers every refusal as an [`Answer`]: an
/// error out of it is an outage, and the writer rolls the whole command
/// back. So no savepoint of its own around it (two statements fewer per
/// money write); anywhere else it is [`run`].
pub fn run_in_command(
    conn: &mut DbConnection,
    request: &Request,
    work: impl FnOnce(&mut DbConnection) -> Result<Answer>,
) -> Result<Answer> {
    if crate::db::in_transaction(conn)? {
        once(conn, request, work)
    } else {
        run(conn, request, work)
    }
}

/// The key claimed first (one INSERT: a fresh key, the usual case, needs no
/// read), the stored answer read only when the key is taken.
fn once(
    conn: &mut DbConnection,
    request: &Request,
    work: impl FnOnce(&mut DbConnection) -> Result<Answer>,
) -> Result<Answer> {
    let at = now();
    if !claim(conn, request, at)? {
        // Taken: by an earlier try (replay it), by one now forgotten
        // (claim it afresh), or by a request with this key that finished
        // first on another writer or replica (replay it).
        let (hash, status, body, created) = stored(conn, request)?.ok_or_else(|| {
            Error::Unavailable("the idempotency key was forgotten as it was claimed".into())
        })?;
        if created >= at - TimeDelta::hours(RETENTION_HOURS) {
            return replay(request, hash, status, body);
        }
        forget(conn, request)?;
        if !claim(conn, request, at)? {
            return Err(Error::Unavailable(
                "the idempotency key was claimed again as it was forgotten".into(),
            ));
        }
    }
    let answer = work(conn)?;
    let sealed = crate::crypto::seal(ANSWER.table, ANSWER.column, &request.place(), &answer.body)?;
    // diesel would prepare its `UPDATE` anew at each call: kept instead
    // (`crate::db::statement`), as every money write runs it.
    Kept::<StoreAnswer>::new(&[
        Param::Integer(i32::from(answer.status)),
        Param::Text(&sealed),
        Param::Text(&request.caller),
        Param::Text(&request.endpoint),
        Param::Text(&request.key),
    ])
    .execute_on(conn)?;
    Ok(answer)
}

/// The answer stored on the claimed key.
struct StoreAnswer;

impl crate::db::statement::Sql for StoreAnswer {
    const PIECES: &'static [&'static str] = &[
        "UPDATE idempotency_keys SET response_status = ",
        ", response_body = ",
        " WHERE caller = ",
        " AND endpoint = ",
        " AND key = ",
        "",
    ];
}

/// Inserts the key's row: false when the key is taken. On PostgreSQL a
/// failed statement spoils its transaction, so a taken key is not an error
/// there but `ON CONFLICT DO NOTHING` (no rows inserted: one round trip, no
/// savepoint); on SQLite a failed insert undoes only itself.
fn claim(conn: &mut DbConnection, request: &Request, at: chrono::NaiveDateTime) -> Result<bool> {
    let values = (
        idempotency_keys::caller.eq(&request.caller),
        idempotency_keys::endpoint.eq(&request.endpoint),
        idempotency_keys::key.eq(&request.key),
        idempotency_keys::request_hash.eq(&request.body_hash),
        idempotency_keys::response_status.eq(0),
        idempotency_keys::response_body.eq(""),
        idempotency_keys::created_at.eq(at),
    );
    match conn {
        DbConnection::Sqlite(c) => {
            match diesel::insert_into(idempotency_keys::table)
                .values(values)
                .execute(c)
            {
                Ok(_) => Ok(true),
                Err(e) if is_unique_violation(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        DbConnection::Postgres(c) => Ok(diesel::insert_into(idempotency_keys::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(c)?
            == 1),
    }
}

fn forget(conn: &mut DbConnection, request: &Request) -> Result<()> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::caller.eq(&request.caller))
            .filter(idempotency_keys::endpoint.eq(&request.endpoint))
            .filter(idempotency_keys::key.eq(&request.key)),
    )
    .execute(conn)?;
    Ok(())
}

/// Deletes keys past their retention. Run now and then by `serve`.
pub fn purge_expired(conn: &mut DbConnection) -> Result<usize> {
    let cutoff = now() - TimeDelta::hours(RETENTION_HOURS);
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
            .execute(conn)?,
    )
}
