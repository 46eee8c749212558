//! The ledger imports nothing built on it: no file under `src/ledger` names
//! requests, pledges, rounds, the events delivery (webhooks) or the web
//! app. They learn what the ledger did from its facts (`src/ledger/facts.rs`).
//! The check lives outside `src/ledger`, so its own examples of forbidden
//! paths are not in the folder it reads.

use std::path::Path;

/// The areas built on the ledger.
const BUILT_ON_IT: [&str; 6] = ["requests", "pledges", "rounds", "webhooks", "web", "flows"];

/// The areas built on the ledger that `source` names through a path from
/// the crate root (`crate::x`, `commonpot::x`, `super::super::x`, or in a
/// `use crate::{x, …}` group, over several lines too), with the line each
/// is named on. Comments are not code.
fn names_built_on_it(source: &str) -> Vec<(usize, String)> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    for root in ["crate::", "commonpot::", "super::super::"] {
        for (at, _) in code.match_indices(root) {
            let rest = &code[at + root.len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                // Every name at the top of the group: `{a, b::c, d::{e}}`.
                Some(group) => {
                    let mut depth = 0;
                    let mut names = Vec::new();
                    let mut from = 0;
                    for (i, c) in group.char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => {
                                names.push(&group[from..i]);
                                break;
                            }
                            '}' => depth -= 1,
                            ',' if depth == 0 => {
                                names.push(&group[from..i]);
                                from = i + 1;
                            }
                            _ => {}
                        }
                    }
                    names
                }
                None => vec![rest],
            };
            for name in names {
                let name = name
                    .trim_start()
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default();
                if BUILT_ON_IT.contains(&name) {
                    found.push((line_of(at), name.to_owned()));
                }
            }
        }
    }
    found.sort();
    found
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src/ledger is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file is readable");
            files.push((path.display().to_string(), text));
        }
    }
    files
}

#[test]
fn the_ledger_names_nothing_built_on_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ledger");
    let files = sources(&dir);
    assert!(files.len() >= 5, "found only {} files", files.len());
    let offences: Vec<String> = files
        .iter()
        .flat_map(|(path, text)| {
            names_built_on_it(text)
                .into_iter()
                .map(move |(line, name)| format!("{path}:{line} names {name}"))
        })
        .collect();
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn the_check_sees_every_way_of_naming_an_area() {
    let source = "use crate::requests::service;\n\
                  use crate::{audit, pledges::payments};\n\
                  let x = crate::rounds::service::open(conn);\n\
                  use super::super::web::views;\n\
                  commonpot::webhooks::deliver();\n\
                  // crate::requests in a comment is not an import\n\
                  use crate::pools::store; use crate::events;\n\
                  use crate::{\n    flows,\n};";
    assert_eq!(
        names_built_on_it(source),
        [
            (1, "requests".to_owned()),
            (2, "pledges".to_owned()),
            (3, "rounds".to_owned()),
            (4, "web".to_owned()),
            (5, "webhooks".to_owned()),
            (8, "flows".to_owned()),
        ]
    );
}
