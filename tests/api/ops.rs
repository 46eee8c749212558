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
