//! Identifiers: UUIDv7 as text. Time-ordered, so ordering by id is ordering
//! by creation, which is what cursor pagination walks. Both they and "now"
//! come from the clock in scope (see [`crate::clock`]).

pub use crate::clock::{new_id, now};

/// A stored UTC timestamp as it is shown in the API.
pub fn utc(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    at.and_utc()
}
