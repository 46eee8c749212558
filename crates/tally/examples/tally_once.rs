//! Tallies one instance once under one rule and prints the selection: a
//! fixed workload for instruction counting (`valgrind --tool=callgrind`).
//! `cargo run --release -p commonpot-tally --example tally_once -- FILE.pb [RULE [TIMES]]`
//! (TIMES: how often to tally the prepared election, for profiling short
//! rules). On one lane, so that counts are of one thread's work.
use commonpot_tally::{pabulib, Lanes, Prepared, Rule};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("FILE.pb");
    let rule: Rule = args
        .next()
        .map_or(Ok(Rule::MesAdd1), |name| name.parse())
        .expect("rule");
    let times: usize = args.next().map_or(1, |times| times.parse().expect("TIMES"));
    let text = std::fs::read_to_string(&path).expect("readable file");
    let election = pabulib::parse(&text).expect("valid file");
    let prepared = Prepared::new(&election).expect("valid election");
    let mut result = prepared.tally_on(rule, Lanes::Exactly(1), &mut |_| {});
    for _ in 1..times {
        result = prepared.tally_on(rule, Lanes::Exactly(1), &mut |_| {});
    }
    println!("{}", result.selected.join(","));
}
