//! Statements that diesel prepares once per connection and keeps.
//!
//! Diesel keeps a prepared statement only when its text is known from its
//! type alone; it prepares every `UPDATE`, every raw `sql_query` and every
//! multi-row insert of a `Vec` again at each call (#23: a sixth of the
//! writer's time under load). The few statements on the money path that
//! diesel cannot keep are written here as a fixed text per type, with their
//! parameters in order: prepared on a connection's first use, then only
//! bound and run.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use diesel::backend::Backend;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Integer, Text};
use diesel::QueryResult;

/// A statement's fixed text, in pieces: a parameter goes between each
/// piece and the next (`?` on SQLite, `$n` on PostgreSQL).
pub trait Sql: 'static {
    const PIECES: &'static [&'static str];
}

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Text(&'a str),
    BigInt(i64),
    Integer(i32),
}

/// The statement `S` with its parameters; run it with diesel's
/// `RunQueryDsl` (`execute`).
pub struct Kept<'a, S> {
    params: &'a [Param<'a>],
    text: PhantomData<S>,
}

impl<'a, S: Sql> Kept<'a, S> {
    /// Panics in debug builds when the count of parameters does not fit the
    /// text (a bug in the caller, found by any test that runs it); a
    /// release build sends it and the database refuses it.
    pub fn new(params: &'a [Param<'a>]) -> Self {
        debug_assert_eq!(
            params.len() + 1,
            S::PIECES.len(),
            "parameters of a kept statement"
        );
        Self {
            params,
            text: PhantomData,
        }
    }
}

impl<S: Sql> QueryId for Kept<'_, S> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB, S> QueryFragment<DB> for Kept<'_, S>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt> + HasSqlType<Integer>,
    S: Sql,
    str: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut params = self.params.iter();
        for (i, piece) in S::PIECES.iter().enumerate() {
            out.push_sql(piece);
            if i + 1 == S::PIECES.len() {
                break;
            }
            match params.next() {
                Some(Param::Text(text)) => out.push_bind_param::<Text, str>(text)?,
                Some(Param::BigInt(value)) => out.push_bind_param::<BigInt, i64>(value)?,
                Some(Param::Integer(value)) => out.push_bind_param::<Integer, i32>(value)?,
                None => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        "a kept statement is missing a parameter".into(),
                    ))
                }
            }
        }
        Ok(())
    }
}

impl<S, Conn> diesel::RunQueryDsl<Conn> for Kept<'_, S> {}

impl<S: Sql> Kept<'_, S> {
    /// Runs it on the concrete connection (`crate::on_backend`), where
    /// diesel finds it prepared by its type.
    pub fn execute_on(self, conn: &mut crate::db::DbConnection) -> QueryResult<usize> {
        use diesel::RunQueryDsl;
        crate::on_backend!(conn, |c| self.execute(c))
    }
}

/// A kept statement that returns rows (`… RETURNING`) of this SQL type:
/// run it with `get_result`.
pub trait Returns: Sql {
    type SqlType: diesel::sql_types::SingleValue;
}

impl<S: Returns> diesel::query_builder::Query for Kept<'_, S> {
    type SqlType = S::SqlType;
}

/// What a connection prepared to keep (diesel's `CacheQuery`) and every
/// statement it ran (their SQL, without parameters), from diesel's
/// instrumentation: for the tests that check the money path keeps its
/// statements prepared.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub kept: Arc<Mutex<Vec<String>>>,
    pub ran: Arc<Mutex<Vec<String>>>,
}

impl Seen {
    /// Watches what `conn` prepares and runs from now on.
    pub fn watch(conn: &mut crate::db::DbConnection) -> Self {
        use diesel::Connection;
        let seen = Self::default();
        conn.set_instrumentation(seen.clone());
        seen
    }

    pub fn kept(&self) -> Vec<String> {
        self.kept.lock().map(|k| k.clone()).unwrap_or_default()
    }

    pub fn ran(&self) -> Vec<String> {
        self.ran.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Instrumentation for Seen {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let (list, sql) = match event {
            InstrumentationEvent::CacheQuery { sql, .. } => (&self.kept, sql.trim().to_owned()),
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                let sql = text.split(" -- binds:").next().unwrap_or_default();
                (&self.ran, sql.trim().to_owned())
            }
            _ => return,
        };
        if let Ok(mut list) = list.lock() {
            list.push(sql);
        }
    }
}
