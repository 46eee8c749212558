//! The writer (issue #23): money writes grouped into one commit per batch.
//! A full queue is a 503 `overloaded` with `Retry-After`; one key twice in
//! a batch executes once and replays; a `kill -9` of the real binary under
//! grouped commits keeps everything acknowledged and leaves nothing half
//! written.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{postgres_url, TestApp};

/// Holds the database's writes up until the returned sender is used (or
/// dropped): on SQLite by holding the write lock, on PostgreSQL by locking
/// the table of idempotency keys every money write reads first. Returns once
/// the lock is held.
fn hold_writes(url: &str) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel::<()>();
    let url = url.to_owned();
    let holder = std::thread::spawn(move || {
        let wait = |released: std::sync::mpsc::Receiver<()>| {
            // Never past SQLite's busy timeout (10 s): the writer waits, it
            // does not give up.
            let _ = released.recv_timeout(Duration::from_secs(6));
        };
        match postgres_url() {
            Some(_) => {
                let mut conn = diesel::PgConnection::establish(&url).unwrap();
                conn.batch_execute("BEGIN; LOCK TABLE idempotency_keys IN ACCESS EXCLUSIVE MODE")
                    .unwrap();
                held.send(()).unwrap();
                wait(released);
                conn.batch_execute("ROLLBACK").unwrap();
            }
            None => {
                let path = url.strip_prefix("sqlite://").unwrap();
                let mut conn = diesel::SqliteConnection::establish(path).unwrap();
                conn.batch_execute("BEGIN IMMEDIATE").unwrap();
                held.send(()).unwrap();
                wait(released);
                conn.batch_execute("ROLLBACK").unwrap();
            }
        }
    });
    is_held.recv().unwrap();
    (release, holder)
}

#[actix_rt::test]
async fn a_full_write_queue_is_503_overloaded_with_retry_after() {
    let app = TestApp::spawn_configured(|s| s.write_queue = 1).await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let path = format!("/api/v1/pools/{pool}/contributions");
    let body = json!({"amount": "5.00", "method": "cash"});
    let (release, holder) = hold_writes(&app.settings.database_url);
    let pause = |ms| actix_web::rt::time::sleep(Duration::from_millis(ms));
    // The first is taken by the writer (which waits for the lock), the
    // second waits in the queue of one, the third finds it full.
    let first = app.post_money(&path, &admin.token, body.clone());
    let second = async {
        pause(300).await;
        app.post_money(&path, &admin.token, body.clone()).await
    };
    let third = async {
        pause(700).await;
        let answer = app.post_money(&path, &admin.token, body.clone()).await;
        release.send(()).unwrap();
        answer
    };
    let (first, second, third) = futures::join!(first, second, third);
    holder.join().unwrap();
    let third = third.expect_problem(503, "overloaded");
    assert_eq!(third.header("retry-after"), Some("1"));
    first.expect(201);
    second.expect(201);
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(balances["received"], "10.00");
    // Retried with a fresh key once the queue has room, it goes through.
    app.post_money(&path, &admin.token, body).await.expect(201);
    assert!(app.verify().await.is_clean());
}

#[actix_rt::test]
async fn one_key_twice_in_a_batch_executes_once_and_replays() {
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    let path = format!("/api/v1/pools/{pool}/contributions");
    let body = json!({"amount": "7.00", "method": "cash"});
    let (release, holder) = hold_writes(&app.settings.database_url);
    let pause = |ms| actix_web::rt::time::sleep(Duration::from_millis(ms));
    // The first occupies the writer; the two with one key queue behind it
    // and are taken together, as one batch.
    let first = app.post_money(&path, &admin.token, body.clone());
    let key = uuid::Uuid::new_v4().to_string();
    let twice = async {
        pause(300).await;
        let both = futures::join!(
            app.post_keyed(&path, &admin.token, &key, body.clone()),
            app.post_keyed(&path, &admin.token, &key, body.clone()),
            async {
                pause(300).await;
                release.send(()).unwrap();
            }
        );
        (both.0, both.1)
    };
    let (first, (a, b)) = futures::join!(first, twice);
    holder.join().unwrap();
    first.expect(201);
    let (a, b) = (a.expect(201), b.expect(201));
    assert_eq!(a.body, b.body, "the replay is the first answer");
    let replayed = [&a, &b]
        .iter()
        .filter(|x| x.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(replayed, 1, "one executed, one replayed");
    let balances = app.balances(&pool, &admin.token).await;
    assert_eq!(balances["received"], "14.00", "the key moved money once");
    assert!(app.verify().await.is_clean());
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[actix_rt::test]
async fn kill_9_under_grouped_commits_keeps_every_acknowledged_write_and_no_half_one() {
    use diesel::prelude::*;
    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pools = [
        app.pool(&collective, &admin.token, "EUR").await,
        app.pool(&collective, &admin.token, "EUR").await,
    ];
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_commonpot"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env("DATABASE_URL", &app.settings.database_url)
        .env(
            "COMMONPOT_JWT_SECRET",
            app.settings.jwt_secret.clone().unwrap(),
        )
        // The key the test service sealed private fields with (#24).
        .env("COMMONPOT_ENCRYPTION_KEYS", crate::helpers::TEST_FIELD_KEY)
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary runs");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let ready = http.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "serve started");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }

    // Writers keep posting contributions, each with a fresh key, and note
    // what was acknowledged; the server is killed under them.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..24)
        .map(|i| {
            let (http, base, token) = (http.clone(), base.clone(), admin.token.clone());
            let pool = pools[i % pools.len()].clone();
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            actix_web::rt::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let sent = http
                        .post(format!("{base}/api/v1/pools/{pool}/contributions"))
                        .bearer_auth(&token)
                        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                        .json(&json!({"amount": "1.00", "method": "cash"}))
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    if response.status().as_u16() != 201 {
                        continue;
                    }
                    let Ok(body) = response.json::<serde_json::Value>().await else {
                        break;
                    };
                    let id = body["id"].as_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().push(id);
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "writes were acknowledged"
        );
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let db = app.db.clone();
    let pool_ids = pools.to_vec();
    let (present, keys) = tokio::task::spawn_blocking(move || {
        use commonpot::db::schema::{contributions, idempotency_keys};
        let mut conn = db.get().unwrap();
        let present: Vec<String> = contributions::table
            .filter(contributions::pool_id.eq_any(&pool_ids))
            .select(contributions::id)
            .load(&mut **conn)
            .unwrap();
        let endpoints: Vec<String> = pool_ids
            .iter()
            .map(|p| format!("POST /api/v1/pools/{p}/contributions"))
            .collect();
        let keys: Vec<i32> = idempotency_keys::table
            .filter(idempotency_keys::endpoint.eq_any(endpoints))
            .select(idempotency_keys::response_status)
            .load(&mut **conn)
            .unwrap();
        (present, keys)
    })
    .await
    .unwrap();
    // Everything acknowledged is there.
    for id in &acknowledged {
        assert!(
            present.contains(id),
            "acknowledged contribution {id} is lost"
        );
    }
    // Nothing is half there: every key that is stored has its answer and
    // its contribution, and the journal balances.
    assert!(keys.iter().all(|status| *status == 201), "{keys:?}");
    assert_eq!(keys.len(), present.len(), "one key per contribution");
    let report = app.verify().await;
    assert!(report.is_clean(), "{report}");
    // Balances match what was recorded.
    let total: usize = {
        let mut total = 0;
        for pool in &pools {
            let received = app.balances(pool, &admin.token).await["received"]
                .as_str()
                .unwrap()
                .to_owned();
            total += received.trim_end_matches(".00").parse::<usize>().unwrap();
        }
        total
    };
    assert_eq!(total, present.len());
}

#[actix_rt::test]
async fn on_sqlite_a_write_request_without_a_key_queues_for_the_writer_too() {
    if postgres_url().is_some() {
        // On PostgreSQL only money writes go through the writers.
        return;
    }
    let app = TestApp::spawn_configured(|s| s.write_queue = 1).await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let path = format!("/api/v1/collectives/{collective}/pools");
    let (release, holder) = hold_writes(&app.settings.database_url);
    let pause = |ms| actix_web::rt::time::sleep(Duration::from_millis(ms));
    let create = |name: &'static str| {
        app.post(
            &path,
            &admin.token,
            json!({"name": name, "currency": "EUR"}),
        )
    };
    let first = create("First");
    let second = async {
        pause(300).await;
        create("Second").await
    };
    let third = async {
        pause(700).await;
        let answer = create("Third").await;
        release.send(()).unwrap();
        answer
    };
    let (first, second, third) = futures::join!(first, second, third);
    holder.join().unwrap();
    let third = third.expect_problem(503, "overloaded");
    assert_eq!(third.header("retry-after"), Some("1"));
    first.expect(201);
    second.expect(201);
}

/// A money write runs only statements its connection prepared once and
/// keeps (#23: diesel prepares every `UPDATE` anew otherwise, a sixth of
/// the writer's time), save the transaction's own control statements and
/// the batch's numbering of its events (one per batch, its text varies
/// with their count). Each contribution is its own batch here, the worst
/// case: under load a batch holds many.
#[actix_rt::test]
async fn a_money_write_prepares_no_statement_anew() {
    use commonpot::db::statement::Seen;
    use commonpot::db::{open, DatabaseUrl, Db};

    let app = TestApp::spawn().await;
    let (collective, admin) = app.bootstrap("Northside").await;
    let pool = app.pool(&collective, &admin.token, "EUR").await;
    // A handle of its own on one connection, watched: its writer takes
    // that connection for its batches.
    let url = DatabaseUrl::parse(&app.settings.database_url).unwrap();
    let db = Db::new(open(&url, 1).unwrap(), &url);
    let seen = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || Seen::watch(&mut db.get().unwrap()))
            .await
            .unwrap()
    };
    let mut later = Vec::new();
    for round in 0..3 {
        let before = seen.ran().len();
        let principal = commonpot::auth::access::Principal::User {
            user_id: admin.user_id.clone(),
        };
        let pool_id = commonpot::ids::PoolId::from(pool.clone());
        let request = commonpot::idempotency::Request {
            caller: format!("user:{}", admin.user_id),
            endpoint: format!("POST /api/v1/pools/{pool}/contributions"),
            key: format!("prepared-{round}"),
            body_hash: format!("body-{round}"),
        };
        let input: commonpot::ledger::contributions::NewContribution =
            serde_json::from_value(json!({"amount": "1.00", "method": "cash"})).unwrap();
        let answer = db
            .write(move |conn| {
                commonpot::http::idempotent::command(
                    conn,
                    &principal.clone(),
                    &request,
                    actix_web::http::StatusCode::CREATED,
                    |conn| commonpot::flows::record_contribution(conn, &principal, &pool_id, input),
                )
            })
            .await
            .unwrap();
        assert_eq!(answer.status, 201, "{}", answer.body);
        if round > 0 {
            later.extend(seen.ran()[before..].to_vec());
        }
    }
    let kept = seen.kept();
    assert!(
        kept.iter()
            .any(|sql| sql.starts_with("UPDATE pools SET available_minor")),
        "the balances' update is kept: {kept:#?}"
    );
    let control = |sql: &str| {
        let word = sql.split_whitespace().next().unwrap_or_default();
        ["BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"].contains(&word)
            // The writer's connection leaves checkpoints to a thread beside
            // it while it holds it (SQLite).
            || sql.starts_with("PRAGMA wal_autocheckpoint")
            || sql.starts_with("UPDATE events SET seq")
            // The pool's check of a connection back after a second.
            || sql == "SELECT 1"
    };
    let anew: Vec<&String> = later
        .iter()
        .filter(|sql| !control(sql) && !kept.contains(sql))
        .collect();
    assert!(later.len() > 10, "the contributions ran: {later:#?}");
    assert!(
        anew.is_empty(),
        "prepared anew at each call: {anew:#?}\nkept: {kept:#?}"
    );
}
