//! The Method of Equal Shares, one run: every unit of voter weight starts
//! with the same share of money; round after round the project its supporters
//! can buy at the lowest price per unit of satisfaction (rho) is bought, each
//! supporter paying rho × their satisfaction, or all they have left when that
//! is less; it ends when no project is affordable. As pabutools'
//! `method_of_equal_shares` without completion, ties broken on the project id.
//!
//! A run can also say how far the starting share may grow before any of its
//! decisions could turn out otherwise (its *horizon*): every amount in a run
//! is an affine function of the starting share t as long as the decisions
//! stay the same, so each decision is a sign of an affine function, which
//! keeps its sign up to a point we can compute. Add1 completion uses this to
//! skip the raises that cannot change the outcome.

mod exact;
mod run;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed};

use crate::election::Project;
use crate::number::Rational;
use crate::profile::{Profile, WholeWeights};
use exact::{Fraction, LowerBound, ProductSum};
use run::Run;

/// A project bought by MES.
#[derive(Clone, Debug)]
pub struct Purchase {
    pub project: usize,
    /// The price per unit of satisfaction and unit of weight (not reduced:
    /// call `reduced()` to show it).
    pub rho: Rational,
    /// Weight of the supporters who could not pay their full share and paid
    /// all they had left.
    pub exhausted_weight: Rational,
}

/// What one run of MES bought, and the money each group has left.
#[derive(Clone, Debug)]
pub struct MesRun {
    pub purchases: Vec<Purchase>,
    /// Per group, the class of voters with the same money left it ended in.
    class_of: Vec<usize>,
    /// Per class, the money each scaled unit of weight in it has left,
    /// times `denominator`.
    class_money: Vec<BigInt>,
    denominator: BigInt,
}

/// The projects MES can buy: priced, and wanted by someone. (Free projects
/// someone wants are taken before MES starts; see [`free_projects`].)
pub fn candidates(profile: &Profile, projects: &[Project]) -> Vec<usize> {
    let zero = Rational::default();
    (0..projects.len())
        .filter(|&project| projects[project].cost > zero && !profile.supporters[project].is_empty())
        .collect()
}

/// Projects that cost nothing and that someone wants: pabutools selects
/// them before the first round.
pub fn free_projects(profile: &Profile, projects: &[Project]) -> Vec<usize> {
    let zero = Rational::default();
    (0..projects.len())
        .filter(|&project| {
            projects[project].cost == zero && !profile.supporters[project].is_empty()
        })
        .collect()
}

/// An election made ready for any number of MES runs.
///
/// Voters with the same money left form a *class*; a run keeps one budget per
/// class, not per voter: a purchase moves the supporters of a class who get
/// the same satisfaction from it into one new class. Prices are computed
/// over the classes of a project's supporters, after summing their weights
/// in whole numbers.
///
/// All money in a run is kept as integers over one common denominator, so
/// adding and comparing never needs a gcd; each purchase multiplies the
/// denominator by one small integer (the paying satisfaction), and every
/// comparison multiplies a big number by a small one only.
pub struct EqualShares<'a> {
    profile: &'a Profile,
    projects: &'a [Project],
    /// Per project, what MES needs to know of it.
    prices: Vec<Priced<'a>>,
    /// The projects MES can buy.
    candidates: Vec<usize>,
}

/// A project as MES prices it.
struct Priced<'a> {
    /// Cost as numerator / denominator.
    cost_numerator: BigInt,
    cost_denominator: BigInt,
    /// Satisfactions are whole multiples of this unit (for approval ballots
    /// the unit is the cost, and every supporter gets one unit).
    unit: Rational,
    /// Supporter groups by the (whole) number of units they get.
    levels: Vec<Level<'a>>,
    /// cost / total weighted satisfaction: a lower bound on its rho.
    first_lower_bound: LowerBound,
}

/// The supporter groups of a project that get the same satisfaction from it.
struct Level<'a> {
    units: BigInt,
    groups: &'a [usize],
}

impl<'a> EqualShares<'a> {
    pub fn new(profile: &'a Profile, projects: &'a [Project]) -> Self {
        let weights = &profile.weights;
        let prices = profile
            .levels
            .iter()
            .zip(projects)
            .map(|(levels, project)| {
                let unit = levels
                    .iter()
                    .map(|level| &level.satisfaction)
                    .fold(None::<Rational>, |unit, satisfaction| {
                        Some(match unit {
                            None => satisfaction.clone(),
                            Some(unit) => Rational::new(
                                unit.numer().gcd(satisfaction.numer()),
                                unit.denom().lcm(satisfaction.denom()),
                            ),
                        })
                    })
                    .unwrap_or_else(Rational::one);
                let levels: Vec<Level<'a>> = levels
                    .iter()
                    .map(|level| Level {
                        units: if level.satisfaction == unit {
                            BigInt::one()
                        } else {
                            (&level.satisfaction / &unit).to_integer()
                        },
                        groups: &level.groups,
                    })
                    .collect();
                // In whole weights and units: one reduction per project.
                let satisfaction: BigInt = levels
                    .iter()
                    .map(|level| weights.sum(level.groups) * &level.units)
                    .sum();
                // cost / (satisfaction × unit), left unreduced.
                let first_lower_bound = if satisfaction.is_positive() {
                    Fraction {
                        numerator: project.cost.numer() * unit.denom(),
                        denominator: project.cost.denom() * satisfaction * unit.numer(),
                    }
                } else {
                    Fraction::from_rational(&Rational::default())
                };
                Priced {
                    cost_numerator: project.cost.numer().clone(),
                    cost_denominator: project.cost.denom().clone(),
                    unit,
                    levels,
                    first_lower_bound: LowerBound::below(
                        &first_lower_bound,
                        &Fraction::from_rational(&Rational::default()),
                    ),
                }
            })
            .collect();
        EqualShares {
            profile,
            projects,
            prices,
            candidates: candidates(profile, projects),
        }
    }

    /// The projects MES can buy.
    pub fn candidates(&self) -> &[usize] {
        &self.candidates
    }

    /// The money a project's supporters have left at the end of a run,
    /// summed over their weight.
    pub fn supporters_money(&self, run: &MesRun, project: usize) -> Rational {
        let total: BigInt = self.profile.supporters[project]
            .iter()
            .map(|support| {
                self.profile.weights.of(support.group)
                    * &run.class_money[run.class_of[support.group]]
            })
            .sum();
        Rational::new(total, run.denominator.clone())
    }

    /// Runs MES where each unit of weight starts with `share`.
    pub fn run(&self, share: &Rational) -> MesRun {
        self.run_tracking(share, false).0
    }

    /// Runs MES where each unit of weight starts with `share`, and returns
    /// with it the horizon: how many whole units the starting share can
    /// grow, at least, before the run's outcome could change (`None`: never).
    /// Every run from a share in `[share, share + horizon)` buys the same
    /// projects in the same order.
    pub fn run_with_horizon(&self, share: &Rational) -> (MesRun, Option<BigInt>) {
        self.run_tracking(share, true)
    }

    fn run_tracking(&self, share: &Rational, tracking: bool) -> (MesRun, Option<BigInt>) {
        match &self.profile.weights {
            WholeWeights::Small { per_group, scale } => {
                Run::new(self, per_group, scale, share, tracking).finish()
            }
            WholeWeights::Big { per_group, scale } => {
                Run::new(self, per_group, scale, share, tracking).finish()
            }
        }
    }
}

/// A whole weight as the hot loop adds it up.
trait Weight: Clone + Default + PartialEq {
    fn add(&mut self, other: &Self);
    /// `number × self`, by the fastest multiplication there is for it.
    fn times(&self, number: &BigInt) -> BigInt;
    /// Adds `number × self` to a sum.
    fn add_times_to(&self, sum: &mut ProductSum, number: &BigInt);
}

impl Weight for u64 {
    fn add(&mut self, other: &Self) {
        // No overflow: every sum is part of the total, checked to fit.
        *self += other;
    }

    fn times(&self, number: &BigInt) -> BigInt {
        number * *self
    }

    fn add_times_to(&self, sum: &mut ProductSum, number: &BigInt) {
        sum.add(number, *self);
    }
}

impl Weight for BigInt {
    fn add(&mut self, other: &Self) {
        *self += other;
    }

    fn times(&self, number: &BigInt) -> BigInt {
        number * self
    }

    fn add_times_to(&self, sum: &mut ProductSum, number: &BigInt) {
        sum.add_big(number * self);
    }
}
