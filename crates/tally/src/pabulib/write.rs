//! Writing an [`Election`] as a `.pb` file that pabutools (and our reader)
//! read back to the same tally. Voters are written in the order given, with
//! the ids given: shuffling and anonymising are the caller's job.

use crate::election::{Ballot, BallotKind, Election};
use crate::number::{format_rational, Rational};
use crate::pabulib::csv::record;

/// How voter weights appear in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightEncoding {
    /// A `weight` column in VOTES (tools that do not know it ignore it).
    Column,
    /// A voter of weight w written as w identical ballots, for tools that
    /// ignore the column; ids become `ID-1` … `ID-w` when w > 1. Needs whole
    /// weights.
    RepeatedBallots,
}

/// Why an election cannot be written.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WriteError {
    #[error("voter {0} has weight {1}, which cannot be written as repeated ballots")]
    WeightNotWhole(String, String),
    #[error("project id {0:?} holds a comma, which a vote list cannot hold")]
    ProjectIdWithComma(String),
}

/// The META keys this writer computes; given values for them are replaced.
const COMPUTED_META: [&str; 4] = ["budget", "vote_type", "num_projects", "num_votes"];

/// The `.pb` text of an election.
pub fn write(election: &Election, weights: WeightEncoding) -> Result<String, WriteError> {
    if let Some(project) = election
        .projects
        .iter()
        .find(|project| project.id.contains(','))
    {
        return Err(WriteError::ProjectIdWithComma(project.id.clone()));
    }
    let votes = vote_rows(election, weights)?;
    let mut text = String::from("META\n");
    text += &record(&["key", "value"]);
    let vote_type = match election.kind {
        BallotKind::Approval => "approval",
        BallotKind::Cumulative => "cumulative",
        BallotKind::Ordinal => "ordinal",
    };
    let computed = [
        ("num_projects", election.projects.len().to_string()),
        ("num_votes", (votes.len() - 1).to_string()),
        ("budget", format_rational(&election.budget)),
        ("vote_type", vote_type.to_string()),
    ];
    for (key, value) in &computed {
        text += &record(&[*key, value.as_str()]);
    }
    for (key, value) in &election.meta {
        if !COMPUTED_META.contains(&key.as_str()) {
            text += &record(&[key, value]);
        }
    }
    text += "PROJECTS\n";
    let extra = extra_names(election.projects.iter().map(|project| &project.extra));
    let mut header = vec!["project_id".to_string(), "cost".to_string()];
    header.extend(extra.iter().cloned());
    text += &record(&header);
    for project in &election.projects {
        let mut row = vec![project.id.clone(), format_rational(&project.cost)];
        row.extend(extra_values(&extra, &project.extra));
        text += &record(&row);
    }
    text += "VOTES\n";
    for row in votes {
        text += &record(&row);
    }
    Ok(text)
}

/// The VOTES header and one row per written ballot.
fn vote_rows(election: &Election, weights: WeightEncoding) -> Result<Vec<Vec<String>>, WriteError> {
    let extra = extra_names(election.voters.iter().map(|voter| &voter.extra));
    let points = election.kind == BallotKind::Cumulative;
    let mut header = vec!["voter_id".to_string(), "vote".to_string()];
    if points {
        header.push("points".to_string());
    }
    if weights == WeightEncoding::Column {
        header.push("weight".to_string());
    }
    header.extend(extra.iter().cloned());
    let mut rows = vec![header];
    for voter in &election.voters {
        let ids = |projects: &[usize]| {
            projects
                .iter()
                .map(|&project| election.projects[project].id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut fields = vec![ids(&voter.ballot.projects())];
        if let Ballot::Cumulative(given) = &voter.ballot {
            if given.is_empty() {
                // pabutools reads an empty points cell as one project named
                // "" and fails; `none` is pabulib's absent value.
                fields = vec!["none".to_string(); 2];
            } else {
                fields.push(
                    given
                        .iter()
                        .map(|(_, value)| format_rational(value))
                        .collect::<Vec<_>>()
                        .join(","),
                );
            }
        }
        let extra = extra_values(&extra, &voter.extra);
        match weights {
            WeightEncoding::Column => {
                let mut row = vec![voter.id.clone()];
                row.extend(fields);
                row.push(format_rational(&voter.weight));
                row.extend(extra);
                rows.push(row);
            }
            WeightEncoding::RepeatedBallots => {
                let copies = whole(&voter.weight).ok_or_else(|| {
                    WriteError::WeightNotWhole(voter.id.clone(), format_rational(&voter.weight))
                })?;
                for copy in 1..=copies {
                    let id = if copies == 1 {
                        voter.id.clone()
                    } else {
                        format!("{}-{copy}", voter.id)
                    };
                    let mut row = vec![id];
                    row.extend(fields.iter().cloned());
                    row.extend(extra.iter().cloned());
                    rows.push(row);
                }
            }
        }
    }
    Ok(rows)
}

/// A weight as a count of ballots, when it is a whole number.
fn whole(weight: &Rational) -> Option<u64> {
    if !weight.is_integer() {
        return None;
    }
    weight.to_integer().try_into().ok()
}

/// Every extra column name, in the order first met.
fn extra_names<'a>(rows: impl Iterator<Item = &'a Vec<(String, String)>>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for row in rows {
        for (name, _) in row {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

fn extra_values(names: &[String], row: &[(String, String)]) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            row.iter()
                .find(|(column, _)| column == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        })
        .collect()
}
