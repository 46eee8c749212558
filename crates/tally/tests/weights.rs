//! A voter of weight w counts exactly as w identical ballots, under every
//! rule and every ballot kind, on generated elections; and a `.pb` export
//! reads back to the same tally, whichever way it writes the weights.

use commonpot_tally::number::integer;
use commonpot_tally::pabulib::{self, WeightEncoding};
use commonpot_tally::{tally, Ballot, BallotKind, Election, Project, Rational, Rule, Voter};
use proptest::prelude::*;

/// A generated voter: weight, and per project its points (0: not named).
type GeneratedVoter = (i64, Vec<u8>);

fn election(kind: BallotKind, budget: i64, costs: &[i64], voters: &[GeneratedVoter]) -> Election {
    let projects = costs
        .iter()
        .enumerate()
        .map(|(index, &cost)| Project {
            id: format!("p{index}"),
            cost: integer(cost),
            extra: Vec::new(),
        })
        .collect();
    let voters = voters
        .iter()
        .enumerate()
        .map(|(index, (weight, points))| {
            let named: Vec<usize> = (0..costs.len())
                .filter(|&project| points[project] > 0)
                .collect();
            let ballot = match kind {
                BallotKind::Approval => Ballot::Approval(named),
                BallotKind::Cumulative => Ballot::Cumulative(
                    named
                        .iter()
                        .map(|&project| (project, integer(points[project].into())))
                        .collect(),
                ),
                BallotKind::Ordinal => {
                    // Rank by points, highest first, ties by project.
                    let mut ranking = named;
                    ranking.sort_by_key(|&project| std::cmp::Reverse(points[project]));
                    Ballot::Ordinal(ranking)
                }
            };
            Voter {
                id: format!("v{index}"),
                weight: integer(*weight),
                ballot,
                extra: Vec::new(),
            }
        })
        .collect();
    Election {
        meta: Vec::new(),
        budget: integer(budget),
        kind,
        projects,
        voters,
    }
}

/// The same election with every voter of weight w written as w voters of
/// weight 1.
fn as_copies(election: &Election) -> Election {
    let mut copies = election.clone();
    copies.voters = election
        .voters
        .iter()
        .flat_map(|voter| {
            let count = voter.weight.to_integer().try_into().unwrap_or(0usize);
            std::iter::repeat_n(
                Voter {
                    weight: integer(1),
                    ..voter.clone()
                },
                count,
            )
        })
        .collect();
    copies
}

fn outcome(election: &Election, rule: Rule) -> (Vec<String>, String) {
    let result = tally(election, rule, &mut |_| {}).expect("generated elections are valid");
    (result.selected, result.spent.to_string())
}

fn generated() -> impl Strategy<Value = (BallotKind, i64, Vec<i64>, Vec<GeneratedVoter>)> {
    let kind = prop_oneof![
        Just(BallotKind::Approval),
        Just(BallotKind::Cumulative),
        Just(BallotKind::Ordinal)
    ];
    (kind, 1usize..6).prop_flat_map(|(kind, projects)| {
        (
            Just(kind),
            1i64..60,
            prop::collection::vec(1i64..25, projects),
            prop::collection::vec((1i64..5, prop::collection::vec(0u8..4, projects)), 1..7),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn weight_w_counts_as_w_identical_ballots((kind, budget, costs, voters) in generated()) {
        let weighted = election(kind, budget, &costs, &voters);
        let copies = as_copies(&weighted);
        for rule in Rule::ALL {
            prop_assert_eq!(outcome(&weighted, rule), outcome(&copies, rule), "{}", rule);
        }
    }

    #[test]
    fn exports_read_back_to_the_same_tally((kind, budget, costs, voters) in generated()) {
        let weighted = election(kind, budget, &costs, &voters);
        for encoding in [WeightEncoding::Column, WeightEncoding::RepeatedBallots] {
            let text = pabulib::write(&weighted, encoding).expect("writable");
            let read = pabulib::parse(&text).expect("our own output parses");
            for rule in Rule::ALL {
                prop_assert_eq!(outcome(&read, rule), outcome(&weighted, rule), "{} {:?}", rule, encoding);
            }
        }
    }

    #[test]
    fn scaling_every_weight_keeps_mes_and_greedy((kind, budget, costs, voters) in generated(), numerator in 1i64..5, denominator in 1i64..5) {
        let weighted = election(kind, budget, &costs, &voters);
        let mut scaled = weighted.clone();
        let factor = Rational::new(numerator.into(), denominator.into());
        for voter in &mut scaled.voters {
            voter.weight = &voter.weight * &factor;
        }
        for rule in [Rule::Greedy, Rule::Mes] {
            prop_assert_eq!(outcome(&scaled, rule), outcome(&weighted, rule), "{}", rule);
        }
    }
}
