//! A round's phases, and every legal transition in one function.
//!
//! ```text
//! draft → open → closed → tallied → enacted
//! draft | open | closed | tallied → cancelled
//! ```

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Draft,
    Open,
    Closed,
    Tallied,
    Enacted,
    Cancelled,
}

/// What can happen to a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Its title, budget, candidates or rules change.
    Edit,
    Open,
    /// Ballots are cast, replaced or withdrawn.
    Vote,
    Close,
    Tally,
    Enact,
    Cancel,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Draft,
        Phase::Open,
        Phase::Closed,
        Phase::Tallied,
        Phase::Enacted,
        Phase::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Tallied => "tallied",
            Self::Enacted => "enacted",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The phase after `step`, or `None` if it cannot happen now.
    pub fn after(self, step: Step) -> Option<Phase> {
        use Phase::*;
        Some(match (self, step) {
            (Draft, Step::Edit) => Draft,
            (Draft, Step::Open) => Open,
            (Open, Step::Vote) => Open,
            (Open, Step::Close) => Closed,
            (Closed, Step::Tally) => Tallied,
            (Tallied, Step::Enact) => Enacted,
            (Draft | Open | Closed | Tallied, Step::Cancel) => Cancelled,
            _ => return None,
        })
    }

    /// Like [`Phase::after`], as the 409 the API answers.
    pub fn require(self, step: Step) -> Result<Phase, Error> {
        self.after(step).ok_or_else(|| {
            let (code, message) = match step {
                Step::Edit => (
                    "round_locked",
                    format!(
                        "a round that is {} cannot change; its rules are fixed once it opens",
                        self.as_str()
                    ),
                ),
                Step::Vote => (
                    "round_not_open",
                    format!(
                        "ballots are cast while a round is open; this one is {}",
                        self.as_str()
                    ),
                ),
                _ => (
                    "invalid_transition",
                    format!(
                        "a round that is {} cannot be {}",
                        self.as_str(),
                        describe(step)
                    ),
                ),
            };
            Error::Conflict {
                code,
                message,
                extra: Some(serde_json::json!({"current_phase": self.as_str()})),
            }
        })
    }
}

fn describe(step: Step) -> &'static str {
    match step {
        Step::Edit => "changed",
        Step::Open => "opened",
        Step::Vote => "voted in",
        Step::Close => "closed",
        Step::Tally => "tallied",
        Step::Enact => "enacted",
        Step::Cancel => "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_runs_from_draft_to_enacted() {
        let mut phase = Phase::Draft;
        for step in [
            Step::Edit,
            Step::Open,
            Step::Vote,
            Step::Close,
            Step::Tally,
            Step::Enact,
        ] {
            phase = phase.require(step).unwrap();
        }
        assert_eq!(phase, Phase::Enacted);
    }

    #[test]
    fn an_open_round_cannot_change_and_a_finished_one_cannot_be_cancelled() {
        assert!(matches!(
            Phase::Open.require(Step::Edit),
            Err(Error::Conflict {
                code: "round_locked",
                ..
            })
        ));
        for phase in [Phase::Enacted, Phase::Cancelled] {
            assert_eq!(phase.after(Step::Cancel), None);
        }
        assert_eq!(Phase::Closed.after(Step::Vote), None);
    }

    #[test]
    fn names_round_trip() {
        for phase in Phase::ALL {
            assert_eq!(Phase::parse(phase.as_str()), Some(phase));
        }
    }
}
