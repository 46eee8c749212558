//! Identifiers: UUIDv7 as text. Time-ordered, so ordering by id is ordering
//! by creation, which is what cursor pagination walks. Both they and "now"
//! come from the clock in scope (see [`crate::clock`]).

pub use crate::clock::{new_id, now};

/// A stored UTC timestamp as it is shown in the API.
pub fn utc(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    at.and_utc()
}

/// Typed ids: what an id names travels with it across module boundaries,
/// so a hold's id cannot be passed where a pool's is meant. Stored and
/// shown as text.
macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

typed_id! {
    /// A pool's id.
    PoolId;
    /// A hold's id (a pending transfer).
    HoldId;
    /// A journal entry's id.
    EntryId;
    /// A disbursement's id (a payout drawn on a hold).
    DisbursementId;
    /// A contribution's id.
    ContributionId;
    /// A pledge's id.
    PledgeId;
    /// An aid request's id.
    RequestId;
    /// A budgeting round's id.
    RoundId;
}
