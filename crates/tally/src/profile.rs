//! The election as the rules read it: satisfactions instead of ballots, and
//! voters with identical satisfactions merged into one group whose weight is
//! the sum of theirs. Every rule treats a weight w exactly as w identical
//! ballots, so merging changes no outcome and makes large elections small.

use std::borrow::Cow;
use std::collections::HashMap;

use num_traits::One;

use crate::election::{Ballot, Election};
use crate::number::{sum, Rational};

/// Voters who get the same satisfaction from every project.
#[derive(Clone, Debug)]
pub struct Group {
    /// The sum of the members' weights.
    pub weight: Rational,
    /// (project, satisfaction > 0), by project index.
    pub satisfactions: Vec<(usize, Rational)>,
}

/// One supporter group of a project and the satisfaction it gets from it.
#[derive(Clone, Debug)]
pub struct Support {
    pub group: usize,
    pub satisfaction: Rational,
}

/// The satisfaction profile of an election.
#[derive(Clone, Debug)]
pub struct Profile {
    pub groups: Vec<Group>,
    /// Per project, the groups that get some satisfaction from it.
    pub supporters: Vec<Vec<Support>>,
    /// The sum of all voters' weights, empty ballots included.
    pub total_weight: Rational,
}

impl Profile {
    pub fn new(election: &Election) -> Self {
        let mut groups: Vec<Group> = Vec::new();
        let mut by_satisfactions: HashMap<Vec<(usize, Rational)>, usize> = HashMap::new();
        for (ballot, weight) in distinct_ballots(election) {
            let mut satisfactions = ballot.satisfactions(&election.projects);
            satisfactions.sort_by_key(|(project, _)| *project);
            match by_satisfactions.get(&satisfactions) {
                Some(&group) => groups[group].weight += weight,
                None => {
                    by_satisfactions.insert(satisfactions.clone(), groups.len());
                    groups.push(Group {
                        weight,
                        satisfactions,
                    });
                }
            }
        }
        let mut supporters = vec![Vec::new(); election.projects.len()];
        for (group, members) in groups.iter().enumerate() {
            for (project, satisfaction) in &members.satisfactions {
                supporters[*project].push(Support {
                    group,
                    satisfaction: satisfaction.clone(),
                });
            }
        }
        let total_weight = sum(groups.iter().map(|group| &group.weight));
        Profile {
            groups,
            supporters,
            total_weight,
        }
    }

    /// The summed weight of a project's supporters.
    pub fn support(&self, project: usize) -> Rational {
        sum(self.supporters[project]
            .iter()
            .map(|support| &self.groups[support.group].weight))
    }

    /// The summed weighted satisfaction a project gives: supporters are
    /// summed per satisfaction value first (for approval ballots there is
    /// one, the cost).
    pub fn satisfaction(&self, project: usize) -> Rational {
        let mut levels: Vec<(&Rational, Vec<&Rational>)> = Vec::new();
        for support in &self.supporters[project] {
            let weight = &self.groups[support.group].weight;
            match levels
                .iter_mut()
                .find(|(satisfaction, _)| **satisfaction == support.satisfaction)
            {
                Some((_, weights)) => weights.push(weight),
                None => levels.push((&support.satisfaction, vec![weight])),
            }
        }
        let totals: Vec<Rational> = levels
            .into_iter()
            .map(|(satisfaction, weights)| satisfaction * sum(weights))
            .collect();
        sum(&totals)
    }
}

/// The election's distinct ballots (an approval ballot is a set) with the
/// summed weight of the voters who cast each. Weights of 1, by far the most
/// common, are counted rather than added as rationals.
fn distinct_ballots(election: &Election) -> Vec<(Ballot, Rational)> {
    let mut index: HashMap<Ballot, usize> = HashMap::new();
    let mut distinct: Vec<(u64, Vec<Rational>)> = Vec::new();
    let mut ballots: Vec<Ballot> = Vec::new();
    for voter in &election.voters {
        let ballot = normalized(&voter.ballot);
        let position = match index.get(ballot.as_ref()) {
            Some(&position) => position,
            None => {
                let ballot = ballot.into_owned();
                index.insert(ballot.clone(), ballots.len());
                ballots.push(ballot);
                distinct.push((0, Vec::new()));
                ballots.len() - 1
            }
        };
        if voter.weight.is_one() {
            distinct[position].0 += 1;
        } else {
            distinct[position].1.push(voter.weight.clone());
        }
    }
    ballots
        .into_iter()
        .zip(distinct)
        .map(|(ballot, (ones, others))| {
            let weight = sum(others.iter().chain([&Rational::from_integer(ones.into())]));
            (ballot, weight)
        })
        .collect()
}

/// The ballot as it is compared: approvals and points in project order.
fn normalized(ballot: &Ballot) -> Cow<'_, Ballot> {
    match ballot {
        Ballot::Approval(approved) if !approved.is_sorted() => {
            let mut approved = approved.clone();
            approved.sort_unstable();
            Cow::Owned(Ballot::Approval(approved))
        }
        Ballot::Cumulative(points) if !points.is_sorted_by_key(|(project, _)| *project) => {
            let mut points = points.clone();
            points.sort_by_key(|(project, _)| *project);
            Cow::Owned(Ballot::Cumulative(points))
        }
        _ => Cow::Borrowed(ballot),
    }
}
