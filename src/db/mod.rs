//! Storage: the one place that knows there are two databases.
//!
//! SQLite is the embedded default, PostgreSQL is production; the backend is
//! chosen from the URL scheme, and everything above this module talks to a
//! [`DbConnection`] without caring which one it is. Queries stay within the
//! subset diesel's `MultiConnection` covers: text ids, integer money, UTC
//! timestamps, no `ON CONFLICT`, no `FOR UPDATE`.

pub mod health;
pub mod schema;
pub mod statement;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever database the service was configured with.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Runs one diesel query on the concrete connection of either backend.
/// For the queries the `MultiConnection` cannot express (batch inserts), and
/// for the statements every money write runs: through the
/// `MultiConnection` diesel writes a statement's SQL text out again at each
/// call and looks its prepared statement up by that text, where on the
/// concrete connection it finds it by type (#23).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $query,
            $crate::db::DbConnection::Postgres($c) => $query,
        }
    };
}

pub type DbPool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// A connection as the pool keeps it: the connection, and when it was last
/// given back. It is used as the [`DbConnection`] it holds.
pub struct Pooled {
    conn: DbConnection,
    /// When it was last given back to the pool; `None` when it must be
    /// checked before its next use (after a failure that may have cut it).
    returned: Option<Instant>,
}

/// How long a connection may sit in the pool and still be handed out
/// without a check (HikariCP's `aliveBypassWindowMs` is 500 ms). Under load
/// connections come back within milliseconds, so no request pays a round
/// trip for a check (#23); one that sat longer (a server restarted while the
/// service was idle) is checked first, and a dead one replaced.
pub const TRUSTED_FOR: Duration = Duration::from_secs(1);

impl std::ops::Deref for Pooled {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// Why the database could not be opened or prepared. Each variant prints as
/// one line an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error(
        "unsupported database URL scheme in {0:?}: use sqlite://PATH or postgres://USER@HOST/DB"
    )]
    UnknownScheme(String),
    #[error("cannot open the SQLite database {path}: {reason}")]
    Sqlite { path: String, reason: String },
    #[error("cannot reach the PostgreSQL database at {url}: {reason}")]
    Postgres { url: String, reason: String },
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error(
        "no SQLite database at {0}: a read-only command opens an existing database and never creates one"
    )]
    Missing(String),
    #[error("{0}")]
    Schema(String),
    #[error("the database {0} cannot be written ({1}); serving needs a database it can write")]
    ReadOnly(String, String),
}

/// Which database a URL names, and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, DbSetupError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| DbSetupError::UnknownScheme(redact(url)))?;
        if path.is_empty() {
            return Err(DbSetupError::UnknownScheme(redact(url)));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The one name of this database in the process (for its [`health::Health`]).
    fn key(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => url.clone(),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// A URL fit for logs and error messages: the password is hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens connections for the pool. Unlike diesel's generic manager, it opens
/// exactly the backend the URL names (the generic `MultiConnection::establish`
/// would try SQLite first and create a file named after a PostgreSQL URL).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    health: Arc<health::Health>,
}

/// `synchronous = FULL`: in WAL mode, `NORMAL` lets an OS crash or power loss
/// roll back a commit that was already answered; a ledger answers only for
/// what is durable. `secure_delete = ON` (#24): deleted or overwritten
/// content is zeroed, so old clear text does not linger in free pages.
/// `temp_store = MEMORY`: the journal of a savepoint (the writer runs each
/// command in one, the demo each service call) stays in memory; otherwise
/// SQLite spills it past 64 KiB to a temporary file and writes every page a
/// command touches there too — more than half of the writer's writes under
/// load (#23). It is emptied when the savepoint is released, so it holds
/// one command's pages at most. Durability is unchanged: the WAL is the
/// journal of record.
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; \
     PRAGMA temp_store = MEMORY;";

impl ConnectionManager {
    pub fn new(url: DatabaseUrl) -> Self {
        let health = health::Health::of(&url.key());
        Self { url, health }
    }

    fn open(&self) -> Result<DbConnection, DbSetupError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let shown = path.display().to_string();
                let fail = |reason: String| DbSetupError::Sqlite {
                    path: shown.clone(),
                    reason,
                };
                let text = path
                    .to_str()
                    .ok_or_else(|| fail("path is not UTF-8".into()))?;
                let mut conn =
                    diesel::SqliteConnection::establish(text).map_err(|e| fail(e.to_string()))?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(|e| fail(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(|e| DbSetupError::Postgres {
                    url: redact(url),
                    reason: first_line(&e.to_string()),
                }),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

impl ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        match self.open() {
            Ok(conn) => {
                self.health.mark_reachable();
                Ok(Pooled {
                    conn,
                    returned: Some(Instant::now()),
                })
            }
            Err(e) => {
                self.health.mark_unreachable();
                Err(r2d2::Error::ConnectionError(
                    diesel::ConnectionError::BadConnection(e.to_string()),
                ))
            }
        }
    }

    /// Checked on checkout only when it sat in the pool longer than
    /// [`TRUSTED_FOR`], or came back while the database was found
    /// unreachable (a query on it, or on another, was cut off).
    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        match conn.returned {
            Some(at) if at.elapsed() < TRUSTED_FOR => Ok(()),
            _ => conn.conn.ping().map_err(r2d2::Error::QueryError),
        }
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.returned = match self.health.is_unreachable() {
            true => None,
            false => Some(Instant::now()),
        };
        std::thread::panicking() || conn.conn.is_broken()
    }
}

/// Opens the database the URL names, applies pending migrations and returns a
/// pool. A SQLite file this call created is removed again if anything fails,
/// so a bad start leaves nothing behind.
pub fn open(url: &DatabaseUrl, pool_size: u32) -> Result<DbPool, DbSetupError> {
    let created = match url {
        DatabaseUrl::Sqlite(path) => !path.exists(),
        DatabaseUrl::Postgres(_) => false,
    };
    let result = open_and_migrate(url, pool_size);
    if result.is_err() && created {
        if let DatabaseUrl::Sqlite(path) = url {
            remove_sqlite_files(path);
        }
    }
    result
}

fn open_and_migrate(url: &DatabaseUrl, pool_size: u32) -> Result<DbPool, DbSetupError> {
    let manager = ConnectionManager::new(url.clone());
    // Opening one connection first turns an unreachable database into its
    // own clear error rather than a pool timeout.
    let mut first = manager.open()?;
    require_writable(url, &mut first)?;
    migrate(&mut first)?;
    drop(first);
    let size = match url {
        DatabaseUrl::Sqlite(_) => pool_size.clamp(1, 8),
        DatabaseUrl::Postgres(_) => pool_size.max(1),
    };
    r2d2::Pool::builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
        .map_err(|e| DbSetupError::Postgres {
            url: "pool".into(),
            reason: e.to_string(),
        })
}

/// Refuses a database the service could read but not write: a read-only
/// SQLite file (which SQLite opens read-only without a word), a PostgreSQL
/// standby or a read-only default. Serving it would say ready and then fail
/// every write and sign-in.
fn require_writable(url: &DatabaseUrl, conn: &mut DbConnection) -> Result<(), DbSetupError> {
    let shown = match url {
        DatabaseUrl::Sqlite(path) => path.display().to_string(),
        DatabaseUrl::Postgres(url) => redact(url),
    };
    let refused = |reason: String| DbSetupError::ReadOnly(shown.clone(), first_line(&reason));
    match conn {
        // A write, rolled back: rewriting the header's user_version with
        // its own value. (Taking the write lock is not enough: in WAL mode
        // a read-only file grants `BEGIN IMMEDIATE`.)
        DbConnection::Sqlite(c) => {
            #[derive(QueryableByName)]
            struct UserVersion {
                #[diesel(sql_type = diesel::sql_types::Integer)]
                user_version: i32,
            }
            let version = diesel::sql_query("PRAGMA user_version")
                .get_result::<UserVersion>(c)
                .map_err(|e| refused(e.to_string()))?
                .user_version;
            c.batch_execute("BEGIN IMMEDIATE")
                .map_err(|e| refused(e.to_string()))?;
            let written = c.batch_execute(&format!("PRAGMA user_version = {version}"));
            let rolled_back = c.batch_execute("ROLLBACK");
            written.map_err(|e| refused(e.to_string()))?;
            rolled_back.map_err(|e| refused(e.to_string()))
        }
        DbConnection::Postgres(c) => {
            #[derive(QueryableByName)]
            struct Setting {
                #[diesel(sql_type = diesel::sql_types::Text)]
                read_only: String,
            }
            let setting =
                diesel::sql_query("SELECT current_setting('transaction_read_only') AS read_only")
                    .get_result::<Setting>(c)
                    .map_err(|e| refused(e.to_string()))?;
            if setting.read_only == "on" {
                return Err(refused(
                    "its transactions are read-only: a standby, or default_transaction_read_only"
                        .into(),
                ));
            }
            Ok(())
        }
    }
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Opens one connection that can only read: for commands that inspect a
/// database (`verify`) and must never create, migrate or change it. A
/// missing SQLite file is refused, not created; SQLite opens the file
/// read-only (`mode=ro`, and `query_only`), PostgreSQL sessions default to
/// read-only transactions.
pub fn open_read_only(url: &DatabaseUrl) -> Result<DbConnection, DbSetupError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let shown = path.display().to_string();
            if !path.is_file() {
                return Err(DbSetupError::Missing(shown));
            }
            let fail = |reason: String| DbSetupError::Sqlite {
                path: shown.clone(),
                reason,
            };
            let text = path
                .to_str()
                .ok_or_else(|| fail("path is not UTF-8".into()))?;
            // A URI filename: `?`, `#` and `%` in the path are escaped.
            let mut escaped = String::with_capacity(text.len());
            for c in text.chars() {
                match c {
                    '%' => escaped.push_str("%25"),
                    '?' => escaped.push_str("%3f"),
                    '#' => escaped.push_str("%23"),
                    c => escaped.push(c),
                }
            }
            let mut conn = diesel::SqliteConnection::establish(&format!("file:{escaped}?mode=ro"))
                .map_err(|e| fail(e.to_string()))?;
            conn.batch_execute("PRAGMA query_only = ON; PRAGMA busy_timeout = 10000;")
                .map_err(|e| fail(e.to_string()))?;
            Ok(DbConnection::Sqlite(conn))
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn =
                diesel::PgConnection::establish(url).map_err(|e| DbSetupError::Postgres {
                    url: redact(url),
                    reason: first_line(&e.to_string()),
                })?;
            conn.batch_execute("SET default_transaction_read_only = on")
                .map_err(|e| DbSetupError::Postgres {
                    url: redact(url),
                    reason: first_line(&e.to_string()),
                })?;
            Ok(DbConnection::Postgres(conn))
        }
    }
}

diesel::table! {
    /// Diesel's record of the migrations applied to a database.
    __diesel_schema_migrations (version) {
        version -> Text,
    }
}

/// Refuses a database whose schema is not exactly the one this binary
/// knows: one never migrated (no migration record: not a commonpot
/// database), one with migrations still pending (an older version's, such
/// as an old backup: `commonpot migrate` upgrades it), or one with
/// migrations this binary does not have (a newer version's). Reads only.
pub fn check_schema(conn: &mut DbConnection) -> Result<(), DbSetupError> {
    use diesel::migration::MigrationSource;
    let known: Vec<String> = match conn {
        DbConnection::Sqlite(_) => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map_err(|e| DbSetupError::Schema(e.to_string()))?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect()
        }
        DbConnection::Postgres(_) => {
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map_err(|e| DbSetupError::Schema(e.to_string()))?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect()
        }
    };
    let applied: Vec<String> = __diesel_schema_migrations::table
        .select(__diesel_schema_migrations::version)
        .load(conn)
        .map_err(|e| {
            DbSetupError::Schema(format!(
                "not a commonpot database: it has no migration record ({})",
                first_line(&e.to_string())
            ))
        })?;
    let unknown: Vec<&String> = applied.iter().filter(|v| !known.contains(v)).collect();
    if !unknown.is_empty() {
        return Err(DbSetupError::Schema(format!(
            "the database's schema is newer than this commonpot: it has migration(s) {} that this \
             version does not know; use the commonpot that wrote it",
            join(&unknown)
        )));
    }
    let pending: Vec<&String> = known.iter().filter(|v| !applied.contains(v)).collect();
    if !pending.is_empty() {
        return Err(DbSetupError::Schema(format!(
            "the database's schema is older than this commonpot: migration(s) {} are not applied \
             (on a copy you mean to upgrade, run `commonpot migrate` first)",
            join(&pending)
        )));
    }
    Ok(())
}

fn join(versions: &[&String]) -> String {
    versions
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `f` on one consistent snapshot of the database, reading only: a
/// read-only `REPEATABLE READ` transaction on PostgreSQL, one read
/// transaction on SQLite (in WAL mode it sees the database as of its first
/// read, whatever commits meanwhile). Nothing is written; the transaction is
/// rolled back. Inside another transaction, `f` runs in that one.
pub fn read_snapshot<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let depth =
        <DbConnection as TransactionManager<DbConnection>>::transaction_manager_status_mut(conn)
            .transaction_depth()?;
    if depth.is_some() {
        return f(conn);
    }
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?,
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?,
    }
    let result = f(conn);
    match <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn) {
        Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => result,
        Err(rollback) => result.and(Err(rollback.into())),
    }
}

/// Applies every pending migration. On PostgreSQL an advisory lock makes
/// replicas that start together take turns.
pub fn migrate(conn: &mut DbConnection) -> Result<Vec<String>, DbSetupError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
        DbSetupError::Migration(first_line(&e.to_string()))
    };
    let names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| -> Vec<String> {
        versions.into_iter().map(|v| v.to_string()).collect()
    };
    let applied = match conn {
        DbConnection::Sqlite(c) => names(
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(failed)?,
        ),
        DbConnection::Postgres(c) => {
            const LOCK: i64 = 0x636f_6d6d_6f6e_706f; // "commonpo"
            c.batch_execute(&format!("SELECT pg_advisory_lock({LOCK})"))
                .map_err(|e| DbSetupError::Migration(e.to_string()))?;
            let applied = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(names)
                .map_err(failed);
            let unlocked = c.batch_execute(&format!("SELECT pg_advisory_unlock({LOCK})"));
            let applied = applied?;
            unlocked.map_err(|e| DbSetupError::Migration(e.to_string()))?;
            applied
        }
    };
    Ok(applied)
}

/// Runs `f` in a transaction that may read and then write.
///
/// Inside another transaction it is a savepoint. Otherwise, on SQLite it
/// begins `IMMEDIATE`, taking the write lock up front: a
/// deferred transaction that reads and then writes fails with `SQLITE_BUSY`
/// under concurrent writers whatever the busy timeout. On PostgreSQL it is an
/// ordinary transaction; the guarded updates inside make it safe.
pub fn write_tx<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let depth =
        <DbConnection as TransactionManager<DbConnection>>::transaction_manager_status_mut(conn)
            .transaction_depth()?;
    if depth.is_some() {
        // Already inside a write transaction: a savepoint nests in it. On
        // failure the first error is kept (see below).
        <DbConnection as TransactionManager<DbConnection>>::begin_transaction(conn)?;
        return match f(conn) {
            Ok(value) => {
                <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)?;
                Ok(value)
            }
            Err(error) => {
                if let Err(rollback) =
                    <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn)
                {
                    tracing::warn!(%rollback, "rollback to a savepoint failed");
                }
                Err(error)
            }
        };
    }
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgres(_) => {
            <DbConnection as TransactionManager<DbConnection>>::begin_transaction(conn)?
        }
    }
    // Events written by `f` are numbered last, just before commit, so their
    // numbers follow commit order (see `crate::events`).
    match f(conn).and_then(|value| {
        crate::events::number_pending(conn)?;
        Ok(value)
    }) {
        Ok(value) => {
            <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)?;
            health::committed();
            Ok(value)
        }
        Err(error) => {
            // The first error says what went wrong. A rollback that fails
            // after it (SQLite rolls back by itself on SQLITE_FULL; a lost
            // connection cannot roll back) changes nothing: no commit was
            // sent, and a connection left in a broken state is dropped by
            // the pool.
            if let Err(rollback) =
                <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn)
            {
                tracing::warn!(%rollback, "rollback after a failed transaction failed");
            }
            Err(error)
        }
    }
}

/// Whether `conn` is inside a transaction (or a savepoint of one).
pub fn in_transaction(conn: &mut DbConnection) -> diesel::QueryResult<bool> {
    Ok(
        <DbConnection as TransactionManager<DbConnection>>::transaction_manager_status_mut(conn)
            .transaction_depth()?
            .is_some(),
    )
}

/// True when the error is a unique-key violation: how we detect "already
/// exists" portably, since `ON CONFLICT` is outside the shared subset.
pub fn is_unique_violation(error: &diesel::result::Error) -> bool {
    matches!(
        error,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes_choose_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:x.db").unwrap(),
            DatabaseUrl::Sqlite("x.db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(matches!(
            DatabaseUrl::parse("mysql://root@localhost/db"),
            Err(DbSetupError::UnknownScheme(_))
        ));
        assert!(DatabaseUrl::parse("commonpot.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://bob:s3cret@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(redact("postgres://bob@db/x"), "postgres://bob@db/x");
        let shown = DatabaseUrl::parse("mysql://bob:s3cret@db/x")
            .unwrap_err()
            .to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    /// No check on checkout for a connection back in the pool within
    /// [`TRUSTED_FOR`] (under load, every request's); one that sat longer,
    /// or came back while the database was found unreachable, is checked.
    #[test]
    fn a_connection_back_within_a_second_is_handed_out_unchecked() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("ping.db").display());
        let manager = ConnectionManager::new(DatabaseUrl::parse(&url).expect("a URL"));
        let mut conn = manager.connect().expect("a connection");
        let seen = statement::Seen::watch(&mut conn);
        let pings = || seen.ran().iter().filter(|sql| *sql == "SELECT 1").count();

        manager.is_valid(&mut conn).expect("valid");
        assert!(!manager.has_broken(&mut conn));
        manager.is_valid(&mut conn).expect("valid");
        assert_eq!(pings(), 0, "{:?}", seen.ran());

        conn.returned = Instant::now().checked_sub(TRUSTED_FOR + Duration::from_millis(10));
        manager.is_valid(&mut conn).expect("valid");
        assert_eq!(pings(), 1, "checked after sitting idle");

        manager.health.mark_unreachable();
        assert!(!manager.has_broken(&mut conn));
        manager.health.mark_reachable();
        manager.is_valid(&mut conn).expect("valid");
        assert_eq!(
            pings(),
            2,
            "checked after the database was found unreachable"
        );
    }

    #[test]
    fn migration_folders_match() {
        let names = |dir: &str| {
            let mut v: Vec<String> =
                std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
            v.sort();
            v
        };
        let sqlite = names("migrations/sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite,
            names("migrations/postgres"),
            "every migration needs a twin for the other backend"
        );
    }
}

tokio::task_local! {
    /// Set for the handling of a request that may write (see
    /// [`as_write_request`]).
    static WRITES: bool;
}

/// Runs `handling` as a request that may write: on SQLite, the database work
/// it runs through [`Db::run`] goes through the writer, so every write of a
/// request is made on the writer's connection, in its batches.
pub async fn as_write_request<F: std::future::Future>(handling: F) -> F::Output {
    WRITES.scope(true, handling).await
}

/// The database as the rest of the service sees it: a pool, a way to run
/// blocking diesel work off the async executor, and the clock that work
/// reads the time from.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: &'static str,
    clock: crate::clock::Clock,
    health: Arc<health::Health>,
    /// Where [`Db::write`] commands go: started with the first of them
    /// (one on SQLite; on PostgreSQL several, each command sent by its key).
    writers: Arc<std::sync::OnceLock<Vec<writer::Writer>>>,
    write_queue: usize,
}

/// How long a request waits for a connection while the database is
/// reachable: ordinary queueing under load.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it waits once the database is known to be unreachable.
const FAIL_FAST: Duration = Duration::from_millis(250);

/// Why `/readyz` is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    Unreachable,
    StorageFull,
}

/// A connection from the pool: waits up to `timeout` while the database is
/// reachable (requests queue for a connection under load), but gives up
/// within [`FAIL_FAST`] once it is known to be unreachable.
fn checkout(
    pool: &DbPool,
    health: &health::Health,
    timeout: Duration,
) -> crate::error::Result<PooledConnection> {
    let deadline = Instant::now() + timeout;
    loop {
        let slice = if health.is_unreachable() {
            FAIL_FAST
        } else {
            Duration::from_millis(500)
        };
        let slice = slice.min(deadline.saturating_duration_since(Instant::now()));
        match pool.get_timeout(slice) {
            Ok(conn) => return Ok(conn),
            Err(e) if health.is_unreachable() || Instant::now() >= deadline => {
                return Err(crate::error::Error::Unavailable(e.to_string()))
            }
            Err(_) => continue,
        }
    }
}

/// What a storage error means for the caller and for what is known about the
/// database: a connection cut off is `Unavailable` (503, never a bare 500),
/// and so is a database locked past its busy timeout; a full disk is
/// `StorageFull`.
fn judge<T>(
    health: &health::Health,
    conn: &mut DbConnection,
    result: crate::error::Result<T>,
) -> crate::error::Result<T> {
    use crate::error::Error;
    // SQLite rolls a transaction back by itself on SQLITE_FULL (and on I/O
    // errors); a savepoint's rollback then fails with "no such savepoint",
    // which diesel reports instead of the cause. Whether the database is
    // at its page limit tells which it was.
    let result = match result {
        Err(Error::Storage(e)) if health::classify(&e) == health::Failure::RolledBack => {
            let full = match conn {
                DbConnection::Sqlite(c) => sqlite_at_page_limit(c) == Ok(true),
                DbConnection::Postgres(_) => false,
            };
            if full {
                health.mark_full();
                return Err(Error::StorageFull(e.to_string()));
            }
            return Err(Error::Unavailable(e.to_string()));
        }
        other => other,
    };
    if !matches!(&result, Err(Error::Storage(e)) if health::classify(e) == health::Failure::Unreachable)
    {
        // The database answered.
        health.mark_reachable();
    }
    match result {
        Err(Error::Storage(e)) => match health::classify(&e) {
            health::Failure::Unreachable => {
                // A PostgreSQL connection cut off under a query is not
                // handed out again: the pool drops it when it comes back
                // (it is checked on checkout only after sitting idle).
                if let DbConnection::Postgres(c) = conn {
                    AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
                }
                if matches!(
                    e,
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::ClosedConnection
                            | diesel::result::DatabaseErrorKind::UnableToSendCommand,
                        _
                    )
                ) {
                    health.mark_unreachable();
                }
                Err(Error::Unavailable(e.to_string()))
            }
            health::Failure::StorageFull => {
                health.mark_full();
                Err(Error::StorageFull(e.to_string()))
            }
            // Writers on several connections may, rarely, wait on each
            // other's pool rows; the database cancels one statement, and
            // the request is answered as a retry (with its key, it runs
            // once).
            health::Failure::Contention => Err(Error::Unavailable(e.to_string())),
            health::Failure::RolledBack | health::Failure::Other => Err(Error::Storage(e)),
        },
        other => other,
    }
}

impl Db {
    /// On the system clock.
    pub fn new(pool: DbPool, url: &DatabaseUrl) -> Self {
        Self {
            pool,
            backend: url.backend_name(),
            clock: crate::clock::Clock::system(),
            health: health::Health::of(&url.key()),
            writers: Arc::default(),
            write_queue: writer::DEFAULT_QUEUE,
        }
    }

    /// The same database with at most `commands` write commands waiting for
    /// the writer (more are refused with 503 `overloaded`). Set before the
    /// first write.
    pub fn with_write_queue(self, commands: usize) -> Self {
        Self {
            write_queue: commands,
            writers: Arc::default(),
            ..self
        }
    }

    /// The same database with work reading the time from `clock`.
    pub fn with_clock(self, clock: crate::clock::Clock) -> Self {
        Self { clock, ..self }
    }

    pub fn clock(&self) -> &crate::clock::Clock {
        &self.clock
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    pub fn pool_state(&self) -> r2d2::State {
        self.pool.state()
    }

    /// Runs `work` with a pooled connection on the blocking thread pool,
    /// with this handle's clock in scope.
    pub async fn run<T, F>(&self, work: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> crate::error::Result<T> + Send + 'static,
    {
        // On SQLite, the work of a request that writes goes through the
        // writer: one connection writes, nobody races it for the lock.
        if self.backend == "sqlite" && WRITES.try_with(|w| *w).unwrap_or(false) {
            return self.write(work).await;
        }
        self.read(work).await
    }

    /// Runs `work`, which only reads, with a pooled connection — never
    /// through the writer, even for a request that writes: a check made
    /// before the request's own work (the caller's second-factor
    /// restriction) takes no place in the write queue.
    pub async fn read<T, F>(&self, work: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> crate::error::Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let clock = self.clock.clone();
        let health = self.health.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = checkout(&pool, &health, CHECKOUT_TIMEOUT)?;
            let result = health::scope(&health, || clock.run(|| work(&mut conn)));
            judge(&health, &mut conn, result)
        })
        .await
        .map_err(|e| crate::error::Error::Internal(format!("database task failed: {e}")))?
    }

    /// On SQLite, moves the write-ahead log into the database file and
    /// truncates it (`crypto::sweep::checkpoint`), so what was just erased
    /// does not linger in the log. On a connection of its own even while a
    /// request that writes is handled: the writer runs its commands inside a
    /// transaction, where a checkpoint cannot run.
    pub async fn checkpoint(&self) -> crate::error::Result<()> {
        if self.backend != "sqlite" {
            return Ok(());
        }
        WRITES
            .scope(false, self.run(crate::crypto::sweep::checkpoint))
            .await
    }

    /// Runs the write command `work` through the writer: queued with other
    /// writes, run in its own savepoint within a batch's one transaction, and
    /// answered once that batch has committed (see [`writer`]). Refused at
    /// once with `Overloaded` when the writer's queue is full.
    pub async fn write<T, F>(&self, work: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> crate::error::Result<T> + Send + 'static,
    {
        self.write_keyed("", work).await
    }

    /// [`Db::write`], by a writer chosen by `key`: commands with one key
    /// (a pool's path, an idempotency endpoint) always go to the same
    /// writer, in order. On SQLite there is one writer; on PostgreSQL up to
    /// [`writer::POSTGRES_WRITERS`] (half the pool's connections), so one
    /// writer's round trips are not the limit, and a hot pool's row lock
    /// is still taken once per batch.
    pub async fn write_keyed<T, F>(&self, key: &str, work: F) -> crate::error::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> crate::error::Result<T> + Send + 'static,
    {
        let writers = self.writers.get_or_init(|| {
            let count = match self.backend {
                "sqlite" => 1,
                _ => (self.pool.max_size() as usize / 2).clamp(1, writer::POSTGRES_WRITERS),
            };
            (0..count)
                .map(|_| {
                    writer::Writer::start(
                        self.pool.clone(),
                        self.health.clone(),
                        self.write_queue,
                        self.backend == "sqlite",
                    )
                })
                .collect()
        });
        let shard = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            (hasher.finish() % writers.len().max(1) as u64) as usize
        };
        match writers.get(shard) {
            Some(writer) => writer.write(self.clock.clone(), work).await,
            None => Err(crate::error::Error::Unavailable("no writer".into())),
        }
    }

    /// Readiness: the database answers a query within `timeout`, and its
    /// storage is not known to be full (a write failed for lack of space in
    /// the last [`health::FULL_FOR`] and none has committed since, or a
    /// SQLite database is at its page limit).
    pub async fn ready(&self, timeout: Duration) -> Result<(), NotReady> {
        let pool = self.pool.clone();
        let health = self.health.clone();
        let probe = tokio::task::spawn_blocking(move || -> Result<(), NotReady> {
            let mut conn = checkout(&pool, &health, timeout).map_err(|_| NotReady::Unreachable)?;
            let at_limit = match &mut **conn {
                DbConnection::Sqlite(c) => sqlite_at_page_limit(c),
                DbConnection::Postgres(c) => c
                    .batch_execute("SELECT 1")
                    .map(|()| false)
                    .map_err(|e| health::classify(&e)),
            };
            match at_limit {
                Err(health::Failure::StorageFull) => Err(NotReady::StorageFull),
                Err(_) => Err(NotReady::Unreachable),
                Ok(true) => Err(NotReady::StorageFull),
                Ok(false) if health.is_full() => Err(NotReady::StorageFull),
                Ok(false) => {
                    health.mark_reachable();
                    Ok(())
                }
            }
        });
        match actix_web::rt::time::timeout(timeout, probe).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) | Err(_) => Err(NotReady::Unreachable),
        }
    }

    /// A connection for synchronous callers (the command line); work on it
    /// reads the time from this handle's clock only inside `clock().run`.
    pub fn get(&self) -> crate::error::Result<PooledConnection> {
        Ok(self.pool.get()?)
    }
}

/// Whether a SQLite database has used every page it may (`max_page_count`)
/// with none free: the next write that needs a page fails.
fn sqlite_at_page_limit(conn: &mut diesel::SqliteConnection) -> Result<bool, health::Failure> {
    use diesel::sql_types::BigInt;
    #[derive(QueryableByName)]
    struct PageCount {
        #[diesel(sql_type = BigInt)]
        page_count: i64,
    }
    #[derive(QueryableByName)]
    struct MaxPageCount {
        #[diesel(sql_type = BigInt)]
        max_page_count: i64,
    }
    let failed = |e: diesel::result::Error| health::classify(&e);
    let used = diesel::sql_query("PRAGMA page_count")
        .get_result::<PageCount>(conn)
        .map_err(failed)?
        .page_count;
    let most = diesel::sql_query("PRAGMA max_page_count")
        .get_result::<MaxPageCount>(conn)
        .map_err(failed)?
        .max_page_count;
    // At the limit, free pages do not make room: a write that needs more
    // pages than the free list holds (a fresh database's migrations leave
    // some, e.g. a table rebuilt by #24's migration) still cannot grow it.
    Ok(used >= most)
}
