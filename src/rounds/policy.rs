//! The rules a round fixes when it opens: what a valid ballot is, and how
//! much each voter weighs. Pure functions; no database, no web.

use std::collections::{HashMap, HashSet};

use commonpot_tally::number::integer;
use commonpot_tally::{Ballot as EngineBallot, BallotKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::BallotChoices;
use crate::affectedness::Tier;
use crate::error::{Error, Result};
use crate::money::{format_minor, Currency, Money};

/// How ballots are filled in, with their limits.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BallotType {
    /// Approve candidates: at least `min_count`, at most `max_count`, whose
    /// costs add up to at most `max_cost`.
    Approval {
        #[serde(default)]
        min_count: u32,
        max_count: Option<u32>,
        /// In the pool's currency.
        max_cost: Option<String>,
    },
    /// Spread at most `points` points over the candidates.
    Cumulative { points: u32 },
    /// Rank candidates, most preferred first, at most `max_ranked` of them;
    /// scored by Borda.
    Ranked { max_ranked: Option<u32> },
}

impl BallotType {
    /// Checks the limits make sense in the pool's currency.
    pub fn check(&self, currency: Currency) -> Result<()> {
        match self {
            BallotType::Approval {
                min_count,
                max_count,
                max_cost,
            } => {
                if let Some(max) = max_count {
                    if *max == 0 || max < min_count {
                        return Err(Error::invalid(
                            "ballot.max_count",
                            "must be at least 1 and at least min_count",
                        ));
                    }
                }
                if let Some(cost) = max_cost {
                    Money::parse_positive("ballot.max_cost", cost, currency)?;
                }
            }
            BallotType::Cumulative { points } => {
                if *points == 0 {
                    return Err(Error::invalid("ballot.points", "must be at least 1"));
                }
            }
            BallotType::Ranked { max_ranked } => {
                if *max_ranked == Some(0) {
                    return Err(Error::invalid("ballot.max_ranked", "must be at least 1"));
                }
            }
        }
        Ok(())
    }

    /// Why no ballot could meet these limits when the candidates cost
    /// `costs` (minor units): the limit at fault and what is wrong; `None`
    /// when some ballot can. (Cumulative and ranked ballots of at least
    /// one point or place can always be filled in.)
    pub fn impossible(&self, costs: &[i64], currency: Currency) -> Option<(&'static str, String)> {
        let BallotType::Approval {
            min_count,
            max_cost,
            ..
        } = self
        else {
            return None;
        };
        let needed = *min_count as usize;
        if needed > costs.len() {
            return Some((
                "min_count",
                format!(
                    "every ballot must approve at least {min_count} candidates, and the round has {}",
                    costs.len()
                ),
            ));
        }
        let max = Money::parse_positive("ballot.max_cost", max_cost.as_deref()?, currency)
            .ok()?
            .minor;
        let mut sorted = costs.to_vec();
        sorted.sort_unstable();
        let least: i128 = sorted.iter().take(needed).map(|&c| i128::from(c)).sum();
        if least > i128::from(max) {
            return Some((
                "max_cost",
                format!(
                    "every ballot must approve at least {min_count} candidates, and the cheapest {min_count} cost {} in all, more than {}",
                    format_minor(i64::try_from(least).unwrap_or(i64::MAX), currency),
                    format_minor(max, currency)
                ),
            ));
        }
        None
    }

    pub fn engine_kind(&self) -> BallotKind {
        match self {
            BallotType::Approval { .. } => BallotKind::Approval,
            BallotType::Cumulative { .. } => BallotKind::Cumulative,
            BallotType::Ranked { .. } => BallotKind::Ordinal,
        }
    }
}

/// A candidate as ballots see it: a request and its cost in minor units.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub request_id: String,
    pub cost_minor: i64,
}

fn limit(field: &str, name: &str, message: String) -> Error {
    Error::invalid(field, format!("{message} (the round's {name})"))
}

/// Checks a ballot against the round's ballot type: 422 naming the field
/// and the limit it breaks.
pub fn check_choices(
    ballot: &BallotType,
    choices: &BallotChoices,
    candidates: &[Candidate],
    currency: Currency,
) -> Result<()> {
    let costs: HashMap<&str, i64> = candidates
        .iter()
        .map(|c| (c.request_id.as_str(), c.cost_minor))
        .collect();
    let known = |field: String, id: &str| -> Result<i64> {
        costs
            .get(id)
            .copied()
            .ok_or_else(|| Error::invalid(field, format!("{id} is not a candidate of this round")))
    };
    let distinct = |field: &str, ids: &[String]| -> Result<()> {
        let mut seen = HashSet::new();
        for (i, id) in ids.iter().enumerate() {
            known(format!("{field}[{i}]"), id)?;
            if !seen.insert(id) {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    format!("{id} is named twice"),
                ));
            }
        }
        Ok(())
    };
    let unused = |field: &str, used: bool| -> Result<()> {
        if used {
            Err(Error::invalid(
                field,
                "does not belong to this round's ballot type",
            ))
        } else {
            Ok(())
        }
    };
    match ballot {
        BallotType::Approval {
            min_count,
            max_count,
            max_cost,
        } => {
            unused("points", !choices.points.is_empty())?;
            unused("ranking", !choices.ranking.is_empty())?;
            distinct("approve", &choices.approve)?;
            let count = choices.approve.len() as u32;
            if count < *min_count {
                return Err(limit(
                    "approve",
                    "min_count",
                    format!("approves {count} candidates; at least {min_count} are needed"),
                ));
            }
            if let Some(max) = max_count.filter(|max| count > *max) {
                return Err(limit(
                    "approve",
                    "max_count",
                    format!("approves {count} candidates; at most {max} may be approved"),
                ));
            }
            if let Some(max) = max_cost {
                let max = Money::parse_positive("max_cost", max, currency)?.minor;
                let total: i64 = choices.approve.iter().map(|id| costs[id.as_str()]).sum();
                if total > max {
                    return Err(limit(
                        "approve",
                        "max_cost",
                        format!(
                            "the approved candidates cost {} in all; at most {} may be approved",
                            format_minor(total, currency),
                            format_minor(max, currency)
                        ),
                    ));
                }
            }
        }
        BallotType::Cumulative { points } => {
            unused("approve", !choices.approve.is_empty())?;
            unused("ranking", !choices.ranking.is_empty())?;
            let mut total: u64 = 0;
            for (id, given) in &choices.points {
                known(format!("points.{id}"), id)?;
                total += u64::from(*given);
            }
            if total == 0 {
                return Err(Error::invalid("points", "give at least one point"));
            }
            if total > u64::from(*points) {
                return Err(limit(
                    "points",
                    "points",
                    format!("gives {total} points; at most {points} may be given"),
                ));
            }
        }
        BallotType::Ranked { max_ranked } => {
            unused("approve", !choices.approve.is_empty())?;
            unused("points", !choices.points.is_empty())?;
            distinct("ranking", &choices.ranking)?;
            if choices.ranking.is_empty() {
                return Err(Error::invalid("ranking", "rank at least one candidate"));
            }
            let count = choices.ranking.len() as u32;
            if let Some(max) = max_ranked.filter(|max| count > *max) {
                return Err(limit(
                    "ranking",
                    "max_ranked",
                    format!("ranks {count} candidates; at most {max} may be ranked"),
                ));
            }
        }
    }
    Ok(())
}

/// The engine's ballot for checked choices; `index` maps request ids to
/// the candidates' positions.
pub fn engine_ballot(
    ballot: &BallotType,
    choices: &BallotChoices,
    index: &HashMap<String, usize>,
) -> EngineBallot {
    let at = |id: &String| index.get(id).copied();
    match ballot {
        BallotType::Approval { .. } => {
            EngineBallot::Approval(choices.approve.iter().filter_map(at).collect())
        }
        BallotType::Cumulative { .. } => EngineBallot::Cumulative(
            choices
                .points
                .iter()
                .filter(|(_, points)| **points > 0)
                .filter_map(|(id, points)| at(id).map(|i| (i, integer(i64::from(*points)))))
                .collect(),
        ),
        BallotType::Ranked { .. } => {
            EngineBallot::Ordinal(choices.ranking.iter().filter_map(at).collect())
        }
    }
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// How much each voter weighs, from their declarations of affectedness as
/// they stand when the round closes. Weights are whole numbers ≥ 1; a
/// weight w counts exactly as w identical ballots.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeightingPolicy {
    #[serde(default = "one")]
    pub direct: u32,
    #[serde(default = "one")]
    pub indirect: u32,
    #[serde(default = "one")]
    pub supporter: u32,
    /// Whether declarations no coordinator has verified count.
    #[serde(default = "yes")]
    pub count_unverified: bool,
    /// The issues whose declarations count; absent: all of them.
    #[serde(default)]
    pub issues: Option<Vec<String>>,
    /// No voter weighs more than this.
    pub cap: Option<u32>,
    /// The weight of a member with no declaration that counts.
    #[serde(default = "one")]
    pub no_declaration: u32,
}

impl Default for WeightingPolicy {
    fn default() -> Self {
        Self {
            direct: 1,
            indirect: 1,
            supporter: 1,
            count_unverified: true,
            issues: None,
            cap: None,
            no_declaration: 1,
        }
    }
}

impl WeightingPolicy {
    /// Checks every weight is a whole number from 1 to 1000, and that the
    /// issues named are the collective's.
    pub fn check(&self, issues: &HashSet<String>) -> Result<()> {
        for (field, weight) in [
            ("policy.direct", Some(self.direct)),
            ("policy.indirect", Some(self.indirect)),
            ("policy.supporter", Some(self.supporter)),
            ("policy.no_declaration", Some(self.no_declaration)),
            ("policy.cap", self.cap),
        ] {
            if weight.is_some_and(|w| !(1..=1000).contains(&w)) {
                return Err(Error::invalid(
                    field,
                    "must be a whole number from 1 to 1000",
                ));
            }
        }
        for (i, issue) in self.issues.iter().flatten().enumerate() {
            if !issues.contains(issue) {
                return Err(Error::invalid(
                    format!("policy.issues[{i}]"),
                    "is not an issue of this collective",
                ));
            }
        }
        Ok(())
    }

    /// Whether declarations about this issue count.
    pub fn counts_issue(&self, issue_id: &str) -> bool {
        self.issues
            .as_ref()
            .is_none_or(|issues| issues.iter().any(|i| i == issue_id))
    }

    fn tier_weight(&self, tier: Tier) -> u32 {
        match tier {
            Tier::Direct => self.direct,
            Tier::Indirect => self.indirect,
            Tier::Supporter => self.supporter,
        }
    }

    /// A voter's tier (the highest among the declarations that count) and
    /// weight, capped.
    pub fn weigh(&self, tiers: &[Tier]) -> (Option<Tier>, u32) {
        let tier = tiers.iter().copied().max();
        let weight = tier.map_or(self.no_declaration, |t| self.tier_weight(t));
        (tier, self.cap.map_or(weight, |cap| weight.min(cap)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> WeightingPolicy {
        WeightingPolicy {
            direct: 3,
            indirect: 2,
            supporter: 1,
            cap: Some(2),
            no_declaration: 1,
            ..Default::default()
        }
    }

    #[test]
    fn the_highest_tier_counts_and_the_cap_applies() {
        assert_eq!(
            policy().weigh(&[Tier::Supporter, Tier::Indirect]),
            (Some(Tier::Indirect), 2)
        );
        assert_eq!(policy().weigh(&[Tier::Direct]), (Some(Tier::Direct), 2));
        assert_eq!(policy().weigh(&[]), (None, 1));
    }

    #[test]
    fn an_approval_ballot_over_its_count_names_the_limit() {
        let candidates = ["a", "b", "c"].map(|id| Candidate {
            request_id: id.into(),
            cost_minor: 100,
        });
        let ballot = BallotType::Approval {
            min_count: 0,
            max_count: Some(2),
            max_cost: None,
        };
        let choices = BallotChoices {
            approve: vec!["a".into(), "b".into(), "c".into()],
            ..Default::default()
        };
        let currency = Currency::from_code("EUR").unwrap();
        match check_choices(&ballot, &choices, &candidates, currency) {
            Err(Error::Invalid { field, message }) => {
                assert_eq!(field, "approve");
                assert!(message.contains("max_count"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
