//! The participatory budgeting tally engine. No web, no database: ballots in,
//! an explained outcome out, in exact rational arithmetic.
//!
//! * [`election`]: what is voted on and how people voted;
//! * [`pabulib`]: the `.pb` interchange format, read and written;
//! * [`profile`]: ballots turned into satisfactions, identical ones merged;
//! * [`rules`]: greedy, the Method of Equal Shares, and its Add1 completion;
//! * [`explain`]: the result of a tally, explaining itself;
//! * [`number`]: exact numbers and how they are written.
//!
//! Every rule gives exactly what pabutools 1.2.3 gives, and a voter of
//! weight w counts exactly as w identical ballots.

pub mod election;
pub mod explain;
pub mod number;
pub mod pabulib;
pub mod profile;
pub mod rules;

pub use election::{Ballot, BallotKind, Election, Project, Voter};
pub use explain::{tally, InvalidElection, Prepared, ProjectReport, Tally, Verdict};
pub use number::{Exact, Rational};
pub use rules::add1::{Lanes, Progress};
pub use rules::Rule;
