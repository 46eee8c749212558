//! From a closed round to the engine and back: which candidates can be
//! funded, the election the round makes of them, its explained tally as the
//! stored result, and the pabulib export.
//!
//! A candidate nobody supports is never funded, whatever the rule, and
//! neither is one whose weighted support is below the round's
//! `min_support`. Support is measured on the ballots as cast, over all the
//! round's candidates; the candidates that fall short are then left out of
//! the election, which is both what the engine tallies and what the export
//! holds — so pabutools re-tallying the export gives the round's result.
//! Each ballot keeps the satisfaction it gave the remaining candidates. For
//! ranked ballots that is the Borda score over the whole ranking, written as
//! points (a cumulative election): taking a candidate off a ranking would
//! lower the scores of those ranked above it.
//!
//! [`ClosedRound`] is read from the database once; tallying and exporting
//! it need no connection, so the tally runs outside any transaction.

use std::collections::{BTreeMap, HashMap};

use commonpot_tally::number::integer;
use commonpot_tally::pabulib::{write, WeightEncoding};
use commonpot_tally::{tally, Ballot, BallotKind, Election, Exact, Project, Rational, Rule, Voter};
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

/// The verdict of a candidate left out for having no support at all.
pub const NO_SUPPORT: &str = "no_support";
/// The verdict of a candidate left out for having less than `min_support`.
pub const BELOW_MIN_SUPPORT: &str = "below_min_support";

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

/// The least weighted support a candidate of this round needs (1: any).
pub fn min_support(round: &RoundRow) -> i64 {
    round.min_support.unwrap_or(1)
}

/// The candidates' request rows, in the round's order.
pub fn candidate_rows(conn: &mut DbConnection, round_id: &str) -> Result<Vec<RequestRow>> {
    store::candidates(conn, round_id)?
        .iter()
        .map(|id| request_store::find(conn, id)?.ok_or(Error::NotFound { what: "request" }))
        .collect()
}

/// A counted ballot's voter: its ballot as cast over all the candidates,
/// and its weight and tier as fixed at close.
struct Counted {
    voter: Voter,
    tier: String,
    weight: i64,
}

/// A candidate as the tally sees it.
struct Candidate {
    request_id: String,
    cost_minor: i64,
    category: String,
}

/// A closed round as read from the database: immutable from here on, so
/// it can be tallied or exported without a connection.
pub struct ClosedRound {
    pub round_id: String,
    /// The round's version when read; storing the result is guarded by it.
    pub version: i64,
    title: String,
    rule: Rule,
    currency: Currency,
    budget_minor: i64,
    policy: WeightingPolicy,
    ballot: BallotType,
    min_support: i64,
    candidates: Vec<Candidate>,
    counted: Vec<Counted>,
    set_aside: i64,
    /// Voters and total weight per tier, as kept when the round closed
    /// (its ballots no longer carry tiers); `None` for rounds closed before
    /// that was kept, whose ballots still do.
    participation: Option<BTreeMap<String, (i64, i64)>>,
}

/// One candidate's support on the ballots as cast.
struct Support {
    weight: Rational,
    satisfaction: Rational,
}

impl ClosedRound {
    /// Reads a round's candidates and counted ballots.
    pub fn read(conn: &mut DbConnection, round: &RoundRow, pool: &PoolRow) -> Result<Self> {
        let ballot = ballot_type(round)?;
        let candidates: Vec<Candidate> = candidate_rows(conn, &round.id)?
            .into_iter()
            .map(|r| Candidate {
                request_id: r.id,
                cost_minor: r.amount_requested_minor,
                category: r.category,
            })
            .collect();
        let index: HashMap<String, usize> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (c.request_id.clone(), i))
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
        Ok(ClosedRound {
            round_id: round.id.clone(),
            version: round.version,
            title: round.title.clone(),
            rule: rule(round)?,
            currency: pool.currency()?,
            budget_minor: round.budget_minor,
            policy: policy(round)?,
            ballot,
            min_support: min_support(round),
            candidates,
            counted,
            set_aside,
            participation: store::participation(conn, &round.id)?
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| Error::Internal(format!("round {} participation: {e}", round.id)))?,
        })
    }

    fn project(&self, candidate: &Candidate) -> Project {
        Project {
            id: candidate.request_id.clone(),
            cost: major(candidate.cost_minor, self.currency),
            extra: vec![("category".into(), candidate.category.clone())],
        }
    }

    /// Every candidate's weighted support and satisfaction on the ballots
    /// as cast.
    fn support(&self, projects: &[Project]) -> Vec<Support> {
        let mut support: Vec<Support> = projects
            .iter()
            .map(|_| Support {
                weight: Rational::default(),
                satisfaction: Rational::default(),
            })
            .collect();
        for counted in &self.counted {
            for (project, satisfaction) in counted.voter.ballot.satisfactions(projects) {
                support[project].weight += &counted.voter.weight;
                support[project].satisfaction += satisfaction * &counted.voter.weight;
            }
        }
        support
    }

    /// Why a candidate with this support is left out, if it is.
    fn left_out(&self, support: &Support) -> Option<&'static str> {
        if support.weight <= Rational::default() {
            Some(NO_SUPPORT)
        } else if support.weight < integer(self.min_support) {
            Some(BELOW_MIN_SUPPORT)
        } else {
            None
        }
    }

    /// The election the round tallies and exports: the candidates with
    /// enough support, and every counted ballot with the satisfaction it
    /// gave them (a ballot that gave none stays, empty: its weight still
    /// counts in MES's shares, as an empty ballot does in pabutools).
    pub fn election(&self) -> Election {
        let all: Vec<Project> = self.candidates.iter().map(|c| self.project(c)).collect();
        let support = self.support(&all);
        let mut kept: Vec<Option<usize>> = Vec::with_capacity(all.len());
        let mut projects = Vec::new();
        for (project, support) in all.iter().zip(&support) {
            if self.left_out(support).is_some() {
                kept.push(None);
            } else {
                kept.push(Some(projects.len()));
                projects.push(project.clone());
            }
        }
        let kind = match self.ballot {
            BallotType::Approval { .. } => BallotKind::Approval,
            BallotType::Cumulative { .. } | BallotType::Ranked { .. } => BallotKind::Cumulative,
        };
        let voters = self
            .counted
            .iter()
            .map(|counted| {
                let satisfactions = counted.voter.ballot.satisfactions(&all);
                let remaining = satisfactions
                    .into_iter()
                    .filter_map(|(project, satisfaction)| kept[project].map(|p| (p, satisfaction)));
                Voter {
                    ballot: match kind {
                        BallotKind::Approval => {
                            Ballot::Approval(remaining.map(|(p, _)| p).collect())
                        }
                        _ => Ballot::Cumulative(remaining.collect()),
                    },
                    ..counted.voter.clone()
                }
            })
            .collect();
        let mut meta = vec![
            ("description".into(), self.title.clone()),
            ("currency".into(), self.currency.code.to_owned()),
            ("rule".into(), self.rule.pabulib_name().to_owned()),
            ("min_support".into(), self.min_support.to_string()),
            (
                "candidates_left_out".into(),
                kept.iter().filter(|k| k.is_none()).count().to_string(),
            ),
        ];
        if matches!(self.ballot, BallotType::Ranked { .. }) {
            meta.push((
                "ballots".into(),
                "ranked; written as each ballot's Borda points over all the round's candidates"
                    .into(),
            ));
        }
        Election {
            meta,
            budget: major(self.budget_minor, self.currency),
            kind,
            projects,
            voters,
        }
    }

    /// Tallies the round through the engine: the result to store. Needs
    /// no database, and may take a while on a large round.
    pub fn tally(&self) -> Result<RoundResult> {
        let currency = self.currency;
        let all: Vec<Project> = self.candidates.iter().map(|c| self.project(c)).collect();
        let support = self.support(&all);
        let election = self.election();
        let outcome = tally(&election, self.rule, &mut |_| {})
            .map_err(|e| Error::Internal(format!("round {}: {e}", self.round_id)))?;
        let tallied: HashMap<&str, &commonpot_tally::ProjectReport> = outcome
            .projects
            .iter()
            .map(|p| (p.id.as_str(), p))
            .collect();
        let costs: HashMap<&str, i64> = self
            .candidates
            .iter()
            .map(|c| (c.request_id.as_str(), c.cost_minor))
            .collect();
        let selected: Vec<Funded> = outcome
            .selected
            .iter()
            .map(|id| Funded {
                request_id: id.clone(),
                amount: format_minor(costs[id.as_str()], currency),
            })
            .collect();
        let spent: i64 = outcome.selected.iter().map(|id| costs[id.as_str()]).sum();
        let candidates = self
            .candidates
            .iter()
            .zip(&support)
            .map(|(candidate, support)| {
                let id = candidate.request_id.as_str();
                let line = CandidateResult {
                    request_id: id.to_owned(),
                    cost: format_minor(candidate.cost_minor, currency),
                    support: Exact(support.weight.clone()).to_string(),
                    satisfaction: Exact(support.satisfaction.clone()).to_string(),
                    selected: false,
                    verdict: self.left_out(support).unwrap_or_default().to_owned(),
                    rank: None,
                    rho: None,
                };
                match tallied.get(id) {
                    Some(report) => CandidateResult {
                        selected: outcome.selected.iter().any(|s| s == id),
                        verdict: serde_json::to_value(report.verdict)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                        rank: report.rank,
                        rho: report.rho.as_ref().map(ToString::to_string),
                        ..line
                    },
                    None => line,
                }
            })
            .collect();
        let mut tiers: BTreeMap<&str, (i64, i64)> = ["direct", "indirect", "supporter", "none"]
            .into_iter()
            .map(|t| (t, (0, 0)))
            .collect();
        match &self.participation {
            Some(kept) => {
                for (tier, counts) in kept {
                    *tiers.entry(tier.as_str()).or_default() = *counts;
                }
            }
            None => {
                for c in &self.counted {
                    let entry = tiers.entry(c.tier.as_str()).or_default();
                    entry.0 += 1;
                    entry.1 += c.weight;
                }
            }
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
            round_id: self.round_id.clone(),
            rule: self.rule.name().to_owned(),
            currency: currency.code.to_owned(),
            budget: format_minor(self.budget_minor, currency),
            spent: format_minor(spent, currency),
            left: format_minor(self.budget_minor - spent, currency),
            selected,
            candidates,
            min_support: self.min_support,
            policy: self.policy.clone(),
            participation,
            voters: self.counted.len() as i64,
            total_weight: self.counted.iter().map(|c| c.weight).sum(),
            set_aside: self.set_aside,
            explanation: serde_json::to_value(&outcome)
                .map_err(|e| Error::Internal(e.to_string()))?,
        })
    }

    /// The round as a pabulib file: the election it tallies, ballots
    /// shuffled, with random voter ids; weights in a `weight` column, or
    /// as repeated ballots.
    pub fn export(&self, repeat: bool) -> Result<String> {
        let mut election = self.election();
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
}
