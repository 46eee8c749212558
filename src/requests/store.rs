//! Rows and queries for aid requests, approvals, conflicts and comments.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::crypto;
use crate::db::schema::{aid_requests, request_approvals, request_comments, request_conflicts};
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::pagination::PageRequest;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = aid_requests)]
pub struct RequestRow {
    pub collective_id: String,
    pub id: String,
    pub pool_id: String,
    pub requester_membership_id: Option<String>,
    pub submitted_by: String,
    pub beneficiary_name: Option<String>,
    pub beneficiary_contact: Option<String>,
    pub amount_requested_minor: i64,
    pub amount_approved_minor: Option<i64>,
    pub category: String,
    pub urgency: String,
    pub needed_by: Option<NaiveDate>,
    pub public_summary: String,
    pub private_details: String,
    pub payout_reference: Option<String>,
    pub shared_project: bool,
    pub state: String,
    pub owner_user_id: Option<String>,
    pub rejection_reason: Option<String>,
    pub hold_id: Option<String>,
    pub paid_minor: i64,
    pub approval_round: i32,
    pub round_id: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub withdrawal_reason: Option<String>,
    /// When it entered a closed state ([`super::State::is_closed`]).
    pub closed_at: Option<NaiveDateTime>,
    /// When retention redacted its private fields.
    pub redacted_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = request_comments)]
pub struct CommentRow {
    pub collective_id: String,
    pub id: String,
    pub request_id: String,
    pub author_kind: String,
    pub author_id: String,
    pub visibility: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

const REQUESTS: &str = "aid_requests";

impl RequestRow {
    /// The row as stored: its private fields sealed (`crate::crypto`).
    pub fn sealed(&self) -> Result<RequestRow> {
        let mut row = self.clone();
        let id = row.id.clone();
        crypto::seal_in(REQUESTS, "private_details", &id, &mut row.private_details)?;
        crypto::seal_opt_in(REQUESTS, "payout_reference", &id, &mut row.payout_reference)?;
        crypto::seal_opt_in(REQUESTS, "beneficiary_name", &id, &mut row.beneficiary_name)?;
        crypto::seal_opt_in(
            REQUESTS,
            "beneficiary_contact",
            &id,
            &mut row.beneficiary_contact,
        )?;
        crypto::seal_opt_in(
            REQUESTS,
            "withdrawal_reason",
            &id,
            &mut row.withdrawal_reason,
        )?;
        Ok(row)
    }

    /// The row as read: its private fields opened.
    pub fn opened(mut self) -> Result<RequestRow> {
        let id = self.id.clone();
        crypto::open_in(REQUESTS, "private_details", &id, &mut self.private_details)?;
        crypto::open_opt_in(
            REQUESTS,
            "payout_reference",
            &id,
            &mut self.payout_reference,
        )?;
        crypto::open_opt_in(
            REQUESTS,
            "beneficiary_name",
            &id,
            &mut self.beneficiary_name,
        )?;
        crypto::open_opt_in(
            REQUESTS,
            "beneficiary_contact",
            &id,
            &mut self.beneficiary_contact,
        )?;
        crypto::open_opt_in(
            REQUESTS,
            "withdrawal_reason",
            &id,
            &mut self.withdrawal_reason,
        )?;
        Ok(self)
    }
}

impl CommentRow {
    /// The row as stored: its body sealed.
    pub fn sealed(&self) -> Result<CommentRow> {
        let mut row = self.clone();
        crypto::seal_in("request_comments", "body", &self.id, &mut row.body)?;
        Ok(row)
    }

    fn opened(mut self) -> Result<CommentRow> {
        let id = self.id.clone();
        crypto::open_in("request_comments", "body", &id, &mut self.body)?;
        Ok(self)
    }
}

/// Opens every row read.
pub fn opened(rows: Vec<RequestRow>) -> Result<Vec<RequestRow>> {
    rows.into_iter().map(RequestRow::opened).collect()
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<RequestRow>> {
    aid_requests::table
        .find(id)
        .select(RequestRow::as_select())
        .get_result(conn)
        .optional()?
        .map(RequestRow::opened)
        .transpose()
}

/// Locks the request's row for the rest of the transaction and reads it
/// fresh, so two coordinators acting at once take turns.
pub fn lock(conn: &mut DbConnection, id: &str) -> Result<RequestRow> {
    let locked = diesel::update(aid_requests::table.find(id))
        .set(aid_requests::version.eq(aid_requests::version))
        .execute(conn)?;
    if locked == 0 {
        return Err(Error::NotFound { what: "request" });
    }
    find(conn, id)?.ok_or(Error::NotFound { what: "request" })
}

/// Approvals of the request's current approval round: (approver, amount).
pub fn approvals(conn: &mut DbConnection, request: &RequestRow) -> Result<Vec<(String, i64)>> {
    Ok(request_approvals::table
        .filter(request_approvals::collective_id.eq(&request.collective_id))
        .filter(request_approvals::request_id.eq(&request.id))
        .filter(request_approvals::approval_round.eq(request.approval_round))
        .select((
            request_approvals::approver_user_id,
            request_approvals::amount_minor,
        ))
        .load(conn)?)
}

pub fn has_conflict(conn: &mut DbConnection, request_id: &str, user_id: &str) -> Result<bool> {
    let n: i64 = request_conflicts::table
        .filter(request_conflicts::request_id.eq(request_id))
        .filter(request_conflicts::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// What to look for in a queue.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub states: Vec<String>,
    pub pool_id: Option<String>,
    pub category: Option<String>,
    pub urgency: Option<String>,
    pub owner_user_id: Option<String>,
    /// Only requests nobody owns yet.
    pub unowned: bool,
    pub needed_by_before: Option<NaiveDate>,
    pub updated_since: Option<NaiveDateTime>,
    /// Drafts are shown only to whoever wrote them: this user's id, or
    /// `None` to hide every draft except for the restricted reader below.
    pub visible_drafts_of: Option<Option<String>>,
    /// Restrict to these ids (e.g. awaiting my approval).
    pub ids: Option<Vec<String>>,
    /// Only requests this user asked for, or that are for this membership.
    pub requested_by: Option<(String, Option<String>)>,
}

pub fn list(
    conn: &mut DbConnection,
    collective_id: &str,
    filter: &Filter,
    page: &PageRequest,
) -> Result<Vec<RequestRow>> {
    let mut query = aid_requests::table
        .filter(aid_requests::collective_id.eq(collective_id))
        .into_boxed();
    if !filter.states.is_empty() {
        query = query.filter(aid_requests::state.eq_any(filter.states.clone()));
    }
    if let Some(v) = &filter.pool_id {
        query = query.filter(aid_requests::pool_id.eq(v.clone()));
    }
    if let Some(v) = &filter.category {
        query = query.filter(aid_requests::category.eq(v.clone()));
    }
    if let Some(v) = &filter.urgency {
        query = query.filter(aid_requests::urgency.eq(v.clone()));
    }
    if let Some(v) = &filter.owner_user_id {
        query = query.filter(aid_requests::owner_user_id.eq(v.clone()));
    }
    if filter.unowned {
        query = query.filter(aid_requests::owner_user_id.is_null());
    }
    if let Some(v) = filter.needed_by_before {
        query = query.filter(aid_requests::needed_by.le(v));
    }
    if let Some(v) = filter.updated_since {
        query = query.filter(aid_requests::updated_at.ge(v));
    }
    match &filter.visible_drafts_of {
        None => {}
        Some(None) => query = query.filter(aid_requests::state.ne("draft")),
        Some(Some(user)) => {
            query = query.filter(
                aid_requests::state
                    .ne("draft")
                    .or(aid_requests::submitted_by.eq(user.clone())),
            )
        }
    }
    if let Some(ids) = &filter.ids {
        query = query.filter(aid_requests::id.eq_any(ids.clone()));
    }
    match &filter.requested_by {
        None => {}
        Some((user, None)) => query = query.filter(aid_requests::submitted_by.eq(user.clone())),
        Some((user, Some(membership))) => {
            query = query.filter(
                aid_requests::submitted_by
                    .eq(user.clone())
                    .or(aid_requests::requester_membership_id.eq(membership.clone())),
            )
        }
    }
    if let Some(after) = &page.after {
        query = query.filter(aid_requests::id.gt(after.clone()));
    }
    opened(
        query
            .order(aid_requests::id.asc())
            .limit(page.limit + 1)
            .select(RequestRow::as_select())
            .load(conn)?,
    )
}

pub fn count_by_state(conn: &mut DbConnection, collective_id: &str) -> Result<Vec<(String, i64)>> {
    use diesel::dsl::count_star;
    Ok(aid_requests::table
        .filter(aid_requests::collective_id.eq(collective_id))
        .group_by(aid_requests::state)
        .select((aid_requests::state, count_star()))
        .load(conn)?)
}

pub fn comments(
    conn: &mut DbConnection,
    request_id: &str,
    include_internal: bool,
    page: &PageRequest,
) -> Result<Vec<CommentRow>> {
    let mut query = request_comments::table
        .filter(request_comments::request_id.eq(request_id))
        .into_boxed();
    if !include_internal {
        query = query.filter(request_comments::visibility.eq("requester"));
    }
    if let Some(after) = &page.after {
        query = query.filter(request_comments::id.gt(after.clone()));
    }
    query
        .order(request_comments::id.asc())
        .limit(page.limit + 1)
        .select(CommentRow::as_select())
        .load(conn)?
        .into_iter()
        .map(CommentRow::opened)
        .collect()
}

/// A pool's requests that have been paid something: id, category and the
/// amount paid (for the pool's public summary).
pub fn helped_in_pool(
    conn: &mut DbConnection,
    pool_id: &str,
) -> Result<Vec<(String, String, i64)>> {
    Ok(aid_requests::table
        .filter(aid_requests::pool_id.eq(pool_id))
        .filter(aid_requests::paid_minor.gt(0))
        .order(aid_requests::id.asc())
        .select((
            aid_requests::id,
            aid_requests::category,
            aid_requests::paid_minor,
        ))
        .load(conn)?)
}
