//! What is voted on and how people voted: an election as the engine sees it,
//! whether it came from a `.pb` file or from a budgeting round of the service.

use crate::number::Rational;

/// How ballots are filled in, which also fixes what satisfaction a ballot
/// gives (see [`Ballot::satisfactions`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BallotKind {
    /// A set of approved projects; satisfaction is the project's cost.
    Approval,
    /// Points given to projects; satisfaction is the points.
    Cumulative,
    /// A ranking; satisfaction is the Borda score.
    Ordinal,
}

/// One project on the ballot.
#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    /// The project's id, unique in the election; ties break on it.
    pub id: String,
    pub cost: Rational,
    /// Further columns of the project (name, category, …) kept for export.
    pub extra: Vec<(String, String)>,
}

/// One ballot, naming projects by their index in [`Election::projects`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ballot {
    Approval(Vec<usize>),
    /// Projects with the points given to them, in the order written.
    Cumulative(Vec<(usize, Rational)>),
    /// Projects from most to least preferred.
    Ordinal(Vec<usize>),
}

impl Ballot {
    /// The satisfaction this ballot gives each project it names, as pabutools
    /// measures it: the cost of each approved project (`Cost_Sat`), the points
    /// (`Additive_Cardinal_Sat`), or on a ranking of k projects k−1−i for the
    /// project at position i (`Additive_Borda_Sat`). Projects with no
    /// satisfaction are left out.
    pub fn satisfactions(&self, projects: &[Project]) -> Vec<(usize, Rational)> {
        let named: Vec<(usize, Rational)> = match self {
            Ballot::Approval(approved) => approved
                .iter()
                .map(|&project| (project, projects[project].cost.clone()))
                .collect(),
            Ballot::Cumulative(points) => points.clone(),
            Ballot::Ordinal(ranking) => {
                let last = ranking.len();
                ranking
                    .iter()
                    .enumerate()
                    .map(|(position, &project)| {
                        (
                            project,
                            Rational::from_integer((last - 1 - position).into()),
                        )
                    })
                    .collect()
            }
        };
        named
            .into_iter()
            .filter(|(_, satisfaction)| *satisfaction > Rational::default())
            .collect()
    }

    /// Which kind of ballot this is.
    pub fn kind(&self) -> BallotKind {
        match self {
            Ballot::Approval(_) => BallotKind::Approval,
            Ballot::Cumulative(_) => BallotKind::Cumulative,
            Ballot::Ordinal(_) => BallotKind::Ordinal,
        }
    }

    /// The projects the ballot names, in the order written.
    pub fn projects(&self) -> Vec<usize> {
        match self {
            Ballot::Approval(projects) | Ballot::Ordinal(projects) => projects.clone(),
            Ballot::Cumulative(points) => points.iter().map(|(project, _)| *project).collect(),
        }
    }
}

/// A voter: an anonymous id, a weight and a ballot.
#[derive(Clone, Debug, PartialEq)]
pub struct Voter {
    pub id: String,
    /// How many identical ballots this voter counts as; any positive rational.
    pub weight: Rational,
    pub ballot: Ballot,
    /// Further columns of the vote (age, voting method, …) kept for export.
    pub extra: Vec<(String, String)>,
}

/// An election: the budget, the projects and the voters.
#[derive(Clone, Debug, PartialEq)]
pub struct Election {
    /// The META section's key/value pairs as read, `budget` and
    /// `vote_type` among them.
    pub meta: Vec<(String, String)>,
    pub budget: Rational,
    pub kind: BallotKind,
    pub projects: Vec<Project>,
    pub voters: Vec<Voter>,
}

impl Election {
    /// The META value for `key`, if present.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// The sum of all voters' weights.
    pub fn total_weight(&self) -> Rational {
        crate::number::sum(self.voters.iter().map(|voter| &voter.weight))
    }
}
