//! The aggregation rules: which projects a budget buys, given the ballots.

pub mod add1;
pub mod greedy;
pub mod mes;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::election::Election;

/// An aggregation rule a round can use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Rule {
    /// Most satisfaction per unit of cost first, skipping what does not fit.
    #[serde(rename = "greedy")]
    Greedy,
    /// Method of Equal Shares, no completion.
    #[serde(rename = "mes")]
    Mes,
    /// Method of Equal Shares with Add1 completion: the default.
    #[default]
    #[serde(rename = "mes-add1")]
    MesAdd1,
}

impl Rule {
    pub const ALL: [Rule; 3] = [Rule::Greedy, Rule::Mes, Rule::MesAdd1];

    /// The rule a pabulib file's META `rule` names, when it is one of ours
    /// (`greedy`, `equalshares`, `equalshares/add1`).
    pub fn from_pabulib(name: &str) -> Option<Rule> {
        match name.trim().to_ascii_lowercase().as_str() {
            "greedy" => Some(Rule::Greedy),
            "equalshares" | "mes" => Some(Rule::Mes),
            "equalshares/add1" | "mes-add1" => Some(Rule::MesAdd1),
            _ => None,
        }
    }

    /// The rule to tally an election with when none is asked for: the one
    /// its META `rule` names when it is one of ours, else MES with Add1.
    pub fn default_for(election: &Election) -> Rule {
        election
            .meta("rule")
            .and_then(Rule::from_pabulib)
            .unwrap_or_default()
    }

    /// The name pabulib files use for the rule.
    pub fn pabulib_name(self) -> &'static str {
        match self {
            Rule::Greedy => "greedy",
            Rule::Mes => "equalshares",
            Rule::MesAdd1 => "equalshares/add1",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Rule::Greedy => "greedy",
            Rule::Mes => "mes",
            Rule::MesAdd1 => "mes-add1",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rule {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Rule::ALL
            .into_iter()
            .find(|rule| rule.name() == name)
            .ok_or_else(|| format!("unknown rule {name:?}: expected greedy, mes or mes-add1"))
    }
}
