//! A person's profile: the name others see, contact details, and the email
//! address they sign in with.
//!
//! An email change takes effect only once the new address is confirmed:
//! asking for it (with the current password, checked like a sign-in) makes
//! a single-use token, kept only as a digest; until the service sends mail
//! the token is shown to the person, as an invitation's is. Sending it back
//! changes the address. Whether the new address already has an account is
//! said only then — to whoever holds the token, that is whoever reads that
//! mailbox — never when asking.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::account::check_current_password;
use super::password::{digest, new_secret};
use crate::collectives::{self, check_text};
use crate::config::Settings;
use crate::db::schema::{email_changes, user_contacts, users};
use crate::db::{is_unique_violation, write_tx, Db, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{new_id, now};

/// How long an email confirmation token works.
pub const EMAIL_CONFIRMATION_TTL: TimeDelta = TimeDelta::days(1);

/// A person's own view of their account.
#[derive(Debug, Clone)]
pub struct AccountProfile {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub other_contact: Option<String>,
    /// An email change waiting for its confirmation.
    pub pending_email: Option<(String, NaiveDateTime)>,
}

pub fn get(conn: &mut DbConnection, user_id: &str) -> Result<AccountProfile> {
    let (email, display_name): (String, String) = users::table
        .find(user_id)
        .select((users::email, users::display_name))
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound { what: "user" })?;
    let contacts: Option<(Option<String>, Option<String>)> = user_contacts::table
        .find(user_id)
        .select((user_contacts::phone, user_contacts::other))
        .first(conn)
        .optional()?;
    let (phone, other_contact) = contacts.unwrap_or_default();
    let pending_email: Option<(String, NaiveDateTime)> = email_changes::table
        .filter(email_changes::user_id.eq(user_id))
        .filter(email_changes::used_at.is_null())
        .filter(email_changes::expires_at.gt(now()))
        .order(email_changes::created_at.desc())
        .select((email_changes::new_email, email_changes::expires_at))
        .first(conn)
        .optional()?;
    Ok(AccountProfile {
        user_id: user_id.to_owned(),
        email,
        display_name,
        phone,
        other_contact,
        pending_email,
    })
}

/// A change to the profile: fields left out stay; an empty contact field
/// (or `null`) clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub phone: Option<Option<String>>,
    pub other_contact: Option<Option<String>>,
}

/// A phone number as people write it: digits, spaces and `+ ( ) - .`.
fn check_phone(phone: &str) -> Result<Option<String>> {
    let phone = phone.trim();
    if phone.is_empty() {
        return Ok(None);
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || " +()-./".contains(c));
    if !allowed || !(4..=20).contains(&digits) || phone.chars().count() > 40 {
        return Err(Error::invalid(
            "phone",
            "is not a phone number (digits, spaces and + ( ) - . only)",
        ));
    }
    Ok(Some(phone.to_owned()))
}

fn check_other(other: &str) -> Result<Option<String>> {
    let other = other.trim();
    if other.is_empty() {
        return Ok(None);
    }
    check_text("other_contact", other, 200).map(Some)
}

pub fn update(
    conn: &mut DbConnection,
    user_id: &str,
    change: ProfileChange,
) -> Result<AccountProfile> {
    let display_name = change
        .display_name
        .as_deref()
        .map(|name| check_text("display_name", name, 100))
        .transpose()?;
    let phone = change
        .phone
        .map(|p| {
            p.as_deref()
                .map(check_phone)
                .transpose()
                .map(Option::flatten)
        })
        .transpose()?;
    let other = change
        .other_contact
        .map(|o| {
            o.as_deref()
                .map(check_other)
                .transpose()
                .map(Option::flatten)
        })
        .transpose()?;
    write_tx(conn, |conn| {
        let at = now();
        if let Some(name) = &display_name {
            diesel::update(users::table.find(user_id))
                .set((users::display_name.eq(name), users::updated_at.eq(at)))
                .execute(conn)?;
        }
        if phone.is_some() || other.is_some() {
            let current = get(conn, user_id)?;
            let phone = phone.clone().unwrap_or(current.phone);
            let other = other.clone().unwrap_or(current.other_contact);
            diesel::delete(user_contacts::table.find(user_id)).execute(conn)?;
            diesel::insert_into(user_contacts::table)
                .values((
                    user_contacts::user_id.eq(user_id),
                    user_contacts::phone.eq(phone),
                    user_contacts::other.eq(other),
                    user_contacts::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        get(conn, user_id)
    })
}

/// An email change asked for: the token to confirm it, shown this once.
#[derive(Debug, Clone)]
pub struct EmailChange {
    pub new_email: String,
    pub token: String,
    pub expires_at: NaiveDateTime,
}

/// Asks to change the email address, proven by the current password.
pub async fn request_email_change(
    db: &Db,
    settings: &Settings,
    user_id: &str,
    new_email: &str,
    current_password: String,
    address: &str,
) -> Result<EmailChange> {
    let new_email = collectives::check_email("new_email", new_email)?;
    check_current_password(db, settings, user_id, current_password, address).await?;
    let user_id = user_id.to_owned();
    db.run(move |conn| {
        write_tx(conn, |conn| {
            let at = now();
            let email: String = users::table
                .find(&user_id)
                .select(users::email)
                .first(conn)?;
            if email == new_email {
                return Err(Error::invalid(
                    "new_email",
                    "is the address the account has already",
                ));
            }
            // One change waits at a time: an earlier token stops working.
            diesel::update(
                email_changes::table
                    .filter(email_changes::user_id.eq(&user_id))
                    .filter(email_changes::used_at.is_null()),
            )
            .set(email_changes::used_at.eq(at))
            .execute(conn)?;
            let token = new_secret("cpe");
            let expires_at = at + EMAIL_CONFIRMATION_TTL;
            diesel::insert_into(email_changes::table)
                .values((
                    email_changes::id.eq(new_id()),
                    email_changes::user_id.eq(&user_id),
                    email_changes::new_email.eq(&new_email),
                    email_changes::token_hash.eq(digest(&token)),
                    email_changes::expires_at.eq(expires_at),
                    email_changes::created_at.eq(at),
                ))
                .execute(conn)?;
            Ok(EmailChange {
                new_email,
                token,
                expires_at,
            })
        })
    })
    .await
}

/// Confirms an email change with its token: the account's address becomes
/// the new one. Answers the user and the new address.
pub fn confirm_email_change(conn: &mut DbConnection, token: &str) -> Result<(String, String)> {
    write_tx(conn, |conn| {
        let at = now();
        let row: Option<(String, String, String, NaiveDateTime)> = email_changes::table
            .filter(email_changes::token_hash.eq(digest(token.trim())))
            .filter(email_changes::used_at.is_null())
            .select((
                email_changes::id,
                email_changes::user_id,
                email_changes::new_email,
                email_changes::expires_at,
            ))
            .first(conn)
            .optional()?;
        let (id, user_id, new_email, expires_at) = row.ok_or(Error::NotFound {
            what: "email confirmation",
        })?;
        if expires_at <= at {
            return Err(Error::conflict(
                "email_confirmation_expired",
                "this confirmation has expired; ask for the change again",
            ));
        }
        let claimed = diesel::update(
            email_changes::table
                .find(&id)
                .filter(email_changes::used_at.is_null()),
        )
        .set(email_changes::used_at.eq(at))
        .execute(conn)?;
        if claimed == 0 {
            return Err(Error::NotFound {
                what: "email confirmation",
            });
        }
        let taken = || {
            Error::conflict(
                "email_taken",
                "another account has this email address already",
            )
        };
        let exists: i64 = users::table
            .filter(users::email.eq(&new_email))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            return Err(taken());
        }
        match diesel::update(users::table.find(&user_id))
            .set((users::email.eq(&new_email), users::updated_at.eq(at)))
            .execute(conn)
        {
            Ok(_) => Ok((user_id, new_email)),
            Err(e) if is_unique_violation(&e) => Err(taken()),
            Err(e) => Err(e.into()),
        }
    })
}
