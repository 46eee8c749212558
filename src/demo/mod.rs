//! `commonpot demo`: a believable collective with six months of history,
//! for newcomers, screenshots and load tests.
//!
//! The story is planned first from the seed ([`plan`]: who joins, gives,
//! pledges and asks, and what becomes of each request), then played through
//! the same services the API calls ([`run`]), with a settable clock moved
//! forward step by step — so every invariant, audit record and event is
//! real, installments fall due and pledges lapse as weeks pass. Everything
//! is written in one transaction: a demo that fails leaves nothing behind,
//! and a database that already holds a collective is refused untouched.

mod names;
pub mod plan;
mod run;

use std::collections::BTreeMap;

pub use run::run;

/// What to build.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The same seed gives the same names, amounts, states and counts.
    pub seed: u64,
    /// Multiplies members (40 each) and requests (60 each) for load tests.
    /// Members beyond the first 40 get no password: hashing thousands would
    /// take minutes.
    pub scale: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self { seed: 1, scale: 1 }
    }
}

/// A way in: who, and the password the demo gave them.
#[derive(Debug, Clone)]
pub struct Account {
    pub role: &'static str,
    pub name: String,
    pub email: String,
    pub password: String,
}

/// What the demo made.
#[derive(Debug, Clone)]
pub struct Demo {
    pub collective_id: String,
    pub collective_name: String,
    pub accounts: Vec<Account>,
    /// The partner app's client id and secret.
    pub partner: (String, String),
    pub members: usize,
    pub pools: usize,
    pub contributions: usize,
    pub pledges: usize,
    pub rounds: usize,
    /// Requests per state, as the service counts them.
    pub requests: BTreeMap<String, i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the database already holds a collective; the demo needs an empty one \
         (so demo data never mixes with real data) — nothing was changed"
    )]
    NotEmpty,
    #[error("demo step {step} failed: {error}")]
    Step {
        step: String,
        error: crate::error::Error,
    },
    #[error(transparent)]
    Service(#[from] crate::error::Error),
}

impl From<diesel::result::Error> for DemoError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Service(error.into())
    }
}
