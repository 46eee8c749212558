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
use std::ops::{Add, Mul, Sub};

use crate::election::Project;
use crate::number::Rational;
use crate::profile::Profile;

/// A project bought by MES.
#[derive(Clone, Debug)]
pub struct Purchase {
    pub project: usize,
    /// The price per unit of satisfaction and unit of weight.
    pub rho: Rational,
    /// Weight of the supporters who could not pay their full share and paid
    /// all they had left.
    pub exhausted_weight: Rational,
}

/// What one run of MES bought, and the money each group has left.
#[derive(Clone, Debug)]
pub struct MesRun {
    pub purchases: Vec<Purchase>,
    /// Per group, what each unit of its weight has left.
    pub budgets: Vec<Rational>,
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

/// The money a project's supporters have left, summed over their weight.
pub fn supporters_money(profile: &Profile, budgets: &[Rational], project: usize) -> Rational {
    profile.supporters[project]
        .iter()
        .map(|support| &profile.groups[support.group].weight * &budgets[support.group])
        .sum()
}

/// Runs MES where each unit of weight starts with `share`.
pub fn equal_shares(profile: &Profile, projects: &[Project], share: &Rational) -> MesRun {
    Run::new(profile, projects, share, false).finish().0
}

/// Runs MES where each unit of weight starts with `share`, and returns with
/// it the horizon: how much more the starting share can grow, at least,
/// before the run's outcome could change (`None`: never). Every run from a
/// share in `[share, share + horizon)` buys the same projects in the same
/// order.
pub fn equal_shares_with_horizon(
    profile: &Profile,
    projects: &[Project],
    share: &Rational,
) -> (MesRun, Option<Rational>) {
    Run::new(profile, projects, share, true).finish()
}

/// An amount as a function of the starting share t: its value at the share
/// the run started from, t₀, and how fast it moves with t
/// (`value + slope · (t − t₀)`). Exact as long as the run's decisions are.
#[derive(Clone, Debug, Default)]
struct Affine {
    value: Rational,
    slope: Rational,
}

impl Affine {
    fn constant(value: Rational) -> Self {
        Affine {
            value,
            slope: Rational::default(),
        }
    }
}

impl Add for &Affine {
    type Output = Affine;
    fn add(self, other: &Affine) -> Affine {
        Affine {
            value: &self.value + &other.value,
            slope: &self.slope + &other.slope,
        }
    }
}

impl Sub for &Affine {
    type Output = Affine;
    fn sub(self, other: &Affine) -> Affine {
        Affine {
            value: &self.value - &other.value,
            slope: &self.slope - &other.slope,
        }
    }
}

impl Mul<&Rational> for &Affine {
    type Output = Affine;
    fn mul(self, factor: &Rational) -> Affine {
        Affine {
            value: &self.value * factor,
            slope: &self.slope * factor,
        }
    }
}

/// How far t can grow from t₀ before a decision taken may flip.
struct Horizon {
    tracking: bool,
    distance: Option<Rational>,
}

impl Horizon {
    /// A decision rested on the sign of `difference` (≥ 0 or < 0): note how
    /// far t can grow before that sign may change.
    fn keep_sign(&mut self, difference: &Affine) {
        if !self.tracking {
            return;
        }
        let zero = Rational::default();
        let crossing = if difference.value >= zero && difference.slope < zero {
            &difference.value / -&difference.slope
        } else if difference.value < zero && difference.slope > zero {
            -&difference.value / &difference.slope
        } else {
            return;
        };
        if self
            .distance
            .as_ref()
            .is_none_or(|distance| crossing < *distance)
        {
            self.distance = Some(crossing);
        }
    }
}

/// A run of MES in progress.
struct Run<'a> {
    profile: &'a Profile,
    projects: &'a [Project],
    /// Per group, the money each unit of its weight has left.
    budgets: Vec<Affine>,
    /// Per project, its total weighted satisfaction.
    satisfaction: Vec<Rational>,
    horizon: Horizon,
}

/// What a project's supporters would pay for it now.
struct Price {
    rho: Affine,
    /// Per supporter (in the project's supporter order), whether it cannot
    /// pay its full share and pays all it has.
    exhausted: Vec<bool>,
}

impl<'a> Run<'a> {
    fn new(
        profile: &'a Profile,
        projects: &'a [Project],
        share: &Rational,
        tracking: bool,
    ) -> Self {
        let slope = Rational::from_integer(i64::from(tracking).into());
        Run {
            profile,
            projects,
            budgets: vec![
                Affine {
                    value: share.clone(),
                    slope
                };
                profile.groups.len()
            ],
            satisfaction: (0..projects.len())
                .map(|project| profile.satisfaction(project))
                .collect(),
            horizon: Horizon {
                tracking,
                distance: None,
            },
        }
    }

    fn finish(mut self) -> (MesRun, Option<Rational>) {
        let mut remaining = candidates(self.profile, self.projects);
        // A lower bound on each project's rho: budgets only shrink, so a rho
        // computed earlier never overstates the current one.
        let mut lower_bound: Vec<Affine> = (0..self.projects.len())
            .map(|project| {
                if self.satisfaction[project] > Rational::default() {
                    Affine::constant(&self.projects[project].cost / &self.satisfaction[project])
                } else {
                    Affine::default()
                }
            })
            .collect();
        let mut purchases = Vec::new();
        loop {
            remaining.sort_by(|&a, &b| {
                lower_bound[a]
                    .value
                    .cmp(&lower_bound[b].value)
                    .then_with(|| self.projects[a].id.cmp(&self.projects[b].id))
            });
            let mut best: Option<(usize, Price)> = None;
            let mut kept = Vec::with_capacity(remaining.len());
            let mut priced = Vec::new();
            let mut skipped_from = remaining.len();
            for (position, &project) in remaining.iter().enumerate() {
                if let Some((_, best_price)) = &best {
                    if lower_bound[project].value > best_price.rho.value {
                        skipped_from = position;
                        break;
                    }
                }
                let Some(price) = self.price(project) else {
                    continue; // unaffordable now, and budgets only shrink
                };
                lower_bound[project] = price.rho.clone();
                kept.push(project);
                priced.push(project);
                let better = match &best {
                    None => true,
                    Some((best_project, best_price)) => {
                        match price.rho.value.cmp(&best_price.rho.value) {
                            Ordering::Less => true,
                            Ordering::Equal => {
                                self.projects[project].id < self.projects[*best_project].id
                            }
                            Ordering::Greater => false,
                        }
                    }
                };
                if better {
                    best = Some((project, price));
                }
            }
            kept.extend_from_slice(&remaining[skipped_from..]);
            let Some((project, price)) = best else {
                let budgets = self
                    .budgets
                    .into_iter()
                    .map(|budget| budget.value)
                    .collect();
                return (MesRun { purchases, budgets }, self.horizon.distance);
            };
            // The choice stands while no other project gets cheaper than it;
            // for those not priced this round, their lower bound suffices.
            for &other in priced.iter().chain(&remaining[skipped_from..]) {
                if other != project {
                    self.horizon.keep_sign(&(&lower_bound[other] - &price.rho));
                }
            }
            kept.retain(|&other| other != project);
            remaining = kept;
            purchases.push(self.pay(project, &price));
        }
    }

    /// The smallest rho at which the supporters of `project` can pay its
    /// cost, each paying min(budget, rho × satisfaction) per unit of weight;
    /// `None` when all their money is not enough.
    fn price(&mut self, project: usize) -> Option<Price> {
        let cost = &self.projects[project].cost;
        let supporters = &self.profile.supporters[project];
        let weight = |group: usize| &self.profile.groups[group].weight;
        let mut money = Affine::default();
        for support in supporters {
            money = &money + &(&self.budgets[support.group] * weight(support.group));
        }
        let affordable = money.value >= *cost;
        self.horizon
            .keep_sign(&(&money - &Affine::constant(cost.clone())));
        if !affordable {
            return None;
        }
        // Supporters who cannot pay rho × satisfaction pay all they have;
        // raising rho to cover for them may exhaust more, so repeat until
        // no one else is exhausted (pabutools' poor/rich algorithm).
        let mut exhausted = vec![false; supporters.len()];
        let mut exhausted_money = Affine::default();
        let mut paying_satisfaction = self.satisfaction[project].clone();
        let mut rho = (cost - &exhausted_money.value) / &paying_satisfaction;
        loop {
            let mut more = false;
            for (position, support) in supporters.iter().enumerate() {
                let budget = &self.budgets[support.group];
                if !exhausted[position] && budget.value < &rho * &support.satisfaction {
                    exhausted[position] = true;
                    exhausted_money = &exhausted_money + &(budget * weight(support.group));
                    paying_satisfaction -= weight(support.group) * &support.satisfaction;
                    more = true;
                }
            }
            if !more {
                break;
            }
            // Some supporter still pays in full: the money check above
            // guarantees it, so the satisfaction left is positive.
            rho = (cost - &exhausted_money.value) / &paying_satisfaction;
        }
        let rho = Affine {
            slope: -&exhausted_money.slope / &paying_satisfaction,
            value: rho,
        };
        if self.horizon.tracking {
            for (position, support) in supporters.iter().enumerate() {
                let share = &rho * &support.satisfaction;
                let budget = &self.budgets[support.group];
                let margin = if exhausted[position] {
                    &share - budget
                } else {
                    budget - &share
                };
                self.horizon.keep_sign(&margin);
            }
        }
        Some(Price { rho, exhausted })
    }

    fn pay(&mut self, project: usize, price: &Price) -> Purchase {
        let mut exhausted_weight = Rational::default();
        for (position, support) in self.profile.supporters[project].iter().enumerate() {
            let budget = &mut self.budgets[support.group];
            if price.exhausted[position] {
                exhausted_weight += &self.profile.groups[support.group].weight;
                *budget = Affine::default();
            } else {
                *budget = &*budget - &(&price.rho * &support.satisfaction);
            }
        }
        Purchase {
            project,
            rho: price.rho.value.clone(),
            exhausted_weight,
        }
    }
}
