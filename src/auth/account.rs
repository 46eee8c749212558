//! People look after their own accounts: change the password, sign out
//! everywhere.
//!
//! A sign-in is a family of refresh tokens (the API) or a web session (the
//! pages). Changing the password ends every other one of them: the web
//! session the change came from stays; an API caller gets a fresh sign-in
//! in the answer, since an access token does not say which sign-in it came
//! from. "Sign out everywhere" ends all of them. Access tokens already
//! issued run until they expire (`access_token_ttl_secs`, 15 minutes):
//! they are checked by signature alone.
//!
//! The current password is checked like a sign-in: claimed against the
//! sign-in throttle first (the account's counter and the address's), off
//! any database connection, and a wrong one stays counted — a stolen access
//! token is no way to guess the password faster than the sign-in form.

use diesel::prelude::*;

use super::password::{check_new_password, digest, hash_off_connection, verify_off_connection};
use super::service::{self, Issued};
use super::throttle::{self, Limit};
use super::tokens::Keys;
use crate::config::Settings;
use crate::db::schema::{refresh_tokens, users, web_sessions};
use crate::db::{write_tx, Db, DbConnection};
use crate::error::{Error, Result};
use crate::ids::now;

/// Which sign-in a password change keeps.
#[derive(Debug, Clone)]
pub enum Current {
    /// The web session with this cookie value stays.
    WebSession(String),
    /// An API caller: every sign-in ends, and a new one is answered.
    NewSignIn,
}

/// What a password change hands back: for an API caller, its new sign-in.
#[derive(Debug)]
pub struct Changed {
    pub issued: Option<Issued>,
}

/// The refusal of a wrong current password.
pub fn wrong_password() -> Error {
    Error::Forbidden {
        code: "wrong_password",
        message: "current_password is wrong".into(),
    }
}

/// Checks a person's current password like a sign-in (see the module's
/// doc): claimed against the throttle first, verified off any database
/// connection; a wrong one stays counted (403 `wrong_password`). Answers
/// the hash that was checked.
pub(crate) async fn check_current_password(
    db: &Db,
    settings: &Settings,
    user_id: &str,
    password: String,
    address: &str,
) -> Result<Option<String>> {
    if password.is_empty() {
        return Err(Error::invalid("current_password", "must not be empty"));
    }
    let window = settings.login_window_secs;
    let max = settings.login_max_failures;
    let (lookup, address) = (user_id.to_owned(), address.to_owned());
    let (claim, hash) = db
        .run(move |conn| {
            let (email, hash): (String, Option<String>) = users::table
                .find(&lookup)
                .select((users::email, users::password_hash))
                .first(conn)
                .optional()?
                .ok_or(Error::NotFound { what: "user" })?;
            let limits = Limit::for_account(&email, &address, max);
            let claim = throttle::claim(conn, &limits, window, now())?;
            Ok((claim, hash))
        })
        .await?;
    if !verify_off_connection(password, hash.clone()).await {
        // The claim stays counted: that is the failure.
        return Err(wrong_password());
    }
    db.run(move |conn| throttle::give_back(conn, claim)).await?;
    Ok(hash)
}

/// Changes a person's password after checking the current one, and ends
/// every other sign-in of theirs (see the module's doc).
#[allow(clippy::too_many_arguments)]
pub async fn change_password(
    db: &Db,
    keys: &Keys,
    settings: &Settings,
    user_id: &str,
    current_password: String,
    new_password: String,
    address: &str,
    current: Current,
) -> Result<Changed> {
    check_new_password("new_password", &new_password)?;
    if new_password == current_password {
        return Err(Error::invalid(
            "new_password",
            "is the same as current_password; choose a new one",
        ));
    }
    let hash = check_current_password(db, settings, user_id, current_password, address).await?;
    let new_hash = hash_off_connection(new_password).await;
    let (keys, settings, user_id) = (keys.clone(), settings.clone(), user_id.to_owned());
    db.run(move |conn| {
        write_tx(conn, |conn| {
            // Only over the hash that was checked: two changes at once do
            // not both win.
            let changed = diesel::update(
                users::table
                    .find(&user_id)
                    .filter(users::password_hash.eq(hash.as_deref())),
            )
            .set((
                users::password_hash.eq(&new_hash),
                users::updated_at.eq(now()),
            ))
            .execute(conn)?;
            if changed == 0 {
                return Err(Error::conflict(
                    "concurrent_change",
                    "the password was changed meanwhile; sign in again",
                ));
            }
            let keep = match &current {
                Current::WebSession(cookie) => Some(cookie.as_str()),
                Current::NewSignIn => None,
            };
            end_sign_ins(conn, &user_id, keep)?;
            let issued = match current {
                Current::WebSession(_) => None,
                Current::NewSignIn => {
                    Some(service::issue_tokens(conn, &keys, &settings, &user_id)?)
                }
            };
            Ok(Changed { issued })
        })
    })
    .await
}

/// How many sign-ins "sign out everywhere" ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedOut {
    /// Web sessions ended.
    pub web_sessions: usize,
    /// API sign-ins (families of refresh tokens) revoked.
    pub api_sign_ins: usize,
}

/// Ends every sign-in of a person: all their web sessions and refresh tokens.
pub fn sign_out_everywhere(conn: &mut DbConnection, user_id: &str) -> Result<SignedOut> {
    write_tx(conn, |conn| end_sign_ins(conn, user_id, None))
}

/// Revokes every refresh token of `user_id` and deletes their web sessions
/// but the one whose cookie is `keep`.
pub(crate) fn end_sign_ins(
    conn: &mut DbConnection,
    user_id: &str,
    keep: Option<&str>,
) -> Result<SignedOut> {
    let at = now();
    let families: Vec<String> = refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::expires_at.gt(at))
        .select(refresh_tokens::family_id)
        .distinct()
        .load(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(conn)?;
    let keep = keep.map(digest).unwrap_or_default();
    let web_sessions = diesel::delete(
        web_sessions::table
            .filter(web_sessions::user_id.eq(user_id))
            .filter(web_sessions::id_hash.ne(keep)),
    )
    .execute(conn)?;
    Ok(SignedOut {
        web_sessions,
        api_sign_ins: families.len(),
    })
}
