//! The rules of the aid-request workflow. Every change locks the request,
//! checks `If-Match`, moves its state through `State::require`, and is
//! audited and recorded as an event in the same transaction.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde_json::{json, Value};

use super::state::{Event, State};
use super::store::{self, CommentRow, Filter, RequestRow};
use super::*;
use crate::audit;
use crate::auth::access::{authorize, Actor, Principal, Who};
use crate::auth::policy::{Permission, Scope};
use crate::collectives::{check_if_match, check_text, etag};
use crate::db::schema::{aid_requests, request_approvals, request_comments, request_conflicts};
use crate::db::{is_unique_violation, write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, utc, HoldId, PoolId, RequestId};
use crate::ledger::facts::PayoutPosted;
use crate::ledger::holds::{self, Disbursement, HoldFor, NewDisbursement};
use crate::money::{format_minor, Money};
use crate::pagination::{Page, PageRequest};
use crate::pools::store::{self as pool_store, PoolRow};

/// Column changes that come with a transition; `None` leaves a column be.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = aid_requests)]
struct Changes {
    state: Option<String>,
    owner_user_id: Option<Option<String>>,
    amount_requested_minor: Option<i64>,
    amount_approved_minor: Option<Option<i64>>,
    category: Option<String>,
    urgency: Option<String>,
    needed_by: Option<Option<NaiveDate>>,
    public_summary: Option<String>,
    private_details: Option<String>,
    payout_reference: Option<Option<String>>,
    rejection_reason: Option<Option<String>>,
    withdrawal_reason: Option<Option<String>>,
    hold_id: Option<Option<String>>,
    paid_minor: Option<i64>,
    approval_round: Option<i32>,
    round_id: Option<Option<String>>,
    submitted_at: Option<Option<NaiveDateTime>>,
    decided_at: Option<Option<NaiveDateTime>>,
    closed_at: Option<Option<NaiveDateTime>>,
    updated_at: Option<NaiveDateTime>,
    version: Option<i64>,
}

impl Changes {
    /// The changes as stored: private fields sealed for the row `id`.
    fn sealed(mut self, id: &str) -> Result<Changes> {
        const T: &str = "aid_requests";
        if let Some(v) = &mut self.private_details {
            crate::crypto::seal_in(T, "private_details", id, v)?;
        }
        if let Some(v) = &mut self.payout_reference {
            crate::crypto::seal_opt_in(T, "payout_reference", id, v)?;
        }
        if let Some(v) = &mut self.withdrawal_reason {
            crate::crypto::seal_opt_in(T, "withdrawal_reason", id, v)?;
        }
        Ok(self)
    }
}

fn state_of(row: &RequestRow) -> Result<State> {
    State::parse(&row.state).ok_or_else(|| {
        Error::Internal(format!("request {} in unknown state {}", row.id, row.state))
    })
}

/// Writes `changes` (and the state after `event`, if any), guarded by the
/// version read, and records the audit entry and the event `happened`
/// (with the request as it now is; drafts are nobody's business but their
/// author's, so they are not announced).
fn apply(
    conn: &mut DbConnection,
    actor: &Actor,
    row: &RequestRow,
    event: Option<Event>,
    mut changes: Changes,
    happened: EventType,
    details: Value,
) -> Result<RequestRow> {
    let from = state_of(row)?;
    let to = match event {
        Some(event) => from.require(event)?,
        None => from,
    };
    changes.state = Some(to.as_str().to_owned());
    changes.updated_at = Some(now());
    // Retention counts from here (`personal_data::retention`).
    if to.is_closed() && !from.is_closed() {
        changes.closed_at = Some(Some(now()));
    }
    changes.version = Some(row.version + 1);
    let pool = pool_store::find(conn, &row.pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
    let before = view(conn, row.clone(), &pool, true)?;
    let updated = diesel::update(
        aid_requests::table
            .filter(aid_requests::id.eq(&row.id))
            .filter(aid_requests::version.eq(row.version)),
    )
    .set(&changes.sealed(&row.id)?)
    .execute(conn)?;
    if updated == 0 {
        return Err(Error::PreconditionFailed {
            current_etag: etag(row.version + 1),
        });
    }
    let fresh = store::find(conn, &row.id)?.ok_or(Error::NotFound { what: "request" })?;
    // The record says what changed, before and after; the private fields
    // are named, their values left out.
    let after = view(conn, fresh.clone(), &pool, true)?;
    let details = audit::with_changes(details, audit::changes(&before, &after, &["private"]));
    audit::record(conn, actor, happened.name(), "request", &row.id, details)?;
    // The event carries the request as `after` shows it: the same view
    // `announce` would build, without reading the pool and the approvals
    // a third time.
    if state_of(&fresh)? != State::Draft {
        events::record(conn, &fresh.collective_id, happened, &after)?;
    }
    Ok(fresh)
}

/// Records `happened` with the request as its GET shows it, unless it is a
/// draft.
fn announce(conn: &mut DbConnection, happened: EventType, row: &RequestRow) -> Result<()> {
    if state_of(row)? == State::Draft {
        return Ok(());
    }
    let pool = pool_store::find(conn, &row.pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
    let snapshot = view(conn, row.clone(), &pool, true)?;
    events::record(conn, &row.collective_id, happened, &snapshot)
}

/// Records that retention redacted the request's private fields
/// (`personal_data::retention`): audited as done by the system, with
/// `details` that name none of what went, and announced with the request
/// as it now reads.
pub fn record_redacted(conn: &mut DbConnection, row: &RequestRow, details: Value) -> Result<()> {
    audit::record(
        conn,
        &Actor::system(&row.collective_id),
        EventType::RequestRedacted.name(),
        "request",
        &row.id,
        details,
    )?;
    announce(conn, EventType::RequestRedacted, row)
}

/// The user id of the member the request is for, if it is for a member.
fn requester_user(conn: &mut DbConnection, row: &RequestRow) -> Result<Option<String>> {
    match &row.requester_membership_id {
        Some(id) => Ok(crate::collectives::store::find_membership(conn, id)?.map(|(_, u)| u.id)),
        None => Ok(None),
    }
}

/// Whether the actor asked for this request, or is the member it is for.
fn is_requester(conn: &mut DbConnection, actor: &Actor, row: &RequestRow) -> Result<bool> {
    if actor.id() == row.submitted_by {
        return Ok(true);
    }
    Ok(match actor.user_id() {
        Some(user) => requester_user(conn, row)?.as_deref() == Some(user),
        None => false,
    })
}

/// Loads a request for a reader of its collective; drafts exist only for
/// whoever wrote them.
pub(super) fn load(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<(Actor, RequestRow, bool)> {
    let row = store::find(conn, id)?.ok_or(Error::NotFound { what: "request" })?;
    let actor = authorize(
        conn,
        principal,
        &row.collective_id,
        Permission::ReadRequests,
        "request",
    )?;
    let own = is_requester(conn, &actor, &row)?;
    if state_of(&row)? == State::Draft && !own {
        return Err(Error::NotFound { what: "request" });
    }
    Ok((actor, row, own))
}

/// Loads and locks a request for a change by someone allowed `permission`.
fn load_for_change(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    permission: Permission,
    if_match: Option<&str>,
) -> Result<(Actor, RequestRow, PoolRow, bool)> {
    let (_, row, own) = load(conn, principal, id)?;
    let actor = authorize(conn, principal, &row.collective_id, permission, "request")?;
    let pool = pool_store::lock(conn, &row.pool_id)?;
    let row = store::lock(conn, &row.id)?;
    check_if_match(if_match, row.version)?;
    Ok((actor, row, pool, own))
}

fn needed_approvals(row: &RequestRow, pool: &PoolRow, amount: i64) -> i32 {
    let fast_track = row.urgency == "emergency"
        && pool
            .fast_track_limit_minor
            .is_some_and(|limit| amount <= limit);
    if fast_track {
        1
    } else {
        pool.approvals_needed
    }
}

fn view(
    conn: &mut DbConnection,
    row: RequestRow,
    pool: &PoolRow,
    show_private: bool,
) -> Result<AidRequest> {
    let currency = pool.currency()?;
    let show = |m: i64| format_minor(m, currency);
    let approvals = store::approvals(conn, &row)?;
    let lowest = approvals
        .iter()
        .map(|(_, a)| *a)
        .min()
        .unwrap_or(row.amount_requested_minor);
    let private = show_private.then(|| PrivateFields {
        private_details: row.private_details.clone(),
        payout_reference: row.payout_reference.clone(),
        beneficiary: row.beneficiary_name.clone().map(|name| Beneficiary {
            name,
            contact: row.beneficiary_contact.clone(),
        }),
        requester_membership_id: row.requester_membership_id.clone(),
        submitted_by: row.submitted_by.clone(),
        withdrawal_reason: row.withdrawal_reason.clone(),
    });
    Ok(AidRequest {
        state: state_of(&row)?,
        amount_requested: show(row.amount_requested_minor),
        amount_approved: row.amount_approved_minor.map(show),
        paid: show(row.paid_minor),
        currency: currency.code.to_owned(),
        urgency: if row.urgency == "emergency" {
            Urgency::Emergency
        } else {
            Urgency::Standard
        },
        approvals: approvals.len() as i64,
        approvals_needed: needed_approvals(&row, pool, lowest.min(row.amount_requested_minor)),
        private,
        id: row.id,
        collective_id: row.collective_id,
        pool_id: row.pool_id,
        category: row.category,
        needed_by: row.needed_by,
        public_summary: row.public_summary,
        shared_project: row.shared_project,
        owner_user_id: row.owner_user_id,
        rejection_reason: row.rejection_reason,
        hold_id: row.hold_id,
        submitted_at: row.submitted_at.map(utc),
        closed_at: row.closed_at.map(utc),
        redacted_at: row.redacted_at.map(utc),
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
        version: row.version,
    })
}

/// Whether this reader sees the private fields.
fn sees_private(actor: &Actor, own: bool) -> bool {
    own || actor.may(Permission::ReadPrivateRequestFields)
}

fn check_amount(field: &str, text: &str, pool: &PoolRow) -> Result<i64> {
    let amount = Money::parse_positive(field, text, pool.currency()?)?.minor;
    if let Some(max) = pool.max_request_minor {
        if amount > max {
            return Err(Error::invalid(
                field,
                format!(
                    "must be at most the pool's largest request, {}",
                    format_minor(max, pool.currency()?)
                ),
            ));
        }
    }
    Ok(amount)
}

fn optional_text(field: &str, text: Option<&str>, max: usize) -> Result<Option<String>> {
    text.map(|t| check_text(field, t, max)).transpose()
}

fn long_text(field: &str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// A member asks for themselves; a coordinator or an intake app asks on
/// someone's behalf (a member, or a person who is not one).
pub fn create(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
    input: NewRequest,
) -> Result<AidRequest> {
    write_tx(conn, |conn| {
        let pool = pool_store::find(conn, pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
        let on_behalf = input.on_behalf_of_member.is_some() || input.beneficiary.is_some();
        if input.on_behalf_of_member.is_some() && input.beneficiary.is_some() {
            return Err(Error::invalid(
                "beneficiary",
                "give either on_behalf_of_member or beneficiary, not both",
            ));
        }
        let permission = if on_behalf {
            Permission::RequestOnBehalf
        } else {
            Permission::RequestForSelf
        };
        let actor = authorize(conn, principal, &pool.collective_id, permission, "pool")?;
        let requester_membership_id = match (&input.on_behalf_of_member, &actor.who) {
            (Some(member), _) => {
                let known = crate::collectives::store::find_membership(conn, member)?
                    .is_some_and(|(m, _)| m.collective_id == pool.collective_id && m.is_active());
                if !known {
                    return Err(Error::invalid(
                        "on_behalf_of_member",
                        "is not an active member of this collective",
                    ));
                }
                Some(member.clone())
            }
            (None, _) if input.beneficiary.is_some() => None,
            (
                None,
                Who::Member {
                    membership_id,
                    role,
                    ..
                },
            ) => {
                if pool.requesters == "coordinators"
                    && *role < crate::auth::policy::Role::Coordinator
                {
                    return Err(Error::Forbidden {
                        code: "requests_by_coordinators_only",
                        message: "in this pool, coordinators ask on members' behalf".into(),
                    });
                }
                Some(membership_id.clone())
            }
            (None, _) => {
                return Err(Error::invalid(
                    "on_behalf_of_member",
                    "partner apps ask on someone's behalf",
                ));
            }
        };
        let amount = check_amount("amount", &input.amount, &pool)?;
        let beneficiary = match &input.beneficiary {
            Some(b) => Some((
                check_text("beneficiary.name", &b.name, 200)?,
                optional_text("beneficiary.contact", b.contact.as_deref(), 200)?,
            )),
            None => None,
        };
        let at = now();
        let state = if input.draft {
            State::Draft
        } else {
            State::Submitted
        };
        let row = RequestRow {
            collective_id: pool.collective_id.clone(),
            id: new_id(),
            pool_id: pool.id.clone(),
            requester_membership_id,
            submitted_by: actor.id().to_owned(),
            beneficiary_name: beneficiary.as_ref().map(|b| b.0.clone()),
            beneficiary_contact: beneficiary.and_then(|b| b.1),
            amount_requested_minor: amount,
            amount_approved_minor: None,
            category: check_text("category", &input.category, 50)?.to_lowercase(),
            urgency: input.urgency.as_str().to_owned(),
            needed_by: input.needed_by,
            public_summary: check_text("public_summary", &input.public_summary, 500)?,
            private_details: long_text("private_details", &input.private_details, 5000)?,
            payout_reference: optional_text(
                "payout_reference",
                input.payout_reference.as_deref(),
                200,
            )?,
            shared_project: input.shared_project,
            state: state.as_str().to_owned(),
            owner_user_id: None,
            rejection_reason: None,
            hold_id: None,
            paid_minor: 0,
            approval_round: 1,
            round_id: None,
            submitted_at: (state == State::Submitted).then_some(at),
            decided_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
            withdrawal_reason: None,
            closed_at: None,
            redacted_at: None,
        };
        diesel::insert_into(aid_requests::table)
            .values(&row.sealed()?)
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            "request.created",
            "request",
            &row.id,
            json!({"pool_id": row.pool_id, "amount_minor": amount, "state": row.state, "on_behalf": on_behalf}),
        )?;
        announce(conn, EventType::RequestSubmitted, &row)?;
        view(conn, row, &pool, true)
    })
}

pub fn get(conn: &mut DbConnection, principal: &Principal, id: &str) -> Result<AidRequest> {
    let (actor, row, own) = load(conn, principal, id)?;
    let pool = pool_store::find(conn, &row.pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
    view(conn, row, &pool, sees_private(&actor, own))
}

/// What a queue asks for, as the API receives it.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub states: Vec<State>,
    pub pool_id: Option<String>,
    pub category: Option<String>,
    pub urgency: Option<Urgency>,
    /// A user id, or `me`.
    pub owner: Option<String>,
    /// Only requests nobody owns yet.
    pub unowned: bool,
    pub needed_by_before: Option<NaiveDate>,
    pub updated_since: Option<NaiveDateTime>,
    pub awaiting_my_approval: bool,
    /// Only the caller's own requests (asked by them or for them).
    pub mine: bool,
}

pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
    query: Query,
    page: &PageRequest,
) -> Result<Page<AidRequest>> {
    let actor = authorize(
        conn,
        principal,
        collective_id,
        Permission::ReadRequests,
        "collective",
    )?;
    let owner = match query.owner.as_deref() {
        Some("me") => Some(actor.id().to_owned()),
        other => other.map(str::to_owned),
    };
    let ids = if query.awaiting_my_approval {
        Some(awaiting_approval_by(conn, &actor, collective_id)?)
    } else {
        None
    };
    let filter = Filter {
        states: query.states.iter().map(|s| s.as_str().to_owned()).collect(),
        pool_id: query.pool_id,
        category: query.category.map(|c| c.trim().to_lowercase()),
        urgency: query.urgency.map(|u| u.as_str().to_owned()),
        owner_user_id: owner,
        unowned: query.unowned,
        needed_by_before: query.needed_by_before,
        updated_since: query.updated_since,
        visible_drafts_of: Some(Some(actor.id().to_owned())),
        ids,
        requested_by: query.mine.then(|| {
            (
                actor.id().to_owned(),
                actor.membership_id().map(str::to_owned),
            )
        }),
    };
    let rows = store::list(conn, collective_id, &filter, page)?;
    let page = Page::from_rows(rows, page, |r| &r.id);
    let mut pools: std::collections::HashMap<String, PoolRow> = Default::default();
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        if !pools.contains_key(&row.pool_id) {
            let pool =
                pool_store::find(conn, &row.pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
            pools.insert(row.pool_id.clone(), pool);
        }
        let own = is_requester(conn, &actor, &row)?;
        let pool = &pools[&row.pool_id];
        items.push(view(conn, row, pool, sees_private(&actor, own))?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// In-review requests this coordinator may still approve.
fn awaiting_approval_by(
    conn: &mut DbConnection,
    actor: &Actor,
    collective_id: &str,
) -> Result<Vec<String>> {
    if !actor.may(Permission::ReviewRequests) {
        return Ok(Vec::new());
    }
    let candidates: Vec<RequestRow> = store::opened(
        aid_requests::table
            .filter(aid_requests::collective_id.eq(collective_id))
            .filter(aid_requests::state.eq(State::InReview.as_str()))
            .select(RequestRow::as_select())
            .load(conn)?,
    )?;
    let mut ids = Vec::new();
    for row in candidates {
        let approved = store::approvals(conn, &row)?
            .iter()
            .any(|(who, _)| who == actor.id());
        if !approved
            && !is_requester(conn, actor, &row)?
            && !store::has_conflict(conn, &row.id, actor.id())?
        {
            ids.push(row.id);
        }
    }
    Ok(ids)
}

pub fn counts(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
) -> Result<StateCounts> {
    authorize(
        conn,
        principal,
        collective_id,
        Permission::ReviewRequests,
        "collective",
    )?;
    let mut counts: std::collections::BTreeMap<String, i64> = State::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for (state, n) in store::count_by_state(conn, collective_id)? {
        counts.insert(state, n);
    }
    Ok(StateCounts { counts })
}

fn require_requester(actor: &Actor, own: bool) -> Result<()> {
    if !own {
        return Err(not_theirs(
            actor,
            Scope::RequestsWrite,
            "only the requester (or whoever asked on their behalf) may do this",
        ));
    }
    Ok(())
}

/// The refusal for a caller to whom the request is not open. A partner app
/// without the scope that could open it (`scope`) is refused for its scope,
/// `insufficient_scope`, as every other scope refusal is: one code for one
/// cause. People, and apps that hold the scope, are refused as `forbidden`.
fn not_theirs(actor: &Actor, scope: Scope, message: &str) -> Error {
    match &actor.who {
        Who::Client { scopes, .. } if !scopes.contains(&scope) => Error::Forbidden {
            code: "insufficient_scope",
            message: format!("this needs the {} scope", scope.as_str()),
        },
        _ => Error::forbidden(message),
    }
}

/// The requester edits a draft, or amends a submitted request — which
/// clears the approvals given so far.
pub fn amend(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    patch: RequestPatch,
    if_match: Option<&str>,
) -> Result<AidRequest> {
    write_tx(conn, |conn| {
        let (actor, row, pool, own) =
            load_for_change(conn, principal, id, Permission::ReadRequests, if_match)?;
        require_requester(&actor, own)?;
        let state = state_of(&row)?;
        state.require(Event::Amend)?;
        let mut changes = Changes {
            amount_requested_minor: patch
                .amount
                .as_deref()
                .map(|a| check_amount("amount", a, &pool))
                .transpose()?,
            category: patch
                .category
                .as_deref()
                .map(|c| check_text("category", c, 50).map(|c| c.to_lowercase()))
                .transpose()?,
            urgency: patch.urgency.map(|u| u.as_str().to_owned()),
            needed_by: patch.needed_by.map(Some),
            public_summary: patch
                .public_summary
                .as_deref()
                .map(|s| check_text("public_summary", s, 500))
                .transpose()?,
            private_details: patch
                .private_details
                .as_deref()
                .map(|d| long_text("private_details", d, 5000))
                .transpose()?,
            payout_reference: patch
                .payout_reference
                .as_deref()
                .map(|r| check_text("payout_reference", r, 200).map(Some))
                .transpose()?,
            ..Default::default()
        };
        let clears = state != State::Draft;
        if clears {
            changes.approval_round = Some(row.approval_round + 1);
        }
        let row = apply(
            conn,
            &actor,
            &row,
            Some(Event::Amend),
            changes,
            EventType::RequestAmended,
            json!({"approvals_cleared": clears}),
        )?;
        view(conn, row, &pool, true)
    })
}

pub fn submit(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    if_match: Option<&str>,
) -> Result<AidRequest> {
    write_tx(conn, |conn| {
        let (actor, row, pool, own) =
            load_for_change(conn, principal, id, Permission::ReadRequests, if_match)?;
        require_requester(&actor, own)?;
        let changes = Changes {
            submitted_at: Some(Some(now())),
            ..Default::default()
        };
        let row = apply(
            conn,
            &actor,
            &row,
            Some(Event::Submit),
            changes,
            EventType::RequestSubmitted,
            json!({}),
        )?;
        view(conn, row, &pool, true)
    })
}

/// A coordinator takes a request into review and owns it. One owner at a
/// time: an owned request is 409 for others; an admin may reassign it.
pub fn take(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    input: TakeOwnership,
    if_match: Option<&str>,
) -> Result<AidRequest> {
    write_tx(conn, |conn| {
        let (actor, row, pool, own) =
            load_for_change(conn, principal, id, Permission::ReviewRequests, if_match)?;
        let me = actor
            .user_id()
            .ok_or_else(|| Error::forbidden("only coordinators own requests"))?
            .to_owned();
        let new_owner = match input.assign_to {
            Some(user) => {
                if !actor.may(Permission::ReassignRequests) {
                    return Err(Error::forbidden("only admins assign requests to others"));
                }
                let membership =
                    crate::collectives::store::membership_of(conn, &row.collective_id, &user)?;
                let is_coordinator = membership.is_some_and(|m| {
                    m.is_active()
                        && m.role()
                            .is_some_and(|r| r >= crate::auth::policy::Role::Coordinator)
                });
                if !is_coordinator {
                    return Err(Error::invalid(
                        "assign_to",
                        "is not an active coordinator of this collective",
                    ));
                }
                user
            }
            None => me.clone(),
        };
        if own && new_owner == me {
            return Err(Error::Forbidden {
                code: "own_request",
                message: "nobody reviews their own request".into(),
            });
        }
        let state = state_of(&row)?;
        let reassigning = row
            .owner_user_id
            .as_ref()
            .is_some_and(|owner| *owner != new_owner);
        if reassigning && !actor.may(Permission::ReassignRequests) {
            return Err(Error::Conflict {
                code: "already_owned",
                message: "another coordinator owns this request; an admin can reassign it".into(),
                extra: Some(json!({"owner_user_id": row.owner_user_id})),
            });
        }
        let event = match state {
            State::Submitted => Some(Event::TakeIntoReview),
            State::InReview => None,
            other => {
                other.require(Event::TakeIntoReview)?;
                None
            }
        };
        let changes = Changes {
            owner_user_id: Some(Some(new_owner.clone())),
            ..Default::default()
        };
        let action = if reassigning {
            EventType::RequestReassigned
        } else {
            EventType::RequestTakenIntoReview
        };
        let row = apply(
            conn,
            &actor,
            &row,
            event,
            changes,
            action,
            json!({"from_owner": row.owner_user_id, "to_owner": new_owner}),
        )?;
        view(conn, row, &pool, true)
    })
}

fn may_decide(conn: &mut DbConnection, actor: &Actor, row: &RequestRow, own: bool) -> Result<()> {
    if own {
        return Err(Error::Forbidden {
            code: "own_request",
            message: "nobody approves or rejects their own request, nor one they submitted".into(),
        });
    }
    if store::has_conflict(conn, &row.id, actor.id())? {
        return Err(Error::Forbidden {
            code: "conflict_of_interest",
            message: "you declared a conflict of interest on this request".into(),
        });
    }
    Ok(())
}

/// A coordinator approves, possibly for less. The final approval places
/// the hold; if the pool is short, that approval is refused and the
/// earlier ones stay.
pub fn approve(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    input: NewApproval,
    if_match: Option<&str>,
) -> Result<AidRequest> {
    write_tx(conn, |conn| {
        let (actor, row, pool, own) =
            load_for_change(conn, principal, id, Permission::ReviewRequests, if_match)?;
        if state_of(&row)? != State::InReview {
            state_of(&row)?.require(Event::Approve)?;
            return Err(Error::Conflict {
                code: "invalid_transition",
                message: "take the request into review before approving it".into(),
                extra: Some(json!({"current_state": row.state})),
            });
        }
        may_decide(conn, &actor, &row, own)?;
        let approvals = store::approvals(conn, &row)?;
        if approvals.iter().any(|(who, _)| who == actor.id()) {
            return Err(Error::conflict(
                "already_approved",
                "you have already approved this request",
            ));
        }
        let amount = match input.amount.as_deref() {
            Some(text) => {
                let amount = Money::parse_positive("amount", text, pool.currency()?)?.minor;
                if amount > row.amount_requested_minor {
                    return Err(Error::invalid("amount", "cannot be more than was asked"));
                }
                amount
            }
            None => row.amount_requested_minor,
        };
        let lowest = approvals
            .iter()
            .map(|(_, a)| *a)
            .chain([amount])
            .min()
            .unwrap_or(amount);
        let count = approvals.len() as i32 + 1;
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(request_approvals::table)
                .values((
                    request_approvals::collective_id.eq(&row.collective_id),
                    request_approvals::id.eq(new_id()),
                    request_approvals::request_id.eq(&row.id),
                    request_approvals::approval_round.eq(row.approval_round),
                    request_approvals::approver_user_id.eq(actor.id()),
                    request_approvals::amount_minor.eq(amount),
                    request_approvals::created_at.eq(now()),
                ))
                .execute(conn)
        });
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::conflict(
                    "already_approved",
                    "you have already approved this request",
                ))
            }
            other => other?,
        };
        let details = json!({"amount_minor": amount, "approvals": count});
        let row = if count >= needed_approvals(&row, &pool, lowest) {
            let money = Money::new(lowest, pool.currency()?);
            let hold = holds::place(
                conn,
                &actor,
                &PoolId::from(pool.id.as_str()),
                money,
                HoldFor::Request(RequestId::from(row.id.as_str())),
                None,
            )?;
            let changes = Changes {
                amount_approved_minor: Some(Some(lowest)),
                hold_id: Some(Some(hold.id.into_string())),
                decided_at: Some(Some(now())),
                ..Default::default()
            };
            apply(
                conn,
                &actor,
                &row,
                Some(Event::Approve),
                changes,
                EventType::RequestApproved,
                details,
            )?
        } else {
            apply(
                conn,
                &actor,
                &row,
                None,
                Changes::default(),
                EventType::RequestApprovalGiven,
                details,
            )?
        };
        view(conn, row, &pool, true)
    })
}

pub fn reject(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    input: Reason,
    if_match: Option<&str>,
) -> Result<AidRequest> {
    let reason = check_text("reason", &input.reason, 2000)?;
    write_tx(conn, |conn| {
        let (actor, row, pool, own) =
            load_for_change(conn, principal, id, Permission::ReviewRequests, if_match)?;
        may_decide(conn, &actor, &row, own)?;
        let changes = Changes {
            rejection_reason: Some(Some(reason)),
            decided_at: Some(Some(now())),
            ..Default::default()
        };
        let row = apply(
            conn,
            &actor,
            &row,
            Some(Event::Reject),
            changes,
            EventType::RequestRejected,
            json!({}),
        )?;
        view(conn, row, &pool, true)
    })
}

/// Releases what is left of the request's hold; refused while a payment
/// is pending.
fn release_hold(conn: &mut DbConnection, actor: &Actor, row: &RequestRow) -> Result<()> {
    if let Some(hold_id) = &row.hold_id {
        let hold_id = HoldId::from(hold_id.as_str());
        if holds::has_pending(conn, &hold_id)? {
            return Err(Error::conflict(
                "payment_pending",
                "a payment for this request is pending; record its outcome first",
            ));
        }
        holds::release(conn, actor, &hold_id, None)?;
    }
    Ok(())
}

/// The requester withdraws, before any payment. Their reason, if given, is
/// kept with the private fields: coordinators read it there; the audit
/// trail and the event only say whether one was given.
pub fn withdraw(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    input: OptionalReason,
    if_match: Option<&str>,
) -> Result<AidRequest> {
    let reason = optional_text("reason", input.reason.as_deref(), 2000)?;
    write_tx(conn, |conn| {
        let (actor, row, pool, own) =
            load_for_change(conn, principal, id, Permission::ReadRequests, if_match)?;
        require_requester(&actor, own)?;
        state_of(&row)?.require(Event::Withdraw)?;
        release_hold(conn, &actor, &row)?;
        let details = json!({"reason_given": reason.is_some()});
        let changes = Changes {
            withdrawal_reason: Some(reason),
            ..Default::default()
        };
        let row = apply(
            conn,
            &actor,
            &row,
            Some(Event::Withdraw),
            changes,
            EventType::RequestWithdrawn,
            details,
        )?;
        view(conn, row, &pool, true)
    })
}

/// Coordinators cancel, releasing what is left of its hold.
pub fn cancel(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    input: OptionalReason,
    if_match: Option<&str>,
) -> Result<AidRequest> {
    let reason = optional_text("reason", input.reason.as_deref(), 2000)?;
    write_tx(conn, |conn| {
        let (actor, row, pool, _) =
            load_for_change(conn, principal, id, Permission::ReviewRequests, if_match)?;
        state_of(&row)?.require(Event::Cancel)?;
        release_hold(conn, &actor, &row)?;
        let row = apply(
            conn,
            &actor,
            &row,
            Some(Event::Cancel),
            Changes::default(),
            EventType::RequestCancelled,
            json!({"reason": reason}),
        )?;
        view(conn, row, &pool, true)
    })
}

/// A coordinator declares a conflict of interest and is excluded from
/// deciding the request.
pub fn declare_conflict(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    input: OptionalReason,
) -> Result<AidRequest> {
    let note = optional_text("reason", input.reason.as_deref(), 2000)?;
    write_tx(conn, |conn| {
        let (actor, row, pool, _) =
            load_for_change(conn, principal, id, Permission::ReviewRequests, None)?;
        let inserted = conn.transaction(|conn| {
            diesel::insert_into(request_conflicts::table)
                .values((
                    request_conflicts::collective_id.eq(&row.collective_id),
                    request_conflicts::request_id.eq(&row.id),
                    request_conflicts::user_id.eq(actor.id()),
                    request_conflicts::note.eq(&note),
                    request_conflicts::created_at.eq(now()),
                ))
                .execute(conn)
        });
        match inserted {
            Err(e) if is_unique_violation(&e) => {}
            other => {
                other?;
            }
        }
        // An approval already given by someone now conflicted no longer counts.
        diesel::delete(
            request_approvals::table
                .filter(request_approvals::collective_id.eq(&row.collective_id))
                .filter(request_approvals::request_id.eq(&row.id))
                .filter(request_approvals::approval_round.eq(row.approval_round))
                .filter(request_approvals::approver_user_id.eq(actor.id())),
        )
        .execute(conn)?;
        let row = apply(
            conn,
            &actor,
            &row,
            None,
            Changes::default(),
            EventType::RequestConflictDeclared,
            json!({}),
        )?;
        view(conn, row, &pool, true)
    })
}

/// Pays part or all of an approved request through its hold.
pub fn disburse(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    input: NewDisbursement,
) -> Result<Disbursement> {
    write_tx(conn, |conn| {
        let (actor, row, pool, _) =
            load_for_change(conn, principal, id, Permission::ReviewRequests, None)?;
        let state = state_of(&row)?;
        if !matches!(state, State::Approved | State::PartiallyPaid) {
            state.require(Event::PayPart)?;
        }
        let hold_id =
            row.hold_id.clone().map(HoldId::from).ok_or_else(|| {
                Error::Internal(format!("approved request {} has no hold", row.id))
            })?;
        let amount = Money::parse_positive("amount", &input.amount, pool.currency()?)?;
        let reference = optional_text(
            "external_reference",
            input.external_reference.as_deref(),
            200,
        )?;
        holds::disburse(conn, &actor, &hold_id, amount, reference)
    })
}

pub fn list_disbursements(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<Vec<Disbursement>> {
    let (actor, row, own) = load(conn, principal, id)?;
    if !own
        && !actor.may(Permission::ReviewRequests)
        && !actor.may(Permission::ReadPrivateRequestFields)
    {
        return Err(not_theirs(
            &actor,
            Scope::RequestsReadPrivate,
            "payments are for the requester and coordinators",
        ));
    }
    let pool = pool_store::find(conn, &row.pool_id)?.ok_or(Error::NotFound { what: "pool" })?;
    let Some(hold_id) = row.hold_id else {
        return Ok(Vec::new());
    };
    holds::disbursements_of(conn, &HoldId::from(hold_id), &pool)
}

/// A payout was posted (`crate::flows` passes the ledger's fact on): if it
/// is from a request's hold, the request becomes `partially_paid`, or
/// `paid` once the approved amount is reached. Runs inside the payment's
/// transaction.
pub fn payment_settled(
    conn: &mut DbConnection,
    actor: &Actor,
    payout: &PayoutPosted,
) -> Result<()> {
    let HoldFor::Request(request_id) = &payout.held_for else {
        return Ok(());
    };
    let amount = payout.amount.minor;
    let row = store::lock(conn, request_id.as_str())?;
    let paid = row.paid_minor + amount;
    let event = if Some(paid) >= row.amount_approved_minor {
        Event::PayRest
    } else {
        Event::PayPart
    };
    let changes = Changes {
        paid_minor: Some(paid),
        ..Default::default()
    };
    let action = if event == Event::PayRest {
        EventType::RequestPaid
    } else {
        EventType::RequestPartiallyPaid
    };
    apply(
        conn,
        actor,
        &row,
        Some(event),
        changes,
        action,
        json!({"amount_minor": amount, "paid_minor": paid}),
    )?;
    Ok(())
}

/// Comments: coordinators' internal notes and messages the requester sees,
/// kept apart.
pub fn comment(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    input: NewComment,
) -> Result<Comment> {
    let body = check_text("body", &input.body, 5000)?;
    write_tx(conn, |conn| {
        let (actor, row, own) = load(conn, principal, id)?;
        // Its private texts, comments included, were redacted under the
        // collective's retention period: a new comment would be kept for
        // good, since nothing redacts a request twice.
        if row.redacted_at.is_some() {
            return Err(Error::conflict(
                "request_redacted",
                "this request's private texts were redacted under the collective's retention period; it takes no more comments",
            ));
        }
        let coordinator = actor.may(Permission::ReviewRequests);
        let visibility = match (coordinator, own, input.visibility) {
            (true, _, Some(v)) => v,
            (true, _, None) => Visibility::Internal,
            (false, true, None | Some(Visibility::Requester)) => Visibility::Requester,
            (false, true, Some(Visibility::Internal)) => {
                return Err(Error::forbidden("internal notes are for coordinators"));
            }
            (false, false, _) => {
                return Err(not_theirs(
                    &actor,
                    Scope::RequestsWrite,
                    "comments are for the requester and coordinators",
                ))
            }
        };
        let comment = CommentRow {
            collective_id: row.collective_id.clone(),
            id: new_id(),
            request_id: row.id.clone(),
            author_kind: actor.kind().to_owned(),
            author_id: actor.id().to_owned(),
            visibility: match visibility {
                Visibility::Internal => "internal",
                Visibility::Requester => "requester",
            }
            .to_owned(),
            body,
            created_at: now(),
        };
        diesel::insert_into(request_comments::table)
            .values(&comment.sealed()?)
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            "request.commented",
            "request",
            &row.id,
            json!({"visibility": comment.visibility}),
        )?;
        let comment = to_comment(comment);
        events::record(
            conn,
            &row.collective_id,
            EventType::RequestCommented,
            &comment,
        )?;
        Ok(comment)
    })
}

fn to_comment(row: CommentRow) -> Comment {
    Comment {
        visibility: if row.visibility == "internal" {
            Visibility::Internal
        } else {
            Visibility::Requester
        },
        id: row.id,
        request_id: row.request_id,
        author_kind: row.author_kind,
        author_id: row.author_id,
        body: row.body,
        created_at: utc(row.created_at),
    }
}

pub fn comments(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    page: &PageRequest,
) -> Result<Page<Comment>> {
    let (actor, row, own) = load(conn, principal, id)?;
    let coordinator = actor.may(Permission::ReviewRequests);
    if !coordinator && !own {
        return Err(not_theirs(
            &actor,
            Scope::RequestsWrite,
            "comments are for the requester and coordinators",
        ));
    }
    let rows = store::comments(conn, &row.id, coordinator, page)?;
    Ok(Page::from_rows(rows, page, |r| &r.id).map(to_comment))
}

/// What a budgeting round does to one of its candidates.
#[derive(Debug, Clone)]
pub enum VoteOutcome {
    /// The round opens with it as a candidate.
    Enter {
        round_id: String,
    },
    /// Its round was cancelled: back to review.
    Leave,
    /// The group funded it: approved for `amount_minor`, drawing on its
    /// share of the round's hold.
    Funded {
        amount_minor: i64,
        hold_id: String,
    },
    NotFunded,
}

/// Moves a candidate of a budgeting round through the vote, audited and
/// recorded as an event. Runs inside the round's transaction.
pub fn settle_vote(
    conn: &mut DbConnection,
    actor: &Actor,
    request_id: &str,
    outcome: VoteOutcome,
) -> Result<RequestRow> {
    let row = store::lock(conn, request_id)?;
    let (event, changes, action, details) = match outcome {
        VoteOutcome::Enter { round_id } => (
            Event::EnterVote,
            Changes {
                round_id: Some(Some(round_id.clone())),
                ..Default::default()
            },
            EventType::RequestInVote,
            json!({"round_id": round_id}),
        ),
        VoteOutcome::Leave => (
            Event::LeaveVote,
            Changes {
                round_id: Some(None),
                ..Default::default()
            },
            EventType::RequestVoteCancelled,
            json!({"round_id": row.round_id}),
        ),
        VoteOutcome::Funded {
            amount_minor,
            hold_id,
        } => (
            Event::Approve,
            Changes {
                amount_approved_minor: Some(Some(amount_minor)),
                hold_id: Some(Some(hold_id)),
                decided_at: Some(Some(now())),
                ..Default::default()
            },
            EventType::RequestApproved,
            json!({"round_id": row.round_id, "amount_minor": amount_minor, "by_vote": true}),
        ),
        VoteOutcome::NotFunded => (
            Event::VoteNotFunded,
            Changes {
                decided_at: Some(Some(now())),
                ..Default::default()
            },
            EventType::RequestNotFunded,
            json!({"round_id": row.round_id}),
        ),
    };
    apply(conn, actor, &row, Some(event), changes, action, details)
}
