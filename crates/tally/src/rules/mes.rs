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

use std::cmp::Ordering;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use crate::election::Project;
use crate::number::Rational;
use crate::profile::Profile;

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
    prices: Vec<Priced>,
    weights: GroupWeights,
    /// The projects MES can buy.
    candidates: Vec<usize>,
}

/// A project as MES prices it.
struct Priced {
    /// Cost as numerator / denominator.
    cost_numerator: BigInt,
    cost_denominator: BigInt,
    /// Satisfactions are whole multiples of this unit (for approval ballots
    /// the unit is the cost, and every supporter gets one unit).
    unit: Rational,
    /// Supporter groups by the (whole) number of units they get.
    levels: Vec<Level>,
    /// cost / total weighted satisfaction: a lower bound on its rho.
    first_lower_bound: Fraction,
}

/// The supporter groups of a project that get the same satisfaction from it.
struct Level {
    units: BigInt,
    groups: Vec<usize>,
}

/// Group weights as whole numbers: the real weights times `scale`.
enum GroupWeights {
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

impl<'a> EqualShares<'a> {
    pub fn new(profile: &'a Profile, projects: &'a [Project]) -> Self {
        let weights = GroupWeights::new(profile);
        let prices = profile
            .supporters
            .iter()
            .zip(projects)
            .map(|(supporters, project)| {
                let mut levels: Vec<(Rational, Vec<usize>)> = Vec::new();
                for support in supporters {
                    match levels
                        .iter_mut()
                        .find(|(satisfaction, _)| *satisfaction == support.satisfaction)
                    {
                        Some((_, groups)) => groups.push(support.group),
                        None => levels.push((support.satisfaction.clone(), vec![support.group])),
                    }
                }
                let unit = levels
                    .iter()
                    .map(|(satisfaction, _)| satisfaction)
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
                let levels: Vec<Level> = levels
                    .into_iter()
                    .map(|(satisfaction, groups)| Level {
                        units: (satisfaction / &unit).to_integer(),
                        groups,
                    })
                    .collect();
                let satisfaction: Rational = levels
                    .iter()
                    .map(|level| {
                        let weight: BigInt =
                            level.groups.iter().map(|&group| weights.of(group)).sum();
                        Rational::from_integer(weight * &level.units) * &unit
                    })
                    .sum();
                let first_lower_bound = if satisfaction > Rational::default() {
                    &project.cost / satisfaction
                } else {
                    Rational::default()
                };
                Priced {
                    cost_numerator: project.cost.numer().clone(),
                    cost_denominator: project.cost.denom().clone(),
                    unit,
                    levels,
                    first_lower_bound: Fraction::from_rational(&first_lower_bound),
                }
            })
            .collect();
        EqualShares {
            profile,
            projects,
            prices,
            weights,
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
                self.weights.of(support.group) * &run.class_money[run.class_of[support.group]]
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
        match &self.weights {
            GroupWeights::Small { per_group, scale } => {
                Run::new(self, per_group, scale, share, tracking).finish()
            }
            GroupWeights::Big { per_group, scale } => {
                Run::new(self, per_group, scale, share, tracking).finish()
            }
        }
    }
}

impl GroupWeights {
    fn new(profile: &Profile) -> Self {
        let scale = profile.groups.iter().fold(BigInt::one(), |scale, group| {
            scale.lcm(group.weight.denom())
        });
        let per_group: Vec<BigInt> = profile
            .groups
            .iter()
            .map(|group| (&group.weight * Rational::from_integer(scale.clone())).to_integer())
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
            Some(per_group) if fits => GroupWeights::Small { per_group, scale },
            _ => GroupWeights::Big { per_group, scale },
        }
    }

    /// A group's whole weight.
    fn of(&self, group: usize) -> BigInt {
        match self {
            GroupWeights::Small { per_group, .. } => per_group[group].into(),
            GroupWeights::Big { per_group, .. } => per_group[group].clone(),
        }
    }
}

/// A whole weight as the hot loop adds it up.
trait Weight: Clone + Default + PartialEq {
    fn add(&mut self, other: &Self);
    /// `number × self`, by the fastest multiplication there is for it.
    fn times(&self, number: &BigInt) -> BigInt;
}

impl Weight for u64 {
    fn add(&mut self, other: &Self) {
        // No overflow: every sum is part of the total, checked to fit.
        *self += other;
    }

    fn times(&self, number: &BigInt) -> BigInt {
        number * *self
    }
}

impl Weight for BigInt {
    fn add(&mut self, other: &Self) {
        *self += other;
    }

    fn times(&self, number: &BigInt) -> BigInt {
        number * self
    }
}

/// Money as a function of the starting share t, times the run's common
/// denominator: `value + slope · (t − t₀)`, exact as long as the run's
/// decisions are. Slopes are kept only while the run tracks its horizon.
#[derive(Clone, Debug, Default)]
struct Money {
    value: BigInt,
    slope: BigInt,
}

/// An exact fraction with a positive, not necessarily reduced, denominator.
#[derive(Clone, Debug)]
struct Fraction {
    numerator: BigInt,
    denominator: BigInt,
}

impl Fraction {
    fn cmp(&self, other: &Fraction) -> Ordering {
        (&self.numerator * &other.denominator).cmp(&(&other.numerator * &self.denominator))
    }

    fn minus(&self, other: &Fraction) -> Fraction {
        Fraction {
            numerator: &self.numerator * &other.denominator - &other.numerator * &self.denominator,
            denominator: &self.denominator * &other.denominator,
        }
    }

    fn from_rational(value: &Rational) -> Fraction {
        Fraction {
            numerator: value.numer().clone(),
            denominator: value.denom().clone(),
        }
    }

    /// The largest fraction ≤ self with a power of two for denominator and
    /// about 64 significant bits: cheap to compare and sort.
    fn floor_dyadic(&self) -> Fraction {
        if self.numerator.is_zero() {
            return self.clone();
        }
        let bits = |number: &BigInt| i64::try_from(number.bits()).unwrap_or(i64::MAX);
        let shift = 64 + bits(&self.denominator) - bits(&self.numerator);
        if shift >= 0 {
            let floor = (&self.numerator << shift).div_floor(&self.denominator);
            // The only common factors can be twos: shift them out.
            let twos = floor
                .trailing_zeros()
                .unwrap_or(0)
                .min(shift.unsigned_abs());
            Fraction {
                numerator: floor >> twos,
                denominator: BigInt::one() << (shift.unsigned_abs() - twos),
            }
        } else {
            let scaled = &self.denominator << -shift;
            Fraction {
                numerator: self.numerator.div_floor(&scaled) << -shift,
                denominator: BigInt::one(),
            }
        }
    }
}

/// A price as a function of the starting share t.
#[derive(Clone, Debug)]
struct Rho {
    value: Fraction,
    slope: Fraction,
}

/// A lower bound on a project's rho as a function of t ≥ t₀.
#[derive(Clone, Debug)]
struct LowerBound {
    value: Fraction,
    slope: Fraction,
}

/// How many whole units t can grow from t₀, at least, before a decision
/// taken may flip.
struct Horizon {
    tracking: bool,
    steps: Option<BigInt>,
}

impl Horizon {
    /// A decision rested on the sign (≥ 0 or < 0) of `value + slope·(t − t₀)`
    /// (times some positive number): note when that sign may change.
    fn keep_sign(&mut self, value: &BigInt, slope: &BigInt) {
        if !self.tracking {
            return;
        }
        let binding = !value.is_negative() && slope.is_negative()
            || value.is_negative() && slope.is_positive();
        if !binding {
            return;
        }
        let (distance, speed) = (value.abs(), slope.abs());
        let steps = (distance + &speed - 1u32) / speed;
        if self.steps.as_ref().is_none_or(|known| steps < *known) {
            // The next run is at least one raise away whatever else the run
            // decides: past this point, tracking (and slopes) cannot matter.
            if steps <= BigInt::one() {
                self.tracking = false;
            }
            self.steps = Some(steps);
        }
    }

    fn keep_sign_of(&mut self, value: &Fraction, slope: &Fraction) {
        if slope.numerator.is_zero() {
            return;
        }
        self.keep_sign(
            &(&value.numerator * &slope.denominator),
            &(&slope.numerator * &value.denominator),
        );
    }
}

/// The class of voters who have spent everything.
const EXHAUSTED: usize = 0;

/// A run of MES in progress. Weights are the group weights times `scale`,
/// so money per unit of weight is the real one divided by `scale`.
struct Run<'a, W> {
    election: &'a EqualShares<'a>,
    weights: &'a [W],
    scale: &'a Rational,
    /// Per group, its class.
    class_of: Vec<usize>,
    /// Per class, how many groups it holds.
    members: Vec<usize>,
    /// Per class, the money each unit of (scaled) weight in it has left,
    /// times `denominator`.
    budgets: Vec<Money>,
    denominator: BigInt,
    /// Per class, a weight and a group count being summed; zero between uses.
    summing: Vec<(W, usize)>,
    horizon: Horizon,
}

/// The supporters of a project in one class who get the same satisfaction.
struct Share<W> {
    class: usize,
    level: usize,
    weight: W,
    groups: usize,
    /// Cannot pay its full share and pays all it has.
    exhausted: bool,
}

/// What a project's supporters would pay for it now: per unit of weight,
/// `rho_units × units / denominator`, where `rho_units` is the price of one
/// unit of satisfaction times `payers × denominator`.
struct Price<W> {
    rho_units: Money,
    payers: BigInt,
    /// The real rho, per unit of satisfaction and (unscaled) unit of weight.
    rho: Rho,
    shares: Vec<Share<W>>,
}

impl<'a, W: Weight> Run<'a, W> {
    fn new(
        election: &'a EqualShares<'a>,
        weights: &'a [W],
        scale: &'a Rational,
        share: &Rational,
        tracking: bool,
    ) -> Self {
        // Money per scaled unit of weight starts at share / scale and grows
        // by 1 / scale with t: both whole over this denominator.
        let start = share / scale;
        let denominator = start.denom().lcm(scale.numer());
        let value = start.numer() * (&denominator / start.denom());
        let slope = if tracking {
            (&denominator / scale.numer()) * scale.denom()
        } else {
            BigInt::zero()
        };
        let groups = election.profile.groups.len();
        Run {
            election,
            weights,
            scale,
            class_of: vec![1; groups],
            members: vec![0, groups],
            budgets: vec![Money::default(), Money { value, slope }],
            denominator,
            summing: vec![(W::default(), 0); 2],
            horizon: Horizon {
                tracking,
                steps: None,
            },
        }
    }

    fn finish(mut self) -> (MesRun, Option<BigInt>) {
        let projects = self.election.projects;
        let mut remaining = self.election.candidates.clone();
        // A lower bound on each project's rho: budgets only shrink, so a rho
        // computed earlier never overstates the current one.
        let mut lower_bound: Vec<LowerBound> = self
            .election
            .prices
            .iter()
            .map(|priced| LowerBound {
                value: priced.first_lower_bound.clone(),
                slope: Fraction::from_rational(&Rational::default()),
            })
            .collect();
        let mut purchases = Vec::new();
        loop {
            remaining.sort_by(|&a, &b| {
                lower_bound[a]
                    .value
                    .cmp(&lower_bound[b].value)
                    .then_with(|| projects[a].id.cmp(&projects[b].id))
            });
            let mut best: Option<(usize, Price<W>)> = None;
            let mut priced: Vec<(usize, Rho)> = Vec::new();
            let mut kept = Vec::with_capacity(remaining.len());
            let mut skipped_from = remaining.len();
            for (position, &project) in remaining.iter().enumerate() {
                if let Some((_, best_price)) = &best {
                    let bound = &lower_bound[project].value;
                    if bound.cmp(&best_price.rho.value) == Ordering::Greater {
                        skipped_from = position;
                        break;
                    }
                }
                let Some(price) = self.price(project) else {
                    continue; // unaffordable now, and budgets only shrink
                };
                lower_bound[project] = LowerBound {
                    value: price.rho.value.floor_dyadic(),
                    slope: price.rho.slope.floor_dyadic(),
                };
                kept.push(project);
                let better = match &best {
                    None => true,
                    Some((best_project, best_price)) => {
                        match price.rho.value.cmp(&best_price.rho.value) {
                            Ordering::Less => true,
                            Ordering::Equal => projects[project].id < projects[*best_project].id,
                            Ordering::Greater => false,
                        }
                    }
                };
                if better {
                    if let Some((other, other_price)) = best.replace((project, price)) {
                        priced.push((other, other_price.rho));
                    }
                } else {
                    priced.push((project, price.rho));
                }
            }
            let skipped = &remaining[skipped_from..];
            kept.extend_from_slice(skipped);
            let Some((project, price)) = best else {
                let run = MesRun {
                    purchases,
                    class_of: self.class_of,
                    class_money: self.budgets.into_iter().map(|money| money.value).collect(),
                    denominator: self.denominator,
                };
                return (run, self.horizon.steps);
            };
            if self.horizon.tracking {
                // The choice stands while no other project gets cheaper than
                // it; for those not priced this round, their lower bound
                // suffices.
                for (_, rho) in &priced {
                    let gap = rho.value.minus(&price.rho.value);
                    let drift = rho.slope.minus(&price.rho.slope);
                    self.horizon.keep_sign_of(&gap, &drift);
                }
                for &other in skipped {
                    let bound = &lower_bound[other];
                    let gap = bound.value.minus(&price.rho.value);
                    let drift = bound.slope.minus(&price.rho.slope);
                    self.horizon.keep_sign_of(&gap, &drift);
                }
            }
            kept.retain(|&other| other != project);
            remaining = kept;
            purchases.push(self.pay(project, price));
        }
    }

    /// The smallest rho at which the supporters of `project` can pay its
    /// cost, each paying min(budget, rho × satisfaction) per unit of weight;
    /// `None` when all their money is not enough.
    fn price(&mut self, project: usize) -> Option<Price<W>> {
        let priced = &self.election.prices[project];
        let mut shares = Vec::new();
        let mut touched = Vec::new();
        for (level_index, level) in priced.levels.iter().enumerate() {
            for &group in &level.groups {
                let class = self.class_of[group];
                if class == EXHAUSTED {
                    continue;
                }
                let summing = &mut self.summing[class];
                if summing.1 == 0 {
                    touched.push(class);
                }
                summing.0.add(&self.weights[group]);
                summing.1 += 1;
            }
            for class in touched.drain(..) {
                let (weight, groups) = std::mem::take(&mut self.summing[class]);
                shares.push(Share {
                    class,
                    level: level_index,
                    weight,
                    groups,
                    exhausted: false,
                });
            }
        }
        let (cost, cost_denominator) = (&priced.cost_numerator, &priced.cost_denominator);
        let mut money = Money::default();
        for share in &shares {
            let budget = &self.budgets[share.class];
            money.value += share.weight.times(&budget.value);
            if self.horizon.tracking {
                money.slope += share.weight.times(&budget.slope);
            }
        }
        // money / denominator against cost, both times cost_denominator.
        let cost_scaled = cost * &self.denominator;
        let surplus = &money.value * cost_denominator - &cost_scaled;
        if self.horizon.tracking {
            self.horizon
                .keep_sign(&surplus, &(&money.slope * cost_denominator));
        }
        if surplus.is_negative() {
            return None;
        }
        // Supporters who cannot pay rho × satisfaction pay all they have;
        // raising rho to cover for them may exhaust more, so repeat until
        // no one else is exhausted (pabutools' poor/rich algorithm). With
        // `payers` the paying satisfaction times cost_denominator, rho per
        // unit is rho_units / (payers × denominator).
        let levels = &priced.levels;
        let mut paying: BigInt = shares
            .iter()
            .map(|share| share.weight.times(&levels[share.level].units))
            .sum();
        let mut exhausted = Money::default();
        let (rho_units, payers) = loop {
            let rho_units = &cost_scaled - &exhausted.value * cost_denominator;
            let payers = &paying * cost_denominator;
            // What one unit of weight owes, per level (times payers × denominator).
            let due: Vec<BigInt> = levels
                .iter()
                .map(|level| &rho_units * &level.units)
                .collect();
            let mut more = false;
            for share in shares.iter_mut().filter(|share| !share.exhausted) {
                let budget = &self.budgets[share.class];
                if &budget.value * &payers < due[share.level] {
                    share.exhausted = true;
                    exhausted.value += share.weight.times(&budget.value);
                    if self.horizon.tracking {
                        exhausted.slope += share.weight.times(&budget.slope);
                    }
                    paying -= share.weight.times(&levels[share.level].units);
                    more = true;
                }
            }
            // Some supporter still pays in full (the money check above
            // guarantees it), so `paying` stays positive.
            if !more {
                break (rho_units, payers);
            }
        };
        let rho_units = Money {
            value: rho_units,
            slope: -(&exhausted.slope * cost_denominator),
        };
        if self.horizon.tracking {
            // Those who spent everything before pay nothing while rho > 0.
            self.horizon.keep_sign(&rho_units.value, &rho_units.slope);
            let due: Vec<Money> = levels
                .iter()
                .map(|level| Money {
                    value: &rho_units.value * &level.units,
                    slope: &rho_units.slope * &level.units,
                })
                .collect();
            for share in &shares {
                let due = &due[share.level];
                let budget = &self.budgets[share.class];
                let mut margin = &budget.value * &payers - &due.value;
                let mut drift = &budget.slope * &payers - &due.slope;
                if share.exhausted {
                    margin = -margin;
                    drift = -drift;
                }
                self.horizon.keep_sign(&margin, &drift);
            }
        }
        // The real rho: rho_units / (payers × denominator × unit).
        let per_unit = |numerator: &BigInt| Fraction {
            numerator: numerator * priced.unit.denom(),
            denominator: &payers * &self.denominator * priced.unit.numer(),
        };
        let rho = Rho {
            value: per_unit(&rho_units.value),
            slope: per_unit(&rho_units.slope),
        };
        Some(Price {
            rho_units,
            payers,
            rho,
            shares,
        })
    }

    fn pay(&mut self, project: usize, price: Price<W>) -> Purchase {
        let levels = &self.election.prices[project].levels;
        let mut exhausted_weight = BigInt::zero();
        // Per level, each paying class's new class.
        let mut moved: Vec<Vec<(usize, usize)>> = vec![Vec::new(); levels.len()];
        let mut created: Vec<Money> = Vec::new();
        let mut rewritten: Vec<(usize, Money)> = Vec::new();
        let first_new = self.budgets.len();
        for share in &price.shares {
            let new_money = if share.exhausted {
                exhausted_weight += share.weight.times(&BigInt::one());
                None
            } else {
                let units = &levels[share.level].units;
                let budget = &self.budgets[share.class];
                Some(Money {
                    value: &budget.value * &price.payers - &price.rho_units.value * units,
                    slope: if self.horizon.tracking {
                        &budget.slope * &price.payers - &price.rho_units.slope * units
                    } else {
                        BigInt::zero()
                    },
                })
            };
            match new_money {
                // The whole class pays alike: it keeps its place.
                Some(money) if share.groups == self.members[share.class] => {
                    rewritten.push((share.class, money));
                }
                Some(money) => {
                    created.push(money);
                    let new_class = first_new + created.len() - 1;
                    moved[share.level].push((share.class, new_class));
                    self.members[share.class] -= share.groups;
                }
                None => {
                    moved[share.level].push((share.class, EXHAUSTED));
                    self.members[share.class] -= share.groups;
                    self.members[EXHAUSTED] += share.groups;
                }
            }
        }
        // Everyone else's money is put over the new common denominator.
        let mut rewritten_class = vec![false; first_new];
        for (class, _) in &rewritten {
            rewritten_class[*class] = true;
        }
        for (class, money) in self.budgets.iter_mut().enumerate().skip(1) {
            if self.members[class] > 0 && !rewritten_class[class] {
                money.value *= &price.payers;
                if self.horizon.tracking {
                    money.slope *= &price.payers;
                }
            }
        }
        for (class, money) in rewritten {
            self.budgets[class] = money;
        }
        for money in created {
            self.budgets.push(money);
            self.summing.push((W::default(), 0));
        }
        let mut redirect: Vec<Option<usize>> = vec![None; first_new];
        for (level, moved) in levels.iter().zip(&moved) {
            for &(class, new_class) in moved {
                redirect[class] = Some(new_class);
            }
            for &group in &level.groups {
                let class = self.class_of[group];
                if let Some(new_class) = redirect.get(class).copied().flatten() {
                    self.class_of[group] = new_class;
                }
            }
            for &(class, _) in moved {
                redirect[class] = None;
            }
        }
        self.members.resize(self.budgets.len(), 0);
        for moved in &moved {
            for &(_, new_class) in moved {
                if new_class != EXHAUSTED {
                    self.members[new_class] = 0;
                }
            }
        }
        for &group in levels.iter().flat_map(|level| &level.groups) {
            let class = self.class_of[group];
            if class >= first_new {
                self.members[class] += 1;
            }
        }
        self.denominator *= &price.payers;
        // Left unreduced: only the outcome kept is ever shown.
        let rho = Rational::new_raw(
            price.rho.value.numerator * self.scale.numer(),
            price.rho.value.denominator * self.scale.denom(),
        );
        Purchase {
            project,
            rho,
            exhausted_weight: Rational::from_integer(exhausted_weight) / self.scale,
        }
    }
}
