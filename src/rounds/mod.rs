//! Participatory budgeting rounds: a budget reserved from a pool, candidate
//! aid requests, ballots weighted toward the most affected, a tally by the
//! `commonpot-tally` engine, and enactment, which approves the funded
//! requests and splits the round's hold into theirs.
//!
//! * [`phase`]: a round's phases and every legal transition;
//! * [`policy`]: ballot rules and the weighting policy — pure rules;
//! * [`service`]: the life of a round; [`voting`]: ballots;
//! * [`results`]: the tally, the stored result and the pabulib export.

pub mod http;
pub mod phase;
pub mod policy;
pub mod results;
pub mod service;
pub mod store;
pub mod voting;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use phase::Phase;
pub use policy::{BallotType, WeightingPolicy};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRound {
    pub title: String,
    /// In the pool's currency; reserved when the round opens.
    #[schema(example = "1000.00")]
    pub budget: String,
    /// Aid request ids, `submitted` or `in_review` in the round's pool.
    pub candidates: Vec<String>,
    pub ballot: BallotType,
    /// `mes-add1` (default), `mes` or `greedy`.
    #[schema(example = "mes-add1")]
    pub rule: Option<String>,
    /// Default: every voter weighs 1.
    pub policy: Option<WeightingPolicy>,
    /// The least weighted support (the summed weight of the voters who
    /// support it) a candidate needs to be funded, whatever the rule.
    /// Default 1: a candidate nobody supports is never funded.
    #[schema(example = 5, minimum = 1, maximum = 1_000_000_000)]
    pub min_support: Option<u32>,
}

/// Changes to a draft round; once open its rules are fixed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundPatch {
    pub title: Option<String>,
    pub budget: Option<String>,
    pub candidates: Option<Vec<String>>,
    pub ballot: Option<BallotType>,
    pub rule: Option<String>,
    pub policy: Option<WeightingPolicy>,
    pub min_support: Option<u32>,
}

/// A budgeting round.
#[derive(Debug, Serialize, ToSchema)]
pub struct Round {
    pub id: String,
    pub collective_id: String,
    pub pool_id: String,
    pub title: String,
    pub budget: String,
    pub currency: String,
    pub candidates: Vec<String>,
    pub ballot: BallotType,
    pub rule: String,
    pub policy: WeightingPolicy,
    /// The least weighted support a candidate needs to be funded.
    pub min_support: i64,
    pub phase: Phase,
    /// The hold reserving the budget, once open.
    pub hold_id: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub tallied_at: Option<DateTime<Utc>>,
    pub enacted_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A ballot, filled in as the round's ballot type asks: `approve` for
/// approval, `points` for cumulative, `ranking` (most preferred first) for
/// ranked. Candidates are named by request id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BallotChoices {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approve: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub points: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranking: Vec<String>,
}

/// Your ballot in a round. Nobody else can read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ballot {
    pub round_id: String,
    pub choices: BallotChoices,
    pub cast_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A funded request and the amount it gets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Funded {
    pub request_id: String,
    pub amount: String,
}

/// One candidate's line in a result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CandidateResult {
    pub request_id: String,
    pub cost: String,
    /// The summed weight of the voters who support it (exact).
    pub support: String,
    /// The summed weighted satisfaction it gives (exact).
    pub satisfaction: String,
    pub selected: bool,
    /// `selected`; `no_support` (nobody supports it) or `below_min_support`
    /// (less than the round's `min_support`): left out of the tally and the
    /// export, never funded; or the engine's verdict, `unaffordable` (MES:
    /// its supporters' money ran out) or `did_not_fit` (greedy).
    pub verdict: String,
    /// Its place in the order of selection.
    pub rank: Option<usize>,
    /// MES: the price per unit of satisfaction and weight its supporters paid.
    pub rho: Option<String>,
}

/// Voters and their total weight in one tier (`direct`, `indirect`,
/// `supporter`, or `none` for members with no declaration that counts).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierParticipation {
    pub tier: String,
    pub voters: i64,
    pub total_weight: i64,
}

/// Results stored before rounds had a minimum asked for any support.
fn any_support() -> i64 {
    1
}

/// A tallied round's result, stored when tallied so reads are stable.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoundResult {
    pub round_id: String,
    pub rule: String,
    pub currency: String,
    pub budget: String,
    pub spent: String,
    pub left: String,
    /// Funded requests, in order of selection.
    pub selected: Vec<Funded>,
    pub candidates: Vec<CandidateResult>,
    /// The least weighted support a candidate needed.
    #[serde(default = "any_support")]
    pub min_support: i64,
    pub policy: WeightingPolicy,
    pub participation: Vec<TierParticipation>,
    pub voters: i64,
    pub total_weight: i64,
    /// Ballots of members no longer active or not eligible when it closed.
    pub set_aside: i64,
    /// The engine's full explanation (MES shares, completion steps …) of
    /// the tally of the candidates with enough support.
    #[schema(value_type = Object)]
    pub explanation: serde_json::Value,
}
