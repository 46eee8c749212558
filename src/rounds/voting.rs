//! Ballots: cast, replaced or withdrawn while a round is open, each read
//! only by the member who cast it. No operation reads anyone else's.

use diesel::Connection;

use super::phase::Step;
use super::policy::check_choices;
use super::results::ballot_type;
use super::service::{ballot_candidates, eligible, load, phase_of};
use super::store::{self, BallotRow, RoundRow};
use super::*;
use crate::auth::access::{Actor, Principal, Who};
use crate::auth::policy::Permission;
use crate::db::{is_unique_violation, write_tx, DbConnection};
use crate::error::{Error, Result};
use crate::ids::{new_id, now, utc};

fn membership_id(actor: &Actor) -> Result<String> {
    match &actor.who {
        Who::Member { membership_id, .. } => Ok(membership_id.clone()),
        _ => Err(Error::forbidden("only members vote")),
    }
}

fn view(row: BallotRow) -> Result<Ballot> {
    Ok(Ballot {
        choices: serde_json::from_str(&row.choices).map_err(|e| Error::Internal(e.to_string()))?,
        round_id: row.round_id,
        cast_at: utc(row.cast_at),
        updated_at: utc(row.updated_at),
    })
}

/// Loads an open round for a voter: 409 unless open, 403 `not_eligible`
/// for members who joined after it opened.
fn open_round_for_voter(
    conn: &mut DbConnection,
    principal: &Principal,
    round_id: &str,
) -> Result<(RoundRow, String)> {
    let (actor, round) = load(conn, principal, round_id, Permission::Vote)?;
    let round = store::lock(conn, &round.id)?;
    phase_of(&round)?.require(Step::Vote)?;
    let membership = membership_id(&actor)?;
    let opened_at = round
        .opened_at
        .ok_or_else(|| Error::Internal(format!("open round {} has no opening time", round.id)))?;
    let (row, _) = crate::collectives::store::find_membership(conn, &membership)?
        .ok_or(Error::NotFound { what: "round" })?;
    if !eligible(&row.status, row.joined_at, opened_at) {
        return Err(Error::Forbidden {
            code: "not_eligible",
            message: "only members who joined before the round opened may vote in it".into(),
        });
    }
    Ok((round, membership))
}

/// Casts or replaces the caller's ballot.
pub fn cast(
    conn: &mut DbConnection,
    principal: &Principal,
    round_id: &str,
    choices: BallotChoices,
) -> Result<Ballot> {
    write_tx(conn, |conn| {
        let (round, membership) = open_round_for_voter(conn, principal, round_id)?;
        let pool = crate::pools::store::find(conn, &round.pool_id)?
            .ok_or(Error::NotFound { what: "pool" })?;
        let candidates = ballot_candidates(conn, &round)?;
        check_choices(
            &ballot_type(&round)?,
            &choices,
            &candidates,
            pool.currency()?,
        )?;
        let text = serde_json::to_string(&choices).map_err(|e| Error::Internal(e.to_string()))?;
        let at = now();
        match store::ballot_of(conn, &round.collective_id, &round.id, &membership)? {
            Some(existing) => store::replace_choices(conn, &existing.id, &text, at)?,
            None => {
                let row = BallotRow {
                    collective_id: round.collective_id.clone(),
                    id: new_id(),
                    round_id: round.id.clone(),
                    membership_id: membership.clone(),
                    choices: text,
                    weight: None,
                    tier: None,
                    set_aside: false,
                    cast_at: at,
                    updated_at: at,
                };
                match conn.transaction(|conn| store::insert_ballot(conn, &row)) {
                    Err(Error::Storage(e)) if is_unique_violation(&e) => {
                        return Err(Error::conflict(
                            "ballot_exists",
                            "your ballot was cast meanwhile; try again to replace it",
                        ))
                    }
                    other => other?,
                }
            }
        }
        let row = store::ballot_of(conn, &round.collective_id, &round.id, &membership)?
            .ok_or(Error::NotFound { what: "ballot" })?;
        view(row)
    })
}

/// The caller's own ballot.
pub fn mine(conn: &mut DbConnection, principal: &Principal, round_id: &str) -> Result<Ballot> {
    let (actor, round) = load(conn, principal, round_id, Permission::Vote)?;
    let membership = membership_id(&actor)?;
    let row = store::ballot_of(conn, &round.collective_id, &round.id, &membership)?
        .ok_or(Error::NotFound { what: "ballot" })?;
    view(row)
}

/// Withdraws the caller's ballot while the round is open (nothing if none).
pub fn withdraw(conn: &mut DbConnection, principal: &Principal, round_id: &str) -> Result<()> {
    write_tx(conn, |conn| {
        let (actor, round) = load(conn, principal, round_id, Permission::Vote)?;
        let round = store::lock(conn, &round.id)?;
        phase_of(&round)?.require(Step::Vote)?;
        let membership = membership_id(&actor)?;
        if let Some(row) = store::ballot_of(conn, &round.collective_id, &round.id, &membership)? {
            store::delete_ballot(conn, &row.id)?;
        }
        Ok(())
    })
}
