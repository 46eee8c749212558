//! A person's data is theirs (issue #25): everything held about a person
//! can be exported, a person can be erased without breaking the ledger, and
//! the private fields of closed requests are redacted after a while.
//!
//! * [`export`]: one JSON document of everything about the signed-in
//!   person, made on request and never stored.

pub mod export;
pub mod http;
pub mod store;
