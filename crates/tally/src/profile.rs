//! The election as the rules read it: satisfactions instead of ballots, and
//! voters with identical satisfactions merged into one group whose weight is
//! the sum of theirs. Every rule treats a weight w exactly as w identical
//! ballots, so merging changes no outcome and makes large elections small.

use std::borrow::Cow;

use foldhash::HashMap;
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};

use crate::election::{Ballot, Election};
use crate::number::{sum, Rational};

/// Voters who get the same satisfaction from every project.
#[derive(Clone, Debug)]
pub struct Group {
    /// The sum of the members' weights.
    pub weight: Rational,
    /// (project, level): the project's level (see [`Profile::levels`]) holds
    /// the satisfaction > 0 the group gets from it; by project index.
    pub satisfactions: Vec<(usize, usize)>,
}

/// One supporter group of a project and the level of satisfaction it gets.
#[derive(Clone, Copy, Debug)]
pub struct Support {
    pub group: usize,
    pub level: usize,
}

/// The supporter groups of a project that get the same satisfaction from it
/// (for approval ballots there is one level: the project's cost).
#[derive(Clone, Debug)]
pub struct Level {
    pub satisfaction: Rational,
    pub groups: Vec<usize>,
}

/// Group weights as whole numbers: the real weights times `scale` (the least
/// common multiple of their denominators; 1 for whole weights).
#[derive(Clone, Debug)]
pub enum WholeWeights {
    /// When their total fits in a `u64`, so no sum of them can overflow.
    Small {
        per_group: Vec<u64>,
        scale: Rational,
    },
    Big {
        per_group: Vec<BigInt>,
        scale: Rational,
    },
}

/// The satisfaction profile of an election.
#[derive(Clone, Debug)]
pub struct Profile {
    pub groups: Vec<Group>,
    /// Per project, the groups that get some satisfaction from it.
    pub supporters: Vec<Vec<Support>>,
    /// Per project, its supporters by the satisfaction they get.
    pub levels: Vec<Vec<Level>>,
    pub weights: WholeWeights,
    /// The sum of all voters' weights, empty ballots included.
    pub total_weight: Rational,
}

impl Profile {
    pub fn new(election: &Election) -> Self {
        // Each satisfaction is kept once per project, as a level; a group is
        // known by its (project, level) pairs.
        let mut levels: Vec<Vec<Level>> = vec![Vec::new(); election.projects.len()];
        let mut groups: Vec<Group> = Vec::new();
        let mut by_satisfactions: HashMap<Vec<(usize, usize)>, usize> = HashMap::default();
        for (ballot, weight) in distinct_ballots(election) {
            let mut satisfactions: Vec<(usize, usize)> = ballot
                .satisfactions(&election.projects)
                .into_iter()
                .map(|(project, satisfaction)| {
                    let known = &mut levels[project];
                    let level = match known
                        .iter()
                        .position(|level| level.satisfaction == satisfaction)
                    {
                        Some(level) => level,
                        None => {
                            known.push(Level {
                                satisfaction,
                                groups: Vec::new(),
                            });
                            known.len() - 1
                        }
                    };
                    (project, level)
                })
                .collect();
            satisfactions.sort_unstable_by_key(|(project, _)| *project);
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
            for &(project, level) in &members.satisfactions {
                supporters[project].push(Support { group, level });
                levels[project][level].groups.push(group);
            }
        }
        let total_weight = sum(groups.iter().map(|group| &group.weight));
        let weights = WholeWeights::new(&groups);
        Profile {
            groups,
            supporters,
            levels,
            weights,
            total_weight,
        }
    }

    /// The summed weight of a project's supporters.
    pub fn support(&self, project: usize) -> Rational {
        let whole: BigInt = self.levels[project]
            .iter()
            .map(|level| self.weights.sum(&level.groups))
            .sum();
        self.unscaled(whole, BigInt::one())
    }

    /// The summed weighted satisfaction a project gives: weights are summed
    /// per satisfaction value first (for approval ballots there is one, the
    /// cost), and the fraction is reduced once.
    pub fn satisfaction(&self, project: usize) -> Rational {
        let mut numerator = BigInt::zero();
        let mut denominator = BigInt::one();
        for level in &self.levels[project] {
            let term = level.satisfaction.numer() * self.weights.sum(&level.groups);
            let term_denominator = level.satisfaction.denom();
            if *term_denominator == denominator {
                numerator += term;
            } else {
                numerator = numerator * term_denominator + term * &denominator;
                denominator *= term_denominator;
            }
        }
        self.unscaled(numerator, denominator)
    }

    /// numerator / (denominator × the weights' scale), reduced.
    fn unscaled(&self, numerator: BigInt, denominator: BigInt) -> Rational {
        let scale = self.weights.scale();
        if scale.is_one() && denominator.is_one() {
            Rational::from_integer(numerator)
        } else if scale.is_one() {
            Rational::new(numerator, denominator)
        } else {
            Rational::new(numerator * scale.denom(), denominator * scale.numer())
        }
    }
}

impl WholeWeights {
    fn new(groups: &[Group]) -> Self {
        let scale = groups.iter().fold(BigInt::one(), |scale, group| {
            scale.lcm(group.weight.denom())
        });
        let per_group: Vec<BigInt> = groups
            .iter()
            .map(|group| group.weight.numer() * (&scale / group.weight.denom()))
            .collect();
        let small: Option<Vec<u64>> = per_group.iter().map(ToPrimitive::to_u64).collect();
        let fits = small.as_ref().is_some_and(|small| {
            small
                .iter()
                .try_fold(0u64, |total, &weight| total.checked_add(weight))
                .is_some()
        });
        let scale = Rational::from_integer(scale);
        match small {
            Some(per_group) if fits => WholeWeights::Small { per_group, scale },
            _ => WholeWeights::Big { per_group, scale },
        }
    }

    /// What the whole weights are the real ones times.
    pub fn scale(&self) -> &Rational {
        match self {
            WholeWeights::Small { scale, .. } | WholeWeights::Big { scale, .. } => scale,
        }
    }

    /// A group's whole weight.
    pub fn of(&self, group: usize) -> BigInt {
        match self {
            WholeWeights::Small { per_group, .. } => per_group[group].into(),
            WholeWeights::Big { per_group, .. } => per_group[group].clone(),
        }
    }

    /// The summed whole weight of some groups.
    pub fn sum(&self, groups: &[usize]) -> BigInt {
        match self {
            // No overflow: every sum is part of the total, checked to fit.
            WholeWeights::Small { per_group, .. } => groups
                .iter()
                .map(|&group| per_group[group])
                .sum::<u64>()
                .into(),
            WholeWeights::Big { per_group, .. } => {
                groups.iter().map(|&group| &per_group[group]).sum()
            }
        }
    }
}

/// The election's distinct ballots (an approval ballot is a set) with the
/// summed weight of the voters who cast each. Weights of 1, by far the most
/// common, are counted rather than added as rationals.
fn distinct_ballots(election: &Election) -> Vec<(Ballot, Rational)> {
    let mut index: HashMap<Ballot, usize> = HashMap::default();
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
