//! Small worked examples with known outcomes, from
//! `shared/pabulib/vectors.json` (the equalshares.net examples, cases from
//! the test suites of pabutools and abcvoting, weighted voters among them;
//! each re-run with pabutools 1.2.3), plus hand-checked ties.

use std::path::PathBuf;

use commonpot_tally::number::{integer, parse_rational};
use commonpot_tally::{
    pabulib, tally, Ballot, BallotKind, Election, Project, Rational, Rule, Voter,
};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pabulib/vectors.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{} is missing: {error}", path.display()));
    let vectors: Value = serde_json::from_str(&text).expect("vectors.json is JSON");
    vectors["vectors"]
        .as_array()
        .expect("a list of vectors")
        .clone()
}

fn vector(id: &str) -> Value {
    vectors()
        .into_iter()
        .find(|vector| vector["id"] == id)
        .unwrap_or_else(|| panic!("vectors.json has no {id}"))
}

fn number(value: &Value) -> Rational {
    match value {
        Value::Number(number) => parse_rational(&number.to_string()).expect("a number"),
        Value::String(text) => parse_rational(text).expect("a number"),
        _ => panic!("not a number: {value}"),
    }
}

fn name(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An approval election from a vector: projects with costs, and ballots
/// (with an optional per-voter weight list).
fn approval(budget: Rational, projects: &Value, ballots: &[Value], weights: &[i64]) -> Election {
    let projects: Vec<Project> = projects
        .as_object()
        .expect("projects by id")
        .iter()
        .map(|(id, cost)| Project {
            id: id.clone(),
            cost: number(cost),
            extra: Vec::new(),
        })
        .collect();
    let index = |id: &Value| {
        projects
            .iter()
            .position(|project| project.id == name(id))
            .expect("a known project")
    };
    let voters = ballots
        .iter()
        .enumerate()
        .map(|(position, ballot)| Voter {
            id: (position + 1).to_string(),
            weight: integer(weights.get(position).copied().unwrap_or(1)),
            ballot: Ballot::Approval(
                ballot
                    .as_array()
                    .expect("a ballot")
                    .iter()
                    .map(index)
                    .collect(),
            ),
            extra: Vec::new(),
        })
        .collect();
    Election {
        meta: Vec::new(),
        budget,
        kind: BallotKind::Approval,
        projects,
        voters,
    }
}

fn from_vector(vector: &Value) -> Election {
    let ballots = vector["ballots"]
        .as_array()
        .or_else(|| vector["ballots_by_voter_1_to_11"].as_array())
        .expect("ballots");
    approval(number(&vector["budget"]), &vector["projects"], ballots, &[])
}

fn selected(election: &Election, rule: Rule) -> Vec<String> {
    tally(election, rule, &mut |_| {}).expect("valid").selected
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().expect("a list").iter().map(name).collect()
}

#[test]
fn equalshares_net_example_1() {
    let example = vector("es_net_example1");
    let election = from_vector(&example);
    let result = tally(&election, Rule::Mes, &mut |_| {}).expect("valid");
    assert_eq!(
        sorted(result.selected.clone()),
        sorted(strings(
            &example["expected"]["mes_cost_utilities_no_completion"]
        ))
    );
    // bike: 100 from each of its 7 supporters; playground: 50 from each of 4;
    // library: 100/3 from each of 3.
    let rho_times_cost = |id: &str| {
        let report = result
            .projects
            .iter()
            .find(|report| report.id == id)
            .expect("reported");
        report.rho.clone().expect("bought by MES").0 * &report.cost.0
    };
    assert_eq!(rho_times_cost("bike"), integer(100));
    assert_eq!(rho_times_cost("playground"), integer(50));
    assert_eq!(rho_times_cost("library"), integer(100) / integer(3));
    assert_eq!(
        sorted(selected(&election, Rule::Greedy)),
        strings(&example["expected"]["greedy_by_votes"])
    );
}

#[test]
fn equalshares_net_example_2_buys_in_order() {
    let example = vector("es_net_example2");
    let election = from_vector(&example);
    assert_eq!(
        selected(&election, Rule::Mes),
        strings(&example["expected"]["mes_cost_utilities_no_completion_in_selection_order"])
    );
}

#[test]
fn pabutools_test_suite_cases() {
    let appex = vector("pabutools_AppEx_2");
    assert_eq!(
        sorted(selected(&from_vector(&appex), Rule::Mes)),
        strings(&appex["expected"]["mes_cost_sat"])
    );
    let running = vector("pabutools_lackner_skowron_running_example");
    assert_eq!(
        selected(&from_vector(&running), Rule::Mes),
        strings(&running["expected"]["mes_cost_or_cardinality_sat"])
    );
    let completion = vector("pabutools_test_completion");
    assert_eq!(
        selected(&from_vector(&completion), Rule::Mes),
        strings(&completion["expected"]["mes_cost_sat"])
    );
    let abc = vector("abcvoting_S0000_as_PB");
    let abc_election = approval(
        number(&abc["budget"]),
        &abc["projects"],
        abc["ballots"].as_array().expect("ballots"),
        &[],
    );
    assert_eq!(
        sorted(selected(&abc_election, Rule::Mes)),
        strings(&abc["expected"]["mes_cost_sat_pure_pabutools"])
    );
}

#[test]
fn weighted_voters_count_as_their_weight() {
    // es_net_example1 with voters 7-10 (the kids) of weight 2.
    let example = vector("es_net_example1");
    let weighted = vector("weighted_es_net_example1_kids_x2");
    let ballots = example["ballots_by_voter_1_to_11"]
        .as_array()
        .expect("ballots");
    let weights = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1];
    let election = approval(
        number(&example["budget"]),
        &example["projects"],
        ballots,
        &weights,
    );
    assert_eq!(
        sorted(selected(&election, Rule::Mes)),
        strings(&weighted["expected"]["mes_cost_utilities_no_completion"])
    );
    assert_eq!(
        sorted(selected(&election, Rule::Greedy)),
        strings(&weighted["expected"]["greedy_weighted_votes_lexico_ties"])
    );
}

#[test]
fn a_heavy_voter_outweighs_three_light_ones() {
    // abcvoting's test_abcrules_weightsconsidered as PB: unit costs, budget 1.
    // Greedy takes the heavy voter's project. MES does not: a share of 1/8
    // per unit of weight leaves 5/8 for it, and with Add1 the next share
    // buys both projects, overspending (checked with pabutools 1.2.3).
    let projects = serde_json::json!({"0": 1, "1": 1});
    let ballots = [
        serde_json::json!([0]),
        serde_json::json!([0]),
        serde_json::json!([1]),
        serde_json::json!([0]),
    ];
    let election = approval(integer(1), &projects, &ballots, &[1, 1, 5, 1]);
    assert_eq!(selected(&election, Rule::Greedy), vec!["1"]);
    assert!(selected(&election, Rule::Mes).is_empty());
    assert!(selected(&election, Rule::MesAdd1).is_empty());
}

#[test]
fn wieliczka_green_budget_matches_the_published_references() {
    let reference = vector("wieliczka_2023_green_budget");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/pabulib/poland_wieliczka_2023.pb");
    let election =
        pabulib::parse(&std::fs::read_to_string(path).expect("readable")).expect("parses");
    let expected = &reference["expected"];
    assert_eq!(
        sorted(selected(&election, Rule::Mes)),
        sorted(strings(&expected["mes_cost_pure_lexico"]["winners"]))
    );
    let add1 = tally(&election, Rule::MesAdd1, &mut |_| {}).expect("valid");
    let add1_expected = expected
        .as_object()
        .expect("expectations")
        .iter()
        .find(|(key, _)| key.starts_with("mes_add1"))
        .map(|(_, value)| value)
        .expect("an add1 reference");
    assert_eq!(
        sorted(add1.selected),
        sorted(strings(&add1_expected["winners"]))
    );
    assert_eq!(add1.spent.0, number(&add1_expected["total_cost"]));
}

#[test]
fn ties_go_to_the_smaller_project_id() {
    // Two identical projects, money for one: every rule takes "a".
    let projects = serde_json::json!({"b": 10, "a": 10});
    let ballots = [serde_json::json!(["a", "b"]), serde_json::json!(["b", "a"])];
    let election = approval(integer(10), &projects, &ballots, &[]);
    for rule in Rule::ALL {
        assert_eq!(selected(&election, rule), vec!["a"], "{rule}");
    }
    // Ids compare as strings, as in pabutools: "10" before "9".
    let projects = serde_json::json!({"9": 5, "10": 5});
    let ballots = [serde_json::json!(["9", "10"])];
    let election = approval(integer(5), &projects, &ballots, &[]);
    for rule in Rule::ALL {
        assert_eq!(selected(&election, rule), vec!["10"], "{rule}");
    }
}

#[test]
fn add1_keeps_the_last_outcome_that_fits() {
    // Budget 10, two voters. MES alone: each has 5, "big" (cost 8, both
    // want it) is bought at 4 each; "small" (cost 3, voter 1 only) is then
    // unaffordable (1 left). Raising the share to 6 buys "small" too, but
    // 11 > 10: the outcome of share 5 is kept.
    let projects = serde_json::json!({"big": 8, "small": 3});
    let ballots = [
        serde_json::json!(["big", "small"]),
        serde_json::json!(["big"]),
    ];
    let election = approval(integer(10), &projects, &ballots, &[]);
    assert_eq!(selected(&election, Rule::Mes), vec!["big"]);
    let add1 = tally(&election, Rule::MesAdd1, &mut |_| {}).expect("valid");
    assert_eq!(add1.selected, vec!["big"]);
    assert_eq!(add1.completion.expect("completion").step, 0);
}
