//! The grants that hand out tokens, revocation, and login throttling.
//!
//! Refresh tokens rotate: each use marks the token rotated and issues a new
//! one in the same family. Presenting a rotated token again means it was
//! copied, so the whole family is revoked. Tokens are stored as digests.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::password::{digest, digests_match, new_secret, verify_password};
use super::policy::Scope;
use super::tokens::{Keys, Subject};
use crate::clients::ClientStatus;
use crate::config::Settings;
use crate::db::schema::{login_throttle, refresh_tokens, users};
use crate::db::{is_unique_violation, write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{new_id, now};
use crate::{clients, collectives};

/// What a successful grant hands back.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

fn invalid_grant(message: &str) -> Error {
    Error::Unauthenticated {
        code: "invalid_grant",
        message: message.to_owned(),
    }
}

/// Password grant: an email and password for an access and refresh token.
pub fn password_grant(
    conn: &mut DbConnection,
    keys: &Keys,
    settings: &Settings,
    email: &str,
    password: &str,
    address: &str,
) -> Result<Issued> {
    let user_id = authenticate(conn, settings, email, password, address)?;
    write_tx(conn, |conn| {
        issue_for_user(conn, keys, settings, &user_id, &new_id())
    })
}

/// Checks an email and password under the sign-in throttle and answers the
/// user id. The token endpoint and the web app's sign-in page both sign in
/// through here, so one throttle covers both.
pub fn authenticate(
    conn: &mut DbConnection,
    settings: &Settings,
    email: &str,
    password: &str,
    address: &str,
) -> Result<String> {
    let email = collectives::normalise_email(email);
    let account_key = format!("account:{email}");
    let address_key = format!("address:{address}");
    let at = now();
    let limits = [
        (account_key.as_str(), settings.login_max_failures),
        (
            address_key.as_str(),
            settings.login_max_failures.saturating_mul(4),
        ),
    ];
    if let Some(wait) = locked_for(conn, &limits, at)? {
        return Err(locked_out(wait));
    }
    let user: Option<(String, Option<String>)> = users::table
        .filter(users::email.eq(&email))
        .select((users::id, users::password_hash))
        .first(conn)
        .optional()?;
    let hash = user.as_ref().and_then(|(_, hash)| hash.as_deref());
    // Unknown accounts are checked against a dummy hash, so both cost alike.
    let verified = verify_password(password, hash);
    match (user, verified) {
        (Some((user_id, _)), true) => {
            write_tx(conn, |conn| clear_failures(conn, &account_key))?;
            Ok(user_id)
        }
        _ => {
            // The failure is counted and committed before it is reported.
            write_tx(conn, |conn| {
                for (key, max) in limits {
                    record_failure(conn, key, max, settings.login_window_secs, at)?;
                }
                Ok::<_, Error>(())
            })?;
            Err(invalid_grant("the email or password is wrong"))
        }
    }
}

fn issue_for_user(
    conn: &mut DbConnection,
    keys: &Keys,
    settings: &Settings,
    user_id: &str,
    family_id: &str,
) -> Result<Issued> {
    let refresh = new_secret("cpr");
    let at = now();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(new_id()),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::token_hash.eq(digest(&refresh)),
            refresh_tokens::expires_at
                .eq(at + TimeDelta::seconds(settings.refresh_token_ttl_secs as i64)),
            refresh_tokens::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(Issued {
        access_token: keys.issue(Subject::User, user_id, None, None),
        expires_in: keys.access_ttl_secs,
        refresh_token: Some(refresh),
        scope: None,
    })
}

/// id, family, user, expiry, rotated, revoked.
type RefreshRow = (
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// Refresh grant: a refresh token for a new access token and a new refresh
/// token. The presented one can never be used again.
pub fn refresh_grant(
    conn: &mut DbConnection,
    keys: &Keys,
    settings: &Settings,
    token: &str,
) -> Result<Issued> {
    let hash = digest(token);
    let at = now();
    // The reuse detection must survive the caller's error, so it commits on
    // its own and reports afterwards.
    let outcome = write_tx(conn, |conn| -> Result<std::result::Result<Issued, Error>> {
        let row: Option<RefreshRow> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select((
                refresh_tokens::id,
                refresh_tokens::family_id,
                refresh_tokens::user_id,
                refresh_tokens::expires_at,
                refresh_tokens::rotated_at,
                refresh_tokens::revoked_at,
            ))
            .first(conn)
            .optional()?;
        let Some((id, family_id, user_id, expires_at, rotated_at, revoked_at)) = row else {
            return Ok(Err(invalid_grant("unknown refresh token")));
        };
        if revoked_at.is_some() {
            return Ok(Err(invalid_grant("this refresh token has been revoked")));
        }
        if expires_at <= at {
            return Ok(Err(invalid_grant(
                "this refresh token has expired; sign in again",
            )));
        }
        // Claim the token: only one caller can move it from unrotated.
        let claimed = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::id.eq(&id))
                .filter(refresh_tokens::rotated_at.is_null()),
        )
        .set(refresh_tokens::rotated_at.eq(at))
        .execute(conn)?;
        if rotated_at.is_some() || claimed == 0 {
            revoke_family(conn, &family_id, at)?;
            tracing::warn!(%family_id, "rotated refresh token presented again: family revoked");
            return Ok(Err(Error::Unauthenticated {
                code: "refresh_token_reused",
                message: "this refresh token was already used; every session it started has been signed out".into(),
            }));
        }
        issue_for_user(conn, keys, settings, &user_id, &family_id).map(Ok)
    })?;
    outcome
}

fn revoke_family(conn: &mut DbConnection, family_id: &str, at: NaiveDateTime) -> Result<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// Revokes a refresh token and every token rotated from the same sign-in.
/// Unknown tokens are ignored, as RFC 7009 asks.
pub fn revoke(conn: &mut DbConnection, token: &str) -> Result<()> {
    let hash = digest(token);
    write_tx(conn, |conn| {
        let family: Option<String> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select(refresh_tokens::family_id)
            .first(conn)
            .optional()?;
        match family {
            Some(family_id) => revoke_family(conn, &family_id, now()),
            None => Ok(()),
        }
    })
}

/// Client-credentials grant: a partner app's id and secret for an access
/// token limited to its scopes (or the subset it asks for).
pub fn client_credentials_grant(
    conn: &mut DbConnection,
    keys: &Keys,
    settings: &Settings,
    client_id: &str,
    secret: &str,
    requested: Option<&str>,
    address: &str,
) -> Result<Issued> {
    let at = now();
    let limits = [
        (&*format!("client:{client_id}"), settings.login_max_failures),
        (
            &*format!("address:{address}"),
            settings.login_max_failures.saturating_mul(4),
        ),
    ];
    if let Some(wait) = locked_for(conn, &limits, at)? {
        return Err(locked_out(wait));
    }
    let client = clients::store::find(conn, client_id)?;
    let valid = client.as_ref().is_some_and(|c| {
        c.status() == ClientStatus::Active && digests_match(&c.secret_hash, &digest(secret))
    });
    let Some(client) = client.filter(|_| valid) else {
        write_tx(conn, |conn| {
            for (key, max) in limits {
                record_failure(conn, key, max, settings.login_window_secs, at)?;
            }
            Ok::<_, Error>(())
        })?;
        return Err(Error::Unauthenticated {
            code: "invalid_client",
            message: "unknown or disabled client, or wrong secret".into(),
        });
    };
    let held = clients::parse_scopes(&client.scopes);
    let scopes: Vec<Scope> = match requested {
        None => held,
        Some(text) => {
            let mut asked = Vec::new();
            for name in text.split_whitespace() {
                match Scope::parse(name).filter(|s| held.contains(s)) {
                    Some(scope) => asked.push(scope),
                    None => {
                        return Err(Error::invalid(
                            "scope",
                            format!("{name} is not one of this client's scopes"),
                        ))
                    }
                }
            }
            asked
        }
    };
    let scope = clients::format_scopes(&scopes);
    Ok(Issued {
        access_token: keys.issue(
            Subject::Client,
            &client.id,
            Some(&client.collective_id),
            Some(scope.clone()),
        ),
        expires_in: keys.access_ttl_secs,
        refresh_token: None,
        scope: Some(scope),
    })
}

fn locked_out(wait_secs: u64) -> Error {
    Error::RateLimited {
        code: "too_many_attempts",
        message: "too many failed sign-in attempts from this account or address; try again later"
            .into(),
        retry_after_secs: wait_secs.max(1),
    }
}

/// Seconds until the longest lock among `keys` ends, if any is locked.
fn locked_for(
    conn: &mut DbConnection,
    limits: &[(&str, u32)],
    at: NaiveDateTime,
) -> Result<Option<u64>> {
    let keys: Vec<&str> = limits.iter().map(|(k, _)| *k).collect();
    let locks: Vec<Option<NaiveDateTime>> = login_throttle::table
        .filter(login_throttle::key.eq_any(keys))
        .select(login_throttle::locked_until)
        .load(conn)?;
    Ok(locks
        .into_iter()
        .flatten()
        .filter(|until| *until > at)
        .map(|until| (until - at).num_seconds().max(1) as u64)
        .max())
}

/// Counts a failure against `key`, locking it once `max` failures fall in
/// one window. Each step is a guarded update, so concurrent failures all
/// count on both databases.
fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    max: u32,
    window_secs: u64,
    at: NaiveDateTime,
) -> Result<()> {
    let window = TimeDelta::seconds(window_secs as i64);
    let counted = diesel::update(
        login_throttle::table
            .filter(login_throttle::key.eq(key))
            .filter(login_throttle::window_started_at.gt(at - window)),
    )
    .set(login_throttle::failures.eq(login_throttle::failures + 1))
    .execute(conn)?;
    if counted == 0 {
        let restarted = diesel::update(login_throttle::table.filter(login_throttle::key.eq(key)))
            .set((
                login_throttle::failures.eq(1),
                login_throttle::window_started_at.eq(at),
                login_throttle::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        if restarted == 0 {
            let inserted = conn.transaction(|conn| {
                diesel::insert_into(login_throttle::table)
                    .values((
                        login_throttle::key.eq(key),
                        login_throttle::failures.eq(1),
                        login_throttle::window_started_at.eq(at),
                    ))
                    .execute(conn)
            });
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return record_failure(conn, key, max, window_secs, at)
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    diesel::update(
        login_throttle::table
            .filter(login_throttle::key.eq(key))
            .filter(login_throttle::failures.ge(max as i32)),
    )
    .set(login_throttle::locked_until.eq(at + window))
    .execute(conn)?;
    Ok(())
}

fn clear_failures(conn: &mut DbConnection, key: &str) -> Result<()> {
    diesel::delete(login_throttle::table.filter(login_throttle::key.eq(key))).execute(conn)?;
    Ok(())
}
