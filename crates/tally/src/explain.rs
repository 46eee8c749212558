//! The result of a tally, explaining itself: per project its weighted
//! support, its cost, whether it was selected and, when not, why; for MES the
//! price per unit of satisfaction and weight (rho) its supporters paid; the
//! budget spent and left. Serialisable as it is shown through the API, with
//! every number an exact string (see [`crate::number::Exact`]).

use std::fmt::Write as _;

use serde::Serialize;

use crate::election::{Ballot, Election};
use crate::number::{round, Exact, Rational};
use crate::profile::Profile;
use crate::rules::add1::{equal_shares_add1, Lanes, Progress};
use crate::rules::greedy::greedy;
use crate::rules::mes::{free_projects, EqualShares, MesRun};
use crate::rules::Rule;

/// Why an election cannot be tallied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InvalidElection {
    #[error("the budget is negative")]
    NegativeBudget,
    #[error("project {0} has a negative cost")]
    NegativeCost(String),
    #[error("voter {0} has a weight that is not positive")]
    WeightNotPositive(String),
    #[error("voter {0} gives negative points")]
    NegativePoints(String),
    #[error("voter {0} names a project that does not exist")]
    UnknownProject(String),
    #[error("voter {0}'s ballot is not of the election's kind")]
    WrongBallotKind(String),
}

/// What happened to a project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Selected,
    /// Nobody gets any satisfaction from it (MES does not consider it).
    NoSupport,
    /// MES: its supporters' money left is less than its cost.
    Unaffordable,
    /// Greedy: it cost more than was left when its turn came.
    DidNotFit,
}

/// One project's line in the result.
#[derive(Clone, Debug, Serialize)]
pub struct ProjectReport {
    pub id: String,
    pub cost: Exact,
    /// The summed weight of the voters who get satisfaction from it.
    pub support: Exact,
    /// The summed weighted satisfaction it gives.
    pub satisfaction: Exact,
    pub verdict: Verdict,
    /// Its place in the order of selection, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// MES: the price per unit of satisfaction and unit of weight its
    /// supporters paid (for approval ballots, satisfaction is the cost, so a
    /// unit of weight paid rho × cost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rho: Option<Exact>,
    /// MES: weight of the supporters who paid all they had left, less than
    /// their full share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exhausted_weight: Option<Exact>,
    /// MES, not selected: the money its supporters had left at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supporters_money: Option<Exact>,
    /// Greedy: what was left of the budget when its turn came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_left: Option<Exact>,
}

/// How MES with Add1 got to its outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Completion {
    /// The raise whose outcome was kept (0: the plain MES share).
    pub step: u64,
    /// The starting share per unit of weight of the outcome kept.
    pub share: Exact,
    /// How many runs of MES it took (raises that provably change nothing
    /// are skipped).
    pub runs: u64,
}

/// The explained result of a tally.
#[derive(Clone, Debug, Serialize)]
pub struct Tally {
    pub rule: Rule,
    pub budget: Exact,
    pub spent: Exact,
    pub left: Exact,
    pub voters: usize,
    pub total_weight: Exact,
    /// Selected project ids, in order of selection.
    pub selected: Vec<String>,
    /// Every project, in the election's order.
    pub projects: Vec<ProjectReport>,
    /// MES: the starting share of each unit of weight (budget / total weight).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_share: Option<Exact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion: Option<Completion>,
}

/// Tallies an election under a rule. `progress` hears about each run of MES
/// during Add1 completion.
pub fn tally(
    election: &Election,
    rule: Rule,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Tally, InvalidElection> {
    Ok(Prepared::new(election)?.tally(rule, progress))
}

/// A checked election with its identical ballots merged, ready to be
/// tallied under any rule.
pub struct Prepared<'a> {
    election: &'a Election,
    profile: Profile,
}

impl<'a> Prepared<'a> {
    pub fn new(election: &'a Election) -> Result<Self, InvalidElection> {
        validate(election)?;
        Ok(Prepared {
            election,
            profile: Profile::new(election),
        })
    }

    /// Tallies under a rule. `progress` hears about each run of MES during
    /// Add1 completion, which uses the lanes the machine offers
    /// ([`Lanes::available`]).
    pub fn tally(&self, rule: Rule, progress: &mut dyn FnMut(&Progress)) -> Tally {
        self.tally_on(rule, Lanes::available(), progress)
    }

    /// Tallies under a rule, Add1 completion making runs of MES on `lanes`.
    /// The result does not depend on them.
    pub fn tally_on(&self, rule: Rule, lanes: Lanes, progress: &mut dyn FnMut(&Progress)) -> Tally {
        explained(self.election, &self.profile, rule, lanes, progress)
    }
}

fn explained(
    election: &Election,
    profile: &Profile,
    rule: Rule,
    lanes: Lanes,
    progress: &mut dyn FnMut(&Progress),
) -> Tally {
    let projects = &election.projects;
    let satisfaction: Vec<Rational> = (0..projects.len())
        .map(|project| profile.satisfaction(project))
        .collect();
    let mut reports: Vec<ProjectReport> = (0..projects.len())
        .map(|project| ProjectReport {
            id: projects[project].id.clone(),
            cost: Exact(projects[project].cost.clone()),
            support: Exact(profile.support(project)),
            satisfaction: Exact(satisfaction[project].clone()),
            verdict: if profile.supporters[project].is_empty() {
                Verdict::NoSupport
            } else {
                Verdict::Unaffordable
            },
            rank: None,
            rho: None,
            exhausted_weight: None,
            supporters_money: None,
            budget_left: None,
        })
        .collect();
    let mut selected = Vec::new();
    let mut first_share = None;
    let mut completion = None;
    match rule {
        Rule::Greedy => {
            for consideration in greedy(&satisfaction, projects, &election.budget) {
                let report = &mut reports[consideration.project];
                report.budget_left = Some(Exact(consideration.budget_left));
                if consideration.bought {
                    selected.push(consideration.project);
                } else {
                    report.verdict = Verdict::DidNotFit;
                }
            }
        }
        Rule::Mes | Rule::MesAdd1 if election.voters.is_empty() => {}
        Rule::Mes | Rule::MesAdd1 => {
            let share = &election.budget / &profile.total_weight;
            let free = free_projects(profile, projects);
            selected.extend_from_slice(&free);
            let mes = EqualShares::new(profile, projects);
            let run = if rule == Rule::Mes {
                mes.run(&share)
            } else {
                let add1 = equal_shares_add1(
                    &mes,
                    projects,
                    &election.budget,
                    &share,
                    &free,
                    lanes,
                    progress,
                );
                completion = Some(Completion {
                    step: add1.step,
                    share: Exact(add1.share),
                    runs: add1.runs,
                });
                add1.run
            };
            explain_mes(&mes, &run, &mut reports, &mut selected);
            first_share = Some(Exact(share));
        }
    }
    let mut spent = Rational::default();
    for (rank, &project) in selected.iter().enumerate() {
        spent += &projects[project].cost;
        let report = &mut reports[project];
        report.verdict = Verdict::Selected;
        report.rank = Some(rank + 1);
    }
    Tally {
        rule,
        budget: Exact(election.budget.clone()),
        left: Exact(&election.budget - &spent),
        spent: Exact(spent),
        voters: election.voters.len(),
        total_weight: Exact(profile.total_weight.clone()),
        selected: selected
            .iter()
            .map(|&project| projects[project].id.clone())
            .collect(),
        projects: reports,
        first_share,
        completion,
    }
}

fn explain_mes(
    mes: &EqualShares,
    run: &MesRun,
    reports: &mut [ProjectReport],
    selected: &mut Vec<usize>,
) {
    for purchase in &run.purchases {
        let report = &mut reports[purchase.project];
        report.rho = Some(Exact(purchase.rho.reduced()));
        report.exhausted_weight = Some(Exact(purchase.exhausted_weight.clone()));
        selected.push(purchase.project);
    }
    for (project, report) in reports.iter_mut().enumerate() {
        if report.verdict == Verdict::Unaffordable && report.rho.is_none() {
            report.supporters_money = Some(Exact(mes.supporters_money(run, project)));
        }
    }
}

fn validate(election: &Election) -> Result<(), InvalidElection> {
    let zero = Rational::default();
    if election.budget < zero {
        return Err(InvalidElection::NegativeBudget);
    }
    if let Some(project) = election.projects.iter().find(|project| project.cost < zero) {
        return Err(InvalidElection::NegativeCost(project.id.clone()));
    }
    for voter in &election.voters {
        let invalid = |error: fn(String) -> InvalidElection| Err(error(voter.id.clone()));
        if voter.weight <= zero {
            return invalid(InvalidElection::WeightNotPositive);
        }
        if voter.ballot.kind() != election.kind {
            return invalid(InvalidElection::WrongBallotKind);
        }
        if voter
            .ballot
            .projects()
            .iter()
            .any(|&project| project >= election.projects.len())
        {
            return invalid(InvalidElection::UnknownProject);
        }
        if let Ballot::Cumulative(points) = &voter.ballot {
            if points.iter().any(|(_, points)| *points < zero) {
                return invalid(InvalidElection::NegativePoints);
            }
        }
    }
    Ok(())
}

impl Tally {
    /// The result as one JSON object.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_string_pretty(self).expect("a tally serialises to JSON")
    }

    /// The result as text for people: the outcome, then one line per project.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "rule: {}", self.rule);
        if let Some(completion) = &self.completion {
            let _ = writeln!(
                text,
                "completion: outcome of raise {} kept, a starting share of {} per unit of weight ({} runs of MES)",
                completion.step,
                for_people(&completion.share),
                completion.runs
            );
        }
        let _ = writeln!(
            text,
            "voters: {} (total weight {})",
            self.voters, self.total_weight
        );
        let _ = writeln!(
            text,
            "budget: {}  spent: {}  left: {}",
            self.budget, self.spent, self.left
        );
        let _ = writeln!(
            text,
            "selected ({}): {}",
            self.selected.len(),
            self.selected.join(", ")
        );
        let _ = writeln!(text);
        let _ = writeln!(text, "project\tcost\tsupport\toutcome");
        for report in &self.projects {
            let _ = writeln!(
                text,
                "{}\t{}\t{}\t{}",
                report.id,
                report.cost,
                report.support,
                report.why()
            );
        }
        text
    }
}

impl ProjectReport {
    /// One sentence on what happened to the project.
    fn why(&self) -> String {
        let shown = |value: &Option<Exact>| value.as_ref().map(for_people).unwrap_or_default();
        match self.verdict {
            Verdict::Selected => {
                let rank = self.rank.unwrap_or_default();
                let Some(rho) = &self.rho else {
                    return format!("selected #{rank}");
                };
                let mut why = format!("selected #{rank} at rho {}", for_people(rho));
                if self
                    .exhausted_weight
                    .as_ref()
                    .is_some_and(|weight| weight.0 > Rational::default())
                {
                    why += &format!(
                        "; supporters of weight {} paid all they had left",
                        shown(&self.exhausted_weight)
                    );
                }
                why
            }
            Verdict::NoSupport => "not selected: nobody supports it".to_string(),
            Verdict::Unaffordable => format!(
                "not selected: unaffordable for its supporters, who had {} left",
                shown(&self.supporters_money)
            ),
            Verdict::DidNotFit => format!(
                "not selected: did not fit, {} left when its turn came",
                shown(&self.budget_left)
            ),
        }
    }
}

/// A number for people: exact when it is a terminating decimal, otherwise
/// rounded to six decimals with the exact fraction beside it.
fn for_people(value: &Exact) -> String {
    let exact = value.to_string();
    if exact.contains('/') {
        format!("≈{} ({exact})", round(&value.0, 6))
    } else {
        exact
    }
}
