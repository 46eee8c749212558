//! The pabulib `.pb` interchange format (<https://pabulib.org/format>):
//! sections META, PROJECTS and VOTES of `;`-separated records, read into an
//! [`Election`](crate::election::Election) and written back so that anyone can
//! re-run a tally with independent tools. Our one extension: an optional
//! `weight` column in VOTES (a positive rational; 1 when absent).

mod csv;
mod read;
mod write;

use std::fmt;

pub use read::parse;
pub use write::{write, WeightEncoding, WriteError};

/// A malformed `.pb` file: what is wrong, and on which line when it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line (from 1), or `None` when the problem is the file as a whole.
    pub line: Option<usize>,
    pub message: String,
}

impl ParseError {
    fn at(line: usize, message: String) -> Self {
        ParseError {
            line: Some(line),
            message,
        }
    }

    fn file(message: String) -> Self {
        ParseError {
            line: None,
            message,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParseError {}
