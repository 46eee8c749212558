//! Password-reset links an admin passes on.
//!
//! Until the service sends mail, a person who forgot their password asks an
//! admin of a collective they belong to. The admin issues a link (single
//! use, a day long) and passes it on; the admin never sees, sets or learns
//! the password. Opening the link lets the person choose a new password;
//! that ends every sign-in of theirs. A second factor, if the person has
//! one, is still asked at the next sign-in: a reset link is no way around it.
//!
//! Asking for a link answers alike whatever the email: for someone who is
//! not an active or suspended member of the admin's collective, a link is
//! made the same way but kept nowhere, so it opens nothing. Both are audited
//! alike. Only the token's digest is stored.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use serde_json::json;

use super::access::{authorize, Actor, Principal, Who};
use super::account::end_sign_ins;
use super::password::{check_new_password, digest, hash_off_connection, new_secret};
use super::policy::{MembershipStatus, Permission, Role};
use crate::db::schema::{memberships, password_resets, users};
use crate::db::{write_tx, Db, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{new_id, now};
use crate::{audit, collectives};

/// How long a reset link works.
pub const RESET_TTL: TimeDelta = TimeDelta::days(1);

/// A link just issued: its token is shown to the admin this once.
#[derive(Debug, Clone)]
pub struct IssuedReset {
    pub token: String,
    pub expires_at: NaiveDateTime,
}

/// An admin of `collective_id` asks for a reset link for `email`.
pub fn issue(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    email: &str,
) -> Result<IssuedReset> {
    let email = collectives::check_email("email", email)?;
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::IssuePasswordResets,
            "collective",
        )?;
        let at = now();
        let token = new_secret("cpw");
        let id = new_id();
        let expires_at = at + RESET_TTL;
        let member: Option<String> = memberships::table
            .inner_join(users::table)
            .filter(memberships::collective_id.eq(collective_id))
            .filter(users::email.eq(&email))
            .filter(users::password_hash.is_not_null())
            .filter(memberships::status.eq_any([
                MembershipStatus::Active.as_str(),
                MembershipStatus::Suspended.as_str(),
            ]))
            .select(users::id)
            .first(conn)
            .optional()?;
        if let Some(user_id) = member {
            // An earlier link of theirs stops working: one at a time.
            diesel::update(
                password_resets::table
                    .filter(password_resets::user_id.eq(&user_id))
                    .filter(password_resets::used_at.is_null()),
            )
            .set(password_resets::used_at.eq(at))
            .execute(conn)?;
            diesel::insert_into(password_resets::table)
                .values((
                    password_resets::collective_id.eq(collective_id),
                    password_resets::id.eq(&id),
                    password_resets::user_id.eq(&user_id),
                    password_resets::token_hash.eq(digest(&token)),
                    password_resets::issued_by.eq(actor.id()),
                    password_resets::expires_at.eq(expires_at),
                    password_resets::created_at.eq(at),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            &actor,
            "password_reset.issued",
            "password_reset",
            &id,
            json!({"email": email, "expires_at": expires_at}),
        )?;
        Ok(IssuedReset { token, expires_at })
    })
}

/// What a reset link is for, as its page shows it.
#[derive(Debug, Clone)]
pub struct ResetLink {
    pub email: String,
    pub expires_at: NaiveDateTime,
}

/// collective, id, user, expiry.
type ResetRow = (String, String, String, NaiveDateTime);

/// A reset link that can still be used, or why not: unknown or used (404),
/// expired (409 `reset_link_expired`).
fn usable(conn: &mut DbConnection, token: &str, at: NaiveDateTime) -> Result<ResetRow> {
    let row: Option<ResetRow> = password_resets::table
        .filter(password_resets::token_hash.eq(digest(token.trim())))
        .filter(password_resets::used_at.is_null())
        .select((
            password_resets::collective_id,
            password_resets::id,
            password_resets::user_id,
            password_resets::expires_at,
        ))
        .first(conn)
        .optional()?;
    let row = row.ok_or(Error::NotFound {
        what: "password-reset link",
    })?;
    if row.3 <= at {
        return Err(Error::conflict(
            "reset_link_expired",
            "this password-reset link has expired; ask an admin for a new one",
        ));
    }
    Ok(row)
}

/// The account a usable link is for (its page names the email).
pub fn find(conn: &mut DbConnection, token: &str) -> Result<ResetLink> {
    let (_, _, user_id, expires_at) = usable(conn, token, now())?;
    let email: String = users::table
        .find(&user_id)
        .select(users::email)
        .first(conn)?;
    Ok(ResetLink { email, expires_at })
}

/// Sets a new password through a reset link, uses the link up, and ends
/// every sign-in of the person (they sign in afresh, with their second
/// factor if they have one).
pub async fn complete(db: &Db, token: String, new_password: String) -> Result<()> {
    check_new_password("new_password", &new_password)?;
    // A link that cannot be used costs no password hash.
    let lookup = token.clone();
    db.run(move |conn| usable(conn, &lookup, now()).map(drop))
        .await?;
    let hash = hash_off_connection(new_password).await;
    db.run(move |conn| {
        write_tx(conn, |conn| {
            let at = now();
            let (collective_id, id, user_id, _) = usable(conn, &token, at)?;
            // Claimed by one caller only: a link works once.
            let claimed = diesel::update(
                password_resets::table
                    .filter(password_resets::collective_id.eq(&collective_id))
                    .filter(password_resets::id.eq(&id))
                    .filter(password_resets::used_at.is_null()),
            )
            .set(password_resets::used_at.eq(at))
            .execute(conn)?;
            if claimed == 0 {
                return Err(Error::NotFound {
                    what: "password-reset link",
                });
            }
            diesel::update(users::table.find(&user_id))
                .set((users::password_hash.eq(&hash), users::updated_at.eq(at)))
                .execute(conn)?;
            let ended = end_sign_ins(conn, &user_id, None)?;
            let membership_id: String = memberships::table
                .filter(memberships::collective_id.eq(&collective_id))
                .filter(memberships::user_id.eq(&user_id))
                .select(memberships::id)
                .first(conn)
                .optional()?
                .unwrap_or_default();
            let actor = Actor {
                collective_id: collective_id.clone(),
                who: Who::Member {
                    user_id: user_id.clone(),
                    membership_id,
                    role: Role::Member,
                },
            };
            audit::record(
                conn,
                &actor,
                "password_reset.used",
                "password_reset",
                &id,
                json!({"web_sessions_ended": ended.web_sessions,
                       "api_sign_ins_ended": ended.api_sign_ins}),
            )
        })
    })
    .await
}
