//! Operations: health, readiness, metrics, the API document and its docs,
//! and the command line's behaviour on bad configuration.

use reqwest::Method;

use crate::helpers::TestApp;

#[actix_rt::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let health = app
        .send(Method::GET, "/healthz", None, None)
        .await
        .expect(200);
    assert_eq!(health.body["status"], "ok");
    let ready = app
        .send(Method::GET, "/readyz", None, None)
        .await
        .expect(200);
    assert_eq!(ready.body["status"], "ready");
    let expected = if crate::helpers::postgres_url().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(ready.body["database"], expected);
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app.raw(Method::GET, "/metrics").send().await.unwrap();
    response.text().await.unwrap()
}

#[actix_rt::test]
async fn metrics_count_requests_by_route_and_show_the_pool() {
    let app = TestApp::spawn().await;
    app.send(Method::GET, "/healthz", None, None)
        .await
        .expect(200);
    app.send(
        Method::GET,
        "/api/v1/collectives/0196d7a0-0000-7000-8000-000000000000",
        None,
        None,
    )
    .await
    .expect(401);
    let text = metrics_text(&app).await;
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/collectives/{id}",status="401"} 1"#),
        "routes are labelled by pattern, not by id: {text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"db_pool_connections{state="in_use"}"#));
}

#[actix_rt::test]
async fn made_up_methods_do_not_become_metric_series() {
    let app = TestApp::spawn().await;
    for method in ["BREW", "XYZZY-1", "PROPFIND"] {
        let answer = app
            .raw(Method::from_bytes(method.as_bytes()).unwrap(), "/healthz")
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_client_error(), "{method}: {answer:?}");
    }
    let text = metrics_text(&app).await;
    for method in ["BREW", "XYZZY-1", "PROPFIND"] {
        assert!(!text.contains(method), "{method} became a label: {text}");
    }
    assert!(
        text.contains(r#"http_requests_total{method="other",route="/healthz",status="405"} 3"#),
        "{text}"
    );
}

#[actix_rt::test]
async fn served_openapi_document_matches_the_committed_one() {
    let app = TestApp::spawn().await;
    let served = app
        .raw(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap_or_default();
    assert!(
        served == committed,
        "openapi/openapi.json is out of date with the handlers. Regenerate it with:\n\n    \
         cargo run -- openapi --out openapi/openapi.json\n"
    );
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[actix_rt::test]
async fn every_operation_has_a_unique_operation_id_and_documents_its_errors() {
    let doc: serde_json::Value = serde_json::from_str(&commonpot::cli::openapi_json()).unwrap();
    let mut seen = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(seen.insert(id.to_owned()), "operationId {id} is used twice");
            // The token endpoint answers RFC 6749 errors: see contract.rs.
            if path.starts_with("/api/") && !path.ends_with("/auth/token") {
                let responses = operation["responses"].as_object().unwrap();
                for status in ["400", "404", "422", "500"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} does not document {status}"
                    );
                }
                // Public operations say so with `security: []`.
                if operation["security"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty())
                {
                    assert!(
                        responses.contains_key("401") && responses.contains_key("403"),
                        "{method} {path}"
                    );
                }
            }
        }
    }
}

#[actix_rt::test]
async fn docs_are_served_with_every_asset_from_the_service() {
    let app = TestApp::spawn().await;
    let page = app.raw(Method::GET, "/docs/").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    assert!(
        !html.contains("https://"),
        "the docs page loads nothing from the internet"
    );
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let answer = app
            .raw(Method::GET, &format!("/docs/{asset}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{asset} is served locally");
    }
}

#[actix_rt::test]
async fn docs_without_the_slash_redirects_and_the_validator_is_off() {
    let app = TestApp::spawn().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 308, "/docs redirects permanently");
    assert_eq!(answer.headers()["location"], "/docs/");
    let init = app
        .raw(Method::GET, "/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        init.contains(r#""validatorUrl": "none""#),
        "Swagger UI must not ask swagger.io to validate (a badge from outside): {init}"
    );
    assert!(!init.contains("swagger.io"), "{init}");
}

/// The walkthroughs and the README's copy of them write no fixed files (such
/// as `/tmp/bootstrap.json`): two runs, or two people on one machine, would
/// read each other's.
#[test]
fn walkthroughs_write_no_fixed_files() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sh") {
            scripts.push(path);
        }
    }
    assert!(scripts.len() > 2, "{scripts:?}");
    for path in scripts {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            assert!(
                !line.contains("/tmp/"),
                "{}:{}: a fixed path under /tmp: {line}",
                path.display(),
                n + 1
            );
        }
    }
}

fn commonpot(args: &[&str], envs: &[(&str, &str)], dir: &std::path::Path) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_commonpot"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("RUST_BACKTRACE", "0");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().expect("the binary runs")
}

#[test]
fn an_unknown_database_scheme_is_one_clear_line_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let out = commonpot(
        &["migrate"],
        &[("DATABASE_URL", "mysql://root@localhost/x")],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported database URL scheme"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing is left behind"
    );
}

#[test]
fn an_unreachable_postgres_is_a_clear_error_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = commonpot(
        &["migrate"],
        &[("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the PostgreSQL database"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password is not printed: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no stray SQLite file"
    );
}

#[test]
fn a_sqlite_file_in_a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = commonpot(
        &["migrate"],
        &[("DATABASE_URL", "sqlite://no/such/dir/x.db")],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the SQLite database"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn migrate_creates_the_default_sqlite_file_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = commonpot(&["migrate"], &[], dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("commonpot.db").exists());
}

#[test]
fn a_short_jwt_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = commonpot(
        &["serve", "--bind", "127.0.0.1:0"],
        &[("COMMONPOT_JWT_SECRET", "too-short")],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
}

/// Runs `check` on every connection of the app's pool, all held at once so
/// that each is reached.
async fn on_every_connection(
    app: &TestApp,
    check: impl Fn(&mut commonpot::db::DbConnection) + Send + 'static,
) {
    let db = app.db.clone();
    let size = app.settings.db_pool_size.clamp(1, 8) as usize;
    tokio::task::spawn_blocking(move || {
        let mut held: Vec<_> = (0..size).map(|_| db.get().expect("a connection")).collect();
        for conn in &mut held {
            check(conn);
        }
    })
    .await
    .unwrap();
}

/// A ledger answers only for what is durable: every connection the service
/// serves from commits with a full sync (SQLite `synchronous = FULL`, in WAL
/// mode; PostgreSQL's `synchronous_commit = on`), so an OS crash or power loss
/// cannot roll back a payment that was already acknowledged.
#[actix_rt::test]
async fn every_connection_commits_durably() {
    use diesel::sql_types::{Integer, Text};
    #[derive(diesel::QueryableByName)]
    struct Mode {
        #[diesel(sql_type = Integer)]
        synchronous: i32,
    }
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        synchronous_commit: String,
    }
    let app = TestApp::spawn().await;
    on_every_connection(&app, |conn| match conn {
        commonpot::db::DbConnection::Sqlite(c) => {
            let mode =
                diesel::RunQueryDsl::get_result::<Mode>(diesel::sql_query("PRAGMA synchronous"), c)
                    .unwrap();
            assert_eq!(mode.synchronous, 2, "synchronous = FULL (2)");
        }
        commonpot::db::DbConnection::Postgres(c) => {
            let setting = diesel::RunQueryDsl::get_result::<Setting>(
                diesel::sql_query("SHOW synchronous_commit"),
                c,
            )
            .unwrap();
            assert_eq!(setting.synchronous_commit, "on");
        }
    })
    .await;
}

/// On SQLite every connection keeps a savepoint's journal in memory
/// (`temp_store = MEMORY`): the writer runs each command in a savepoint,
/// and a journal spilled to a temporary file doubled the pages written per
/// money write (#23). PostgreSQL has no such setting.
#[actix_rt::test]
async fn every_sqlite_connection_keeps_savepoint_journals_in_memory() {
    use diesel::sql_types::Integer;
    #[derive(diesel::QueryableByName)]
    struct TempStore {
        #[diesel(sql_type = Integer)]
        temp_store: i32,
    }
    let app = TestApp::spawn().await;
    on_every_connection(&app, |conn| {
        if let commonpot::db::DbConnection::Sqlite(c) = conn {
            let mode = diesel::RunQueryDsl::get_result::<TempStore>(
                diesel::sql_query("PRAGMA temp_store"),
                c,
            )
            .unwrap();
            assert_eq!(mode.temp_store, 2, "temp_store = MEMORY (2)");
        }
    })
    .await;
}

mod verify {
    //! `commonpot verify` on a live database: one snapshot, read-only, and
    //! only on a schema it knows.

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    use commonpot::auth::access::Principal;
    use commonpot::db::{DatabaseUrl, DbConnection};
    use commonpot::ledger::contributions::{Method, NewContribution};
    use commonpot::ledger::holds::{self, DisbursementOutcome, NewDisbursement, NewHold, Outcome};
    use commonpot::pools::NewPool;
    use diesel::RunQueryDsl;

    use super::commonpot;
    use crate::helpers::{fresh_database, postgres_url, PASSWORD};

    /// A migrated database with a collective, its admin and a pool.
    fn ledger(url: &str) -> (commonpot::db::DbPool, Principal, String) {
        let db = commonpot::db::open(&DatabaseUrl::parse(url).unwrap(), 4).unwrap();
        let mut conn = db.get().unwrap();
        let (collective, membership) = commonpot::collectives::service::bootstrap(
            &mut conn,
            "verify@example.org",
            "Vera",
            PASSWORD,
            "Verifiers",
            "UTC",
        )
        .unwrap();
        let who = Principal::User {
            user_id: membership.user_id.unwrap(),
        };
        let pool = commonpot::pools::service::create(
            &mut conn,
            &who,
            &collective.id,
            NewPool {
                name: "Busy pool".into(),
                description: String::new(),
                currency: "EUR".into(),
                goal: None,
                rules: None,
                public: false,
            },
        )
        .unwrap();
        drop(conn);
        (db, who, pool.id)
    }

    /// One round of money movements, each its own transaction: a
    /// contribution with a fee, a hold, a payout from it, paid.
    fn move_money(conn: &mut DbConnection, who: &Principal, pool: &str) {
        commonpot::flows::record_contribution(
            conn,
            who,
            &pool.into(),
            NewContribution {
                amount: "10.00".into(),
                fee: Some("0.30".into()),
                method: Method::Card,
                external_reference: None,
                contributor: None,
                note: None,
                received_at: None,
                pledge_id: None,
            },
        )
        .unwrap();
        let hold = holds::place_manual(
            conn,
            who,
            &pool.into(),
            NewHold {
                amount: "5.00".into(),
                note: None,
            },
        )
        .unwrap();
        let payout = holds::disburse_manual(
            conn,
            who,
            &hold.id.as_str().into(),
            NewDisbursement {
                amount: "2.00".into(),
                external_reference: None,
            },
        )
        .unwrap();
        commonpot::flows::resolve_manual(
            conn,
            who,
            &payout.id.as_str().into(),
            DisbursementOutcome {
                outcome: Outcome::Paid,
                external_reference: None,
                reason: None,
            },
        )
        .unwrap();
    }

    /// Issue #15.1: read in separate statements, verify saw pools, postings
    /// and holds at different moments and reported violations on a sound
    /// ledger being written. On one snapshot it reports none.
    #[test]
    fn verify_under_concurrent_writes_reports_no_false_violation() {
        let (_database, url) = fresh_database();
        let (db, who, pool) = ledger(&url);
        let stop = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..3)
            .map(|_| {
                let (db, who, pool) = (db.clone(), who.clone(), pool.clone());
                let (stop, rounds) = (stop.clone(), rounds.clone());
                std::thread::spawn(move || {
                    let mut conn = db.get().unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        move_money(&mut conn, &who, &pool);
                        rounds.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        while rounds.load(Ordering::Relaxed) < 5 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let parsed = DatabaseUrl::parse(&url).unwrap();
        let mut reports = Vec::new();
        // At least 50 runs, and on until the writers have moved money ten
        // more times while verify was reading: how many writes fit into 50
        // runs depends on the machine, the overlap must not.
        let before = rounds.load(Ordering::Relaxed);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while reports.len() < 50 || rounds.load(Ordering::Relaxed) < before + 10 {
            assert!(
                std::time::Instant::now() < deadline,
                "the writers moved money {} times in two minutes of verifying",
                rounds.load(Ordering::Relaxed) - before
            );
            let mut conn = commonpot::db::open_read_only(&parsed).unwrap();
            reports.push(commonpot::ledger::verify::verify(&mut conn).unwrap());
        }
        let during_verify = rounds.load(Ordering::Relaxed) - before;
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().unwrap();
        }
        let written = rounds.load(Ordering::Relaxed);
        let during = reports.last().map_or(0, |r| r.entries);
        assert!(
            during_verify >= 10,
            "the writers kept writing while verify read ({during_verify} rounds)"
        );
        assert!(during > 0, "verify saw the writes");
        let false_alarms: Vec<String> = reports
            .iter()
            .filter(|r| !r.is_clean())
            .map(|r| r.to_string())
            .collect();
        assert!(
            false_alarms.is_empty(),
            "{} of {} runs reported violations on a sound ledger:\n{}",
            false_alarms.len(),
            reports.len(),
            false_alarms.join("\n")
        );
        // And afterwards, at rest, everything holds.
        let mut conn = commonpot::db::open_read_only(&parsed).unwrap();
        let report = commonpot::ledger::verify::verify(&mut conn).unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.holds, written, "{report}");
    }

    /// Issue #15.2: a mistyped SQLite path is refused, not created.
    #[test]
    fn verify_refuses_a_missing_sqlite_file_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = commonpot(
            &["verify"],
            &[("DATABASE_URL", "sqlite://typo.db")],
            dir.path(),
        );
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no SQLite database at typo.db"), "{stderr}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("invariants hold"),
            "nothing was checked"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no file is created"
        );
    }

    fn migration_versions(url: &str) -> Vec<String> {
        let mut conn = commonpot::db::open_read_only(&DatabaseUrl::parse(url).unwrap()).unwrap();
        #[derive(diesel::QueryableByName)]
        struct Version {
            #[diesel(sql_type = diesel::sql_types::Text)]
            version: String,
        }
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version")
            .load::<Version>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|v| v.version)
            .collect()
    }

    fn execute(url: &str, statement: &str) {
        let db = commonpot::db::open(&DatabaseUrl::parse(url).unwrap(), 1).unwrap();
        diesel::sql_query(statement)
            .execute(&mut **db.get().unwrap())
            .unwrap();
    }

    /// Issue #15.2: verify neither upgrades an old database (an old backup)
    /// nor reads one a newer version wrote; it says which and exits nonzero,
    /// and the database is left as it was.
    #[test]
    fn verify_refuses_a_schema_it_does_not_know_and_never_migrates() {
        let (_database, url) = fresh_database();
        let (db, _, _) = ledger(&url);
        drop(db);
        let dir = tempfile::tempdir().unwrap();
        let verify = || commonpot(&["verify"], &[("DATABASE_URL", url.as_str())], dir.path());
        let sound = verify();
        assert!(
            sound.status.success(),
            "{}",
            String::from_utf8_lossy(&sound.stderr)
        );

        // Newer: a migration this binary does not have.
        execute(
            &url,
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000000')",
        );
        let newer = verify();
        assert!(!newer.status.success());
        let stderr = String::from_utf8_lossy(&newer.stderr);
        assert!(
            stderr.contains("schema is newer than this commonpot")
                && stderr.contains("29991231000000"),
            "{stderr}"
        );
        execute(
            &url,
            "DELETE FROM __diesel_schema_migrations WHERE version = '29991231000000'",
        );

        // Older: the latest migration not applied (as in an old backup).
        let versions = migration_versions(&url);
        let latest = versions.last().unwrap().clone();
        execute(
            &url,
            &format!("DELETE FROM __diesel_schema_migrations WHERE version = '{latest}'"),
        );
        let older = verify();
        assert!(!older.status.success());
        let stderr = String::from_utf8_lossy(&older.stderr);
        assert!(
            stderr.contains("schema is older than this commonpot") && stderr.contains(&latest),
            "{stderr}"
        );
        assert!(
            !migration_versions(&url).contains(&latest),
            "verify did not migrate"
        );
    }

    /// A file that is not a commonpot database (no migration record) is
    /// refused, and verify does not turn it into one.
    #[test]
    fn verify_refuses_a_database_that_was_never_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let url = match postgres_url() {
            Some(_) => {
                let (database, url) = fresh_database();
                let out = commonpot(&["verify"], &[("DATABASE_URL", url.as_str())], dir.path());
                assert!(!out.status.success());
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(stderr.contains("not a commonpot database"), "{stderr}");
                drop(database);
                return;
            }
            None => {
                let path = dir.path().join("other.db");
                let mut conn = <diesel::SqliteConnection as diesel::Connection>::establish(
                    path.to_str().unwrap(),
                )
                .unwrap();
                diesel::sql_query("CREATE TABLE notes (body TEXT)")
                    .execute(&mut conn)
                    .unwrap();
                format!("sqlite://{}", path.display())
            }
        };
        let out = commonpot(&["verify"], &[("DATABASE_URL", url.as_str())], dir.path());
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not a commonpot database"), "{stderr}");
        let path = dir.path().join("other.db");
        let mut conn =
            <diesel::SqliteConnection as diesel::Connection>::establish(path.to_str().unwrap())
                .unwrap();
        let tables: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT COUNT(*) FROM sqlite_master WHERE type = 'table')",
        ))
        .get_result(&mut conn)
        .unwrap();
        assert_eq!(tables, 1, "verify created no tables");
    }
}

mod outage {
    //! Issue #15.4 and #15.5: a database that cannot be reached, cannot be
    //! written or cannot store more is answered at once and honestly (503
    //! with a code and `Retry-After`, `/readyz` saying why), never a bare
    //! 500 or a 10 s stall. PostgreSQL outages are made by cutting a TCP
    //! proxy between the service and the database; the shared server is
    //! never stopped.

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use reqwest::Method;
    use serde_json::json;

    use crate::helpers::{fresh_database, postgres_url, TestApp};

    /// A TCP proxy in front of PostgreSQL that can be cut: cutting closes
    /// every connection through it and refuses new ones until reopened.
    struct Proxy {
        port: u16,
        open: Arc<AtomicBool>,
        cuts: tokio::sync::watch::Sender<u64>,
    }

    impl Proxy {
        /// On a thread and runtime of its own: the service connects from
        /// blocking code, sometimes on the test's own thread.
        fn start(upstream: String) -> Proxy {
            let open = Arc::new(AtomicBool::new(true));
            let (cuts, _) = tokio::sync::watch::channel(0u64);
            let (accepting, cut_signal) = (open.clone(), cuts.clone());
            let (port_tx, port_rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    port_tx.send(listener.local_addr().unwrap().port()).unwrap();
                    loop {
                        let Ok((mut inbound, _)) = listener.accept().await else {
                            return;
                        };
                        if !accepting.load(Ordering::SeqCst) {
                            drop(inbound);
                            continue;
                        }
                        let upstream = upstream.clone();
                        let mut cut = cut_signal.subscribe();
                        tokio::spawn(async move {
                            let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await
                            else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = cut.changed() => {}
                            }
                        });
                    }
                });
            });
            let port = port_rx.recv().unwrap();
            Proxy { port, open, cuts }
        }

        fn cut(&self) {
            self.open.store(false, Ordering::SeqCst);
            self.cuts.send_modify(|n| *n += 1);
        }

        fn reopen(&self) {
            self.open.store(true, Ordering::SeqCst);
        }
    }

    /// `postgres://user@host:port/db` with host:port replaced by the proxy's.
    fn through(url: &str, port: u16) -> (String, String) {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (user, rest) = rest.rsplit_once('@').map_or(("", rest), |(u, r)| (u, r));
        let (authority, database) = rest.split_once('/').unwrap();
        let upstream = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:5432")
        };
        let at = if user.is_empty() { "" } else { "@" };
        (
            format!("{scheme}://{user}{at}127.0.0.1:{port}/{database}"),
            upstream,
        )
    }

    async fn timed(
        app: &TestApp,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> (crate::helpers::Answer, Duration) {
        let started = Instant::now();
        let answer = app.send(method, path, token, None).await;
        (answer, started.elapsed())
    }

    fn assert_unavailable(answer: &crate::helpers::Answer, code: &str) {
        assert_eq!(answer.status.as_u16(), 503, "{}", answer.body);
        assert_eq!(answer.body["code"], code, "{}", answer.body);
        assert!(answer.header("retry-after").is_some(), "Retry-After");
        assert_eq!(
            answer.header("content-type"),
            Some("application/problem+json")
        );
    }

    #[actix_rt::test]
    async fn a_database_outage_is_answered_at_once_with_503_and_readyz_says_so() {
        let Some(_) = postgres_url() else {
            // SQLite is a file in the process: it has no connection to cut.
            // Its outage is a lock held past the busy timeout, tested below.
            return;
        };
        let (database, url) = fresh_database();
        let (_, upstream) = through(&url, 0);
        let proxy = Proxy::start(upstream);
        let (proxied, _) = through(&url, proxy.port);
        let app = TestApp::spawn_configured(|s| s.database_url = proxied).await;
        let (collective, admin) = app.bootstrap("Northside").await;
        let pool = app.pool(&collective, &admin.token, "EUR").await;
        let me = format!("/api/v1/pools/{pool}");
        app.get(&me, &admin.token).await.expect(200);

        proxy.cut();
        let (ready, took) = timed(&app, Method::GET, "/readyz", None).await;
        assert_unavailable(&ready, "database_unreachable");
        assert!(took < Duration::from_secs(3), "/readyz took {took:?}");
        for _ in 0..3 {
            let (answer, took) = timed(&app, Method::GET, &me, Some(&admin.token)).await;
            assert_unavailable(&answer, "unavailable");
            assert!(
                took < Duration::from_millis(1500),
                "a request took {took:?}"
            );
        }
        let money = app
            .post_money(
                &format!("/api/v1/pools/{pool}/contributions"),
                &admin.token,
                json!({"amount": "5.00", "method": "cash"}),
            )
            .await;
        assert_unavailable(&money, "unavailable");

        proxy.reopen();
        let started = Instant::now();
        loop {
            let ready = app.send(Method::GET, "/readyz", None, None).await;
            if ready.status == 200 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "never ready again: {}",
                ready.body
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        app.get(&me, &admin.token).await.expect(200);
        drop(app);
        drop(database);
    }

    /// Ordinary queueing is not an outage: more concurrent requests than the
    /// pool has connections all succeed.
    #[actix_rt::test]
    async fn queueing_for_connections_under_load_is_not_a_503() {
        let app = TestApp::spawn_configured(|s| s.db_pool_size = 2).await;
        let (collective, admin) = app.bootstrap("Northside").await;
        let pool = app.pool(&collective, &admin.token, "EUR").await;
        let path = format!("/api/v1/pools/{pool}/contributions");
        let answers = futures::future::join_all((0..40).map(|_| {
            app.post_money(
                &path,
                &admin.token,
                json!({"amount": "1.00", "method": "cash"}),
            )
        }))
        .await;
        for answer in answers {
            assert_eq!(answer.status.as_u16(), 201, "{}", answer.body);
        }
    }

    /// A request whose query is cut off (PostgreSQL: its backend terminated
    /// mid-query; SQLite: the database stays locked past the busy timeout)
    /// is a 503 `unavailable`, not a bare 500.
    #[actix_rt::test]
    async fn a_request_cut_off_mid_query_is_503_not_500() {
        let app = TestApp::spawn().await;
        let (collective, admin) = app.bootstrap("Northside").await;
        let pool = app.pool(&collective, &admin.token, "EUR").await;
        let url = app.settings.database_url.clone();
        let blocker = match postgres_url() {
            Some(_) => {
                let url = url.clone();
                // Lock the pools table, wait for the service's query to
                // queue behind the lock, then terminate that backend.
                tokio::task::spawn_blocking(move || {
                    use diesel::{Connection, RunQueryDsl};
                    let mut locker = diesel::PgConnection::establish(&url).unwrap();
                    let mut admin = diesel::PgConnection::establish(&url).unwrap();
                    locker
                        .transaction::<_, diesel::result::Error, _>(|c| {
                            diesel::sql_query("LOCK TABLE pools IN ACCESS EXCLUSIVE MODE")
                                .execute(c)?;
                            let started = Instant::now();
                            loop {
                                #[derive(diesel::QueryableByName)]
                                struct Killed {
                                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                                    n: i64,
                                }
                                let killed = diesel::sql_query(
                                    "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                                     WHERE datname = current_database() AND wait_event_type = 'Lock' \
                                     AND pid <> pg_backend_pid()",
                                )
                                .get_result::<Killed>(&mut admin)?;
                                if killed.n > 0 {
                                    break;
                                }
                                assert!(started.elapsed() < Duration::from_secs(10), "no query queued");
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            Ok(())
                        })
                        .unwrap();
                })
            }
            None => {
                let path = url.strip_prefix("sqlite://").unwrap().to_owned();
                // Hold the write lock past the busy timeout.
                tokio::task::spawn_blocking(move || {
                    use diesel::connection::SimpleConnection;
                    use diesel::Connection;
                    let mut locker = diesel::SqliteConnection::establish(&path).unwrap();
                    locker.batch_execute("BEGIN IMMEDIATE").unwrap();
                    std::thread::sleep(Duration::from_secs(12));
                    locker.batch_execute("ROLLBACK").unwrap();
                })
            }
        };
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        let answer = app
            .post_money(
                &format!("/api/v1/pools/{pool}/contributions"),
                &admin.token,
                json!({"amount": "5.00", "method": "cash"}),
            )
            .await;
        blocker.await.unwrap();
        assert_unavailable(&answer, "unavailable");
        // Nothing was recorded, and the service answers again.
        let balances = app.balances(&pool, &admin.token).await;
        assert_eq!(balances["received"], "0.00");
    }

    fn euid_is_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
            })
            .unwrap_or(false)
    }

    /// Serve on `url`; the exit status and stderr, or a failure if it is
    /// still running after 20 s (it started: the test failed).
    fn serve_exits(url: &str, dir: &std::path::Path, as_nobody: bool) -> (bool, String) {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_commonpot"));
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .current_dir(dir)
            .env("DATABASE_URL", url)
            .env(
                "COMMONPOT_JWT_SECRET",
                "test-secret-test-secret-test-secret-0123456789",
            )
            .env("RUST_BACKTRACE", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if as_nobody {
            command.uid(65534).gid(65534);
        }
        let mut child = command.spawn().expect("the binary runs");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
                return (status.success(), stderr);
            }
            if started.elapsed() > Duration::from_secs(20) {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("serve started on a database it cannot write");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Issue #15.5: a database the service can read but not write is
    /// refused at start (a read-only SQLite file in a writable folder; a
    /// PostgreSQL database whose transactions are read-only, as on a
    /// standby).
    #[test]
    fn serve_refuses_a_database_it_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let (database, url) = fresh_database();
        commonpot::db::open(&commonpot::db::DatabaseUrl::parse(&url).unwrap(), 1).unwrap();
        let as_nobody = match postgres_url() {
            Some(server) => {
                use diesel::{Connection, RunQueryDsl};
                let name = url.rsplit_once('/').unwrap().1.to_owned();
                let mut conn = diesel::PgConnection::establish(&server).unwrap();
                diesel::sql_query(format!(
                    "ALTER DATABASE {name} SET default_transaction_read_only = on"
                ))
                .execute(&mut conn)
                .unwrap();
                false
            }
            None => {
                use std::os::unix::fs::PermissionsExt;
                let file = url.strip_prefix("sqlite://").unwrap();
                let folder = std::path::Path::new(file).parent().unwrap();
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o444)).unwrap();
                std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777)).unwrap();
                std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
                    .unwrap();
                // Root writes whatever the mode says: serve as nobody.
                euid_is_root()
            }
        };
        let (ok, stderr) = serve_exits(&url, dir.path(), as_nobody);
        assert!(!ok, "serve must refuse: {stderr}");
        assert!(stderr.contains("cannot be written"), "{stderr}");
        drop(database);
    }

    /// Issue #15.5: a full disk is 503 `storage_full` with `Retry-After`,
    /// and `/readyz` says so; once space is back, writes succeed and it is
    /// ready again. SQLite's limit is `max_page_count` on the service's
    /// connections; PostgreSQL's is the server's own disk-full error
    /// (53100, "could not extend file …: No space left on device"), raised
    /// here by a trigger since the shared server's disk must stay usable.
    #[actix_rt::test]
    async fn a_full_disk_is_503_storage_full_and_readyz_says_so() {
        let app = TestApp::spawn().await;
        let (collective, admin) = app.bootstrap("Northside").await;
        let pool = app.pool(&collective, &admin.token, "EUR").await;
        let gifts = format!("/api/v1/pools/{pool}/contributions");
        let db = app.db.clone();
        let size = app.settings.db_pool_size.clamp(1, 8) as usize;
        // On every connection the service holds (SQLite's page limit is a
        // connection's setting), or once (PostgreSQL's DDL).
        let on_connections = move |statement: String, every: bool| {
            let db = db.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    use diesel::connection::SimpleConnection;
                    let count = if every { size } else { 1 };
                    let mut held: Vec<_> = (0..count).map(|_| db.get().unwrap()).collect();
                    for conn in &mut held {
                        conn.batch_execute(&statement).unwrap();
                    }
                })
                .await
                .unwrap()
            }
        };
        let postgres = postgres_url().is_some();
        if postgres {
            on_connections(
                "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 RAISE EXCEPTION 'could not extend file \"base/16384/16385\": No space left on device' \
                 USING ERRCODE = 'disk_full', HINT = 'Check free disk space.'; END $$; \
                 CREATE TRIGGER disk_full BEFORE INSERT ON ledger_entries \
                 FOR EACH ROW EXECUTE FUNCTION disk_full()"
                    .into(),
                false,
            )
            .await;
        } else {
            // No page beyond those the database has now.
            on_connections("PRAGMA max_page_count = 1".into(), true).await;
        }
        let note = "x".repeat(1500);
        let mut refused = None;
        for _ in 0..500 {
            let answer = app
                .post_money(
                    &gifts,
                    &admin.token,
                    json!({"amount": "1.00", "method": "cash", "note": note}),
                )
                .await;
            match answer.status.as_u16() {
                201 => continue,
                _ => {
                    refused = Some(answer);
                    break;
                }
            }
        }
        let refused = refused.expect("the storage filled up");
        assert_unavailable(&refused, "storage_full");
        let ready = app.send(Method::GET, "/readyz", None, None).await;
        assert_unavailable(&ready, "storage_full");
        // Space comes back.
        if postgres {
            on_connections("DROP TRIGGER disk_full ON ledger_entries".into(), false).await;
        } else {
            on_connections("PRAGMA max_page_count = 1073741823".into(), true).await;
        }
        app.post_money(
            &gifts,
            &admin.token,
            json!({"amount": "1.00", "method": "cash"}),
        )
        .await
        .expect(201);
        app.send(Method::GET, "/readyz", None, None)
            .await
            .expect(200);
    }
}
