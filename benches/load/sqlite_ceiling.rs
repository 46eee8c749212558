//! The raw SQL ceiling on SQLite for benches/load/run.sh: the minimal write
//! a contribution makes (the pool's balance update, the journal entry, its
//! two postings), on one connection set up as the server sets up its own
//! (WAL, `synchronous = FULL`), written straight through diesel with no
//! HTTP, no authorization, no idempotency record, no contribution row, no
//! audit or event: what SQLite and the disk allow, not what the service does.
//!
//! `cargo bench --bench load_sqlite_ceiling -- --db PATH [--seconds 10]
//! [--batch 1] [--pools 64]`: writes for that long into the pools of an
//! existing commonpot database (run.sh points it at the database its HTTP
//! run just used, after the server stopped), `--batch` writes per
//! transaction, rotating over the first `--pools` pools (1: one hot pool),
//! and prints one line of JSON. A benchmark, not a test.

use std::time::{Duration, Instant};

use commonpot::db::schema::{ledger_entries, ledger_postings, pools};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// As `src/db/mod.rs` sets up every SQLite connection of the server.
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;";

#[derive(QueryableByName)]
struct Pragma {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

fn pragma(conn: &mut SqliteConnection, name: &str) -> String {
    diesel::sql_query(format!(
        "SELECT CAST({name} AS TEXT) AS value FROM pragma_{name}"
    ))
    .get_result::<Pragma>(conn)
    .map(|p| p.value)
    .unwrap_or_else(|e| panic!("PRAGMA {name}: {e}"))
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = arg(&args, "--db") else {
        // `cargo bench` without arguments runs every bench: this one needs a
        // database, so it says how to run it and does nothing.
        eprintln!("load_sqlite_ceiling: run by benches/load/run.sh (needs --db PATH)");
        return;
    };
    let seconds: f64 = arg(&args, "--seconds").map_or(10.0, |s| s.parse().expect("--seconds"));
    let batch: usize = arg(&args, "--batch").map_or(1, |s| s.parse().expect("--batch"));
    let wanted: i64 = arg(&args, "--pools").map_or(64, |s| s.parse().expect("--pools"));
    assert!(batch >= 1, "--batch is at least 1");

    let mut conn = SqliteConnection::establish(&path).expect("open the database");
    conn.batch_execute(SQLITE_PRAGMAS).expect("pragmas");
    let synchronous = pragma(&mut conn, "synchronous");
    let journal_mode = pragma(&mut conn, "journal_mode");
    assert_eq!(synchronous, "2", "synchronous must be FULL (2)");
    assert_eq!(journal_mode, "wal");

    let targets: Vec<(String, String, String)> = pools::table
        .select((pools::collective_id, pools::id, pools::currency))
        .order(pools::id)
        .limit(wanted)
        .load(&mut conn)
        .expect("read the pools");
    assert!(!targets.is_empty(), "the database has no pools");

    let amount: i64 = 100;
    let limit = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut writes: u64 = 0;
    let mut transactions: u64 = 0;
    while started.elapsed() < limit {
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            for _ in 0..batch {
                let (collective, pool, currency) = &targets[writes as usize % targets.len()];
                let at = chrono::Utc::now().naive_utc();
                let moved = diesel::update(pools::table.filter(pools::id.eq(pool)))
                    .set((
                        pools::available_minor.eq(pools::available_minor + amount),
                        pools::received_minor.eq(pools::received_minor + amount),
                    ))
                    .execute(conn)?;
                assert_eq!(moved, 1);
                let entry = uuid::Uuid::now_v7().to_string();
                diesel::insert_into(ledger_entries::table)
                    .values((
                        ledger_entries::collective_id.eq(collective),
                        ledger_entries::id.eq(&entry),
                        ledger_entries::pool_id.eq(pool),
                        ledger_entries::kind.eq("contribution"),
                        ledger_entries::reference_kind.eq("load_ceiling"),
                        ledger_entries::reference_id.eq(&entry),
                        ledger_entries::reverses_entry_id.eq(None::<String>),
                        ledger_entries::created_at.eq(at),
                    ))
                    .execute(conn)?;
                for (account, minor) in [("contributions_in", -amount), ("available", amount)] {
                    diesel::insert_into(ledger_postings::table)
                        .values((
                            ledger_postings::collective_id.eq(collective),
                            ledger_postings::id.eq(uuid::Uuid::now_v7().to_string()),
                            ledger_postings::entry_id.eq(&entry),
                            ledger_postings::pool_id.eq(pool),
                            ledger_postings::account.eq(account),
                            ledger_postings::amount_minor.eq(minor),
                            ledger_postings::currency.eq(currency),
                        ))
                        .execute(conn)?;
                }
                writes += 1;
            }
            Ok(())
        })
        .expect("write");
        transactions += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "batch": batch,
            "pools": targets.len(),
            "writes": writes,
            "transactions": transactions,
            "seconds": elapsed,
            "writes_per_second": writes as f64 / elapsed,
            "synchronous": synchronous,
            "journal_mode": journal_mode,
        })
    );
}
