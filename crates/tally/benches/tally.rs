//! How fast each rule tallies the largest shared pabulib instances, next to
//! pabutools' time for the same work (from `shared/pabulib/expected.json`),
//! and whether the selections match. Prints a Markdown table.
//!
//! Two times of ours: the whole tally from the ballots (checking them,
//! merging identical ones, the rule, the explanation), and the rule alone
//! once identical ballots are merged, which is what pabutools' figures
//! measure (its `as_multiprofile()` ran before the clock started).
//!
//! And the memory a whole tally takes beyond the parsed election (its peak,
//! counted by this binary's allocator in one more tally, not a timed one),
//! next to the size of the file: memory grows with the input.
//!
//! `cargo bench -p commonpot-tally --bench tally [-- [--rule RULE] FILE.pb …]`:
//! without file names, the instances with the most voters and those
//! pabutools took longest on; without `--rule`, every rule.

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
    let lanes = match Lanes::available() {
        Lanes::UpTo(lanes) | Lanes::Exactly(lanes) => lanes,
    };
    let files = if named.is_empty() {
        largest(&expected)
    } else {
        named
    };
    println!(
        "| instance | voters × projects | rule | ours, from ballots | ours, rule alone, 1 thread | ours, rule alone, {lanes} threads | pabutools | speed-up, 1 thread | speed-up, {lanes} threads | same selection | Add1 raises / MES runs | file | memory of a whole tally |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");
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
            let (whole, rule_alone, result) = measure(&election, rule);
            let mut selected = result.selected.clone();
            selected.sort_unstable();
            let completion = result
                .completion
                .as_ref()
                .map_or("—".to_string(), |c| format!("{} / {}", c.step, c.runs));
            let theirs = entry[format!("{key}_pabutools_s")].as_f64();
            let same = match &entry[key] {
                Value::Array(ids) => {
                    let mut want: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
                    want.sort_unstable();
                    if want == selected.iter().map(String::as_str).collect::<Vec<_>>() {
                        "yes"
                    } else {
                        "NO"
                    }
                }
                _ => "(pabutools timed out)",
            };
            let memory = mib(peak_memory(|| {
                tally(&election, rule, &mut |_| {}).expect("instance is valid");
            }));
            let ratio = |ours: Duration| {
                theirs.map_or("—".to_string(), |s| {
                    format!("{:.0}×", s / ours.as_secs_f64())
                })
            };
            println!(
                "| {file} | {} × {} | {rule} | {:.4} s | {:.4} s | {:.4} s | {} | {} | {} | {same} | {completion} | {file_size} | {memory} |",
                entry["voters"],
                entry["projects"],
                whole.as_secs_f64(),
                rule_alone[0].as_secs_f64(),
                rule_alone[1].as_secs_f64(),
                theirs.map_or("—".to_string(), |s| format!("{s:.3} s")),
                ratio(rule_alone[0]),
                ratio(rule_alone[1]),
            );
        }
    }
}

/// The best time of a few whole tallies and of a few runs of the rule
/// alone (parsing excluded, as in pabutools' figures) on one thread and on
/// the lanes the machine offers, and the result.
fn measure(election: &Election, rule: Rule) -> (Duration, [Duration; 2], Tally) {
    let mut whole = Duration::MAX;
    let mut rule_alone = [Duration::MAX; 2];
    let mut result = None;
    let measuring = Instant::now();
    for repeat in 0..MAX_REPEATS {
        if repeat >= REPEATS && measuring.elapsed() > MEASURE_FOR {
            break;
        }
        let started = Instant::now();
        let tallied = tally(election, rule, &mut |_| {}).expect("instance is valid");
        whole = whole.min(started.elapsed());
        result = Some(tallied);
    }
    let prepared = Prepared::new(election).expect("instance is valid");
    for (best, lanes) in rule_alone
        .iter_mut()
        .zip([Lanes::Exactly(1), Lanes::available()])
    {
        let measuring = Instant::now();
        for repeat in 0..MAX_REPEATS {
            if repeat >= REPEATS && measuring.elapsed() > MEASURE_FOR {
                break;
            }
            let started = Instant::now();
            let tallied = prepared.tally_on(rule, lanes, &mut |_| {});
            *best = (*best).min(started.elapsed());
            assert_eq!(
                tallied.to_json(),
                result.as_ref().expect("tallied").to_json(),
                "the same result on {lanes:?}"
            );
        }
    }
    (whole, rule_alone, result.expect("measured at least once"))
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
