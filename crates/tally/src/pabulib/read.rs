//! Reading a `.pb` file into an [`Election`]. Lenient where pabutools is
//! (a byte-order mark, `none` for an absent value, a decimal comma, extra
//! columns, a META section without its `key;value` header), strict where a
//! tally could otherwise silently differ: every malformed value is an error
//! naming its line.

use std::collections::HashMap;

use crate::election::{Ballot, BallotKind, Election, Project, Voter};
use crate::number::{parse_rational, Rational};
use crate::pabulib::csv::{records, Record};
use crate::pabulib::ParseError;

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Meta,
    Projects,
    Votes,
}

/// A section's header and rows.
struct Table {
    line: usize,
    header: Vec<String>,
    rows: Vec<Record>,
}

impl Table {
    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|column| column == name)
    }

    /// The row's cells by column, trimmed, with `none` and empty cells read
    /// as absent.
    fn cells<'a>(&self, row: &'a Record) -> Result<Vec<Option<&'a str>>, ParseError> {
        if row.fields.len() > self.header.len() {
            return Err(ParseError::at(
                row.line,
                format!(
                    "{} fields, but the header on line {} names {} columns",
                    row.fields.len(),
                    self.line,
                    self.header.len()
                ),
            ));
        }
        Ok((0..self.header.len())
            .map(|column| {
                row.fields
                    .get(column)
                    .map(|value| value.trim())
                    .filter(|value| !value.is_empty() && !value.eq_ignore_ascii_case("none"))
            })
            .collect())
    }
}

/// Parses the text of a `.pb` file.
pub fn parse(text: &str) -> Result<Election, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = records(text)
        .map_err(|line| ParseError::at(line, "a quoted field is never closed".to_string()))?;
    let mut meta: Vec<(String, String, usize)> = Vec::new();
    let mut projects: Option<Table> = None;
    let mut votes: Option<Table> = None;
    let mut section = None;
    let mut expect_header = false;
    for record in records {
        let blank = record.fields.iter().all(|field| field.trim().is_empty());
        if blank {
            continue;
        }
        let first = record.fields[0].trim().to_ascii_lowercase();
        let starts = match first.as_str() {
            "meta" => Some(Section::Meta),
            "projects" => Some(Section::Projects),
            "votes" => Some(Section::Votes),
            _ => None,
        };
        if let Some(starts) = starts {
            section = Some(starts);
            expect_header = true;
            continue;
        }
        let header = || {
            record
                .fields
                .iter()
                .map(|name| name.trim().to_string())
                .collect()
        };
        match section {
            None => {
                return Err(ParseError::at(
                    record.line,
                    "text before the first section (META, PROJECTS or VOTES)".to_string(),
                ))
            }
            Some(Section::Meta) => {
                let is_header = expect_header && first == "key";
                expect_header = false;
                if is_header {
                    continue;
                }
                let [key, value] = record.fields.as_slice() else {
                    return Err(ParseError::at(
                        record.line,
                        format!(
                            "a META row has 2 fields (key;value), not {}",
                            record.fields.len()
                        ),
                    ));
                };
                meta.push((
                    key.trim().to_string(),
                    value.trim().to_string(),
                    record.line,
                ));
            }
            Some(Section::Projects | Section::Votes) if expect_header => {
                expect_header = false;
                let table = Table {
                    line: record.line,
                    header: header(),
                    rows: Vec::new(),
                };
                let slot = if section == Some(Section::Projects) {
                    &mut projects
                } else {
                    &mut votes
                };
                if slot.is_some() {
                    return Err(ParseError::at(
                        record.line,
                        "a section appears twice".to_string(),
                    ));
                }
                *slot = Some(table);
            }
            Some(Section::Projects) => push_row(&mut projects, record),
            Some(Section::Votes) => push_row(&mut votes, record),
        }
    }
    let meta_value = |key: &str| {
        meta.iter()
            .rev()
            .find(|(name, _, _)| name == key)
            .map(|(_, value, line)| (value.as_str(), *line))
    };
    let (budget_text, budget_line) =
        meta_value("budget").ok_or_else(|| ParseError::file("META has no budget".to_string()))?;
    let budget = parse_rational(budget_text)
        .filter(|budget| *budget >= Rational::default())
        .ok_or_else(|| {
            ParseError::at(
                budget_line,
                format!("the budget {budget_text:?} is not a number ≥ 0"),
            )
        })?;
    let (vote_type, vote_type_line) = meta_value("vote_type")
        .ok_or_else(|| ParseError::file("META has no vote_type".to_string()))?;
    let kind = match vote_type.to_ascii_lowercase().as_str() {
        "approval" | "choose-1" => BallotKind::Approval,
        "cumulative" | "scoring" => BallotKind::Cumulative,
        "ordinal" => BallotKind::Ordinal,
        _ => {
            return Err(ParseError::at(
                vote_type_line,
                format!("unknown vote_type {vote_type:?}: expected approval, cumulative, scoring or ordinal"),
            ))
        }
    };
    let projects =
        projects.ok_or_else(|| ParseError::file("the file has no PROJECTS section".to_string()))?;
    let projects = read_projects(&projects)?;
    let voters = match votes {
        Some(votes) => read_votes(&votes, kind, &projects)?,
        None => {
            return Err(ParseError::file(
                "the file has no VOTES section".to_string(),
            ))
        }
    };
    Ok(Election {
        meta: meta
            .into_iter()
            .map(|(key, value, _)| (key, value))
            .collect(),
        budget,
        kind,
        projects,
        voters,
    })
}

fn push_row(table: &mut Option<Table>, record: Record) {
    // A section's first record always becomes its table, so there is one.
    if let Some(table) = table {
        table.rows.push(record);
    }
}

fn read_projects(table: &Table) -> Result<Vec<Project>, ParseError> {
    let id_column = table.column("project_id").unwrap_or(0);
    let cost_column = table.column("cost").ok_or_else(|| {
        ParseError::at(
            table.line,
            "the PROJECTS header has no cost column".to_string(),
        )
    })?;
    let mut seen = HashMap::new();
    let mut projects = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let cells = table.cells(row)?;
        let id = cells[id_column]
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ParseError::at(row.line, "a project has no id".to_string()))?;
        if let Some(first) = seen.insert(id.to_string(), row.line) {
            return Err(ParseError::at(
                row.line,
                format!("project {id} was already listed on line {first}"),
            ));
        }
        let cost_text = cells[cost_column]
            .ok_or_else(|| ParseError::at(row.line, format!("project {id} has no cost")))?;
        let cost = parse_rational(cost_text)
            .filter(|cost| *cost >= Rational::default())
            .ok_or_else(|| {
                ParseError::at(
                    row.line,
                    format!("project {id}'s cost {cost_text:?} is not a number ≥ 0"),
                )
            })?;
        let extra = extra_columns(table, row, &[id_column, cost_column]);
        projects.push(Project {
            id: id.to_string(),
            cost,
            extra,
        });
    }
    Ok(projects)
}

/// The columns the engine does not read, kept as written for export.
fn extra_columns(table: &Table, row: &Record, read: &[usize]) -> Vec<(String, String)> {
    table
        .header
        .iter()
        .enumerate()
        .filter(|(column, _)| !read.contains(column))
        .filter_map(|(column, name)| {
            row.fields
                .get(column)
                .map(|value| (name.clone(), value.trim().to_string()))
        })
        .collect()
}

fn read_votes(
    table: &Table,
    kind: BallotKind,
    projects: &[Project],
) -> Result<Vec<Voter>, ParseError> {
    let vote_column = table.column("vote").ok_or_else(|| {
        ParseError::at(
            table.line,
            "the VOTES header has no vote column".to_string(),
        )
    })?;
    let id_column = table.column("voter_id");
    let points_column = table.column("points");
    let weight_column = table.column("weight");
    if kind == BallotKind::Cumulative && points_column.is_none() {
        return Err(ParseError::at(
            table.line,
            "cumulative ballots need a points column".to_string(),
        ));
    }
    let index: HashMap<&str, usize> = projects
        .iter()
        .enumerate()
        .map(|(position, project)| (project.id.as_str(), position))
        .collect();
    let read: Vec<usize> = [Some(vote_column), id_column, points_column, weight_column]
        .into_iter()
        .flatten()
        .collect();
    let mut voters = Vec::with_capacity(table.rows.len());
    for (position, row) in table.rows.iter().enumerate() {
        let cells = table.cells(row)?;
        let error = |message: String| ParseError::at(row.line, message);
        let id = id_column
            .and_then(|column| cells[column])
            .map_or_else(|| (position + 1).to_string(), str::to_string);
        let names: Vec<&str> = match cells[vote_column] {
            Some(vote) if !vote.is_empty() => vote.split(',').map(str::trim).collect(),
            _ => Vec::new(),
        };
        let mut named = Vec::with_capacity(names.len());
        for name in &names {
            if name.is_empty() && kind != BallotKind::Cumulative {
                continue; // "1,,2" or a trailing comma: pabutools skips these too
            }
            let project = *index
                .get(name)
                .ok_or_else(|| error(format!("the vote names {name:?}, which is not a project")))?;
            named.push(project);
        }
        let ballot = match kind {
            BallotKind::Approval => Ballot::Approval(first_occurrences(named)),
            BallotKind::Ordinal => Ballot::Ordinal(first_occurrences(named)),
            BallotKind::Cumulative => {
                let points: Vec<&str> = match points_column.and_then(|column| cells[column]) {
                    Some(points) if !points.is_empty() => {
                        points.split(',').map(str::trim).collect()
                    }
                    _ => Vec::new(),
                };
                if points.len() != named.len() {
                    return Err(error(format!(
                        "the vote names {} projects but gives {} points",
                        named.len(),
                        points.len()
                    )));
                }
                let mut given: Vec<(usize, Rational)> = Vec::with_capacity(named.len());
                for (&project, text) in named.iter().zip(points) {
                    let value = parse_rational(text)
                        .filter(|value| *value >= Rational::default())
                        .ok_or_else(|| {
                            error(format!("the points {text:?} are not a number ≥ 0"))
                        })?;
                    if given.iter().any(|(other, _)| *other == project) {
                        return Err(error(format!(
                            "the vote gives points to {} twice",
                            projects[project].id
                        )));
                    }
                    given.push((project, value));
                }
                Ballot::Cumulative(given)
            }
        };
        let weight = match weight_column.and_then(|column| cells[column]) {
            None => Rational::from_integer(1.into()),
            Some(text) => parse_rational(text)
                .filter(|weight| *weight > Rational::default())
                .ok_or_else(|| error(format!("the weight {text:?} is not a number > 0")))?,
        };
        voters.push(Voter {
            id,
            weight,
            ballot,
            extra: extra_columns(table, row, &read),
        });
    }
    Ok(voters)
}

/// Keeps each project once, where it first appears (as pabutools' ballots do).
fn first_occurrences(projects: Vec<usize>) -> Vec<usize> {
    let mut kept = Vec::with_capacity(projects.len());
    for project in projects {
        if !kept.contains(&project) {
            kept.push(project);
        }
    }
    kept
}
