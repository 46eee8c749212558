//! Identifiers: UUIDv7 as text. Time-ordered, so ordering by id is ordering
//! by creation, which is what cursor pagination walks.

pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Now, in UTC, as stored (microsecond precision on both databases).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now().naive_utc();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// A stored UTC timestamp as it is shown in the API.
pub fn utc(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    at.and_utc()
}
