//! How fast each rule tallies the largest shared pabulib instances, next to
//! pabutools tallying the same instances in the same bench run, and whether
//! the selections match. Prints a Markdown table.
//!
//! The like-for-like time is ours from the parsed election: checking it,
//! building the satisfaction profile (identical ballots merged), the rule
//! and the explanation — `Prepared::new` then `tally_on`. pabutools' timed
//! call (as `shared/tools/pb_oracle.py` makes it, see `pabutools_time.py`)
//! is the rule on a multiprofile with `sat_class`, so it builds the
//! satisfaction profile too; only merging identical ballots
//! (`as_multiprofile()`) is outside its clock. Speed-ups are computed on
//! this column: ours does a little more (the merge, the explanation).
//!
//! Also shown, not comparable: the rule alone, the profile built
//! beforehand (`Prepared::tally_on`), and pabutools' stored time from
//! `shared/pabulib/expected.json` (another run, another load).
//!
//! And the memory a whole tally takes beyond the parsed election (its peak,
//! counted by this binary's allocator in one more tally, not a timed one),
//! next to the size of the file: memory grows with the input.
//!
//! `cargo bench -p commonpot-tally --bench tally [-- [--rule RULE]
//! [--pabutools PYTHON] [--pabutools-timeout SECONDS] FILE.pb …]`: without
//! file names, the instances with the most voters and those pabutools took
//! longest on; without `--rule`, every rule. `--pabutools` (or
//! `PABUTOOLS_PYTHON`) names a Python with pabutools 1.2.3 installed
//! (`.ci/pabutools.sh` makes one in `.tools/pabutools`); without it, the
//! pabutools column says "not run".

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use commonpot_tally::{pabulib, tally, Election, Lanes, Prepared, Rule, Tally};
use serde_json::Value;

/// How many instances of each kind (most voters, slowest for pabutools).
const LARGEST: usize = 3;
/// Each measurement is the best of at least this many runs…
const REPEATS: usize = 3;
/// …and of as many more as fit in this time (at most `MAX_REPEATS`): short
/// tallies are measured often, so a busy moment of the machine does not
/// decide their figure.
const MEASURE_FOR: Duration = Duration::from_secs(2);
const MAX_REPEATS: usize = 100;
/// pabutools: the best of at most this many runs (fewer for long ones).
const PABUTOOLS_REPEATS: usize = 3;

/// The system allocator, counting the bytes in use and their peak while
/// `COUNTING` is on (off during timed runs: one relaxed load per call).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            let in_use = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(in_use, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `alloc` is the system's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: the caller's contract for `dealloc` is the system's.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            if new_size >= layout.size() {
                let grown = new_size - layout.size();
                let in_use = IN_USE.fetch_add(grown, Ordering::Relaxed) + grown;
                PEAK.fetch_max(in_use, Ordering::Relaxed);
            } else {
                IN_USE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        // SAFETY: the caller's contract for `realloc` is the system's.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak of memory allocated while `work` runs, beyond what was in use
/// when it started. (Memory freed during the run that was allocated before
/// it can make the count wrap below zero; it is counted from zero then.)
fn peak_memory(work: impl FnOnce()) -> usize {
    IN_USE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    work();
    COUNTING.store(false, Ordering::Relaxed);
    PEAK.load(Ordering::Relaxed)
}

fn main() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pabulib");
    let text = std::fs::read_to_string(folder.join("expected.json"))
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()));
    let expected: serde_json::Map<String, Value> = match serde_json::from_str(&text) {
        Ok(Value::Object(instances)) => instances,
        _ => panic!("expected.json is not a JSON object"),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let named: Vec<String> = args
        .iter()
        .filter(|arg| arg.ends_with(".pb"))
        .cloned()
        .collect();
    let rules: Vec<Rule> = match args.iter().position(|arg| arg == "--rule") {
        Some(at) => vec![args
            .get(at + 1)
            .and_then(|name| name.parse().ok())
            .expect("--rule takes greedy, mes or mes-add1")],
        None => Rule::ALL.to_vec(),
    };
    let option = |name: &str| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|at| args.get(at + 1).cloned())
    };
    let pabutools = option("--pabutools").or_else(|| std::env::var("PABUTOOLS_PYTHON").ok());
    let pabutools_timeout: f64 = option("--pabutools-timeout")
        .map(|s| s.parse().expect("--pabutools-timeout takes seconds"))
        .unwrap_or(120.0);
    let lanes = match Lanes::available() {
        Lanes::UpTo(lanes) | Lanes::Exactly(lanes) => lanes,
    };
    let files = if named.is_empty() {
        largest(&expected)
    } else {
        named
    };
    println!(
        "| instance | voters × projects | rule | ours, profile + rule, 1 thread | ours, profile + rule, {lanes} threads | pabutools, this run | speed-up, 1 thread | speed-up, {lanes} threads | ours, rule alone (profile excluded), 1 thread | pabutools, stored | same selection | Add1 raises / MES runs | runs: ours / pabutools | load | file | memory of a whole tally |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|");
    for file in files {
        let entry = &expected[&file];
        let text = std::fs::read_to_string(folder.join(&file)).expect("instance is readable");
        let file_size = mib(text.len());
        let election = pabulib::parse(&text).expect("instance parses");
        for &rule in &rules {
            let key = match rule {
                Rule::Greedy => "greedy",
                Rule::Mes => "mes",
                Rule::MesAdd1 => "mes_add1",
            };
            let load = load_average();
            let m = measure(&election, rule);
            let mut selected = m.result.selected.clone();
            selected.sort_unstable();
            let completion = m
                .result
                .completion
                .as_ref()
                .map_or("—".to_string(), |c| format!("{} / {}", c.step, c.runs));
            let stored = entry[format!("{key}_pabutools_s")].as_f64();
            let theirs = pabutools
                .as_deref()
                .map(|python| run_pabutools(python, &folder.join(&file), rule, pabutools_timeout));
            let want: Option<Vec<String>> = match &theirs {
                Some(Pabutools::Ran { selected, .. }) => Some(selected.clone()),
                Some(Pabutools::TimedOut { .. }) => None,
                None => match &entry[key] {
                    Value::Array(ids) => Some(
                        ids.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                    ),
                    _ => None,
                },
            };
            let same = match want {
                Some(mut want) => {
                    want.sort_unstable();
                    let verdict = if want == selected { "yes" } else { "NO" };
                    if theirs.is_some() {
                        verdict.to_string()
                    } else {
                        format!("{verdict} (stored)")
                    }
                }
                None => "(pabutools stopped)".to_string(),
            };
            let memory = mib(peak_memory(|| {
                tally(&election, rule, &mut |_| {}).expect("instance is valid");
            }));
            let (their_time, their_runs, ratio): (String, String, Box<dyn Fn(Duration) -> String>) =
                match theirs {
                    Some(Pabutools::Ran { best_s, runs, .. }) => (
                        format!("{best_s:.3} s"),
                        runs.to_string(),
                        Box::new(move |ours: Duration| {
                            format!("{:.0}×", best_s / ours.as_secs_f64())
                        }),
                    ),
                    Some(Pabutools::TimedOut { after_s }) => (
                        format!("> {after_s:.0} s (stopped)"),
                        "0".to_string(),
                        Box::new(move |ours: Duration| {
                            format!("> {:.0}×", after_s / ours.as_secs_f64())
                        }),
                    ),
                    None => (
                        "not run".to_string(),
                        "—".to_string(),
                        Box::new(|_| "—".to_string()),
                    ),
                };
            println!(
                "| {file} | {} × {} | {rule} | {:.4} s | {:.4} s | {their_time} | {} | {} | {:.4} s | {} | {same} | {completion} | {} / {their_runs} | {load} | {file_size} | {memory} |",
                entry["voters"],
                entry["projects"],
                m.like_for_like[0].as_secs_f64(),
                m.like_for_like[1].as_secs_f64(),
                ratio(m.like_for_like[0]),
                ratio(m.like_for_like[1]),
                m.rule_alone.as_secs_f64(),
                stored.map_or("—".to_string(), |s| format!("{s:.3} s")),
                m.runs,
            );
        }
    }
}

/// The 1-minute load average, as `/proc/loadavg` says (the machine is
/// shared: figures taken under load are slower, on both sides).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_string())
}

enum Pabutools {
    Ran {
        selected: Vec<String>,
        best_s: f64,
        runs: u64,
    },
    TimedOut {
        after_s: f64,
    },
}

/// pabutools on one instance and rule, timed as the oracle times it (see
/// `pabutools_time.py`). Panics when it cannot run: a figure it did not
/// measure is never printed.
fn run_pabutools(python: &str, file: &std::path::Path, rule: Rule, timeout_s: f64) -> Pabutools {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/pabutools_time.py");
    let output = std::process::Command::new(python)
        .arg(&script)
        .arg(file)
        .arg(rule.to_string())
        .arg(PABUTOOLS_REPEATS.to_string())
        .arg(timeout_s.to_string())
        .output()
        .unwrap_or_else(|error| panic!("{python}: {error}"));
    assert!(
        output.status.success(),
        "pabutools on {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value =
        serde_json::from_slice(&output.stdout).expect("pabutools_time.py prints JSON");
    if answer["timed_out"] == Value::Bool(true) && answer["runs"] == 0 {
        return Pabutools::TimedOut { after_s: timeout_s };
    }
    Pabutools::Ran {
        selected: answer["selected"]
            .as_array()
            .expect("a selection")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        best_s: answer["best_s"].as_f64().expect("a time"),
        runs: answer["runs"].as_u64().expect("runs"),
    }
}

struct Measured {
    /// From the parsed election: profile + rule (+ explanation), on one
    /// thread and on the lanes the machine offers.
    like_for_like: [Duration; 2],
    /// The rule alone on one thread, the profile built beforehand.
    rule_alone: Duration,
    /// Timed runs of each of ours (the fewest of the three measurements).
    runs: usize,
    result: Tally,
}

/// The best of a few runs (at least `REPEATS`, more while they fit in
/// `MEASURE_FOR`) of `work`, and how many runs; `check` sees each result,
/// outside the clock.
fn best_of<T>(mut work: impl FnMut() -> T, mut check: impl FnMut(T)) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let measuring = Instant::now();
    let mut runs = 0;
    while runs < MAX_REPEATS && (runs < REPEATS || measuring.elapsed() <= MEASURE_FOR) {
        let started = Instant::now();
        let done = work();
        best = best.min(started.elapsed());
        check(done);
        runs += 1;
    }
    (best, runs)
}

/// Ours, from the parsed election (parsing excluded, as in pabutools'
/// figures): the profile and the rule on one thread and on the lanes the
/// machine offers, and the rule alone; every result the same.
fn measure(election: &Election, rule: Rule) -> Measured {
    let result = tally(election, rule, &mut |_| {}).expect("instance is valid");
    let expected = result.to_json();
    let mut like_for_like = [Duration::MAX; 2];
    let mut runs = usize::MAX;
    for (best, lanes) in like_for_like
        .iter_mut()
        .zip([Lanes::Exactly(1), Lanes::available()])
    {
        let (time, count) = best_of(
            || {
                Prepared::new(election)
                    .expect("instance is valid")
                    .tally_on(rule, lanes, &mut |_| {})
            },
            |tallied| assert_eq!(tallied.to_json(), expected, "the same result on {lanes:?}"),
        );
        *best = time;
        runs = runs.min(count);
    }
    let prepared = Prepared::new(election).expect("instance is valid");
    let (rule_alone, count) = best_of(
        || prepared.tally_on(rule, Lanes::Exactly(1), &mut |_| {}),
        |tallied| assert_eq!(tallied.to_json(), expected, "the same result"),
    );
    Measured {
        like_for_like,
        rule_alone,
        runs: runs.min(count),
        result,
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The instances with the most voters, then those pabutools was slowest on.
fn largest(expected: &serde_json::Map<String, Value>) -> Vec<String> {
    let by = |key: &dyn Fn(&Value) -> f64| {
        let mut files: Vec<(&String, f64)> = expected
            .iter()
            .map(|(file, entry)| (file, key(entry)))
            .collect();
        files.sort_by(|a, b| b.1.total_cmp(&a.1));
        files
            .into_iter()
            .take(LARGEST)
            .map(|(file, _)| file.clone())
            .collect::<Vec<_>>()
    };
    let mut files = by(&|entry| entry["voters"].as_f64().unwrap_or(0.0));
    for file in by(&|entry| entry["mes_add1_pabutools_s"].as_f64().unwrap_or(0.0)) {
        if !files.contains(&file) {
            files.push(file);
        }
    }
    files
}
