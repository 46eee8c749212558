//! Greedy: projects in order of total weighted satisfaction per unit of cost
//! (for approval ballots, the most weighted votes first), each bought if it
//! still fits in what is left of the budget. As pabutools'
//! `greedy_utilitarian_welfare`.

use std::cmp::Ordering;

use num_bigint::BigInt;
use num_traits::{One, Zero};

use crate::election::Project;
use crate::number::Rational;

/// One project as greedy met it.
#[derive(Clone, Debug)]
pub struct Consideration {
    pub project: usize,
    /// What was left of the budget when greedy came to the project.
    pub budget_left: Rational,
    pub bought: bool,
}

/// Every project, in the order greedy considered them, given the total
/// weighted satisfaction of each.
pub fn greedy(
    satisfaction: &[Rational],
    projects: &[Project],
    budget: &Rational,
) -> Vec<Consideration> {
    let density: Vec<Density> = projects
        .iter()
        .zip(satisfaction)
        .map(|(project, satisfaction)| Density::new(satisfaction, &project.cost))
        .collect();
    let mut order: Vec<usize> = (0..projects.len()).collect();
    order.sort_by(|&a, &b| {
        density[b]
            .cmp(&density[a])
            .then_with(|| projects[a].id.cmp(&projects[b].id))
    });
    let mut left = budget.clone();
    order
        .into_iter()
        .map(|project| {
            let budget_left = left.clone();
            let bought = projects[project].cost <= left;
            if bought {
                left -= &projects[project].cost;
            }
            Consideration {
                project,
                budget_left,
                bought,
            }
        })
        .collect()
}

/// Satisfaction per unit of cost, as pabutools ranks it: a project nobody
/// wants scores 0 whatever it costs, a free project someone wants scores
/// above every priced one.
enum Density {
    /// satisfaction / cost, compared by cross-multiplying (no reduction).
    Finite {
        satisfaction: BigInt,
        cost: BigInt,
    },
    Infinite,
}

impl Density {
    fn new(satisfaction: &Rational, cost: &Rational) -> Self {
        let zero = Rational::default();
        if *satisfaction == zero {
            Density::Finite {
                satisfaction: BigInt::zero(),
                cost: BigInt::one(),
            }
        } else if *cost == zero {
            Density::Infinite
        } else {
            // (a/b) / (c/d) = (a·d) / (b·c), both positive.
            Density::Finite {
                satisfaction: satisfaction.numer() * cost.denom(),
                cost: satisfaction.denom() * cost.numer(),
            }
        }
    }
}

impl Ord for Density {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Density::Infinite, Density::Infinite) => Ordering::Equal,
            (Density::Infinite, Density::Finite { .. }) => Ordering::Greater,
            (Density::Finite { .. }, Density::Infinite) => Ordering::Less,
            (
                Density::Finite {
                    satisfaction: mine,
                    cost: my_cost,
                },
                Density::Finite {
                    satisfaction: theirs,
                    cost: their_cost,
                },
            ) => (mine * their_cost).cmp(&(theirs * my_cost)),
        }
    }
}

impl PartialOrd for Density {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Density {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Density {}
