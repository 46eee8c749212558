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
    let db = app.db.clone();
    let size = app.settings.db_pool_size.clamp(1, 8) as usize;
    tokio::task::spawn_blocking(move || {
        // Hold every connection of the pool at once, so each is checked.
        let mut held: Vec<_> = (0..size).map(|_| db.get().expect("a connection")).collect();
        for conn in &mut held {
            match &mut **conn {
                commonpot::db::DbConnection::Sqlite(c) => {
                    let mode = diesel::RunQueryDsl::get_result::<Mode>(
                        diesel::sql_query("PRAGMA synchronous"),
                        c,
                    )
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
            }
        }
    })
    .await
    .unwrap();
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
            pool,
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
            pool,
            NewHold {
                amount: "5.00".into(),
                note: None,
            },
        )
        .unwrap();
        let payout = holds::disburse_manual(
            conn,
            who,
            &hold.id,
            NewDisbursement {
                amount: "2.00".into(),
                external_reference: None,
            },
        )
        .unwrap();
        commonpot::flows::resolve_manual(
            conn,
            who,
            &payout.id,
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
        for _ in 0..50 {
            let mut conn = commonpot::db::open_read_only(&parsed).unwrap();
            reports.push(commonpot::ledger::verify::verify(&mut conn).unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().unwrap();
        }
        let written = rounds.load(Ordering::Relaxed);
        let during = reports.last().map_or(0, |r| r.entries);
        assert!(written >= 10, "the writers kept writing ({written} rounds)");
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
            .execute(&mut *db.get().unwrap())
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
