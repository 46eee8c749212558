//! The election as the rules read it: satisfactions instead of ballots, and
//! voters with identical satisfactions merged into one group whose weight is
//! the sum of theirs. Every rule treats a weight w exactly as w identical
//! ballots, so merging changes no outcome and makes large elections small.

use std::collections::HashMap;

use crate::election::Election;
use crate::number::Rational;

/// Voters who get the same satisfaction from every project.
#[derive(Clone, Debug)]
pub struct Group {
    /// The sum of the members' weights.
    pub weight: Rational,
    /// (project, satisfaction > 0), by project index.
    pub satisfactions: Vec<(usize, Rational)>,
}

/// One supporter group of a project and the satisfaction it gets from it.
#[derive(Clone, Debug)]
pub struct Support {
    pub group: usize,
    pub satisfaction: Rational,
}

/// The satisfaction profile of an election.
#[derive(Clone, Debug)]
pub struct Profile {
    pub groups: Vec<Group>,
    /// Per project, the groups that get some satisfaction from it.
    pub supporters: Vec<Vec<Support>>,
    /// The sum of all voters' weights, empty ballots included.
    pub total_weight: Rational,
}

impl Profile {
    pub fn new(election: &Election) -> Self {
        let mut index: HashMap<Vec<(usize, Rational)>, usize> = HashMap::new();
        let mut groups: Vec<Group> = Vec::new();
        for voter in &election.voters {
            let mut satisfactions = voter.ballot.satisfactions(&election.projects);
            satisfactions.sort_by_key(|(project, _)| *project);
            match index.get(&satisfactions) {
                Some(&group) => groups[group].weight += &voter.weight,
                None => {
                    index.insert(satisfactions.clone(), groups.len());
                    groups.push(Group {
                        weight: voter.weight.clone(),
                        satisfactions,
                    });
                }
            }
        }
        let mut supporters = vec![Vec::new(); election.projects.len()];
        for (group, members) in groups.iter().enumerate() {
            for (project, satisfaction) in &members.satisfactions {
                supporters[*project].push(Support {
                    group,
                    satisfaction: satisfaction.clone(),
                });
            }
        }
        Profile {
            groups,
            supporters,
            total_weight: election.total_weight(),
        }
    }

    /// The summed weight of a project's supporters.
    pub fn support(&self, project: usize) -> Rational {
        self.supporters[project]
            .iter()
            .map(|support| &self.groups[support.group].weight)
            .sum()
    }

    /// The total weighted satisfaction a project gives.
    pub fn satisfaction(&self, project: usize) -> Rational {
        self.supporters[project]
            .iter()
            .map(|support| &self.groups[support.group].weight * &support.satisfaction)
            .sum()
    }
}
