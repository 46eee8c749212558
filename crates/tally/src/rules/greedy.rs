//! Greedy: projects in order of total weighted satisfaction per unit of cost
//! (for approval ballots, the most weighted votes first), each bought if it
//! still fits in what is left of the budget. As pabutools'
//! `greedy_utilitarian_welfare`.

use std::cmp::Ordering;

use crate::election::Project;
use crate::number::Rational;
use crate::profile::Profile;

/// One project as greedy met it.
#[derive(Clone, Debug)]
pub struct Consideration {
    pub project: usize,
    /// What was left of the budget when greedy came to the project.
    pub budget_left: Rational,
    pub bought: bool,
}

/// Every project, in the order greedy considered them.
pub fn greedy(profile: &Profile, projects: &[Project], budget: &Rational) -> Vec<Consideration> {
    let satisfaction: Vec<Rational> = (0..projects.len())
        .map(|project| profile.satisfaction(project))
        .collect();
    let mut order: Vec<usize> = (0..projects.len()).collect();
    order.sort_by(|&a, &b| {
        density_order(
            &satisfaction[b],
            &projects[b].cost,
            &satisfaction[a],
            &projects[a].cost,
        )
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

/// Compares satisfaction per unit of cost, as pabutools does: a project
/// nobody wants scores 0 whatever it costs, a free project someone wants
/// scores above every priced one.
fn density_order(
    satisfaction_a: &Rational,
    cost_a: &Rational,
    satisfaction_b: &Rational,
    cost_b: &Rational,
) -> Ordering {
    let zero = Rational::default();
    let infinite = |satisfaction: &Rational, cost: &Rational| *satisfaction > zero && *cost == zero;
    let density = |satisfaction: &Rational, cost: &Rational| {
        if *satisfaction > zero {
            satisfaction / cost
        } else {
            zero.clone()
        }
    };
    match (
        infinite(satisfaction_a, cost_a),
        infinite(satisfaction_b, cost_b),
    ) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => density(satisfaction_a, cost_a).cmp(&density(satisfaction_b, cost_b)),
    }
}
