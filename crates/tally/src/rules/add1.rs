//! MES with Add1 completion: MES is run again and again with every unit of
//! weight's starting share raised by one unit of money each time, until the
//! outcome is exhaustive (no candidate still fits in the budget) or a raise
//! makes it overspend, in which case the outcome before that raise is kept.
//! As pabutools' `method_of_equal_shares(..., voter_budget_increment=1)`.

use num_bigint::BigInt;

use crate::election::Project;
use crate::number::Rational;
use crate::rules::mes::{EqualShares, MesRun};

/// Where a long completion is; reported after every run of MES.
#[derive(Clone, Debug)]
pub struct Progress {
    /// The raise the run just made was for (0: the plain MES share).
    pub step: u64,
    /// The starting share per unit of weight of that run.
    pub share: Rational,
}

/// The outcome kept by Add1 and the share that gave it.
#[derive(Clone, Debug)]
pub struct Add1Run {
    pub run: MesRun,
    /// The starting share per unit of weight of the kept run.
    pub share: Rational,
    /// The raise that gave the kept run (0: the plain MES share).
    pub step: u64,
    /// How many runs of MES were made; raises that provably change nothing
    /// are skipped.
    pub runs: u64,
}

/// Runs MES with Add1 completion from `first_share` (budget / total weight),
/// with `free` (the free projects taken up front) already bought.
///
/// Stepping the share by one unit at a time is what pabutools does; we get
/// the same answer with far fewer runs: a run says how far the share can
/// grow before its outcome could change (its horizon), and every raise
/// before that gives the same, not yet final, outcome. So the next run is at
/// the first raise at or past the horizon, and when that one overspends, the
/// outcome kept is the one of the raise just before it, run again at its own
/// share so that its prices are its own.
pub fn equal_shares_add1(
    election: &EqualShares,
    projects: &[Project],
    budget: &Rational,
    first_share: &Rational,
    free: &[usize],
    progress: &mut dyn FnMut(&Progress),
) -> Add1Run {
    let candidates = election.candidates();
    let share_at = |step: u64| first_share + Rational::from_integer(step.into());
    let mut step = 0;
    let mut runs = 0;
    // The last step run before this one, and its run.
    let mut previous: Option<(u64, MesRun)> = None;
    loop {
        let share = share_at(step);
        let (run, horizon) = election.run_with_horizon(&share);
        runs += 1;
        progress(&Progress {
            step,
            share: share.clone(),
        });
        let bought = || {
            free.iter()
                .chain(run.purchases.iter().map(|purchase| &purchase.project))
        };
        let spent: Rational = bought().map(|&project| &projects[project].cost).sum();
        // The first run spends at most the budget (its shares add up to it),
        // so an overspending run always has a previous one to fall back to.
        if spent > *budget {
            if let Some((previous_step, previous_run)) = previous {
                let kept_step = step - 1;
                let run = if kept_step == previous_step {
                    previous_run
                } else {
                    runs += 1;
                    election.run(&share_at(kept_step))
                };
                return Add1Run {
                    run,
                    share: share_at(kept_step),
                    step: kept_step,
                    runs,
                };
            }
        }
        let exhaustive = candidates.iter().all(|&project| {
            run.purchases
                .iter()
                .any(|purchase| purchase.project == project)
                || &spent + &projects[project].cost > *budget
        });
        // Beyond the horizon nothing changes: stepping on would never end,
        // and pabutools would not either. We keep the outcome instead.
        let Some(horizon) = horizon.filter(|_| !exhaustive) else {
            return Add1Run {
                run,
                share,
                step,
                runs,
            };
        };
        previous = Some((step, run));
        step += next_step_distance(&horizon);
    }
}

/// The number of whole raises from a run to the first one at or past its
/// horizon; at least one.
fn next_step_distance(horizon: &BigInt) -> u64 {
    u64::try_from(horizon).unwrap_or(u64::MAX).max(1)
}
