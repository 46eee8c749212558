//! `commonpot verify` is a second implementation of the balances: with the
//! writer's mapping of accounts to balance columns made wrong on purpose
//! (a test build only: `super::MISMAPPED`), what the writer caches no
//! longer matches the postings, and `verify` says so.

use diesel::prelude::*;

use super::{record, verify::verify, Account, EntryKind, Reference, MISMAPPED};
use crate::auth::access::Principal;
use crate::db::{DatabaseUrl, DbConnection};

/// A fresh database: SQLite in a temporary directory, or a new database on
/// the PostgreSQL server `TEST_DATABASE_URL` names (dropped afterwards).
struct Fresh {
    url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl Fresh {
    fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(server) => {
                let name = format!("cp_unit_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(&server).expect("PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create a test database");
                let (base, _) = server.rsplit_once('/').expect("URL ends in /DATABASE");
                Self {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    postgres: Some((server, name)),
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temporary directory");
                Self {
                    url: format!("sqlite://{}", dir.path().join("unit.db").display()),
                    _dir: Some(dir),
                    postgres: None,
                }
            }
        }
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.postgres {
            if let Ok(mut conn) = diesel::PgConnection::establish(server) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// A pool with nothing in it, and a connection to its database.
fn empty_pool(conn: &mut DbConnection) -> crate::pools::store::PoolRow {
    let (collective, membership) = crate::collectives::service::bootstrap(
        conn,
        "verify@example.org",
        "Verify Admin",
        "correct horse battery staple",
        "Verify",
        "UTC",
    )
    .expect("bootstrap");
    let who = Principal::User {
        user_id: membership.user_id.expect("an active membership has a user"),
    };
    let pool = crate::pools::service::create(
        conn,
        &who,
        &collective.id,
        crate::pools::NewPool {
            name: "Checked".into(),
            description: String::new(),
            currency: "EUR".into(),
            goal: None,
            rules: None,
            public: false,
        },
    )
    .expect("a pool");
    crate::pools::store::find(conn, &pool.id)
        .expect("read the pool")
        .expect("the pool exists")
}

/// A gift of 100.00 of which the processor kept 3.00, as the writer records it.
fn gift_with_fee(conn: &mut DbConnection) {
    let pool = empty_pool(conn);
    record(
        conn,
        &pool,
        EntryKind::Contribution,
        &Reference::Contribution("gift".into()),
        None,
        &[
            (Account::ContributionsIn, -10_000),
            (Account::Fees, 300),
            (Account::Available, 9_700),
        ],
    )
    .expect("the entry is written");
}

/// What verify says of a fresh database after one gift, written (and
/// checked) with the writer's mapping made wrong or not. The wrong mapping
/// stays on while verify runs: a checker that borrowed the writer's mapping
/// would make the same mistake and see nothing.
fn verify_after_gift(mismapped: bool) -> super::verify::Report {
    let fresh = Fresh::new();
    let db = crate::db::open(&DatabaseUrl::parse(&fresh.url).expect("a URL"), 1).expect("open");
    let mut conn = db.get().expect("a connection");
    MISMAPPED.set(mismapped);
    gift_with_fee(&mut conn);
    let report = verify(&mut conn);
    MISMAPPED.set(false);
    report.expect("verify runs")
}

#[test]
fn verify_catches_a_writer_that_maps_an_account_to_the_wrong_balance() {
    // The writer as it is: verify agrees with it.
    let report = verify_after_gift(false);
    assert!(report.is_clean(), "{report}");

    // The writer counting fees as paid out: verify, reading the postings its
    // own way, sees both columns disagree.
    let report = verify_after_gift(true);
    let mut found: Vec<&str> = report
        .violations
        .iter()
        .filter_map(|v| {
            ["fees shows", "paid shows"]
                .into_iter()
                .find(|column| v.contains(column))
        })
        .collect();
    found.sort_unstable();
    assert_eq!(found, ["fees shows", "paid shows"], "{report}");
    assert_eq!(report.violations.len(), 2, "{report}");
}
