//! The writer: write commands grouped into one commit.
//!
//! A write command is queued (a bounded queue: when it is full the caller is
//! answered 503 `overloaded` at once, never queued without end) to one
//! thread, the only one that writes through it. It takes what is queued, up to
//! [`MAX_BATCH`] commands, and runs them in one transaction, each command in
//! its own savepoint so that a refusal rolls back only itself; it commits
//! once and only then answers every command of the batch. If the batch
//! cannot commit, no command is answered as done: each gets the failure
//! (503), and a retry with the same `Idempotency-Key` runs again.
//!
//! A batch runs on a connection of the pool (so it has the pool's settings),
//! kept for the next batch while commands keep coming and given back when
//! the queue is empty; one batch at a time, so on SQLite money writes never
//! race each other for the write lock, and on PostgreSQL a hot pool's row
//! lock is taken once per batch.
//! Commands run in the order they were queued; a command's reads see every
//! earlier command of its batch (the same transaction), so one
//! `Idempotency-Key` twice in a batch executes once and then replays.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::{checkout, health, judge, DbConnection, DbPool, PooledConnection, CHECKOUT_TIMEOUT};
use crate::clock::Clock;
use crate::error::{Error, Result};

/// The most commands one transaction takes.
pub const MAX_BATCH: usize = 256;

/// Commands that may wait for the writer by default; one more is refused.
pub const DEFAULT_QUEUE: usize = 4096;

/// Writers on PostgreSQL at most (each takes a pooled connection per
/// batch).
pub const POSTGRES_WRITERS: usize = 4;

/// Seconds an `overloaded` caller is told to wait.
pub const OVERLOADED_RETRY_AFTER: u64 = 1;

/// How often, at most, the checkpointer moves what the writer committed
/// from SQLite's write-ahead log into the database file.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// One queued command: its work, and where its answer goes.
trait Command: Send {
    /// Runs the work on the batch's connection (in a savepoint the writer
    /// opened) and keeps its result; says how it ended.
    fn run(&mut self, conn: &mut DbConnection, health: &Arc<health::Health>) -> Ran;
    /// Answers the caller: with the kept result once the batch committed,
    /// or with the batch's failure.
    fn answer(self: Box<Self>, batch: std::result::Result<(), &Error>);
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    Done,
    /// It answered with a refusal. What its own transactions did stays as
    /// they left it (each rolled back its part on error, or was released),
    /// as when each committed by itself before the writer: its savepoint is
    /// released.
    Refused,
    /// It panicked, hit a bug, or the storage failed under it: its
    /// savepoint is rolled back.
    Failed,
}

struct Queued<T, F> {
    work: Option<F>,
    clock: Clock,
    result: Option<Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

impl<T, F> Command for Queued<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
{
    fn run(&mut self, conn: &mut DbConnection, health: &Arc<health::Health>) -> Ran {
        let Some(work) = self.work.take() else {
            return Ran::Failed;
        };
        let clock = &self.clock;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            health::scope(health, || clock.run(|| work(conn)))
        }))
        .unwrap_or_else(|_| Err(Error::Internal("a write command panicked".into())));
        let result = judge(health, conn, result);
        let ran = match &result {
            Ok(_) => Ran::Done,
            Err(
                Error::Storage(_)
                | Error::Unavailable(_)
                | Error::StorageFull(_)
                | Error::Internal(_),
            ) => Ran::Failed,
            Err(_) => Ran::Refused,
        };
        self.result = Some(result);
        ran
    }

    fn answer(self: Box<Self>, batch: std::result::Result<(), &Error>) {
        let answer = match (batch, self.result) {
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(Error::Internal("a write command did not run".into())),
            (Err(failure), _) => Err(failed(failure)),
        };
        // A caller that went away needs no answer.
        let _ = self.reply.send(answer);
    }
}

/// What every command of a batch that could not commit is answered.
fn failed(cause: &Error) -> Error {
    match cause {
        Error::StorageFull(message) => Error::StorageFull(message.clone()),
        other => Error::Unavailable(format!("the batch was not committed: {other}")),
    }
}

/// The queue to the writer thread. Dropping the last handle stops the
/// thread once the queue is empty.
pub struct Writer {
    queue: SyncSender<Box<dyn Command>>,
}

impl Writer {
    /// Starts the writer thread; each batch takes a connection of `pool`
    /// (so a connection's settings are the pool's), and only this thread
    /// writes through it.
    ///
    /// On SQLite (`sqlite`), the writer's connection does not checkpoint
    /// the write-ahead log itself: a thread beside it does (see
    /// [`checkpoints`]).
    pub fn start(pool: DbPool, health: Arc<health::Health>, capacity: usize, sqlite: bool) -> Self {
        let (queue, commands) = sync_channel::<Box<dyn Command>>(capacity.max(1));
        let committed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        if sqlite {
            let (pool, health, committed) =
                (pool.clone(), health.clone(), Arc::downgrade(&committed));
            std::thread::Builder::new()
                .name("commonpot-checkpoint".into())
                .spawn(move || checkpoints(pool, health, committed))
                .map(|_| ())
                .unwrap_or_else(|e| tracing::error!(%e, "cannot start the checkpoint thread"));
        }
        std::thread::Builder::new()
            .name("commonpot-writer".into())
            .spawn(move || {
                Batches {
                    pool,
                    health,
                    committed,
                }
                .serve(commands)
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!(%e, "cannot start the writer thread"));
        Self { queue }
    }

    /// Queues `work` and waits for its answer, given once its batch has
    /// committed (or failed).
    pub async fn write<T, F>(&self, clock: Clock, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let command = Box::new(Queued {
            work: Some(work),
            clock,
            result: None,
            reply,
        });
        match self.queue.try_send(command) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(Error::Overloaded {
                    retry_after_secs: OVERLOADED_RETRY_AFTER,
                })
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::Unavailable("the writer has stopped".into()))
            }
        }
        answer
            .await
            .map_err(|_| Error::Unavailable("the writer dropped a command".into()))?
    }
}

/// The writer thread's state.
struct Batches {
    pool: DbPool,
    health: Arc<health::Health>,
    /// Batches committed so far (the checkpointer's cue; it stops when
    /// this is dropped with the writer).
    committed: Arc<std::sync::atomic::AtomicU64>,
}

/// How the writer's connection is set while the writer holds it, and how
/// it is given back. On SQLite: no `wal_autocheckpoint` (SQLite's default
/// is 1,000 pages), see [`checkpoints`]; and a page cache of 32 MiB instead
/// of SQLite's 2 MiB: under load the writer touches more index pages than
/// 2 MiB holds and read them again from the file at every batch (11,000
/// reads a second, #23). Nobody else writes while it holds it, so its
/// cache stays valid from batch to batch.
const HELD: &str = "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -32768";
const GIVEN_BACK: &str = "PRAGMA wal_autocheckpoint = 1000; PRAGMA cache_size = -2000";

/// SQLite's checkpoints, off the writer's thread. By default the connection
/// that commits past 1,000 pages of log copies them into the database file
/// and syncs it, within its commit: the writer, every few batches, a sixth
/// of its time under load (#23), with every command of the batch waiting.
/// While the writer holds a connection, that connection does not; this
/// thread copies what was committed, `PASSIVE` (it never waits for the
/// writer or readers, nor makes them wait), at most every
/// [`CHECKPOINT_EVERY`], on a connection of its own. The connection the
/// writer gives back checkpoints by itself again.
fn checkpoints(
    pool: DbPool,
    health: Arc<health::Health>,
    committed: std::sync::Weak<std::sync::atomic::AtomicU64>,
) {
    use diesel::connection::SimpleConnection;
    use std::sync::atomic::Ordering;
    let mut done = 0;
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        let Some(now) = committed.upgrade().map(|c| c.load(Ordering::Relaxed)) else {
            return;
        };
        if now == done {
            continue;
        }
        let Ok(mut conn) = checkout(&pool, &health, CHECKOUT_TIMEOUT) else {
            continue;
        };
        if let DbConnection::Sqlite(c) = &mut **conn {
            match c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                Ok(()) => done = now,
                Err(e) => tracing::warn!(%e, "checkpoint failed"),
            }
        }
    }
}

impl Batches {
    /// Takes the queued commands in batches. The batches' connection is
    /// kept from one batch to the next while commands keep coming, and goes
    /// back to the pool once the queue is empty: on SQLite nobody else
    /// writes, so its page cache stays valid between batches (a connection
    /// that another wrote behind starts every batch by reading its pages
    /// again), and no batch waits on the pool or its check on checkout.
    fn serve(self, commands: Receiver<Box<dyn Command>>) {
        let mut held: Option<PooledConnection> = None;
        loop {
            let first = match commands.try_recv() {
                Ok(first) => first,
                Err(TryRecvError::Empty) => {
                    self.give_back(held.take());
                    match commands.recv() {
                        Ok(first) => first,
                        Err(_) => return,
                    }
                }
                Err(TryRecvError::Disconnected) => {
                    self.give_back(held.take());
                    return;
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            tracing::debug!(commands = batch.len(), "write batch");
            held = self.run(batch, held.take());
        }
    }

    /// Gives the connection back to the pool, set as the pool's others.
    fn give_back(&self, held: Option<PooledConnection>) {
        if let Some(mut conn) = held {
            if let DbConnection::Sqlite(c) = &mut **conn {
                use diesel::connection::SimpleConnection;
                if let Err(e) = c.batch_execute(GIVEN_BACK) {
                    tracing::warn!(%e, "the writer's connection cannot checkpoint by itself again");
                }
            }
        }
    }

    /// Runs one batch in one transaction and answers it; gives back the
    /// connection when it can take another batch.
    fn run(
        &self,
        mut batch: Vec<Box<dyn Command>>,
        held: Option<PooledConnection>,
    ) -> Option<PooledConnection> {
        let mut conn = match held {
            Some(conn) => conn,
            None => match self.take() {
                Ok(conn) => conn,
                Err(e) => {
                    answer_all(batch, Err(&e));
                    return None;
                }
            },
        };
        let outcome = self.transaction(&mut conn, &mut batch);
        // After a failure, what is left of the transaction is rolled back;
        // a connection still in one, or broken, is not kept (the pool drops
        // it on return).
        let reusable = match &outcome {
            Ok(()) => {
                use diesel::r2d2::R2D2Connection;
                !conn.is_broken()
            }
            Err(_) => settle(&mut conn),
        };
        let conn = if reusable { Some(conn) } else { None };
        answer_all(batch, outcome.as_ref().map(|_| ()));
        conn
    }

    /// A connection of the pool for the batches, set for them ([`HELD`]).
    fn take(&self) -> Result<PooledConnection> {
        let mut conn = checkout(&self.pool, &self.health, CHECKOUT_TIMEOUT)?;
        if let DbConnection::Sqlite(c) = &mut **conn {
            use diesel::connection::SimpleConnection;
            c.batch_execute(HELD).map_err(Error::Storage)?;
        }
        Ok(conn)
    }

    fn transaction(&self, conn: &mut DbConnection, batch: &mut [Box<dyn Command>]) -> Result<()> {
        let health = &self.health;
        let begun = match conn {
            DbConnection::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
            }
            DbConnection::Postgres(_) => {
                <DbConnection as TransactionManager<DbConnection>>::begin_transaction(conn)
            }
        };
        if let Err(e) = begun {
            return judge(health, conn, Err(Error::Storage(e)));
        }
        let mut wrote = false;
        for command in batch.iter_mut() {
            if let Err(e) =
                <DbConnection as TransactionManager<DbConnection>>::begin_transaction(conn)
            {
                return judge(health, conn, Err(Error::Storage(e)));
            }
            let closed = match command.run(conn, health) {
                Ran::Done | Ran::Refused => {
                    wrote = true;
                    <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)
                }
                Ran::Failed => {
                    <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn)
                }
            };
            // A savepoint that cannot be closed means the transaction is
            // gone under us (SQLite rolls back by itself on a full disk; a
            // connection cut off): the whole batch fails.
            if let Err(e) = closed {
                return judge(health, conn, Err(Error::Storage(e)));
            }
        }
        // Events are numbered last, just before commit, so their numbers
        // follow commit order (see `crate::events`).
        let committed = health::scope(health, || -> Result<()> {
            crate::events::number_pending(conn)?;
            <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)?;
            // Only a batch that wrote something says storage has room.
            if wrote {
                health::committed();
                self.committed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        });
        judge(health, conn, committed)
    }
}

/// After a failed batch: rolls back what is left of its transaction. False
/// when the connection cannot be trusted with another batch.
fn settle(conn: &mut DbConnection) -> bool {
    use diesel::r2d2::R2D2Connection;
    // Each rollback closes one level (savepoint, then the transaction).
    for _ in 0..4 {
        let depth =
            <DbConnection as TransactionManager<DbConnection>>::transaction_manager_status_mut(
                conn,
            )
            .transaction_depth();
        match depth {
            Ok(None) => return !conn.is_broken(),
            Ok(Some(_)) => {
                if <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn)
                    .is_err()
                {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

fn answer_all(batch: Vec<Box<dyn Command>>, outcome: std::result::Result<(), &Error>) {
    for command in batch {
        command.answer(outcome);
    }
}
