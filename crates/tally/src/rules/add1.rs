//! MES with Add1 completion: MES is run again and again with every unit of
//! weight's starting share raised by one unit of money each time, until the
//! outcome is exhaustive (no candidate still fits in the budget) or a raise
//! makes it overspend, in which case the outcome before that raise is kept.
//! As pabutools' `method_of_equal_shares(..., voter_budget_increment=1)`.

use std::time::{Duration, Instant};

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

/// How many runs of MES Add1 completion makes at a time, each on its own
/// thread. The result does not depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lanes {
    /// This many, from the first run on.
    Exactly(usize),
    /// Up to this many, once runs take long enough to be worth a thread
    /// (starting one, and a wrong guess competing for memory, cost more than
    /// they save on short runs).
    UpTo(usize),
}

impl Lanes {
    /// One lane per processor the machine offers, at most two (guesses
    /// further ahead are seldom right), once runs are long enough.
    pub fn available() -> Lanes {
        Lanes::UpTo(std::thread::available_parallelism().map_or(1, |n| n.get().min(2)))
    }
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
///
/// With more than one lane, the runs the next ones will probably be (each
/// as far from the one before as the last jump went) are made at the same
/// time on other threads; a guess that turns out not to be the next run is
/// thrown away. The outcome, and the runs counted, are those of one lane.
pub fn equal_shares_add1(
    election: &EqualShares,
    projects: &[Project],
    budget: &Rational,
    first_share: &Rational,
    free: &[usize],
    lanes: Lanes,
    progress: &mut dyn FnMut(&Progress),
) -> Add1Run {
    let candidates = election.candidates();
    let share_at = |step: u64| first_share + Rational::from_integer(step.into());
    let mut step: u64 = 0;
    let mut runs = 0;
    // The last step run before this one, and its run.
    let mut previous: Option<(u64, MesRun)> = None;
    // How far the last run jumped: the guess for the next ones.
    let mut stride = 1;
    // With `Lanes::UpTo`, runs shorter than this make one lane.
    const WORTH_A_THREAD: Duration = Duration::from_millis(2);
    let mut worth_threads = false;
    loop {
        let lanes = match lanes {
            Lanes::Exactly(lanes) => lanes.max(1),
            Lanes::UpTo(lanes) if worth_threads => lanes.max(1),
            Lanes::UpTo(_) => 1,
        };
        let guesses: Vec<u64> = (0..lanes as u64)
            .map(|lane| step.saturating_add(lane.saturating_mul(stride)))
            .collect();
        let started = Instant::now();
        let results = run_all(election, &guesses, share_at);
        worth_threads = started.elapsed() >= WORTH_A_THREAD;
        for (guess, (run, horizon)) in guesses.iter().zip(results) {
            if *guess < step {
                continue; // a raise the last run showed gives nothing new
            }
            if *guess > step {
                break; // beyond the next run: guessed wrong
            }
            let share = share_at(step);
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
            stride = next_step_distance(&horizon);
            let Some(next) = step.checked_add(stride) else {
                // No raise a u64 can count changes the outcome: as beyond
                // the horizon.
                return Add1Run {
                    run,
                    share,
                    step,
                    runs,
                };
            };
            previous = Some((step, run));
            step = next;
        }
    }
}

/// Runs MES (with horizons) at each of the raises given, each on its own
/// thread but the first.
fn run_all(
    election: &EqualShares,
    steps: &[u64],
    share_at: impl Fn(u64) -> Rational + Sync,
) -> Vec<(MesRun, Option<BigInt>)> {
    let run = |step: u64| election.run_with_horizon(&share_at(step));
    match steps {
        [] => Vec::new(),
        [step] => vec![run(*step)],
        [first, others @ ..] => std::thread::scope(|scope| {
            let others: Vec<_> = others
                .iter()
                .map(|&step| scope.spawn(move || run(step)))
                .collect();
            let mut results = vec![run(*first)];
            results.extend(others.into_iter().map(|other| {
                other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }));
            results
        }),
    }
}

/// The number of whole raises from a run to the first one at or past its
/// horizon; at least one.
fn next_step_distance(horizon: &BigInt) -> u64 {
    u64::try_from(horizon).unwrap_or(u64::MAX).max(1)
}
