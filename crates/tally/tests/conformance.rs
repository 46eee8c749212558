//! Every shared pabulib instance, under every rule, selects exactly what
//! pabutools 1.2.3 selected (`shared/pabulib/expected.json`, made by
//! `shared/tools/pb_oracle.py`). The shared folder must be there: a missing
//! folder fails the test rather than skipping it.

use std::path::PathBuf;
use std::time::Instant;

use commonpot_tally::{pabulib, tally, Lanes, Prepared, Rule};
use serde_json::Value;

/// Instances with more voters than this are checked by `largest_instances`.
const LARGE: u64 = 15_000;

fn shared_pabulib() -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pabulib");
    assert!(
        folder.join("expected.json").is_file(),
        "the shared pabulib folder is missing: expected {}",
        folder.display()
    );
    folder
}

fn expected() -> serde_json::Map<String, Value> {
    let path = shared_pabulib().join("expected.json");
    let text = std::fs::read_to_string(&path).expect("expected.json is readable");
    match serde_json::from_str(&text).expect("expected.json is JSON") {
        Value::Object(instances) => instances,
        _ => panic!("expected.json is not an object"),
    }
}

fn oracle_key(rule: Rule) -> &'static str {
    match rule {
        Rule::Greedy => "greedy",
        Rule::Mes => "mes",
        Rule::MesAdd1 => "mes_add1",
    }
}

/// Tallies every instance whose voter count `wanted` accepts, under every
/// rule pabutools finished, and fails listing every mismatch.
fn check(wanted: impl Fn(u64) -> bool) {
    let folder = shared_pabulib();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (file, entry) in expected() {
        let voters = entry["voters"].as_u64().expect("voters is a number");
        if !wanted(voters) {
            continue;
        }
        let text = std::fs::read_to_string(folder.join(&file)).expect("instance is readable");
        let election = pabulib::parse(&text).unwrap_or_else(|error| panic!("{file}: {error}"));
        for rule in Rule::ALL {
            let Value::Array(ids) = &entry[oracle_key(rule)] else {
                continue; // pabutools did not finish
            };
            let mut want: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
            want.sort_unstable();
            let started = Instant::now();
            let result = tally(&election, rule, &mut |_| {}).expect("instance is valid");
            let mut got: Vec<&str> = result.selected.iter().map(String::as_str).collect();
            got.sort_unstable();
            eprintln!("{file} {rule}: {:?}", started.elapsed());
            if got != want {
                mismatches.push(format!("{file} {rule}: pabutools {want:?}, we {got:?}"));
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no instance was checked");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_instance_selects_what_pabutools_selects() {
    check(|voters| voters <= LARGE);
}

#[test]
fn largest_instances_select_what_pabutools_selects() {
    check(|voters| voters > LARGE);
}

/// Add1 completion making several runs of MES at a time (guessing the raises
/// ahead on other threads) gives exactly the result, explanation included,
/// of one run at a time: on instances where completion takes many runs.
#[test]
fn add1_on_several_threads_gives_what_one_thread_gives() {
    let folder = shared_pabulib();
    let mut instances: Vec<(String, f64)> = expected()
        .into_iter()
        .filter_map(|(file, entry)| Some((file, entry["mes_add1_pabutools_s"].as_f64()?)))
        .filter(|(_, seconds)| (2.0..20.0).contains(seconds))
        .collect();
    instances.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert!(!instances.is_empty(), "no instance with a long completion");
    for (file, _) in instances.iter().take(3) {
        let text = std::fs::read_to_string(folder.join(file)).expect("instance is readable");
        let election = pabulib::parse(&text).unwrap_or_else(|error| panic!("{file}: {error}"));
        let prepared = Prepared::new(&election).expect("instance is valid");
        let alone = prepared.tally_on(Rule::MesAdd1, Lanes::Exactly(1), &mut |_| {});
        let together = prepared.tally_on(Rule::MesAdd1, Lanes::Exactly(3), &mut |_| {});
        let runs = alone
            .completion
            .as_ref()
            .map_or(0, |completion| completion.runs);
        assert!(
            runs > 3,
            "{file}: a completion of {runs} runs does not test lanes"
        );
        assert_eq!(alone.to_json(), together.to_json(), "{file}");
    }
}
