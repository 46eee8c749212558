//! From a closed round to the engine and back: the election the round
//! makes, its explained tally as the stored result, and the pabulib export.

use std::collections::{BTreeMap, HashMap};

use commonpot_tally::number::integer;
use commonpot_tally::pabulib::{write, WeightEncoding};
use commonpot_tally::{tally, Election, Project, Rational, Rule, Voter};
use rand::seq::SliceRandom;
use rand::Rng;

use super::policy::{engine_ballot, BallotType, WeightingPolicy};
use super::store::{self, RoundRow};
use super::*;
use crate::db::DbConnection;
use crate::error::{Error, Result};
use crate::money::{format_minor, Currency};
use crate::pools::store::PoolRow;
use crate::requests::store::{self as request_store, RequestRow};

/// An amount in minor units as an exact number of major units: the engine
/// counts in major units, as Add1 raises budgets by one currency unit.
pub fn major(minor: i64, currency: Currency) -> Rational {
    integer(minor) / integer(10_i64.pow(u32::from(currency.exponent)))
}

pub fn ballot_type(round: &RoundRow) -> Result<BallotType> {
    serde_json::from_str(&round.ballot).map_err(|e| Error::Internal(e.to_string()))
}

pub fn policy(round: &RoundRow) -> Result<WeightingPolicy> {
    serde_json::from_str(&round.policy).map_err(|e| Error::Internal(e.to_string()))
}

pub fn rule(round: &RoundRow) -> Result<Rule> {
    round.rule.parse().map_err(Error::Internal)
}

/// The candidates' request rows, in the round's order.
pub fn candidate_rows(conn: &mut DbConnection, round_id: &str) -> Result<Vec<RequestRow>> {
    store::candidates(conn, round_id)?
        .iter()
        .map(|id| request_store::find(conn, id)?.ok_or(Error::NotFound { what: "request" }))
        .collect()
}

/// A counted ballot's voter: its weight and tier as fixed at close.
struct Counted {
    voter: Voter,
    tier: String,
    weight: i64,
}

/// The election a closed round makes: candidates as projects (cost: the
/// amount requested), counted ballots as voters with their fixed weights.
fn election(
    conn: &mut DbConnection,
    round: &RoundRow,
    currency: Currency,
) -> Result<(Election, Vec<Counted>, i64)> {
    let ballot = ballot_type(round)?;
    let candidates = candidate_rows(conn, &round.id)?;
    let index: HashMap<String, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), i))
        .collect();
    let projects = candidates
        .iter()
        .map(|r| Project {
            id: r.id.clone(),
            cost: major(r.amount_requested_minor, currency),
            extra: vec![("category".into(), r.category.clone())],
        })
        .collect();
    let mut counted = Vec::new();
    let mut set_aside = 0;
    for row in store::ballots_of(conn, &round.id)? {
        let weight = match row.weight {
            Some(w) if !row.set_aside => i64::from(w),
            _ => {
                set_aside += 1;
                continue;
            }
        };
        let choices: BallotChoices =
            serde_json::from_str(&row.choices).map_err(|e| Error::Internal(e.to_string()))?;
        counted.push(Counted {
            voter: Voter {
                id: row.id,
                weight: integer(weight),
                ballot: engine_ballot(&ballot, &choices, &index),
                extra: Vec::new(),
            },
            tier: row.tier.unwrap_or_else(|| "none".into()),
            weight,
        });
    }
    let election = Election {
        meta: vec![
            ("description".into(), round.title.clone()),
            ("currency".into(), currency.code.to_owned()),
            ("rule".into(), rule(round)?.pabulib_name().to_owned()),
        ],
        budget: major(round.budget_minor, currency),
        kind: ballot.engine_kind(),
        projects,
        voters: counted.iter().map(|c| c.voter.clone()).collect(),
    };
    Ok((election, counted, set_aside))
}

/// Tallies a closed round through the engine: the result to store.
pub fn tally_round(
    conn: &mut DbConnection,
    round: &RoundRow,
    pool: &PoolRow,
) -> Result<RoundResult> {
    let currency = pool.currency()?;
    let (election, counted, set_aside) = election(conn, round, currency)?;
    let rule = rule(round)?;
    let outcome = tally(&election, rule, &mut |_| {})
        .map_err(|e| Error::Internal(format!("round {}: {e}", round.id)))?;
    let costs: HashMap<String, i64> = candidate_rows(conn, &round.id)?
        .into_iter()
        .map(|r| (r.id, r.amount_requested_minor))
        .collect();
    let selected: Vec<Funded> = outcome
        .selected
        .iter()
        .map(|id| Funded {
            request_id: id.clone(),
            amount: format_minor(costs[id], currency),
        })
        .collect();
    let spent: i64 = outcome.selected.iter().map(|id| costs[id]).sum();
    let candidates = outcome
        .projects
        .iter()
        .map(|p| CandidateResult {
            request_id: p.id.clone(),
            cost: format_minor(costs[&p.id], currency),
            support: p.support.to_string(),
            satisfaction: p.satisfaction.to_string(),
            selected: outcome.selected.contains(&p.id),
            verdict: serde_json::to_value(p.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            rank: p.rank,
            rho: p.rho.as_ref().map(ToString::to_string),
        })
        .collect();
    let mut tiers: BTreeMap<&str, (i64, i64)> = ["direct", "indirect", "supporter", "none"]
        .into_iter()
        .map(|t| (t, (0, 0)))
        .collect();
    for c in &counted {
        let entry = tiers.entry(c.tier.as_str()).or_default();
        entry.0 += 1;
        entry.1 += c.weight;
    }
    let participation = ["direct", "indirect", "supporter", "none"]
        .into_iter()
        .map(|t| TierParticipation {
            tier: t.to_owned(),
            voters: tiers[t].0,
            total_weight: tiers[t].1,
        })
        .collect();
    Ok(RoundResult {
        round_id: round.id.clone(),
        rule: rule.name().to_owned(),
        currency: currency.code.to_owned(),
        budget: format_minor(round.budget_minor, currency),
        spent: format_minor(spent, currency),
        left: format_minor(round.budget_minor - spent, currency),
        selected,
        candidates,
        policy: policy(round)?,
        participation,
        voters: counted.len() as i64,
        total_weight: counted.iter().map(|c| c.weight).sum(),
        set_aside,
        explanation: serde_json::to_value(&outcome).map_err(|e| Error::Internal(e.to_string()))?,
    })
}

/// The round as a pabulib file: ballots shuffled, with random voter ids;
/// weights in a `weight` column, or as repeated ballots.
pub fn export(
    conn: &mut DbConnection,
    round: &RoundRow,
    pool: &PoolRow,
    repeat: bool,
) -> Result<String> {
    let (mut election, _, _) = election(conn, round, pool.currency()?)?;
    let mut rng = rand::thread_rng();
    election.voters.shuffle(&mut rng);
    for voter in &mut election.voters {
        voter.id = format!("{:016x}", rng.gen::<u64>());
    }
    let encoding = if repeat {
        WeightEncoding::RepeatedBallots
    } else {
        WeightEncoding::Column
    };
    write(&election, encoding).map_err(|e| Error::Internal(e.to_string()))
}
