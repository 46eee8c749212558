//! The domain's error: what went wrong in business terms. The HTTP layer maps
//! each variant to a problem+json response once, in `http::problem`.

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A value the caller sent breaks a rule; `field` names it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request is well formed but clashes with the current state.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        /// Facts the caller can act on (current state, available amount …).
        extra: Option<Value>,
    },
    /// The caller is known but may not do this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The caller could not be identified.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// Too many attempts; try again after this many seconds.
    #[error("too many attempts")]
    RateLimited {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    /// `If-Match` names a version that is no longer current.
    #[error("the resource has changed since it was read")]
    PreconditionFailed { current_etag: String },
    /// The database could not be reached in time, or the query was cut
    /// off, or it stayed locked: nothing was changed, try again.
    #[error("the database is unavailable")]
    Unavailable(String),
    /// Too many writes are waiting for the writer: nothing was done, try
    /// again after this many seconds.
    #[error("too many writes are waiting")]
    Overloaded { retry_after_secs: u64 },
    /// The database cannot store more (disk full, or SQLite's page limit):
    /// the write was rolled back.
    #[error("the database's storage is full")]
    StorageFull(String),
    /// A storage failure nobody can fix by changing the request: a bug or an
    /// outage. Logged in full, shown to the caller as a bare 500.
    #[error("storage error: {0}")]
    Storage(#[from] diesel::result::Error),
    #[error("internal error: {0}")]
    Internal(String),
    /// A sealed private value does not open here (copied from another row,
    /// altered, or sealed with a key the keyring lacks): `crate::crypto`.
    #[error("a private value cannot be decrypted: {0}")]
    Undecryptable(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            code: "forbidden",
            message: message.into(),
        }
    }
}

/// A stored value read as its enum (`parsed`); one the code does not know
/// (a bug, or a database written by another version) is an internal error
/// naming the row.
pub fn known<T>(parsed: Option<T>, row: &str, id: &str, stored: &str) -> Result<T> {
    parsed.ok_or_else(|| Error::Internal(format!("{row} {id}: unknown stored value {stored:?}")))
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(error.to_string())
    }
}
