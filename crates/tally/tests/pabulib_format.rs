//! Reading and writing `.pb` files: the format as published, our `weight`
//! column, and errors that name the line instead of panicking.

use commonpot_tally::number::integer;
use commonpot_tally::pabulib::{self, WeightEncoding, WriteError};
use commonpot_tally::{tally, Ballot, BallotKind, Rational, Rule};
use proptest::prelude::*;

const APPROVAL: &str = "\u{feff}META\r\n\
key;value\r\n\
description;\"Park; playground\"\r\n\
budget;1100\r\n\
vote_type;approval\r\n\
rule;equalshares\r\n\
PROJECTS\r\n\
project_id;cost;name;category\r\n\
bike;700;\"Bike \"\"lanes\"\"\";transport\r\n\
gym;400;Gym;none\r\n\
park;250,5;Park\r\n\
VOTES\r\n\
voter_id;age;vote;weight\r\n\
1;30;bike,gym;2\r\n\
2;none;park, gym;1/2\r\n\
3;41;;\r\n";

#[test]
fn reads_the_format_as_published() {
    let election = pabulib::parse(APPROVAL).expect("parses");
    assert_eq!(election.budget, integer(1100));
    assert_eq!(election.kind, BallotKind::Approval);
    assert_eq!(election.meta("description"), Some("Park; playground"));
    let ids: Vec<&str> = election
        .projects
        .iter()
        .map(|project| project.id.as_str())
        .collect();
    assert_eq!(ids, ["bike", "gym", "park"]);
    assert_eq!(
        election.projects[2].cost,
        Rational::new(501.into(), 2.into())
    );
    assert_eq!(
        election.projects[0].extra[0],
        ("name".to_string(), "Bike \"lanes\"".to_string())
    );
    assert_eq!(election.voters.len(), 3);
    assert_eq!(election.voters[0].weight, integer(2));
    assert_eq!(election.voters[1].weight, Rational::new(1.into(), 2.into()));
    assert_eq!(election.voters[1].ballot, Ballot::Approval(vec![2, 1]));
    assert_eq!(election.voters[2].ballot, Ballot::Approval(vec![]));
    assert_eq!(election.voters[2].weight, integer(1));
    assert_eq!(Rule::default_for(&election), Rule::Mes);
}

#[test]
fn reads_points_and_rankings() {
    let cumulative =
        "META\nkey;value\nbudget;10\nvote_type;cumulative\nPROJECTS\nproject_id;cost\na;5\nb;5\n\
VOTES\nvoter_id;vote;points\n1;a,b;3,2\n";
    let election = pabulib::parse(cumulative).expect("parses");
    assert_eq!(
        election.voters[0].ballot,
        Ballot::Cumulative(vec![(0, integer(3)), (1, integer(2))])
    );
    let ordinal =
        "META\nkey;value\nbudget;10\nvote_type;ordinal\nPROJECTS\nproject_id;cost\na;5\nb;5\n\
VOTES\nvoter_id;vote\n1;b,a,b\n";
    let election = pabulib::parse(ordinal).expect("parses");
    assert_eq!(election.voters[0].ballot, Ballot::Ordinal(vec![1, 0]));
}

#[test]
fn a_meta_section_without_its_header_still_reads() {
    let text = "META\nbudget;10\nvote_type;approval\nPROJECTS\nproject_id;cost\na;5\nVOTES\nvoter_id;vote\n1;a\n";
    assert_eq!(pabulib::parse(text).expect("parses").budget, integer(10));
}

fn error(text: &str) -> String {
    pabulib::parse(text).expect_err("malformed").to_string()
}

#[test]
fn malformed_files_name_the_line_and_the_problem() {
    let head = "META\nkey;value\nbudget;10\nvote_type;approval\nPROJECTS\nproject_id;cost\na;5\n";
    assert_eq!(
        error(&format!("{head}VOTES\nvoter_id;vote\n1;a,zz\n")),
        "line 10: the vote names \"zz\", which is not a project"
    );
    assert_eq!(
        error(&format!("{head}VOTES\nvoter_id;vote;weight\n1;a;-2\n")),
        "line 10: the weight \"-2\" is not a number > 0"
    );
    assert_eq!(
        error("META\nkey;value\nbudget;ten\nvote_type;approval\nPROJECTS\nproject_id;cost\nVOTES\nvoter_id;vote\n"),
        "line 3: the budget \"ten\" is not a number ≥ 0"
    );
    assert_eq!(
        error("META\nkey;value\nbudget;10\nvote_type;approval\nPROJECTS\nproject_id;cost\na;5\na;6\nVOTES\nvoter_id;vote\n"),
        "line 8: project a was already listed on line 7"
    );
    assert_eq!(
        error("META\nkey;value\nbudget;10\nvote_type;cumulative\nPROJECTS\nproject_id;cost\na;5\nVOTES\nvoter_id;vote;points\n1;a;1,2\n"),
        "line 10: the vote names 1 projects but gives 2 points"
    );
    assert_eq!(
        error("META\nkey;value\nvote_type;approval\n"),
        "META has no budget"
    );
    assert_eq!(
        error(
            "META\nkey;value\nbudget;1\nvote_type;approval\nPROJECTS\nproject_id;cost\n\"open;5\n"
        ),
        "line 7: a quoted field is never closed"
    );
    assert_eq!(
        error("hello\n"),
        "line 1: text before the first section (META, PROJECTS or VOTES)"
    );
    assert_eq!(
        error(&format!("{head}VOTES\nvoter_id;vote\n1;a;extra\n")),
        "line 10: 3 fields, but the header on line 9 names 2 columns"
    );
}

#[test]
fn weights_are_written_as_a_column_or_as_repeated_ballots() {
    let election = pabulib::parse(APPROVAL).expect("parses");
    let column = pabulib::write(&election, WeightEncoding::Column).expect("writable");
    assert!(
        column.contains("voter_id;vote;weight;age\n1;bike,gym;2;30\n"),
        "{column}"
    );
    assert_eq!(
        pabulib::write(&election, WeightEncoding::RepeatedBallots),
        Err(WriteError::WeightNotWhole(
            "2".to_string(),
            "0.5".to_string()
        ))
    );
    let mut whole = election.clone();
    whole.voters[1].weight = integer(1);
    let repeated = pabulib::write(&whole, WeightEncoding::RepeatedBallots).expect("writable");
    assert!(
        repeated.contains("1-1;bike,gym;30\n1-2;bike,gym;30\n"),
        "{repeated}"
    );
    assert!(repeated.contains("num_votes;4\n"), "{repeated}");
    let read = pabulib::parse(&repeated).expect("parses");
    for rule in Rule::ALL {
        let ours = tally(&whole, rule, &mut |_| {}).expect("valid").selected;
        assert_eq!(
            tally(&read, rule, &mut |_| {}).expect("valid").selected,
            ours
        );
    }
}

#[test]
fn an_empty_cumulative_ballot_is_written_as_none_and_reads_back_empty() {
    let text = "META\nkey;value\nbudget;10\nvote_type;cumulative\nPROJECTS\nproject_id;cost\na;5\n\
VOTES\nvoter_id;vote;points\n1;a;3\n2;none;none\n";
    let election = pabulib::parse(text).expect("parses");
    assert_eq!(election.voters[1].ballot, Ballot::Cumulative(vec![]));
    let written = pabulib::write(&election, WeightEncoding::Column).expect("writable");
    // pabutools reads an empty points cell as a project named "" and fails.
    assert!(written.contains("\n2;none;none;1\n"), "{written}");
    assert_eq!(
        pabulib::parse(&written).expect("parses").voters,
        election.voters
    );
}

proptest! {
    #[test]
    fn any_text_parses_or_fails_without_panicking(text in ".{0,300}") {
        let _ = pabulib::parse(&text);
    }

    #[test]
    fn near_valid_files_parse_or_fail_without_panicking(
        lines in prop::collection::vec(
            prop_oneof![
                Just("META".to_string()), Just("PROJECTS".to_string()), Just("VOTES".to_string()),
                Just("key;value".to_string()), Just("budget;100".to_string()),
                Just("vote_type;cumulative".to_string()), Just("vote_type;ordinal".to_string()),
                Just("project_id;cost".to_string()), Just("voter_id;vote;points;weight".to_string()),
                "[a-c0-9;,\"/.-]{0,12}",
            ],
            0..14,
        )
    ) {
        if let Ok(election) = pabulib::parse(&lines.join("\n")) {
            for rule in Rule::ALL {
                let _ = tally(&election, rule, &mut |_| {});
            }
        }
    }
}
