//! Queries for a person's data: what the export reads, and the writes an
//! erasure or a retention sweep makes. Sealed columns are opened after
//! reading and sealed before writing (`crate::crypto`), as everywhere.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::TOMBSTONE;
use crate::crypto;
use crate::db::schema::{
    affectedness, aid_requests, audit_records, ballots, collectives, contributions, disbursements,
    events, holds, idempotency_keys, issues, memberships, pledges, pools, refresh_tokens,
    request_comments, user_contacts, users, web_sessions,
};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::ids::now;
use crate::money::Currency;
use crate::requests::store::RequestRow;

pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub phone: Option<String>,
    pub other_contact: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn user(conn: &mut DbConnection, user_id: &str) -> Result<Option<User>> {
    let row: Option<(String, String, NaiveDateTime)> = users::table
        .find(user_id)
        .select((users::email, users::display_name, users::created_at))
        .first(conn)
        .optional()?;
    let Some((email, display_name, created_at)) = row else {
        return Ok(None);
    };
    let contacts: Option<(Option<String>, Option<String>)> = user_contacts::table
        .find(user_id)
        .select((user_contacts::phone, user_contacts::other))
        .first(conn)
        .optional()?;
    let (phone, other_contact) = contacts.unwrap_or_default();
    Ok(Some(User {
        id: user_id.to_owned(),
        email,
        display_name,
        phone,
        other_contact,
        created_at,
    }))
}

/// Web sessions and refresh tokens still usable.
pub fn open_sign_ins(conn: &mut DbConnection, user_id: &str) -> Result<i64> {
    let at = now();
    let sessions: i64 = web_sessions::table
        .filter(web_sessions::user_id.eq(user_id))
        .filter(web_sessions::expires_at.gt(at))
        .count()
        .get_result(conn)?;
    let tokens: i64 = refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::rotated_at.is_null())
        .filter(refresh_tokens::expires_at.gt(at))
        .count()
        .get_result(conn)?;
    Ok(sessions + tokens)
}

pub struct Membership {
    pub id: String,
    pub collective_id: String,
    pub collective_name: String,
    pub role: String,
    pub status: String,
    pub joined_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Every membership of the person, in every collective, oldest first.
pub fn memberships_of(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Membership>> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<NaiveDateTime>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = memberships::table
        .inner_join(collectives::table)
        .filter(memberships::user_id.eq(user_id))
        .order(memberships::id.asc())
        .select((
            memberships::id,
            memberships::collective_id,
            collectives::name,
            memberships::role,
            memberships::status,
            memberships::joined_at,
            memberships::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, collective_id, collective_name, role, status, joined_at, created_at)| {
                Membership {
                    id,
                    collective_id,
                    collective_name,
                    role,
                    status,
                    joined_at,
                    created_at,
                }
            },
        )
        .collect())
}

/// Each pool of the collective with its currency (its exponent as fixed at
/// creation).
pub fn pool_currencies(
    conn: &mut DbConnection,
    collective_id: &str,
) -> Result<BTreeMap<String, Currency>> {
    let rows: Vec<(String, String, i32)> = pools::table
        .filter(pools::collective_id.eq(collective_id))
        .select((pools::id, pools::currency, pools::exponent))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, code, exponent)| {
            let known = Currency::from_code(&code)
                .ok_or_else(|| Error::Internal(format!("pool {id}: unknown currency {code}")))?;
            let exponent = u8::try_from(exponent)
                .map_err(|_| Error::Internal(format!("pool {id}: exponent {exponent}")))?;
            Ok((
                id,
                Currency {
                    code: known.code,
                    exponent,
                },
            ))
        })
        .collect()
}

pub struct Request {
    pub id: String,
    pub pool_id: String,
    pub amount_requested_minor: i64,
    pub amount_approved_minor: Option<i64>,
    pub paid_minor: i64,
    pub category: String,
    pub urgency: String,
    pub needed_by: Option<NaiveDate>,
    pub public_summary: String,
    pub private_details: String,
    pub payout_reference: Option<String>,
    pub state: String,
    pub rejection_reason: Option<String>,
    pub withdrawal_reason: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// The requests for the member (drafts too), oldest first, opened.
pub fn requests_of(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
) -> Result<Vec<Request>> {
    let rows = aid_requests::table
        .filter(aid_requests::collective_id.eq(collective_id))
        .filter(aid_requests::requester_membership_id.eq(membership_id))
        .order(aid_requests::id.asc())
        .select(crate::requests::store::RequestRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let r = row.opened()?;
            Ok(Request {
                id: r.id,
                pool_id: r.pool_id,
                amount_requested_minor: r.amount_requested_minor,
                amount_approved_minor: r.amount_approved_minor,
                paid_minor: r.paid_minor,
                category: r.category,
                urgency: r.urgency,
                needed_by: r.needed_by,
                public_summary: r.public_summary,
                private_details: r.private_details,
                payout_reference: r.payout_reference,
                state: r.state,
                rejection_reason: r.rejection_reason,
                withdrawal_reason: r.withdrawal_reason,
                submitted_at: r.submitted_at,
                decided_at: r.decided_at,
                created_at: r.created_at,
            })
        })
        .collect()
}

pub struct Comment {
    pub id: String,
    pub author_id: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// The comments on a request its requester may read, oldest first, opened.
pub fn comments_for_requester(
    conn: &mut DbConnection,
    collective_id: &str,
    request_id: &str,
) -> Result<Vec<Comment>> {
    let rows: Vec<(String, String, String, NaiveDateTime)> = request_comments::table
        .filter(request_comments::collective_id.eq(collective_id))
        .filter(request_comments::request_id.eq(request_id))
        .filter(request_comments::visibility.eq("requester"))
        .order(request_comments::id.asc())
        .select((
            request_comments::id,
            request_comments::author_id,
            request_comments::body,
            request_comments::created_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, author_id, body, created_at)| {
            let body = crypto::open("request_comments", "body", &id, &body)?;
            Ok(Comment {
                id,
                author_id,
                body,
                created_at,
            })
        })
        .collect()
}

pub struct Pledge {
    pub id: String,
    pub pool_id: String,
    pub amount_minor: i64,
    pub frequency: String,
    pub installments: i32,
    pub starts_on: NaiveDate,
    pub status: String,
    pub note: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The member's own pledges, oldest first, opened.
pub fn pledges_of(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
) -> Result<Vec<Pledge>> {
    type Row = (
        String,
        String,
        i64,
        String,
        i32,
        NaiveDate,
        String,
        Option<String>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = pledges::table
        .filter(pledges::collective_id.eq(collective_id))
        .filter(pledges::member_id.eq(membership_id))
        .order(pledges::id.asc())
        .select((
            pledges::id,
            pledges::pool_id,
            pledges::amount_minor,
            pledges::frequency,
            pledges::installments,
            pledges::starts_on,
            pledges::status,
            pledges::note,
            pledges::created_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(
                id,
                pool_id,
                amount_minor,
                frequency,
                installments,
                starts_on,
                status,
                note,
                created_at,
            )| {
                let note = crypto::open_opt("pledges", "note", &id, note.as_deref())?;
                Ok(Pledge {
                    id,
                    pool_id,
                    amount_minor,
                    frequency,
                    installments,
                    starts_on,
                    status,
                    note,
                    created_at,
                })
            },
        )
        .collect()
}

pub struct Contribution {
    pub id: String,
    pub pool_id: String,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub refunded_minor: i64,
    pub method: String,
    pub external_reference: Option<String>,
    pub note: Option<String>,
    pub status: String,
    pub received_at: NaiveDateTime,
}

/// The member's own contributions, oldest first, opened.
pub fn contributions_of(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
) -> Result<Vec<Contribution>> {
    type Row = (
        String,
        String,
        i64,
        i64,
        i64,
        String,
        Option<String>,
        Option<String>,
        String,
        NaiveDateTime,
    );
    let rows: Vec<Row> = contributions::table
        .filter(contributions::collective_id.eq(collective_id))
        .filter(contributions::member_id.eq(membership_id))
        .order(contributions::id.asc())
        .select((
            contributions::id,
            contributions::pool_id,
            contributions::amount_minor,
            contributions::fee_minor,
            contributions::refunded_minor,
            contributions::method,
            contributions::external_reference,
            contributions::note,
            contributions::status,
            contributions::received_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(
                id,
                pool_id,
                amount_minor,
                fee_minor,
                refunded_minor,
                method,
                external_reference,
                note,
                status,
                received_at,
            )| {
                let note = crypto::open_opt("contributions", "note", &id, note.as_deref())?;
                Ok(Contribution {
                    id,
                    pool_id,
                    amount_minor,
                    fee_minor,
                    refunded_minor,
                    method,
                    external_reference,
                    note,
                    status,
                    received_at,
                })
            },
        )
        .collect()
}

pub struct Declaration {
    pub issue_id: String,
    pub issue: String,
    pub tier: String,
    pub verified: bool,
    pub declared_at: NaiveDateTime,
}

/// The member's declarations of affectedness, with the issues' names.
pub fn declarations_of(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
) -> Result<Vec<Declaration>> {
    let names: BTreeMap<String, String> = issues::table
        .filter(issues::collective_id.eq(collective_id))
        .select((issues::id, issues::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let rows: Vec<(String, String, Option<NaiveDateTime>, NaiveDateTime)> = affectedness::table
        .filter(affectedness::collective_id.eq(collective_id))
        .filter(affectedness::membership_id.eq(membership_id))
        .order(affectedness::issue_id.asc())
        .select((
            affectedness::issue_id,
            affectedness::tier,
            affectedness::verified_at,
            affectedness::declared_at,
        ))
        .load(conn)?;
    let field = crypto::AFFECTEDNESS_TIER;
    rows.into_iter()
        .map(|(issue_id, tier, verified_at, declared_at)| {
            let issue = names.get(&issue_id).cloned().unwrap_or_default();
            let place = format!("{membership_id}/{issue_id}");
            let tier = crypto::open(field.table, field.column, &place, &tier)?;
            Ok(Declaration {
                issue_id,
                issue,
                tier,
                verified: verified_at.is_some(),
                declared_at,
            })
        })
        .collect()
}

pub struct Ballot {
    pub round_id: String,
    pub choices: String,
    pub weight: Option<i32>,
    pub cast_at: NaiveDateTime,
}

pub fn ballots_of(
    conn: &mut DbConnection,
    collective_id: &str,
    membership_id: &str,
) -> Result<Vec<Ballot>> {
    let rows: Vec<(String, String, Option<i32>, NaiveDateTime)> = ballots::table
        .filter(ballots::collective_id.eq(collective_id))
        .filter(ballots::membership_id.eq(membership_id))
        .order(ballots::id.asc())
        .select((
            ballots::round_id,
            ballots::choices,
            ballots::weight,
            ballots::cast_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(round_id, choices, weight, cast_at)| Ballot {
            round_id,
            choices,
            weight,
            cast_at,
        })
        .collect())
}

pub struct AuditEntry {
    pub collective_id: String,
    pub occurred_at: NaiveDateTime,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    pub details: serde_json::Value,
}

/// What the person did, in every collective, oldest first, opened.
pub fn audit_by(conn: &mut DbConnection, user_id: &str) -> Result<Vec<AuditEntry>> {
    let rows = audit_records::table
        .filter(audit_records::actor_kind.eq("user"))
        .filter(audit_records::actor_id.eq(user_id))
        .order((audit_records::occurred_at.asc(), audit_records::id.asc()))
        .select(crate::audit::AuditRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|a| {
            let details = crypto::open("audit_records", "details", &a.id, &a.details)?;
            Ok(AuditEntry {
                collective_id: a.collective_id,
                occurred_at: a.occurred_at,
                action: a.action,
                object_kind: a.object_kind,
                object_id: a.object_id,
                details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect()
}

// Retention (`super::retention`): closed requests past their collective's
// period, their private fields, and the copies about them.

/// Each collective, with the days it keeps a closed request's private
/// fields.
pub fn retention_periods(conn: &mut DbConnection) -> Result<Vec<(String, i32)>> {
    Ok(collectives::table
        .order(collectives::id.asc())
        .select((collectives::id, collectives::retention_days))
        .load(conn)?)
}

/// Up to `limit` requests of the collective that closed before `cutoff`
/// and still hold their private fields, in id order after `after`.
pub fn due_for_redaction(
    conn: &mut DbConnection,
    collective_id: &str,
    cutoff: NaiveDateTime,
    after: &str,
    limit: i64,
) -> Result<Vec<String>> {
    Ok(aid_requests::table
        .filter(aid_requests::collective_id.eq(collective_id))
        .filter(aid_requests::redacted_at.is_null())
        .filter(aid_requests::closed_at.lt(cutoff))
        .filter(aid_requests::id.gt(after))
        .order(aid_requests::id.asc())
        .limit(limit)
        .select(aid_requests::id)
        .load(conn)?)
}

/// Marks the request redacted, if it closed before `cutoff` and is not
/// yet: a guarded update only one sweep can make (it also locks the row
/// until commit). Whether this one made it.
pub fn claim_for_redaction(
    conn: &mut DbConnection,
    collective_id: &str,
    id: &str,
    cutoff: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<bool> {
    let claimed = diesel::update(
        aid_requests::table
            .filter(aid_requests::collective_id.eq(collective_id))
            .filter(aid_requests::id.eq(id))
            .filter(aid_requests::redacted_at.is_null())
            .filter(aid_requests::closed_at.lt(cutoff)),
    )
    .set((
        aid_requests::redacted_at.eq(at),
        aid_requests::version.eq(aid_requests::version + 1),
    ))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// Overwrites the request's private fields: its details and reasons (when
/// it had any) become the tombstone, its payout reference and beneficiary
/// go. Amounts, states and dates stay.
pub fn redact_request_fields(conn: &mut DbConnection, row: &RequestRow) -> Result<()> {
    const T: &str = "aid_requests";
    let tombstone = |column: &str, had: bool| -> Result<Option<String>> {
        had.then(|| crypto::seal(T, column, &row.id, TOMBSTONE))
            .transpose()
    };
    // An empty text stays empty: there was nothing to redact.
    let details: String =
        tombstone("private_details", !row.private_details.is_empty())?.unwrap_or_default();
    diesel::update(
        aid_requests::table
            .filter(aid_requests::collective_id.eq(&row.collective_id))
            .filter(aid_requests::id.eq(&row.id)),
    )
    .set((
        aid_requests::private_details.eq(details),
        aid_requests::payout_reference.eq(None::<String>),
        aid_requests::beneficiary_name.eq(None::<String>),
        aid_requests::beneficiary_contact.eq(None::<String>),
        aid_requests::withdrawal_reason.eq(tombstone(
            "withdrawal_reason",
            row.withdrawal_reason.is_some(),
        )?),
        aid_requests::rejection_reason
            .eq(row.rejection_reason.as_ref().map(|_| TOMBSTONE.to_owned())),
    ))
    .execute(conn)?;
    Ok(())
}

/// The comments on a request: id and body, opened.
pub fn comments_on(
    conn: &mut DbConnection,
    collective_id: &str,
    request_id: &str,
) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = request_comments::table
        .filter(request_comments::collective_id.eq(collective_id))
        .filter(request_comments::request_id.eq(request_id))
        .order(request_comments::id.asc())
        .select((request_comments::id, request_comments::body))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, body)| {
            let body = crypto::open("request_comments", "body", &id, &body)?;
            Ok((id, body))
        })
        .collect()
}

/// The comment's text becomes the tombstone; who wrote it and when stay.
pub fn tombstone_comment(conn: &mut DbConnection, collective_id: &str, id: &str) -> Result<()> {
    diesel::update(
        request_comments::table
            .filter(request_comments::collective_id.eq(collective_id))
            .filter(request_comments::id.eq(id)),
    )
    .set(request_comments::body.eq(crypto::seal("request_comments", "body", id, TOMBSTONE)?))
    .execute(conn)?;
    Ok(())
}

/// A hold's note, and its payouts: id and external reference, opened.
pub type HoldTexts = (Option<String>, Vec<(String, Option<String>)>);

pub fn hold_texts(
    conn: &mut DbConnection,
    collective_id: &str,
    hold_id: &str,
) -> Result<HoldTexts> {
    let note: Option<String> = holds::table
        .filter(holds::collective_id.eq(collective_id))
        .filter(holds::id.eq(hold_id))
        .select(holds::note)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten();
    let payouts: Vec<(String, Option<String>)> = disbursements::table
        .filter(disbursements::collective_id.eq(collective_id))
        .filter(disbursements::hold_id.eq(hold_id))
        .order(disbursements::id.asc())
        .select((disbursements::id, disbursements::external_reference))
        .load(conn)?;
    let payouts = payouts
        .into_iter()
        .map(|(id, reference)| {
            let reference = crypto::open_opt(
                "disbursements",
                "external_reference",
                &id,
                reference.as_deref(),
            )?;
            Ok((id, reference))
        })
        .collect::<Result<_>>()?;
    Ok((note, payouts))
}

/// The hold's note and its payouts' external references go; amounts and
/// outcomes stay.
pub fn clear_hold_texts(conn: &mut DbConnection, collective_id: &str, hold_id: &str) -> Result<()> {
    diesel::update(
        holds::table
            .filter(holds::collective_id.eq(collective_id))
            .filter(holds::id.eq(hold_id)),
    )
    .set(holds::note.eq(None::<String>))
    .execute(conn)?;
    diesel::update(
        disbursements::table
            .filter(disbursements::collective_id.eq(collective_id))
            .filter(disbursements::hold_id.eq(hold_id)),
    )
    .set(disbursements::external_reference.eq(None::<String>))
    .execute(conn)?;
    Ok(())
}

/// The collective's events about `objects`: id, public data and private
/// part (opened), in id order.
pub fn events_about(
    conn: &mut DbConnection,
    collective_id: &str,
    objects: &[String],
) -> Result<Vec<(String, String, Option<String>)>> {
    let rows: Vec<(String, String, Option<String>)> = events::table
        .filter(events::collective_id.eq(collective_id))
        .filter(events::object_id.eq_any(objects))
        .order(events::id.asc())
        .select((events::id, events::data, events::private_data))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, data, private)| {
            let private = crypto::open_opt("events", "private_data", &id, private.as_deref())?;
            Ok((id, data, private))
        })
        .collect()
}

pub fn rewrite_event(
    conn: &mut DbConnection,
    collective_id: &str,
    id: &str,
    data: &str,
    private: Option<&str>,
) -> Result<()> {
    let private = private
        .map(|p| crypto::seal("events", "private_data", id, p))
        .transpose()?;
    diesel::update(
        events::table
            .filter(events::collective_id.eq(collective_id))
            .filter(events::id.eq(id)),
    )
    .set((events::data.eq(data), events::private_data.eq(private)))
    .execute(conn)?;
    Ok(())
}

/// The collective's audit records about `objects`: id and details
/// (opened), in id order.
pub fn audit_about(
    conn: &mut DbConnection,
    collective_id: &str,
    objects: &[String],
) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = audit_records::table
        .filter(audit_records::collective_id.eq(collective_id))
        .filter(audit_records::object_id.eq_any(objects))
        .order(audit_records::id.asc())
        .select((audit_records::id, audit_records::details))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, details)| {
            let details = crypto::open("audit_records", "details", &id, &details)?;
            Ok((id, details))
        })
        .collect()
}

pub fn rewrite_audit(
    conn: &mut DbConnection,
    collective_id: &str,
    id: &str,
    details: &str,
) -> Result<()> {
    diesel::update(
        audit_records::table
            .filter(audit_records::collective_id.eq(collective_id))
            .filter(audit_records::id.eq(id)),
    )
    .set(audit_records::details.eq(crypto::seal("audit_records", "details", id, details)?))
    .execute(conn)?;
    Ok(())
}

/// Where a stored idempotent answer lives.
#[derive(Debug, Clone)]
pub struct AnswerKey {
    pub caller: String,
    pub endpoint: String,
    pub key: String,
}

impl AnswerKey {
    /// The row id its answer is sealed with.
    fn place(&self) -> String {
        format!("{}/{}/{}", self.caller, self.endpoint, self.key)
    }
}

/// Every stored idempotent answer (they are kept 48 hours), opened, in key
/// order.
pub fn answers(conn: &mut DbConnection) -> Result<Vec<(AnswerKey, String)>> {
    let rows: Vec<(String, String, String, String)> = idempotency_keys::table
        .filter(idempotency_keys::response_body.ne(""))
        .order((
            idempotency_keys::caller.asc(),
            idempotency_keys::endpoint.asc(),
            idempotency_keys::key.asc(),
        ))
        .select((
            idempotency_keys::caller,
            idempotency_keys::endpoint,
            idempotency_keys::key,
            idempotency_keys::response_body,
        ))
        .load(conn)?;
    let field = crypto::IDEMPOTENT_ANSWER;
    rows.into_iter()
        .map(|(caller, endpoint, key, body)| {
            let key = AnswerKey {
                caller,
                endpoint,
                key,
            };
            let body = crypto::open(field.table, field.column, &key.place(), &body)?;
            Ok((key, body))
        })
        .collect()
}

pub fn rewrite_answer(conn: &mut DbConnection, key: &AnswerKey, body: &str) -> Result<()> {
    let field = crypto::IDEMPOTENT_ANSWER;
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::caller.eq(&key.caller))
            .filter(idempotency_keys::endpoint.eq(&key.endpoint))
            .filter(idempotency_keys::key.eq(&key.key)),
    )
    .set(idempotency_keys::response_body.eq(crypto::seal(
        field.table,
        field.column,
        &key.place(),
        body,
    )?))
    .execute(conn)?;
    Ok(())
}
