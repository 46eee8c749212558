//! The life of an aid request: its states, and every legal transition in
//! one function.
//!
//! ```text
//! draft → submitted → in_review → approved | rejected | in_vote
//! in_vote → approved | not_funded, or back to in_review if the round is cancelled
//! approved → partially_paid → paid
//! withdrawn (by the requester, before payment); cancelled (by coordinators)
//! ```

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    Submitted,
    InReview,
    Approved,
    Rejected,
    InVote,
    NotFunded,
    PartiallyPaid,
    Paid,
    Withdrawn,
    Cancelled,
}

/// What can happen to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Submit,
    /// A coordinator takes it into review.
    TakeIntoReview,
    /// The final approval, or a funded vote.
    Approve,
    Reject,
    /// A budgeting round opens with it as a candidate.
    EnterVote,
    VoteNotFunded,
    /// Its round was cancelled.
    LeaveVote,
    /// A payment that leaves some of the approved amount unpaid.
    PayPart,
    /// The payment that completes the approved amount.
    PayRest,
    Withdraw,
    Cancel,
    /// The requester changes it (approvals so far are cleared).
    Amend,
}

impl State {
    pub const ALL: [State; 11] = [
        State::Draft,
        State::Submitted,
        State::InReview,
        State::Approved,
        State::Rejected,
        State::InVote,
        State::NotFunded,
        State::PartiallyPaid,
        State::Paid,
        State::Withdrawn,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Submitted => "submitted",
            Self::InReview => "in_review",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::InVote => "in_vote",
            Self::NotFunded => "not_funded",
            Self::PartiallyPaid => "partially_paid",
            Self::Paid => "paid",
            Self::Withdrawn => "withdrawn",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The states a request ends in: nothing can happen to it any more
    /// (see [`State::after`]), and retention counts from when it got there.
    pub const CLOSED: [State; 5] = [
        State::Paid,
        State::Rejected,
        State::Withdrawn,
        State::Cancelled,
        State::NotFunded,
    ];

    pub fn is_closed(self) -> bool {
        Self::CLOSED.contains(&self)
    }

    /// The state after `event`, or `None` if it cannot happen now.
    pub fn after(self, event: Event) -> Option<State> {
        use Event::*;
        use State::*;
        Some(match (self, event) {
            (Draft, Submit) => Submitted,
            (Submitted, TakeIntoReview) => InReview,
            (InReview, Approve) | (InVote, Approve) => Approved,
            (InReview, Reject) => Rejected,
            (Submitted | InReview, EnterVote) => InVote,
            (InVote, VoteNotFunded) => NotFunded,
            (InVote, LeaveVote) => InReview,
            (Approved | PartiallyPaid, PayPart) => PartiallyPaid,
            (Approved | PartiallyPaid, PayRest) => Paid,
            (Draft | Submitted | InReview | Approved, Withdraw) => Withdrawn,
            (Submitted | InReview | Approved | PartiallyPaid, Cancel) => Cancelled,
            (Draft | Submitted | InReview, Amend) => self,
            _ => return None,
        })
    }

    /// Like [`State::after`], as the 409 the API answers.
    pub fn require(self, event: Event) -> Result<State, Error> {
        self.after(event).ok_or_else(|| Error::Conflict {
            code: "invalid_transition",
            message: format!(
                "a request that is {} cannot be {}",
                self.as_str(),
                describe(event)
            ),
            extra: Some(serde_json::json!({"current_state": self.as_str()})),
        })
    }
}

fn describe(event: Event) -> &'static str {
    match event {
        Event::Submit => "submitted",
        Event::TakeIntoReview => "taken into review",
        Event::Approve => "approved",
        Event::Reject => "rejected",
        Event::EnterVote => "put to a vote",
        Event::VoteNotFunded => "marked not funded",
        Event::LeaveVote => "taken out of a vote",
        Event::PayPart | Event::PayRest => "paid",
        Event::Withdraw => "withdrawn",
        Event::Cancel => "cancelled",
        Event::Amend => "changed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_happy_path_runs_from_draft_to_paid() {
        let mut state = State::Draft;
        for event in [
            Event::Submit,
            Event::TakeIntoReview,
            Event::Approve,
            Event::PayPart,
            Event::PayRest,
        ] {
            state = state.require(event).unwrap();
        }
        assert_eq!(state, State::Paid);
    }

    #[test]
    fn finished_requests_go_nowhere() {
        for state in [
            State::Paid,
            State::Rejected,
            State::Withdrawn,
            State::Cancelled,
            State::NotFunded,
        ] {
            for event in [
                Event::Submit,
                Event::Approve,
                Event::Withdraw,
                Event::Cancel,
                Event::Amend,
                Event::PayPart,
            ] {
                assert_eq!(state.after(event), None, "{state:?} + {event:?}");
            }
        }
    }

    #[test]
    fn payment_closes_the_door_to_withdrawal_but_not_to_cancellation() {
        assert_eq!(State::PartiallyPaid.after(Event::Withdraw), None);
        assert_eq!(
            State::PartiallyPaid.after(Event::Cancel),
            Some(State::Cancelled)
        );
        assert_eq!(State::InVote.after(Event::LeaveVote), Some(State::InReview));
        assert!(matches!(
            State::Draft.require(Event::Approve),
            Err(Error::Conflict {
                code: "invalid_transition",
                ..
            })
        ));
    }

    #[test]
    fn the_closed_states_are_exactly_those_nothing_leaves() {
        let every_event = [
            Event::Submit,
            Event::TakeIntoReview,
            Event::Approve,
            Event::Reject,
            Event::EnterVote,
            Event::VoteNotFunded,
            Event::LeaveVote,
            Event::PayPart,
            Event::PayRest,
            Event::Withdraw,
            Event::Cancel,
            Event::Amend,
        ];
        for state in State::ALL {
            let stuck = every_event.iter().all(|e| state.after(*e).is_none());
            assert_eq!(state.is_closed(), stuck, "{state:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
    }
}
