//! The life of a round. Every change locks the pool and the round, checks
//! `If-Match`, moves the phase through `Phase::require`, and is audited and
//! recorded as an event in the same transaction. Money moves only through
//! the ledger's holds: opening reserves the budget, enacting splits it
//! into the funded requests' holds and releases the rest, cancelling
//! releases it all.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use commonpot_tally::Rule;
use serde_json::{json, Value};

use super::phase::Step;
use super::policy::Candidate;
use super::results::{self, ballot_type, candidate_rows, policy, ClosedRound};
use super::store::{self, RoundChanges, RoundRow};
use super::*;
use crate::auth::access::{authorize, Actor, Principal};
use crate::auth::policy::{MembershipStatus, Permission};
use crate::collectives::{check_if_match, check_text, etag};
use crate::db::{write_tx, Db, DbConnection};
use crate::error::{Error, Result};
use crate::events::{self, EventType};
use crate::ids::{new_id, now, utc, HoldId, PoolId, RequestId, RoundId};
use crate::ledger::holds::{self, HoldFor};
use crate::money::{format_minor, Money};
use crate::pools::store::{self as pool_store, PoolRow};
use crate::requests::service::{settle_vote, VoteOutcome};
use crate::requests::State;
use crate::{affectedness, audit};

pub fn phase_of(row: &RoundRow) -> Result<Phase> {
    Phase::parse(&row.phase)
        .ok_or_else(|| Error::Internal(format!("round {} in unknown phase {}", row.id, row.phase)))
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal(e.to_string()))
}

fn view(conn: &mut DbConnection, row: RoundRow, pool: &PoolRow) -> Result<Round> {
    let currency = pool.currency()?;
    Ok(Round {
        candidates: store::candidates(conn, &row.id)?,
        ballot: ballot_type(&row)?,
        policy: policy(&row)?,
        min_support: results::min_support(&row),
        phase: phase_of(&row)?,
        budget: format_minor(row.budget_minor, currency),
        currency: currency.code.to_owned(),
        id: row.id,
        collective_id: row.collective_id,
        pool_id: row.pool_id,
        title: row.title,
        rule: row.rule,
        hold_id: row.hold_id,
        opened_at: row.opened_at.map(utc),
        closed_at: row.closed_at.map(utc),
        tallied_at: row.tallied_at.map(utc),
        enacted_at: row.enacted_at.map(utc),
        cancelled_at: row.cancelled_at.map(utc),
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
        version: row.version,
    })
}

fn pool_of(conn: &mut DbConnection, row: &RoundRow) -> Result<PoolRow> {
    pool_store::find(conn, &row.pool_id)?.ok_or(Error::NotFound { what: "pool" })
}

/// Loads a round for someone allowed `permission` in its collective.
pub(super) fn load(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    permission: Permission,
) -> Result<(Actor, RoundRow)> {
    let row = store::find(conn, id)?.ok_or(Error::NotFound { what: "round" })?;
    let actor = authorize(conn, principal, &row.collective_id, permission, "round")?;
    Ok((actor, row))
}

/// Loads and locks a round (pool first, then round) for a change.
fn load_for_change(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    if_match: Option<&str>,
) -> Result<(Actor, RoundRow, PoolRow)> {
    let (actor, row) = load(conn, principal, id, Permission::ManageRounds)?;
    let pool = pool_store::lock(conn, &row.pool_id)?;
    let row = store::lock(conn, &row.id)?;
    check_if_match(if_match, row.version)?;
    Ok((actor, row, pool))
}

/// Writes `changes` and the phase after `step`, guarded by the version
/// read; audits and records the event.
fn transition(
    conn: &mut DbConnection,
    actor: &Actor,
    row: &RoundRow,
    step: Step,
    changes: RoundChanges,
    happened: EventType,
    details: Value,
) -> Result<RoundRow> {
    transition_with(conn, actor, row, step, changes, happened, |_, _| {
        Ok(details)
    })
}

/// Like [`transition`], with the audit details made from the round as it
/// is after the change (`details` gets the connection and the new row).
fn transition_with(
    conn: &mut DbConnection,
    actor: &Actor,
    row: &RoundRow,
    step: Step,
    mut changes: RoundChanges,
    happened: EventType,
    details: impl FnOnce(&mut DbConnection, &RoundRow) -> Result<Value>,
) -> Result<RoundRow> {
    let from = phase_of(row)?;
    let to = from.require(step)?;
    changes.phase = Some(to.as_str().to_owned());
    changes.updated_at = Some(now());
    changes.version = Some(row.version + 1);
    if !store::update(conn, row, &changes)? {
        return Err(Error::PreconditionFailed {
            current_etag: etag(row.version + 1),
        });
    }
    let fresh = store::find(conn, &row.id)?.ok_or(Error::NotFound { what: "round" })?;
    let details = details(conn, &fresh)?;
    audit::record(conn, actor, happened.name(), "round", &row.id, details)?;
    announce(conn, happened, &fresh)?;
    Ok(fresh)
}

/// Records `happened` with the round as its GET shows it (its results,
/// once tallied).
fn announce(conn: &mut DbConnection, happened: EventType, row: &RoundRow) -> Result<()> {
    if happened == EventType::RoundTallied {
        return events::record(conn, &row.collective_id, happened, &stored_result(row)?);
    }
    let pool = pool_of(conn, row)?;
    let snapshot = view(conn, row.clone(), &pool)?;
    events::record(conn, &row.collective_id, happened, &snapshot)
}

fn parse_rule(text: Option<&str>) -> Result<Rule> {
    match text {
        None => Ok(Rule::default()),
        Some(name) => name.parse().map_err(|m: String| Error::invalid("rule", m)),
    }
}

/// Checks candidates: 1 to 200 distinct requests of the pool, each
/// `submitted` or `in_review`, within the pool's largest request. Returns
/// their costs (minor units), in order.
fn check_candidates(conn: &mut DbConnection, pool: &PoolRow, ids: &[String]) -> Result<Vec<i64>> {
    let mut costs = Vec::with_capacity(ids.len());
    if ids.is_empty() || ids.len() > 200 {
        return Err(Error::invalid("candidates", "list 1 to 200 aid requests"));
    }
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("candidates[{i}]");
        if !seen.insert(id) {
            return Err(Error::invalid(field, "is listed twice"));
        }
        let row = crate::requests::store::find(conn, id)?
            .filter(|r| r.pool_id == pool.id && r.state != State::Draft.as_str())
            .ok_or_else(|| Error::invalid(field.clone(), "is not an aid request of this pool"))?;
        if !matches!(
            State::parse(&row.state),
            Some(State::Submitted | State::InReview)
        ) {
            return Err(Error::invalid(
                field,
                format!(
                    "is {}; candidates must be submitted or in_review",
                    row.state
                ),
            ));
        }
        if pool
            .max_request_minor
            .is_some_and(|max| row.amount_requested_minor > max)
        {
            return Err(Error::invalid(
                field,
                "asks for more than the pool's largest request",
            ));
        }
        costs.push(row.amount_requested_minor);
    }
    Ok(costs)
}

/// Refuses ballot limits no ballot can meet with these candidates (an
/// approval round asking for more approvals than it has candidates, or a
/// `max_cost` below the cheapest `min_count` of them): every ballot would
/// be refused. `field` is what to name when the candidates, not the
/// ballot, changed; otherwise the limit at fault is named.
fn check_ballot_possible(
    ballot: &BallotType,
    costs: &[i64],
    currency: crate::money::Currency,
    field: Option<&str>,
) -> Result<()> {
    match ballot.impossible(costs, currency) {
        None => Ok(()),
        Some((limit, why)) => Err(Error::invalid(
            field.map_or_else(|| format!("ballot.{limit}"), str::to_owned),
            format!("no ballot could be valid: {why}"),
        )),
    }
}

/// A round's minimum weighted support: a whole number from 1 to 10⁹.
fn check_min_support(value: u32) -> Result<i64> {
    if !(1..=1_000_000_000).contains(&value) {
        return Err(Error::invalid(
            "min_support",
            "must be a whole number from 1 to 1000000000",
        ));
    }
    Ok(i64::from(value))
}

fn issue_ids(conn: &mut DbConnection, collective_id: &str) -> Result<HashSet<String>> {
    Ok(affectedness::store::issues_of(conn, collective_id)?
        .into_iter()
        .map(|i| i.id)
        .collect())
}

pub fn create(
    conn: &mut DbConnection,
    principal: &Principal,
    pool_id: &str,
    input: NewRound,
) -> Result<Round> {
    write_tx(conn, |conn| {
        let (actor, pool) = crate::pools::service::load_authorized(
            conn,
            principal,
            pool_id,
            Permission::ManageRounds,
        )?;
        let currency = pool.currency()?;
        let title = check_text("title", &input.title, 200)?;
        let budget = Money::parse_positive("budget", &input.budget, currency)?.minor;
        let rule = parse_rule(input.rule.as_deref())?;
        input.ballot.check(currency)?;
        let policy = input.policy.unwrap_or_default();
        policy.check(&issue_ids(conn, &pool.collective_id)?)?;
        let costs = check_candidates(conn, &pool, &input.candidates)?;
        check_ballot_possible(&input.ballot, &costs, currency, None)?;
        let min_support = input.min_support.map(check_min_support).transpose()?;
        let at = now();
        let row = RoundRow {
            collective_id: pool.collective_id.clone(),
            id: new_id(),
            pool_id: pool.id.clone(),
            title,
            budget_minor: budget,
            ballot: to_json(&input.ballot)?,
            rule: rule.name().to_owned(),
            policy: to_json(&policy)?,
            phase: Phase::Draft.as_str().to_owned(),
            hold_id: None,
            result: None,
            created_by: actor.id().to_owned(),
            opened_at: None,
            closed_at: None,
            tallied_at: None,
            enacted_at: None,
            cancelled_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
            min_support,
        };
        store::insert(conn, &row)?;
        store::set_candidates(conn, &row.collective_id, &row.id, &input.candidates)?;
        audit::record(
            conn,
            &actor,
            "round.created",
            "round",
            &row.id,
            json!({"pool_id": row.pool_id, "budget_minor": budget, "rule": row.rule,
                   "ballot": input.ballot, "policy": policy, "candidates": input.candidates,
                   "min_support": min_support}),
        )?;
        announce(conn, EventType::RoundCreated, &row)?;
        view(conn, row, &pool)
    })
}

pub fn get(conn: &mut DbConnection, principal: &Principal, id: &str) -> Result<Round> {
    let (_, row) = load(conn, principal, id, Permission::ReadRounds)?;
    let pool = pool_of(conn, &row)?;
    view(conn, row, &pool)
}

pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
    collective_id: &str,
) -> Result<Vec<Round>> {
    authorize(
        conn,
        principal,
        collective_id,
        Permission::ReadRounds,
        "collective",
    )?;
    let mut rounds = Vec::new();
    for row in store::list(conn, collective_id)? {
        let pool = pool_of(conn, &row)?;
        rounds.push(view(conn, row, &pool)?);
    }
    Ok(rounds)
}

/// Changes a draft round; 409 `round_locked` once it has opened.
pub fn update(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    patch: RoundPatch,
    if_match: Option<&str>,
) -> Result<Round> {
    write_tx(conn, |conn| {
        let (actor, row, pool) = load_for_change(conn, principal, id, if_match)?;
        phase_of(&row)?.require(Step::Edit)?;
        let before = view(conn, row.clone(), &pool)?;
        let currency = pool.currency()?;
        let mut changes = RoundChanges {
            title: patch
                .title
                .as_deref()
                .map(|t| check_text("title", t, 200))
                .transpose()?,
            budget_minor: patch
                .budget
                .as_deref()
                .map(|b| Money::parse_positive("budget", b, currency).map(|m| m.minor))
                .transpose()?,
            rule: patch
                .rule
                .as_deref()
                .map(|r| parse_rule(Some(r)).map(|r| r.name().to_owned()))
                .transpose()?,
            min_support: patch
                .min_support
                .map(|m| check_min_support(m).map(Some))
                .transpose()?,
            ..Default::default()
        };
        if let Some(ballot) = &patch.ballot {
            ballot.check(currency)?;
            changes.ballot = Some(to_json(ballot)?);
        }
        if let Some(policy) = &patch.policy {
            policy.check(&issue_ids(conn, &row.collective_id)?)?;
            changes.policy = Some(to_json(policy)?);
        }
        let costs = match &patch.candidates {
            Some(candidates) => check_candidates(conn, &pool, candidates)?,
            None => ballot_candidates(conn, &row)?
                .into_iter()
                .map(|c| c.cost_minor)
                .collect(),
        };
        match &patch.ballot {
            Some(ballot) => check_ballot_possible(ballot, &costs, currency, None)?,
            None => {
                check_ballot_possible(&ballot_type(&row)?, &costs, currency, Some("candidates"))?
            }
        }
        if let Some(candidates) = &patch.candidates {
            store::set_candidates(conn, &row.collective_id, &row.id, candidates)?;
        }
        let details = json!({"title": patch.title, "budget": patch.budget, "rule": patch.rule,
                             "ballot": patch.ballot, "policy": patch.policy, "candidates": patch.candidates,
                             "min_support": patch.min_support});
        // The record says what changed, before and after.
        let row = transition_with(
            conn,
            &actor,
            &row,
            Step::Edit,
            changes,
            EventType::RoundUpdated,
            |conn, fresh| {
                let after = view(conn, fresh.clone(), &pool)?;
                Ok(audit::with_changes(
                    details,
                    audit::changes(&before, &after, &[]),
                ))
            },
        )?;
        view(conn, row, &pool)
    })
}

/// Opens a round: reserves its budget with a hold (409
/// `insufficient_funds` if the pool is short) and puts its candidates to
/// the vote.
pub fn open(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    if_match: Option<&str>,
) -> Result<Round> {
    write_tx(conn, |conn| {
        let (actor, row, pool) = load_for_change(conn, principal, id, if_match)?;
        phase_of(&row)?.require(Step::Open)?;
        let candidates = store::candidates(conn, &row.id)?;
        let costs = check_candidates(conn, &pool, &candidates).map_err(|e| match e {
            Error::Invalid { field, message } => Error::Conflict {
                code: "candidate_unavailable",
                message: format!("{field} {message}"),
                extra: None,
            },
            other => other,
        })?;
        // A candidate's amount may have been amended since the limits were
        // set: a round no ballot could be valid in does not open.
        check_ballot_possible(&ballot_type(&row)?, &costs, pool.currency()?, None)?;
        let hold = holds::place(
            conn,
            &actor,
            &PoolId::from(pool.id.as_str()),
            Money::new(row.budget_minor, pool.currency()?),
            HoldFor::Round(RoundId::from(row.id.as_str())),
            Some(format!("budgeting round: {}", row.title)),
        )?;
        let hold_id = hold.id.into_string();
        for request in &candidates {
            settle_vote(
                conn,
                &actor,
                request,
                VoteOutcome::Enter {
                    round_id: row.id.clone(),
                },
            )?;
        }
        let changes = RoundChanges {
            hold_id: Some(Some(hold_id.clone())),
            opened_at: Some(Some(now())),
            ..Default::default()
        };
        let row = transition(
            conn,
            &actor,
            &row,
            Step::Open,
            changes,
            EventType::RoundOpened,
            json!({"hold_id": hold_id, "budget_minor": row.budget_minor}),
        )?;
        let pool = pool_of(conn, &row)?;
        view(conn, row, &pool)
    })
}

/// Whether a member may vote in a round opened at `opened_at`: active, and
/// a member since before it opened.
pub(super) fn eligible(
    status: &str,
    joined_at: Option<NaiveDateTime>,
    opened_at: NaiveDateTime,
) -> bool {
    MembershipStatus::parse(status) == Some(MembershipStatus::Active)
        && joined_at.is_some_and(|joined| joined <= opened_at)
}

/// Closes the vote and fixes each ballot's weight from the policy and the
/// member's declarations as they stand now; ballots of members no longer
/// active (or not eligible) are set aside.
pub fn close(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    if_match: Option<&str>,
) -> Result<Round> {
    write_tx(conn, |conn| {
        let (actor, row, pool) = load_for_change(conn, principal, id, if_match)?;
        phase_of(&row)?.require(Step::Close)?;
        let policy = policy(&row)?;
        let opened_at = row
            .opened_at
            .ok_or_else(|| Error::Internal(format!("open round {} has no opening time", row.id)))?;
        let (mut counted, mut set_aside) = (0, 0);
        let mut participation: std::collections::BTreeMap<&str, (i64, i64)> =
            ["direct", "indirect", "supporter", "none"]
                .into_iter()
                .map(|t| (t, (0, 0)))
                .collect();
        for ballot in store::ballots_of(conn, &row.id)? {
            let membership =
                crate::collectives::store::find_membership(conn, &ballot.membership_id)?
                    .map(|(m, _)| m);
            let counts = membership
                .as_ref()
                .is_some_and(|m| eligible(&m.status, m.joined_at, opened_at));
            if !counts {
                set_aside += 1;
                store::fix_weight(conn, &ballot.id, None, None, true)?;
                continue;
            }
            let tiers = affectedness::service::counted_tiers(
                conn,
                &row.collective_id,
                &ballot.membership_id,
                &|issue: &str| policy.counts_issue(issue),
                policy.count_unverified,
            )?;
            let (tier, weight) = policy.weigh(&tiers);
            counted += 1;
            let line = participation
                .entry(tier.map_or("none", |t| t.as_str()))
                .or_default();
            line.0 += 1;
            line.1 += i64::from(weight);
            store::fix_weight(
                conn,
                &ballot.id,
                Some(weight as i32),
                Some(tier.map_or("none", |t| t.as_str())),
                false,
            )?;
        }
        // Weights are fixed: the ballots stop pointing at people (#24).
        let at = now();
        let participation =
            serde_json::to_string(&participation).map_err(|e| Error::Internal(e.to_string()))?;
        store::unlink_ballots(conn, &row.id, &participation, at)?;
        let changes = RoundChanges {
            closed_at: Some(Some(at)),
            ..Default::default()
        };
        let row = transition(
            conn,
            &actor,
            &row,
            Step::Close,
            changes,
            EventType::RoundClosed,
            json!({"ballots_counted": counted, "ballots_set_aside": set_aside}),
        )?;
        view(conn, row, &pool)
    })
}

/// Tallies a closed round through the engine and stores the result.
///
/// The tally can take seconds on a large round, so it holds no lock and
/// runs in no transaction: the closed round is read (it cannot change
/// while closed), tallied on its own, then the result is stored with a
/// phase change guarded by the version read — of two tallies at once, one
/// stores it and the other is told the round is already tallied.
pub async fn tally(
    db: &Db,
    principal: Principal,
    id: String,
    if_match: Option<String>,
) -> Result<RoundResult> {
    let reader = principal.clone();
    let closed = db
        .run(move |conn| read_for_tally(conn, &reader, &id, if_match.as_deref()))
        .await?;
    let (closed, result) = tokio::task::spawn_blocking(move || {
        let result = closed.tally();
        (closed, result)
    })
    .await
    .map_err(|e| Error::Internal(format!("tally task failed: {e}")))?;
    let result = result?;
    db.run(move |conn| store_tally(conn, &principal, &closed, result))
        .await
}

/// Reads a closed round for its tally, without a transaction; refused
/// unless closed (409) or if `If-Match` names another version (412).
pub fn read_for_tally(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    if_match: Option<&str>,
) -> Result<ClosedRound> {
    let (_, row) = load(conn, principal, id, Permission::ManageRounds)?;
    check_if_match(if_match, row.version)?;
    phase_of(&row)?.require(Step::Tally)?;
    let pool = pool_of(conn, &row)?;
    ClosedRound::read(conn, &row, &pool)
}

/// Stores a tally of `closed` if the round is still as it was read: 409
/// `invalid_transition` if another tally (or a cancellation) came first.
pub fn store_tally(
    conn: &mut DbConnection,
    principal: &Principal,
    closed: &ClosedRound,
    result: RoundResult,
) -> Result<RoundResult> {
    write_tx(conn, |conn| {
        let (actor, row) = load(conn, principal, &closed.round_id, Permission::ManageRounds)?;
        let row = store::lock(conn, &row.id)?;
        phase_of(&row)?.require(Step::Tally)?;
        if row.version != closed.version {
            return Err(Error::PreconditionFailed {
                current_etag: etag(row.version),
            });
        }
        let changes = RoundChanges {
            result: Some(Some(to_json(&result)?)),
            tallied_at: Some(Some(now())),
            ..Default::default()
        };
        transition(
            conn,
            &actor,
            &row,
            Step::Tally,
            changes,
            EventType::RoundTallied,
            json!({"selected": result.selected.iter().map(|f| f.request_id.clone()).collect::<Vec<_>>(),
                   "spent": result.spent}),
        )?;
        Ok(result)
    })
}

fn stored_result(row: &RoundRow) -> Result<RoundResult> {
    let text = row.result.as_deref().ok_or_else(|| {
        Error::conflict(
            "round_not_tallied",
            format!(
                "the round is {}; results exist once it is tallied",
                row.phase
            ),
        )
    })?;
    serde_json::from_str(text).map_err(|e| Error::Internal(e.to_string()))
}

pub fn results(conn: &mut DbConnection, principal: &Principal, id: &str) -> Result<RoundResult> {
    let (_, row) = load(conn, principal, id, Permission::ReadRounds)?;
    stored_result(&row)
}

/// Enacts a tallied round — the group's approval: the selected requests
/// are approved with their share of the round's hold, the others are not
/// funded, and what is left of the hold is released.
pub fn enact(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    if_match: Option<&str>,
) -> Result<Round> {
    write_tx(conn, |conn| {
        let (actor, row, pool) = load_for_change(conn, principal, id, if_match)?;
        phase_of(&row)?.require(Step::Enact)?;
        let result = stored_result(&row)?;
        let hold_id = row
            .hold_id
            .clone()
            .map(HoldId::from)
            .ok_or_else(|| Error::Internal(format!("tallied round {} has no hold", row.id)))?;
        let currency = pool.currency()?;
        let candidates = candidate_rows(conn, &row.id)?;
        let funded: Vec<&crate::requests::store::RequestRow> = result
            .selected
            .iter()
            .filter_map(|f| candidates.iter().find(|c| c.id == f.request_id))
            .collect();
        for request in &funded {
            if pool
                .max_request_minor
                .is_some_and(|max| request.amount_requested_minor > max)
            {
                return Err(Error::conflict(
                    "exceeds_largest_request",
                    format!(
                        "request {} asks for more than the pool's largest request; change the pool's rules or cancel the round",
                        request.id
                    ),
                ));
            }
        }
        if !funded.is_empty() {
            let children: Vec<(Money, HoldFor)> = funded
                .iter()
                .map(|r| {
                    let amount = Money::new(r.amount_requested_minor, currency);
                    (amount, HoldFor::Request(RequestId::from(r.id.as_str())))
                })
                .collect();
            let children = holds::split(conn, &actor, &hold_id, &children)?;
            for (request, child) in funded.iter().zip(children) {
                settle_vote(
                    conn,
                    &actor,
                    &request.id,
                    VoteOutcome::Funded {
                        amount_minor: request.amount_requested_minor,
                        hold_id: child.id.into_string(),
                    },
                )?;
            }
        }
        for request in &candidates {
            if !funded.iter().any(|f| f.id == request.id) {
                settle_vote(conn, &actor, &request.id, VoteOutcome::NotFunded)?;
            }
        }
        let released = holds::release(conn, &actor, &hold_id, None)?;
        let changes = RoundChanges {
            enacted_at: Some(Some(now())),
            ..Default::default()
        };
        let row = transition(
            conn,
            &actor,
            &row,
            Step::Enact,
            changes,
            EventType::RoundEnacted,
            json!({"funded": funded.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
                   "released_minor": released.released.minor}),
        )?;
        let pool = pool_of(conn, &row)?;
        view(conn, row, &pool)
    })
}

/// Cancels a round that is not yet enacted: its hold is released and its
/// candidates go back to review.
pub fn cancel(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    if_match: Option<&str>,
) -> Result<Round> {
    write_tx(conn, |conn| {
        let (actor, row, _) = load_for_change(conn, principal, id, if_match)?;
        let phase = phase_of(&row)?;
        phase.require(Step::Cancel)?;
        if let Some(hold_id) = &row.hold_id {
            holds::release(conn, &actor, &HoldId::from(hold_id.as_str()), None)?;
        }
        if phase != Phase::Draft {
            for request in candidate_rows(conn, &row.id)? {
                if request.state == State::InVote.as_str() {
                    settle_vote(conn, &actor, &request.id, VoteOutcome::Leave)?;
                }
            }
        }
        let changes = RoundChanges {
            cancelled_at: Some(Some(now())),
            ..Default::default()
        };
        let row = transition(
            conn,
            &actor,
            &row,
            Step::Cancel,
            changes,
            EventType::RoundCancelled,
            json!({"from": phase.as_str()}),
        )?;
        let pool = pool_of(conn, &row)?;
        view(conn, row, &pool)
    })
}

/// The round in pabulib format, once closed. Coordinators.
pub fn export(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
    repeat: bool,
) -> Result<String> {
    let (_, row) = load(conn, principal, id, Permission::ManageRounds)?;
    if matches!(
        phase_of(&row)?,
        Phase::Draft | Phase::Open | Phase::Cancelled
    ) {
        return Err(Error::conflict(
            "round_not_closed",
            format!("the round is {}; it can be exported once closed", row.phase),
        ));
    }
    let pool = pool_of(conn, &row)?;
    ClosedRound::read(conn, &row, &pool)?.export(repeat)
}

/// The round's candidates with their costs, for checking ballots.
pub(super) fn ballot_candidates(
    conn: &mut DbConnection,
    round: &RoundRow,
) -> Result<Vec<Candidate>> {
    Ok(candidate_rows(conn, &round.id)?
        .into_iter()
        .map(|r| Candidate {
            request_id: r.id,
            cost_minor: r.amount_requested_minor,
        })
        .collect())
}

/// One tier's turnout so far in an open round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierTurnout {
    /// `direct`, `indirect`, `supporter`, or `none`.
    pub tier: &'static str,
    /// What one ballot of this tier weighs under the round's policy.
    pub weight: u32,
    /// Members who may vote in this round, in this tier.
    pub eligible: i64,
    /// Of them, those who have cast a ballot.
    pub voted: i64,
}

/// Participation per tier while a round is open, for those who run it
/// (`ManageRounds`): each eligible member (as closing would count them) in
/// the tier their declarations put them in as they stand now — closing
/// fixes the tiers — and whether they have voted. Counts only, never who.
pub fn participation(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<Vec<TierTurnout>> {
    use crate::db::schema::memberships;
    use diesel::prelude::*;
    let (_, row) = load(conn, principal, id, Permission::ManageRounds)?;
    phase_of(&row)?.require(Step::Close)?;
    let policy = policy(&row)?;
    let opened_at = row
        .opened_at
        .ok_or_else(|| Error::Internal(format!("open round {} has no opening time", row.id)))?;
    let voted: HashSet<String> = store::ballots_of(conn, &row.id)?
        .into_iter()
        .map(|b| b.membership_id)
        .collect();
    let members: Vec<(String, String, Option<NaiveDateTime>)> = memberships::table
        .filter(memberships::collective_id.eq(&row.collective_id))
        .select((memberships::id, memberships::status, memberships::joined_at))
        .load(conn)?;
    let mut turnout: Vec<TierTurnout> = ["direct", "indirect", "supporter", "none"]
        .into_iter()
        .map(|tier| TierTurnout {
            tier,
            weight: policy
                .weigh(
                    &affectedness::Tier::parse(tier)
                        .into_iter()
                        .collect::<Vec<_>>(),
                )
                .1,
            eligible: 0,
            voted: 0,
        })
        .collect();
    for (membership_id, status, joined_at) in members {
        if !eligible(&status, joined_at, opened_at) {
            continue;
        }
        let tiers = affectedness::service::counted_tiers(
            conn,
            &row.collective_id,
            &membership_id,
            &|issue: &str| policy.counts_issue(issue),
            policy.count_unverified,
        )?;
        let (tier, _) = policy.weigh(&tiers);
        let name = tier.map_or("none", |t| t.as_str());
        if let Some(line) = turnout.iter_mut().find(|t| t.tier == name) {
            line.eligible += 1;
            line.voted += i64::from(voted.contains(&membership_id));
        }
    }
    Ok(turnout)
}
