//! A person's data is theirs (issue #25): everything held about a person
//! can be exported, a person can be erased without breaking the ledger, and
//! the private fields of closed requests are redacted after a while.
//!
//! * [`export`]: one JSON document of everything about the signed-in
//!   person, made on request and never stored.
//! * [`erasure`]: an admin erases a person from their collective (the
//!   membership and what belongs to it there); a person erases themself
//!   everywhere. Names, contacts, private details, payout references,
//!   comment text and affectedness go; amounts, dates, states, entries and
//!   postings stay, so balances, statements and round results do not
//!   change. Every copy is reached: stored idempotent answers, event
//!   snapshots (what webhooks deliver) and audit details ([`redact`]).
//! * [`retention`]: a closed request's private fields are redacted once it
//!   has been closed longer than its collective keeps them; `serve` sweeps
//!   every hour.

pub mod erasure;
pub mod export;
pub mod http;
pub mod redact;
pub mod retention;
pub mod store;

/// What replaces an erased text that cannot simply be left out.
pub const TOMBSTONE: &str = "[erased]";
