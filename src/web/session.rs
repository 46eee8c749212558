//! Browser sessions, kept on the server. The cookie carries a random id;
//! the table keeps only its digest, the user it signs in, the token every
//! form of the session must send back (CSRF), and when it expires. A
//! session ends when its person signs out, after `session_ttl_secs` without
//! a click, or when they end every session at once. No actix here: the
//! cookie itself is `web::extract`'s business.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::auth::password::{digest, new_secret};
use crate::db::schema::web_sessions;
use crate::db::{write_tx, DbConnection};
use crate::error::Result;
use crate::ids::now;

/// A live session.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = web_sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// How often a session's expiry slides forward: not on every click, so
/// reading pages does not write to the database each time.
const TOUCH_EVERY: TimeDelta = TimeDelta::minutes(1);

/// Starts a session for `user_id`; answers the cookie value (shown only
/// here) and the stored row.
pub fn start(
    conn: &mut DbConnection,
    user_id: &str,
    ttl_secs: u64,
) -> Result<(String, SessionRow)> {
    let id = new_secret("cps");
    let at = now();
    let row = SessionRow {
        id_hash: digest(&id),
        user_id: user_id.to_owned(),
        csrf_token: new_secret("csrf"),
        created_at: at,
        last_seen_at: at,
        expires_at: at + ttl(ttl_secs),
    };
    write_tx(conn, |conn| {
        diesel::insert_into(web_sessions::table)
            .values(&row)
            .execute(conn)
    })?;
    Ok((id, row))
}

fn ttl(secs: u64) -> TimeDelta {
    TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 2_000).max(60))
}

/// The live session a cookie names, its expiry moved forward; `None` for
/// an unknown, ended or expired one.
pub fn find(conn: &mut DbConnection, cookie: &str, ttl_secs: u64) -> Result<Option<SessionRow>> {
    let at = now();
    let found: Option<SessionRow> = web_sessions::table
        .find(digest(cookie))
        .select(SessionRow::as_select())
        .get_result(conn)
        .optional()?;
    let Some(mut row) = found.filter(|row| row.expires_at > at) else {
        return Ok(None);
    };
    if at - row.last_seen_at >= TOUCH_EVERY {
        row.last_seen_at = at;
        row.expires_at = at + ttl(ttl_secs);
        write_tx(conn, |conn| {
            diesel::update(web_sessions::table.find(&row.id_hash))
                .set((
                    web_sessions::last_seen_at.eq(row.last_seen_at),
                    web_sessions::expires_at.eq(row.expires_at),
                ))
                .execute(conn)
        })?;
    }
    Ok(Some(row))
}

/// Ends the session a cookie names (nothing if there is none).
pub fn end(conn: &mut DbConnection, cookie: &str) -> Result<()> {
    write_tx(conn, |conn| {
        diesel::delete(web_sessions::table.find(digest(cookie))).execute(conn)
    })?;
    Ok(())
}

/// Ends every session of a person but the one named (by its cookie), as a
/// password change or "sign out everywhere" needs. Answers how many ended.
pub fn end_all_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    except_cookie: Option<&str>,
) -> Result<usize> {
    let keep = except_cookie.map(digest).unwrap_or_default();
    Ok(write_tx(conn, |conn| {
        diesel::delete(
            web_sessions::table
                .filter(web_sessions::user_id.eq(user_id))
                .filter(web_sessions::id_hash.ne(keep)),
        )
        .execute(conn)
    })?)
}

/// Removes expired sessions (housekeeping).
pub fn purge_expired(conn: &mut DbConnection) -> Result<usize> {
    Ok(write_tx(conn, |conn| {
        diesel::delete(web_sessions::table.filter(web_sessions::expires_at.le(now()))).execute(conn)
    })?)
}
