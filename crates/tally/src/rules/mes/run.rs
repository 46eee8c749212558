//! One run of MES over classes of voters with the same money left, all money
//! as integers over one common denominator.

use std::cmp::Ordering;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::exact::{DyadicOrder, Fraction, Horizon, LowerBound, Money, ProductSum, Rho};
use super::{EqualShares, MesRun, Purchase, Weight};
use crate::number::Rational;

/// The class of voters who have spent everything.
const EXHAUSTED: usize = 0;

/// A run of MES in progress. Weights are the group weights times `scale`,
/// so money per unit of weight is the real one divided by `scale`.
pub(super) struct Run<'a, W> {
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
    pub(super) fn new(
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

    pub(super) fn finish(mut self) -> (MesRun, Option<BigInt>) {
        let projects = self.election.projects;
        let mut remaining = self.election.candidates.clone();
        // A lower bound on each project's rho: budgets only shrink, so a rho
        // computed earlier never overstates the current one.
        let mut lower_bound: Vec<LowerBound> = self
            .election
            .prices
            .iter()
            .map(|priced| priced.first_lower_bound.clone())
            .collect();
        let mut purchases = Vec::new();
        loop {
            remaining.sort_by(|&a, &b| {
                lower_bound[a]
                    .cmp_value(&lower_bound[b])
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
                lower_bound[project] = LowerBound::below(&price.rho.value, &price.rho.slope);
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
                // Every gap is ≥ 0 now, so only one that shrinks as t
                // grows (its slope below the winner's) can close. A slope
                // whose dyadic floor is at least the dyadic ceiling of the
                // winner's is not below it: compared without multiplying.
                let ceiling = DyadicOrder::of(&price.rho.slope.ceil_dyadic());
                for (project, rho) in &priced {
                    if !lower_bound[*project].slope_at_least(ceiling)
                        && rho.slope.cmp(&price.rho.slope) == Ordering::Less
                    {
                        let gap = rho.value.minus(&price.rho.value);
                        let drift = rho.slope.minus(&price.rho.slope);
                        self.horizon.keep_sign_of(&gap, &drift);
                    }
                }
                for &other in skipped {
                    let bound = &lower_bound[other];
                    if !bound.slope_at_least(ceiling)
                        && bound.slope.cmp(&price.rho.slope) == Ordering::Less
                    {
                        let gap = bound.value.minus(&price.rho.value);
                        let drift = bound.slope.minus(&price.rho.slope);
                        self.horizon.keep_sign_of(&gap, &drift);
                    }
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
            for &group in level.groups {
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
        let mut money = ProductSum::default();
        let mut money_slope = ProductSum::default();
        for share in &shares {
            let budget = &self.budgets[share.class];
            share.weight.add_times_to(&mut money, &budget.value);
            if self.horizon.tracking {
                share.weight.add_times_to(&mut money_slope, &budget.slope);
            }
        }
        let money = Money {
            value: money.total(),
            slope: money_slope.total(),
        };
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
        // Shares come level by level: sum each level's weight before
        // multiplying it by the level's units.
        let mut paying = BigInt::zero();
        for same_level in shares.chunk_by(|a, b| a.level == b.level) {
            let mut weight = W::default();
            for share in same_level {
                weight.add(&share.weight);
            }
            paying += weight.times(&levels[same_level[0].level].units);
        }
        let mut exhausted = Money::default();
        let mut owed: Vec<BigInt> = Vec::with_capacity(levels.len());
        let (rho_units, payers) = loop {
            let rho_units = &cost_scaled - &exhausted.value * cost_denominator;
            let payers = &paying * cost_denominator;
            // A class cannot pay its due at a level when budget × payers <
            // rho_units × units, that is, as budgets are whole, when its
            // budget is below ⌈rho_units × units / payers⌉: one division per
            // level instead of a multiplication per class.
            owed.clear();
            owed.extend(
                levels
                    .iter()
                    .map(|level| (&rho_units * &level.units).div_ceil(&payers)),
            );
            let mut more = false;
            for share in shares.iter_mut().filter(|share| !share.exhausted) {
                let budget = &self.budgets[share.class];
                if budget.value < owed[share.level] {
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
        let first_new = self.budgets.len();
        // First everyone's money is put over the new common denominator,
        // multiplied by `payers` in place: by a machine word when it fits, as
        // it nearly always does. What a class pays is then subtracted.
        let payers_word = price.payers.to_u64();
        let tracking = self.horizon.tracking;
        for (class, money) in self.budgets.iter_mut().enumerate().skip(1) {
            if self.members[class] > 0 {
                match payers_word {
                    Some(word) => {
                        money.value *= word;
                        if tracking {
                            money.slope *= word;
                        }
                    }
                    None => {
                        money.value *= &price.payers;
                        if tracking {
                            money.slope *= &price.payers;
                        }
                    }
                }
            }
        }
        // What one unit of weight pays at each level.
        let due: Vec<Money> = levels
            .iter()
            .map(|level| Money {
                value: &price.rho_units.value * &level.units,
                slope: if tracking {
                    &price.rho_units.slope * &level.units
                } else {
                    BigInt::zero()
                },
            })
            .collect();
        for share in &price.shares {
            if share.exhausted {
                exhausted_weight += share.weight.times(&BigInt::one());
                moved[share.level].push((share.class, EXHAUSTED));
                self.members[share.class] -= share.groups;
                self.members[EXHAUSTED] += share.groups;
                continue;
            }
            let due = &due[share.level];
            if share.groups == self.members[share.class] {
                // The whole class pays alike: it keeps its place.
                let money = &mut self.budgets[share.class];
                money.value -= &due.value;
                if tracking {
                    money.slope -= &due.slope;
                }
            } else {
                let money = &self.budgets[share.class];
                let new_money = Money {
                    value: &money.value - &due.value,
                    slope: if tracking {
                        &money.slope - &due.slope
                    } else {
                        BigInt::zero()
                    },
                };
                self.budgets.push(new_money);
                self.summing.push((W::default(), 0));
                moved[share.level].push((share.class, self.budgets.len() - 1));
                self.members[share.class] -= share.groups;
            }
        }
        let mut redirect: Vec<Option<usize>> = vec![None; first_new];
        for (level, moved) in levels.iter().zip(&moved) {
            for &(class, new_class) in moved {
                redirect[class] = Some(new_class);
            }
            for &group in level.groups {
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
        for &group in levels.iter().flat_map(|level| level.groups) {
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
