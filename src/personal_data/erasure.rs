//! Erasing a person without breaking the ledger.
//!
//! Users are shared across collectives, so an admin erases a person **from
//! their collective** (the membership and what belongs to it there), and a
//! person erases themself **everywhere** (each membership, then the
//! account), proven by their password. Each is one transaction: it happens
//! whole or not at all.
//!
//! In the collective: the requests for the member keep amounts, dates and
//! states, and lose their private details, payout reference, beneficiary,
//! reasons and comment text (tombstoned); their holds' notes and payouts'
//! references go; declarations of affectedness are deleted; pledges and
//! contributions lose their notes and donor details; ledger entries and
//! postings are not touched (they carry no personal data). The membership
//! stays as a tombstone (suspended), so what points at it still does; when
//! the person keeps other memberships it is handed to a tombstone account
//! of its own, so nothing links it to them any more.
//!
//! The account, when no membership is left: its name and email become a
//! tombstone (so the email can be invited again, as a new person), the
//! password, contacts, pending email changes, password resets, web sessions
//! and refresh tokens are deleted. Access tokens already issued run out
//! within their 15 minutes and reach nothing: every collective sees a
//! suspended tombstone, and `/me` answers 401.
//!
//! Copies are reached ([`super::redact`]): the collective's event snapshots
//! (what webhooks deliver, including deliveries still queued), its audit
//! details, and stored idempotent answers. The audit trail records that an
//! erasure happened and who did it, and nothing of what was erased.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::redact::Redaction;
use super::TOMBSTONE;
use crate::auth::access::{authorize, Actor, Principal};
use crate::auth::account::check_current_password;
use crate::auth::policy::{Permission, Role};
use crate::collectives::store::{
    count_active_admins, find_membership, lock_collective, MembershipRow, UserRow,
};
use crate::config::Settings;
use crate::crypto;
use crate::db::schema::{
    affectedness, aid_requests, audit_records, contributions, disbursements, email_changes, events,
    holds, login_throttle, memberships, password_resets, pledges, refresh_tokens, request_comments,
    request_conflicts, user_contacts, users, web_sessions,
};
use crate::db::{write_tx, Db, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{new_id, now};

/// The name an erased account shows.
pub const ERASED_NAME: &str = "Erased person";

/// What an erasure did.
#[derive(Debug, Clone)]
pub struct Erased {
    /// The memberships erased (tombstones from now on).
    pub memberships: Vec<String>,
    /// Whether the account itself was erased (no membership was left).
    pub account_erased: bool,
}

/// An admin erases the member `membership_id` from their collective.
pub fn erase_member(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    membership_id: &str,
) -> Result<Erased> {
    write_tx(conn, |conn| {
        let actor = authorize(
            conn,
            principal,
            collective_id,
            Permission::EraseMembers,
            "collective",
        )?;
        lock_collective(conn, collective_id)?;
        let (membership, user) = find_membership(conn, membership_id)?
            .filter(|(m, u)| m.collective_id == collective_id && !is_erased(u))
            .ok_or(Error::NotFound { what: "membership" })?;
        refuse_last_admin(conn, &membership)?;
        let others = memberships::table
            .filter(memberships::user_id.eq(&user.id))
            .filter(memberships::id.ne(&membership.id))
            .count()
            .get_result::<i64>(conn)?;
        let mut person = Redaction::default();
        person_texts(conn, &user, &mut person)?;
        let mut own = Redaction::default();
        erase_membership(
            conn,
            &actor,
            &membership,
            &user,
            others > 0,
            &person,
            &mut own,
        )?;
        let account_erased = others == 0;
        if account_erased {
            erase_account(conn, &user)?;
        }
        redact_answers(conn, &own, account_erased.then_some(&person), &user.id)?;
        Ok(Erased {
            memberships: vec![membership.id],
            account_erased,
        })
    })
}

/// A person erases themself everywhere, proven by their password (checked
/// like a sign-in).
pub async fn erase_self(
    db: &Db,
    settings: &Settings,
    user_id: &str,
    current_password: String,
    address: &str,
) -> Result<Erased> {
    check_current_password(db, settings, user_id, current_password, address).await?;
    let user_id = user_id.to_owned();
    db.run(move |conn| write_tx(conn, |conn| erase_everywhere(conn, &user_id)))
        .await
}

/// Erases every membership of the person and then their account.
pub fn erase_everywhere(conn: &mut DbConnection, user_id: &str) -> Result<Erased> {
    let user = crate::collectives::store::find_user(conn, user_id)?
        .filter(|u| !is_erased(u))
        .ok_or(Error::NotFound { what: "user" })?;
    let rows: Vec<MembershipRow> = memberships::table
        .filter(memberships::user_id.eq(user_id))
        .order((memberships::collective_id.asc(), memberships::id.asc()))
        .select(MembershipRow::as_select())
        .load(conn)?;
    for membership in &rows {
        lock_collective(conn, &membership.collective_id)?;
        refuse_last_admin(conn, membership)?;
    }
    let mut person = Redaction::default();
    person_texts(conn, &user, &mut person)?;
    let mut own = Redaction::default();
    for membership in &rows {
        let actor = membership.actor();
        erase_membership(conn, &actor, membership, &user, false, &person, &mut own)?;
    }
    erase_account(conn, &user)?;
    redact_answers(conn, &own, Some(&person), &user.id)?;
    Ok(Erased {
        memberships: rows.into_iter().map(|m| m.id).collect(),
        account_erased: true,
    })
}

/// After an erasure, on SQLite, moves the write-ahead log into the file and
/// truncates it, so what was erased does not linger in the log (overwritten
/// pages are zeroed by `secure_delete`). The erasure has committed either
/// way: a failure is logged, and the next checkpoint does it.
pub async fn checkpoint(db: &Db) {
    if let Err(error) = db.checkpoint().await {
        tracing::warn!(%error, "checkpoint after an erasure failed");
    }
}

/// Whether the account is an erased one.
pub fn is_erased(user: &UserRow) -> bool {
    user.password_hash.is_none() && user.email == erased_email(&user.id)
}

/// Whether the account `user_id` is erased (or does not exist).
pub fn account_is_erased(conn: &mut DbConnection, user_id: &str) -> Result<bool> {
    Ok(crate::collectives::store::find_user(conn, user_id)?.is_none_or(|u| is_erased(&u)))
}

/// The address an erased account keeps: unique, and never deliverable
/// (`.invalid` is reserved, RFC 2606).
fn erased_email(user_id: &str) -> String {
    format!("erased-{user_id}@erased.invalid")
}

fn refuse_last_admin(conn: &mut DbConnection, membership: &MembershipRow) -> Result<()> {
    if membership.role() == Some(Role::Admin)
        && membership.is_active()
        && count_active_admins(conn, &membership.collective_id)? <= 1
    {
        return Err(Error::conflict(
            "last_admin",
            "a collective needs at least one active admin: appoint another first",
        ));
    }
    Ok(())
}

/// The account's own texts: name, email, contacts, addresses asked for.
fn person_texts(conn: &mut DbConnection, user: &UserRow, person: &mut Redaction) -> Result<()> {
    person.text(&user.email);
    person.text(&user.display_name);
    let contacts: Option<(Option<String>, Option<String>)> = user_contacts::table
        .find(&user.id)
        .select((user_contacts::phone, user_contacts::other))
        .first(conn)
        .optional()?;
    if let Some((phone, other)) = contacts {
        person.text_opt(phone.as_deref());
        person.text_opt(other.as_deref());
    }
    let asked: Vec<String> = email_changes::table
        .filter(email_changes::user_id.eq(&user.id))
        .select(email_changes::new_email)
        .load(conn)?;
    for email in asked {
        person.text(&email);
    }
    Ok(())
}

fn seal_tombstone(table: &str, column: &str, row: &str) -> Result<String> {
    crypto::seal(table, column, row, TOMBSTONE)
}

/// Erases one membership and what belongs to it in its collective, and
/// reaches the collective's copies. `detach`: the person keeps other
/// memberships, so this one is handed to a tombstone account. `own`
/// collects what was theirs, for the stored answers.
#[allow(clippy::too_many_arguments)]
fn erase_membership(
    conn: &mut DbConnection,
    actor: &Actor,
    membership: &MembershipRow,
    user: &UserRow,
    detach: bool,
    person: &Redaction,
    own: &mut Redaction,
) -> Result<()> {
    let c = membership.collective_id.as_str();
    let at = now();
    let mut here = Redaction::default();
    here.id(&membership.id);
    here.text_opt(membership.invited_name.as_deref());
    own.id(&membership.id);
    // Who stands for the person from now on in this collective.
    let stand_in = if detach {
        let id = new_id();
        diesel::insert_into(users::table)
            .values((
                users::id.eq(&id),
                users::email.eq(erased_email(&id)),
                users::display_name.eq(ERASED_NAME),
                users::password_hash.eq(None::<String>),
                users::created_at.eq(at),
                users::updated_at.eq(at),
            ))
            .execute(conn)?;
        id
    } else {
        user.id.clone()
    };

    // Requests for the member: their texts go, their figures stay.
    let requests = crate::requests::store::opened(
        aid_requests::table
            .filter(aid_requests::collective_id.eq(c))
            .filter(aid_requests::requester_membership_id.eq(&membership.id))
            .select(crate::requests::store::RequestRow::as_select())
            .load(conn)?,
    )?;
    let mut holds_of_requests = Vec::new();
    for r in &requests {
        here.request_texts(r);
        here.id(&r.id);
        own.id(&r.id);
        if let Some(hold) = &r.hold_id {
            holds_of_requests.push(hold.clone());
        }
        let submitted_by = if r.submitted_by == user.id {
            stand_in.clone()
        } else {
            r.submitted_by.clone()
        };
        diesel::update(aid_requests::table.find(&r.id))
            .set((
                aid_requests::private_details.eq(seal_tombstone(
                    "aid_requests",
                    "private_details",
                    &r.id,
                )?),
                aid_requests::payout_reference.eq(None::<String>),
                aid_requests::beneficiary_name.eq(None::<String>),
                aid_requests::beneficiary_contact.eq(None::<String>),
                aid_requests::withdrawal_reason.eq(r
                    .withdrawal_reason
                    .as_ref()
                    .map(|_| seal_tombstone("aid_requests", "withdrawal_reason", &r.id))
                    .transpose()?),
                aid_requests::rejection_reason
                    .eq(r.rejection_reason.as_ref().map(|_| TOMBSTONE.to_owned())),
                aid_requests::submitted_by.eq(submitted_by),
                aid_requests::updated_at.eq(at),
                aid_requests::version.eq(r.version + 1),
            ))
            .execute(conn)?;
    }
    let request_ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
    // Comments on their requests, and their own comments anywhere here.
    let comments: Vec<(String, String, String)> = request_comments::table
        .filter(request_comments::collective_id.eq(c))
        .filter(
            request_comments::request_id
                .eq_any(&request_ids)
                .or(request_comments::author_id.eq(&user.id)),
        )
        .select((
            request_comments::id,
            request_comments::author_id,
            request_comments::body,
        ))
        .load(conn)?;
    for (id, author, body) in comments {
        here.text(&crypto::open("request_comments", "body", &id, &body)?);
        let author = if author == user.id {
            stand_in.clone()
        } else {
            author
        };
        diesel::update(request_comments::table.find(&id))
            .set((
                request_comments::body.eq(seal_tombstone("request_comments", "body", &id)?),
                request_comments::author_id.eq(author),
            ))
            .execute(conn)?;
    }
    diesel::update(
        request_conflicts::table
            .filter(request_conflicts::collective_id.eq(c))
            .filter(request_conflicts::user_id.eq(&user.id)),
    )
    .set(request_conflicts::note.eq(None::<String>))
    .execute(conn)?;
    // The holds and payouts of their requests: notes and references.
    let hold_notes: Vec<Option<String>> = holds::table
        .filter(holds::collective_id.eq(c))
        .filter(holds::id.eq_any(&holds_of_requests))
        .select(holds::note)
        .load(conn)?;
    for note in hold_notes.iter().flatten() {
        here.text(note);
    }
    diesel::update(
        holds::table
            .filter(holds::collective_id.eq(c))
            .filter(holds::id.eq_any(&holds_of_requests)),
    )
    .set(holds::note.eq(None::<String>))
    .execute(conn)?;
    let payouts: Vec<(String, Option<String>)> = disbursements::table
        .filter(disbursements::collective_id.eq(c))
        .filter(disbursements::hold_id.eq_any(&holds_of_requests))
        .select((disbursements::id, disbursements::external_reference))
        .load(conn)?;
    for (id, reference) in payouts {
        let reference = crypto::open_opt(
            "disbursements",
            "external_reference",
            &id,
            reference.as_deref(),
        )?;
        here.text_opt(reference.as_deref());
        here.id(&id);
        diesel::update(disbursements::table.find(&id))
            .set(disbursements::external_reference.eq(None::<String>))
            .execute(conn)?;
    }

    // Affectedness: deleted (round results keep their own tallies).
    diesel::delete(
        affectedness::table
            .filter(affectedness::collective_id.eq(c))
            .filter(affectedness::membership_id.eq(&membership.id)),
    )
    .execute(conn)?;

    // Pledges and contributions: amounts stay, notes and donor details go.
    let pledge_rows: Vec<(String, Option<String>)> = pledges::table
        .filter(pledges::collective_id.eq(c))
        .filter(pledges::member_id.eq(&membership.id))
        .select((pledges::id, pledges::note))
        .load(conn)?;
    for (id, note) in pledge_rows {
        here.text_opt(crypto::open_opt("pledges", "note", &id, note.as_deref())?.as_deref());
        here.id(&id);
        own.id(&id);
    }
    diesel::update(
        pledges::table
            .filter(pledges::collective_id.eq(c))
            .filter(pledges::member_id.eq(&membership.id)),
    )
    .set((
        pledges::note.eq(None::<String>),
        pledges::donor_name.eq(None::<String>),
        pledges::donor_email.eq(None::<String>),
    ))
    .execute(conn)?;
    let gifts: Vec<(String, Option<String>)> = contributions::table
        .filter(contributions::collective_id.eq(c))
        .filter(contributions::member_id.eq(&membership.id))
        .select((contributions::id, contributions::note))
        .load(conn)?;
    for (id, note) in gifts {
        here.text_opt(crypto::open_opt("contributions", "note", &id, note.as_deref())?.as_deref());
        here.id(&id);
        own.id(&id);
    }
    diesel::update(
        contributions::table
            .filter(contributions::collective_id.eq(c))
            .filter(contributions::member_id.eq(&membership.id)),
    )
    .set((
        contributions::note.eq(None::<String>),
        contributions::donor_name.eq(None::<String>),
        contributions::donor_email.eq(None::<String>),
    ))
    .execute(conn)?;

    diesel::delete(
        password_resets::table
            .filter(password_resets::collective_id.eq(c))
            .filter(password_resets::user_id.eq(&user.id)),
    )
    .execute(conn)?;

    // The membership: a suspended tombstone.
    diesel::update(memberships::table.filter(memberships::id.eq(&membership.id)))
        .set((
            memberships::user_id.eq(&stand_in),
            memberships::status.eq("suspended"),
            memberships::invited_name.eq(None::<String>),
            memberships::invitation_hash.eq(None::<String>),
            memberships::invitation_expires_at.eq(None::<NaiveDateTime>),
            memberships::updated_at.eq(at),
            memberships::version.eq(membership.version + 1),
        ))
        .execute(conn)?;

    // What they did here is no longer theirs to be traced to.
    if detach {
        diesel::update(
            audit_records::table
                .filter(audit_records::collective_id.eq(c))
                .filter(audit_records::actor_kind.eq("user"))
                .filter(audit_records::actor_id.eq(&user.id)),
        )
        .set(audit_records::actor_id.eq(&stand_in))
        .execute(conn)?;
    }

    // The collective's copies: everything of theirs, their name too.
    own.merge(&here);
    here.merge(person);
    redact_events(conn, c, &here)?;
    redact_audit(conn, c, &here)?;

    crate::audit::record(
        conn,
        actor,
        "membership.erased",
        "membership",
        &membership.id,
        json!({}),
    )
}

/// The account itself: a tombstone; sign-ins, second factor and contacts
/// deleted.
fn erase_account(conn: &mut DbConnection, user: &UserRow) -> Result<()> {
    diesel::update(users::table.find(&user.id))
        .set((
            users::email.eq(erased_email(&user.id)),
            users::display_name.eq(ERASED_NAME),
            users::password_hash.eq(None::<String>),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    diesel::delete(user_contacts::table.find(&user.id)).execute(conn)?;
    diesel::delete(email_changes::table.filter(email_changes::user_id.eq(&user.id)))
        .execute(conn)?;
    diesel::delete(password_resets::table.filter(password_resets::user_id.eq(&user.id)))
        .execute(conn)?;
    diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(&user.id))).execute(conn)?;
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::user_id.eq(&user.id)))
        .execute(conn)?;
    crate::auth::second_factor_store::remove(conn, &user.id)?;
    diesel::delete(
        login_throttle::table.filter(login_throttle::key.eq(format!("account:{}", user.email))),
    )
    .execute(conn)?;
    Ok(())
}

/// The collective's events: public snapshots and their sealed private parts.
fn redact_events(conn: &mut DbConnection, collective_id: &str, here: &Redaction) -> Result<()> {
    let rows: Vec<(String, String, String, Option<String>)> = events::table
        .filter(events::collective_id.eq(collective_id))
        .select((
            events::id,
            events::object_id,
            events::data,
            events::private_data,
        ))
        .load(conn)?;
    for (id, object, data, private) in rows {
        let about = here.owns(&object);
        let private_open = crypto::open_opt("events", "private_data", &id, private.as_deref())?;
        let about = about
            || private_open
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .is_some_and(|v| here.is_about(&v));
        let new_data = here.apply_to_text(&data, about);
        let new_private = private_open
            .as_deref()
            .and_then(|p| here.apply_to_text(p, about));
        if new_data.is_none() && new_private.is_none() {
            continue;
        }
        let sealed = new_private
            .map(|p| crypto::seal("events", "private_data", &id, &p))
            .transpose()?
            .or(private);
        diesel::update(events::table.find(&id))
            .set((
                events::data.eq(new_data.unwrap_or(data)),
                events::private_data.eq(sealed),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The collective's audit details.
fn redact_audit(conn: &mut DbConnection, collective_id: &str, here: &Redaction) -> Result<()> {
    let rows: Vec<(String, String, String)> = audit_records::table
        .filter(audit_records::collective_id.eq(collective_id))
        .select((
            audit_records::id,
            audit_records::object_id,
            audit_records::details,
        ))
        .load(conn)?;
    for (id, object, details) in rows {
        let open = crypto::open("audit_records", "details", &id, &details)?;
        if let Some(redacted) = here.apply_to_text(&open, here.owns(&object)) {
            diesel::update(
                audit_records::table
                    .filter(audit_records::collective_id.eq(collective_id))
                    .filter(audit_records::id.eq(&id)),
            )
            .set(audit_records::details.eq(crypto::seal(
                "audit_records",
                "details",
                &id,
                &redacted,
            )?))
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Stored idempotent answers (kept 48 hours, across collectives): those
/// about what was theirs, and, when the account is erased, those holding
/// any of its texts. The status and ids stay, so a retry still replays.
fn redact_answers(
    conn: &mut DbConnection,
    own: &Redaction,
    account: Option<&Redaction>,
    user_id: &str,
) -> Result<()> {
    let mut search = own.clone();
    if let Some(person) = account {
        search.merge(person);
    }
    for (key, open) in super::store::answers(conn)? {
        let about = account.is_some() && key.caller == user_id;
        if let Some(redacted) = search.apply_to_text(&open, about) {
            super::store::rewrite_answer(conn, &key, &redacted)?;
        }
    }
    Ok(())
}
