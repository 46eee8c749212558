//! The time the services read, and the ids they mint (a UUIDv7 carries its
//! time). The server runs on the system clock; the demo and tests use a
//! settable one, so six months of history can pass in a few seconds and a
//! test can watch an installment fall due.
//!
//! Every service takes a database connection and nothing else, so the clock
//! travels with the database handle: [`crate::db::Db`] holds one and puts it
//! in scope for the thread running the work ([`Clock::run`]); services read it
//! through [`now`] and [`new_id`] (re-exported as `ids::now`/`ids::new_id`).
//! Outside any scope the system clock answers.
//!
//! What is not read from here: token lifetimes (jsonwebtoken checks `exp`
//! against the system clock, so tokens are issued by it too) and durations
//! measured with `Instant` (metrics, progress).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};
use uuid::timestamp::context::ContextV7;
use uuid::{Timestamp, Uuid};

/// A source of the current time.
#[derive(Clone)]
pub struct Clock(Arc<Source>);

enum Source {
    System,
    /// Stands still until moved; ids minted at one instant stay in order
    /// through the context's counter.
    Settable {
        at: Mutex<DateTime<Utc>>,
        ids: Mutex<ContextV7>,
    },
}

impl Clock {
    /// The wall clock (the server's).
    pub fn system() -> Self {
        Self(Arc::new(Source::System))
    }

    /// A clock that reads `at` until it is moved forward.
    pub fn settable(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Source::Settable {
            at: Mutex::new(stored_precision(at)),
            ids: Mutex::new(ContextV7::new()),
        }))
    }

    pub fn is_settable(&self) -> bool {
        matches!(*self.0, Source::Settable { .. })
    }

    /// Now, at the precision both databases store (microseconds).
    pub fn now(&self) -> DateTime<Utc> {
        match &*self.0 {
            Source::System => stored_precision(Utc::now()),
            Source::Settable { at, .. } => *lock(at),
        }
    }

    /// A new time-ordered id carrying this clock's time.
    pub fn new_id(&self) -> String {
        let id = match &*self.0 {
            Source::System => Uuid::now_v7(),
            Source::Settable { at, ids } => {
                let at = *lock(at);
                let seconds = u64::try_from(at.timestamp()).unwrap_or(0);
                Uuid::new_v7(Timestamp::from_unix(
                    &*lock(ids),
                    seconds,
                    at.timestamp_subsec_nanos(),
                ))
            }
        };
        id.hyphenated().to_string()
    }

    /// Moves a settable clock to `to`. Time only goes forward (ids are
    /// ordered by it), so an earlier `to` is a bug in the caller.
    ///
    /// # Panics
    /// On the system clock, or when `to` is earlier than now.
    pub fn set(&self, to: DateTime<Utc>) {
        match &*self.0 {
            Source::System => panic!("the system clock cannot be set"),
            Source::Settable { at, .. } => {
                let mut at = lock(at);
                let to = stored_precision(to);
                assert!(to >= *at, "a clock moves forward only ({} → {to})", *at);
                *at = to;
            }
        }
    }

    /// Moves a settable clock forward by `by` (see [`Clock::set`]).
    pub fn advance(&self, by: TimeDelta) {
        self.set(self.now() + by);
    }

    /// Runs `work` with this clock in scope on the current thread: [`now`]
    /// and [`new_id`] read it until `work` returns (or panics).
    pub fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        struct Restore(Option<Clock>);
        impl Drop for Restore {
            fn drop(&mut self) {
                IN_SCOPE.with(|scope| *scope.borrow_mut() = self.0.take());
            }
        }
        let previous = IN_SCOPE.with(|scope| scope.borrow_mut().replace(self.clone()));
        let _restore = Restore(previous);
        work()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Source::System => f.write_str("Clock::System"),
            Source::Settable { at, .. } => write!(f, "Clock::Settable({})", *lock(at)),
        }
    }
}

thread_local! {
    static IN_SCOPE: RefCell<Option<Clock>> = const { RefCell::new(None) };
}

/// The clock in scope on this thread, or the system clock.
pub fn current() -> Clock {
    IN_SCOPE
        .with(|scope| scope.borrow().clone())
        .unwrap_or_else(Clock::system)
}

/// Now, as stored: UTC, microsecond precision.
pub fn now() -> NaiveDateTime {
    now_utc().naive_utc()
}

/// Now, as a UTC instant.
pub fn now_utc() -> DateTime<Utc> {
    IN_SCOPE.with(|scope| match &*scope.borrow() {
        Some(clock) => clock.now(),
        None => stored_precision(Utc::now()),
    })
}

/// A new UUIDv7 (as text) from the clock in scope.
pub fn new_id() -> String {
    IN_SCOPE.with(|scope| match &*scope.borrow() {
        Some(clock) => clock.new_id(),
        None => Uuid::now_v7().hyphenated().to_string(),
    })
}

fn stored_precision(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

/// A poisoned lock here only means another thread panicked between two
/// plain assignments; the value is whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_settable_clock_reads_what_it_was_set_to() {
        let clock = Clock::settable(at("2026-05-01T09:00:00Z"));
        assert_eq!(clock.now(), at("2026-05-01T09:00:00Z"));
        clock.advance(TimeDelta::days(31));
        assert_eq!(clock.now(), at("2026-06-01T09:00:00Z"));
        clock.set(at("2026-06-02T00:00:00.1234567Z"));
        assert_eq!(clock.now(), at("2026-06-02T00:00:00.123456Z"), "µs stored");
    }

    #[test]
    #[should_panic(expected = "forward only")]
    fn a_settable_clock_never_goes_back() {
        let clock = Clock::settable(at("2026-05-01T09:00:00Z"));
        clock.set(at("2026-04-30T09:00:00Z"));
    }

    #[test]
    fn ids_carry_the_clock_time_and_stay_ordered_within_an_instant() {
        let clock = Clock::settable(at("2026-05-01T09:00:00Z"));
        let ids: Vec<String> = (0..1000).map(|_| clock.new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "minted in order, sorted in order");
        let uuid = Uuid::parse_str(&ids[0]).unwrap();
        let (seconds, _) = uuid.get_timestamp().unwrap().to_unix();
        assert_eq!(seconds as i64, at("2026-05-01T09:00:00Z").timestamp());
        clock.advance(TimeDelta::milliseconds(1));
        assert!(clock.new_id() > ids[999]);
    }

    #[test]
    fn the_clock_in_scope_is_read_and_the_previous_one_restored() {
        let outer = Clock::settable(at("2026-01-01T00:00:00Z"));
        let inner = Clock::settable(at("2026-02-01T00:00:00Z"));
        let wall_before = Utc::now();
        assert!(
            now_utc() >= stored_precision(wall_before),
            "system outside any scope"
        );
        outer.run(|| {
            assert_eq!(now_utc(), at("2026-01-01T00:00:00Z"));
            let inside = std::panic::catch_unwind(|| {
                inner.run(|| {
                    assert_eq!(now(), at("2026-02-01T00:00:00Z").naive_utc());
                    panic!("work fails");
                })
            });
            assert!(inside.is_err());
            assert_eq!(
                now_utc(),
                at("2026-01-01T00:00:00Z"),
                "restored after a panic"
            );
            let id = Uuid::parse_str(&new_id()).unwrap();
            let (seconds, _) = id.get_timestamp().unwrap().to_unix();
            assert_eq!(seconds as i64, at("2026-01-01T00:00:00Z").timestamp());
        });
        assert!(now_utc() >= stored_precision(wall_before));
        assert!(!current().is_settable());
    }
}
