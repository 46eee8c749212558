//! What the service knows about its database right now: whether it can be
//! reached, and whether its storage is full. Requests read it to fail fast
//! (503 at once instead of waiting out the pool's checkout timeout) and
//! `/readyz` reports it.
//!
//! The knowledge comes from what actually happens: a connection that cannot
//! be opened, or a query cut off, marks the database unreachable; a new
//! connection, or work that completes, marks it reachable again. A write
//! refused for lack of space marks storage full for [`FULL_FOR`]; a write
//! that commits clears it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a failed write for lack of space keeps `/readyz` saying so,
/// unless a write commits meanwhile.
pub const FULL_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Health {
    /// Milliseconds since the epoch when the database was found
    /// unreachable; 0 while it is reachable.
    down_since: AtomicU64,
    /// When a write last failed for lack of space; 0 when one has committed
    /// since.
    full_at: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .max(1)
}

impl Health {
    /// The one record for a database URL in this process: the connection
    /// manager that opens connections and the handles that run work on them
    /// share it.
    pub fn of(url: &str) -> Arc<Health> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<Health>>>> = OnceLock::new();
        let mut all = ALL
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        all.entry(url.to_owned()).or_default().clone()
    }

    pub fn mark_unreachable(&self) {
        let _ = self
            .down_since
            .compare_exchange(0, now_ms(), Ordering::Relaxed, Ordering::Relaxed);
    }

    pub fn mark_reachable(&self) {
        self.down_since.store(0, Ordering::Relaxed);
    }

    /// Whether the database is known to be unreachable.
    pub fn is_unreachable(&self) -> bool {
        self.down_since.load(Ordering::Relaxed) != 0
    }

    pub fn mark_full(&self) {
        self.full_at.store(now_ms(), Ordering::Relaxed);
    }

    pub fn mark_written(&self) {
        if self.full_at.load(Ordering::Relaxed) != 0 {
            self.full_at.store(0, Ordering::Relaxed);
        }
    }

    /// Whether a write failed for lack of space within [`FULL_FOR`] and none
    /// has committed since.
    pub fn is_full(&self) -> bool {
        let at = self.full_at.load(Ordering::Relaxed);
        at != 0 && now_ms().saturating_sub(at) < FULL_FOR.as_millis() as u64
    }
}

/// What a storage error says about the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection is gone, or the database is locked past the busy
    /// timeout: nothing the request did wrong, try again.
    Unreachable,
    /// The database cannot store more (SQLite `SQLITE_FULL`, PostgreSQL
    /// `53100 disk_full` — diesel does not expose the SQLSTATE, so it is
    /// recognised by the server's ENOSPC message).
    StorageFull,
    /// The database rolled the transaction back under the service (SQLite
    /// does on a full disk or an I/O error): the savepoint or transaction
    /// the service then closes is gone.
    RolledBack,
    /// PostgreSQL broke a lock cycle by cancelling this statement
    /// (`deadlock detected`): nothing the request did wrong, try again.
    Contention,
    /// Anything else: a bug.
    Other,
}

pub fn classify(error: &diesel::result::Error) -> Failure {
    use diesel::result::{DatabaseErrorKind, Error};
    match error {
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => Failure::Unreachable,
        Error::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            if message.contains("database or disk is full")
                || message.contains("no space left on device")
            {
                Failure::StorageFull
            } else if message.contains("deadlock detected") {
                Failure::Contention
            } else if message.contains("no such savepoint") {
                Failure::RolledBack
            } else if message.contains("database is locked")
                || message.contains("server closed the connection")
                || message.contains("terminating connection")
                || message.contains("could not receive data from server")
                || message.contains("no connection to the server")
                || message.contains("connection to server")
            {
                Failure::Unreachable
            } else {
                Failure::Other
            }
        }
        Error::NotInTransaction => Failure::RolledBack,
        _ => Failure::Other,
    }
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Arc<Health>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with `health` as the record that [`committed`] updates (work on
/// the blocking pool runs inside it, see `Db::run`).
pub fn scope<T>(health: &Arc<Health>, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT.with(|c| c.replace(Some(health.clone())));
    let result = f();
    CURRENT.with(|c| *c.borrow_mut() = previous);
    result
}

/// A write transaction committed: storage is not (or no longer) full.
pub fn committed() {
    CURRENT.with(|c| {
        if let Some(health) = c.borrow().as_ref() {
            health.mark_written();
        }
    });
}
