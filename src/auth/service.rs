//! Signing in, the grants that hand out tokens, revocation, and the
//! housekeeping of what they leave behind.
//!
//! Refresh tokens rotate: each use marks the token rotated and issues a new
//! one in the same family. Presenting a rotated token again means it was
//! copied, so the whole family is revoked. Tokens are stored as digests.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::password::{digest, digests_match, new_secret, verify_off_connection};
use super::policy::Scope;
use super::second_factor::{self, Answer};
use super::throttle::{self, Limit};
use super::tokens::{Keys, Subject};
use crate::clients::ClientStatus;
use crate::config::Settings;
use crate::db::schema::{refresh_tokens, users};
use crate::db::{write_tx, Db, DbConnection};
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

/// Who a sign-in's checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticated {
    /// Every check passed: this person is signed in.
    User(String),
    /// The password is right, and this person has a second factor whose
    /// answer was not sent: the API refuses (`totp_required`), the web app
    /// asks for the code on a page of its own.
    SecondFactorNeeded(String),
}

/// Checks a person's email and password — the API's password grant and the
/// web app's sign-in form both come here — and, when they have a second
/// factor, its answer.
///
/// The attempt is claimed against the throttle before anything is checked
/// (see [`throttle`]); the password is verified off any database connection.
/// Unknown accounts are checked against a dummy hash and counted alike, so
/// neither the answer nor its timing tells whether the account exists.
/// With the right password but no answer from a person with a second
/// factor, the attempt is not counted ([`Authenticated::SecondFactorNeeded`]);
/// a wrong answer stays counted, as a wrong password does.
pub async fn authenticate(
    db: &Db,
    settings: &Settings,
    email: &str,
    password: String,
    second: Option<Answer>,
    address: &str,
) -> Result<Authenticated> {
    let email = collectives::normalise_email(email);
    let limits = Limit::for_account(&email, address, settings.login_max_failures);
    let window = settings.login_window_secs;
    let (claim, user) = db
        .run(move |conn| {
            let claim = throttle::claim(conn, &limits, window, now())?;
            let user: Option<(String, Option<String>)> = users::table
                .filter(users::email.eq(&email))
                .select((users::id, users::password_hash))
                .get_result(conn)
                .optional()?;
            Ok((claim, user))
        })
        .await?;
    let hash = user.as_ref().and_then(|(_, hash)| hash.clone());
    let verified = verify_off_connection(password, hash).await;
    match user {
        Some((user_id, _)) if verified => {
            db.run(move |conn| {
                if second_factor::enrolled(conn, &user_id)? {
                    let Some(answer) = second else {
                        throttle::give_back(conn, claim)?;
                        return Ok(Authenticated::SecondFactorNeeded(user_id));
                    };
                    if !second_factor::check_and_use(conn, &user_id, &answer)? {
                        // The claim stays counted: that is the failure.
                        return Err(invalid_grant(
                            "the second-factor code is wrong, was used already, or is from another time",
                        ));
                    }
                }
                throttle::give_back(conn, claim)?;
                Ok(Authenticated::User(user_id))
            })
            .await
        }
        // The claim stays counted: that is the failure.
        _ => Err(invalid_grant("the email or password is wrong")),
    }
}

/// The refusal of a right password without the second factor's answer.
pub fn totp_required() -> Error {
    Error::Unauthenticated {
        code: "totp_required",
        message: "this account has a second factor: send the code your authenticator app shows (totp_code), or a recovery_code, with the password".into(),
    }
}

/// A new sign-in (a new family of refresh tokens) for a person whose
/// credentials were checked.
pub fn issue_tokens(
    conn: &mut DbConnection,
    keys: &Keys,
    settings: &Settings,
    user_id: &str,
) -> Result<Issued> {
    write_tx(conn, |conn| {
        issue_for_user(conn, keys, settings, user_id, &new_id())
    })
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
            .get_result(conn)
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
            .get_result(conn)
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
    let limits = Limit::for_client(client_id, address, settings.login_max_failures);
    let claim = throttle::claim(conn, &limits, settings.login_window_secs, now())?;
    let client = clients::store::find(conn, client_id)?;
    let valid = client.as_ref().is_some_and(|c| {
        c.status() == ClientStatus::Active && digests_match(&c.secret_hash, &digest(secret))
    });
    let Some(client) = client.filter(|_| valid) else {
        // The claim stays counted: that is the failure.
        return Err(Error::Unauthenticated {
            code: "invalid_client",
            message: "unknown or disabled client, or wrong secret".into(),
        });
    };
    throttle::give_back(conn, claim)?;
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

/// Deletes what no longer says anything: throttle counters whose window is
/// over, and refresh tokens past their expiry (expired, they are refused
/// whatever else is recorded about them). Run now and then by `serve`.
pub fn purge_expired(
    conn: &mut DbConnection,
    settings: &Settings,
    at: NaiveDateTime,
) -> Result<Purged> {
    let throttle_counters = throttle::purge(conn, settings.login_window_secs, at)?;
    let refresh_tokens =
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.le(at)))
            .execute(conn)?;
    Ok(Purged {
        throttle_counters,
        refresh_tokens,
    })
}

/// What [`purge_expired`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub throttle_counters: usize,
    pub refresh_tokens: usize,
}
